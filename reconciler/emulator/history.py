"""A past of extract refresh jobs for the seeds: every task's runs over the last days, with durations.

Each task runs at its schedule's times (its own recurrence on Cloud; none for a suspended schedule).
Durations are drawn around a per-task typical time (larger extracts take longer) from a generator
seeded with the seed's name and the random seed, so a seed gives the same durations every time;
the times themselves are the real calendar days before "now" (a client judges staleness by its
own clock). Items seeded to fail fail every run. Demo items with a story (see `DEMO_STORIES`).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Mapping

from .models import ContentItem, Job, Store, Task
from .recurrence import WEEKDAYS, Recurrence, _day_matches, _slots

__all__ = ["DEMO_STORIES", "add_history", "past_runs"]

#: Demo items (by name) whose history tells something: `slow` runs near Tableau Cloud's 2-hour
#: limit; `flaky` failed its last 3 runs; `cancelled` has had its runs cancelled for a while (its
#: extract goes stale without a single failure).
DEMO_STORIES: Mapping[str, str] = {
    "Orders": "slow",
    "Social Mentions": "flaky",
    "Warehouse Capacity": "cancelled",
}
FAILURE_NOTE = ("com.tableausoftware.nativeapi.dll.DataSourceException: Unable to connect to the server. "
                "Check that the server is running and that you have access privileges to the requested database.")


def past_runs(rec: Recurrence, since: float, until: float) -> Iterator[float]:
    """The times (epoch seconds, UTC) at which `rec` fired in [since, until)."""
    slots = sorted(set(_slots(rec)))
    day = since - since % 86400
    while day < until:
        tm = time.gmtime(day)
        if _day_matches(rec, tm.tm_year, tm.tm_mon, tm.tm_mday, WEEKDAYS[(tm.tm_wday + 1) % 7]):
            for minute in slots:
                when = day + minute * 60
                if since <= when < until:
                    yield when
        day += 86400


def _typical_seconds(item: ContentItem, rng: random.Random) -> float:
    # 20 s to about 25 min, growing with the extract's size, with a task-to-task spread.
    return (20.0 + min(item.size, 10**7) / 10**7 * 1500.0) * rng.uniform(0.5, 1.5)


def add_history(store: Store, days: float, seed: str, stories: Mapping[str, str] | None = None) -> int:
    """Fill `store.history` with the refresh jobs of the last `days` days; returns how many."""
    if days <= 0:
        return 0
    stories = stories or {}
    now = store.clock()
    since = now - days * 86400
    rng = random.Random(f"history-{seed}")
    runs: list[Job] = []
    for task in sorted(store.tasks.values(), key=lambda t: t.id):
        item = store.items.get(task.item_id)
        rec = _recurrence(store, task)
        if item is None or rec is None:
            continue
        runs.extend(_task_runs(task, item, rec, since, now, rng, stories.get(item.name)))
    runs.sort(key=lambda j: (j.created_at, j.id))
    for job in runs:
        store.history[job.id] = job
    return len(runs)


def _recurrence(store: Store, task: Task) -> Recurrence | None:
    if task.recurrence is not None:
        return task.recurrence
    schedule = store.schedules.get(task.schedule_id or "")
    if schedule is None or schedule.state == "Suspended":
        return None
    return schedule.recurrence


def _task_runs(task: Task, item: ContentItem, rec: Recurrence, since: float, now: float, rng: random.Random,
               story: str | None) -> list[Job]:
    if story == "slow" and task.incremental:
        story = None
    typical = 6000.0 if story == "slow" else _typical_seconds(item, rng)
    flaky_rate = 0.2 if rng.random() < 0.05 else 0.02
    times = list(past_runs(rec, since, now))
    out: list[Job] = []
    for n, created in enumerate(times):
        queued = rng.uniform(1.0, 30.0)
        if story == "slow":
            seconds = min(7150.0, typical * rng.uniform(0.85, 1.15))
        else:
            seconds = typical * rng.lognormvariate(0.0, 0.25)
        from_end = len(times) - n
        if item.fails_refresh or (story == "flaky" and from_end <= 3):
            fails = True
        else:
            fails = story is None and rng.random() < flaky_rate
        cancelled_at = None
        if story == "cancelled" and created > now - 15 * 86400:
            cancelled_at = created + queued + seconds * 0.1
        if created + queued + seconds > now:  # still running: not history yet
            continue
        out.append(Job(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), site_id=task.site_id, type="RefreshExtract",
            item_kind=item.kind, item_id=item.id, item_name=item.name, task_id=task.id,
            incremental=task.incremental, created_at=created, duration=queued + (seconds * 0.3 if fails else seconds),
            fails=fails, notes=FAILURE_NOTE if fails else "", cancelled_at=cancelled_at, settled=True, queued=queued,
        ))
    return out
