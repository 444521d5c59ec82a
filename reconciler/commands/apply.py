"""``reconciler apply``: plan (or load a saved plan), confirm, execute, report."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from reconciler.apply import ApplyResult, Outcome, TaskMover, apply_plan
from reconciler.commands.deployment import apply_order, make_from_files, site_settings
from reconciler.commands.files import check_output_path
from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import Output
from reconciler.commands.plan import check_move_strategy, describe_gaps, read_and_plan
from reconciler.commands.settings import resolve_settings
from reconciler.desired import find_deployment, load_desired
from reconciler.errors import ApplyFailed, ApplyInterrupted, ReconcilerError, StalePlanError, UsageError
from reconciler.gcpause import gc_paused
from reconciler.model import LiveState, site_label
from reconciler.plan import (
    Action,
    Plan,
    ScheduleTarget,
    TaskTarget,
    is_digest,
    permission_gaps,
    plan_digest,
    plan_from_json,
)
from reconciler.plan.deployment import DeploymentPlan, SitePlan
from reconciler.plan.fingerprint import ObjectKey
from reconciler.plan.saved import check_saved_changes, what_changed
from reconciler.plan.serialize import deployment_digest, deployment_from_json, is_deployment_json
from reconciler.report import render_plan_text
from reconciler.report.deployment import render_deployment_text
from reconciler.tableau.connect import Connection, ConnectionSettings, connect
from reconciler.tableau.lock import ApplyLock
from reconciler.tableau.read import read_site, read_tasks
from reconciler.tableau.vizportal import (
    UNSUPPORTED,
    PlannedMove,
    VizportalClient,
    VizportalMover,
    require_password_credentials,
    require_server_flavor,
)
from reconciler.tableau.write import Writer

VIZPORTAL_FEATURE = "--server-move-strategy vizportal"


def _is_saved_plan(paths: Sequence[Path]) -> bool:
    return len(paths) == 1 and paths[0].is_file() and paths[0].suffix.lower() == ".json"


def _read_saved(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"Cannot read the saved plan {path}: {error}.") from error


def _load_saved(path: Path) -> Plan:
    return plan_from_json(_read_saved(path))


def _load_saved_deployment(path: Path) -> DeploymentPlan | None:
    """The deployment's plan saved in ``path``; None when it holds a single site's plan."""
    text = _read_saved(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None  # plan_from_json says what is wrong with it
    return deployment_from_json(text) if is_deployment_json(data) else None


def _check_fresh(saved: Plan, live: LiveState, conn: Connection) -> None:
    if saved.site_id != live.site_id:
        raise StalePlanError(
            f"The saved plan was made for another site: {site_label(saved.site)} (id {saved.site_id}) on "
            f"{saved.server}, but this is {site_label(conn.settings.site)} (id {live.site_id}) on "
            f"{conn.settings.server}. Nothing was applied. Apply it without --site/TABLEAU_SITE pointing "
            "elsewhere, or make a plan for this site with `reconciler plan --out FILE`.")
    listed = what_changed(saved, live)
    if listed:
        raise StalePlanError(
            f"The site changed since the plan was saved: {listed}. Nothing was applied. Make a new plan "
            "with `reconciler plan --out FILE` and review it.")


def detailed_schedules(saved: Plan) -> list[str]:
    """The schedules a saved plan read in detail, to read them so again: every observed one but those it prunes
    from the list alone (a delete whose ``before`` has no start; a detailed read of them would not hash the
    same, and the plan would be refused as stale)."""
    listed_only = {c.target.name for c in saved.changes if isinstance(c.target, ScheduleTarget)
                   and c.action is Action.DELETE and "start" not in (c.before or {})}
    return [key.name for key in map(ObjectKey.parse, saved.observed)
            if key.prefix == "schedule" and key.name not in listed_only]


def _check_saved_moves(saved: Plan, move_strategy: str) -> None:
    """A saved plan may move incremental Server tasks only in place: refuse it with the REST strategy."""
    if saved.flavor == "cloud" or move_strategy == "vizportal":
        return
    incremental = [c.address for c in saved.changes if c.kind == "task" and c.action is Action.MOVE
                   and (c.before or {}).get("type") == "incremental"]
    if incremental:
        raise UsageError(
            f"This saved plan moves {len(incremental)} incremental task(s) ({', '.join(incremental[:3])}"
            f"{', ...' if len(incremental) > 3 else ''}); through REST each would become a full refresh. It was "
            "made with --server-move-strategy vizportal: apply it with the same flag. Nothing was applied.")


def _check_permissions(plan: Plan, live: LiveState, where: str = "") -> None:
    """Refuse, before any write, changes the signed-in user's role may not make (``where``: which site)."""
    gaps = permission_gaps(plan, live)
    if gaps:
        raise ReconcilerError(where + describe_gaps(live, gaps, "nothing was applied"))


