"""Health: the site's recent extract refresh jobs joined to its tasks (pure, no I/O).

Query Jobs names a job's item only by name (``title``) and kind (``subtitle``), not by id, so a job
is joined to an item by (kind, name); when two items of a kind share a name, their jobs cannot be
told apart and neither gets figures (``ambiguous``) rather than the wrong ones. Jobs are told full
from incremental by their job type, so figures are per (item, type).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from reconciler.gcpause import gc_paused
from reconciler.model import JobRun, LiveState

from .load import SLOT_MINUTES, SLOTS, week_slots

__all__ = ["CLOUD_REFRESH_LIMIT", "NEAR_LIMIT_SHARE", "HealthReport", "TaskHealth", "expected_gap", "make_health"]

#: Tableau Cloud stops one extract refresh after 2 hours (7,200 s): docs/tableau-behaviour.md.
CLOUD_REFRESH_LIMIT = 7200.0
#: A task whose worst run took this share of the limit is reported as near it.
NEAR_LIMIT_SHARE = 0.75
_FINISHED = ("Success", "Failed", "Cancelled")


@dataclass(frozen=True)
class TaskHealth:
    """The recent history of one item's refreshes of one type (full or incremental)."""

    kind: str
    path: str
    type: str
    #: Jobs in the window that ran to an end, and how many of them failed.
    runs: int
    failures: int
    #: Failed runs since the last success (most recent first).
    consecutive_failures: int
    #: Epoch seconds of the last successful end, and of the last run's start (None: none in the window).
    last_success: float | None
    last_run: float | None
    #: Seconds, over the successful runs (None: no successful run).
    median_duration: float | None
    worst_duration: float | None
    #: The longest time the task's recurrence leaves between two starts, in seconds (None: unknown).
    expected_gap: float | None
    #: The last success is older than the recurrence implies (or there is none in the window).
    stale: bool
    #: The worst run took at least NEAR_LIMIT_SHARE of Tableau Cloud's 2-hour limit.
    near_limit: bool

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.path, self.type)


@dataclass(frozen=True)
class HealthReport:
    """Health of every task of the site that has a recurrence or history; ``window`` in seconds."""

    tasks: tuple[TaskHealth, ...]
    window: float
    now: float
    jobs: int
    #: Jobs whose item could not be identified (unknown name, or a name two items share).
    unmatched: int

    def of(self, kind: str, path: str, task_type: str) -> TaskHealth | None:
        return self._index.get((kind, path, task_type))

    @property
    def _index(self) -> Mapping[tuple[str, str, str], TaskHealth]:
        cached = self.__dict__.get("_by_key")
        if cached is None:
            cached = {t.key: t for t in self.tasks}
            object.__setattr__(self, "_by_key", cached)
        return cached

    def durations(self) -> dict[tuple[str, str, str], float]:
        """Median durations by (kind, path, type): what ``load`` turns into busy time."""
        return {t.key: t.median_duration for t in self.tasks if t.median_duration is not None}


def expected_gap(slots: Iterable[int], monthly: bool) -> float | None:
    """The longest gap, in seconds, between two consecutive starts of a week of slots (cyclic)."""
    if monthly:
        return 31 * 86400.0
    ordered = sorted(set(slots))
    if not ordered:
        return None
    gaps = [b - a for a, b in pairwise(ordered)] + [ordered[0] + SLOTS - ordered[-1]]
    return max(gaps) * SLOT_MINUTES * 60.0


def make_health(live: LiveState, runs: Sequence[JobRun], now: float, window: float) -> HealthReport:
    """Join the job history (``runs``, of the last ``window`` seconds before ``now``) to the live tasks."""
    with gc_paused():  # hundreds of thousands of runs: no collection while they are grouped
        return _make_health(live, runs, now, window)


