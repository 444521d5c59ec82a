"""``reconciler export``: write YAML describing the live site."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from reconciler import __version__
from reconciler.commands.files import atomic_write, check_output_path, created_note
from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import Output
from reconciler.commands.settings import resolve_settings
from reconciler.desired.export import export_yaml
from reconciler.errors import UsageError
from reconciler.gcpause import gc_paused
from reconciler.hints import did_you_mean, suggest
from reconciler.model import LiveState
from reconciler.tableau.connect import connect
from reconciler.tableau.read import read_site


def export(options: ConnectionOptions, *, projects: Sequence[str] = (), output_file: Path | None = None) -> int:
    if output_file is not None:
        check_output_path(output_file, "--output", create=True)
    # A 100,000-task site is millions of objects and almost no reference cycles: the collector's passes
    # over them cost seconds and free next to nothing (docs/benchmarks.md).
    with gc_paused():
        return _export(options, projects=projects, output_file=output_file)


def _export(options: ConnectionOptions, *, projects: Sequence[str] = (), output_file: Path | None = None) -> int:
    output = Output(options.quiet)
    with connect(resolve_settings(options), warn=output.warn) as conn, output.status(
            f"Reading {conn.settings.server} ..."):
        live = read_site(conn, None, schedule_details="used")
    _check_projects(live, projects)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = export_yaml(live, projects, when=when, version=__version__)
    if output_file is None:
        output.result(text)
    else:
        created = atomic_write(output_file, text)
        tasks = sum(1 for _ in live.tasks)
        output.note(f"Wrote {output_file}{created_note(created)} ({tasks} tasks read). Check it with: "
                    f"reconciler plan {output_file}")
    return 0


def _check_projects(live: LiveState, projects: Sequence[str]) -> None:
    """Every --project must name a project of the site: a typo would export an empty file, silently."""
    known = sorted({"/".join(p.path) for p in live.projects} | {"/".join(i.project) for i in live.items if i.project})
    missing = [p for p in projects if p.strip("/") not in known]
    if not missing:
        return
    hints = []
    for name in missing:
        close = did_you_mean(suggest(name.strip("/"), known), name.strip("/"), said="you gave").strip()
        hints.append(f'"{name}"' + (f" ({close})" if close else ""))
    raise UsageError(f"--project {', '.join(hints)}: no such project on this site; nothing was written. Give "
                     "projects by their path, like Sales/Regional.")
