"""Refresh load: every task's recurrence expanded over a week of 15-minute slots (pure, no I/O).

A week has 7 × 96 = 672 slots; slot ``n`` is weekday ``n // 96`` (0 = Monday) at ``(n % 96) * 15``
minutes past midnight, in the time zone the site shows its schedules in. Hourly, daily and weekly
recurrences start in the same slots every week. A monthly run lands on a few days of a month, and
those can be any weekday: its starts are kept apart (``monthly``), counted in every slot it *may*
land in, so that a limit is checked against the worst week (the one with the month's end in it).

Tasks share recurrences (on Server, every task of a schedule has the schedule's), so each distinct
recurrence is expanded once: a 20,000-task site costs a few hundred expansions and one pass over
the tasks.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from reconciler.model import WEEKDAYS, LiveState, LiveTask, Recurrence

from .addresses import task_address
from .types import Action, LoadChange, ResourceChange, ScheduleTarget, SlotChange, TaskTarget

__all__ = [
    "SLOTS",
    "SLOTS_PER_DAY",
    "SLOT_MINUTES",
    "LoadProfile",
    "Start",
    "busy_profile",
    "describe_slots",
    "live_starts",
    "make_profile",
    "plan_load",
    "recurrence_from_dict",
    "slot_label",
    "week_slots",
]

SLOT_MINUTES = 15
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
SLOTS = 7 * SLOTS_PER_DAY
_DAY_ABBREV = tuple(day[:3].capitalize() for day in WEEKDAYS)


@dataclass(frozen=True)
class Start:
    """A task placed on the week: its address (a label) and when it runs."""

    label: str
    recurrence: Recurrence
    #: ``full`` or ``incremental``; ``item`` is ``(kind, path)`` (joins with the job history).
    type: str = "full"
    item: tuple[str, str] = ("", "")


@dataclass(frozen=True)
class LoadProfile:
    """Refresh starts per slot of a week.

    ``weekly[n]``: starts in slot ``n`` every week; ``monthly[n]``: monthly starts that may land in
    slot ``n`` (on the days of the month they run). ``peak(n)`` is their sum: the worst week.
    """

    weekly: tuple[int, ...]
    monthly: tuple[int, ...]
    starts: tuple[Start, ...]
    #: Tasks whose recurrence is not known (a Server schedule that was not read in detail).
    unplaced: int = 0
    peaks: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "peaks", tuple(w + m for w, m in zip(self.weekly, self.monthly, strict=True)))

    @property
    def busiest(self) -> int:
        return max(self.peaks, default=0)

    @property
    def starts_per_week(self) -> int:
        return sum(self.weekly)

    def tasks_at(self, slot: int) -> list[Start]:
        """The tasks that (may) start in ``slot``."""
        return [s for s in self.starts if slot in _slot_set(s.recurrence)]

    def top_slots(self, count: int) -> list[int]:
        """The ``count`` busiest slots (ties: earlier in the week first), busiest first."""
        ranked = sorted((n for n in range(SLOTS) if self.peaks[n]), key=lambda n: (-self.peaks[n], n))
        return ranked[:count]


def slot_label(slot: int) -> str:
    """``Mon 02:00``."""
    minutes = (slot % SLOTS_PER_DAY) * SLOT_MINUTES
    return f"{_DAY_ABBREV[slot // SLOTS_PER_DAY]} {minutes // 60:02d}:{minutes % 60:02d}"


def describe_slots(slots: Iterable[int]) -> str:
    """Slots at one time of day on several days, shortly: ``Mon-Sun 02:00``, ``Mon,Wed 06:15``."""
    chosen = sorted(set(slots))
    if not chosen:
        return ""
    times = sorted({n % SLOTS_PER_DAY for n in chosen})
    days = sorted({n // SLOTS_PER_DAY for n in chosen})
    if len(times) != 1:
        return ", ".join(slot_label(n) for n in chosen)
    minutes = times[0] * SLOT_MINUTES
    clock = f"{minutes // 60:02d}:{minutes % 60:02d}"
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{_DAY_ABBREV[days[0]]}-{_DAY_ABBREV[days[-1]]} {clock}"
    return f"{','.join(_DAY_ABBREV[d] for d in days)} {clock}"


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def _times(recurrence: Recurrence) -> list[int]:
    """Minutes past midnight of the starts on a day the recurrence runs."""
    start = _minutes(recurrence.start)
    every = recurrence.every
    windowed = recurrence.frequency == "hourly" or (recurrence.frequency == "daily" and every not in (None, 1440))
    if not windowed or not every:
        return [start]
    # end: is the time of the last run of the day (DESIGN section 2); no end means until midnight.
    end = _minutes(recurrence.end) if recurrence.end is not None else 24 * 60 - 1
    if end < start:
        end = 24 * 60 - 1
    return list(range(start, end + 1, every))


@lru_cache(maxsize=4096)
def week_slots(recurrence: Recurrence) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(weekly, monthly)`` slot numbers: where it starts every week, and where a monthly run may land.

    A start on the same slot twice (every 15m starting at :10 and :20 can't, but rounding could) is
    counted once per slot.
    """
    times = sorted({t // SLOT_MINUTES for t in _times(recurrence)})
    if recurrence.frequency == "monthly":
        if recurrence.on is not None:
            days = [WEEKDAYS.index(recurrence.on[1])] if recurrence.on[1] in WEEKDAYS else list(range(7))
        else:
            days = list(range(7))
        return (), tuple(d * SLOTS_PER_DAY + t for d in days for t in times)
    days = [WEEKDAYS.index(d) for d in recurrence.weekdays] or list(range(7))
    return tuple(d * SLOTS_PER_DAY + t for d in days for t in times), ()


@lru_cache(maxsize=4096)
def _slot_set(recurrence: Recurrence) -> frozenset[int]:
    weekly, monthly = week_slots(recurrence)
    return frozenset(weekly) | frozenset(monthly)


def make_profile(starts: Sequence[Start], unplaced: int = 0) -> LoadProfile:
    """Count the starts of every slot: one expansion per distinct recurrence."""
    weekly = [0] * SLOTS
    monthly = [0] * SLOTS
    for recurrence, count in Counter(s.recurrence for s in starts).items():
        every_week, some_weeks = week_slots(recurrence)
        for n in every_week:
            weekly[n] += count
        for n in some_weeks:
            monthly[n] += count
    return LoadProfile(tuple(weekly), tuple(monthly), tuple(starts), unplaced)


def busy_profile(profile: LoadProfile, durations: Mapping[tuple[str, str, str], float]) -> tuple[float, ...]:
    """Refreshes running per slot (the backgrounders' busy time): each start occupies the slots its
    typical (median) duration covers, wrapping from Sunday night into Monday. ``durations`` is keyed
    by ``(kind, path, type)``; a task with no known duration counts one slot."""
    spans: Counter[tuple[Recurrence, int]] = Counter()
    for start in profile.starts:
        seconds = durations.get((*start.item, start.type))
        spans[start.recurrence, max(1, math.ceil((seconds or 0.0) / (SLOT_MINUTES * 60)))] += 1
    busy = [0.0] * SLOTS
    for (recurrence, span), count in spans.items():  # one pass per distinct (recurrence, duration)
        weekly, monthly = week_slots(recurrence)
        for n in (*weekly, *monthly):
            for k in range(min(span, SLOTS)):
                busy[(n + k) % SLOTS] += count
    return tuple(busy)


def recurrence_from_dict(value: Mapping[str, object]) -> Recurrence | None:
    """The recurrence in a plan's JSON value (``Recurrence.to_dict()`` or a schedule's ``to_dict()``), or None
    when it holds none (a schedule read only from the list has just its frequency)."""
    try:
        return Recurrence.from_dict(value)
    except ValueError:
        return None


def live_starts(live: LiveState) -> tuple[list[Start], int]:
    """The live site's tasks on the week, and how many could not be placed (schedule not read in detail)."""
    items = {(i.kind, i.id): i for i in live.items}
    schedules = {s.name: s for s in live.schedules}
    out: list[Start] = []
    unplaced = 0
    for task in live.tasks:
        item = items.get((task.item_kind, task.item_id))
        recurrence = task.recurrence
        label_when = task.schedule
        if recurrence is None and task.schedule is not None:
            schedule = schedules.get(task.schedule)
            if schedule is not None and schedule.detailed and schedule.state != "suspended":
                recurrence = schedule.recurrence
            elif schedule is not None and schedule.state == "suspended":
                continue  # a suspended schedule starts nothing
        if recurrence is None:
            unplaced += 1
            continue
        path = item.path if item is not None else task.item_id
        label = task_address(task.item_kind, path, task.type, label_when or recurrence.describe())
        out.append(Start(label, recurrence, task.type, (task.item_kind, path)))
    return out, unplaced


#: Slot groups a plan's load section shows at most.
SHOWN_SLOTS = 5


_ScheduleMap = dict[str, tuple[Recurrence | None, str]]


class _Tally(NamedTuple):
    """Tasks counted by what places them, before any schedule is looked up: by schedule name (Server),
    by their own recurrence (Cloud; counted per object, since a read shares one ``Recurrence`` per
    distinct schedule element, and merged by equality once), and the tasks with neither."""

    by_schedule: Counter[str]
    by_recurrence: dict[int, list[Any]]  # id -> [Recurrence, count]
    neither: int


def _tally(tasks: Iterable[LiveTask]) -> _Tally:
    by_schedule: Counter[str] = Counter()
    by_recurrence: dict[int, list[Any]] = {}
    neither = 0
    named: list[str] = []
    for task in tasks:
        recurrence = task.recurrence
        if recurrence is not None:
            if (entry := by_recurrence.get(id(recurrence))) is None:
                by_recurrence[id(recurrence)] = [recurrence, 1]
            else:
                entry[1] += 1
        elif task.schedule is not None:
            named.append(task.schedule)
        else:
            neither += 1
    by_schedule.update(named)
    return _Tally(by_schedule, by_recurrence, neither)


def _count(tally: _Tally, schedules: _ScheduleMap, less: _Tally | None = None) -> tuple[Counter[Recurrence], int]:
    """How many tasks run on each recurrence (labels are not needed to count), and how many are unknown:
    the tasks of ``tally`` less those of ``less``. A task with its own recurrence counts on it; one on a
    schedule counts on the schedule's (``schedules``), unless the schedule is suspended."""
    counts: Counter[Recurrence] = Counter()
    unplaced = tally.neither - (less.neither if less is not None else 0)
    for name, n in tally.by_schedule.items():
        n -= less.by_schedule[name] if less is not None else 0
        recurrence, state = schedules.get(name, (None, "active"))
        if state == "suspended":
            continue
        if recurrence is None:
            unplaced += n
        else:
            counts[recurrence] += n
    for key, (recurrence, n) in tally.by_recurrence.items():
        gone = less.by_recurrence.get(key) if less is not None else None
        counts[recurrence] += n - (gone[1] if gone is not None else 0)
    return +counts, unplaced


def _peaks(counts: Counter[Recurrence]) -> list[int]:
    peaks = [0] * SLOTS
    for recurrence, count in counts.items():
        weekly, monthly = week_slots(recurrence)
        for n in (*weekly, *monthly):
            peaks[n] += count
    return peaks


def _after(live: LiveState, changes: Sequence[ResourceChange], tally: _Tally
           ) -> tuple[Counter[Recurrence], list[Start], int]:
    """The recurrences of the site's tasks after apply, and the tasks the plan creates or moves, from the plan."""
    schedules: _ScheduleMap = {s.name: (s.recurrence if s.detailed else None, s.state) for s in live.schedules}
    for change in changes:
        if not isinstance(change.target, ScheduleTarget):
            continue
        name = change.target.name
        if change.after is None:
            schedules.pop(name, None)
        else:
            state = change.after.get("state")
            schedules[name] = (recurrence_from_dict(change.after), state if isinstance(state, str) else "active")
    gone = {c.target.task_id for c in changes
            if isinstance(c.target, TaskTarget) and c.action in (Action.DELETE, Action.MOVE, Action.REPLACE)
            and c.target.task_id is not None}
    counts, unplaced = _count(tally, schedules, _tally(t for t in live.tasks if t.id in gone) if gone else None)
    added: list[Start] = []
    for change in changes:
        if not isinstance(change.target, TaskTarget) or change.after is None:
            continue
        after = change.after
        raw = after.get("recurrence")
        recurrence = recurrence_from_dict(raw) if isinstance(raw, dict) else None
        schedule = after.get("schedule")
        if recurrence is None and isinstance(schedule, str):
            recurrence, state = schedules.get(schedule, (None, "active"))
            if state == "suspended":
                continue
        if recurrence is None:
            unplaced += 1
            continue
        task_type = after.get("type")
        added.append(Start(change.address, recurrence, task_type if isinstance(task_type, str) else "full",
                           (change.target.item_kind, change.target.item_path)))
        counts[recurrence] += 1
    return counts, added, unplaced


def _describe_group(slots: Sequence[int]) -> str:
    """``Mon-Sun 02:00``, or for several times of day ``Mon-Fri 08:00, 09:00, 10:00`` / ``Mon-Fri 08:00 to
    18:00 (11 times)``."""
    times = sorted({n % SLOTS_PER_DAY for n in slots})
    days = sorted({n // SLOTS_PER_DAY for n in slots})
    if len(times) == 1:
        return describe_slots(slots)
    day_text = describe_slots(d * SLOTS_PER_DAY for d in days).rsplit(" ", 1)[0]
    clocks = [slot_label(t).split(" ")[1] for t in times]
    when = ", ".join(clocks) if len(clocks) <= 3 else f"{clocks[0]} to {clocks[-1]} ({len(clocks)} times)"
    return f"{day_text} {when}"


def plan_load(live: LiveState, changes: Sequence[ResourceChange], limit: int | None) -> LoadChange | None:
    """The slots the changes make busier (before: the live site; after: the site once applied).

    None when no slot gets busier. Slots at the same time of day with the same counts and the same
    added tasks are grouped (a daily schedule is seven slots: ``Mon-Sun 02:00``).
    """
    if not any(c.kind in ("task", "schedule") for c in changes):
        return None
    live_schedules: _ScheduleMap = {s.name: (s.recurrence if s.detailed else None, s.state) for s in live.schedules}
    tally = _tally(live.tasks)
    before_counts, unplaced_before = _count(tally, live_schedules)
    after_counts, added, unplaced_after = _after(live, changes, tally)
    before, after = _peaks(before_counts), _peaks(after_counts)
    busier = [n for n in range(SLOTS) if after[n] > before[n]]
    if not busier:
        return None
    by_time: dict[tuple[int, int, int, tuple[str, ...]], list[int]] = {}
    for n in busier:
        there = tuple(sorted(s.label for s in added if n in _slot_set(s.recurrence)))
        by_time.setdefault((n % SLOTS_PER_DAY, before[n], after[n], there), []).append(n)
    # The same days, counts and tasks at several times of day (an hourly schedule) make one line.
    groups: dict[tuple[tuple[int, ...], int, int, tuple[str, ...]], list[int]] = {}
    for (_, b, a, there), ns in by_time.items():
        days = tuple(sorted({n // SLOTS_PER_DAY for n in ns}))
        groups.setdefault((days, b, a, there), []).extend(ns)
    ranked = sorted(groups.items(), key=lambda kv: (-kv[0][2], -(kv[0][2] - kv[0][1]), min(kv[1])))
    shown = ranked[:SHOWN_SLOTS]
    if limit is not None:  # every group over the limit is shown: apply's refusal names them all
        shown += [g for g in ranked[SHOWN_SLOTS:] if g[0][2] > limit]
    slots = tuple(SlotChange(_describe_group(ns), tuple(sorted(ns)), b, a, there) for (_, b, a, there), ns in shown)
    return LoadChange(slots, max(before), max(after), limit, max(unplaced_before, unplaced_after))
