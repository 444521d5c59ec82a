"""Reading a site into the model: one request per 1,000-row page, lists fetched concurrently.

Every list is paged with ``pageSize=1000`` and walked to the end, the way TSC's ``Pager`` does
(``pageSize * pageNumber >= totalAvailable``), but pages after the first are fetched at once. We
never use TSC's ``.all()``/``.filter()`` query sets: they stop silently at an error on a later
page, and a truncated list would plan deletes. An error on any page fails the whole read.

Server schedule lists carry no recurrence, so details (``GET /schedules/{id}``) are fetched only
for the schedules that matter, concurrently.

On Tableau Server, when the plan may change or delete a server schedule, the tasks other sites have
on it are counted too (``reconciler.tableau.sites``), after the site itself is read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from operator import attrgetter
from typing import Generic, Literal, NamedTuple, TypeVar
from urllib.parse import quote
from xml.etree import ElementTree as ET

from tableauserverclient.server.endpoint.exceptions import (
    FailedSignInError,
    NotSignedInError,
    ServerResponseError,
)

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.gcpause import gc_paused
from reconciler.model import (
    DesiredState,
    Flavor,
    Item,
    ItemKind,
    LiveState,
    LiveTask,
    Project,
    Recurrence,
    Schedule,
    SignedInUser,
)
from reconciler.tableau import wire
from reconciler.tableau.connect import Connection
from reconciler.tableau.sites import OtherSiteCounts, count_other_sites, list_sites

__all__ = ["PAGE_SIZE", "READ_PARALLELISM", "Fetcher", "Paged", "ScheduleDetails", "count_outside", "list_all",
           "project_tree", "read_site", "read_tasks"]

PAGE_SIZE = 1000
#: Requests in flight at once while reading. Most of a read is waiting: 300 schedule details at
#: 50 ms of latency are 1.9 s on 8 threads; past about 24 the client's CPU (and the emulator's) is
#: the limit, not the latency (docs/benchmarks.md).
READ_PARALLELISM = 24
ScheduleDetails = Literal["declared", "used", "all"]
T = TypeVar("T")
_ID = attrgetter("id")
ITEM_FIELDS = "id,name,hasExtracts,encryptExtracts,project.id,project.name,owner.id"


class Fetcher:
    """GETs for one read: answers as XML, and every page of a list fetched concurrently on ``pool``."""

    def __init__(self, conn: Connection, pool: ThreadPoolExecutor) -> None:
        self.conn = conn
        self.pool = pool

    def get(self, url: str, doing: str) -> ET.Element:
        return wire.parse(self.get_bytes(url, doing))

    def get_bytes(self, url: str, doing: str) -> bytes:
        return self.conn.get(url, doing)

    def paged(self, url: str, element: str, doing: str) -> Paged[ET.Element]:
        """Start reading every page of a list: the first page now, the others once it is known how many."""
        return Paged(self, url, element, doing, _node)

    def rows(self, url: str, element: str, doing: str) -> Paged[_ItemRow]:
        """Like ``paged``, but each page is turned into ``_ItemRow``s in the worker that fetched it, and
        its tree dropped: a 75,000-item site is 75 pages that are never all in memory at once."""
        return Paged(self, url, element, doing, _item_row)


class Paged(Generic[T]):
    """One paged list in flight: the one paging helper of ``tableau/`` (site lists, job history).

    Page N is ``url`` with ``pageSize=1000&pageNumber=N``. Page 1 is requested at once; ``more()``
    (called by the thread that drives the read, never by a worker) waits for it and requests pages
    2.. concurrently, as many as its ``<pagination>`` announces; ``entries()`` waits for every page
    and raises the first page's error, if any. Each ``element`` of a page goes through ``convert`` in
    the worker that fetched it (None drops it), so that a page's tree is never kept."""

    def __init__(self, reader: Fetcher, url: str, element: str, doing: str,
                 convert: Callable[[ET.Element], T | None]) -> None:
        self.reader = reader
        self.url = url
        self.separator = "&" if "?" in url else "?"
        self.element = element
        self.doing = doing
        self.convert = convert
        self.first = reader.pool.submit(self._page, 1)
        self.rest: list[Future[_Page[T]]] | None = None

    def _page(self, number: int) -> _Page[T]:
        root = self.reader.get(f"{self.url}{self.separator}pageSize={PAGE_SIZE}&pageNumber={number}", self.doing)
        pagination = wire.find(root, "pagination")
        total = (int(pagination.get("totalAvailable") or 0), int(pagination.get("pageSize") or PAGE_SIZE) or PAGE_SIZE
                 ) if pagination is not None else None
        converted = (self.convert(node) for node in root.iter(wire.tag(self.element)))
        return _Page(total, [entry for entry in converted if entry is not None])

    def more(self) -> None:
        if self.rest is not None:
            return
        self.rest = []
        if self.first.exception() is not None:
            return  # entries() raises it, in the order the caller asks for results
        total = self.first.result().total
        if total is not None:
            count = -(-total[0] // total[1])
            self.rest = [self.reader.pool.submit(self._page, n) for n in range(2, count + 1)]

    def entries(self) -> list[T]:
        self.more()
        assert self.rest is not None
        return [entry for page in (self.first, *self.rest) for entry in page.result().entries]


class _Page(NamedTuple, Generic[T]):
    #: (totalAvailable, pageSize) of the page's ``<pagination>``; None without one.
    total: tuple[int, int] | None
    entries: list[T]


def _node(node: ET.Element) -> ET.Element:
    return node


def list_all(conn: Connection, url: str, element: str, doing: str) -> list[ET.Element]:
    """Every ``element`` of a paged list, pages after the first fetched concurrently (never a QuerySet)."""
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="list") as pool:
        return Fetcher(conn, pool).paged(url, element, doing).entries()


