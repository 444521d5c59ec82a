"""Executing a Plan: phases in a safe order, independent actions concurrently, every outcome recorded.

The order (DESIGN section 4): site mode up → schedules created/updated → item encryption flags →
task creates, moves and replaces → task deletes → schedule deletes → site mode down. A move or a
replace creates the new task before it deletes the old one, so an item is never left without its
refresh. Within a phase, actions run on ``parallelism`` threads; an action whose prerequisite
failed is skipped, and everything independent goes on. The plan is executed as it is: apply never
diffs again.

A journal (JSON lines, flushed per action) records what happened, so that after a failure or a
``kill -9`` the next ``apply`` (which plans afresh) converges and the journal tells the truth.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from reconciler.errors import PlanError, ReconcilerError, TableauRequestError
from reconciler.model import Recurrence, Schedule
from reconciler.plan import Action, ItemTarget, Plan, ResourceChange, ScheduleTarget, TaskTarget
from reconciler.tableau.write import Writer

__all__ = ["ApplyResult", "Outcome", "TaskMover", "apply_plan"]

_PAST = {Action.CREATE: "created", Action.UPDATE: "updated", Action.MOVE: "moved", Action.REPLACE: "replaced",
         Action.DELETE: "deleted"}


@dataclass(frozen=True)
class Outcome:
    """What happened to one planned change."""

    address: str
    action: str
    status: str  # "ok" | "failed" | "skipped"
    duration: float = 0.0
    code: str | None = None
    detail: str | None = None

    def to_json(self) -> str:
        return json.dumps({"time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "address": self.address,
                           "action": self.action, "outcome": self.status, "code": self.code,
                           "detail": self.detail, "duration_s": round(self.duration, 3)}, sort_keys=True)


@dataclass(frozen=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    @property
    def skipped(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "skipped")

    def summary(self) -> str:
        """``3 created, 1 moved, 2 deleted, 0 failed`` (and skipped when any)."""
        done = Counter(o.action for o in self.outcomes if o.status == "ok")
        parts = [f"{done[a.value]} {_PAST[a]}" for a in Action if done[a.value]]
        if not parts:
            parts = ["0 changed"]
        parts.append(f"{len(self.failed)} failed")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts)


class TaskMover(Protocol):
    """Moves Server tasks in place (``--server-move-strategy vizportal``), all those to one schedule at once."""

    def move_tasks(self, schedule_name: str, task_ids: Sequence[str]) -> Mapping[str, ReconcilerError | None]:
        """Move the tasks (ids) to the schedule; for each task id, None (moved) or its error."""
        ...


class _Executor:
    def __init__(self, plan: Plan, writer: Writer, schedule_ids: Mapping[str, str]) -> None:
        self.plan = plan
        self.writer = writer
        self.schedule_ids = dict(schedule_ids)
        self.lock = threading.Lock()

    def schedule_id(self, name: str) -> str:
        with self.lock:
            found = self.schedule_ids.get(name)
        if found is None:
            found = self.writer.find_schedule_id(name)
            if found is None:
                raise ReconcilerError(f"schedule {name!r} does not exist on the server.")
            with self.lock:
                self.schedule_ids[name] = found
        return found

    def run(self, change: ResourceChange) -> None:
        after: dict[str, Any] = dict(change.after or {})
        if change.kind == "site":
            self.writer.set_site_mode(str(after["mode"]))
        elif change.kind == "schedule":
            schedule = ScheduleTarget.of(change)
            if change.action is Action.CREATE:
                new_id = self.writer.create_schedule(Schedule.from_dict(schedule.name, after))
                with self.lock:
                    self.schedule_ids[schedule.name] = new_id
            elif change.action is Action.DELETE:
                self.writer.delete_schedule(_required(change, schedule.schedule_id), schedule.name)
            else:
                self.writer.update_schedule(_required(change, schedule.schedule_id),
                                            Schedule.from_dict(schedule.name, after))
        elif change.kind == "encrypt":
            item = ItemTarget.of(change)
            self.writer.set_item_encrypt(item.item_kind, item.item_id, bool(after["encrypt"]), item.item_path)
        elif change.kind == "task":
            self.run_task(change, after)
        else:
            raise ReconcilerError(f"unknown change kind {change.kind!r} in the plan.")

    def run_task(self, change: ResourceChange, after: dict[str, Any]) -> None:
        target = TaskTarget.of(change)
        kind, item_id, label = target.item_kind, target.item_id, target.item_path
        if change.action is Action.DELETE:
            self.writer.delete_task(_task_id(change), label)
            return
        task_type = str(after.get("type", "full"))
        recurrence = Recurrence.from_dict(after["recurrence"]) if after.get("recurrence") else None
        if change.action is Action.MOVE and self.writer.cloud:
            assert recurrence is not None
            self.writer.update_cloud_task(_required(change, target.task_id), kind, item_id, task_type, recurrence,
                                          label)
            return
        schedule_id = None if self.writer.cloud else self.schedule_id(_schedule_name(change))
        # The new task first, then the old one goes: never a window without a refresh.
        self.writer.create_task(kind, item_id, task_type, label, schedule_id=schedule_id, recurrence=recurrence)
        if change.action in (Action.MOVE, Action.REPLACE):
            self.writer.delete_task(_required(change, target.task_id), label)


def _required(change: ResourceChange, value: str | None) -> str:
    """A target id that this action needs (a create has none; every other action has)."""
    if value is None:
        raise PlanError(f"{change.address}: the plan's target has no id for this {change.action.value}; "
                        "make a new plan.")
    return value


def _task_id(change: ResourceChange) -> str:
    return _required(change, TaskTarget.of(change).task_id)


def _schedule_name(change: ResourceChange) -> str:
    """The Server schedule a task is added to: the target's, else (an older plan) the task's ``after``."""
    return str(TaskTarget.of(change).schedule_name or (change.after or {}).get("schedule"))


def apply_plan(plan: Plan, writer: Writer, *, schedule_ids: Mapping[str, str], parallelism: int = 4,
               journal: IO[str] | None = None,
               on_outcome: Callable[[Outcome], None] | None = None,
               mover: TaskMover | None = None, stop: threading.Event | None = None) -> ApplyResult:
    """Execute every change of ``plan`` in phase order; never raises for a failed action.

    ``schedule_ids`` maps the live schedules' names to their ids (Server), for task creates. With a
    ``mover`` (Server only), task moves are made in place, one ``mover`` call per target schedule,
    instead of create-then-delete; each move still gets its own outcome. Once ``stop`` is set (Ctrl-C,
    SIGTERM), no action starts: those in flight finish and are recorded, the rest get no outcome.
    """
    executor = _Executor(plan, writer, schedule_ids)
    outcomes: dict[str, Outcome] = {}
    journal_lock = threading.Lock()

    def record(outcome: Outcome) -> None:
        with journal_lock:
            outcomes[outcome.address] = outcome
            if journal is not None:
                journal.write(outcome.to_json() + "\n")
                journal.flush()
        if on_outcome is not None:
            on_outcome(outcome)

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    def execute(change: ResourceChange) -> None:
        if stopped():
            return
        blockers = [a for a in change.depends_on if a in outcomes and outcomes[a].status != "ok"]
        if blockers:
            record(Outcome(change.address, change.action.value, "skipped",
                           detail=f"skipped because {blockers[0]} did not succeed"))
            return
        started = time.monotonic()
        try:
            executor.run(change)
        except ReconcilerError as error:
            code = error.code if isinstance(error, TableauRequestError) else None
            record(Outcome(change.address, change.action.value, "failed", time.monotonic() - started, code,
                           str(error)))
            return
        except Exception as error:  # an unexpected failure of one action must not stop the others
            record(Outcome(change.address, change.action.value, "failed", time.monotonic() - started, None,
                           f"{type(error).__name__}: {error}"))
            return
        record(Outcome(change.address, change.action.value, "ok", time.monotonic() - started))

    def execute_moves(batch: tuple[str, list[ResourceChange]]) -> None:
        schedule, changes = batch
        if stopped():
            return
        ready = []
        for change in changes:
            blockers = [a for a in change.depends_on if a in outcomes and outcomes[a].status != "ok"]
            if blockers:
                record(Outcome(change.address, change.action.value, "skipped",
                               detail=f"skipped because {blockers[0]} did not succeed"))
            else:
                ready.append(change)
        if not ready or mover is None:
            return
        started = time.monotonic()
        errors: Mapping[str, BaseException | None]
        try:
            errors = mover.move_tasks(schedule, [_task_id(c) for c in ready])
        except Exception as error:  # the whole batch failed
            errors = {_task_id(c): error for c in ready}
        for change in ready:
            failure = errors.get(_task_id(change))
            if failure is None:
                record(Outcome(change.address, change.action.value, "ok", time.monotonic() - started))
            else:
                code = failure.code if isinstance(failure, TableauRequestError) else None
                detail = str(failure) if isinstance(failure, ReconcilerError) else \
                    f"{type(failure).__name__}: {failure}"
                record(Outcome(change.address, change.action.value, "failed", time.monotonic() - started, code,
                               detail))

    phases = sorted({c.phase for c in plan.changes})
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="apply") as pool:
        for phase in phases:
            if stopped():
                break
            waiting = [c for c in plan.changes if c.phase == phase]
            if mover is not None and not writer.cloud:  # in-place moves, batched per target schedule
                batches: dict[str, list[ResourceChange]] = {}
                for c in waiting:
                    if c.kind == "task" and c.action is Action.MOVE:
                        name = _schedule_name(c)
                        batches.setdefault(name, []).append(c)
                if batches:
                    list(pool.map(execute_moves, batches.items()))
                    moved = {c.address for batch in batches.values() for c in batch}
                    waiting = [c for c in waiting if c.address not in moved]
            while waiting and not stopped():  # in waves, so a prerequisite in the same phase runs first
                pending = {c.address for c in waiting}
                ready = [c for c in waiting if not pending.intersection(c.depends_on)] or waiting
                list(pool.map(execute, ready))
                done = {id(c) for c in ready}  # by identity: `c not in ready` compared whole changes, n² times
                waiting = [c for c in waiting if id(c) not in done]
    ordered = tuple(outcomes[c.address] for c in plan.changes if c.address in outcomes)
    return ApplyResult(ordered)
