"""A deployment's plan: every site's plan, with Tableau Server's schedules planned once for all of them.

On Tableau Server a schedule belongs to the server. Each site is planned with ``own_schedules=False``: its tasks
use the deployment's schedules by name, and nothing about the schedules is planned there. One site, the
*schedule owner* (the first site read), is then planned with the schedules: creates and updates of the declared
ones, and the undeclared ones listed or pruned, knowing exactly how many tasks every site will have on each
schedule once the other sites' plans are applied. Its plan carries the server schedule changes; reports show
them as the deployment's own section. Apply runs the owner's schedule creates and updates first, then every
site's changes, then the owner's schedule deletes (only when every site was applied in full).

On Tableau Cloud there are no server schedules: the sites are planned independently.

Tasks on sites outside the deployment come from ``outside`` (counted site by site by the reader); when they are
unknown (a site the user may not enter), no schedule is pruned and updates say so.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler.errors import ReconcilerError
from reconciler.model import Deployment, LiveState, Policy, SiteFiles, site_label

from .fingerprint import fingerprint, observe, usage_key
from .make import PlanResult, make_plan_result
from .types import Action, Phase, Plan, ResourceChange, ScheduleTarget, TaskTarget

__all__ = ["DeploymentPlan", "SitePlan", "make_deployment_plan", "schedule_use_after", "server_changes", "split_owner"]


@dataclass(frozen=True)
class SitePlan:
    """One site of a deployment: its plan, or the error that kept it from being planned (never both)."""

    label: str
    #: The site's contentUrl ("" is the Default site).
    site: str
    plan: Plan | None = None
    error: str | None = None
    #: What the plan was made from (None for a saved plan read back).
    result: PlanResult | None = field(default=None, compare=False)

    @property
    def title(self) -> str:
        return f"{self.label} ({site_label(self.site)})" if self.label != self.site else site_label(self.site)


@dataclass(frozen=True)
class DeploymentPlan:
    """Every site's plan, in the deployment's order; ``owner`` names the site whose plan holds the server
    schedule changes (Tableau Server; None on Cloud or when no site could be planned)."""

    server: str
    flavor: str
    sites: tuple[SitePlan, ...]
    owner: str | None = None
    #: Said once for the whole run: sites read one after another because they share a token, sites outside
    #: the deployment that could not be counted.
    warnings: tuple[str, ...] = ()
    has_changes: bool = field(init=False)
    #: True when a site could not be read or planned.
    failed: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "has_changes", any(s.plan is not None and s.plan.has_changes for s in self.sites))
        object.__setattr__(self, "failed", any(s.error is not None for s in self.sites))

    def site(self, label: str) -> SitePlan | None:
        return next((s for s in self.sites if s.label == label), None)

    @property
    def owner_plan(self) -> Plan | None:
        found = self.site(self.owner) if self.owner is not None else None
        return found.plan if found is not None else None


def schedule_use_after(plan: Plan, live: LiveState) -> dict[str, int]:
    """How many tasks of the site each schedule will hold once ``plan`` is applied (Tableau Server)."""
    use: dict[str, int] = {}
    for task in live.tasks:
        if task.schedule is not None:
            use[task.schedule] = use.get(task.schedule, 0) + 1
    for change in plan.changes:
        if change.kind != "task":
            continue
        if change.action in (Action.DELETE, Action.MOVE) and change.before is not None:
            name = str(change.before.get("schedule"))
            use[name] = use.get(name, 0) - 1
        if change.action in (Action.CREATE, Action.MOVE):
            name = TaskTarget.of(change).schedule_name or str((change.after or {}).get("schedule") or "")
            if name:
                use[name] = use.get(name, 0) + 1
    return {name: count for name, count in use.items() if count > 0}


def _error_text(error: Exception) -> str:
    return str(error).strip() or type(error).__name__


def make_deployment_plan(
    deployment: Deployment,
    reads: Sequence[tuple[SiteFiles, LiveState | ReconcilerError]],
    outside: Mapping[str, Mapping[str, int]] | None = None,
    targets: Sequence[str] = (),
    *,
    server_moves: str = "rest",
    strict: bool = True,
    warnings: Sequence[str] = (),
    outside_known: Collection[str] | None = None,
    outside_unknown: str = "",
) -> DeploymentPlan:
    """Plan every site of ``deployment`` from its read (or the error that stopped it).

    ``outside``: for the sites of the server the deployment does not describe, site label → schedule name →
    tasks, for the schedules in ``outside_known`` (None: every one); any other schedule's total is unknown (None:
    none could be counted, so nothing is pruned; ``outside_unknown`` says why). A site whose
    plan fails (an unknown item, a refused change) carries its error; the others are planned all the same.
    """
    flavor = deployment.flavor or next((r.flavor for _, r in reads if isinstance(r, LiveState)), "server")
    server = next((r.server for _, r in reads if isinstance(r, LiveState)), deployment.server or "")
    planned: dict[str, SitePlan] = {}
    lives: dict[str, LiveState] = {}
    for files, read in reads:
        if isinstance(read, LiveState):
            lives[files.label] = read
        else:
            planned[files.label] = SitePlan(files.label, files.desired.site or "", error=_error_text(read))
    owner = next(iter(lives), None) if flavor != "cloud" else None
    for files, _ in reads:
        if files.label in lives and files.label != owner:
            planned[files.label] = _plan_site(files, lives[files.label], targets, server_moves, strict,
                                              own_schedules=flavor == "cloud")
    notes = list(warnings)
    if owner is not None:
        files = next(f for f, _ in reads if f.label == owner)
        counted = len(planned) == len(reads) - 1 and not any(p.error for p in planned.values()) \
            and outside is not None
        others = _other_use(planned, lives, outside if counted else None)
        if not counted:
            why = outside_unknown or ("a site of the deployment could not be read or planned" if outside is not None
                                      else "the server's sites outside the deployment were not counted")
            notes.append(f"Not every site's tasks on the server schedules could be counted ({why}): no server "
                         "schedule is pruned, and an update cannot say how many tasks it touches on every site.")
        planned[owner] = _plan_owner(deployment, files, lives[owner], others, outside_known, targets, server_moves,
                                     strict)
        planned = _observe_pruned_use(planned, lives, owner)
    return DeploymentPlan(
        server=server, flavor=flavor,
        sites=tuple(planned[f.label] for f, _ in reads),
        owner=owner if owner is not None and planned[owner].plan is not None else None,
        warnings=tuple(notes),
    )


def _plan_site(files: SiteFiles, live: LiveState, targets: Sequence[str], server_moves: str, strict: bool, *,
               own_schedules: bool) -> SitePlan:
    site = files.desired.site or ""
    try:
        result = make_plan_result(files.desired, live, targets, server_moves=server_moves, strict=strict,
                                  own_schedules=own_schedules, site_name=files.label)
    except ReconcilerError as error:
        return SitePlan(files.label, site, error=_error_text(error))
    return SitePlan(files.label, site, plan=result.plan, result=result)


def _other_use(planned: Mapping[str, SitePlan], lives: Mapping[str, LiveState],
               outside: Mapping[str, Mapping[str, int]] | None) -> dict[str, dict[str, int]] | None:
    """Schedule name → site label → tasks on it once the other sites' plans are applied (None: unknown)."""
    if outside is None:
        return None
    use: dict[str, dict[str, int]] = {}
    for label, counts in outside.items():
        for name, count in counts.items():
            if count:
                use.setdefault(name, {})[label] = count
    for label, site in planned.items():
        assert site.plan is not None
        for name, count in schedule_use_after(site.plan, lives[label]).items():
            use.setdefault(name, {})[label] = count
    return use


