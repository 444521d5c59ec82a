"""``reconciler load``: the site's refresh load (heatmap, peaks), pictures, JSON and staggering suggestions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from reconciler.commands.deployment import site_filter
from reconciler.commands.files import atomic_write
from reconciler.commands.history import DEFAULT_HISTORY_DAYS, read_health
from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import Output
from reconciler.commands.settings import resolve_settings
from reconciler.desired import find_deployment, for_flavor, load_deployment, load_desired
from reconciler.errors import UsageError
from reconciler.model import DesiredState
from reconciler.plan import busy_profile, live_starts, make_profile
from reconciler.plan.suggest import Suggestion, suggest_staggering
from reconciler.report.load import (
    LoadReport,
    render_load_html,
    render_load_json,
    render_load_svg,
    render_load_text,
)
from reconciler.tableau.connect import connect
from reconciler.tableau.read import read_site

FORMATS = ("text", "json")
PICTURES = (".html", ".htm", ".svg")


def _deployment_site(root: Path, options: ConnectionOptions) -> tuple[DesiredState, ConnectionOptions]:
    """``load DEPLOY --site NAME``: the load is one site's (its tasks start on the server's backgrounders
    with everyone else's, but a site is what Tableau lets one query of jobs see)."""
    picked = site_filter(options)
    deployment = load_deployment(root, sites=picked)
    if len(deployment.sites) != 1:
        names = ", ".join(s.label for s in deployment.sites)
        raise UsageError(f"load shows one site's refresh load: pick one site of {root} with --site NAME (its "
                         f"sites: {names}).")
    (files,) = deployment.sites
    desired = replace(files.desired, server=files.desired.server or deployment.server)
    return desired, replace(options, site=desired.site or "")


