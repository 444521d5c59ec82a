"""The server's sites, and the tasks other sites have on server schedules (Tableau Server).

A server schedule is server-wide, its tasks are each site's: the exact blast radius of changing or
deleting one is the tasks on it on every site. A server administrator lists the sites (Query Sites)
and visits each other site in turn on the same session (Switch Site: one site at a time per
session, and with a personal access token one session per token, so never concurrently), counts
there, and comes back. Tableau Cloud has no server schedules and no Switch Site: nothing here runs
on Cloud. Evidence: docs/tableau-behaviour.md, "Sites and sessions (issue 13)".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.model import site_label
from reconciler.tableau import wire
from reconciler.tableau.connect import Connection

__all__ = ["SITE_PAGE_SIZE", "OtherSiteCounts", "SiteInfo", "count_other_sites", "list_sites", "site_key"]

#: Query Sites' largest page (docs/tableau-behaviour.md, "Query Sites").
SITE_PAGE_SIZE = 1000
#: Bounds the paging of Query Sites (a million sites): a server that keeps announcing more pages is an error.
_MAX_SITE_PAGES = 1000


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """One site of Query Sites."""

    id: str
    name: str
    content_url: str
    #: ``Active`` or ``Suspended``.
    state: str = "Active"

    @property
    def key(self) -> str:
        return site_key(self.content_url)


def site_key(content_url: str) -> str:
    """A site's short label in counts and reports: its contentUrl, ``default`` for the Default site ("")."""
    return content_url or "default"


def list_sites(conn: Connection) -> list[SiteInfo] | None:
    """Every site on the server (Query Sites, every page), in the server's order; None when Tableau refuses
    the list (401/403: the user is not a server administrator).

    A user who is not a server administrator may be answered with only the sites they belong to, so a
    list is the whole server's only for a server administrator: the caller checks the role.
    """
    sites: list[SiteInfo] = []
    for number in range(1, _MAX_SITE_PAGES + 1):
        try:
            root = wire.parse(conn.get(f"{conn.base_url}/sites?pageSize={SITE_PAGE_SIZE}&pageNumber={number}",
                                       "listing the server's sites"))
        except TableauRequestError as error:
            if (error.code or "")[:3] in ("401", "403"):
                return None
            raise
        sites.extend(SiteInfo(node.get("id", ""), node.get("name", ""), node.get("contentUrl", ""),
                              node.get("state", "Active")) for node in root.iter(wire.tag("site")))
        pagination = wire.find(root, "pagination")
        if pagination is None:
            return sites
        total = int(pagination.get("totalAvailable") or 0)
        size = int(pagination.get("pageSize") or SITE_PAGE_SIZE) or SITE_PAGE_SIZE
        if number * size >= total:
            return sites
    raise TableauRequestError(f"listing the server's sites: more than {_MAX_SITE_PAGES} pages were announced.")


@dataclass(frozen=True)
class OtherSiteCounts:
    """The tasks on some server schedules on every site but the home one.

    ``counted``: for each site counted, ``(site key, ((schedule name, tasks), ...))``, schedules with no task
    there left out, sites in the server's order. ``uncounted``: ``(site key, why)`` for each site that could
    not be counted. ``note``: why no site at all could be counted (the sites could not be listed). A total
    is known only when every other site was counted.
    """

    schedules: tuple[str, ...]
    counted: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()
    uncounted: tuple[tuple[str, str], ...] = ()
    note: str = ""

    @property
    def complete(self) -> bool:
        return not self.uncounted and not self.note

    def total(self, schedule: str) -> int | None:
        """The tasks on ``schedule`` on every other site; None when some site could not be counted."""
        if not self.complete:
            return None
        return sum(dict(counts).get(schedule, 0) for _, counts in self.counted)

    def by_schedule(self) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
        """``(schedule name, ((site key, tasks), ...))`` for every schedule with a task on another site, sites
        sorted by key (``LiveState.shared_by_site``); empty when the count is not complete."""
        if not self.complete:
            return ()
        out = []
        for name in sorted(self.schedules):
            sites = sorted((site, dict(counts)[name]) for site, counts in self.counted if dict(counts).get(name))
            if sites:
                out.append((name, tuple(sites)))
        return tuple(out)

    def reason(self) -> str:
        """Why the totals are unknown, in one sentence for the plan ("" when they are known)."""
        if self.note:
            return self.note
        if not self.uncounted:
            return ""
        shown = "; ".join(f"{site_label('' if key == 'default' else key)}: {why}" for key, why in self.uncounted[:3])
        more = f"; and {len(self.uncounted) - 3} more" if len(self.uncounted) > 3 else ""
        return (f"the tasks on {len(self.uncounted)} of the other sites could not be counted ({shown}{more}), so "
                "the total on the server is unknown")


