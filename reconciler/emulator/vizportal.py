"""Vizportal, Tableau Server's undocumented web-client API (`POST /vizportal/api/web/v1/{method}`).

Login flow (seeds 000/001): `generatePublicKey` → `{"result": {"keyId", "key": {"n": hex, "e": hex}}}`;
the client encrypts the password with RSA PKCS#1 v1.5 and sends it hex-encoded to `login`
(`{"username", "encryptedPassword", "keyId", "site"?}`; `site` is a contentUrl, default ""). The
answer sets the `workgroup_session_id` and `XSRF-TOKEN` cookies; later calls need the cookie AND an
`X-XSRF-TOKEN` header equal to it (no/unknown/expired session → HTTP 401, bad XSRF → HTTP 403).
Method errors are HTTP 200 with `{"errors": [{"code", "message"}]}`, as Vizportal does.

Ids: every task, schedule, data source and workbook has a Vizportal integer id (sent as a string,
`"id"`) next to its REST LUID (`"luid"`), so a client can map between them. Server flavor only.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import scheduling
from .exceptions import EmulatorError
from .models import Store, Task, User
from .recurrence import next_run_at
from .responses import Reply
from .wire import iso

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

    def __init__(self, store: Store) -> None:
        self.store = store
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

    def _task_json(self, task: Task) -> dict[str, Any]:
        schedule = self.store.schedules.get(task.schedule_id or "")
        item = self.store.items.get(task.item_id)
        return {
            "id": str(task.vizportal_id), "luid": task.id, "type": "RefreshExtractTask",
            "refreshType": "incremental" if task.incremental else "full", "priority": task.priority,
            "consecutiveFailedCount": task.consecutive_failed_count,
            "scheduleId": str(schedule.vizportal_id) if schedule else None,
            "scheduleLuid": schedule.id if schedule else None, "scheduleName": schedule.name if schedule else None,
            "targetType": task.item_kind, "targetId": str(item.vizportal_id) if item else None,
            "targetLuid": task.item_id, "targetName": item.name if item else None,
        }

    def get_extract_tasks(self, session_id: str, user: User, params: dict[str, Any]) -> Reply:
        self.store.settle()
        with self.store.lock:
            tasks = [self._task_json(t) for t in self.store.tasks.values() if t.site_id == user.site_id]
        return _json(200, {"result": {"totalCount": len(tasks), "tasks": tasks}})

    def get_schedules(self, session_id: str, user: User, params: dict[str, Any]) -> Reply:
        now = self.store.clock()
        with self.store.lock:
            schedules = [{
                "id": str(s.vizportal_id), "luid": s.id, "name": s.name, "type": s.type, "state": s.state,
                "priority": s.priority, "frequency": s.recurrence.frequency, "executionOrder": s.execution_order,
                "nextRunAt": iso(next_run_at(s.recurrence, now)) if s.state == "Active" else None,
            } for s in self.store.schedules.values()]
        return _json(200, {"result": {"totalCount": len(schedules), "schedules": schedules}})

    def _resolve_task(self, site_id: str, ref: str) -> str:
        for task in self.store.tasks.values():
            if task.site_id == site_id and (task.id == ref or str(task.vizportal_id) == ref):
                return task.id
        raise EmulatorError.not_found("404026", "Task not found", f"No extract task '{ref}' on this site.")

    def set_extract_tasks_schedule(self, session_id: str, user: User, params: dict[str, Any]) -> Reply:
        """Move tasks (ids: Vizportal ids or LUIDs) to `scheduleId` (Vizportal id or LUID), in place."""
        ids = params.get("ids")
        schedule_ref = str(params.get("scheduleId", ""))
        if not isinstance(ids, list) or not ids or not schedule_ref:
            return _errors(400, "params needs a non-empty 'ids' list and a 'scheduleId'.")
        with self.store.lock:
            schedule_id = next((s.id for s in self.store.schedules.values()
                                if schedule_ref in (s.id, str(s.vizportal_id))), schedule_ref)
            task_ids = [self._resolve_task(user.site_id, str(ref)) for ref in ids]
            moved = scheduling.move_tasks(self.store, user, user.site_id, task_ids, schedule_id)
            result = [self._task_json(t) for t in moved]
        return _json(200, {"result": {"tasks": result}})

    def run_extract_refreshes_on_datasources(self, session_id: str, user: User, params: dict[str, Any]) -> Reply:
        """Start a refresh job per data source (ids: Vizportal ids or LUIDs); jobs are visible over REST."""
        ids = params.get("ids")
        if not isinstance(ids, list) or not ids:
            return _errors(400, "params needs a non-empty 'ids' list.")
        incremental = str(params.get("type", "RefreshExtract")).lower().startswith("increment")
        jobs: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.store.lock:
            for ref in ids:
                ds = next((i for i in self.store.items.values() if i.kind == "datasource"
                           and i.site_id == user.site_id and str(ref) in (i.id, str(i.vizportal_id))), None)
                if ds is None:
                    errors.append({"code": 404004, "message": f"Data source '{ref}' not found."})
                    continue
                try:
                    job = self.store.refresh_item(user, user.site_id, "datasource", ds.id, incremental)
                except EmulatorError as err:
                    errors.append({"code": int(err.code), "message": err.summary, "detail": err.detail})
                    continue
                jobs.append({"id": job.id, "datasourceId": str(ds.vizportal_id), "datasourceLuid": ds.id})
        body: dict[str, Any] = {"result": {"jobs": jobs}}
        if errors:
            body["errors"] = errors
        return _json(200, body)