def _check_limits(plan: Plan, allow_mass_delete: bool, allow_overload: bool, where: str = "") -> None:
    """Refuse, before any write, a plan over ``policy.max_deletes`` or ``policy.load.max_starts_per_slot``
    unless allowed (``where``: which site of a deployment)."""
    if plan.exceeds_max_deletes and not allow_mass_delete:
        raise UsageError(
            f"{where}The plan deletes {plan.delete_count} objects, more than policy.max_deletes ({plan.max_deletes}). "
            "Nothing was applied. Review the plan; if it is right, run again with --allow-mass-delete.")
    if plan.exceeds_load and not allow_overload:
        assert plan.load is not None
        slots = ", ".join(f"{s.when} ({s.before} → {s.after})" for s in plan.load.over_limit)
        raise UsageError(
            f"{where}The plan makes refresh starts exceed policy.load.max_starts_per_slot "
            f"({plan.load.max_starts_per_slot} in 15 minutes) at {slots}. Nothing was applied. Stagger the start "
            "times (reconciler load --suggest proposes some), raise the limit, or, if the load is intended, run "
            "again with --allow-overload.")


def _reread_site(conn: Connection, saved: Plan, output: Output, *, other_sites: bool = True) -> LiveState:
    """The site of a saved plan read again as the plan read it; StalePlanError when anything it read changed.

    ``other_sites=False`` (a deployment's site, whose plan counted no other site): nothing is counted."""
    # A plan that deletes schedules because no other site used them: count those sites again.
    deleted = [key.name for key in map(ObjectKey.parse, saved.observed) if key.prefix == "usage"] \
        if other_sites else []
    with output.status(f"Reading {site_label(conn.settings.site)} on {conn.settings.server} ..."):
        live = read_site(conn, None, flavor=saved.flavor, schedule_details="declared",
                         schedule_names=detailed_schedules(saved), shared_schedules=deleted, other_sites=other_sites)
    _check_fresh(saved, live, conn)
    check_saved_changes(saved, live)
    return live


def expected_digest(text: str | None) -> str | None:
    """``--expect-digest``: 64 hex digits, optionally written ``sha256:...``; any case."""
    if text is None:
        return None
    digest = text.strip().lower().removeprefix("sha256:")
    if not is_digest(digest):
        raise UsageError(f"--expect-digest {text!r} is not a plan digest: it should be the 64 hexadecimal digits "
                         "that `reconciler plan` prints (\"Plan digest: ...\") and writes as \"digest\" in its JSON.")
    return digest


def _check_digest(plan: Plan, expected: str, saved: bool) -> None:
    """Refuse a plan other than the reviewed one: ``--expect-digest`` names the plan a person approved."""
    actual = plan_digest(plan)
    if actual == expected:
        return
    if saved:
        why = "this saved plan is not the plan that was reviewed"
    else:
        why = ("the plan made now from the files and the site differs from the plan that was reviewed: the files "
               "or the site changed since the review")
    raise StalePlanError(
        f"The plan's digest is {actual}, not the reviewed {expected}: {why}. Nothing was applied. Make a new plan "
        "(`reconciler plan PATH`), review it, and apply with its digest.")


