"""Immutable value types for the desired state (from files) and the observed state (from a site).

Both sides are built in the same model so that the planner compares like with like. Every value is
normalised on construction (weekday order, ``"2:00"`` vs ``"02:00"``, ``60m`` vs ``1h``, defaults
filled in), so two equal meanings compare equal. Positions in the source files (``Source``) and
server-side ids never take part in equality.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

__all__ = [
    "DAILY_EVERY_MINUTES",
    "ENCRYPTION_MODES",
    "FREQUENCIES",
    "HOURLY_EVERY_MINUTES",
    "ITEM_KINDS",
    "OCCURRENCES",
    "UNREPORTED",
    "WEEKDAYS",
    "Deployment",
    "DesiredState",
    "Extract",
    "Flavor",
    "Item",
    "ItemKind",
    "ItemRef",
    "JobRun",
    "LiveState",
    "LiveTask",
    "Policy",
    "Project",
    "ProtectRule",
    "Recurrence",
    "RefreshTask",
    "Schedule",
    "ScheduleRef",
    "SignedInUser",
    "SiteFiles",
    "Source",
    "describe_item",
    "format_every",
    "match_ref",
    "normalise_time",
    "parse_every",
    "site_label",
    "split_path",
]

Flavor = Literal["server", "cloud"]
ItemKind = Literal["datasource", "workbook"]
TaskType = Literal["full", "incremental"]

WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FREQUENCIES: tuple[str, ...] = ("hourly", "daily", "weekly", "monthly")
OCCURRENCES: tuple[str, ...] = ("first", "second", "third", "fourth", "fifth", "last")
ENCRYPTION_MODES: tuple[str, ...] = ("enforced", "enabled", "disabled")
ITEM_KINDS: tuple[str, ...] = ("datasource", "workbook")
EXECUTIONS: tuple[str, ...] = ("parallel", "serial")
SCHEDULE_STATES: tuple[str, ...] = ("active", "suspended")
#: The intervals Tableau offers, in minutes.
HOURLY_EVERY_MINUTES: tuple[int, ...] = (15, 30, 60, 120, 240, 360, 480, 720)
DAILY_EVERY_MINUTES: tuple[int, ...] = (120, 240, 360, 480, 720, 1440)

#: Stands for a value Tableau does not report, in ``to_dict`` forms (never written to Tableau).
UNREPORTED = "not reported by Tableau"

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_EVERY = re.compile(r"^\s*(\d+)\s*(m|min|h)\s*$")


def normalise_time(text: str) -> str:
    """``"2:00"``, ``"02:00"`` and ``"02:00:00"`` all become ``"02:00"``; raises ValueError otherwise."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day (HH:MM)")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59 or (match.group(3) not in (None, "00")):
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 00:00 to 23:55)")
    return f"{hours:02d}:{minutes:02d}"


def site_label(content_url: str) -> str:
    """How every message names a site: ``the Default site`` (contentUrl "") or ``site "finance"``."""
    return "the Default site" if content_url == "" else f"site {json.dumps(content_url, ensure_ascii=False)}"


def parse_every(text: str) -> int:
    """``"15m"`` → 15, ``"1h"`` → 60, ``"60m"`` → 60; raises ValueError otherwise."""
    match = _EVERY.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an interval (like 15m, 30m, 1h, 4h)")
    value = int(match.group(1))
    return value * 60 if match.group(2) == "h" else value


def format_every(minutes: int) -> str:
    """The canonical spelling of an interval: 15m, 30m, 1h, 24h."""
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def split_path(path: str) -> tuple[tuple[str, ...], str]:
    """``"Sales/EMEA/Orders"`` → ``(("Sales", "EMEA"), "Orders")``.

    Nothing is stripped: Tableau names are compared exactly, and ``"Sales/ Orders"`` names an item called
    " Orders", never "Orders".
    """
    parts = path.split("/")
    return tuple(parts[:-1]), parts[-1]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value was declared: a file, a 1-based line and column."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def _sorted_weekdays(days: Iterable[str]) -> tuple[str, ...]:
    wanted = {day.lower() for day in days}
    return tuple(day for day in WEEKDAYS if day in wanted)