def read_site(conn: Connection, desired: DesiredState | None = None, *, flavor: str | None = None,
              schedule_details: ScheduleDetails = "declared", schedule_names: Collection[str] = (),
              shared_schedules: Collection[str] = (), other_sites: bool = True,
              parallelism: int = READ_PARALLELISM, progress: Callable[[str], None] | None = None,
              server_schedules: LiveState | None = None) -> LiveState:
    """Read everything a plan needs from the signed-in site.

    ``flavor`` is the files' (or the flag's); when None it is detected: Tableau Cloud answers
    ``GET /schedules`` with 401. ``schedule_details`` chooses which schedules get their recurrence
    read: the ones the files declare, every one a task uses (export, drift), or all; plus
    ``schedule_names`` (a saved plan's).

    Server, a server administrator, several sites: the tasks on other sites are counted
    (``LiveState.shared_schedule_tasks``, ``shared_by_site``) for the schedules the plan may change or
    delete: declared ones that differ from the live one, every undeclared one with ``policy.prune``, and
    ``shared_schedules`` (a saved plan's deletes). Nothing is counted, and no request made, when there
    is none; when they cannot be counted, ``LiveState.shared_unknown`` says why. ``other_sites=False``
    counts nothing (a deployment run, which reads every site itself).

    Every request that does not depend on another is in flight at once (up to ``parallelism``):
    the site and the task list first (the largest answer; it is parsed in its worker as soon as it
    arrives), then the first page of each list, then the other pages, then the schedule details,
    which start as soon as the schedule list is known (for ``used``, once the task list is).

    ``server_schedules`` (Tableau Server): another site's read of the same server, whose schedules (server-wide)
    are taken as they are instead of being read again: the sites of a deployment after the first.
    """
    with gc_paused():
        live = _read_site(conn, desired, flavor, schedule_details, schedule_names, parallelism, progress,
                          server_schedules)
        if not other_sites or server_schedules is not None:
            return live  # the caller (a deployment, which reads every site itself) counts the use of schedules
        return _with_other_sites(conn, live, desired, shared_schedules, progress)


