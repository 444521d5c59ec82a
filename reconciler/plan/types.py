"""The plan as data: actions, field changes, resource changes and the Plan value itself.

A Plan is a frozen summary of the changes that move a site from its observed state to the state the
files declare. It carries full before/after values (terraform style), never a diff object, and
everything ``apply`` needs to execute it without diffing again. Presentation lives in
``reconciler.report``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import IntEnum, StrEnum
from typing import NamedTuple, Self

from reconciler.errors import PlanError

__all__ = [
    "FORMAT_VERSION",
    "KINDS",
    "PHASES",
    "SYMBOLS",
    "TARGET_TYPES",
    "Action",
    "FieldChange",
    "ItemTarget",
    "LoadChange",
    "Phase",
    "Plan",
    "ResourceChange",
    "ScheduleTarget",
    "SiteTarget",
    "SlotChange",
    "Target",
    "TaskTarget",
    "Unmanaged",
    "target_from_dict",
]

#: The version of the saved-plan format this reconciler writes and reads: MAJOR.MINOR (docs/plan-format.md).
#: 1.1 added ``digest``.
FORMAT_VERSION = "1.1"


class Action(StrEnum):
    """What a change does to its object."""

    CREATE = "create"
    UPDATE = "update"
    MOVE = "move"
    REPLACE = "replace"
    DELETE = "delete"

    @property
    def symbol(self) -> str:
        return SYMBOLS[self]

    @property
    def deletes(self) -> bool:
        """True when the action destroys an existing object (a delete, or the first half of a replace)."""
        return self in (Action.DELETE, Action.REPLACE)


SYMBOLS: Mapping[Action, str] = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.MOVE: "~>",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
}

class Phase(IntEnum):
    """When apply carries a change out: phases run in this order (docs/architecture.md, "Data flow: apply").

    The saved plan records the number.
    """

    SITE_MODE_UP = 1
    SCHEDULE_UPSERTS = 2
    ITEM_ENCRYPTION = 3
    TASK_CHANGES = 4
    TASK_DELETES = 5
    SCHEDULE_DELETES = 6
    SITE_MODE_DOWN = 7

    @property
    def label(self) -> str:
        return PHASES[self]


#: Each phase's description, in the order apply runs them.
PHASES: Mapping[Phase, str] = {
    Phase.SITE_MODE_UP: "site mode up",
    Phase.SCHEDULE_UPSERTS: "schedules create/update",
    Phase.ITEM_ENCRYPTION: "item encryption",
    Phase.TASK_CHANGES: "task creates, moves, replaces",
    Phase.TASK_DELETES: "task deletes",
    Phase.SCHEDULE_DELETES: "schedule deletes",
    Phase.SITE_MODE_DOWN: "site mode down",
}

#: The kinds of object a change can concern, in display order.
KINDS: tuple[str, ...] = ("site", "schedule", "encrypt", "task")


@dataclass(frozen=True)
class FieldChange:
    """One differing field. ``path`` is a top-level field name (``start``, ``weekdays``, ``schedule``,
    ``type``, ``mode``, ``encrypt``...); ``before`` is None when the field was absent, ``after`` is
    None when it goes away. Values are JSON (str, int, bool, None, lists and objects of them)."""

    path: str
    before: object
    after: object


@dataclass(frozen=True)
class ResourceChange:
    """One planned action on one object of the site.

    ``before`` / ``after`` are full JSON values of the object, by action:

    ========  ======================  ======================
    action    before                  after
    ========  ======================  ======================
    create    None                    the value to create
    update    the live value          the value after update
    move      the live task           the task after move
    replace   the live task           the new task
    delete    the live value          None
    ========  ======================  ======================

    Value shapes: schedule → ``Schedule.to_dict()``; task → ``{"type", "schedule", "recurrence"}``
    (recurrence a dict on Cloud, None on Server); site → ``{"mode"}``; encrypt → ``{"encrypt"}``.
    """

    #: ``schedule["Nightly 02:00"]``, ``task[datasource "Sales/Orders"][incremental @ Business hours]``,
    #: ``site.encryption_mode``, ``datasource["Sales/Orders"].encrypt``. Unique within a plan.
    address: str
    #: ``site`` | ``schedule`` | ``encrypt`` | ``task``.
    kind: str
    action: Action
    before: dict[str, object] | None
    after: dict[str, object] | None
    #: Field-level differences for update, move and replace (empty for create and delete).
    changes: tuple[FieldChange, ...] = ()
    #: ``file:line:col`` of the declaration that asked for it; None for the prune of undeclared objects.
    source: str | None = None
    #: When apply carries it out.
    phase: Phase = Phase.TASK_CHANGES
    #: What apply needs to execute the change: ids and names. One type per kind: ``SiteTarget``,
    #: ``ScheduleTarget``, ``ItemTarget`` (encrypt), ``TaskTarget`` (``TARGET_TYPES``); the saved plan holds
    #: it as a string map (``to_dict``, ``target_from_dict``). ``TaskTarget.of(change)`` and the like check
    #: the type and narrow it.
    target: Target = field(kw_only=True)
    #: Addresses of changes in this plan that must succeed before this one runs.
    depends_on: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: For explanation in the UI only; never used to decide anything during apply.
    reason: str | None = None

    def __hash__(self) -> int:
        return hash((self.address, self.action))

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.action]


@dataclass(frozen=True)
class _Target:
    """A ``ResourceChange.target``; the saved plan keeps it as a string map (``to_dict``, ``from_dict``)."""

    def to_dict(self) -> dict[str, str]:
        """The fields that are set, sorted by name: the saved plan's ``target``."""
        return {f.name: value for f in sorted(fields(self), key=lambda f: f.name)
                if (value := getattr(self, f.name)) is not None}

    @classmethod
    def from_dict(cls, values: Mapping[str, str], address: str) -> Self:
        """The saved plan's map as this type; PlanError naming the change when a field is missing or unknown."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PlanError(f"{address}: the plan's target has {', '.join(unknown)}, which a {cls.__name__} does "
                            "not; make a new plan.")
        for f in fields(cls):
            if f.name not in values and f.default is MISSING:
                raise PlanError(f"{address}: the plan's target has no {f.name}; make a new plan.")
        return cls(**values)

    @classmethod
    def of(cls, change: ResourceChange) -> Self:
        """The change's target, which must be of this type (PlanError naming the change otherwise)."""
        if not isinstance(change.target, cls):
            raise PlanError(f"{change.address}: the plan's target is a {type(change.target).__name__}, not a "
                            f"{cls.__name__}; make a new plan.")
        return change.target


