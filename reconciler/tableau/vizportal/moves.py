"""Moving Server tasks in place with ``setExtractTasksSchedule``: every move mapped before the first write."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.tableau.connect import Connection
from reconciler.tableau.vizportal.client import VizportalClient
from reconciler.tableau.vizportal.lists import VizportalSchedule, VizportalTask, item_web_id


@dataclass(frozen=True)
class PlannedMove:
    """One task move of a plan, as the mover needs it to find the task in Vizportal."""

    task_id: str  # REST LUID
    address: str
    source: str | None
    item_kind: str
    item_id: str
    item_path: str
    from_schedule: str
    to_schedule: str

    @property
    def label(self) -> str:
        return self.address + (f" ({self.source})" if self.source else "")


def _schedule_ids(schedules: Iterable[VizportalSchedule]) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = {}
    for schedule in schedules:
        by_name.setdefault(schedule.name, []).append(schedule.id)
    return by_name


def match_tasks(moves: Sequence[PlannedMove], item_ids: Mapping[tuple[str, str], str],
                tasks: Sequence[VizportalTask], schedules: Sequence[VizportalSchedule],
                created_schedules: Collection[str] = ()) -> tuple[dict[str, str], dict[str, str]]:
    """REST task LUID → Vizportal task id for every move that maps; REST task LUID → why, for the others.

    A move maps when exactly one Vizportal task has the item's Vizportal id as ``targetId`` and its
    current schedule's Vizportal id (by name, exactly one schedule of that name) as ``scheduleId``
    (and, if Vizportal says so, the same kind of target). Its target schedule must be listed once
    by name, or be created by the plan. Two moves that map to one Vizportal task both fail.
    """
    by_name = _schedule_ids(schedules)
    mapped: dict[str, str] = {}
    problems: dict[str, str] = {}

    def one_schedule(name: str) -> tuple[str | None, str]:
        ids = by_name.get(name, [])
        if len(ids) == 1:
            return ids[0], ""
        if not ids:
            return None, f"Vizportal getSchedules lists no schedule named {name!r}"
        return None, f"Vizportal getSchedules lists {len(ids)} schedules named {name!r} (ids {', '.join(ids)})"

    for move in moves:
        label = "data source" if move.item_kind == "datasource" else "workbook"
        item_vid = item_ids.get((move.item_kind, move.item_id))
        if item_vid is None:
            problems[move.task_id] = f"the Vizportal id of {label} {move.item_path!r} is not known"
            continue
        schedule_vid, why = one_schedule(move.from_schedule)
        if schedule_vid is None:
            problems[move.task_id] = why
            continue
        if move.to_schedule not in created_schedules:
            target_vid, why = one_schedule(move.to_schedule)
            if target_vid is None:
                problems[move.task_id] = why
                continue
        candidates = [t for t in tasks if t.target_id == item_vid and t.schedule_id == schedule_vid
                      and t.target_kind in (None, move.item_kind)]
        where = (f"{label} {move.item_path!r} (Vizportal id {item_vid}) on schedule {move.from_schedule!r} "
                 f"(Vizportal id {schedule_vid})")
        if not candidates:
            problems[move.task_id] = (f"Vizportal getExtractTasks ({len(tasks)} tasks, every page read) lists no "
                                      f"task of {where}")
        elif len(candidates) > 1:
            problems[move.task_id] = (f"Vizportal getExtractTasks lists {len(candidates)} tasks of {where} (ids "
                                      f"{', '.join(t.id for t in candidates)}), and nothing in its answer tells "
                                      "which one is this REST task")
        else:
            mapped[move.task_id] = candidates[0].id
    owners: dict[str, list[str]] = {}
    for luid, vid in mapped.items():
        owners.setdefault(vid, []).append(luid)
    labels = {m.task_id: m.label for m in moves}
    for vid, luids in owners.items():
        if len(luids) > 1:
            for luid in luids:
                others = ", ".join(labels[o] for o in luids if o != luid)
                problems[luid] = f"it and {others} both match the one Vizportal task {vid}"
                mapped.pop(luid, None)
    return mapped, problems


class VizportalMover:
    """Moves Server tasks in place with ``setExtractTasksSchedule``: one call per target schedule.

    ``prepare`` runs before the apply's first write: it reads the whole task and schedule lists, maps
    every move of the plan to exactly one Vizportal task, and raises (naming each task and why) if any
    cannot be mapped, so that nothing is written. The engine (``reconciler.apply``) then hands it all
    the moves to one schedule at once. A target schedule created by this apply is looked up when its
    moves run. When a batch fails, each of its tasks is tried alone, so that one bad task does not fail
    the others (moving a task to the schedule it is on is harmless, so trying again is safe).
    """

    def __init__(self, client: VizportalClient, conn: Connection | None = None) -> None:
        self.client = client
        self.conn = conn
        self.task_ids: dict[str, str] = {}
        self.schedule_ids: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def prepare(self, moves: Sequence[PlannedMove], created_schedules: Collection[str] = (),
                item_ids: Mapping[tuple[str, str], str] | None = None) -> None:
        """Map every move to its Vizportal task, or raise before anything is written."""
        if not moves:
            return
        known: dict[tuple[str, str], str] = dict(item_ids or {})
        lookup: dict[tuple[str, str], str] = {}
        for move in moves:
            key = (move.item_kind, move.item_id)
            if key in known or key in lookup or self.conn is None:
                continue
            label = "data source" if move.item_kind == "datasource" else "workbook"
            try:
                known[key] = item_web_id(self.conn, move.item_kind, move.item_id, f"{label} {move.item_path!r}")
            except ReconcilerError as error:
                lookup[key] = str(error).rstrip(".")
        tasks = self.client.extract_tasks()
        schedules = self.client.schedules()
        mapped, unmatched = match_tasks(moves, known, tasks, schedules, created_schedules)
        problems = [f"{m.label}: {lookup.get((m.item_kind, m.item_id)) or unmatched[m.task_id]}"
                    for m in moves if m.task_id in unmatched]
        if problems:
            raise ReconcilerError(
                f"--server-move-strategy vizportal cannot move {len(problems)} of the plan's {len(moves)} task "
                "move(s) in place, because the REST task cannot be matched to exactly one Vizportal task:\n  - "
                + "\n  - ".join(problems) + "\nNothing was changed. Vizportal has no REST ids, so reconciler "
                "matches a task by its item's web id and its schedule, and refuses when that is not exactly one "
                "task. Leave out --server-move-strategy vizportal to move these tasks with the REST API (each "
                "gets a new id), or make the match unique (for example, do not keep two tasks of one item on "
                "one schedule) and plan again.")
        with self._lock:
            self.task_ids.update(mapped)
            self.schedule_ids = _schedule_ids(schedules)

    def _schedule(self, name: str) -> str | None:
        with self._lock:
            ids = self.schedule_ids.get(name, [])
            if len(ids) != 1:  # created by this apply since prepare read the list: read it again
                self.schedule_ids = _schedule_ids(self.client.schedules())
                ids = self.schedule_ids.get(name, [])
            return ids[0] if len(ids) == 1 else None

    def move_tasks(self, schedule_name: str, task_ids: Sequence[str]) -> dict[str, ReconcilerError | None]:
        """Move the tasks (REST LUIDs, mapped by ``prepare``) to ``schedule_name``; for each, None or its error."""
        schedule_id = self._schedule(schedule_name)
        if schedule_id is None:
            missing = ReconcilerError(f"Vizportal getSchedules does not list exactly one schedule named "
                                      f"{schedule_name!r}.")
            return {luid: missing for luid in task_ids}
        outcome: dict[str, ReconcilerError | None] = {}
        known: dict[str, str] = {}
        for luid in task_ids:
            vid = self.task_ids.get(luid)
            if vid is None:
                outcome[luid] = ReconcilerError(f"Task {luid} was not matched to a Vizportal task before the apply "
                                                "started; it was not moved.")
            else:
                known[luid] = vid
        if not known:
            return outcome
        try:
            moved = self.client.set_extract_tasks_schedule(list(known.values()), schedule_id)
        except TableauRequestError as error:
            if len(known) == 1:
                return {**outcome, **dict.fromkeys(known, error)}
            for luid, vid in known.items():
                outcome.update(self._move_one(luid, vid, schedule_id, schedule_name))
            return outcome
        outcome.update(self._check(known, moved, schedule_id, schedule_name))
        return outcome

    def _move_one(self, luid: str, vid: str, schedule_id: str, schedule_name: str) -> dict[str, ReconcilerError | None]:
        try:
            moved = self.client.set_extract_tasks_schedule([vid], schedule_id)
        except ReconcilerError as error:
            return {luid: error}
        return self._check({luid: vid}, moved, schedule_id, schedule_name)

    @staticmethod
    def _check(known: Mapping[str, str], moved: Sequence[VizportalTask], schedule_id: str,
               schedule_name: str) -> dict[str, ReconcilerError | None]:
        """A task the answer shows on another schedule failed; the answer's shape is not known, so a task it
        leaves out is taken as moved (the next ``plan`` shows whether it was)."""
        by_id = {t.id: t for t in moved}
        outcome: dict[str, ReconcilerError | None] = {}
        for luid, vid in known.items():
            task = by_id.get(vid)
            if task is not None and task.schedule_id not in (None, schedule_id):
                outcome[luid] = ReconcilerError(
                    f"Vizportal setExtractTasksSchedule answered, but task {luid} is on schedule "
                    f"{task.schedule_id!r}, not {schedule_name!r} ({schedule_id}).")
            else:
                outcome[luid] = None
        return outcome
