"""``reconciler validate``: offline checks of the desired-state files; never opens a connection."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.desired import load_desired
from reconciler.errors import DesiredStateInvalid, Problem, UsageError
from reconciler.model import DesiredState

__all__ = ["validate"]


def validate(paths: Sequence[str | Path], flavor: str | None = None, quiet: bool = False,
             each: bool = False, configs: Sequence[str | Path] = ()) -> int:
    """Load and check ``paths``; print a one-line summary and return 0, or raise DesiredStateInvalid.

    Normally all paths form one configuration (one site). With ``each``, every path is a configuration
    of its own (a repository that keeps several sites side by side), and every problem of every one is
    reported.
    """
    if flavor is not None and flavor not in ("server", "cloud"):
        raise UsageError(f"--flavor must be server or cloud, not {flavor!r}.")
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


def _s(count: int) -> str:
    return "" if count == 1 else "s"