@dataclass(frozen=True)
class SiteTarget(_Target):
    site_id: str


@dataclass(frozen=True)
class ScheduleTarget(_Target):
    name: str
    #: None for a create.
    schedule_id: str | None = None


@dataclass(frozen=True)
class ItemTarget(_Target):
    """An encrypt change's item."""

    item_kind: str
    item_id: str
    item_path: str


@dataclass(frozen=True)
class TaskTarget(_Target):
    item_kind: str
    item_id: str
    item_path: str
    #: The live task (None for a create).
    task_id: str | None = None
    #: Server: the schedule the task is added to, and the one a move takes it from.
    schedule_name: str | None = None
    from_schedule_name: str | None = None


Target = SiteTarget | ScheduleTarget | ItemTarget | TaskTarget

#: The target's type of each kind of change.
TARGET_TYPES: Mapping[str, type[Target]] = {
    "site": SiteTarget, "schedule": ScheduleTarget, "encrypt": ItemTarget, "task": TaskTarget}


def target_from_dict(kind: str, values: Mapping[str, str], address: str) -> Target:
    """A saved plan's ``target`` map as the type of its change's ``kind``."""
    return TARGET_TYPES[kind].from_dict(values, address)


class Unmanaged(NamedTuple):
    """An object in scope that no file declares: listed, and deleted only with ``policy.prune``.

    A named tuple, the cheapest value to make: a site being adopted has 100,000 of them."""

    address: str
    kind: str
    detail: str


