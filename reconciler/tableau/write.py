"""Changing a site: each kind of planned action as Tableau calls.

Requests are built here rather than through TSC's models where those would write back more than
we mean to change (reference notes, sections 4 and 9):

- site encryption mode: a one-attribute ``PUT /sites/{id}`` (a TSC site round trip rewrites every
  site setting);
- item encryption: a one-attribute ``PUT`` on the data source or workbook (TSC's data source update
  always sends ``isCertified``, and has no workbook flag at all);
- schedules: raw XML in the server's own recurrence format (TSC re-sends ``hours="2.0"``, drops a
  daily ``end`` and mangles a monthly "first Monday");
- Cloud tasks: create and update sent as documented (TSC has no update).

Writes are not retried blindly: when the answer to a create is lost (a dropped connection, a
timeout, a 502 or 504), ``Writer`` reads back whether the task now exists before trying again, so a
create is never duplicated. Updates (the same request twice has the same effect) and deletes are
sent again; a delete that then finds nothing (404) has already happened. Each gives up after
``verify_attempts`` lost answers. (429 and 503 are retried below, in the transport: the server did
nothing.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

import requests
from tableauserverclient.server.endpoint.exceptions import InternalServerError, ServerResponseError

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.model import LiveTask, Recurrence, Schedule
from reconciler.tableau import wire
from reconciler.tableau.connect import Connection, translate_error, translated
from reconciler.tableau.read import list_all

__all__ = ["Writer"]

_LOST = (requests.ConnectionError, requests.Timeout)


def _recurrence_xml(recurrence: Recurrence, cloud: bool) -> tuple[str, str]:
    """``wire.recurrence_xml``, refusing (as the user's error) a recurrence whose days Tableau did not report."""
    if recurrence.days_unknown:
        raise ReconcilerError("The plan holds a monthly recurrence whose days Tableau did not report: reconciler "
                              "never writes days that Tableau did not report. Declare the days.")
    return wire.recurrence_xml(recurrence, cloud=cloud)


def _answer_lost(error: BaseException) -> bool:
    return isinstance(error, _LOST) or (isinstance(error, InternalServerError) and error.code in (502, 504))


def _not_found(error: BaseException) -> bool:
    return isinstance(error, ServerResponseError) and str(error.code).startswith("404")


class Writer:
    """Executes single changes against one signed-in site. Thread-safe."""

    def __init__(self, conn: Connection, flavor: str, verify_attempts: int = 3) -> None:
        self.conn = conn
        self.flavor = flavor
        self.cloud = flavor == "cloud"
        self.verify_attempts = verify_attempts
        self._lock = threading.Lock()

    # -- plumbing --------------------------------------------------------------------------
    def _pause(self, attempt: int) -> None:
        """Before reading back or resending after a lost answer: let the server finish what it got."""
        time.sleep(min(5.0, 2 * self.conn.settings.retry.base * (attempt + 1)))

    def _resend(self, doing: str, send: Callable[[], Any], *, gone_is_done: bool = False,
                settled: Callable[[], bool] | None = None) -> Any:
        """An idempotent write (an update, a delete): when its answer is lost, send it again.

        With ``gone_is_done`` (deletes), a 404 means it is already gone: done, not failed. When the last
        answer is lost too, ``settled`` (a read) says whether the change is in effect anyway: then it is
        done, and the journal says so, rather than "failed" for a change that was made.
        """
        for attempt in range(self.verify_attempts):
            try:
                return send()
            except Exception as error:
                if gone_is_done and _not_found(error):
                    return None
                if not _answer_lost(error):
                    raise translate_error(error, doing) from error
                if attempt + 1 == self.verify_attempts:
                    if settled is not None:
                        self._pause(attempt)
                        if self._settled(settled):
                            return None
                    raise translate_error(error, doing) from error
                self._pause(attempt)
        return None  # not reached: the last attempt returns or raises

    def _settled(self, check: Callable[[], bool]) -> bool:
        try:
            return check()
        except Exception:  # the read failed too: the outcome stays unknown, the write's error stands
            return False

    def _put(self, url: str, body: str) -> bytes:
        return self.conn.send("PUT", url, body.encode())

    def _post(self, url: str, body: str) -> bytes:
        return self.conn.send("POST", url, body.encode())

    def _delete(self, url: str) -> None:
        self.conn.send("DELETE", url)

    # -- site --------------------------------------------------------------------------------
    def set_site_mode(self, mode: str) -> None:
        body = f"<tsRequest><site extractEncryptionMode={quoteattr(mode)} /></tsRequest>"
        self._resend(f"setting the site's extract encryption mode to {mode}",
                     lambda: self._put(self.conn.site_url, body))

    def reencrypt_extracts(self) -> None:
        self.conn.request("POST", f"{self.conn.site_url}/reencrypt-extracts", "re-encrypting the site's extracts",
                          b"<tsRequest />")

    # -- schedules ---------------------------------------------------------------------------
    def _schedule_xml(self, schedule: Schedule, with_state: bool) -> str:
        frequency, details = _recurrence_xml(schedule.recurrence, cloud=False)
        attrs = (f"name={quoteattr(schedule.name)} priority=\"{schedule.priority}\" "
                 f"executionOrder=\"{schedule.execution.capitalize()}\"")
        if with_state:
            attrs += f" state=\"{schedule.state.capitalize()}\""
        else:
            attrs += ' type="Extract"'
        return f'<tsRequest><schedule {attrs} frequency="{frequency}">{details}</schedule></tsRequest>'

    def create_schedule(self, schedule: Schedule) -> str:
        """Create an Extract schedule; returns its id. A lost answer is checked by name first."""
        name = schedule.name
        url = f"{self.conn.base_url}/schedules"
        body = self._schedule_xml(schedule, with_state=False)
        doing = f"creating schedule {name!r}"
        for attempt in range(self.verify_attempts):
            try:
                node = wire.find(wire.parse(self._post(url, body)), "schedule")
                schedule_id = node.get("id", "") if node is not None else ""
                break
            except Exception as error:
                if not _answer_lost(error):
                    raise translate_error(error, doing) from error
                self._pause(attempt)
                existing = self.find_schedule_id(name)
                if existing:
                    schedule_id = existing
                    break
                if attempt + 1 == self.verify_attempts:
                    raise translate_error(error, doing) from error
        if schedule.state != "active":
            self.update_schedule(schedule_id, schedule)
        return schedule_id

    def _schedule_nodes(self) -> list[ET.Element]:
        """Every server schedule, all pages (a lookup on the first page alone misses schedules past 1,000)."""
        return list_all(self.conn, f"{self.conn.base_url}/schedules", "schedule", "listing schedules")

    def find_schedule_id(self, name: str) -> str | None:
        return next((node.get("id") for node in self._schedule_nodes() if node.get("name") == name), None)

    def update_schedule(self, schedule_id: str, schedule: Schedule) -> None:
        body = self._schedule_xml(schedule, with_state=True)
        self._resend(f"updating schedule {schedule.name!r}",
                     lambda: self._put(f"{self.conn.base_url}/schedules/{schedule_id}", body))

    def delete_schedule(self, schedule_id: str, name: str) -> None:
        def gone() -> bool:
            return all(node.get("id") != schedule_id for node in self._schedule_nodes())

        self._resend(f"deleting schedule {name!r}",
                     lambda: self._delete(f"{self.conn.base_url}/schedules/{schedule_id}"), gone_is_done=True,
                     settled=gone)

    # -- items ---------------------------------------------------------------------------------
    def set_item_encrypt(self, kind: str, item_id: str, encrypt: bool, label: str) -> None:
        body = f'<tsRequest><{kind} encryptExtracts="{str(encrypt).lower()}" /></tsRequest>'
        verb = "encrypting" if encrypt else "decrypting"
        self._resend(f"{verb} the extracts of {kind} {label!r}",
                     lambda: self._put(f"{self.conn.site_url}/{kind}s/{item_id}", body))

    # -- tasks ---------------------------------------------------------------------------------
    def create_task(self, kind: str, item_id: str, task_type: str, label: str, *,
                    schedule_id: str | None = None, recurrence: Recurrence | None = None) -> str | None:
        """Create a refresh task (Server: add to schedule; Cloud: with its recurrence).

        Returns the new task's id when the server says it (Cloud does; Server's answer has none).
        """
        doing = f"creating the {task_type} refresh of {kind} {label!r}"
        if self.cloud:
            assert recurrence is not None
            frequency, details = _recurrence_xml(recurrence, cloud=True)
            kind_type = "IncrementalRefresh" if task_type == "incremental" else "FullRefresh"
            url = f"{self.conn.site_url}/tasks/extractRefreshes"
            body = (f'<tsRequest><extractRefresh type="{kind_type}"><{kind} id={quoteattr(item_id)} />'
                    f'</extractRefresh><schedule frequency="{frequency}">{details}</schedule></tsRequest>')

            def send() -> bytes:
                return self._post(url, body)
        else:
            assert schedule_id is not None
            if task_type != "full":  # the planner refuses these; never send one (it would become a full refresh)
                raise TableauRequestError(f"{doing}: Tableau Server's REST API can only add a full refresh task "
                                          "to a schedule (docs/tableau-behaviour.md). Nothing was sent.")
            url = f"{self.conn.site_url}/schedules/{schedule_id}/{kind}s"
            # The documented body: no type (Add Data Source / Workbook to Server Schedule).
            body = (f'<tsRequest><task><extractRefresh><{kind} id={quoteattr(item_id)} />'
                    "</extractRefresh></task></tsRequest>")

            def send() -> bytes:
                return self._put(url, body)

        def exists() -> str | None:
            return self._find_task(kind, item_id, task_type, schedule_id=schedule_id, recurrence=recurrence)

        for attempt in range(self.verify_attempts):
            try:
                answer = send()
                break
            except Exception as error:
                if not _answer_lost(error):
                    raise translate_error(error, doing) from error
                self._pause(attempt)
                with translated(f"checking whether {doing} happened"):
                    found = exists()
                if found:
                    return str(found)
                if attempt + 1 == self.verify_attempts:
                    raise translate_error(error, doing) from error
        root = wire.parse(answer)
        for warning in root.iter(wire.tag("warning")):
            raise TableauRequestError(f"{doing}: {warning.get('message', 'the server answered with a warning')}")
        node = next(root.iter(wire.tag("extractRefresh")), None)
        return (node.get("id") or None) if node is not None else None

    def update_cloud_task(self, task_id: str, kind: str, item_id: str, task_type: str, recurrence: Recurrence,
                          label: str) -> None:
        """Tableau Cloud's in-place task update (API 3.20+), which TSC lacks: the task keeps its id."""
        frequency, details = _recurrence_xml(recurrence, cloud=True)
        kind_type = "IncrementalRefresh" if task_type == "incremental" else "FullRefresh"
        body = (f'<tsRequest><extractRefresh type="{kind_type}"><{kind} id={quoteattr(item_id)} /></extractRefresh>'
                f'<schedule frequency="{frequency}">{details}</schedule></tsRequest>')
        def done() -> bool:
            return any(t.id == task_id and t.type == task_type and t.recurrence == recurrence
                       for t in self.list_tasks())

        self._resend(f"updating the refresh task {task_id} of {kind} {label!r}",
                     lambda: self._post(f"{self.conn.site_url}/tasks/extractRefreshes/{task_id}", body), settled=done)

    def delete_task(self, task_id: str, label: str) -> None:
        # A 404 means already gone: a resent delete whose first answer was lost, or someone else's.
        self._resend(f"deleting refresh task {task_id} of {label!r}",
                     lambda: self._delete(f"{self.conn.site_url}/tasks/extractRefreshes/{task_id}"), gone_is_done=True,
                     settled=lambda: all(t.id != task_id for t in self.list_tasks()))

    def list_tasks(self) -> list[LiveTask]:
        root = wire.parse(self.conn.get(f"{self.conn.site_url}/tasks/extractRefreshes",
                                        "listing extract refresh tasks"))
        return [t for t in (wire.parse_task(n) for n in root.iter(wire.tag("extractRefresh"))) if t is not None]

    def _find_task(self, kind: str, item_id: str, task_type: str, *, schedule_id: str | None,
                   recurrence: Recurrence | None) -> str | None:
        for task in self.list_tasks():
            if (task.item_kind, task.item_id, task.type) != (kind, item_id, task_type):
                continue
            if (schedule_id is not None and task.schedule_id == schedule_id) or (
                    recurrence is not None and task.recurrence == recurrence):
                return task.id
        return None
