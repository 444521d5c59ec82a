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
- ``getExtractTasks`` / ``getSchedules`` map REST LUIDs (and schedule names) to Vizportal ids;
- ``setExtractTasksSchedule`` moves tasks to another schedule in place (same task, same history);
- ``runExtractRefreshesOnDatasources`` starts data source refreshes.

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
from collections.abc import Iterable, Mapping, Sequence
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

__all__ = [
    "RefreshAnswer",
    "VizportalClient",
    "VizportalIds",
    "VizportalMover",
    "VizportalSchedule",
    "VizportalTask",
    "detect_flavor",
    "encrypt_password",
    "require_password_credentials",
    "require_server_flavor",
    "start_datasource_refreshes",
]

API_PATH = "/vizportal/api/web/v1/"
SESSION_COOKIE = "workgroup_session_id"
XSRF_COOKIE = "XSRF-TOKEN"
XSRF_HEADER = "X-XSRF-TOKEN"
UNSUPPORTED = ("Vizportal is Tableau Server's undocumented web API: it is not supported by Tableau and may "
               "change or break between Tableau releases.")
_LUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
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
    """One extract refresh task as ``getExtractTasks`` lists it: Vizportal ids next to REST LUIDs."""

    id: str
    luid: str
    schedule_id: str | None
    schedule_luid: str | None
    schedule_name: str | None
    target_type: str
    target_id: str | None
    target_luid: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VizportalTask:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(str(data.get("id", "")), str(data.get("luid", "")), text("scheduleId"), text("scheduleLuid"),
                   text("scheduleName"), str(data.get("targetType", "")), text("targetId"), text("targetLuid"))


@dataclass(frozen=True)
class VizportalSchedule:
    id: str
    luid: str
    name: str
    type: str
    state: str


@dataclass(frozen=True)
class RefreshAnswer:
    """``runExtractRefreshesOnDatasources``: the jobs started, and the per-item errors (HTTP 200 both)."""

    jobs: tuple[Mapping[str, Any], ...]
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

    def extract_tasks(self) -> list[VizportalTask]:
        result = self.call("getExtractTasks")
        return [VizportalTask.from_json(t) for t in result.get("tasks") or () if isinstance(t, dict)]

    def schedules(self) -> list[VizportalSchedule]:
        result = self.call("getSchedules")
        return [VizportalSchedule(str(s.get("id", "")), str(s.get("luid", "")), str(s.get("name", "")),
                                  str(s.get("type", "")), str(s.get("state", "")))
                for s in result.get("schedules") or () if isinstance(s, dict)]

    def set_extract_tasks_schedule(self, task_ids: Sequence[str], schedule_id: str) -> list[VizportalTask]:
        """Move the tasks (Vizportal ids) to the schedule (Vizportal id) in place, in one call."""
        result = self.call("setExtractTasksSchedule", {"ids": list(task_ids), "scheduleId": schedule_id})
        return [VizportalTask.from_json(t) for t in result.get("tasks") or () if isinstance(t, dict)]

    def run_extract_refreshes_on_datasources(self, ids: Sequence[str], incremental: bool = False) -> RefreshAnswer:
        """Start refreshes of data sources (Vizportal ids); per-item errors come back next to the jobs."""
        answer = self.call_raw("runExtractRefreshesOnDatasources",
                               {"ids": list(ids), "type": "IncrementExtract" if incremental else "RefreshExtract"})
        result = answer.get("result") if isinstance(answer.get("result"), dict) else {}
        jobs = tuple(j for j in (result or {}).get("jobs") or () if isinstance(j, dict))
        errors = tuple(e for e in answer.get("errors") or () if isinstance(e, dict))
        return RefreshAnswer(jobs, errors)

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


class VizportalIds:
    """REST LUIDs (and schedule names) → Vizportal ids, from ``getExtractTasks`` and ``getSchedules``."""

    def __init__(self, tasks: Iterable[VizportalTask] = (), schedules: Iterable[VizportalSchedule] = ()) -> None:
        self.tasks: dict[str, str] = {}
        self.items: dict[str, str] = {}
        self.schedules: dict[str, str] = {}
        self.add_tasks(tasks)
        self.add_schedules(schedules)

    def add_tasks(self, tasks: Iterable[VizportalTask]) -> None:
        for task in tasks:
            self.tasks[task.luid] = task.id
            self.tasks[task.id] = task.id
            if task.target_luid and task.target_id:
                self.items[task.target_luid] = task.target_id

    def add_schedules(self, schedules: Iterable[VizportalSchedule]) -> None:
        for schedule in schedules:
            self.schedules[schedule.luid] = schedule.id
            self.schedules.setdefault(schedule.name, schedule.id)

    def task_id(self, luid: str) -> str | None:
        return self.tasks.get(luid)

    def schedule_id(self, name_or_luid: str) -> str | None:
        return self.schedules.get(name_or_luid)

    def item_id(self, luid: str) -> str | None:
        return self.items.get(luid)