def load(paths: Sequence[Path], options: ConnectionOptions, *, fmt: str = "text", output_file: Path | None = None,
         suggest: bool = False, history_days: int = DEFAULT_HISTORY_DAYS, peaks: int = 5) -> int:
    """Read-only. Exit 0 (1 on error)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    if output_file is not None and output_file.suffix.lower() not in PICTURES:
        raise UsageError(f"--output {output_file}: give a file ending in .html or .svg (a self-contained picture).")
    if suggest and not paths:
        raise UsageError("--suggest proposes changes to the files: give the PATHs of the desired-state files.")
    if not 1 <= peaks <= 50:
        raise UsageError(f"--peaks must be between 1 and 50, not {peaks}.")
    output = Output(options.quiet)
    root = find_deployment(paths) if paths else None
    desired: DesiredState | None
    if root is not None:
        desired, options = _deployment_site(root, options)
    else:
        desired = load_desired(paths) if paths else None
    with connect(resolve_settings(options, desired), warn=output.warn) as conn:
        with output.status(f"Reading {conn.settings.server} ..."):
            live = read_site(conn, desired, flavor=desired.flavor if desired else None, schedule_details="used",
                             other_sites=False)
        health = read_health(conn, live, history_days, output)
    starts, unplaced = live_starts(live)
    profile = make_profile(starts, unplaced)
    busy = busy_profile(profile, health.durations()) if health is not None else None
    limit = desired.policy.max_starts_per_slot if desired is not None else None
    report = LoadReport(live.server, live.site, live.flavor, profile, busy, history_days, limit, peaks)
    if output_file is not None:
        picture = render_load_svg(report) if output_file.suffix.lower() == ".svg" else render_load_html(report)
        atomic_write(output_file, picture)
        output.note(f"Wrote the load picture to {output_file} (self-contained: open it in any browser).")
    if suggest:
        assert desired is not None
        desired = for_flavor(desired, live.flavor)
        suggestion = suggest_staggering(desired, live, profile, limit, peaks)
        output.result(render_patch(suggestion, desired))
        output.note(_suggestion_note(suggestion))
        return 0
    output.result(render_load_json(report) if fmt == "json" else render_load_text(report, color=output.color))
    return 0


def _suggestion_note(s: Suggestion) -> str:
    if not s.moves:
        return (f"No refresh declared in the files can be moved to bring the busiest slots to {s.target} starts "
                "or fewer; nothing to suggest.")
    return (f"Suggested: move {len(s.moves)} refresh{'es' if len(s.moves) != 1 else ''} to "
            f"{len(s.new_schedules)} new schedule{'s' if len(s.new_schedules) != 1 else ''} 15 to 45 minutes "
            f"later (busiest slot {s.peak_before} → {s.peak_after} starts; target {s.target}). Review the patch, "
            "apply it with `git apply` (or by hand), then run reconciler plan.")


_KEY = re.compile(r"^(\s*)(?:-\s+)?")


def _block_end(lines: list[str], first: int) -> int:
    """The index after the YAML block whose key is at ``lines[first]`` (deeper-indented lines follow it)."""
    indent = len(lines[first]) - len(lines[first].lstrip())
    n = first + 1
    while n < len(lines) and (not lines[n].strip() or len(lines[n]) - len(lines[n].lstrip()) > indent):
        n += 1
    while n > first + 1 and not lines[n - 1].strip():
        n -= 1
    return n


def _retime(block: list[str], old_name: str, new_name: str, offset: int) -> list[str]:
    def later(match: re.Match[str]) -> str:
        total = int(match.group(2)) * 60 + int(match.group(3)) + offset
        return f"{match.group(1)}{total // 60:02d}:{total % 60:02d}"

    out = []
    for n, line in enumerate(block):
        if n == 0:
            line = line.replace(old_name, new_name, 1)
        line = re.sub(r"((?:start|end)\s*:\s*[\"']?)(\d{1,2}):(\d{2})", later, line)
        out.append(line)
    return out


def render_patch(suggestion: Suggestion, desired: DesiredState) -> str:
    """A unified diff of the files (``git apply``-able): moved refreshes name their new schedule, and each
    new schedule is a copy of its original declared right after it, starting later."""
    edits: dict[str, dict[int, str]] = {}
    inserts: dict[str, dict[int, list[str]]] = {}
    texts: dict[str, list[str]] = {}

    def lines_of(name: str) -> list[str]:
        if name not in texts:
            texts[name] = Path(name).read_text(encoding="utf-8").splitlines(keepends=True)
        return texts[name]

    for move in suggestion.moves:
        lines = lines_of(move.source.file)
        index = move.source.line - 1
        line = edits.setdefault(move.source.file, {}).get(index, lines[index])
        if move.schedule not in line:  # the refresh spans lines: find its schedule: line
            for k in range(index, min(index + 6, len(lines))):
                if f"schedule: {move.schedule}" in lines[k] or move.schedule in lines[k]:
                    index, line = k, edits[move.source.file].get(k, lines[k])
                    break
        edits[move.source.file][index] = line.replace(move.schedule, move.to, 1)
    schedules = {s.name: s for s in desired.schedules}
    for to, original, offset in suggestion.new_schedules:
        source = schedules[original].source
        if source is None:
            continue
        lines = lines_of(source.file)
        first = source.line - 1
        end = _block_end(lines, first)
        block = _retime(lines[first:end], original, to, offset)
        inserts.setdefault(source.file, {}).setdefault(end, []).extend(block)
    out: list[str] = []
    for name in sorted(set(edits) | set(inserts)):
        before = lines_of(name)
        after: list[str] = []
        for n, line in enumerate(before):
            after.extend(inserts.get(name, {}).get(n, []))
            after.append(edits.get(name, {}).get(n, line))
        after.extend(inserts.get(name, {}).get(len(before), []))
        out.extend(difflib.unified_diff(before, after, fromfile=f"a/{name}", tofile=f"b/{name}"))
    return "".join(out) if out else "# No changes suggested.\n"
