"""The connection flags, as a value (kept free of heavy imports: the CLI builds it for every command)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConnectionOptions:
    """The connection flags every server command takes (flag > environment > file)."""

    server: str | None = None
    site: str | None = None
    api_version: str | None = None
    ca_bundle: Path | None = None
    insecure: bool = False
    debug: bool = False
    quiet: bool = False