class VizportalMover:
    """Moves Server tasks in place with ``setExtractTasksSchedule``: one call per target schedule.

    The engine (``reconciler.apply``) hands it all the moves to one schedule at once. The id maps are
    read lazily (after the schedules of this apply exist) and read again once when a name or id is
    unknown. When a batch fails, each of its tasks is tried alone, so that one bad task does not
    fail the others (moving a task to the schedule it is on is harmless, so trying again is safe).
    """

    def __init__(self, client: VizportalClient) -> None:
        self.client = client
        self.ids: VizportalIds | None = None
        self._lock = threading.Lock()

    def _lookup(self, kind: str, key: str) -> str | None:
        with self._lock:
            if self.ids is None:
                self.ids = VizportalIds(self.client.extract_tasks(), self.client.schedules())
            found = self.ids.schedule_id(key) if kind == "schedule" else self.ids.task_id(key)
            if found is None:  # created since the maps were read: read that map again
                if kind == "schedule":
                    self.ids.add_schedules(self.client.schedules())
                    found = self.ids.schedule_id(key)
                else:
                    self.ids.add_tasks(self.client.extract_tasks())
                    found = self.ids.task_id(key)
            return found

    def move_tasks(self, schedule_name: str, task_ids: Sequence[str]) -> dict[str, ReconcilerError | None]:
        """Move the tasks (REST LUIDs) to ``schedule_name``; for each task, None or its error."""
        schedule_id = self._lookup("schedule", schedule_name)
        if schedule_id is None:
            missing = ReconcilerError(f"Vizportal getSchedules does not list a schedule named {schedule_name!r}.")
            return {luid: missing for luid in task_ids}
        outcome: dict[str, ReconcilerError | None] = {}
        known: dict[str, str] = {}
        for luid in task_ids:
            vid = self._lookup("task", luid)
            if vid is None:
                outcome[luid] = ReconcilerError(f"Vizportal getExtractTasks does not list task {luid} on this "
                                                "site; it may have been deleted since the plan was made.")
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
        """Each task must come back on the new schedule; a task the answer leaves out is taken as moved."""
        by_id = {t.id: t for t in moved}
        outcome: dict[str, ReconcilerError | None] = {}
        for luid, vid in known.items():
            task = by_id.get(vid)
            if task is not None and task.schedule_id not in (None, schedule_id):
                outcome[luid] = ReconcilerError(
                    f"Vizportal setExtractTasksSchedule answered, but task {luid} is on schedule "
                    f"{task.schedule_name or task.schedule_id!r}, not {schedule_name!r}.")
            else:
                outcome[luid] = None
        return outcome


# -- refresh ------------------------------------------------------------------------------------------


def start_datasource_refreshes(conn: Connection, client: VizportalClient, items: Sequence[tuple[Item, str]],
                               incremental: bool) -> list[JobStart]:
    """One ``runExtractRefreshesOnDatasources`` for all ``(data source, label)``; REST job ids to follow."""
    ids = VizportalIds(client.extract_tasks())
    refs = [ids.item_id(item.id) or item.id for item, _ in items]  # no task → no mapped id: try the LUID
    answer = client.run_extract_refreshes_on_datasources(refs, incremental)
    by_key: dict[str, Mapping[str, Any]] = {}
    for entry in answer.jobs:
        for key in ("datasourceLuid", "datasourceId"):
            if entry.get(key) is not None:
                by_key[str(entry[key])] = entry
    started: list[JobStart] = []
    unmatched: list[tuple[Item, str]] = []
    for (item, label), ref in zip(items, refs, strict=True):
        job = by_key.get(item.id) or by_key.get(ref)
        if not job:
            unmatched.append((item, label))
            continue
        job_id = str(job.get("id") or "")
        if not _LUID.match(job_id):  # a Vizportal job id: find the REST job for the item
            job_id = find_rest_job(conn, item, incremental) or ""
        if not job_id:
            raise ReconcilerError(f"Vizportal started a refresh of {label}, but its job cannot be found through "
                                  "the REST jobs list to follow it. Check the site's Jobs page.")
        started.append(JobStart(label, job_id))
    if not unmatched:
        return started
    errors = list(answer.errors)
    if errors and all(str(e.get("code")) == ALREADY_QUEUED for e in errors):
        detail = _error_text(errors[:1])
        return started + [JobStart(label, None, detail) for _, label in unmatched]
    which = ", ".join(label for _, label in unmatched)
    running = (f" The {len(started)} refresh(es) that did start go on on the server: "
               + ", ".join(f"{s.label} (job {s.job_id})" for s in started) + ".") if started else ""
    raise TableauRequestError(f"Vizportal runExtractRefreshesOnDatasources did not start {which}: "
                              f"{_error_text(errors) if errors else 'no job and no error in its answer'}.{running}",
                              code=str(errors[0].get("code")) if errors else None)


def find_rest_job(conn: Connection, item: Item, incremental: bool) -> str | None:
    """The newest REST refresh job of ``item`` (matched by its name: Query Jobs has no item id), or None."""
    job_type = "increment_extracts" if incremental else "refresh_extracts"
    url = f"{conn.site_url}/jobs?filter=jobType:eq:{job_type}&pageSize=1000"
    try:
        content = conn.server.jobs.get_request(url).content
    except Exception as error:
        raise translate_error(error, "listing jobs") from error
    candidates = [node for node in wire.parse(bytes(content)).iter(wire.tag("backgroundJob"))
                  if node.get("title") == item.name and (node.get("subtitle") or "").lower() in ("datasource",
                                                                                                   "data source")]
    candidates.sort(key=lambda node: node.get("createdAt") or "")
    return candidates[-1].get("id") if candidates else None