def count_other_sites(conn: Connection, home_content_url: str, schedules: Collection[str],
                      schedule_ids: Mapping[str, str], *, sites: Sequence[SiteInfo] | None = None,
                      progress: Callable[[str], None] | None = None) -> OtherSiteCounts:
    """Count the tasks on each schedule of ``schedules`` (names; ``schedule_ids`` maps a name to its LUID) on
    every site of the server except ``home_content_url``, the one the session is on. Tableau Server only,
    for a server administrator, with no other request in flight on ``conn``.

    Each other site is visited in turn on the same session with Switch Site; there one request counts: the
    schedule's extracts list with ``pageSize=1`` (its ``totalAvailable``) when one schedule is counted, else
    the site's task list (one request, counted by schedule id). A site that cannot be entered or read is
    ``uncounted`` with the reason, and the visit goes on. At the end, whatever happened, the session comes
    back to the home site (``Connection.return_home``); when it cannot, TableauConnectionError, before
    anything is written. ``sites``: the server's sites when already listed (else ``list_sites``).
    """
    note = progress or (lambda _message: None)
    names = tuple(sorted({name for name in schedules if name in schedule_ids}))
    if sites is None:
        listed = list_sites(conn)
        if listed is None:
            return OtherSiteCounts(names, note="the server's sites could not be listed (Query Sites needs a server "
                                               "administrator)")
        sites = listed
    others = [site for site in sites if site.content_url.casefold() != home_content_url.casefold()]
    if not names or not others:
        return OtherSiteCounts(names, counted=tuple((site.key, ()) for site in others))
    home_id = conn.site_id
    by_id = {schedule_ids[name]: name for name in names}
    counted: list[tuple[str, tuple[tuple[str, int], ...]]] = []
    uncounted: list[tuple[str, str]] = []
    try:
        for number, site in enumerate(others, 1):
            note(f"counting the tasks on {site_label(site.content_url)} ({number} of {len(others)} other sites)")
            try:
                conn.switch_site(site.content_url)
                counts = _count_here(conn, by_id)
            except ReconcilerError as error:
                uncounted.append((site.key, _why(error)))
                continue
            counted.append((site.key, tuple(sorted((name, n) for name, n in counts.items() if n))))
    finally:
        conn.return_home()
    if conn.site_id != home_id:
        raise ReconcilerError(
            f"After counting the tasks on other sites, the session is on site id {conn.site_id}, not on "
            f"{site_label(home_content_url)} (id {home_id}). Nothing was written. Run again.")
    return OtherSiteCounts(names, tuple(counted), tuple(uncounted))


def _why(error: ReconcilerError) -> str:
    code = getattr(error, "code", "") or ""
    if code.startswith("401"):
        return f"the signed-in user may not enter it ({code})"
    if code.startswith("403"):
        return f"refused ({code})"
    if code.startswith("404"):
        return f"not found ({code})"
    return " ".join(str(error).split())[:200]


def _count_here(conn: Connection, by_id: Mapping[str, str]) -> dict[str, int]:
    """The tasks on each schedule (``by_id``: LUID → name) on the site the session is on, in one request."""
    if len(by_id) == 1:
        (schedule_id, name), = by_id.items()
        root = wire.parse(conn.get(f"{conn.site_url}/schedules/{schedule_id}/extracts?pageSize=1&pageNumber=1",
                                   f'counting the tasks on schedule "{name}"'))
        pagination = wire.find(root, "pagination")
        if pagination is not None and pagination.get("totalAvailable") is not None:
            return {name: int(pagination.get("totalAvailable") or 0)}
    content = conn.get(f"{conn.site_url}/tasks/extractRefreshes", "listing extract refresh tasks")
    try:
        tasks = wire.parse_task_list([content])
    except ET.ParseError as error:
        raise TableauRequestError(f"listing extract refresh tasks: the answer is not XML ({error}).") from error
    counts = Counter(task.schedule_id for task in tasks if task.schedule_id in by_id)
    return {by_id[schedule_id]: n for schedule_id, n in counts.items() if schedule_id is not None}
