"""Staggering suggestions for the busiest slots (pure): which declared refreshes to move, and where.

Only refreshes the files declare on a named schedule are moved (the files stay the single source of
truth), and on Server only full ones (REST moves cannot keep a task incremental): a moved refresh
goes to a copy of its schedule that starts 15, 30 or 45 minutes later, the first of those slots
with room. Deterministic: tasks are taken in address order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from reconciler.model import DesiredState, LiveState, Recurrence, Source

from .addresses import task_address
from .load import SLOT_MINUTES, LoadProfile, week_slots
from .resolve import resolve_extracts

__all__ = ["OFFSETS", "Move", "Suggestion", "shifted", "suggest_staggering"]

#: Minutes later a moved refresh may start.
OFFSETS = (15, 30, 45)


@dataclass(frozen=True)
class Move:
    """Move one declared refresh from ``schedule`` to ``to`` (a copy of it, ``offset`` minutes later)."""

    address: str
    #: Where the refresh's ``schedule:`` is declared (file:line:col of the refresh entry).
    source: Source
    schedule: str
    to: str
    offset: int


@dataclass(frozen=True)
class Suggestion:
    """The moves, the new schedules they need (name → (copied from, offset)), and the target per slot."""

    moves: tuple[Move, ...]
    new_schedules: tuple[tuple[str, str, int], ...]
    target: int
    peak_before: int
    peak_after: int


def shifted(recurrence: Recurrence, minutes: int) -> Recurrence | None:
    """The recurrence starting ``minutes`` later (its window too); None when it would cross midnight."""
    def move(text: str | None) -> str | None:
        if text is None:
            return None
        total = int(text[:2]) * 60 + int(text[3:5]) + minutes
        return f"{total // 60:02d}:{total % 60:02d}" if total < 24 * 60 else "24:00"

    start, end = move(recurrence.start), move(recurrence.end)
    if start == "24:00" or end == "24:00":
        return None
    return replace(recurrence, start=start or recurrence.start, end=end)


def _new_name(name: str, recurrence: Recurrence, moved: Recurrence) -> str:
    if recurrence.start in name:
        return name.replace(recurrence.start, moved.start)
    return f"{name} +{SLOT_MINUTES}m" if moved.start == recurrence.start else f"{name} (starts {moved.start})"


def suggest_staggering(desired: DesiredState, live: LiveState, profile: LoadProfile, target: int | None,
                       slots: int = 5) -> Suggestion:
    """Moves that bring the ``slots`` busiest slots down to ``target`` starts (default: half the peak)."""
    peak = profile.busiest
    goal = target if target is not None else max(1, math.ceil(peak / 2))
    counts = list(profile.peaks)
    schedules = {s.name: s for s in desired.schedules}
    declared: dict[tuple[str, str, str, Recurrence], tuple[str, str, Source, Recurrence]] = {}
    for managed in resolve_extracts(desired, live):
        for refresh in managed.extract.refresh or ():
            name = refresh.schedule
            schedule = schedules.get(name or "")
            if name is None or schedule is None or refresh.source is None:
                continue
            if live.flavor != "cloud" and refresh.type == "incremental":
                continue  # Server's REST API cannot move an incremental task without making it full
            address = task_address(managed.item.kind, managed.item.path, refresh.type, name)
            key = (managed.item.kind, managed.item.path, refresh.type, schedule.recurrence)
            declared.setdefault(key, (address, name, refresh.source, schedule.recurrence))
    moves: list[Move] = []
    new: dict[str, tuple[str, int]] = {}
    moved: set[str] = set()
    for slot in profile.top_slots(slots):
        if counts[slot] <= goal:
            continue
        for start in sorted(profile.tasks_at(slot), key=lambda s: s.label):
            if counts[slot] <= goal:
                break
            found = declared.get((*start.item, start.type, start.recurrence))
            if found is None or found[0] in moved:
                continue
            address, name, source, recurrence = found
            for offset in OFFSETS:
                later = shifted(recurrence, offset)
                if later is None:
                    continue
                now_slots = _all(recurrence)
                next_slots = _all(later)
                if any(counts[n] + 1 > goal for n in next_slots):
                    continue
                for n in now_slots:
                    counts[n] -= 1
                for n in next_slots:
                    counts[n] += 1
                to = _new_name(name, recurrence, later)
                new.setdefault(to, (name, offset))
                moves.append(Move(address, source, name, to, offset))
                moved.add(address)
                break
    return Suggestion(tuple(moves), tuple((to, src, off) for to, (src, off) in sorted(new.items())), goal, peak,
                      max(counts, default=0))


def _all(recurrence: Recurrence) -> tuple[int, ...]:
    weekly, monthly = week_slots(recurrence)
    return (*weekly, *monthly)
