"""``reconciler validate``: offline checks of the desired-state files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import ReconcilerError


def validate(paths: Sequence[Path], flavor: str | None = None, quiet: bool = False) -> int:
    raise ReconcilerError("`reconciler validate` is not implemented yet.")
