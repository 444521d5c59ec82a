"""``reconciler validate``: offline checks of the desired-state files; never opens a connection."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.desired import find_deployment, load_deployment, load_desired
from reconciler.errors import DesiredStateInvalid, Problem, UsageError
from reconciler.model import Deployment, DesiredState, site_label

__all__ = ["validate"]


def validate(paths: Sequence[str | Path], flavor: str | None = None, quiet: bool = False,
             each: bool = False, configs: Sequence[str | Path] = (), sites: Sequence[str] = ()) -> int:
    """Load and check ``paths``; print a one-line summary and return 0, or raise DesiredStateInvalid.

    Normally all paths form one configuration (one site). A deployment folder (one holding
    ``deployment.yaml``) given alone is checked whole, with a line per site (``sites`` picks some). With
    ``each``, every path is a configuration of its own (a repository that keeps several sites side by side),
    and every problem of every one is reported.
    """
    if flavor is not None and flavor not in ("server", "cloud"):
        raise UsageError(f"--flavor must be server or cloud, not {flavor!r}.")
    root = None if each or configs else find_deployment(paths)
    if root is not None:
        deployment = load_deployment(root, flavor=flavor, sites=sites)
        if not quiet:
            for note in deployment.notes:
                print(f"Warning: {note}")
            print(_deployment_summary(deployment))
        return 0
    if sites:
        raise UsageError("--site picks sites of a deployment (a folder holding deployment.yaml and sites/); "
                         "these paths are one site's files. Leave --site out.")
    if configs:
        paths, each = _owning(paths, configs), True
    if not each:
        summary = _summary(load_desired(paths, flavor=flavor))
        if not quiet:
            print(summary)
        return 0
    problems: list[Problem] = []
    for path in paths:
        try:
            summary = _summary(load_desired([path], flavor=flavor))
        except DesiredStateInvalid as error:
            problems.extend(error.problems)
            continue
        if not quiet:
            print(f"{path}: {summary}")
    if problems:
        raise DesiredStateInvalid(problems)
    return 0


def _owning(paths: Sequence[str | Path], configs: Sequence[str | Path]) -> list[str | Path]:
    """Each ``--config`` that holds one of ``paths`` (whole), and the paths no ``--config`` holds (as given).

    pre-commit passes only the changed files; a file that uses a schedule declared in another file of its
    configuration must be checked with the whole configuration, not alone.
    """
    roots = [Path(c) for c in configs]
    for root in roots:
        if not root.exists():
            raise UsageError(f"--config {root}: no such file or directory. Give the directory (or file) that "
                             "plan reads as one configuration, like --config tableau/.")
    chosen: list[str | Path] = []
    alone: list[str | Path] = []
    for path in paths:
        real = Path(path).resolve()
        owner = next((root for root in roots if real == root.resolve() or root.resolve() in real.parents), None)
        if owner is None:
            alone.append(path)
        elif owner not in chosen:
            chosen.append(owner)
    return [*chosen, *alone]


def _summary(desired: DesiredState) -> str:
    files = len(desired.files)
    tasks = sum(len(extract.refresh or ()) for extract in desired.extracts)
    where = (f"flavor: {desired.flavor}" if desired.flavor else
             "flavor: not set — rules common to Server and Cloud checked; plan checks the rest")
    return (f"{files} file{_s(files)}: {len(desired.schedules)} schedule{_s(len(desired.schedules))}, "
            f"{len(desired.extracts)} item{_s(len(desired.extracts))}, {tasks} refresh task{_s(tasks)} ({where})")


def _deployment_summary(deployment: Deployment) -> str:
    sites = len(deployment.sites)
    where = (f"flavor: {deployment.flavor}" if deployment.flavor else
             "flavor: not set — rules common to Server and Cloud checked; plan checks the rest")
    kind = "templates" if deployment.flavor == "cloud" else "schedules"
    lines = [f"{deployment.root}: a deployment of {sites} site{_s(sites)}"
             f"{f' on {deployment.server}' if deployment.server else ''}, {len(deployment.files)} "
             f"file{_s(len(deployment.files))}: {len(deployment.schedules)} {kind}"
             + (f", {len(deployment.referenced_schedules)} referenced" if deployment.referenced_schedules else "")
             + f" ({where})"]
    width = max(len(site.label) for site in deployment.sites)
    for site in deployment.sites:
        desired = site.desired
        tasks = [t for extract in desired.extracts for t in extract.refresh or ()]
        used = len({t.schedule for t in tasks if t.schedule})
        files = len(desired.files)
        lines.append(f"  {site.label:<{width}}  {site_label(desired.site or '')}: {files} file{_s(files)}, "
                     f"{len(desired.extracts)} item{_s(len(desired.extracts))}, {len(tasks)} refresh "
                     f"task{_s(len(tasks))} using {used} {kind[:-1] if used == 1 else kind}")
    return "\n".join(lines)


def _s(count: int) -> str:
    return "" if count == 1 else "s"
