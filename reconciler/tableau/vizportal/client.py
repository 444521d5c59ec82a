"""The Vizportal session: login (RSA-encrypted password, XSRF), calls, paged lists, and errors."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from reconciler.errors import TableauConnectionError, TableauRequestError
from reconciler.model import site_label
from reconciler.tableau.connect import ConnectionSettings
from reconciler.tableau.transport import TransportHooks, make_session_factory
from reconciler.tableau.vizportal.lists import RefreshAnswer, VizportalSchedule, VizportalTask

API_PATH = "/vizportal/api/web/v1/"
SESSION_COOKIE = "workgroup_session_id"
XSRF_COOKIE = "XSRF-TOKEN"
XSRF_HEADER = "X-XSRF-TOKEN"
UNSUPPORTED = ("Vizportal is Tableau Server's undocumented web API: it is not supported by Tableau and may "
               "change or break between Tableau releases.")
#: Items per page asked of Vizportal's paged lists (public scripts ask 1,000), and the most pages read.
PAGE_ITEMS = 1000
MAX_PAGES = 1000
_HEADERS = {"Content-Type": "application/json;charset=UTF-8", "Accept": "application/json, text/plain, */*",
            "Cache-Control": "no-cache"}


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


def error_text(errors: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for error in errors:
        code, message, detail = error.get("code"), error.get("message") or "", error.get("detail") or ""
        parts.append(" ".join(str(p) for p in (code, f"{message}:" if detail else message, detail) if p))
    return "; ".join(parts) or "an error without a message"


def _request_error(doing: str, errors: Sequence[Mapping[str, Any]]) -> TableauRequestError:
    first = errors[0] if errors else {}
    code = first.get("code")
    return TableauRequestError(f"{doing}: Vizportal answered {error_text(errors)}.",
                               code=None if code is None else str(code), summary=str(first.get("message") or ""),
                               detail=str(first.get("detail") or ""))


class VizportalClient:
    """A logged-in Vizportal session for one site. Thread-safe (calls are serialised)."""

    def __init__(self, settings: ConnectionSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base = settings.server.rstrip("/") + API_PATH
        # The shared transport: 429 and 503 (refusals: nothing was done) are sent again after Retry-After or a
        # backoff (``settings.retry``), a connection that could not even be made is tried again, and with
        # --debug each attempt is traced (method, URL, status: never cookies, the XSRF token or bodies).
        self.session = session or make_session_factory(settings.retry, TransportHooks(trace=settings.debug),
                                                       pool_size=1)()
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
            where = site_label(site)
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
                    f"Vizportal refused to log in user {credentials.name!r} to {where} on "
                    f"{self.settings.server} ({error_text(answer['errors'])}). Check TABLEAU_USERNAME and "
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
        try:
            response = self.session.post(url, json=body, headers=headers, timeout=self.settings.timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TableauConnectionError(
                f"{doing}: cannot reach {self.settings.server} ({type(error).__name__}).") from error
        status = response.status_code
        payload = _json(response)
        errors = payload.get("errors") if payload is not None else None
        if status == 401 and with_xsrf:
            raise _SessionExpired(doing)
        if status == 403:
            raise TableauRequestError(
                f"{doing}: refused with HTTP 403 ({error_text(errors or [])}). Vizportal checks that the "
                f"{XSRF_HEADER} header matches the {XSRF_COOKIE} cookie set at login: a proxy that strips "
                "cookies or headers, or a changed Vizportal, causes this; the account may also lack the "
                "permission.", code="403")
        if status == 404:
            raise TableauRequestError(
                f"{doing}: HTTP 404. {self.settings.server} has no Vizportal method {method!r}: it is not "
                "Tableau Server (Tableau Cloud has no Vizportal API), or this Tableau release changed Vizportal.",
                code="404")
        if status != 200 or payload is None:
            what = error_text(errors) if errors else ("an answer that is not JSON" if payload is None else "")
            raise TableauRequestError(f"{doing}: HTTP {status}{f' ({what})' if what else ''}. {UNSUPPORTED}",
                                      code=str(status))
        return payload


class _SessionExpired(Exception):
    """HTTP 401 on a call after login: log in again (once)."""


def _json(response: requests.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
