"""make_plan: the pure function (desired, live) → Plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from operator import attrgetter

from reconciler.errors import PlanError
from reconciler.gcpause import gc_paused
from reconciler.model import DesiredState, LiveState

from .addresses import schedule_address
from .context import Context, Draft, UnmanagedDraft, jsonable
from .encryption import plan_encryption
from .fingerprint import fingerprint, observe
from .load import plan_load
from .policy import check_protect, select_targets
from .resolve import Managed, check_scope, resolve_extracts
from .schedules import plan_schedules
from .tasks import plan_tasks, prune_tasks
from .types import FORMAT_VERSION, KINDS, Action, Plan, ResourceChange, TaskTarget, Unmanaged

__all__ = ["PlanResult", "make_plan", "make_plan_result"]

_KIND_ORDER = {kind: n for n, kind in enumerate(KINDS)}
_ADDRESS = attrgetter("address")


@dataclass(frozen=True)
class PlanResult:
    """A plan with what it was made from: the drift report reads the same resolution, not a second one."""

    plan: Plan
    desired: DesiredState
    live: LiveState
    #: The files' extract entries resolved to live items (``resolve_extracts``), in the files' order.
    managed: tuple[Managed, ...]


def make_plan(desired: DesiredState, live: LiveState, targets: Sequence[str] = (), *,
              server_moves: str = "rest", strict: bool = True, own_schedules: bool = True,
              site_name: str | None = None) -> Plan:
    """``make_plan_result(...).plan``: the plan alone."""
    return make_plan_result(desired, live, targets, server_moves=server_moves, strict=strict,
                            own_schedules=own_schedules, site_name=site_name).plan


def make_plan_result(desired: DesiredState, live: LiveState, targets: Sequence[str] = (), *,
                     server_moves: str = "rest", strict: bool = True, own_schedules: bool = True,
                     site_name: str | None = None) -> PlanResult:
    """Compare the declared state with the live site and return the changes that reconcile them.

    ``desired`` must already be resolved for ``live.flavor`` (Cloud tasks carry their recurrence).
    ``targets`` are ``--target`` selectors (``schedule:NAME``, ``datasource:PATH``, ``workbook:PATH``,
    ``project:PATH``, ``site``): only changes touching them, and what those depend on, are kept.

    Raises PlanError, listing every problem at once, when the files cannot be planned against this
    site: unknown items or schedules (with close matches), a delete of a protected object, an
    encrypt flag the site's mode forbids, a declared item outside ``policy.scope``, a bad selector,
    a refresh task on an item without an extract, or a change Tableau's REST API cannot make on
    Tableau Server (creating an incremental task, changing a task's type, or, with
    ``server_moves="rest"``, moving an incremental task). With ``strict=False`` (drift) those last
    changes stay in the plan with the reason as a warning.

    ``own_schedules=False`` (a site of a deployment on Tableau Server, whose server schedules another plan owns:
    ``plan/deployment.py``): the declared schedules are used by name, never created, changed or pruned here.
    ``site_name`` names this site where the plan counts the tasks of several (a deployment's site label;
    default "this site").
    """
    with gc_paused():
        return _make_plan(desired, live, targets, server_moves, strict, own_schedules, site_name)


def _make_plan(desired: DesiredState, live: LiveState, targets: Sequence[str], server_moves: str,
               strict: bool, own_schedules: bool, site_name: str | None) -> PlanResult:
    check_scope(desired, live)
    ctx = Context(desired, live, resolve_extracts(desired, live), server_moves=server_moves, strict=strict,
                  own_schedules=own_schedules, site_name=site_name)
    encryption = plan_encryption(ctx)
    tasks = plan_tasks(ctx)
    pruned, unmanaged_tasks = prune_tasks(ctx)
    schedules, unmanaged_schedules = plan_schedules(ctx, tasks + pruned)
    drafts = _link([*encryption, *schedules, *tasks, *pruned])
    check_protect(ctx, drafts)
    if ctx.problems:
        raise PlanError("\n".join(message for _, message in sorted(ctx.problems)))
    drafts, unmanaged = select_targets(ctx, targets, drafts, [*unmanaged_schedules, *unmanaged_tasks])

    changes = tuple(sorted(
        (_normalised(d.change) for d in drafts),
        key=lambda c: (c.phase, KINDS.index(c.kind), c.address),
    ))
    observed = observe(live, ctx.observed)
    warnings = list(ctx.warnings)
    deletes = sum(1 for c in changes if c.action.deletes)
    if deletes > desired.policy.max_deletes:
        warnings.append(
            f"The plan deletes {deletes} objects, more than policy.max_deletes ({desired.policy.max_deletes}): "
            "apply will refuse it unless explicitly allowed (--allow-mass-delete)."
        )
    load = plan_load(live, changes, desired.policy.max_starts_per_slot)
    if load is not None and load.exceeds:
        worst = max(load.over_limit, key=lambda s: s.after)
        over = sum(len(s.slots) for s in load.over_limit)
        warnings.append(
            f"The plan makes {over} 15-minute slot{'s' if over != 1 else ''} of the week start more "
            f"refreshes than policy.load.max_starts_per_slot ({load.max_starts_per_slot}): {worst.when} goes from "
            f"{worst.before} to {worst.after}. Apply will refuse it unless explicitly allowed (--allow-overload); "
            "stagger the start times instead (reconciler load --suggest proposes some)."
        )
    plan = Plan(
        format_version=FORMAT_VERSION,
        server=live.server,
        site=live.site,
        site_id=live.site_id,
        api_version=live.api_version,
        flavor=live.flavor,
        changes=changes,
        unmanaged=_sorted_unmanaged(unmanaged),
        warnings=tuple(sorted(set(warnings))),
        fingerprint=fingerprint(live.server, live.site_id, live.api_version, observed),
        observed=observed,
        max_deletes=desired.policy.max_deletes,
        load=load,
    )
    return PlanResult(plan, desired, live, ctx.managed)


def _sorted_unmanaged(drafts: Sequence[UnmanagedDraft]) -> tuple[Unmanaged, ...]:
    """Every unmanaged entry, by kind (in ``KINDS`` order) then address: one sort per kind, by address
    alone (the same order as sorting by (kind, address); a site may have 100,000 of them)."""
    by_kind: dict[str, list[Unmanaged]] = {}
    for draft in drafts:
        for entry in (draft.entry, *draft.more):
            by_kind.setdefault(entry.kind, []).append(entry)
    return tuple(entry for kind in sorted(by_kind, key=_KIND_ORDER.__getitem__)
                 for entry in sorted(by_kind[kind], key=_ADDRESS))


def _link(drafts: list[Draft]) -> list[Draft]:
    """Fill in depends_on: a task on a schedule created in this plan waits for the schedule; a task
    delete waits for the same item's creates, moves and replaces (never a window with no refresh)."""
    created = {d.change.address for d in drafts if d.change.kind == "schedule" and d.change.action is Action.CREATE}
    arrivals: dict[tuple[str, str], list[str]] = {}
    for d in drafts:
        c = d.change
        if isinstance(c.target, TaskTarget) and c.action in (Action.CREATE, Action.MOVE, Action.REPLACE):
            arrivals.setdefault((c.target.item_kind, c.target.item_id), []).append(c.address)
    out = []
    for d in drafts:
        c = d.change
        extra: list[str] = []
        if (isinstance(c.target, TaskTarget) and c.action in (Action.CREATE, Action.MOVE)
                and c.target.schedule_name is not None):
            address = schedule_address(c.target.schedule_name)
            if address in created:
                extra.append(address)
        if isinstance(c.target, TaskTarget) and c.action is Action.DELETE:
            extra.extend(arrivals.get((c.target.item_kind, c.target.item_id), []))
        if extra:
            c = replace(c, depends_on=tuple(sorted({*c.depends_on, *extra})))
        out.append(Draft(c, d.touches))
    return out


def _has_tuples(value: object) -> bool:
    if isinstance(value, tuple):
        return True
    if isinstance(value, dict):
        return any(_has_tuples(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_tuples(v) for v in value)
    return False


def _normalised(change: ResourceChange) -> ResourceChange:
    """Plain JSON values everywhere (lists, not tuples), sorted dependencies: a plan survives a round trip."""
    depends_on = tuple(sorted(set(change.depends_on)))
    values = [change.before, change.after, *([f.before, f.after] for f in change.changes)]
    if depends_on == change.depends_on and not _has_tuples(values):
        return change
    before = jsonable(change.before)
    after = jsonable(change.after)
    return replace(
        change,
        before=before if isinstance(before, dict) else None,
        after=after if isinstance(after, dict) else None,
        changes=tuple(replace(f, before=jsonable(f.before), after=jsonable(f.after)) for f in change.changes),
        depends_on=depends_on,
    )