def _read_site(conn: Connection, desired: DesiredState | None, flavor: str | None,
               schedule_details: ScheduleDetails, schedule_names: Collection[str], parallelism: int,
               progress: Callable[[str], None] | None, known: LiveState | None) -> LiveState:
    note = progress or (lambda _message: None)
    base, site = conn.base_url, conn.site_url
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="read") as pool:
        reader = Fetcher(conn, pool)
        note("reading the site")
        items_url = f"?fields={quote(ITEM_FIELDS, safe=',')}"
        site_future = pool.submit(reader.get, site, "reading the site")
        user_future = pool.submit(_read_user, reader, f"{site}/users/{conn.server.user_id}")
        tasks_future = pool.submit(_read_tasks, reader, f"{site}/tasks/extractRefreshes")
        schedule_list = reader.paged(f"{base}/schedules", "schedule", "listing server schedules") \
            if flavor != "cloud" and known is None else None
        project_list = reader.paged(f"{site}/projects", "project", "listing projects")
        item_lists = {
            "datasource": reader.rows(f"{site}/datasources{items_url}", "datasource", "listing data sources"),
            "workbook": reader.rows(f"{site}/workbooks{items_url}", "workbook", "listing workbooks"),
        }
        for paged in (item_lists["datasource"], item_lists["workbook"]):
            paged.more()
        project_list.more()
        # Results are taken (and errors raised) in a fixed order: site, schedules, projects, items, tasks.
        site_xml = wire.find(site_future.result(), "site")
        encryption_mode = (site_xml.get("extractEncryptionMode") if site_xml is not None else None) or "disabled"
        listing = _list_schedules(schedule_list) if schedule_list is not None else None
        if known is not None and known.flavor == "server":
            listing = [(s.name, s) for s in known.schedules], known.other_schedules
        listed, other_schedules = listing if listing is not None else (None, ())
        detected: Flavor = "cloud" if listed is None else "server"
        if flavor is not None and flavor != detected:
            raise ReconcilerError(
                f"The files say flavor: {flavor}, but {conn.settings.server} looks like Tableau "
                f"{'Cloud' if detected == 'cloud' else 'Server'} (it "
                f"{'has no' if detected == 'cloud' else 'has'} server schedules). Fix flavor: in the files.")
        details: dict[str, Future[Schedule]] = {}

        def read_details(tasks: Collection[LiveTask]) -> None:
            assert listed is not None
            wanted = _wanted_schedules(listed, desired, tasks, schedule_details) | (set(schedule_names) & {
                name for name, _ in listed})
            note(f"reading {len(wanted)} schedule{'s' if len(wanted) != 1 else ''}")
            details.update({name: pool.submit(_schedule_detail, reader, base, schedule)
                            for name, schedule in listed if name in wanted})

        if listed is not None and known is None and schedule_details != "used":
            read_details(())  # needs no task: start now (known schedules come with their read's details)
        projects = project_tree(project_list.entries())
        by_project = {p.id: p for p in projects}
        items = [_item(row, kind, by_project) for kind in ("datasource", "workbook")
                 for row in item_lists[kind].entries()]
        tasks = tasks_future.result()
        schedules: list[Schedule] = []
        if listed is not None:
            if schedule_details == "used" and known is None:
                read_details(tasks)
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
        tasks=tuple(sorted(tasks, key=_ID)),
        user=user_future.result(),
        other_schedules=other_schedules,
    )