def apply(paths: Sequence[Path], options: ConnectionOptions, *, auto_approve: bool = False, parallelism: int = 4,
          journal: Path | None = None, allow_mass_delete: bool = False, move_strategy: str = "rest",
          targets: Sequence[str] = (), expect_digest: str | None = None, break_lock: bool = False,
          allow_overload: bool = False) -> int:
    check_move_strategy(move_strategy)
    expected = expected_digest(expect_digest)
    if journal is not None:
        check_output_path(journal, "--journal")
    output = Output(options.quiet)
    root = find_deployment(paths)
    saved_deployment = _load_saved_deployment(paths[0]) if root is None and _is_saved_plan(paths) else None
    if root is not None or saved_deployment is not None:
        if move_strategy == "vizportal":
            raise UsageError(f"{VIZPORTAL_FEATURE} is not available for a whole deployment yet: apply each site "
                             "with its own files (reconciler apply sites/NAME ...). Nothing was applied.")
        if targets and saved_deployment is not None:
            raise UsageError("--target limits a plan made from files; a saved plan is applied exactly as it was "
                             "saved. Nothing was applied.")
        return _apply_deployment(root, saved_deployment, options, output, auto_approve=auto_approve,
                                 parallelism=parallelism, journal=journal, allow_mass_delete=allow_mass_delete,
                                 targets=targets, expected=expected, break_lock=break_lock,
                                 allow_overload=allow_overload)
    if targets and _is_saved_plan(paths):
        raise UsageError("--target limits a plan made from files; a saved plan is applied exactly as it was saved. "
                         "Make the limited plan with `reconciler plan PATH --target SELECTOR --out FILE`.")
    saved = _load_saved(paths[0]) if _is_saved_plan(paths) else None
    desired = load_desired(paths) if saved is None else None
    if saved is not None:
        options = ConnectionOptions(**{**options.__dict__, "server": options.server or saved.server,
                                       "site": options.site if options.site is not None else saved.site})
    settings = resolve_settings(options, desired, warn=output.warn)
    if move_strategy == "vizportal":  # refused before anything is read or written
        require_password_credentials(settings, VIZPORTAL_FEATURE)
        require_server_flavor(saved.flavor if saved is not None else desired.flavor if desired else None,
                              VIZPORTAL_FEATURE, settings.server)
    with ExitStack() as stack:
        signals = stack.enter_context(_Signals())
        conn = stack.enter_context(connect(settings, warn=output.warn))
        if saved is not None:
            live = _reread_site(conn, saved, output)
            _check_saved_moves(saved, move_strategy)
            plan = saved
        else:
            assert desired is not None
            made = read_and_plan(conn, desired, output, targets, move_strategy=move_strategy)
            live, plan = made.live, made.plan
        if move_strategy == "vizportal":
            require_server_flavor(live.flavor, VIZPORTAL_FEATURE, settings.server)
        output.result(render_plan_text(plan, color=output.color))
        if not plan.has_changes:  # nothing will be written, so nothing unreviewed can be
            if expected is not None and plan_digest(plan) != expected:
                output.note(f"Nothing to apply: the site already matches (the reviewed plan was {expected}).")
            return 0
        if expected is not None:
            _check_digest(plan, expected, saved is not None)
        moves = sum(1 for c in plan.changes if c.kind == "task" and c.action is Action.MOVE)
        if live.flavor != "cloud" and (moves or move_strategy == "vizportal"):
            output.result(_strategy_note(move_strategy, moves))
        _check_permissions(plan, live)
        _check_limits(plan, allow_mass_delete, allow_overload)
        mover: TaskMover | None = None
        if move_strategy == "vizportal" and moves:
            # Log in and match every move to its Vizportal task before asking, and so before the first
            # write: a refused login or a move that matches no single task changes nothing.
            client = stack.enter_context(VizportalClient(conn.settings))
            with output.status("Logging in to Vizportal ..."):
                client.login()
            vizportal = VizportalMover(client, conn)
            with output.status("Matching the task moves to Vizportal's tasks ..."):
                vizportal.prepare(_planned_moves(plan), {c.target.name for c in plan.changes if isinstance(
                    c.target, ScheduleTarget) and c.action is Action.CREATE})
            mover = vizportal
        if not auto_approve:
            _confirm(len(plan.changes))
        # Two applies at once would both make the planned creates: hold the site's lock, then check that
        # nothing the plan read changed before it was taken (another apply may have just finished).
        stack.enter_context(ApplyLock(conn, break_lock=break_lock, warn=output.warn))
        with output.status("Checking that no task changed since the plan ..."):
            # The task list is what another apply changes (and what duplicates): read it again, alone.
            now = replace(live, tasks=read_tasks(conn))
        _check_unchanged(plan, now)
        journal_file: IO[str] | None = None
        if journal is not None:
            journal_file = stack.enter_context(open(journal, "a", encoding="utf-8"))
        writer = Writer(conn, live.flavor)
        schedule_ids = {s.name: s.id for s in live.schedules if s.id}
        signals.executing = True  # from now on a signal stops new actions; it never raises (the lock is released)
        result = _execute(plan, writer, schedule_ids, parallelism, journal_file, output, mover, signals.stop)
    if signals.received is not None and len(result.outcomes) < len(plan.changes):
        _report_problems(result, output)
        applied = sum(1 for o in result.outcomes if o.status == "ok")
        where = f" The journal {journal} has every outcome." if journal else ""
        name = signal.Signals(signals.received).name
        raise ApplyInterrupted(f"Apply interrupted ({name}) after the actions in flight finished: {applied} of "
                               f"{len(plan.changes)} applied; run apply again to finish (it plans afresh).{where}",
                               128 + signals.received)
    return _report(result, output, journal, settings.retry.attempts)


