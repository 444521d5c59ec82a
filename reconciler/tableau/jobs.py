"""Refreshing now: starting refresh jobs and following them (finding the items is ``tableau/find.py``).

Tableau answers a refresh of an item that already has one queued or running with 409093; that is
reported as "already queued", not as a failure.

A job is over only when its ``completedAt`` is set (tableauserverclient's ``wait_for_job`` rule). A
Tableau Bridge refresh reports ``finishCode="0"`` while a Bridge client is merely assigned to it, and
``3`` when it completed (Query Job reference; tableauserverclient issue 1576): a finish code without
``completedAt`` is followed, never taken for the end. See docs/tableau-behaviour.md, "Jobs, refresh and
encryption".
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

from tableauserverclient.server.endpoint.exceptions import ServerResponseError

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.model import Item
from reconciler.tableau import wire
from reconciler.tableau.connect import Connection, translate_error

__all__ = ["JobStart", "JobStatus", "get_job", "parse_job", "run_task", "start_refresh"]

ALREADY_QUEUED = "409093"


@dataclass(frozen=True)
class JobStart:
    """A refresh that was asked for: its job, or None when one was already queued (409093)."""

    label: str
    job_id: str | None
    detail: str = ""


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    progress: int
    started: bool
    finished: bool
    finish_code: int | None  # 0 success (Bridge: assigned), 1 failed, 2 cancelled, 3 completed (Bridge)
    notes: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        if not self.finished:
            if self.finish_code == 0:
                return "assigned to Bridge"
            return "running" if self.started else "queued"
        return {0: "success", 1: "failed", 2: "cancelled", 3: "success"}.get(self.finish_code or 0, "finished")


def _job_id(content: bytes) -> str:
    node = next(wire.parse(content).iter(wire.tag("job")), None)
    if node is None or not node.get("id"):
        raise ReconcilerError("The server accepted the refresh but returned no job to follow.")
    return node.get("id", "")


def _start_job(conn: Connection, url: str, body: bytes, label: str, doing: str) -> JobStart:
    try:
        content = conn.send("POST", url, body)
    except ServerResponseError as error:
        if str(error.code) == ALREADY_QUEUED:
            return JobStart(label, None, f"{error.summary}: {error.detail}".strip(": "))
        raise translate_error(error, doing) from error
    except Exception as error:
        raise translate_error(error, doing) from error
    return JobStart(label, _job_id(content))


def start_refresh(conn: Connection, item: Item, incremental: bool, label: str) -> JobStart:
    body = '<tsRequest><extractRefresh incremental="true" /></tsRequest>' if incremental else "<tsRequest />"
    return _start_job(conn, f"{conn.site_url}/{item.kind}s/{item.id}/refresh", body.encode(), label,
                      f"refreshing {label}")


def run_task(conn: Connection, task_id: str, label: str) -> JobStart:
    return _start_job(conn, f"{conn.site_url}/tasks/extractRefreshes/{task_id}/runNow", b"<tsRequest />", label,
                      f"running task {task_id}")


#: Query Job answers these for a job it no longer has (Tableau cleans up finished jobs) or cannot query
#: (docs/tableau-behaviour.md, "Jobs vanish"): the outcome is then unknown, never a success.
_JOB_GONE = ("404000", "404002", "404003", "400031")


def get_job(conn: Connection, job_id: str) -> JobStatus:
    try:
        content = conn.get(f"{conn.site_url}/jobs/{job_id}", f"reading job {job_id}")
    except TableauRequestError as error:
        if error.code in _JOB_GONE or (error.code or "").startswith("404"):
            raise TableauRequestError(
                f"Job {job_id} can no longer be read (Tableau answered {error.code}): Tableau removes finished jobs "
                "after a while and cannot query some kinds of job, so its outcome is unknown. Check the item's last "
                "refresh in Tableau (its Refresh History, or the site's Jobs page).", code=error.code) from error
        raise
    root = wire.parse(content)
    node = next(root.iter(wire.tag("job")), None)
    if node is None:
        raise ReconcilerError(f"Job {job_id}: the server's answer has no <job>.")
    return parse_job(job_id, node)


def parse_job(job_id: str, node: ET.Element) -> JobStatus:
    """A ``<job>``: finished only once ``completedAt`` is set, whatever ``finishCode`` says before that."""
    finish = (node.get("finishCode") or "").strip()
    code = int(finish) if finish.lstrip("-").isdigit() and finish != "-1" else None
    finished = bool((node.get("completedAt") or "").strip())
    notes = tuple((n.text or "").strip() for n in node.iter(wire.tag("notes")) if (n.text or "").strip())
    return JobStatus(job_id, int(node.get("progress") or 0), bool(node.get("startedAt")), finished, code, notes)
