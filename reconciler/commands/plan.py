"""``reconciler plan``: read the site, compare with the files, print (and optionally save) the plan."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from reconciler.commands.deployment import plan_deployment
from reconciler.commands.files import atomic_write, check_output_path, created_note
from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import Output, announce_files
from reconciler.commands.settings import resolve_settings
from reconciler.desired import find_deployment, for_flavor, load_desired
from reconciler.errors import UsageError
from reconciler.gcpause import gc_paused
from reconciler.model import DesiredState, LiveState
from reconciler.plan import PermissionGap, PlanResult, make_plan_result, permission_gaps, plan_digest, plan_to_json
from reconciler.report import render_plan_json, render_plan_markdown, render_plan_text
from reconciler.tableau.connect import Connection, connect
from reconciler.tableau.read import ScheduleDetails, read_site

FORMATS = ("text", "json", "markdown")
MOVE_STRATEGIES = ("rest", "vizportal")


def check_move_strategy(strategy: str) -> None:
    if strategy not in MOVE_STRATEGIES:
        raise UsageError(f"--server-move-strategy must be rest or vizportal, not {strategy!r}.")


def read_and_plan(conn: Connection, desired: DesiredState, output: Output, targets: Sequence[str] = (),
                  details: ScheduleDetails = "declared", *, move_strategy: str = "rest",
                  strict: bool = True) -> PlanResult:
    """Read the site and make the plan: the first half of plan, apply and drift (``strict=False``)."""
    if desired.policy.max_starts_per_slot is not None and details == "declared":
        details = "used"  # a load limit counts every task: read the recurrence of every schedule in use
    with output.status(f"Reading {conn.settings.server} ..."):
        live = read_site(conn, desired, flavor=desired.flavor, schedule_details=details)
    desired = for_flavor(desired, live.flavor)
    made = make_plan_result(desired, live, targets, server_moves=move_strategy, strict=strict)
    # Which files were read, before the plan: a directory that silently read nothing would plan to prune all.
    announce_files(output, made.desired)
    return made


def describe_gaps(live: LiveState, gaps: Sequence[PermissionGap], outcome: str) -> str:
    """One paragraph and a list: who is signed in, and which changes their role does not allow."""
    user = live.user
    who = f"{user.name!r} ({user.role})" if user is not None else "the signed-in user"
    lines = [f"{who} lacks the permission for {len(gaps)} of the planned changes; {outcome}. Run it as an "
             "administrator, or remove these changes from the files:"]
    lines += [f"  {gap.address}: {gap.reason}" for gap in gaps]
    return "\n".join(lines)


def plan(paths: Sequence[Path], options: ConnectionOptions, *, out: Path | None = None, fmt: str = "text",
         detailed_exitcode: bool = False, targets: Sequence[str] = (), move_strategy: str = "rest") -> int:
    # A 100,000-task site is millions of objects and almost no reference cycles: the collector's passes
    # over them cost seconds and free next to nothing (docs/benchmarks.md).
    with gc_paused():
        return _plan(paths, options, out=out, fmt=fmt, detailed_exitcode=detailed_exitcode, targets=targets,
                     move_strategy=move_strategy)


def _plan(paths: Sequence[Path], options: ConnectionOptions, *, out: Path | None = None, fmt: str = "text",
          detailed_exitcode: bool = False, targets: Sequence[str] = (), move_strategy: str = "rest") -> int:
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    check_move_strategy(move_strategy)
    if out is not None:
        check_output_path(out, "--out", create=True)
    root = find_deployment(paths)
    if root is not None:
        return plan_deployment(root, options, out=out, fmt=fmt, detailed_exitcode=detailed_exitcode,
                               targets=targets, move_strategy=move_strategy)
    output = Output(options.quiet)
    desired = load_desired(paths)
    with connect(resolve_settings(options, desired, warn=output.warn), warn=output.warn) as conn:
        made = read_and_plan(conn, desired, output, targets, move_strategy=move_strategy)
        live, result = made.live, made.plan
    if fmt == "json":
        output.result(render_plan_json(result))
    elif fmt == "markdown":
        output.result(render_plan_markdown(result))
    else:
        output.result(render_plan_text(result, color=output.color))
    gaps = permission_gaps(result, live)
    if gaps:
        output.warn(describe_gaps(live, gaps, "apply would be refused"))
    digest = plan_digest(result)
    if out is not None:
        created = atomic_write(out, plan_to_json(result))
        output.note(f"Saved the plan to {out}{created_note(created)}. Apply exactly these changes with: "
                    f"reconciler apply {out}")
    if result.has_changes:
        again = " ".join([*(shlex.quote(str(p)) for p in paths), *(f"--target {shlex.quote(t)}" for t in targets)])
        output.note(f"Plan digest: {digest}\nApply exactly this plan later with: "
                    f"reconciler apply {again} --expect-digest {digest}")
    return 2 if detailed_exitcode and result.has_changes else 0
