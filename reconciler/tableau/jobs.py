"""Refreshing now: finding items by reference, starting refresh jobs, following them.

Tableau answers a refresh of an item that already has one queued or running with 409093; that is
reported as "already queued", not as a failure.

A job is over only when its ``completedAt`` is set (tableauserverclient's ``wait_for_job`` rule). A
Tableau Bridge refresh reports ``finishCode="0"`` while a Bridge client is merely assigned to it, and
``3`` when it completed (Query Job reference; tableauserverclient issue 1576): a finish code without
``completedAt`` is followed, never taken for the end. See docs/tableau-behaviour.md, "Jobs, refresh and
encryption".
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from urllib.parse import quote
from xml.etree import ElementTree as ET

from tableauserverclient.server.endpoint.exceptions import ServerResponseError

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.model import Item, ItemRef, describe_item, match_ref, split_path
from reconciler.tableau import wire
from reconciler.tableau.connect import Connection, translate_error
from reconciler.tableau.read import PAGE_SIZE, list_all, project_tree

__all__ = ["JobStart", "JobStatus", "find_item", "find_task", "get_job", "parse_job", "run_task", "start_refresh"]

_LUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
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


def _get(conn: Connection, url: str, doing: str) -> bytes:
    try:
        return bytes(conn.server.jobs.get_request(url).content)
    except Exception as error:
        raise translate_error(error, doing) from error


def find_item(conn: Connection, kind: str, ref: str) -> Item:
    """A data source or workbook by LUID or by ``project/sub/name``; unknown → error with close matches."""
    label = "data source" if kind == "datasource" else "workbook"
    if _LUID.match(ref):
        try:
            root = wire.parse(_get(conn, f"{conn.site_url}/{kind}s/{ref}", f"looking up {label} {ref}"))
        except TableauRequestError as error:
            if not str(error.code or "").startswith("404"):
                raise
            root = None
        node = wire.find(root, kind) if root is not None else None
        if node is None:
            raise ReconcilerError(f"There is no {label} with id {ref} on this site.")
        return Item(kind, ref, node.get("name", ""), ())
    wanted = ItemRef(kind, *split_path(ref))
    paths = _project_paths(conn)
    # The server's filter is only a shortcut: "eq" treats "*" as a wildcard and a name may hold a "/" (so the
    # name is any tail of the path). What it returns is checked with the one resolver, match_ref; when nothing
    # matches exactly, every item is listed and checked, so a name the filter cannot express is still found.
    # A filter value cannot hold "," or "&", even encoded (Tableau's filtering docs): such a name is listed.
    tails = {tail for tail in ("/".join(ref.split("/")[i:]) for i in range(1, ref.count("/") + 1))
             if "," not in tail and "&" not in tail}
    found = [item for name in sorted(tails) for item in _filtered(conn, kind, name, paths, label, ref)]
    exact = match_ref(wanted, found)
    if not exact:
        found = _all_items(conn, kind, paths)
        exact = match_ref(wanted, found)
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise ReconcilerError(f"{label.capitalize()} {ambiguous_ref(ref, exact)} Nothing was started; give its id "
                              "(LUID) instead: `reconciler export` lists every item's id.")
    close = difflib.get_close_matches(ref, sorted(item.path for item in found), n=3, cutoff=0.6)
    hint = (" Did you mean " + " or ".join(json.dumps(c, ensure_ascii=True) for c in close) + "?") if close else ""
    shown = json.dumps(ref, ensure_ascii=False)
    if not ref.isascii() or ref != ref.strip():  # so that it can be told from a suggestion that looks the same
        shown += f" (escaped: {json.dumps(ref, ensure_ascii=True)})"
    raise ReconcilerError(f"{label.capitalize()} {shown} does not exist on this "
                          f"site (names are compared exactly).{hint} Give it as project/sub-project/name, or by its "
                          "id (LUID).")


def ambiguous_ref(ref: str, found: list[Item]) -> str:
    listed = "; ".join(describe_item(item) for item in sorted(found, key=lambda i: (i.project, i.name, i.id)))
    return (f"{json.dumps(ref, ensure_ascii=False)} is ambiguous: a \"/\" inside a project or item name makes it "
            f"name {len(found)} items: {listed}.")


def _filtered(conn: Connection, kind: str, name: str, paths: dict[str, tuple[str, ...]], label: str,
              ref: str) -> list[Item]:
    url = (f"{conn.site_url}/{kind}s?filter=name:eq:{quote(name, safe='')}"
           f"&fields=id,name,project.id,project.name&pageSize={PAGE_SIZE}")
    try:
        root = wire.parse(_get(conn, url, f"looking up {label} {ref!r}"))
    except TableauRequestError as error:
        if not str(error.code or "").startswith("400"):  # a name the filter syntax cannot hold: list them all
            raise
        return []
    return [_item_of(node, kind, paths) for node in root.iter(wire.tag(kind))]


def _item_of(node: ET.Element, kind: str, paths: dict[str, tuple[str, ...]]) -> Item:
    project_node = wire.find(node, "project")
    project_id = project_node.get("id", "") if project_node is not None else ""
    return Item(kind, node.get("id", ""), node.get("name", ""), paths.get(project_id, ()), project_id)


def find_task(conn: Connection, task_id: str) -> str:
    """Check that an extract refresh task exists on this site (a read: nothing is started); returns its id."""
    doing = f"looking up task {task_id}"
    if _LUID.match(task_id):
        try:
            response = conn.server.jobs.get_request(f"{conn.site_url}/tasks/extractRefreshes/{task_id}")
        except ServerResponseError as error:
            if not str(error.code).startswith(("404", "400")):
                raise translate_error(error, doing) from error
        except Exception as error:
            raise translate_error(error, doing) from error
        else:
            if next(wire.parse(response.content).iter(wire.tag("extractRefresh")), None) is not None:
                return task_id
    raise ReconcilerError(f"There is no extract refresh task with id {task_id!r} on this site; nothing was "
                          "started. `reconciler export` lists each item's tasks; `--datasource`/`--workbook` "
                          "refresh an item without naming a task.")


def _all_items(conn: Connection, kind: str, paths: dict[str, tuple[str, ...]]) -> list[Item]:
    """Every item of a kind (when the filter found nothing exact: an error path or an awkward name)."""
    nodes = list_all(conn, f"{conn.site_url}/{kind}s?fields=id,name,project.id", kind, f"listing {kind}s")
    return [_item_of(node, kind, paths) for node in nodes]


def _project_paths(conn: Connection) -> dict[str, tuple[str, ...]]:
    nodes = list_all(conn, f"{conn.site_url}/projects", "project", "listing projects")
    return {project.id: project.path for project in project_tree(nodes)}


def _job_id(content: bytes) -> str:
    node = next(wire.parse(content).iter(wire.tag("job")), None)
    if node is None or not node.get("id"):
        raise ReconcilerError("The server accepted the refresh but returned no job to follow.")
    return node.get("id", "")


def _start_job(conn: Connection, url: str, body: bytes, label: str, doing: str) -> JobStart:
    try:
        response = conn.server.jobs.post_request(url, body)
    except ServerResponseError as error:
        if str(error.code) == ALREADY_QUEUED:
            return JobStart(label, None, f"{error.summary}: {error.detail}".strip(": "))
        raise translate_error(error, doing) from error
    except Exception as error:
        raise translate_error(error, doing) from error
    return JobStart(label, _job_id(response.content))


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
        content = _get(conn, f"{conn.site_url}/jobs/{job_id}", f"reading job {job_id}")
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
