"""``reconciler export``: write YAML describing the live site."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from reconciler import __version__
from reconciler.commands.deployment import each_site, site_filter
from reconciler.commands.files import atomic_write, check_output_path, created_note
from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import Output
from reconciler.commands.settings import resolve_settings
from reconciler.desired.export import export_deployment, export_yaml
from reconciler.errors import ReconcilerError, UsageError
from reconciler.gcpause import gc_paused
from reconciler.hints import did_you_mean, suggest
from reconciler.model import LiveState
from reconciler.tableau.connect import connect, session_note
from reconciler.tableau.read import read_site
from reconciler.tableau.sites import list_sites


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


def export_all_sites(options: ConnectionOptions, *, projects: Sequence[str] = (), output_dir: Path | None) -> int:
    """``export --all-sites --output DIR``: every site of the server as a deployment folder."""
    if output_dir is None:
        raise UsageError("--all-sites writes a deployment folder: give it with --output DIR (a new or empty "
                         "directory).")
    if projects:
        raise UsageError("--project picks projects of one site; with --all-sites every site is exported whole. "
                         "Leave out --project, or export one site with --site NAME --project ....")
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise UsageError(f"--output {output_dir} is not an empty directory; nothing was read or written. Give a "
                         "new directory (export never overwrites files).")
    with gc_paused():
        return _export_all_sites(options, output_dir)


def _export_all_sites(options: ConnectionOptions, output_dir: Path) -> int:
    output = Output(options.quiet)
    wanted = site_filter(options)
    home = replace(options, site=wanted[0] if wanted else "")
    with connect(resolve_settings(home), warn=output.warn) as conn:
        sites = list_sites(conn)
    if sites is None:
        raise ReconcilerError(
            "Tableau refused to list the server's sites (Query Sites needs a server administrator); nothing was "
            "written. Export as a server administrator, or each site on its own: reconciler export --site NAME.")
    by_url = {s.content_url: s for s in sites}
    if wanted:
        unknown = [w for w in wanted if w not in by_url]
        if unknown:
            known = ", ".join(repr(s.content_url) for s in sites)
            raise UsageError(f"--site {', '.join(repr(u) for u in unknown)}: no such site on the server (its sites' "
                             f"contentUrls: {known}). Nothing was written.")
        sites = [by_url[w] for w in wanted]
    settings = [resolve_settings(replace(options, site=site.content_url)) for site in sites]
    read: dict[int, LiveState] = {}

    def read_one(n: int, known: LiveState | None) -> LiveState:
        with connect(settings[n], warn=output.warn) as conn:
            read[n] = read_site(conn, None, schedule_details="all" if known is None else "used",
                                server_schedules=known, other_sites=False)
        return read[n]

    note = session_note([(s.site, s.credentials) for s in settings])
    if note:
        output.warn(note)
    with output.status(f"Reading {len(sites)} site{'s' if len(sites) != 1 else ''} ..."):
        each_site(settings, read_one)  # the first site's read takes every server schedule's details
    lives = [("", read[n]) for n in range(len(sites))]
    first = read[0]
    user = first.user
    if first.flavor == "cloud" or user is None or not user.is_server_admin:
        who = f"{user.name!r} ({user.role})" if user is not None else "the signed-in user"
        output.warn(f"{who} is not a server administrator: Tableau lists only the sites they belong to, so the "
                    f"export holds those {len(sites)} site(s) and the server may have more. Export as a server "
                    "administrator to adopt every site." if first.flavor != "cloud" else
                    f"Tableau Cloud lists the sites {who} belongs to: the export holds those {len(sites)} site(s).")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    files = export_deployment(first.server, first.flavor, first.schedules, lives, when=when, version=__version__)
    for name, text in sorted(files.items()):
        atomic_write(output_dir / name, text)
    tasks = sum(len(live.tasks) for _, live in lives)
    output.note(f"Wrote {output_dir}: deployment.yaml and {len(files) - 1} site file(s) ({tasks} tasks read on "
                f"{len(lives)} sites). Check it with: reconciler plan {output_dir}")
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
