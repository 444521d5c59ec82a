"""Builders of desired and live records for planner and renderer tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.model import (
    DesiredState,
    Extract,
    Item,
    ItemRef,
    LiveState,
    LiveTask,
    Policy,
    Project,
    ProtectRule,
    Recurrence,
    RefreshTask,
    Schedule,
    Source,
    split_path,
)

FILE = "examples/site.yaml"


def src(line: int, column: int = 3) -> Source:
    return Source(FILE, line, column)


def rec(frequency: str = "daily", start: str = "02:00", **kw: Any) -> Recurrence:
    return Recurrence(frequency=frequency, start=start, **kw)


def sched(name: str, frequency: str = "daily", start: str = "02:00", *, id: str | None = None,
          line: int | None = None, priority: int = 50, execution: str = "parallel",
          state: str = "active", **kw: Any) -> Schedule:
    return Schedule(name, rec(frequency, start, **kw), priority=priority, execution=execution,
                    state=state, id=id, source=src(line) if line else None)


def item(kind: str, path: str, id: str | None = None, *, encrypt: bool = False,
         has_extracts: bool = True) -> Item:
    project, name = split_path(path)
    return Item(kind=kind, id=id or f"{kind[:2]}-{path}", name=name, project=project,
                encrypt=encrypt, has_extracts=has_extracts)


def ds(path: str, id: str | None = None, **kw: Any) -> Item:
    return item("datasource", path, id, **kw)


def wb(path: str, id: str | None = None, **kw: Any) -> Item:
    return item("workbook", path, id, **kw)


def task(id: str, on: Item, type: str = "full", schedule: str | None = None,
         recurrence: Recurrence | None = None, failures: int = 0) -> LiveTask:
    return LiveTask(id=id, item_kind=on.kind, item_id=on.id, type=type, schedule=schedule,
                    schedule_id=f"id-{schedule}" if schedule else None, recurrence=recurrence,
                    consecutive_failures=failures)


def projects_of(items: Iterable[Item]) -> tuple[Project, ...]:
    paths = sorted({i.project[:n] for i in items for n in range(1, len(i.project) + 1)})
    return tuple(Project(id="p-" + "/".join(p), name=p[-1], parent_id=("p-" + "/".join(p[:-1])) if len(p) > 1
                         else None, path=p) for p in paths)


def live(flavor: str = "server", mode: str = "enabled", items: Sequence[Item] = (),
         schedules: Sequence[Schedule] = (), tasks: Sequence[LiveTask] = (),
         shared: Sequence[tuple[str, int]] | None = None) -> LiveState:
    if shared is None:
        shared = tuple((s.name, 0) for s in schedules)
    return LiveState(
        server="https://tableau.example.com", site_id="site-luid", site="finance", api_version="3.24",
        flavor=flavor, encryption_mode=mode, projects=projects_of(items), items=tuple(items),
        schedules=tuple(s if s.id else Schedule(s.name, s.recurrence, s.priority, s.execution, s.state,
                                                id=f"id-{s.name}") for s in schedules),
        tasks=tuple(tasks), shared_schedule_tasks=tuple(shared),
    )


def want(schedule: str | None = None, type: str = "full", line: int | None = None,
         recurrence: Recurrence | None = None) -> RefreshTask:
    return RefreshTask(type=type, schedule=schedule, recurrence=recurrence, source=src(line, 9) if line else None)


def ref(kind: str, path: str) -> ItemRef:
    project, name = split_path(path)
    return ItemRef(kind=kind, project=project, name=name)


def extract(kind: str, path: str, *, encrypt: bool | None = None,
            refresh: Sequence[RefreshTask] | None = None, line: int = 20) -> Extract:
    return Extract(ref(kind, path), encrypt=encrypt, refresh=None if refresh is None else tuple(refresh),
                   source=src(line, 5))


def desired(*, schedules: Sequence[Schedule] = (), extracts: Sequence[Extract] = (),
            mode: str | None = None, prune: bool = False, scope: Sequence[str] = (),
            protect: Sequence[tuple[str, str]] = (), ignore: Sequence[str] = (),
            max_deletes: int = 50, flavor: str = "server") -> DesiredState:
    policy = Policy(
        prune=prune,
        scope=tuple(tuple(s.split("/")) for s in scope),
        protect=tuple(ProtectRule(k, n, src(90 + i)) for i, (k, n) in enumerate(protect)),
        ignore=tuple(ignore),
        max_deletes=max_deletes,
    )
    return DesiredState(server=None, site="finance", flavor=flavor, encryption_mode=mode,
                        encryption_source=src(4) if mode else None, schedules=tuple(schedules),
                        extracts=tuple(extracts), policy=policy, files=(FILE,))