def _month_day_key(day: int | str) -> int:
    return 32 if day == "last" else int(day)


@dataclass(frozen=True, slots=True)
class Recurrence:
    """When something runs. Normalised on construction.

    - ``hourly``: ``every`` in HOURLY_EVERY_MINUTES, ``start``..``end`` window, ``weekdays``.
    - ``daily``: ``every`` in DAILY_EVERY_MINUTES (1440 = once a day); ``end`` only when every < 1440.
    - ``weekly``: ``weekdays`` (Server: one or more; Cloud: exactly one).
    - ``monthly``: ``month_days`` (1..31 and/or ``"last"``) or ``on`` = (occurrence, weekday); or, when
      ``days_unknown``, neither: Tableau Server answers a multi-day monthly schedule made in its web UI as
      ``<interval monthDay="Customized Monthly"/>`` without the days (docs/tableau-behaviour.md,
      "Customized Monthly"), so the days are not known and must never be compared or written.

    For hourly and daily, no weekdays means every day: the field then holds all seven.
    """

    frequency: str
    start: str
    every: int | None = None
    end: str | None = None
    weekdays: tuple[str, ...] = ()
    month_days: tuple[int | str, ...] = ()
    on: tuple[str, str] | None = None
    days_unknown: bool = False

    def __post_init__(self) -> None:
        frequency = self.frequency.lower()
        object.__setattr__(self, "frequency", frequency)
        object.__setattr__(self, "start", normalise_time(self.start))
        if self.end is not None:
            object.__setattr__(self, "end", normalise_time(self.end))
        weekdays = _sorted_weekdays(self.weekdays)
        every = self.every
        if frequency in ("hourly", "daily"):
            weekdays = weekdays or WEEKDAYS
            if frequency == "daily" and every is None:
                every = 1440
            if frequency == "hourly" and every is None:
                every = 60
            if frequency == "daily" and every == 1440:
                object.__setattr__(self, "end", None)
        else:
            every = None
        object.__setattr__(self, "every", every)
        object.__setattr__(self, "weekdays", weekdays)
        days = tuple(sorted({"last" if str(d).lower() == "last" else int(d) for d in self.month_days},
                            key=_month_day_key))
        object.__setattr__(self, "month_days", days)
        if self.on is not None:
            object.__setattr__(self, "on", (self.on[0].lower(), self.on[1].lower()))

    def describe(self) -> str:
        """A short human description: ``daily at 02:00``, ``every 1h 08:00-18:00 Mon-Fri``."""
        days = _describe_days(self.weekdays)
        if self.frequency == "hourly":
            return f"every {format_every(self.every or 60)} {self.start}-{self.end}{days}"
        if self.frequency == "daily":
            if self.every in (None, 1440):
                return f"daily at {self.start}{days}"
            return f"every {format_every(self.every)} {self.start}-{self.end}{days}"
        if self.frequency == "weekly":
            return f"weekly at {self.start} on {', '.join(d.capitalize() for d in self.weekdays)}"
        if self.on is not None:
            return f"monthly at {self.start} on the {self.on[0]} {self.on[1].capitalize()}"
        if self.days_unknown:
            return f"monthly at {self.start} on days Tableau does not report"
        numbered = ", ".join(str(d) for d in self.month_days if d != "last")
        parts = [f"day {numbered}"] if numbered else []
        if "last" in self.month_days:
            parts.append("the last day")
        return f"monthly at {self.start} on {' and '.join(parts)}"

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Recurrence:
        """The inverse of ``to_dict`` (a schedule's flat ``to_dict`` reads too); ValueError for anything else.

        ``month_days: UNREPORTED`` comes back as ``days_unknown``.
        """
        try:
            every, end, on = data.get("every"), data.get("end"), data.get("on")
            weekdays = data.get("weekdays") or ()
            month_days = data.get("month_days") or ()
            unknown = month_days == UNREPORTED
            if unknown:
                month_days = ()
            if not isinstance(weekdays, (list, tuple)) or not isinstance(month_days, (list, tuple)):
                raise ValueError("weekdays and month_days must be lists")
            return cls(
                frequency=str(data["frequency"]), start=str(data["start"]),
                every=parse_every(str(every)) if every is not None else None,
                end=str(end) if end is not None else None,
                weekdays=tuple(str(d) for d in weekdays),
                month_days=tuple(d if isinstance(d, int) else str(d) for d in month_days),
                on=(str(on["occurrence"]), str(on["weekday"])) if isinstance(on, Mapping) else None,
                days_unknown=unknown,
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a recurrence ({type(error).__name__}: {error})") from error

    def to_dict(self) -> dict[str, object]:
        """The file form (as in ``schedules:``), with defaults left out."""
        out: dict[str, object] = {"frequency": self.frequency}
        if self.frequency in ("hourly", "daily") and not (self.frequency == "daily" and self.every == 1440):
            out["every"] = format_every(self.every or 60)
        out["start"] = self.start
        if self.end is not None:
            out["end"] = self.end
        if self.frequency in ("hourly", "daily") and self.weekdays != WEEKDAYS:
            out["weekdays"] = list(self.weekdays)
        if self.frequency == "weekly":
            out["weekdays"] = list(self.weekdays)
        if self.month_days:
            out["month_days"] = list(self.month_days)
        if self.on is not None:
            out["on"] = {"occurrence": self.on[0], "weekday": self.on[1]}
        if self.days_unknown:
            out["month_days"] = UNREPORTED
        return out


def _describe_days(days: tuple[str, ...]) -> str:
    if days == WEEKDAYS or not days:
        return ""
    if days == WEEKDAYS[:5]:
        return " Mon-Fri"
    return " " + ",".join(day[:3].capitalize() for day in days)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A named recurrence. On Server a real Extract schedule; on Cloud a template for tasks."""

    name: str
    recurrence: Recurrence
    priority: int = 50
    execution: str = "parallel"
    state: str = "active"
    #: The live schedule's LUID (observed state only).
    id: str | None = field(default=None, compare=False)
    source: Source | None = field(default=None, compare=False)
    #: False when only the list was read: the recurrence then holds just the frequency.
    detailed: bool = field(default=True, compare=False)

    def to_dict(self) -> dict[str, object]:
        """The comparable fields, flat, in file vocabulary (used for diffs and saved plans).

        A schedule read only from the list has no recurrence details: only its frequency is given, never
        a made-up start or interval.
        """
        out: dict[str, object] = (self.recurrence.to_dict() if self.detailed
                                  else {"frequency": self.recurrence.frequency})
        out.update(priority=self.priority, execution=self.execution, state=self.state)
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, object]) -> Schedule:
        """The inverse of ``to_dict`` for a detailed schedule (a plan's ``after``); ValueError otherwise."""
        priority = data.get("priority", 50)
        return cls(name, Recurrence.from_dict(data),
                   priority=priority if isinstance(priority, int) else int(str(priority)),
                   execution=str(data.get("execution", "parallel")), state=str(data.get("state", "active")))


@dataclass(frozen=True, slots=True)
class ScheduleRef:
    """A server schedule named in ``referenced_schedules:``: used by the files, managed by someone else."""

    name: str
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ItemRef:
    """How a file names a data source or workbook: by project path and name, or by LUID."""

    kind: ItemKind
    project: tuple[str, ...] = ()
    name: str | None = None
    id: str | None = None
    #: Written as one ``"a/b/c"`` string: a "/" inside a project or item name reads the same as a separator, so
    #: the reference names every item whose joined path is that string (see :func:`match_ref`). False for the
    #: ``{project: …, name: …}`` form, whose parts are exact.
    as_path: bool = True

    @property
    def path(self) -> str:
        if self.name is None:
            return self.id or ""
        return "/".join((*self.project, self.name))

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True)
class RefreshTask:
    """One refresh of one item: desired (from ``refresh:``) or observed (see LiveTask).

    On Server a task names a schedule; ``recurrence`` is None. On Cloud a task carries its
    ``recurrence``; ``schedule`` is then only the template name it came from (for display).
    """

    type: TaskType = "full"
    schedule: str | None = None
    recurrence: Recurrence | None = None
    source: Source | None = field(default=None, compare=False)

    def when(self) -> str:
        """Short label for addresses: ``Nightly 02:00`` or ``daily at 02:00``."""
        if self.recurrence is not None and (self.schedule is None):
            return self.recurrence.describe()
        return self.schedule or "?"


@dataclass(frozen=True, slots=True)
class Extract:
    """One ``extracts:`` entry of the files. ``None`` fields are not managed."""

    ref: ItemRef
    encrypt: bool | None = None
    refresh: tuple[RefreshTask, ...] | None = None
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ProtectRule:
    """A ``policy.protect`` entry: kind is ``datasource``, ``workbook`` or ``schedule``."""

    kind: ItemKind
    name: str
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Policy:
    """How far the tool may go. ``scope`` empty means the whole site."""

    prune: bool = False
    scope: tuple[tuple[str, ...], ...] = ()
    protect: tuple[ProtectRule, ...] = ()
    ignore: tuple[str, ...] = ()
    max_deletes: int = 50
    #: Whether ``prune`` deletes undeclared server schedules too (None: as ``prune``). A deployment's sites prune
    #: their own tasks; the deployment file decides for the server's schedules.
    prune_schedules: bool | None = None
    #: ``policy.load.max_starts_per_slot``: apply refuses a plan that makes a 15-minute slot start more
    #: refreshes than this (None: no limit).
    max_starts_per_slot: int | None = None


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the files declare, merged. Built by ``reconciler.desired``."""

    server: str | None = None
    site: str | None = None
    flavor: str | None = None
    encryption_mode: str | None = None
    encryption_source: Source | None = field(default=None, compare=False)
    schedules: tuple[Schedule, ...] = ()
    #: Server schedules the files use without managing them (``referenced_schedules:``): owned by the
    #: server's administrators, or not fully readable. Checked to exist; never changed or deleted.
    referenced_schedules: tuple[ScheduleRef, ...] = ()
    extracts: tuple[Extract, ...] = ()
    policy: Policy = Policy()
    files: tuple[str, ...] = ()
    #: Warnings from reading the files (a broken symlink, a hidden directory skipped): commands print them.
    notes: tuple[str, ...] = field(default=(), compare=False)

    def schedule(self, name: str) -> Schedule | None:
        return next((s for s in self.schedules if s.name == name), None)

    def with_flavor(self, flavor: str) -> DesiredState:
        return replace(self, flavor=flavor)


@dataclass(frozen=True, slots=True)
class SiteFiles:
    """One site of a deployment (a folder or file under the deployment's ``sites/``)."""

    #: The folder or file name under ``sites/``: how messages and report sections name the site.
    label: str
    #: The site's files, loaded as one configuration: ``site:`` is the site's contentUrl; ``server:`` and
    #: ``flavor:`` are the deployment's; ``schedules`` holds every schedule of the deployment (the server file's
    #: and any a site file declares), so a task may use any of them by name.
    desired: DesiredState


@dataclass(frozen=True, slots=True)
class Deployment:
    """A whole deployment: one server-level file (``deployment.yaml``) and one configuration per site.

    On Tableau Server the schedules are the server's: owned here once, used by every site's tasks by name. On
    Tableau Cloud they are templates shared by the sites' files. Built by ``reconciler.desired``.
    """

    root: str
    server: str | None
    flavor: str | None
    #: Every schedule of the deployment: the server file's, and those site files declare (all must agree).
    schedules: tuple[Schedule, ...]
    referenced_schedules: tuple[ScheduleRef, ...]
    #: The server file's policy: ``prune`` there deletes server schedules no site uses.
    policy: Policy
    sites: tuple[SiteFiles, ...]
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    parent_id: str | None
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Item:
    """A live data source or workbook."""

    kind: ItemKind
    id: str
    name: str
    project: tuple[str, ...]
    project_id: str | None = None
    encrypt: bool = False
    #: None when the server did not say (the ``hasExtracts`` field was absent).
    has_extracts: bool | None = False
    #: The owner's LUID (decides what a non-administrator may change).
    owner_id: str | None = field(default=None, compare=False)

    @property
    def path(self) -> str:
        return "/".join((*self.project, self.name))


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """Who the run is signed in as, and their site role (``ServerAdministrator``, ``Viewer``...)."""

    id: str
    name: str
    role: str

    @property
    def is_server_admin(self) -> bool:
        return self.role == "ServerAdministrator"

    @property
    def is_site_admin(self) -> bool:
        return self.is_server_admin or self.role.startswith("SiteAdministrator")


@dataclass(frozen=True, slots=True)
class LiveTask:
    """A live extract refresh task."""

    id: str
    item_kind: ItemKind
    item_id: str
    type: TaskType
    #: Server: the schedule's name and id. Cloud: None.
    schedule: str | None = None
    schedule_id: str | None = None
    #: Cloud: the task's own recurrence. Server: None.
    recurrence: Recurrence | None = None
    priority: int = 50
    consecutive_failures: int = 0


@dataclass(frozen=True, slots=True)
class LiveState:
    """What the site holds, as read by ``reconciler.tableau.read``."""

    server: str
    site_id: str
    site: str
    api_version: str
    flavor: Flavor
    encryption_mode: str
    projects: tuple[Project, ...] = ()
    items: tuple[Item, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    tasks: tuple[LiveTask, ...] = ()
    #: Server: the (name, type) of the schedules that are not Extract schedules (Subscription, Flow, ...).
    other_schedules: tuple[tuple[str, str], ...] = ()
    #: Server: for each schedule name, how many tasks on *other* sites use it (None: unknown).
    shared_schedule_tasks: tuple[tuple[str, int], ...] = ()
    #: Server: the same counts site by site, for the schedules in ``shared_schedule_tasks`` whose tasks on other
    #: sites were counted one site at a time: ``(schedule name, ((site label, tasks), ...))``, sites with no task
    #: on it left out, sorted by label. A schedule absent here has no breakdown (only the total, or unknown).
    shared_by_site: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()
    #: Server: why the tasks on other sites could not be counted, for the plan to say (not a server administrator,
    #: a site that could not be entered); empty when they were counted or not needed.
    shared_unknown: str = ""
    #: The signed-in user (None when it could not be read).
    user: SignedInUser | None = field(default=None, compare=False)


def match_ref(ref: ItemRef, items: Iterable[Item]) -> list[Item]:
    """Every item ``ref`` names, compared exactly (no stripping, no Unicode normalisation, no case folding).

    The one resolver of item references: ``plan``, ``apply``, ``drift`` and ``refresh`` all use it. A path
    string matches each item whose joined path equals it, so ``"A/B/X"`` names both an item X in project "A/B"
    and an item X in project A → B; more than one match is ambiguous and callers refuse it.
    """
    if ref.id is not None:
        return [item for item in items if item.kind == ref.kind and item.id == ref.id]
    if ref.as_path:
        wanted = ref.path
        return [item for item in items if item.kind == ref.kind and item.path == wanted]
    return [item for item in items if item.kind == ref.kind and item.project == ref.project and item.name == ref.name]


def describe_item(item: Item) -> str:
    """An item written in the file form that names it and nothing else: ``{project: [...], name: ...}``."""
    project = "[" + ", ".join(json.dumps(part, ensure_ascii=False) for part in item.project) + "]"
    return f"{{project: {project}, name: {json.dumps(item.name, ensure_ascii=False)}}} (id {item.id})"


@dataclass(frozen=True, slots=True)
class JobRun:
    """One extract refresh job from the site's history (Query Jobs' ``backgroundJob``).

    Query Jobs names the item only by ``title`` (its name) and ``subtitle`` (its kind): there is no
    item id, so ``kind`` is None when the subtitle is not a data source or workbook. Times are
    seconds since the epoch (UTC); ``started_at``/``ended_at`` are None until reached.
    """

    id: str
    kind: str | None
    name: str
    #: ``full`` (jobType refresh_extracts) or ``incremental`` (increment_extracts).
    type: str
    #: Success, Failed, Cancelled, InProgress or Pending.
    status: str
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, for a job that ran to an end."""
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)