class _Signals:
    """Ctrl-C and SIGTERM (what CI sends on cancel) while apply runs.

    Before the changes start, either ends the run at once (nothing written; the lock is released on the way
    out). While they run, no new action starts: those in flight finish and are journaled, then apply says
    how far it got and exits 130 (SIGINT) or 143 (SIGTERM).
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.executing = False
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.executing:
            if not self.stop.is_set() and self.received is None:
                self.received = signum
            self.stop.set()
            return
        self.received = signum
        raise ApplyInterrupted(f"Apply interrupted ({signal.Signals(signum).name}) before any change was made; "
                               "nothing was applied.", 128 + signum)


def _check_unchanged(plan: Plan, now: LiveState) -> None:
    """The site with its tasks read again under the lock: refuse when anything the plan read has changed."""
    listed = what_changed(plan, now)
    if listed:
        raise StalePlanError(
            f"The site changed after this plan was made (another apply may have just run): {listed}. Nothing was "
            "applied. Run apply again: it plans afresh (for a saved plan, make and review a new one).")


def _planned_moves(plan: Plan) -> list[PlannedMove]:
    """The plan's task moves, with what Vizportal needs to find each task (``VizportalMover.prepare``)."""
    moves = []
    for c in plan.changes:
        if c.kind != "task" or c.action is not Action.MOVE:
            continue
        target = TaskTarget.of(c)
        before = c.before or {}
        moves.append(PlannedMove(
            target.task_id or "", c.address, c.source, target.item_kind, target.item_id, target.item_path,
            target.from_schedule_name or str(before.get("schedule") or ""),
            target.schedule_name or str((c.after or {}).get("schedule") or "")))
    return moves


