"""What one planning run knows: the inputs, lookups over them, and the drafts it produces (private)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from operator import attrgetter

from reconciler.model import DesiredState, Item, LiveState, LiveTask, Schedule

from .resolve import Managed
from .types import ResourceChange, Unmanaged

__all__ = ["Context", "Draft", "Touch", "UnmanagedDraft", "item_touches", "jsonable"]

#: What a change touches, for ``--target``: ("schedule", name), ("datasource", path),
#: ("workbook", path), ("project", "A/B"), ("site", "").
Touch = tuple[str, str]


@dataclass(frozen=True)
class Draft:
    """A planned change and the objects it touches (for ``--target``)."""

    change: ResourceChange
    touches: frozenset[Touch]


@dataclass(frozen=True, slots=True)
class UnmanagedDraft:
    entry: Unmanaged
    touches: frozenset[Touch]
    #: More entries that touch the same objects (an undeclared item's other tasks): one draft per
    #: item rather than per task, on a site with 100,000 unmanaged tasks.
    more: tuple[Unmanaged, ...] = ()


def item_touches(item: Item, path: str | None = None) -> frozenset[Touch]:
    """What a change of ``item`` touches; ``path`` is ``item.path`` when the caller has it already."""
    return frozenset({(item.kind, item.path if path is None else path), ("project", "/".join(item.project))})


def jsonable(value: object) -> object:
    """Tuples become lists, recursively, so that values survive a JSON round trip unchanged."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


_ID = attrgetter("id")


@dataclass
class Context:
    """Inputs and lookups for one ``make_plan`` call; ``problems`` and ``observed`` accumulate.

    Built and discarded inside make_plan: nothing outside ever sees it mutate.
    """

    desired: DesiredState
    live: LiveState
    managed: tuple[Managed, ...]
    #: How a Server task move is made: ``rest`` (add to the new schedule, delete the old task) or
    #: ``vizportal`` (in place, keeping the task and its type).
    server_moves: str = "rest"
    #: True for plan and apply: a change Tableau's REST API cannot make is a problem. False for drift,
    #: which reports it (with the reason as a warning) instead of failing.
    strict: bool = True
    #: False for a site of a deployment whose server schedules another plan owns: the declared schedules are
    #: used by name (created or updated by that plan), never planned here; undeclared ones are not listed.
    own_schedules: bool = True
    #: How the plan names its own site among others (a deployment's site label); None: "this site".
    site_name: str | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    observed: set[str] = field(default_factory=set)
    live_schedules: dict[str, Schedule] = field(default_factory=dict)
    desired_schedules: dict[str, Schedule] = field(default_factory=dict)
    #: Names in ``referenced_schedules:``: used, never changed.
    referenced_schedules: set[str] = field(default_factory=set)
    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    tasks_by_item: dict[tuple[str, str], list[LiveTask]] = field(default_factory=dict)
    tasks_by_schedule: dict[str, list[LiveTask]] = field(default_factory=dict)
    shared: dict[str, int] = field(default_factory=dict)
    #: Items whose refresh tasks the files manage (declared with a ``refresh:`` key).
    managed_task_items: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        self.managed_task_items = frozenset(
            (m.item.kind, m.item.id) for m in self.managed if m.extract.refresh is not None
        )
        self.live_schedules = {s.name: s for s in self.live.schedules}
        self.desired_schedules = {s.name: s for s in self.desired.schedules}
        self.referenced_schedules = {r.name for r in self.desired.referenced_schedules}
        self.items = {(i.kind, i.id): i for i in self.live.items}
        by_item, by_schedule = self.tasks_by_item, self.tasks_by_schedule
        for task in sorted(self.live.tasks, key=_ID):  # read_site sorts them already: one pass
            key = (task.item_kind, task.item_id)
            if (listed := by_item.get(key)) is None:
                by_item[key] = [task]
            else:
                listed.append(task)
            if (name := task.schedule) is not None:
                if (on := by_schedule.get(name)) is None:
                    by_schedule[name] = [task]
                else:
                    on.append(task)
        self.shared = dict(self.live.shared_schedule_tasks)

    @property
    def on_server(self) -> bool:
        """True on Tableau Server (not Cloud): the flavor whose rules a change follows."""
        return self.live.flavor != "cloud"

    @property
    def ignore(self) -> frozenset[str]:
        return frozenset(self.desired.policy.ignore)

    @property
    def scope(self) -> tuple[tuple[str, ...], ...]:
        return self.desired.policy.scope

    def problem(self, sort_key: str, message: str) -> None:
        self.problems.append((sort_key, message))

    def unmakeable(self, change: ResourceChange, why: str) -> ResourceChange:
        """A change Tableau cannot make: a problem when strict, else the change with ``why`` as a warning."""
        if self.strict:
            self.problem(change.source or change.address, f"{change.source + ': ' if change.source else ''}"
                                                          f"{change.address}: {why}")
            return change
        return replace(change, warnings=(*change.warnings, why))

    def schedule_state(self, name: str) -> str | None:
        """The state a schedule will have after the plan (None: unknown schedule)."""
        declared = self.desired_schedules.get(name)
        live = self.live_schedules.get(name)
        if declared is not None and ("schedule.state" not in self.ignore or live is None):
            return declared.state
        return live.state if live is not None else None
