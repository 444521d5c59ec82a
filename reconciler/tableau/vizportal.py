"""Vizportal: Tableau Server's undocumented web-client API, for what the REST API cannot do.

WARNING: Vizportal is NOT supported by Tableau. It is the private API behind Tableau Server's web
pages; Tableau can change or remove any of it, without notice, in any release (including a
maintenance release). reconciler uses it only when asked (``apply --server-move-strategy
vizportal``, ``refresh --via vizportal``), only on Tableau Server, and only with a username and
password: Vizportal has no personal-access-token or JWT sign-in.

What is used (DESIGN section 7, reference seeds 000 and 001):

- ``generatePublicKey`` → an RSA public key (hex modulus ``n`` and exponent ``e``) and its ``keyId``;
- the password is encrypted with RSA PKCS#1 v1.5 and sent hex-encoded to ``login`` with the key id
  and the site's contentUrl; the answer sets the ``workgroup_session_id`` and ``XSRF-TOKEN`` cookies;
- every later call sends the session cookie and the ``X-XSRF-TOKEN`` header (the cookie's value);
- ``getExtractTasks`` / ``getSchedules`` are paged (``page: {startIndex, maxItems}``, more while
  ``result.moreItems``): both are read to the end, or not used at all;
- ``setExtractTasksSchedule`` moves tasks to another schedule in place (same task, same history);
- ``runExtractRefreshesOnDatasources`` starts data source refreshes.

Vizportal ids are the integer ids of Tableau's repository, not REST LUIDs, and no public sample
shows a LUID in a Vizportal answer. So REST objects are mapped to Vizportal ones only through what
both sides are seen to carry (docs/tableau-behaviour.md, section Vizportal): an item's Vizportal id
is the number at the end of its REST ``webpageUrl`` (the web page's address, which seed 000 reads
the id from); a schedule is found by its name; a task is the one Vizportal task whose ``targetId``
is its item's id and whose ``scheduleId`` is its schedule's. Anything that does not map to exactly
one Vizportal object stops the apply before its first write.

Every call is ``POST {server}/vizportal/api/web/v1/{method}`` with ``{"method": ..., "params": {...}}``.
Vizportal reports a failed method with HTTP 200 and an ``errors`` member: that is a failure here
(seed 000 does the same). HTTP 401 means the session expired: log in again once and resend. HTTP 403
is an XSRF problem. Every failure is a ``TableauRequestError`` (a ``TableauConnectionError`` when
the server cannot be reached).

The password is read from the ``Credentials`` object only while a login is being made; it is never
stored here, logged, traced or copied into an error.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tableauserverclient.server.endpoint.exceptions import FailedSignInError, NotSignedInError

from reconciler.errors import ReconcilerError, TableauConnectionError, TableauRequestError, UsageError
from reconciler.model import Item
from reconciler.tableau import wire
from reconciler.tableau.connect import Connection, ConnectionSettings, translate_error
from reconciler.tableau.jobs import ALREADY_QUEUED, JobStart
from reconciler.tableau.read import list_all

__all__ = [
    "PlannedMove",
    "RefreshAnswer",
    "VizportalClient",
    "VizportalMover",
    "VizportalSchedule",
    "VizportalTask",
    "detect_flavor",
    "encrypt_password",
    "item_web_id",
    "match_tasks",
    "require_password_credentials",
    "require_server_flavor",
    "start_datasource_refreshes",
    "web_id",
]

API_PATH = "/vizportal/api/web/v1/"
SESSION_COOKIE = "workgroup_session_id"
XSRF_COOKIE = "XSRF-TOKEN"
XSRF_HEADER = "X-XSRF-TOKEN"
UNSUPPORTED = ("Vizportal is Tableau Server's undocumented web API: it is not supported by Tableau and may "
               "change or break between Tableau releases.")
#: Items per page asked of Vizportal's paged lists (public scripts ask 1,000), and the most pages read.
PAGE_ITEMS = 1000
MAX_PAGES = 1000
_WEB_ID = re.compile(r"/(datasources|workbooks)/(\d+)(?:[/?#]|$)")
_HEADERS = {"Content-Type": "application/json;charset=UTF-8", "Accept": "application/json, text/plain, */*",
            "Cache-Control": "no-cache"}


# -- refusals -----------------------------------------------------------------------------------------


def require_password_credentials(settings: ConnectionSettings, feature: str) -> None:
    """Refuse ``feature`` unless the run signs in with a username and password (Vizportal has nothing else)."""
    credentials = settings.credentials
    if credentials.kind == "password":
        return
    precedence = (" (and unset TABLEAU_PAT_NAME and TABLEAU_PAT_SECRET, which take precedence)"
                  if credentials.kind == "pat" else " (and unset TABLEAU_JWT)")
    raise UsageError(
        f"{feature} needs a username and password: Vizportal, Tableau Server's undocumented web API, has no "
        f"sign-in with a personal access token or a JSON Web Token, and this run signs in with "
        f"{credentials.describe()}. Set TABLEAU_USERNAME and TABLEAU_PASSWORD for an account that can sign in "
        f"with a password, not only through SSO/MFA{precedence}, or leave out the option to use the REST API. "
        "Nothing was changed.")


def require_server_flavor(flavor: str | None, feature: str, server: str) -> None:
    """Refuse ``feature`` on Tableau Cloud, which has no Vizportal API for clients."""
    if flavor == "cloud":
        raise UsageError(
            f"{feature} works only on Tableau Server, and {server} is Tableau Cloud, which offers no Vizportal "
            "API to scripts (Tableau Cloud moves tasks in place and refreshes through the REST API anyway). "
            "Leave out the option. Nothing was changed.")


def detect_flavor(conn: Connection) -> str:
    """``server`` or ``cloud``, read-only: Tableau Cloud answers ``GET /schedules`` with 401."""
    try:
        conn.server.jobs.get_request(f"{conn.base_url}/schedules?pageSize=1")
    except (FailedSignInError, NotSignedInError):
        return "cloud"
    except Exception as error:
        translated = translate_error(error, "listing server schedules")
        if isinstance(translated, TableauRequestError) and translated.code in ("401", "401000"):
            return "cloud"
        raise translated from error
    return "server"


# -- the client ---------------------------------------------------------------------------------------


def encrypt_password(password: str, modulus_hex: str, exponent_hex: str) -> str:
    """RSA PKCS#1 v1.5 encryption of ``password`` (UTF-8) with the public key (n, e) given in hex; hex out."""
    try:
        key = rsa.RSAPublicNumbers(int(exponent_hex, 16), int(modulus_hex, 16)).public_key()
    except ValueError as error:
        raise TableauRequestError("Vizportal generatePublicKey returned a key that is not a valid RSA public key "
                                  "(n and e in hex); Vizportal may have changed in this Tableau release.") from error
    try:
        return key.encrypt(password.encode("utf-8"), padding.PKCS1v15()).hex()
    except ValueError:
        raise TableauRequestError(  # no `from`: the cause must not carry anything about the password
            "The password is too long to encrypt with Vizportal's login key; use an account with a shorter "
            "password.") from None