def _make_health(live: LiveState, runs: Sequence[JobRun], now: float, window: float) -> HealthReport:
    by_name: dict[tuple[str, str], list[str]] = {}
    for item in live.items:
        by_name.setdefault((item.kind, item.name), []).append(item.path)
    by_job: dict[tuple[str | None, str, str], list[JobRun]] = {}
    for run in runs:
        by_job.setdefault((run.kind, run.name, run.type), []).append(run)
    grouped: dict[tuple[str, str, str], list[JobRun]] = {}
    unmatched = 0
    for (kind, name, task_type), jobs in by_job.items():
        paths = by_name.get((kind or "", name), [])
        if len(paths) != 1:
            unmatched += len(jobs)
            continue
        grouped[(kind or "", paths[0], task_type)] = jobs
    gaps = _expected_gaps(live)
    out = [_task_health(key, grouped.get(key, []), gaps.get(key), now, window) if key in grouped
           else _no_history(key, gaps[key]) for key in sorted(set(grouped) | set(gaps))]
    return HealthReport(tuple(out), window, now, len(runs), unmatched)


def _expected_gaps(live: LiveState) -> dict[tuple[str, str, str], float]:
    """The shortest expected gap between runs per (kind, path, type), over the tasks ``live_starts`` places on
    the week (the same tasks and recurrences, without their labels), each recurrence's gap worked out once."""
    paths: dict[tuple[str, str], str] = {}
    schedules = {s.name: s for s in live.schedules}
    by_recurrence: dict[int, float | None] = {}  # by identity: the read shares one Recurrence per schedule
    gaps: dict[tuple[str, str, str], float] = {}
    items = {(i.kind, i.id): i for i in live.items}
    for task in live.tasks:
        recurrence = task.recurrence
        if recurrence is None and task.schedule is not None:
            schedule = schedules.get(task.schedule)
            if schedule is not None and schedule.detailed and schedule.state != "suspended":
                recurrence = schedule.recurrence
        if recurrence is None:
            continue
        if id(recurrence) in by_recurrence:
            gap = by_recurrence[id(recurrence)]
        else:
            weekly, monthly = week_slots(recurrence)
            gap = by_recurrence[id(recurrence)] = expected_gap(weekly or monthly, monthly=not weekly)
        if gap is None:
            continue
        item_key = (task.item_kind, task.item_id)
        path = paths.get(item_key)
        if path is None:
            item = items.get(item_key)
            path = paths[item_key] = item.path if item is not None else task.item_id
        key = (task.item_kind, path, task.type)
        known = gaps.get(key)
        gaps[key] = gap if known is None else min(gap, known)
    return gaps


def _no_history(key: tuple[str, str, str], gap: float) -> TaskHealth:
    """``_task_health`` of a task with no run in the window: nothing to say but its expected gap."""
    return TaskHealth(
        kind=key[0], path=key[1], type=key[2], runs=0, failures=0, consecutive_failures=0, last_success=None,
        last_run=None, median_duration=None, worst_duration=None, expected_gap=gap, stale=False, near_limit=False)


def _ended(run: JobRun) -> tuple[float, str]:
    return (run.ended_at or 0.0, run.id)


def _task_health(key: tuple[str, str, str], runs: list[JobRun], gap: float | None, now: float,
                 window: float) -> TaskHealth:
    finished = [r for r in runs if r.ended_at is not None and r.status in _FINISHED]
    finished.sort(key=_ended)
    failures = sum(1 for r in finished if r.status == "Failed")
    consecutive = 0
    for run in reversed(finished):
        if run.status == "Success":
            break
        if run.status == "Failed":
            consecutive += 1
    successes = [r for r in finished if r.status == "Success"]
    durations = [r.ended_at - r.started_at for r in successes  # type: ignore[operator]
                 if r.started_at is not None and r.ended_at >= r.started_at]  # type: ignore[operator]
    last_success = successes[-1].ended_at if successes else None
    last_run = max((r.started_at or r.created_at for r in runs), default=None)
    worst = max(durations, default=None)
    stale = False
    # No job at all in the window says nothing (a task made since, or history not kept): not stale.
    if gap is not None and gap < window and (runs or last_success is not None):
        # A run may start late (queued) and take its time: allow the gap, the worst run and an hour.
        grace = gap + (worst or 0.0) + 3600.0
        stale = (now - last_success > grace) if last_success is not None else True
    return TaskHealth(
        kind=key[0], path=key[1], type=key[2], runs=len(finished), failures=failures,
        consecutive_failures=consecutive, last_success=last_success, last_run=last_run,
        median_duration=statistics.median(durations) if durations else None, worst_duration=worst,
        expected_gap=gap, stale=stale,
        near_limit=worst is not None and worst >= CLOUD_REFRESH_LIMIT * NEAR_LIMIT_SHARE,
    )
