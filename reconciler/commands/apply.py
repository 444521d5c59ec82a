"""``reconciler apply``: plan (or load a saved plan), confirm, execute, report."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reconciler.apply import ApplyResult, Outcome, TaskMover, apply_plan
from reconciler.commands.common import ConnectionOptions, Output, resolve_settings
from reconciler.commands.plan import read_and_plan
from reconciler.errors import ApplyFailed, StalePlanError, UsageError
from reconciler.model import LiveState
from reconciler.plan import Action, Plan, plan_from_json, stale_objects
from reconciler.report import render_plan_text
from reconciler.spec import load_desired
from reconciler.tableau.connect import Connection, connect
from reconciler.tableau.read import read_site
from reconciler.tableau.vizportal import (
    UNSUPPORTED,
    VizportalClient,
    VizportalMover,
    require_password_credentials,
    require_server_flavor,
)
from reconciler.tableau.write import Writer

MOVE_STRATEGIES = ("rest", "vizportal")
VIZPORTAL_FEATURE = "--server-move-strategy vizportal"


def _is_saved_plan(paths: Sequence[Path]) -> bool:
    return len(paths) == 1 and paths[0].is_file() and paths[0].suffix.lower() == ".json"


def _load_saved(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"Cannot read the saved plan {path}: {error}.") from error
    return plan_from_json(text)


def _check_fresh(saved: Plan, live: LiveState, conn: Connection) -> None:
    if saved.site_id != live.site_id:
        raise StalePlanError(
            f"The saved plan was made for another site (site id {saved.site_id}); this is {live.site_id} "
            f"on {conn.settings.server}. Run `reconciler plan --out FILE` against this site.")
    changed = stale_objects(saved, live)
    if changed:
        listed = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        raise StalePlanError(
            f"The site changed since the plan was saved: {listed}. Nothing was applied. Make a new plan "
            "with `reconciler plan --out FILE` and review it.")


def apply(paths: Sequence[Path], options: ConnectionOptions, *, auto_approve: bool = False, parallelism: int = 4,
          journal: Path | None = None, allow_mass_delete: bool = False, move_strategy: str = "rest") -> int:
    if move_strategy not in MOVE_STRATEGIES:
        raise UsageError(f"--server-move-strategy must be rest or vizportal, not {move_strategy!r}.")
    output = Output(options.quiet)
    saved = _load_saved(paths[0]) if _is_saved_plan(paths) else None
    desired = load_desired(paths) if saved is None else None
    if saved is not None:
        options = ConnectionOptions(**{**options.__dict__, "server": options.server or saved.server,
                                       "site": options.site if options.site is not None else saved.site})
    settings = resolve_settings(options, desired)
    if move_strategy == "vizportal":  # refused before anything is read or written
        require_password_credentials(settings, VIZPORTAL_FEATURE)
        require_server_flavor(saved.flavor if saved is not None else desired.flavor if desired else None,
                              VIZPORTAL_FEATURE, settings.server)
    with ExitStack() as stack:
        conn = stack.enter_context(connect(settings, warn=output.warn))
        if saved is not None:
            names = [key.split(":", 1)[1] for key in saved.observed if key.startswith("schedule:")]
            with output.status(f"Reading {conn.settings.server} ..."):
                live = read_site(conn, None, flavor=saved.flavor, schedule_details="declared",
                                 schedule_names=names)
            _check_fresh(saved, live, conn)
            plan = saved
        else:
            assert desired is not None
            _, live, plan = read_and_plan(conn, desired, output)
        if move_strategy == "vizportal":
            require_server_flavor(live.flavor, VIZPORTAL_FEATURE, settings.server)
        output.result(render_plan_text(plan, color=output.color))
        if not plan.has_changes:
            return 0
        moves = sum(1 for c in plan.changes if c.kind == "task" and c.action is Action.MOVE)
        if live.flavor != "cloud" and (moves or move_strategy == "vizportal"):
            output.result(_strategy_note(move_strategy, moves))
        if plan.exceeds_max_deletes and not allow_mass_delete:
            raise UsageError(
                f"The plan deletes {plan.delete_count} objects, more than policy.max_deletes ({plan.max_deletes}). "
                "Nothing was applied. Review the plan; if it is right, run again with --allow-mass-delete.")
        if not auto_approve:
            _confirm(len(plan.changes))
        journal_file: IO[str] | None = None
        if journal is not None:
            journal_file = stack.enter_context(open(journal, "a", encoding="utf-8"))
        writer = Writer(conn, live.flavor)
        schedule_ids = {s.name: s.id for s in live.schedules if s.id}
        mover: TaskMover | None = None
        if move_strategy == "vizportal" and moves:  # log in before the first write: a refusal changes nothing
            client = stack.enter_context(VizportalClient(conn.settings))
            with output.status("Logging in to Vizportal ..."):
                client.login()
            mover = VizportalMover(client)
        result = _execute(plan, writer, schedule_ids, parallelism, journal_file, output, mover)
    return _report(result, output, journal)


def _strategy_note(strategy: str, moves: int) -> str:
    """The plan's last word on how Server task moves are made (the planner is strategy-agnostic)."""
    count = f"{moves} task move{'s' if moves != 1 else ''}"
    if strategy == "vizportal" and not moves:
        return "Server move strategy: vizportal, but this plan moves no task, so Vizportal will not be used."
    if strategy == "vizportal":
        return (f"Server move strategy: vizportal. The {count} (~>) will be made in place with Vizportal's "
                "setExtractTasksSchedule, one call per target schedule: each task keeps its id and history.\n"
                f"Warning: {UNSUPPORTED}")
    return (f"Server move strategy: rest. Each of the {count} (~>) creates the task on its new schedule, then "
            "deletes the old one: the task gets a new id and its history is not kept "
            "(--server-move-strategy vizportal moves tasks in place).")