def _plan_owner(deployment: Deployment, files: SiteFiles, live: LiveState,
                others: Mapping[str, Mapping[str, int]] | None, known: Collection[str] | None,
                targets: Sequence[str], server_moves: str, strict: bool) -> SitePlan:
    """The owner site's plan, with the server schedules: the deployment's policy prunes them, and the other
    sites' use of each (after their plans) tells whether anything would still hang on it. Only the schedules
    in ``known`` (None: all) have a total: the others' tasks outside the deployment were not counted."""
    policy: Policy = replace(files.desired.policy, prune_schedules=deployment.policy.prune)
    files = replace(files, desired=replace(files.desired, policy=policy))
    counted = live
    if others is not None:
        names = sorted(name for name in {s.name for s in live.schedules} | set(others)
                       if known is None or name in known)
        counted = replace(
            live,
            shared_schedule_tasks=tuple((name, sum(others.get(name, {}).values())) for name in names),
            shared_by_site=tuple((name, tuple(sorted(others[name].items()))) for name in names if others.get(name)),
        )
    site = _plan_site(files, counted, targets, server_moves, strict, own_schedules=True)
    if site.result is None or site.plan is None or counted is live:
        return site
    # The saved plan is checked against the owner site read alone: its fingerprint must not hold the other
    # sites' counts (each of those sites' plans observes its own use of the pruned schedules instead).
    observed = observe(live, site.plan.observed)
    plan = replace(site.plan, observed=observed,
                   fingerprint=fingerprint(live.server, live.site_id, live.api_version, observed))
    return replace(site, plan=plan, result=replace(site.result, plan=plan, live=live))


def _observe_pruned_use(planned: dict[str, SitePlan], lives: Mapping[str, LiveState],
                        owner: str) -> dict[str, SitePlan]:
    """Every site's plan also observes its tasks on the schedules the owner deletes: a task added on any site
    after the plan makes a saved plan stale, instead of being deleted with its schedule."""
    owner_plan = planned[owner].plan
    if owner_plan is None:
        return planned
    deleted = [ScheduleTarget.of(c).name for c in owner_plan.changes
               if c.kind == "schedule" and c.action is Action.DELETE]
    if not deleted:
        return planned
    out = dict(planned)
    for label, site in planned.items():
        if label == owner or site.result is None or site.plan is None:
            continue
        live = lives[label]
        plan = site.plan
        keys = {*plan.observed, *(usage_key(name) for name in deleted)}
        observed = observe(live, keys)
        plan = replace(plan, observed=observed,
                       fingerprint=fingerprint(live.server, live.site_id, live.api_version, observed))
        out[label] = replace(site, plan=plan, result=replace(site.result, plan=plan))
    return out


def server_changes(plan: Plan) -> tuple[ResourceChange, ...]:
    """The owner plan's server schedule changes (the deployment's own section in reports)."""
    return tuple(c for c in plan.changes if c.kind == "schedule")


def split_owner(plan: Plan) -> tuple[Plan, Plan]:
    """The owner's plan as (everything but the schedule deletes, the schedule deletes): apply runs the second
    only after every site's changes."""
    last = tuple(c for c in plan.changes if c.phase == Phase.SCHEDULE_DELETES)
    first = tuple(c for c in plan.changes if c.phase != Phase.SCHEDULE_DELETES)
    return replace(plan, changes=first), replace(plan, changes=last)
