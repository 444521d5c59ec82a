"""The unmanaged list of a large site: the same entries, in the same order, as the plain construction."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from reconciler.model import LiveState
from reconciler.plan import make_plan
from reconciler.plan.addresses import task_address
from reconciler.plan.types import Unmanaged

from .builders import desired, ds, extract, live, rec, sched, task, want, wb

RECURRENCES = [rec("daily", "02:00"), rec("weekly", "06:30", weekdays=("monday", "friday")),
               rec("hourly", "08:00", every=120, end="18:00"), rec("monthly", "03:15", month_days=(1, "last"))]


def random_site(flavor: str, seed: int) -> LiveState:
    rng = random.Random(seed)
    schedules = [sched(f"Sched {n}", "daily", f"{n % 24:02d}:00") for n in range(6)]
    items = [(ds if n % 3 else wb)(f"Sales/Team {n % 7}/Extract \"{n}\"") for n in range(120)]
    tasks = []
    for n in range(600):
        on = rng.choice(items)
        kind = rng.choice(["full", "incremental"])
        if flavor == "cloud":
            tasks.append(task(f"t{n:04d}", on, kind, recurrence=rng.choice([*RECURRENCES, None])))
        else:
            tasks.append(task(f"t{n:04d}", on, kind, schedule=rng.choice(schedules).name))
    return live(flavor, items=items, schedules=schedules if flavor == "server" else (), tasks=tasks)


def plain_unmanaged(site: LiveState, declared: set[tuple[str, str]]) -> list[Unmanaged]:
    """The unmanaged tasks as they were built before: one address per task, numbered when repeated."""
    items = {(i.kind, i.id): i for i in site.items}
    out = []
    by_item: dict[tuple[str, str], list[object]] = {}
    for t in sorted(site.tasks, key=lambda t: t.id):
        by_item.setdefault((t.item_kind, t.item_id), []).append(t)
    for key, tasks in sorted(by_item.items()):
        if key in declared:
            continue
        item = items[key]
        seen: Counter[str] = Counter()
        for t in tasks:
            label = t.schedule or (t.recurrence.describe() if t.recurrence else "?")  # type: ignore[attr-defined]
            address = task_address(item.kind, item.path, t.type, label)  # type: ignore[attr-defined]
            seen[address] += 1
            if seen[address] > 1:
                address = f"{address[:-1]} #{seen[address]}]"
            out.append(Unmanaged(address, "task", f"{t.type} refresh on {label}; "  # type: ignore[attr-defined]
                                 "not declared in any file"))
    return sorted(out, key=lambda u: u.address)


@pytest.mark.parametrize("flavor", ["server", "cloud"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unmanaged_tasks_are_listed_as_before(flavor: str, seed: int) -> None:
    site = random_site(flavor, seed)
    first = site.items[0]
    schedules = [s for s in site.schedules]
    refresh = [want(schedules[0].name)] if flavor == "server" else [want(recurrence=RECURRENCES[0])]
    files = desired(schedules=schedules, extracts=[extract(first.kind, first.path, refresh=refresh)], flavor=flavor)
    plan = make_plan(files, site)
    tasks = [u for u in plan.unmanaged if u.kind == "task"]
    assert tasks == plain_unmanaged(site, {(first.kind, first.id)})
    assert any(" #2]" in u.address for u in tasks)  # repeated addresses are numbered