@dataclass(frozen=True)
class SlotChange:
    """Slots at one time of day whose refresh starts the plan raises (``when``: ``Mon-Sun 02:00``)."""

    when: str
    #: Slot numbers (0 = Monday 00:00, 15 minutes each; see ``reconciler.plan.load``).
    slots: tuple[int, ...]
    #: Starts in each of these slots before and after apply (the worst week: monthly runs included).
    before: int
    after: int
    #: Addresses of the plan's task changes that start there.
    added: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadChange:
    """What a plan does to the refresh load: the slots it makes busier, busiest first.

    ``exceeds`` is True when a slot the plan makes busier ends above ``max_starts_per_slot``.
    """

    slots: tuple[SlotChange, ...]
    peak_before: int
    peak_after: int
    max_starts_per_slot: int | None = None
    #: Tasks left out because their recurrence was not read (Server schedules the files do not declare).
    unplaced: int = 0
    exceeds: bool = field(init=False)

    def __post_init__(self) -> None:
        limit = self.max_starts_per_slot
        object.__setattr__(self, "exceeds", limit is not None and any(s.after > limit for s in self.slots))

    @property
    def over_limit(self) -> tuple[SlotChange, ...]:
        limit = self.max_starts_per_slot
        return tuple(s for s in self.slots if limit is not None and s.after > limit)


def _counts(changes: tuple[ResourceChange, ...]) -> dict[str, int]:
    counts = {action.value: 0 for action in Action}
    for change in changes:
        counts[change.action.value] += 1
    return counts


@dataclass(frozen=True)
class Plan:
    """The changes needed to move a site from its observed state to the declared state.

    The summary fields (``has_changes``, ``counts``, ``delete_count``, ``exceeds_max_deletes``) are
    derived from ``changes`` on construction and stored, so that no consumer works them out again.
    """

    format_version: str
    #: The server URL, the site's contentUrl ("" is the Default site), its LUID, the REST API version.
    server: str
    site: str
    site_id: str
    api_version: str
    #: ``server`` | ``cloud``.
    flavor: str
    #: Sorted by (phase, kind, address): deterministic.
    changes: tuple[ResourceChange, ...]
    unmanaged: tuple[Unmanaged, ...]
    warnings: tuple[str, ...]
    #: sha256 over server, site_id, api_version and ``observed``: a saved plan is stale when it differs.
    fingerprint: str
    #: Object key (``site``, ``schedule:NAME``, ``item:KIND:LUID``, ``tasks:KIND:LUID``,
    #: ``usage:schedule:NAME``) → sha256 of its canonical JSON, for every live object the plan depends on.
    observed: Mapping[str, str]
    #: ``policy.max_deletes``: apply refuses a plan with more deletes (without an override).
    max_deletes: int
    #: The slots the plan makes busier (None: it makes none busier, or it was not worked out).
    load: LoadChange | None = None
    has_changes: bool = field(init=False)
    #: Number of changes per action value (``create``, ``update``, ``move``, ``replace``, ``delete``).
    counts: Mapping[str, int] = field(init=False)
    #: Deletes of tasks and schedules, counting the delete half of each replace.
    delete_count: int = field(init=False)
    exceeds_max_deletes: bool = field(init=False)

    @property
    def exceeds_load(self) -> bool:
        """True when the plan makes a slot start more refreshes than ``policy.load.max_starts_per_slot``."""
        return self.load is not None and self.load.exceeds

    def __post_init__(self) -> None:
        deletes = sum(1 for change in self.changes if change.action.deletes)
        object.__setattr__(self, "has_changes", bool(self.changes))
        object.__setattr__(self, "counts", _counts(self.changes))
        object.__setattr__(self, "delete_count", deletes)
        object.__setattr__(self, "exceeds_max_deletes", deletes > self.max_deletes)

    def __hash__(self) -> int:
        return hash((self.fingerprint, tuple(self.changes)))

    def change(self, address: str) -> ResourceChange | None:
        """The change at ``address``, if the plan has one."""
        return next((c for c in self.changes if c.address == address), None)