def _strategy_note(strategy: str, moves: int) -> str:
    """The plan's last word on how Server task moves are made (the planner is strategy-agnostic)."""
    count = f"{moves} task move{'s' if moves != 1 else ''}"
    if strategy == "vizportal" and not moves:
        return "Server move strategy: vizportal, but this plan moves no task, so Vizportal will not be used."
    if strategy == "vizportal":
        return (f"Server move strategy: vizportal. The {count} (~>) will be made in place with Vizportal's "
                "setExtractTasksSchedule, one call per target schedule: each task keeps its id and history.\n"
                f"Warning: {UNSUPPORTED}")
    each = "The task move" if moves == 1 else f"Each of the {count}"
    return (f"Server move strategy: rest. {each} (~>) creates the task on its new schedule, then "
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
             journal: IO[str] | None, output: Output, mover: TaskMover | None = None,
             stop: threading.Event | None = None) -> ApplyResult:
    if not output.interactive:
        def note(outcome: Outcome) -> None:
            if outcome.status != "ok":
                output.note(f"{outcome.status}: {outcome.address}")
        return apply_plan(plan, writer, schedule_ids=schedule_ids, parallelism=parallelism, journal=journal,
                          on_outcome=note, mover=mover, stop=stop)
    columns = (TextColumn("Applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}", markup=False))
    with Progress(*columns, console=output.err, transient=True) as progress:
        bar = progress.add_task("", total=len(plan.changes))

        def advance(outcome: Outcome) -> None:
            progress.update(bar, advance=1, description=outcome.address[:60])

        return apply_plan(plan, writer, schedule_ids=schedule_ids, parallelism=parallelism, journal=journal,
                          on_outcome=advance, mover=mover, stop=stop)


_REFUSALS = {"429", "503", "429000", "503000"}


def _report_problems(result: ApplyResult, output: Output) -> None:
    for outcome in [*result.failed, *result.skipped]:
        code = f" [{outcome.code}]" if outcome.code else ""
        # Addresses and details carry names (`[datasource "x"]`, "[/x]"): printed as text, never as markup.
        line = Text.assemble((outcome.status, "red"), f"{code} {outcome.address}: {outcome.detail}")
        output.err.print(line, highlight=False)


def _report(result: ApplyResult, output: Output, journal: Path | None, attempts: int) -> int:
    problems = [*result.failed, *result.skipped]
    _report_problems(result, output)
    output.result(f"Apply complete: {result.summary()}.")
    if problems:
        where = f" The journal {journal} has every outcome." if journal else ""
        codes = sorted({o.code for o in result.failed if o.code})
        named = f" (Tableau's error code{'s' if len(codes) > 1 else ''}: {', '.join(codes)})" if codes else ""
        busy = ""
        if set(codes) & _REFUSALS:
            busy = (f" The server still refused (429 or 503) after {attempts} tries each: it may be overloaded or "
                    "in maintenance; run apply again later.")
        raise ApplyFailed(f"{len(result.failed)} change(s) failed{named} and {len(result.skipped)} were skipped; "
                          f"the rest were applied.{busy} Fix the cause and run apply again: it converges.{where}")
    return 0


