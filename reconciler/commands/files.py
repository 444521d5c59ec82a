"""Files a command writes (plans, reports, exports): refused before anything is read when they cannot be
written, then written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reconciler.errors import UsageError

__all__ = ["atomic_write", "check_output_path", "created_note"]


def check_output_path(path: Path, flag: str, create: bool = False) -> None:
    """Refuse, before anything is read or written, a file path that cannot be written: a directory, a file under
    something that is not a directory, or (unless ``create``: the report and plan files, whose directory
    ``atomic_write`` creates and the command then names) a file in a directory that does not exist."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file path inside it, like {path / 'out.txt'}.")
    directory = path.parent if str(path.parent) else Path(".")
    if directory.is_dir():
        return
    existing = next((p for p in (directory, *directory.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UsageError(f"{flag} {path}: {existing} is a file, not a directory; give another path.")
    if not create:
        raise UsageError(f"{flag} {path}: the directory {directory} does not exist. Create it first "
                         f"(mkdir -p {directory}) or give another path.")


def atomic_write(path: Path, text: str) -> Path | None:
    """Write a file so that a crash leaves either the old or the new content, never half of it.

    Returns the directory it had to create for the file (the caller says so), or None.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    created = None if directory.is_dir() else directory
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return created


def created_note(created: Path | None) -> str:
    """`` (created the directory X for it)`` after a file written by atomic_write, or nothing."""
    return f" (created the directory {created} for it)" if created is not None else ""
