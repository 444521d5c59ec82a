"""What the commands share: connection options, resolving them against the files, consoles, progress."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from reconciler.commands.options import ConnectionOptions
from reconciler.errors import UsageError
from reconciler.model import DesiredState
from reconciler.tableau.connect import ConnectionSettings, credentials_from_env, normalise_server_url
from reconciler.tableau.transport import RetryPolicy

__all__ = ["ConnectionOptions", "Output", "atomic_write", "resolve_settings"]

#: Seconds to wait for each answer from the server (default 120).
TIMEOUT_VAR = "RECONCILER_HTTP_TIMEOUT"
#: First backoff between retries, in seconds (default 0.25, doubling per try); for tests.
RETRY_BASE_VAR = "RECONCILER_RETRY_BASE"


def _seconds(env: Mapping[str, str], name: str, default: float, most: float) -> float | None:
    """The number of seconds in ``env[name]``; None when unset (keep the default)."""
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= most:  # also refuses nan and inf
        raise UsageError(f"{name}={text!r} is not a number of seconds between 0 and {most:g}. "
                         f"Unset it, or give a number like {default:g}.")
    return value


_HOST = re.compile(r"^([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)$")


def server_url(text: str) -> str:
    """``tableau.example.com/`` → ``https://tableau.example.com``; a UsageError for anything that is not a
    http(s) URL with a host name (TSC would fail later with a bare ValueError)."""
    url = normalise_server_url(text)
    if "://" in text and not text.split("://", 1)[1].strip().strip("/"):
        url = "https://"  # a scheme and nothing else: no host
    parts = urlsplit(url)
    try:
        port = parts.port
        host = parts.hostname or ""
    except ValueError:
        host, port = "", None
    if not _HOST.match(host) or (port is not None and not 0 < port < 65536) or parts.query or parts.fragment:
        raise UsageError(f"{text!r} is not a Tableau server URL: give it like https://tableau.example.com "
                         "(--server or TABLEAU_SERVER, or server: in the file).")
    return url


def resolve_settings(options: ConnectionOptions, desired: DesiredState | None = None,
                     env: Mapping[str, str] | None = None) -> ConnectionSettings:
    """Connection settings from the flags (typer already folded in TABLEAU_SERVER/TABLEAU_SITE), else the files."""
    server = options.server or (desired.server if desired else None)
    if not server:
        raise UsageError("No Tableau server given. Pass --server URL, set TABLEAU_SERVER, or put server: in the file.")
    site = options.site if options.site is not None else (desired.site if desired and desired.site is not None else "")
    environment = os.environ if env is None else env
    tuning: dict[str, Any] = {}
    timeout = _seconds(environment, TIMEOUT_VAR, 120.0, 3600.0)
    if timeout is not None:
        tuning["timeout"] = timeout
    retry_base = _seconds(environment, RETRY_BASE_VAR, RetryPolicy.base, 60.0)
    if retry_base is not None:
        tuning["retry"] = RetryPolicy(base=retry_base)
    if options.ca_bundle is not None and not options.ca_bundle.is_file():
        raise UsageError(f"--ca-bundle {options.ca_bundle}: no such file. Give the PEM file of the CA that "
                         "signed the server's certificate.")
    return ConnectionSettings(
        server=server_url(server),
        site=site,
        credentials=credentials_from_env(env),
        api_version=options.api_version,
        ca_bundle=str(options.ca_bundle) if options.ca_bundle else None,
        insecure=options.insecure,
        debug=options.debug,
        **tuning,
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