def _apply_deployment(root: Path | None, saved: DeploymentPlan | None, options: ConnectionOptions, output: Output, *,
                      auto_approve: bool, parallelism: int, journal: Path | None, allow_mass_delete: bool,
                      targets: Sequence[str], expected: str | None, break_lock: bool, allow_overload: bool) -> int:
    """Apply a deployment (its files, or its saved plan): every site's plan shown, one confirmation, then site by
    site in ``apply_order``. Nothing is written while any site failed to plan or any site's limits refuse; a saved
    plan is first checked against every site, so one stale site stops it before anything is written."""
    with gc_paused():
        if saved is None:
            assert root is not None
            deployment, _, plan = make_from_files(root, options, output, targets, "rest")
        else:
            plan, deployment = saved, None
        output.result(render_deployment_text(plan, color=output.color))
    if plan.failed:
        names = ", ".join(s.label for s in plan.sites if s.error is not None)
        raise ReconcilerError(f"Nothing was applied: site(s) {names} could not be planned (see above). Fix them, "
                              "or apply the other sites only with --site.")
    if not plan.has_changes:
        return 0
    if expected is not None and deployment_digest(plan) != expected:
        raise StalePlanError(
            f"The deployment plan's digest is {deployment_digest(plan)}, not the reviewed {expected}: the files or "
            "a site changed since the review. Nothing was applied. Make a new plan, review it, and apply with its "
            "digest.")
    for site in plan.sites:
        if site.plan is not None:
            _check_limits(site.plan, allow_mass_delete, allow_overload, f"Site {site.label}: ")
    steps = apply_order(plan)

    def settings_for(site: SitePlan) -> ConnectionSettings:
        if deployment is not None:
            files = next(f for f in deployment.sites if f.label == site.label)
            return site_settings(options, deployment, files)
        site_options = replace(options, server=options.server or plan.server, site=site.site)
        return resolve_settings(site_options, None)

    # The live state each step writes against: the plan's own read, or (a saved plan) a fresh read of every
    # site, checked before the first write.
    lives: dict[str, LiveState] = {s.label: s.result.live for s in plan.sites if s.result is not None}
    if saved is not None:
        for site, check in steps:
            if check and site.plan is not None:
                lives[site.label] = _check_site(site, settings_for(site), output)
    for site, _ in steps:  # every site's, before the first write: a refusal on the last site must write nothing
        assert site.plan is not None
        _check_permissions(site.plan, lives[site.label], f"Site {site.label}: ")
    total = sum(len(s.plan.changes) for s, _ in steps if s.plan is not None)
    if not auto_approve:
        _confirm(total)
    results: list[tuple[str, ApplyResult]] = []
    with ExitStack() as stack:
        signals = stack.enter_context(_Signals())
        journal_file = stack.enter_context(open(journal, "a", encoding="utf-8")) if journal is not None else None
        for site, check in steps:
            assert site.plan is not None
            if not check and any(r.failed or r.skipped for _, r in results):
                output.warn(f"The server schedule deletes ({len(site.plan.changes)}) were not made: a site's changes "
                            "did not all succeed, and deleting a schedule deletes the tasks still on it. Fix the "
                            "failures and run apply again.")
                break
            output.note(f"Applying site {site.label} ({len(site.plan.changes)} change"
                        f"{'s' if len(site.plan.changes) != 1 else ''}) ...")
            result = _apply_site(site.plan, lives[site.label], settings_for(site), output, check=check,
                                 parallelism=parallelism, journal=journal_file, break_lock=break_lock,
                                 signals=signals)
            results.append((site.label, result))
            if signals.received is not None:
                break
    failed = [(label, r) for label, r in results if r.failed or r.skipped]
    for label, result in results:
        output.result(f"Site {label}: {result.summary()}.")
    if signals.received is not None:
        raise ApplyInterrupted(f"Apply interrupted ({signal.Signals(signals.received).name}) after the actions in "
                               "flight finished; run apply again to finish (it plans afresh).", 128 + signals.received)
    if failed:
        for _, result in failed:
            _report_problems(result, output)
        raise ApplyFailed(f"Changes failed on {len(failed)} site(s) ({', '.join(label for label, _ in failed)}); the "
                          "rest were applied. Fix the cause and run apply again: it converges.")
    output.result(f"Apply complete: {len(results)} step(s) on {len({label for label, _ in results})} site(s).")
    return 0


def _check_site(site: SitePlan, settings: ConnectionSettings, output: Output) -> LiveState:
    """A saved plan's site read again: refused (StalePlanError) when anything its plan read changed since."""
    assert site.plan is not None
    with connect(settings, warn=output.warn) as conn:
        try:
            return _reread_site(conn, site.plan, output, other_sites=False)
        except StalePlanError as error:
            raise StalePlanError(f"Site {site.label}: {error}") from error


def _apply_site(plan: Plan, live: LiveState, settings: ConnectionSettings, output: Output, *, check: bool,
                parallelism: int, journal: IO[str] | None, break_lock: bool, signals: _Signals) -> ApplyResult:
    """One step of a deployment's apply: sign in, take the site's lock, check that no task changed since
    ``live`` was read (``check``), apply. A refusal raises before anything on the site is written."""
    with ExitStack() as stack:
        conn = stack.enter_context(connect(settings, warn=output.warn))
        stack.enter_context(ApplyLock(conn, break_lock=break_lock, warn=output.warn))
        if check:
            _check_unchanged(plan, replace(live, tasks=read_tasks(conn)))
        writer = Writer(conn, live.flavor)
        schedule_ids = {s.name: s.id for s in live.schedules if s.id}
        signals.executing = True
        return _execute(plan, writer, schedule_ids, parallelism, journal, output, None, signals.stop)