def _confirm(count: int) -> None:
    if not sys.stdin.isatty():
        raise UsageError("Refusing to apply without confirmation: there is no terminal to ask. "
                         "Review the plan above, then pass --auto-approve (or apply a saved plan file).")
    answer = input(f"Apply {count} change{'s' if count != 1 else ''}? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise ApplyFailed("Apply cancelled; nothing was changed.")


def _execute(plan: Plan, writer: Writer, schedule_ids: dict[str, str], parallelism: int,
             journal: IO[str] | None, output: Output, mover: TaskMover | None = None) -> ApplyResult:
    if not output.interactive:
        def note(outcome: Outcome) -> None:
            if outcome.status != "ok":
                output.note(f"{outcome.status}: {outcome.address}")
        return apply_plan(plan, writer, schedule_ids=schedule_ids, parallelism=parallelism, journal=journal,
                          on_outcome=note, mover=mover)
    columns = (TextColumn("Applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=output.err, transient=True) as progress:
        bar = progress.add_task("", total=len(plan.changes))

        def advance(outcome: Outcome) -> None:
            progress.update(bar, advance=1, description=outcome.address[:60])

        return apply_plan(plan, writer, schedule_ids=schedule_ids, parallelism=parallelism, journal=journal,
                          on_outcome=advance, mover=mover)


def _report(result: ApplyResult, output: Output, journal: Path | None) -> int:
    problems = [*result.failed, *result.skipped]
    for outcome in problems:
        code = f" [{outcome.code}]" if outcome.code else ""
        output.err.print(f"[red]{outcome.status}[/red]{code} {outcome.address}: {outcome.detail}", markup=True,
                         highlight=False)
    output.result(f"Apply complete: {result.summary()}.")
    if problems:
        where = f" The journal {journal} has every outcome." if journal else ""
        raise ApplyFailed(f"{len(result.failed)} change(s) failed and {len(result.skipped)} were skipped; the "
                          f"rest were applied. Fix the cause and run apply again: it converges.{where}")
    return 0