def _schedules_to_count(live: LiveState, desired: DesiredState | None, extra: Collection[str]) -> set[str]:
    """The live schedules whose tasks on other sites the plan may need: a declared one that differs from the
    live one (an update; compared before ``policy.ignore``, so a few more than needed), every undeclared one
    with ``policy.prune`` (with a ``policy.scope``, only those with a task on this site), and ``extra``."""
    by_name = {s.name: s for s in live.schedules}
    wanted = {name for name in extra if name in by_name}
    if desired is None:
        return wanted
    for declared in desired.schedules:
        current = by_name.get(declared.name)
        if current is not None and (not current.detailed or current.to_dict() != declared.to_dict()):
            wanted.add(declared.name)
    policy = desired.policy
    if policy.prune if policy.prune_schedules is None else policy.prune_schedules:
        kept = {s.name for s in desired.schedules} | {r.name for r in desired.referenced_schedules}
        used_here = {t.schedule for t in live.tasks if t.schedule}
        wanted |= {name for name in by_name if name not in kept and (not desired.policy.scope or name in used_here)}
    return wanted


def _with_other_sites(conn: Connection, live: LiveState, desired: DesiredState | None, extra: Collection[str],
                      progress: Callable[[str], None] | None) -> LiveState:
    """``live`` with the tasks other sites have on the schedules the plan may change or delete (Server)."""
    wanted, counts, unknown = _count_other_sites(conn, live, desired, extra, (), progress)
    if unknown:
        return replace(live, shared_unknown=unknown)
    if counts is None:
        return live if not wanted else replace(live, shared_schedule_tasks=tuple((name, 0) for name in sorted(wanted)))
    return replace(
        live,
        shared_schedule_tasks=tuple((name, counts.total(name) or 0) for name in sorted(wanted)),
        shared_by_site=counts.by_schedule(),
    )


def count_outside(conn: Connection, live: LiveState, desired: DesiredState, inside: Collection[str],
                  progress: Callable[[str], None] | None = None,
                  ) -> tuple[dict[str, dict[str, int]] | None, frozenset[str] | None, str]:
    """A deployment's count of the tasks the server's *other* sites (those not in ``inside``, contentUrls) have on
    the schedules its plan may change or delete: (site key → schedule name → tasks, the schedules counted (None:
    every one, there is no other site), ""), or ``(None, None, why)`` when they could not all be counted. ``conn``
    is signed in to the site ``live`` was read from."""
    wanted, counts, unknown = _count_other_sites(conn, live, desired, (), inside, progress)
    if unknown:
        return None, None, unknown
    if counts is None:
        # Something to count but no other site: every count outside is 0. Nothing to count: no site was
        # listed, so no schedule's count outside is known.
        return {}, (None if wanted else frozenset()), ""
    return {key: dict(found) for key, found in counts.counted}, frozenset(wanted), ""


def _count_other_sites(conn: Connection, live: LiveState, desired: DesiredState | None, extra: Collection[str],
                       inside: Collection[str], progress: Callable[[str], None] | None,
                       ) -> tuple[set[str], OtherSiteCounts | None, str]:
    """(the schedules to count, their counts on the sites other than this one and ``inside``, or None when
    there are no such sites or nothing to count, why they are unknown or "")."""
    if live.flavor == "cloud":
        return set(), None, ""
    wanted = _schedules_to_count(live, desired, extra)
    if not wanted:
        return wanted, None, ""
    user = live.user
    if user is None or not user.is_server_admin:
        who = f"{user.name!r} ({user.role})" if user is not None else "the signed-in user"
        return wanted, None, (f"{who} is not a server administrator, so reconciler cannot list the server's sites "
                              "nor count the tasks other sites have on its schedules")
    sites = list_sites(conn)
    if sites is None:
        return wanted, None, "Tableau refused to list the server's sites (Query Sites)"
    home = conn.current_site
    skip = {home.casefold(), *(url.casefold() for url in inside)}
    others = [site for site in sites if site.content_url.casefold() not in skip]
    if not others:
        return wanted, None, ""
    ids = {s.name: s.id for s in live.schedules if s.id}
    counts = count_other_sites(conn, home, wanted, ids, sites=others, progress=progress)
    return wanted, counts, "" if counts.complete else counts.reason()