@dataclass(frozen=True)
class VizportalTask:
    """One extract refresh task as ``getExtractTasks`` lists it: Vizportal ids only (no LUIDs).

    ``target_kind`` is read from a ``targetType`` member when there is one that names a data source or a
    workbook; no public sample shows that member, so it is usually None (unknown), and is then never
    used to tell tasks apart.
    """

    id: str
    schedule_id: str | None
    target_id: str | None
    target_kind: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VizportalTask:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None or value == "" else str(value)

        kind = str(data.get("targetType") or "").replace(" ", "").replace("_", "").lower()
        return cls(str(data.get("id", "")), text("scheduleId"), text("targetId"),
                   "datasource" if kind == "datasource" else "workbook" if kind == "workbook" else None)


@dataclass(frozen=True)
class VizportalSchedule:
    id: str
    name: str


@dataclass(frozen=True)
class RefreshAnswer:
    """``runExtractRefreshesOnDatasources``: its ``errors`` (HTTP 200). Nothing else of it is relied on."""

    errors: tuple[Mapping[str, Any], ...]


def _error_text(errors: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for error in errors:
        code, message, detail = error.get("code"), error.get("message") or "", error.get("detail") or ""
        parts.append(" ".join(str(p) for p in (code, f"{message}:" if detail else message, detail) if p))
    return "; ".join(parts) or "an error without a message"


def _request_error(doing: str, errors: Sequence[Mapping[str, Any]]) -> TableauRequestError:
    first = errors[0] if errors else {}
    code = first.get("code")
    return TableauRequestError(f"{doing}: Vizportal answered {_error_text(errors)}.",
                               code=None if code is None else str(code), summary=str(first.get("message") or ""),
                               detail=str(first.get("detail") or ""))


class VizportalClient:
    """A logged-in Vizportal session for one site. Thread-safe (calls are serialised)."""

    def __init__(self, settings: ConnectionSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base = settings.server.rstrip("/") + API_PATH
        self.session = session or requests.Session()
        if settings.insecure:
            self.session.verify = False  # Connection has already warned about --insecure
        elif settings.ca_bundle:
            self.session.verify = settings.ca_bundle
        self._lock = threading.RLock()
        self._logged_in = False

    def __repr__(self) -> str:
        return f"VizportalClient({self.settings.server!r}, site={self.settings.site!r})"

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> VizportalClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def login(self) -> None:
        """``generatePublicKey``, encrypt the password, ``login``; keeps the session and XSRF cookies."""
        with self._lock:
            site = self.settings.site
            site_label = "the Default site" if site == "" else f"site {site!r}"
            key = self._post("generatePublicKey", {}, "Vizportal generatePublicKey")
            result = key.get("result") if isinstance(key.get("result"), dict) else None
            if key.get("errors") or result is None:
                raise _request_error("Vizportal generatePublicKey", key.get("errors") or [])
            try:
                key_id, n, e = str(result["keyId"]), str(result["key"]["n"]), str(result["key"]["e"])
            except (KeyError, TypeError) as error:
                raise TableauRequestError("Vizportal generatePublicKey answered without keyId/key.n/key.e; "
                                          "Vizportal may have changed in this Tableau release.") from error
            credentials = self.settings.credentials
            params = {"username": credentials.name, "keyId": key_id, "site": site,
                      "encryptedPassword": encrypt_password(credentials.secret, n, e)}
            answer = self._post("login", params, "Vizportal login")
            if answer.get("errors"):
                refused = _request_error("Vizportal login", answer["errors"])
                raise TableauRequestError(
                    f"Vizportal refused to log in user {credentials.name!r} to {site_label} on "
                    f"{self.settings.server} ({_error_text(answer['errors'])}). Check TABLEAU_USERNAME and "
                    "TABLEAU_PASSWORD, that the account can sign in with a password (not only through SSO/MFA), "
                    "and the site's contentUrl (--site / TABLEAU_SITE).",
                    code=refused.code, summary=refused.summary, detail=refused.detail)
            if not self.session.cookies.get(SESSION_COOKIE) or not self.session.cookies.get(XSRF_COOKIE):
                raise TableauRequestError(
                    f"Vizportal login on {self.settings.server} answered without the {SESSION_COOKIE} and "
                    f"{XSRF_COOKIE} cookies; Vizportal may have changed in this Tableau release, or a proxy "
                    "strips cookies.")
            self._logged_in = True

    def close(self) -> None:
        """Log out (a courtesy: never fails) and drop the session."""
        with self._lock:
            if self._logged_in:
                with contextlib.suppress(Exception):
                    self._post("logout", {}, "Vizportal logout", with_xsrf=True)
                self._logged_in = False
            self.session.close()

    # -- calls -------------------------------------------------------------------------------
    def call(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Call ``method``; its ``result``. An ``errors`` member is a failure (TableauRequestError)."""
        answer = self.call_raw(method, params)
        if answer.get("errors"):
            raise _request_error(f"Vizportal {method}", answer["errors"])
        result = answer.get("result")
        return dict(result) if isinstance(result, dict) else {}

    def call_raw(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Call ``method`` (logging in first, and once more if the session expired); the whole JSON answer."""
        doing = f"Vizportal {method}"
        with self._lock:
            if not self._logged_in:
                self.login()
            try:
                return self._post(method, params or {}, doing, with_xsrf=True)
            except _SessionExpired:
                self._logged_in = False
                self.login()
                try:
                    return self._post(method, params or {}, doing, with_xsrf=True)
                except _SessionExpired as again:
                    raise TableauRequestError(
                        f"{doing}: the Vizportal session was refused (HTTP 401) even right after logging in "
                        "again. Check that the account is still licensed and allowed to sign in.",
                        code="401") from again

    def paged(self, method: str, key: str, params: Mapping[str, Any] | None = None,
              page_items: int = PAGE_ITEMS, max_pages: int = MAX_PAGES) -> list[dict[str, Any]]:
        """Every entry of ``result[key]`` of a paged Vizportal list, read to its end.

        Pages are asked for with ``page: {startIndex, maxItems}`` and read while ``result.moreItems``
        (as public scripts do). The next page starts after the entries received, whatever was asked for.
        A page that brings nothing while announcing more, an entry seen twice, a ``totalCount`` that
        the entries read do not reach, or more than ``max_pages`` pages is an error: a partial list is
        never returned.
        """
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        start = 0
        total: int | None = None
        for _ in range(max_pages):
            result = self.call(method, {**(params or {}), "page": {"startIndex": start, "maxItems": page_items}})
            page = [e for e in result.get(key) or () if isinstance(e, dict)]
            for entry in page:
                ident = str(entry.get("id", ""))
                if ident in seen:
                    raise TableauRequestError(
                        f"Vizportal {method} listed {key[:-1]} {ident} twice while its pages were read: the list "
                        "changed during the read. Run the command again. Nothing was changed.")
                seen.add(ident)
            entries.extend(page)
            if isinstance(result.get("totalCount"), int):
                total = int(result["totalCount"])
            if not result.get("moreItems"):
                if total is not None and len(entries) < total:
                    raise TableauRequestError(
                        f"Vizportal {method} answered {len(entries)} {key} in all, but a totalCount of {total}: "
                        "the list is incomplete (it may have changed during the read). Run the command again. "
                        "Nothing was changed.")
                return entries
            if not page:
                raise TableauRequestError(
                    f"Vizportal {method} answered an empty page at startIndex {start} and said there are more "
                    f"{key}; the list cannot be read to its end. Nothing was changed. {UNSUPPORTED}")
            start += len(page)
        raise TableauRequestError(
            f"Vizportal {method} still had more {key} after {max_pages} pages ({len(entries)} read); reconciler "
            "reads at most that many pages and never acts on a partial list. Nothing was changed.")

    def extract_tasks(self) -> list[VizportalTask]:
        """Every extract refresh task the session sees (all pages)."""
        params = {"order": [{"field": "targetName", "ascending": True}]}
        return [VizportalTask.from_json(t) for t in self.paged("getExtractTasks", "tasks", params)]

    def schedules(self) -> list[VizportalSchedule]:
        """Every schedule (all pages)."""
        params = {"order": [{"field": "name", "ascending": True}]}
        return [VizportalSchedule(str(s.get("id", "")), str(s.get("name", "")))
                for s in self.paged("getSchedules", "schedules", params)]

    def set_extract_tasks_schedule(self, task_ids: Sequence[str], schedule_id: str) -> list[VizportalTask]:
        """Move the tasks (Vizportal ids) to the schedule (Vizportal id) in place, in one call."""
        result = self.call("setExtractTasksSchedule", {"ids": list(task_ids), "scheduleId": schedule_id})
        return [VizportalTask.from_json(t) for t in result.get("tasks") or () if isinstance(t, dict)]

    def run_extract_refreshes_on_datasources(self, ids: Sequence[str], incremental: bool = False) -> RefreshAnswer:
        """Start refreshes of data sources (Vizportal ids); per-item errors come back with HTTP 200."""
        answer = self.call_raw("runExtractRefreshesOnDatasources",
                               {"ids": list(ids), "type": "IncrementExtract" if incremental else "RefreshExtract"})
        return RefreshAnswer(tuple(e for e in answer.get("errors") or () if isinstance(e, dict)))

    # -- transport ---------------------------------------------------------------------------
    def _post(self, method: str, params: Mapping[str, Any], doing: str, *,
              with_xsrf: bool = False) -> dict[str, Any]:
        url = self.base + method
        headers = dict(_HEADERS)
        if with_xsrf:
            token = self.session.cookies.get(XSRF_COOKIE)
            if token:
                headers[XSRF_HEADER] = token
        body: dict[str, Any] = {"method": method, "params": dict(params)}
        policy = self.settings.retry
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self.session.post(url, json=body, headers=headers, timeout=self.settings.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                self._trace(method, f"connection error: {type(error).__name__}", started)
                raise TableauConnectionError(
                    f"{doing}: cannot reach {self.settings.server} ({type(error).__name__}).") from error
            self._trace(method, str(response.status_code), started)
            # 429 and 503 are refusals (nothing was done): safe to send again.
            if response.status_code in (429, 503) and attempt + 1 < policy.attempts:
                time.sleep(policy.delay(attempt, response.headers.get("Retry-After")))
                attempt += 1
                continue
            break
        status = response.status_code
        payload = _json(response)
        errors = payload.get("errors") if payload is not None else None
        if status == 401 and with_xsrf:
            raise _SessionExpired(doing)
        if status == 403:
            raise TableauRequestError(
                f"{doing}: refused with HTTP 403 ({_error_text(errors or [])}). Vizportal checks that the "
                f"{XSRF_HEADER} header matches the {XSRF_COOKIE} cookie set at login: a proxy that strips "
                "cookies or headers, or a changed Vizportal, causes this; the account may also lack the "
                "permission.", code="403")
        if status == 404:
            raise TableauRequestError(
                f"{doing}: HTTP 404. {self.settings.server} has no Vizportal method {method!r}: it is not "
                "Tableau Server (Tableau Cloud has no Vizportal API), or this Tableau release changed Vizportal.",
                code="404")
        if status != 200 or payload is None:
            what = _error_text(errors) if errors else ("an answer that is not JSON" if payload is None else "")
            raise TableauRequestError(f"{doing}: HTTP {status}{f' ({what})' if what else ''}. {UNSUPPORTED}",
                                      code=str(status))
        return payload

    def _trace(self, method: str, outcome: str, started: float) -> None:
        if self.settings.debug:
            # Only the method and status: never headers (cookies, XSRF) nor bodies (the encrypted password).
            elapsed = (time.monotonic() - started) * 1000
            print(f"[http] POST {self.base}{method} -> {outcome} ({elapsed:.0f} ms)", file=sys.stderr)


class _SessionExpired(Exception):
    """HTTP 401 on a call after login: log in again (once)."""


def _json(response: requests.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


# -- id mapping ---------------------------------------------------------------------------------------


def web_id(kind: str, webpage_url: str | None) -> str | None:
    """The Vizportal id at the end of a REST ``webpageUrl`` (``…/#/site/S/datasources/46``), or None."""
    match = _WEB_ID.search(webpage_url or "")
    if match is None or match.group(1) != f"{kind}s":
        return None
    return match.group(2)


def item_web_id(conn: Connection, kind: str, luid: str, label: str) -> str:
    """An item's Vizportal id, from its REST ``webpageUrl`` (a read); a clear error when there is none."""
    doing = f"reading {label}"
    try:
        content = conn.server.jobs.get_request(f"{conn.site_url}/{kind}s/{luid}").content
    except Exception as error:
        raise translate_error(error, doing) from error
    node = next(wire.parse(bytes(content)).iter(wire.tag(kind)), None)
    url = node.get("webpageUrl") if node is not None else None
    found = web_id(kind, url)
    if found is None:
        raise ReconcilerError(
            f"The REST API gives {label} {'no webpageUrl' if not url else f'the webpageUrl {url!r}'}, so its "
            f"Vizportal id (the number at the end of its web page's address, …/{kind}s/<id>) is not known and "
            "Vizportal cannot be used for it.")
    return found


@dataclass(frozen=True)
class PlannedMove:
    """One task move of a plan, as the mover needs it to find the task in Vizportal."""

    task_id: str  # REST LUID
    address: str
    source: str | None
    item_kind: str
    item_id: str
    item_path: str
    from_schedule: str
    to_schedule: str

    @property
    def label(self) -> str:
        return self.address + (f" ({self.source})" if self.source else "")


def _schedule_ids(schedules: Iterable[VizportalSchedule]) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = {}
    for schedule in schedules:
        by_name.setdefault(schedule.name, []).append(schedule.id)
    return by_name


def match_tasks(moves: Sequence[PlannedMove], item_ids: Mapping[tuple[str, str], str],
                tasks: Sequence[VizportalTask], schedules: Sequence[VizportalSchedule],
                created_schedules: Collection[str] = ()) -> tuple[dict[str, str], dict[str, str]]:
    """REST task LUID → Vizportal task id for every move that maps; REST task LUID → why, for the others.

    A move maps when exactly one Vizportal task has the item's Vizportal id as ``targetId`` and its
    current schedule's Vizportal id (by name, exactly one schedule of that name) as ``scheduleId``
    (and, if Vizportal says so, the same kind of target). Its target schedule must be listed once
    by name, or be created by the plan. Two moves that map to one Vizportal task both fail.
    """
    by_name = _schedule_ids(schedules)
    mapped: dict[str, str] = {}
    problems: dict[str, str] = {}

    def one_schedule(name: str) -> tuple[str | None, str]:
        ids = by_name.get(name, [])
        if len(ids) == 1:
            return ids[0], ""
        if not ids:
            return None, f"Vizportal getSchedules lists no schedule named {name!r}"
        return None, f"Vizportal getSchedules lists {len(ids)} schedules named {name!r} (ids {', '.join(ids)})"

    for move in moves:
        label = "data source" if move.item_kind == "datasource" else "workbook"
        item_vid = item_ids.get((move.item_kind, move.item_id))
        if item_vid is None:
            problems[move.task_id] = f"the Vizportal id of {label} {move.item_path!r} is not known"
            continue
        schedule_vid, why = one_schedule(move.from_schedule)
        if schedule_vid is None:
            problems[move.task_id] = why
            continue
        if move.to_schedule not in created_schedules:
            target_vid, why = one_schedule(move.to_schedule)
            if target_vid is None:
                problems[move.task_id] = why
                continue
        candidates = [t for t in tasks if t.target_id == item_vid and t.schedule_id == schedule_vid
                      and t.target_kind in (None, move.item_kind)]
        where = (f"{label} {move.item_path!r} (Vizportal id {item_vid}) on schedule {move.from_schedule!r} "
                 f"(Vizportal id {schedule_vid})")
        if not candidates:
            problems[move.task_id] = (f"Vizportal getExtractTasks ({len(tasks)} tasks, every page read) lists no "
                                      f"task of {where}")
        elif len(candidates) > 1:
            problems[move.task_id] = (f"Vizportal getExtractTasks lists {len(candidates)} tasks of {where} (ids "
                                      f"{', '.join(t.id for t in candidates)}), and nothing in its answer tells "
                                      "which one is this REST task")
        else:
            mapped[move.task_id] = candidates[0].id
    owners: dict[str, list[str]] = {}
    for luid, vid in mapped.items():
        owners.setdefault(vid, []).append(luid)
    labels = {m.task_id: m.label for m in moves}
    for vid, luids in owners.items():
        if len(luids) > 1:
            for luid in luids:
                others = ", ".join(labels[o] for o in luids if o != luid)
                problems[luid] = f"it and {others} both match the one Vizportal task {vid}"
                mapped.pop(luid, None)
    return mapped, problems


class VizportalMover:
    """Moves Server tasks in place with ``setExtractTasksSchedule``: one call per target schedule.

    ``prepare`` runs before the apply's first write: it reads the whole task and schedule lists, maps
    every move of the plan to exactly one Vizportal task, and raises (naming each task and why) if any
    cannot be mapped, so that nothing is written. The engine (``reconciler.apply``) then hands it all
    the moves to one schedule at once. A target schedule created by this apply is looked up when its
    moves run. When a batch fails, each of its tasks is tried alone, so that one bad task does not fail
    the others (moving a task to the schedule it is on is harmless, so trying again is safe).
    """

    def __init__(self, client: VizportalClient, conn: Connection | None = None) -> None:
        self.client = client
        self.conn = conn
        self.task_ids: dict[str, str] = {}
        self.schedule_ids: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def prepare(self, moves: Sequence[PlannedMove], created_schedules: Collection[str] = (),
                item_ids: Mapping[tuple[str, str], str] | None = None) -> None:
        """Map every move to its Vizportal task, or raise before anything is written."""
        if not moves:
            return
        known: dict[tuple[str, str], str] = dict(item_ids or {})
        lookup: dict[tuple[str, str], str] = {}
        for move in moves:
            key = (move.item_kind, move.item_id)
            if key in known or key in lookup or self.conn is None:
                continue
            label = "data source" if move.item_kind == "datasource" else "workbook"
            try:
                known[key] = item_web_id(self.conn, move.item_kind, move.item_id, f"{label} {move.item_path!r}")
            except ReconcilerError as error:
                lookup[key] = str(error).rstrip(".")
        tasks = self.client.extract_tasks()
        schedules = self.client.schedules()
        mapped, unmatched = match_tasks(moves, known, tasks, schedules, created_schedules)
        problems = [f"{m.label}: {lookup.get((m.item_kind, m.item_id)) or unmatched[m.task_id]}"
                    for m in moves if m.task_id in unmatched]
        if problems:
            raise ReconcilerError(
                f"--server-move-strategy vizportal cannot move {len(problems)} of the plan's {len(moves)} task "
                "move(s) in place, because the REST task cannot be matched to exactly one Vizportal task:\n  - "
                + "\n  - ".join(problems) + "\nNothing was changed. Vizportal has no REST ids, so reconciler "
                "matches a task by its item's web id and its schedule, and refuses when that is not exactly one "
                "task. Leave out --server-move-strategy vizportal to move these tasks with the REST API (each "
                "gets a new id), or make the match unique (for example, do not keep two tasks of one item on "
                "one schedule) and plan again.")
        with self._lock:
            self.task_ids.update(mapped)
            self.schedule_ids = _schedule_ids(schedules)

    def _schedule(self, name: str) -> str | None:
        with self._lock:
            ids = self.schedule_ids.get(name, [])
            if len(ids) != 1:  # created by this apply since prepare read the list: read it again
                self.schedule_ids = _schedule_ids(self.client.schedules())
                ids = self.schedule_ids.get(name, [])
            return ids[0] if len(ids) == 1 else None

    def move_tasks(self, schedule_name: str, task_ids: Sequence[str]) -> dict[str, ReconcilerError | None]:
        """Move the tasks (REST LUIDs, mapped by ``prepare``) to ``schedule_name``; for each, None or its error."""
        schedule_id = self._schedule(schedule_name)
        if schedule_id is None:
            missing = ReconcilerError(f"Vizportal getSchedules does not list exactly one schedule named "
                                      f"{schedule_name!r}.")
            return {luid: missing for luid in task_ids}
        outcome: dict[str, ReconcilerError | None] = {}
        known: dict[str, str] = {}
        for luid in task_ids:
            vid = self.task_ids.get(luid)
            if vid is None:
                outcome[luid] = ReconcilerError(f"Task {luid} was not matched to a Vizportal task before the apply "
                                                "started; it was not moved.")
            else:
                known[luid] = vid
        if not known:
            return outcome
        try:
            moved = self.client.set_extract_tasks_schedule(list(known.values()), schedule_id)
        except TableauRequestError as error:
            if len(known) == 1:
                return {**outcome, **dict.fromkeys(known, error)}
            for luid, vid in known.items():
                outcome.update(self._move_one(luid, vid, schedule_id, schedule_name))
            return outcome
        outcome.update(self._check(known, moved, schedule_id, schedule_name))
        return outcome

    def _move_one(self, luid: str, vid: str, schedule_id: str, schedule_name: str) -> dict[str, ReconcilerError | None]:
        try:
            moved = self.client.set_extract_tasks_schedule([vid], schedule_id)
        except ReconcilerError as error:
            return {luid: error}
        return self._check({luid: vid}, moved, schedule_id, schedule_name)

    @staticmethod
    def _check(known: Mapping[str, str], moved: Sequence[VizportalTask], schedule_id: str,
               schedule_name: str) -> dict[str, ReconcilerError | None]:
        """A task the answer shows on another schedule failed; the answer's shape is not known, so a task it
        leaves out is taken as moved (the next ``plan`` shows whether it was)."""
        by_id = {t.id: t for t in moved}
        outcome: dict[str, ReconcilerError | None] = {}
        for luid, vid in known.items():
            task = by_id.get(vid)
            if task is not None and task.schedule_id not in (None, schedule_id):
                outcome[luid] = ReconcilerError(
                    f"Vizportal setExtractTasksSchedule answered, but task {luid} is on schedule "
                    f"{task.schedule_id!r}, not {schedule_name!r} ({schedule_id}).")
            else:
                outcome[luid] = None
        return outcome


# -- refresh ------------------------------------------------------------------------------------------

_DATASOURCE_SUBTITLES = ("datasource", "data source")
#: How many times the REST jobs list is read after the call, and the wait between reads (seconds),
#: while a data source has no new job and Vizportal reported no error.
JOB_LIST_ATTEMPTS = 3
JOB_LIST_WAIT = 1.0


def _refresh_jobs(conn: Connection, incremental: bool) -> dict[str, ET.Element]:
    """Every REST refresh job of the site of that type (all pages), by id."""
    job_type = "increment_extracts" if incremental else "refresh_extracts"
    url = f"{conn.site_url}/jobs?filter=jobType:eq:{job_type}"
    return {node.get("id", ""): node for node in list_all(conn, url, "backgroundJob", "listing jobs")}


def start_datasource_refreshes(conn: Connection, client: VizportalClient, items: Sequence[tuple[Item, str]],
                               incremental: bool) -> list[JobStart]:
    """One ``runExtractRefreshesOnDatasources`` for all ``(data source, label)``; REST job ids to follow.

    The data sources' Vizportal ids come from their REST ``webpageUrl`` (read before anything starts).
    No public sample shows what the answer carries besides ``errors``, so the jobs are found in the
    REST jobs list instead: the refresh jobs that were not there before the call, by item name (Query
    Jobs has no item id). A data source whose new job is not exactly one cannot be followed: that is
    an error naming it (its refresh may be running; the site's Jobs page shows it).
    """
    ids = [item_web_id(conn, "datasource", item.id, label) for item, label in items]
    before = _refresh_jobs(conn, incremental)
    answer = client.run_extract_refreshes_on_datasources(ids, incremental)
    names = [item.name for item, _ in items]
    for attempt in range(JOB_LIST_ATTEMPTS):  # a job may show in the REST list a moment after the call
        if attempt:
            time.sleep(JOB_LIST_WAIT)
        new = [node for ident, node in _refresh_jobs(conn, incremental).items() if ident not in before]
        started: list[JobStart] = []
        unmatched: list[tuple[Item, str]] = []
        unclear: list[str] = []
        for item, label in items:
            jobs = [n for n in new if n.get("title") == item.name
                    and (n.get("subtitle") or "").lower() in _DATASOURCE_SUBTITLES]
            if len(jobs) == 1 and names.count(item.name) == 1:
                started.append(JobStart(label, jobs[0].get("id", "")))
            elif not jobs:
                unmatched.append((item, label))
            else:
                why = (f"{names.count(item.name)} of the data sources refreshed are named {item.name!r}"
                       if names.count(item.name) > 1 else f"{len(jobs)} new refresh jobs are titled {item.name!r}")
                unclear.append(f"{label} ({why}: the REST jobs list does not say which job is whose)")
        if not unmatched or answer.errors:
            break
    running = (" The refresh(es) that did start go on on the server: "
               + ", ".join(f"{s.label} (job {s.job_id})" for s in started) + ".") if started else ""
    if unclear:
        raise ReconcilerError(
            "Vizportal runExtractRefreshesOnDatasources was called, but the refresh of "
            + "; ".join(unclear) + " cannot be followed. Check the site's Jobs page, or refresh these data "
            f"sources without --via vizportal (the REST API answers each refresh with its job).{running}")
    if not unmatched:
        return started
    errors = list(answer.errors)
    if errors and all(str(e.get("code")) == ALREADY_QUEUED for e in errors):
        detail = _error_text(errors[:1])
        return started + [JobStart(label, None, detail) for _, label in unmatched]
    which = ", ".join(label for _, label in unmatched)
    raise TableauRequestError(f"Vizportal runExtractRefreshesOnDatasources did not start {which}: "
                              f"{_error_text(errors) if errors else 'no error in its answer, and no new job'}."
                              f"{running}", code=str(errors[0].get("code")) if errors else None)
