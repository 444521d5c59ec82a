"""What the commands share: connection options, resolving them against the files, consoles, progress."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from reconciler.commands.options import ConnectionOptions
from reconciler.errors import UsageError
from reconciler.model import DesiredState
from reconciler.tableau.connect import ConnectionSettings, credentials_from_env, normalise_server_url

__all__ = ["ConnectionOptions", "Output", "atomic_write", "resolve_settings"]


def resolve_settings(options: ConnectionOptions, desired: DesiredState | None = None,
                     env: Mapping[str, str] | None = None) -> ConnectionSettings:
    """Connection settings from the flags (typer already folded in TABLEAU_SERVER/TABLEAU_SITE), else the files."""
    server = options.server or (desired.server if desired else None)
    if not server:
        raise UsageError("No Tableau server given. Pass --server URL, set TABLEAU_SERVER, or put server: in the file.")
    site = options.site if options.site is not None else (desired.site if desired and desired.site is not None else "")
    return ConnectionSettings(
        server=normalise_server_url(server),
        site=site,
        credentials=credentials_from_env(env),
        api_version=options.api_version,
        ca_bundle=str(options.ca_bundle) if options.ca_bundle else None,
        insecure=options.insecure,
        debug=options.debug,
    )


class Output:
    """Consoles for one command: results on stdout, progress and notes on stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        no_color = bool(os.environ.get("NO_COLOR"))
        self.out = Console(highlight=False, soft_wrap=True, no_color=no_color)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True, no_color=no_color)

    @property
    def color(self) -> bool:
        return self.out.is_terminal and not self.out.no_color

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal and not self.quiet

    def note(self, message: str) -> None:
        if not self.quiet:
            self.err.print(message, markup=False)

    def warn(self, message: str) -> None:
        self.err.print(f"[bold yellow]Warning:[/bold yellow] {message}", markup=True)

    def result(self, text: str) -> None:
        """Print rendered output (already formatted) on stdout, without rich markup processing."""
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        if self.interactive:
            with self.err.status(message):
                yield
        else:
            yield


def atomic_write(path: Path, text: str) -> None:
    """Write a file so that a crash leaves either the old or the new content, never half of it."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
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