def read_tasks(conn: Connection) -> tuple[LiveTask, ...]:
    """The site's extract refresh tasks alone, as ``read_site`` reads them (apply's read-back under its lock)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read") as pool:
        tasks = _read_tasks(Fetcher(conn, pool), f"{conn.site_url}/tasks/extractRefreshes")
    return tuple(sorted(tasks, key=_ID))


def _read_user(reader: Fetcher, url: str) -> SignedInUser | None:
    """The signed-in user's role, to tell a non-administrator what they may not change (None if unreadable)."""
    try:
        node = wire.find(reader.get(url, "reading the signed-in user"), "user")
    except TableauRequestError:
        return None
    if node is None:
        return None
    return SignedInUser(node.get("id", ""), node.get("name", ""), node.get("siteRole", ""))


def _read_tasks(reader: Fetcher, url: str) -> list[LiveTask]:
    """The task list, parsed in the worker that fetched it (while the other requests are in flight),
    a megabyte at a time and without its element tree (``wire.parse_task_list``)."""
    content = reader.get_bytes(url, "listing extract refresh tasks")
    step = 1 << 20
    try:
        return wire.parse_task_list(content[n:n + step] for n in range(0, len(content), step))
    except ET.ParseError as error:
        raise TableauRequestError(f"listing extract refresh tasks: the answer is not XML ({error}).") from error


def _list_schedules(paged: Paged[ET.Element]) -> tuple[list[tuple[str, Schedule]], tuple[tuple[str, str], ...]] | None:
    """The server's Extract schedules without details, and the (name, type) of the others; None on Cloud (401)."""
    try:
        nodes = paged.entries()
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
    others = []  # their names are taken for Extract schedules too (409021)
    for node in nodes:
        if node.get("type", "Extract") != "Extract":
            others.append((node.get("name", ""), node.get("type", "")))
            continue
        out.append((node.get("name", ""), _schedule_from(node, None)))
    return out, tuple(sorted(others))


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


def _schedule_detail(reader: Fetcher, base: str, schedule: Schedule) -> Schedule:
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
    wanted = {s.name for s in desired.schedules} | {r.name for r in desired.referenced_schedules} \
        if desired is not None else set()
    if which == "used":
        wanted |= {t.schedule for t in tasks if t.schedule}
    return wanted & names


def project_tree(nodes: list[ET.Element]) -> list[Project]:
    """Projects with their full paths, from the ``<project>`` elements of a project list."""
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


_PROJECT = wire.tag("project")
_OWNER = wire.tag("owner")


class _ItemRow(NamedTuple):
    """What ``Item`` needs of an item's element, taken in the worker that parsed its page."""

    id: str
    name: str
    project_id: str | None
    project_name: str
    encrypt: bool
    has_extracts: bool | None
    owner_id: str | None


def _item_row(node: ET.Element) -> _ItemRow:
    project = node.find(_PROJECT)
    owner = node.find(_OWNER)
    return _ItemRow(
        id=node.get("id", ""),
        name=node.get("name", ""),
        project_id=project.get("id") if project is not None else None,
        project_name=project.get("name", "") if project is not None else "",
        encrypt=(node.get("encryptExtracts") or "").lower() == "true",
        # Absent on servers that do not report it: unknown, so nothing is refused on its account.
        has_extracts=None if node.get("hasExtracts") is None else node.get("hasExtracts", "").lower() == "true",
        owner_id=owner.get("id") if owner is not None else None,
    )


def _item(row: _ItemRow, kind: ItemKind, projects: dict[str, Project]) -> Item:
    known = projects.get(row.project_id or "")
    path = known.path if known is not None else (row.project_name,) if row.project_name else ()
    return Item(
        kind=kind,
        id=row.id,
        name=row.name,
        project=path,
        project_id=row.project_id,
        encrypt=row.encrypt,
        has_extracts=row.has_extracts,
        owner_id=row.owner_id,
    )
