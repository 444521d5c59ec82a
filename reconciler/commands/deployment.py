"""``plan``, ``apply`` and ``drift`` over a whole deployment: every site in one run, one report, one exit code.

Sites are read concurrently, each with its own session; sites that share one personal access token are read one
after another (a second sign-in with a token ends its first session). Apply runs site by site: the server
schedules' creates and updates first, then every site's changes, then the schedule deletes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler.commands.files import atomic_write, created_note
from reconciler.commands.history import check_history_days, read_health
from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import Output
from reconciler.commands.settings import resolve_settings
from reconciler.desired import load_deployment
from reconciler.errors import ReconcilerError, UsageError
from reconciler.gcpause import gc_paused
from reconciler.model import Deployment, LiveState, SiteFiles
from reconciler.plan import HealthReport, make_drift
from reconciler.plan.deployment import DeploymentPlan, SitePlan, make_deployment_plan, split_owner
from reconciler.plan.serialize import deployment_digest, deployment_to_json
from reconciler.report.deployment import (
    SiteDrift,
    render_deployment_drift_json,
    render_deployment_drift_junit,
    render_deployment_drift_markdown,
    render_deployment_drift_text,
    render_deployment_json,
    render_deployment_markdown,
    render_deployment_text,
)
from reconciler.tableau.connect import ConnectionSettings, connect, session_groups, session_note
from reconciler.tableau.read import ScheduleDetails, count_outside, read_site

__all__ = [
    "DeploymentRead",
    "apply_order",
    "drift_deployment",
    "each_site",
    "make_from_files",
    "plan_deployment",
    "read_deployment",
    "site_filter",
    "site_settings",
]

#: Sites read at once (each read has its own requests in flight too).
SITE_PARALLELISM = 8


def site_filter(options: ConnectionOptions) -> tuple[str, ...]:
    """``--site a,b`` (or TABLEAU_SITE) picks sites of a deployment by label or contentUrl."""
    if options.site is None:
        return ()
    return tuple(part.strip() for part in options.site.split(",") if part.strip()) or ("",)


def load(root: Path, options: ConnectionOptions, output: Output) -> Deployment:
    deployment = load_deployment(root, sites=site_filter(options))
    for note in deployment.notes:
        output.warn(note)
    shown = ", ".join(s.label for s in deployment.sites)
    picked = " picked by --site/TABLEAU_SITE" if site_filter(options) else ""
    output.note(f"Read the deployment {root}: {len(deployment.files)} files, {len(deployment.sites)} site"
                f"{'s' if len(deployment.sites) != 1 else ''}{picked} ({shown})")
    return deployment


def site_settings(options: ConnectionOptions, deployment: Deployment, files: SiteFiles) -> ConnectionSettings:
    """The connection to one site: the deployment's server (or --server), the site's contentUrl."""
    site_options = replace(options, site=files.desired.site or "")
    return resolve_settings(site_options, replace(files.desired, server=deployment.server or files.desired.server))


@dataclass(frozen=True)
class DeploymentRead:
    """Every site's read (or its error), in the deployment's order."""

    reads: tuple[tuple[SiteFiles, LiveState | ReconcilerError], ...]
    #: Drift: each site's job-history health (None: not read).
    health: dict[str, HealthReport | None]
    warnings: tuple[str, ...]
    #: Tasks per schedule on the server's sites outside the deployment (``make_deployment_plan``'s ``outside``,
    #: for the schedules in ``outside_known``, None: all); None with ``outside_unknown`` saying why when they
    #: could not be counted.
    outside: dict[str, dict[str, int]] | None = None
    outside_known: frozenset[str] | None = None
    outside_unknown: str = ""


def each_site(settings: Sequence[ConnectionSettings],
              read: Callable[[int, LiveState | None], LiveState | None]) -> None:
    """Call ``read(n, first)`` for every site of ``settings``: the first alone, since its read takes the server
    schedules (server-wide on Tableau Server) that the others reuse (``first``: its read, None if it failed);
    then the others, the groups of ``session_groups`` at the same time, the sites of a group in turn (they
    share a personal access token, which holds one session at a time)."""
    first = read(0, None)
    index = {s.site: n for n, s in enumerate(settings)}

    def read_group(group: list[str]) -> None:
        for url in group:
            if index[url]:
                read(index[url], first)

    groups = session_groups([(s.site, s.credentials) for s in settings])
    with ThreadPoolExecutor(max_workers=max(1, min(SITE_PARALLELISM, len(groups))), thread_name_prefix="site") as pool:
        list(pool.map(read_group, groups))


def read_deployment(deployment: Deployment, options: ConnectionOptions, output: Output, *,
                    details: ScheduleDetails = "declared", history_days: int = 0) -> DeploymentRead:
    """Read every site of the deployment; a site that fails carries its error, the others are read all the same."""
    if not deployment.sites:
        raise UsageError(f"The deployment {deployment.root} has no site to read: add a file or folder under sites/.")
    settings = [site_settings(options, deployment, f) for f in deployment.sites]
    inside = [f.desired.site or "" for f in deployment.sites]
    warning = session_note([(s.site, s.credentials) for s in settings])
    results: dict[int, LiveState | ReconcilerError] = {}
    health: dict[str, HealthReport | None] = {}
    outside: list[tuple[dict[str, dict[str, int]] | None, frozenset[str] | None, str]] = [
        (None, None, "the first site could not be read")]
    done: list[str] = []

    def read_one(n: int, known: LiveState | None) -> LiveState | None:
        files = deployment.sites[n]
        say(f"Reading site {files.label} ({len(done) + 1} of {len(deployment.sites)}) ...")
        try:
            with connect(settings[n], warn=output.warn) as conn:
                live = read_site(conn, files.desired, flavor=deployment.flavor, schedule_details=details,
                                 server_schedules=known, other_sites=False)
                if n == 0:
                    # The server's sites outside the deployment, counted on this session (Switch Site), for
                    # the schedules the plan may change or delete.
                    owner = replace(files.desired, policy=replace(files.desired.policy,
                                                                  prune_schedules=deployment.policy.prune))
                    outside[0] = count_outside(conn, live, owner, inside)
                if history_days:
                    health[files.label] = read_health(conn, live, history_days, Output(quiet=True))
            results[n] = live
        except ReconcilerError as error:
            results[n] = error
        done.append(files.label)
        read = results[n]
        return read if isinstance(read, LiveState) else None

    total = len(deployment.sites)
    doing = f"Reading {total} site{'s' if total != 1 else ''} of {deployment.server or 'the server'} ..."
    with output.status(doing) as say:
        each_site(settings, read_one)
    reads = tuple((f, results[n]) for n, f in enumerate(deployment.sites))
    return DeploymentRead(reads, health, (warning,) if warning else (), *outside[0])


def _render(plan: DeploymentPlan, fmt: str, color: bool) -> str:
    if fmt == "json":
        return render_deployment_json(plan)
    if fmt == "markdown":
        return render_deployment_markdown(plan)
    return render_deployment_text(plan, color=color)


def make_from_files(root: Path, options: ConnectionOptions, output: Output, targets: Sequence[str], move_strategy: str,
          *, strict: bool = True) -> tuple[Deployment, DeploymentRead, DeploymentPlan]:
    deployment = load(root, options, output)
    read = read_deployment(deployment, options, output)
    plan = make_deployment_plan(deployment, read.reads, read.outside, targets, server_moves=move_strategy,
                                strict=strict, warnings=read.warnings, outside_known=read.outside_known,
                                outside_unknown=read.outside_unknown)
    return deployment, read, plan


def plan_deployment(root: Path, options: ConnectionOptions, *, out: Path | None, fmt: str,
                    detailed_exitcode: bool, targets: Sequence[str], move_strategy: str) -> int:
    output = Output(options.quiet)
    with gc_paused():
        _, _, plan = make_from_files(root, options, output, targets, move_strategy)
    output.result(_render(plan, fmt, output.color))
    digest = deployment_digest(plan)
    if plan.failed:
        failed = [s.label for s in plan.sites if s.error is not None]
        output.warn(f"{len(failed)} site{'s' if len(failed) != 1 else ''} could not be planned ({', '.join(failed)}): "
                    "see each one's error above. The other sites' plans stand; apply refuses a deployment plan with "
                    "a failed site (pick the others with --site).")
        if out is not None:
            output.warn(f"The plan was not saved to {out}: a saved plan must cover every site it names.")
        return 1
    if out is not None:
        created = atomic_write(out, deployment_to_json(plan))
        output.note(f"Saved the plan to {out}{created_note(created)}. Apply exactly these changes with: "
                    f"reconciler apply {out}")
    if plan.has_changes:
        output.note(f"Plan digest: {digest}\nApply exactly this plan later with: "
                    f"reconciler apply {root} --expect-digest {digest}")
    return 2 if detailed_exitcode and plan.has_changes else 0


DRIFT_FORMATS = ("text", "json", "markdown", "junit")


def drift_deployment(root: Path, options: ConnectionOptions, *, fmt: str, output_file: Path | None,
                     fail_on_unhealthy: bool, history_days: int) -> int:
    """Exit 0 when every site is in sync, 2 when one drifted, 1 when one could not be read."""
    check_history_days(history_days)  # read per site, where a usage error would pass for that site's failure
    output = Output(options.quiet)
    with gc_paused():
        deployment = load(root, options, output)
        read = read_deployment(deployment, options, output, history_days=history_days)
        plan = make_deployment_plan(deployment, read.reads, read.outside, strict=False, warnings=read.warnings,
                                    outside_known=read.outside_known, outside_unknown=read.outside_unknown)
        sites = [_site_drift(s, read.health.get(s.label), fail_on_unhealthy) for s in plan.sites]
    if fmt == "json":
        text = render_deployment_drift_json(sites, plan.owner)
    elif fmt == "markdown":
        text = render_deployment_drift_markdown(sites, plan.owner)
    elif fmt == "junit":
        text = render_deployment_drift_junit(sites, plan.owner)
    else:
        text = render_deployment_drift_text(sites, plan.owner, color=output.color and output_file is None)
    if output_file is not None:
        created = atomic_write(output_file, text)
        output.note(f"Wrote the drift report to {output_file}{created_note(created)}.")
        if fmt != "text":
            output.result(render_deployment_drift_text(sites, plan.owner, color=output.color))
    else:
        output.result(text)
    for warning in plan.warnings:
        output.warn(warning)
    if any(s.report is None for s in sites):
        return 1
    return 2 if any(s.report is not None and s.report.drifted for s in sites) else 0


def _site_drift(site: SitePlan, health: HealthReport | None, fail_on_unhealthy: bool) -> SiteDrift:
    if site.result is None:
        return SiteDrift(site.label, site.site, error=site.error)
    return SiteDrift(site.label, site.site, make_drift(site.result, health, unhealthy_fails=fail_on_unhealthy))


def apply_order(plan: DeploymentPlan) -> list[tuple[SitePlan, bool]]:
    """(site, check its fingerprint) in the order apply runs them: the owner without its schedule deletes, the
    other sites, then the owner's schedule deletes (its site changed since the read: not checked again)."""
    owner = plan.site(plan.owner) if plan.owner is not None else None
    steps: list[tuple[SitePlan, bool]] = []
    deletes: SitePlan | None = None
    if owner is not None and owner.plan is not None:
        first, last = split_owner(owner.plan)
        steps.append((replace(owner, plan=first), True))
        if last.changes:
            deletes = replace(owner, plan=last)
    steps += [(s, True) for s in plan.sites if s is not owner and s.plan is not None]
    if deletes is not None:
        steps.append((deletes, False))
    return [(s, check) for s, check in steps if s.plan is not None and s.plan.has_changes]
