"""``reconciler validate``: offline checks of the desired-state files; never opens a connection."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import UsageError
from reconciler.spec import load_desired

__all__ = ["validate"]


def validate(paths: Sequence[str | Path], flavor: str | None = None, quiet: bool = False) -> int:
    """Load and check ``paths``; print a one-line summary and return 0, or raise DesiredStateInvalid."""
    if flavor is not None and flavor not in ("server", "cloud"):
        raise UsageError(f"--flavor must be server or cloud, not {flavor!r}.")
    desired = load_desired(paths, flavor=flavor)
    if not quiet:
        files = len(desired.files)
        tasks = sum(len(extract.refresh or ()) for extract in desired.extracts)
        where = (f"flavor: {desired.flavor}" if desired.flavor else
                 "flavor: not set — rules common to Server and Cloud checked; plan checks the rest")
        print(f"{files} file{_s(files)}: {len(desired.schedules)} schedule{_s(len(desired.schedules))}, "
              f"{len(desired.extracts)} item{_s(len(desired.extracts))}, {tasks} refresh task{_s(tasks)} ({where})")
    return 0


def _s(count: int) -> str:
    return "" if count == 1 else "s"
