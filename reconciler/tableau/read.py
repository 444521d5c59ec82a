"""Reading a site into the model: one request per 1,000-row page, lists fetched concurrently.

Every list is paged with ``pageSize=1000`` and walked to the end, the way TSC's ``Pager`` does
(``pageSize * pageNumber >= totalAvailable``), but pages after the first are fetched at once. We
never use TSC's ``.all()``/``.filter()`` query sets: they stop silently at an error on a later
page, and a truncated list would plan deletes. An error on any page fails the whole read.

Server schedule lists carry no recurrence, so details (``GET /schedules/{id}``) are fetched only
for the schedules that matter, concurrently.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Literal
from urllib.parse import quote
from xml.etree import ElementTree as ET

from tableauserverclient.server.endpoint.exceptions import (
    FailedSignInError,
    NotSignedInError,
    ServerResponseError,
)

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.model import DesiredState, Item, LiveState, LiveTask, Project, Recurrence, Schedule
from reconciler.tableau import wire
from reconciler.tableau.connect import Connection, translate_error

__all__ = ["PAGE_SIZE", "ScheduleDetails", "read_site"]

PAGE_SIZE = 1000
ScheduleDetails = Literal["declared", "used", "all"]
ITEM_FIELDS = "id,name,hasExtracts,encryptExtracts,project.id,project.name"


class _Reader:
    def __init__(self, conn: Connection, pool: ThreadPoolExecutor) -> None:
        self.conn = conn
        self.pool = pool

    def get(self, url: str, doing: str) -> ET.Element:
        try:
            response = self.conn.server.tasks.get_request(url)
        except Exception as error:
            raise translate_error(error, doing) from error
        return wire.parse(response.content)

    def paged(self, url: str, element: str, doing: str) -> list[ET.Element]:
        """Every ``element`` of every page of a list, pages 2.. fetched concurrently."""
        separator = "&" if "?" in url else "?"

        def page(number: int) -> ET.Element:
            return self.get(f"{url}{separator}pageSize={PAGE_SIZE}&pageNumber={number}", doing)

        first = page(1)
        pages = [first]
        pagination = wire.find(first, "pagination")
        if pagination is not None:
            total = int(pagination.get("totalAvailable") or 0)
            size = int(pagination.get("pageSize") or PAGE_SIZE) or PAGE_SIZE
            count = -(-total // size)
            pages.extend(f.result() for f in [self.pool.submit(page, n) for n in range(2, count + 1)])
        return [node for p in pages for node in p.iter(wire.tag(element))]


def read_site(conn: Connection, desired: DesiredState | None = None, *, flavor: str | None = None,
              schedule_details: ScheduleDetails = "declared", schedule_names: Collection[str] = (),
              parallelism: int = 8,
              progress: Callable[[str], None] | None = None) -> LiveState:
    """Read everything a plan needs from the signed-in site.

    ``flavor`` is the files' (or the flag's); when None it is detected: Tableau Cloud answers
    ``GET /schedules`` with 401. ``schedule_details`` chooses which schedules get their recurrence
    read: the ones the files declare, every one a task uses (export, drift), or all; plus
    ``schedule_names`` (a saved plan's).
    """
    note = progress or (lambda _message: None)
    base, site = conn.base_url, conn.site_url
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="read") as pool:
        reader = _Reader(conn, pool)
        note("reading the site")
        items_url = f"?fields={quote(ITEM_FIELDS, safe=',')}"
        site_future = pool.submit(reader.get, site, "reading the site")
        lists = {
            "project": pool.submit(reader.paged, f"{site}/projects", "project", "listing projects"),
            "datasource": pool.submit(reader.paged, f"{site}/datasources{items_url}", "datasource",
                                      "listing data sources"),
            "workbook": pool.submit(reader.paged, f"{site}/workbooks{items_url}", "workbook", "listing workbooks"),
        }
        tasks_future = pool.submit(reader.get, f"{site}/tasks/extractRefreshes", "listing extract refresh tasks")
        schedules_future = pool.submit(_list_schedules, reader, base) if flavor != "cloud" else None
        site_xml = wire.find(site_future.result(), "site")
        encryption_mode = (site_xml.get("extractEncryptionMode") if site_xml is not None else None) or "disabled"
        listed = schedules_future.result() if schedules_future is not None else None
        detected = "cloud" if listed is None else "server"
        if flavor is not None and flavor != detected:
            raise ReconcilerError(
                f"The files say flavor: {flavor}, but {conn.settings.server} looks like Tableau "
                f"{'Cloud' if detected == 'cloud' else 'Server'} (it "
                f"{'has no' if detected == 'cloud' else 'has'} server schedules). Fix flavor: in the files.")
        projects = _projects(lists["project"].result())
        by_project = {p.id: p for p in projects}
        items = [_item(node, kind, by_project) for kind in ("datasource", "workbook")
                 for node in lists[kind].result()]
        task_list = tasks_future.result()
        tasks = [t for t in (wire.parse_task(node) for node in task_list.iter(wire.tag("extractRefresh")))
                 if t is not None]
        schedules: list[Schedule] = []
        if listed is not None:
            wanted = _wanted_schedules(listed, desired, tasks, schedule_details) | (set(schedule_names) & {
                name for name, _ in listed})
            note(f"reading {len(wanted)} schedule{'s' if len(wanted) != 1 else ''}")
            details = {name: pool.submit(_schedule_detail, reader, base, schedule)
                       for name, schedule in listed if name in wanted}
            schedules = [details[name].result() if name in details else schedule for name, schedule in listed]
    return LiveState(
        server=conn.settings.server,
        site_id=conn.site_id,
        site=conn.settings.site,
        api_version=conn.api_version,
        flavor=detected,
        encryption_mode=encryption_mode.lower(),
        projects=tuple(sorted(projects, key=lambda p: p.path)),
        items=tuple(sorted(items, key=lambda i: (i.kind, i.project, i.name, i.id))),
        schedules=tuple(sorted(schedules, key=lambda s: s.name)),
        tasks=tuple(sorted(tasks, key=lambda t: t.id)),
    )


def _list_schedules(reader: _Reader, base: str) -> list[tuple[str, Schedule]] | None:
    """The server's Extract schedules without details; None on Tableau Cloud (401 there)."""
    try:
        nodes = reader.paged(f"{base}/schedules", "schedule", "listing server schedules")
    except TableauRequestError as error:
        cause = error.__cause__
        if isinstance(cause, (FailedSignInError, NotSignedInError)) or error.code in ("401", "401000"):
            return None
        if isinstance(cause, ServerResponseError) and str(cause.code).startswith("403"):
            raise TableauRequestError(
                "Listing server schedules was refused (403): reading schedules needs a server "
                "administrator on Tableau Server.", code=str(cause.code)) from error
        raise
    out = []
    for node in nodes:
        if node.get("type", "Extract") != "Extract":
            continue
        out.append((node.get("name", ""), _schedule_from(node, None)))
    return out


def _schedule_from(node: ET.Element, recurrence: Recurrence | None) -> Schedule:
    detailed = recurrence is not None
    recurrence = recurrence or Recurrence(node.get("frequency", "daily").lower(), "00:00")
    return Schedule(
        name=node.get("name", ""),
        recurrence=recurrence,
        priority=int(node.get("priority") or 50),
        execution=(node.get("executionOrder") or "Parallel").lower(),
        state=(node.get("state") or "Active").lower(),
        id=node.get("id"),
        detailed=detailed,
    )


def _schedule_detail(reader: _Reader, base: str, schedule: Schedule) -> Schedule:
    root = reader.get(f"{base}/schedules/{schedule.id}", f"reading schedule {schedule.name!r}")
    node = wire.find(root, "schedule")
    if node is None:
        raise TableauRequestError(f"reading schedule {schedule.name!r}: the answer has no <schedule>.")
    return _schedule_from(node, wire.parse_recurrence(node))


def _wanted_schedules(listed: Iterable[tuple[str, Schedule]], desired: DesiredState | None,
                      tasks: Collection[LiveTask], which: ScheduleDetails) -> set[str]:
    names = {name for name, _ in listed}
    if which == "all":
        return names
    wanted = {s.name for s in desired.schedules} if desired is not None else set()
    if which == "used":
        wanted |= {t.schedule for t in tasks if t.schedule}
    return wanted & names


def _projects(nodes: list[ET.Element]) -> list[Project]:
    raw = {n.get("id", ""): (n.get("name", ""), n.get("parentProjectId") or None) for n in nodes}
    paths: dict[str, tuple[str, ...]] = {}

    def path(project_id: str, depth: int = 0) -> tuple[str, ...]:
        if project_id in paths:
            return paths[project_id]
        name, parent = raw[project_id]
        parent_path = path(parent, depth + 1) if parent in raw and depth < 64 else ()
        paths[project_id] = (*parent_path, name)
        return paths[project_id]

    return [Project(id=pid, name=name, parent_id=parent, path=path(pid)) for pid, (name, parent) in raw.items()]


def _item(node: ET.Element, kind: str, projects: dict[str, Project]) -> Item:
    project = wire.find(node, "project")
    project_id = project.get("id") if project is not None else None
    known = projects.get(project_id or "")
    if known is not None:
        path = known.path
    else:
        path = (project.get("name", ""),) if project is not None and project.get("name") else ()
    return Item(
        kind=kind,
        id=node.get("id", ""),
        name=node.get("name", ""),
        project=path,
        project_id=project_id,
        encrypt=(node.get("encryptExtracts") or "").lower() == "true",
        has_extracts=(node.get("hasExtracts") or "").lower() == "true",
    )


def with_schedules(live: LiveState, schedules: Iterable[Schedule]) -> LiveState:
    """The same live state with some schedules replaced (after reading their details)."""
    by_name = {s.name: s for s in live.schedules}
    by_name.update({s.name: s for s in schedules})
    return replace(live, schedules=tuple(sorted(by_name.values(), key=lambda s: s.name)))
