"""Vizportal, Tableau Server's undocumented web-client API (`POST /vizportal/api/web/v1/{method}`).

Login flow (seeds 000/001): `generatePublicKey` → `{"result": {"keyId", "key": {"n": hex, "e": hex}}}`;
the client encrypts the password with RSA PKCS#1 v1.5 and sends it hex-encoded to `login`
(`{"username", "encryptedPassword", "keyId", "site"?}`; `site` is a contentUrl, default ""). The
answer sets the `workgroup_session_id` and `XSRF-TOKEN` cookies; later calls need the cookie AND an
`X-XSRF-TOKEN` header equal to it (no/unknown/expired session → HTTP 401, bad XSRF → HTTP 403).
Method errors are HTTP 200 with `{"errors": [{"code", "message"}]}`, as Vizportal does.

Ids: every task, schedule, data source and workbook has a Vizportal integer id (sent as a string,
`"id"`). Answers carry no REST LUIDs: no public sample shows one (docs/tableau-behaviour.md, section
Vizportal); an item's id is also the number at the end of its REST `webpageUrl`. Server flavor only.

Lists (`getExtractTasks`, `getSchedules`) are paged as public scripts use them: `page: {startIndex,
maxItems}` in, `totalCount` and `moreItems` out; `maxItems` is capped at `max_items` (the real cap is
not known: ledger "Vizportal lists are paged"). `filter` is accepted and not applied (a session sees
its own site); `order` on `targetName` / `name` is applied.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import scheduling
from .exceptions import EmulatorError
from .models import Store, User
from .responses import Reply

__all__ = ["Vizportal"]

JSON = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class _WebSession:
    user_id: str
    site_id: str
    xsrf: str
    expires_at: float


def _json(status: int, body: dict[str, Any], cookies: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, json.dumps(body).encode(), cookies, JSON)


def _errors(code: int, message: str, status: int = 200) -> Reply:
    return _json(status, {"errors": [{"code": code, "message": message}]})


class Vizportal:
    """The Vizportal endpoints over the shared store."""

    def __init__(self, store: Store, max_items: int = 1000) -> None:
        self.store = store
        self.max_items = max(1, max_items)
        self.calls: Counter[str] = Counter()
        self._key: rsa.RSAPrivateKey | None = None
        self._key_ids: set[str] = set()
        self._sessions: dict[str, _WebSession] = {}
        self._key_lock = threading.Lock()

    def _private_key(self) -> rsa.RSAPrivateKey:
        with self._key_lock:  # one key per emulator, made on first use (2048-bit generation is slow)
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def handle(self, method: str, body: bytes, cookies: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        """Dispatch one call; `method` comes from the URL."""
        if self.store.cloud:
            return _errors(404, "Vizportal is not available on this emulator flavor (cloud).", 404)
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _errors(400, "The request body is not JSON.", 400)
        if not isinstance(payload, dict):
            return _errors(400, "The request body must be a JSON object.", 400)
        params = payload.get("params") or {}
        self.calls[method] += 1
        if payload.get("method", method) != method or not isinstance(params, dict):
            return _errors(400, "The method in the body does not match the URL, or params is not an object.")
        if method == "generatePublicKey":
            return self.generate_public_key()
        if method == "login":
            return self.login(params)
        handler = {"getExtractTasks": self.get_extract_tasks, "getSchedules": self.get_schedules,
                   "setExtractTasksSchedule": self.set_extract_tasks_schedule,
                   "runExtractRefreshesOnDatasources": self.run_extract_refreshes_on_datasources,
                   "logout": self.logout}.get(method)
        if handler is None:
            return _errors(404, f"Unknown method '{method}'.", 404)
        session_id = cookies.get("workgroup_session_id", "")
        session = self._sessions.get(session_id)
        if session is None or session.expires_at <= self.store.clock():
            self._sessions.pop(session_id, None)
            return _errors(16, "Session expired or not logged in: log in again.", 401)
        xsrf = headers.get("X-XSRF-TOKEN")
        if not xsrf or not secrets.compare_digest(xsrf, session.xsrf):
            return _errors(403, "Missing or invalid X-XSRF-TOKEN header.", 403)
        with self.store.lock:
            user = self.store.users.get(session.user_id)
        if user is None:
            return _errors(16, "Session expired or not logged in: log in again.", 401)
        try:
            return handler(session_id, user, params)
        except EmulatorError as err:
            return _json(200, {"errors": [{"code": int(err.code), "message": err.summary, "detail": err.detail}]})

    # ---- login ----------------------------------------------------------------------------------

    def generate_public_key(self) -> Reply:
        numbers = self._private_key().public_key().public_numbers()
        key_id = secrets.token_hex(16)
        self._key_ids.add(key_id)
        return _json(200, {"result": {"keyId": key_id, "key": {"n": format(numbers.n, "x"),
                                                               "e": format(numbers.e, "x")}}})

    def login(self, params: dict[str, Any]) -> Reply:
        key_id = str(params.get("keyId", ""))
        if key_id not in self._key_ids:
            return _errors(1, "Unknown keyId: call generatePublicKey first.")
        try:
            password = self._private_key().decrypt(bytes.fromhex(str(params.get("encryptedPassword", ""))),
                                                   padding.PKCS1v15()).decode("utf-8")
        except ValueError:
            return _errors(16, "Invalid username or password.")
        with self.store.lock:
            site = self.store.site_by_content_url(str(params.get("site", "") or ""))
            user = self.store.user_by_name(site.id, str(params.get("username", ""))) if site else None
            if site is None or user is None or not secrets.compare_digest(user.password, password):
                return _errors(16, "Invalid username or password.")
            site_name, content_url = site.name, site.content_url
        session_id = secrets.token_urlsafe(24)
        xsrf = secrets.token_urlsafe(16)
        self._sessions[session_id] = _WebSession(user.id, user.site_id, xsrf,
                                                 self.store.clock() + self.store.token_ttl)
        cookies = (("Set-Cookie", f"workgroup_session_id={session_id}; Path=/; HttpOnly"),
                   ("Set-Cookie", f"XSRF-TOKEN={xsrf}; Path=/"))
        result = {"user": {"id": str(user.vizportal_id), "luid": user.id, "username": user.name,
                           "siteRole": user.site_role},
                  "site": {"id": user.site_id, "name": site_name, "urlName": content_url}}
        return _json(200, {"result": result}, cookies)

    def logout(self, session_id: str, user: User, params: dict[str, Any]) -> Reply:
        self._sessions.pop(session_id, None)
        return _json(200, {"result": {}})

    # ---- methods --------------------------------------------------------------------------------

    def _page(self, params: dict[str, Any], rows: list[dict[str, Any]], order_field: str) -> tuple[
            list[dict[str, Any]], bool]:
        """Sort by `order` (`order_field` only; else by id), then cut `page`; (the page, more after it)."""
        order = params.get("order")
        first = order[0] if isinstance(order, list) and order and isinstance(order[0], dict) else {}
        if first.get("field") == order_field:
            rows.sort(key=lambda r: (str(r.get(order_field) or "").lower(), int(r["id"])),
                      reverse=first.get("ascending") is False)
        else:
            rows.sort(key=lambda r: int(r["id"]))
        asked = params.get("page")
        page: dict[str, Any] = asked if isinstance(asked, dict) else {}
        try:
            start = max(0, int(page.get("startIndex", 0)))
            size = min(self.max_items, max(1, int(page.get("maxItems", self.max_items))))
        except (TypeError, ValueError):
            raise EmulatorError(400, "400", "Bad request",
                                "page.startIndex and page.maxItems must be numbers.") from None
        return rows[start:start + size], start + size < len(rows)

    def get_extract_tasks(self, session_id: str, user: User, params: dict[str, Any]) -> Reply:
        """Tasks (`id`, `scheduleId`, `targetId`, `targetName`), paged; next to them the page's schedules and
        data sources (`id`, `name`), as public scripts read them."""
        self.store.settle()
        with self.store.lock:
            rows: list[dict[str, Any]] = []
            for task in self.store.tasks.values():
                if task.site_id != user.site_id:
                    continue
                schedule = self.store.schedules.get(task.schedule_id or "")
                item = self.store.items.get(task.item_id)
                rows.append({"id": str(task.vizportal_id),
                             "scheduleId": str(schedule.vizportal_id) if schedule else None,
                             "targetId": str(item.vizportal_id) if item else None,
                             "targetName": item.name if item else None, "_schedule": schedule, "_item": item})
            total = len(rows)
            page, more = self._page(params, rows, "targetName")
            schedules = {r["_schedule"].vizportal_id: r["_schedule"] for r in page if r["_schedule"] is not None}
            datasources = {r["_item"].vizportal_id: r["_item"] for r in page
                           if r["_item"] is not None and r["_item"].kind == "datasource"}
        tasks = [{k: v for k, v in r.items() if not k.startswith("_")} for r in page]
        return _json(200, {"result": {
            "totalCount": total, "moreItems": more, "tasks": tasks,
            "schedules": [{"id": str(vid), "name": s.name} for vid, s in sorted(schedules.items())],
            "datasources": [{"id": str(vid), "name": d.name} for vid, d in sorted(datasources.items())]}})

    def get_schedules(self, session_id: str, user: User, params: dict[str, Any]) -> Reply:
        """Schedules (`id`, `name`), paged."""
        with self.store.lock:
            rows = [{"id": str(s.vizportal_id), "name": s.name} for s in self.store.schedules.values()]
        total = len(rows)
        page, more = self._page(params, rows, "name")
        return _json(200, {"result": {"totalCount": total, "moreItems": more, "schedules": page}})

    def _resolve_task(self, site_id: str, ref: str) -> str:
        for task in self.store.tasks.values():
            if task.site_id == site_id and str(task.vizportal_id) == ref:
                return task.id
        raise EmulatorError.not_found("404026", "Task not found", f"No extract task '{ref}' on this site.")

    def set_extract_tasks_schedule(self, session_id: str, user: User, params: dict[str, Any]) -> Reply:
        """Move tasks (`ids`: Vizportal ids) to `scheduleId` (a Vizportal id), in place. The answer of the
        real method is not known; this one is an empty `result`."""
        ids = params.get("ids")
        schedule_ref = str(params.get("scheduleId", ""))
        if not isinstance(ids, list) or not ids or not schedule_ref:
            return _errors(400, "params needs a non-empty 'ids' list and a 'scheduleId'.")
        with self.store.lock:
            schedule_id = next((s.id for s in self.store.schedules.values() if schedule_ref == str(s.vizportal_id)),
                               None)
            if schedule_id is None:
                raise EmulatorError.not_found("404008", "Schedule not found", f"No schedule '{schedule_ref}'.")
            task_ids = [self._resolve_task(user.site_id, str(ref)) for ref in ids]
            scheduling.move_tasks(self.store, user, user.site_id, task_ids, schedule_id)
        return _json(200, {"result": {}})

    def run_extract_refreshes_on_datasources(self, session_id: str, user: User, params: dict[str, Any]) -> Reply:
        """Start a refresh job per data source (`ids`: Vizportal ids); the jobs are visible over REST only.
        Success is an empty `result`; each data source that cannot start is an entry of `errors`."""
        ids = params.get("ids")
        if not isinstance(ids, list) or not ids:
            return _errors(400, "params needs a non-empty 'ids' list.")
        incremental = str(params.get("type", "RefreshExtract")).lower().startswith("increment")
        errors: list[dict[str, Any]] = []
        with self.store.lock:
            for ref in ids:
                ds = next((i for i in self.store.items.values() if i.kind == "datasource"
                           and i.site_id == user.site_id and str(ref) == str(i.vizportal_id)), None)
                if ds is None:
                    errors.append({"code": 404004, "message": f"Data source '{ref}' not found."})
                    continue
                try:
                    self.store.refresh_item(user, user.site_id, "datasource", ds.id, incremental)
                except EmulatorError as err:
                    errors.append({"code": int(err.code), "message": err.summary, "detail": err.detail})
        body: dict[str, Any] = {"result": {}}
        if errors:
            body["errors"] = errors
        return _json(200, body)
