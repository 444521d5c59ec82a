"""Drift: the plan read as a report of where the site has wandered from the files (DESIGN section 5).

Buckets, in order:

- ``changed``: a managed object differs (schedule, site mode and encrypt updates, task moves and
  replaces, and extra tasks on an item whose ``refresh:`` does not list them);
- ``missing``: declared but absent (the plan's creates);
- ``unmanaged``: in scope but not declared (the plan's unmanaged list and its prune deletes);
- ``unhealthy``: tasks whose last refreshes failed, suspended schedules a managed task uses, and
  items in scope with an extract but no refresh task; with the job history (``health``), also tasks
  whose extract is stale and tasks near Tableau Cloud's 2-hour limit, each with its figures
  (failures in a row and over the window, last success, median and worst duration).

``in_sync`` is True when nothing is changed, missing or unmanaged (unhealthy alone does not make a
site drift: it is reported, not reconciled). ``drifted`` is the one truth every format and the exit
code follow: not in sync, or, with ``unhealthy_fails`` (``--fail-on-unhealthy``), any unhealthy finding.
Coverage is managed tasks / tasks in scope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.model import DesiredState, LiveState

from .addresses import SITE_MODE, encrypt_address, item_address, quote, schedule_address, task_address
from .health import CLOUD_REFRESH_LIMIT, HealthReport, TaskHealth
from .make import PlanResult
from .resolve import Managed, in_scope
from .types import Action, FieldChange, ResourceChange, TaskTarget

__all__ = ["BUCKETS", "DriftEntry", "DriftReport", "ManagedObject", "make_drift"]

BUCKETS: tuple[str, ...] = ("changed", "missing", "unmanaged", "unhealthy")
_BUCKET_ORDER = {bucket: n for n, bucket in enumerate(BUCKETS)}
#: A number (or flag, or id) behind an unhealthy finding.
Figure = str | int | float | bool | None


@dataclass(frozen=True)
class ManagedObject:
    """An object the files manage: one JUnit test case each.

    ``kind`` is ``site`` (``site.encryption_mode``), ``schedule`` (``schedule["NAME"]``), ``encrypt``
    (``datasource["PATH"].encrypt``) or ``refresh`` (``datasource["PATH"].refresh``: the item's task set).
    """

    address: str
    kind: str
    source: str | None


@dataclass(frozen=True)
class DriftEntry:
    """One finding. ``object`` is the address of the managed object it concerns (None: unmanaged)."""

    bucket: str
    address: str
    detail: str
    source: str | None
    fields: tuple[FieldChange, ...] = ()
    object: str | None = None
    #: Figures behind an unhealthy finding (``runs``, ``failures``, ``consecutive_failures``,
    #: ``last_success``, ``median_seconds``, ``worst_seconds``...), as (name, value) pairs.
    figures: tuple[tuple[str, Figure], ...] = ()


@dataclass(frozen=True)
class DriftReport:
    """The drift of one site. ``counts``, ``coverage`` and ``in_sync`` are derived and stored."""

    server: str
    site: str
    flavor: str
    entries: tuple[DriftEntry, ...]
    managed: tuple[ManagedObject, ...]
    #: Live tasks on items whose ``refresh:`` the files declare, and live tasks on items in scope.
    managed_tasks: int
    tasks_in_scope: int
    #: Whether unhealthy findings count as drift (exit 2, junit failures); otherwise they are reported only.
    unhealthy_fails: bool = False
    counts: Mapping[str, int] = field(init=False)
    #: managed_tasks / tasks_in_scope (1.0 when there are no tasks in scope).
    coverage: float = field(init=False)
    coverage_percent: float = field(init=False)
    in_sync: bool = field(init=False)
    drifted: bool = field(init=False)

    def __post_init__(self) -> None:
        tally = Counter(e.bucket for e in self.entries)
        counts = {bucket: tally[bucket] for bucket in BUCKETS}
        coverage = self.managed_tasks / self.tasks_in_scope if self.tasks_in_scope else 1.0
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "coverage", coverage)
        object.__setattr__(self, "coverage_percent", round(coverage * 100, 1))
        in_sync = not (counts["changed"] or counts["missing"] or counts["unmanaged"])
        object.__setattr__(self, "in_sync", in_sync)
        object.__setattr__(self, "drifted", not in_sync or (self.unhealthy_fails and counts["unhealthy"] > 0))

    def fails(self, entry: DriftEntry) -> bool:
        """Whether this finding is drift (a junit failure), rather than reported only."""
        return entry.bucket != "unhealthy" or self.unhealthy_fails

    def __hash__(self) -> int:
        return hash(self.entries)

    def entries_for(self, address: str) -> tuple[DriftEntry, ...]:
        """The findings about one managed object."""
        return tuple(e for e in self.entries if e.object == address)


def _refresh_address(kind: str, path: str) -> str:
    return f"{item_address(kind, path)}.refresh"


def _describe(change: ResourceChange) -> str:
    if change.action is Action.CREATE:
        return "declared but absent: will be created"
    if change.action is Action.DELETE:
        return change.reason or "will be deleted"
    shown = "; ".join(f"{f.path}: {_short(f.before)} → {_short(f.after)}" for f in change.changes)
    words = {Action.UPDATE: "differs", Action.MOVE: "on another schedule", Action.REPLACE: "of another type"}
    return f"{words[change.action]}: {shown}" if shown else words[change.action]


def _short(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _from_change(change: ResourceChange) -> DriftEntry:
    object_address: str | None = change.address
    if isinstance(change.target, TaskTarget):
        object_address = _refresh_address(change.target.item_kind, change.target.item_path)
    if change.action is Action.CREATE:
        bucket = "missing"
    elif change.action is Action.DELETE and change.source is None:
        bucket, object_address = "unmanaged", None
    else:
        bucket = "changed"
    return DriftEntry(bucket, change.address, _describe(change), change.source, change.changes, object_address)


def make_drift(result: PlanResult, health: HealthReport | None = None, unhealthy_fails: bool = False) -> DriftReport:
    """The drift report for a plan, from the files and site it was made from and the items it resolved
    (``health`` from the job history)."""
    plan, live, desired, resolved = result.plan, result.live, result.desired, result.managed
    ignore = set(desired.policy.ignore)
    scope = desired.policy.scope
    managed: list[ManagedObject] = []
    if desired.encryption_mode is not None and "site.encryption_mode" not in ignore:
        site_source = desired.encryption_source
        managed.append(ManagedObject(SITE_MODE, "site", str(site_source) if site_source else None))
    if live.flavor != "cloud":
        managed.extend(ManagedObject(schedule_address(s.name), "schedule", str(s.source) if s.source else None)
                       for s in desired.schedules)
    refresh_items: dict[tuple[str, str], str] = {}
    for m in resolved:
        source = str(m.extract.source) if m.extract.source else None
        if m.extract.encrypt is not None and f"{m.item.kind}.encrypt" not in ignore:
            managed.append(ManagedObject(encrypt_address(m.item.kind, m.item.path), "encrypt", source))
        if m.extract.refresh is not None:
            address = _refresh_address(m.item.kind, m.item.path)
            refresh_items[(m.item.kind, m.item.id)] = address
            managed.append(ManagedObject(address, "refresh", source))

    entries = [_from_change(c) for c in plan.changes]
    entries += [DriftEntry("unmanaged", u.address, u.detail, None) for u in plan.unmanaged]
    entries += _unhealthy(live, desired, resolved, refresh_items, scope, health)

    items = {(i.kind, i.id): i for i in live.items}
    in_scope_tasks = [
        t for t in live.tasks
        if (t.item_kind, t.item_id) in refresh_items
        or ((item := items.get((t.item_kind, t.item_id))) is not None and in_scope(item.project, scope))
    ]
    managed_tasks = sum(1 for t in in_scope_tasks if (t.item_kind, t.item_id) in refresh_items)
    return DriftReport(
        server=plan.server,
        site=plan.site,
        flavor=plan.flavor,
        entries=tuple(sorted(entries, key=lambda e: (_BUCKET_ORDER[e.bucket], e.address, e.detail))),
        managed=tuple(sorted(managed, key=lambda m: (m.kind != "site", m.kind, m.address))),
        managed_tasks=managed_tasks,
        tasks_in_scope=len(in_scope_tasks),
        unhealthy_fails=unhealthy_fails,
    )


def _unhealthy(
    live: LiveState,
    desired: DesiredState,
    resolved: tuple[Managed, ...],
    refresh_items: dict[tuple[str, str], str],
    scope: tuple[tuple[str, ...], ...],
    health: HealthReport | None = None,
) -> list[DriftEntry]:
    items = {(i.kind, i.id): i for i in live.items}
    out: list[DriftEntry] = []
    with_tasks = {(t.item_kind, t.item_id) for t in live.tasks}
    suspended = {s.name for s in live.schedules if s.state == "suspended"}
    reported: set[tuple[str, str, str]] = set()
    # Only a failing task, or one whose (kind, path, type) has a finding in the history, can be unhealthy: a
    # 100,000-task site sorts and describes just those (any other task adds nothing, nor marks a key reported).
    telling = {t.key for t in health.tasks if t.stale or t.near_limit or t.consecutive_failures > 0} \
        if health is not None else set()
    candidates = [t for t in live.tasks if t.consecutive_failures > 0 or (
        telling and (item := items.get((t.item_kind, t.item_id))) is not None
        and (item.kind, item.path, t.type) in telling)]
    for task in sorted(candidates, key=lambda t: t.id):
        item = items.get((task.item_kind, task.item_id))
        if item is None:
            continue
        owner = refresh_items.get((item.kind, item.id))
        if owner is None and not in_scope(item.project, scope):
            continue
        history = health.of(item.kind, item.path, task.type) if health is not None else None
        task_key = (item.kind, item.path, task.type)
        on_hold = task.schedule in suspended  # its history is another task's (same item and type)
        count = max(task.consecutive_failures, history.consecutive_failures if history and not on_hold else 0)
        findings: list[str] = []
        if count > 0:
            findings.append(f"{count} consecutive failed refresh{'es' if count != 1 else ''}")
        if history is not None and health is not None and task_key not in reported and not on_hold:
            if history.stale and count == 0:
                findings.append("stale extract: " + _staleness(history, health))
            if history.near_limit:
                findings.append(_near_limit(history))
        if not findings:
            continue
        label = task.schedule or (task.recurrence.describe() if task.recurrence is not None else "?")
        figures: tuple[tuple[str, Figure], ...] = (("task_id", task.id), ("consecutive_failures", count))
        detail = "; ".join(findings) + f" (task {task.id})"
        if history is not None and health is not None and not on_hold:
            reported.add(task_key)
            detail += "; " + _history_figures(history, health)
            figures += _figures(history)
        out.append(DriftEntry(
            "unhealthy", task_address(item.kind, item.path, task.type, label), detail, None,
            object=owner, figures=figures,
        ))
    if live.flavor != "cloud":
        used: dict[str, int] = {}
        for e in desired.extracts:
            for t in e.refresh or ():
                if t.schedule is not None:
                    used[t.schedule] = used.get(t.schedule, 0) + 1
        declared = {s.name for s in desired.schedules}
        for schedule in sorted(live.schedules, key=lambda s: s.name):
            if schedule.state == "suspended" and schedule.name in used:
                address = schedule_address(schedule.name)
                n = used[schedule.name]
                out.append(DriftEntry(
                    "unhealthy", address,
                    f"suspended: {n} managed task{' on it does' if n == 1 else 's on it do'} not run", None,
                    object=address if schedule.name in declared else None,
                ))
    deliberately_empty = {
        (m.item.kind, m.item.id) for m in resolved if m.extract.refresh == ()
    }
    stale = sorted((key, item) for key, item in items.items() if item.has_extracts and key not in with_tasks)
    for key, item in stale:
        if (key not in deliberately_empty
                and (key in refresh_items or in_scope(item.project, scope))):
            out.append(DriftEntry(
                "unhealthy", item_address(item.kind, item.path),
                "has an extract but no refresh task: it goes stale", None,
                object=refresh_items.get(key),
            ))
    return out


def duration_text(seconds: float) -> str:
    """``42s``, ``4m10s``, ``1h52m``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 2 * 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    days, hours = divmod(round(whole / 3600), 24)
    return f"{days}d{hours:02d}h" if hours else f"{days}d"


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(0, int(seconds // 60))} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _window(health: HealthReport) -> str:
    days = health.window / 86400
    return f"{days:.0f} day{'s' if round(days) != 1 else ''}"


def _history_figures(h: TaskHealth, health: HealthReport) -> str:
    parts = [f"{h.failures} of {h.runs} runs failed in the last {_window(health)}"]
    if h.last_success is not None:
        parts.append(f"last success {_age(health.now - h.last_success)}")
    else:
        parts.append(f"no success in the last {_window(health)}")
    if h.median_duration is not None and h.worst_duration is not None:
        parts.append(f"median {duration_text(h.median_duration)}, worst {duration_text(h.worst_duration)}")
    return ", ".join(parts)


def _staleness(h: TaskHealth, health: HealthReport) -> str:
    gap = duration_text(h.expected_gap or 0.0)
    if h.last_success is None:
        return f"no successful refresh in the last {_window(health)} although its schedule runs at least every {gap}"
    return (f"last successful refresh {_age(health.now - h.last_success)}, but its schedule runs at least every "
            f"{gap}")


def _near_limit(h: TaskHealth) -> str:
    worst = duration_text(h.worst_duration or 0.0)
    return (f"slow: its longest refresh took {worst}, near Tableau Cloud's {duration_text(CLOUD_REFRESH_LIMIT)} "
            "limit for one refresh (a longer one is stopped)")


def _figures(h: TaskHealth) -> tuple[tuple[str, Figure], ...]:
    return (
        ("runs", h.runs), ("failures", h.failures), ("history_consecutive_failures", h.consecutive_failures),
        ("last_success", h.last_success), ("median_seconds", h.median_duration),
        ("worst_seconds", h.worst_duration), ("expected_gap_seconds", h.expected_gap), ("stale", h.stale),
        ("near_limit", h.near_limit),
    )
