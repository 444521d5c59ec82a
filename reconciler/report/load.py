"""The site's refresh load as a terminal heatmap, JSON, a self-contained HTML page or an SVG picture.

Rows are weekdays, columns hours (terminal) or 15-minute slots (pictures). The value is refresh
starts, or, with the job history's durations, refreshes running at once (the backgrounders' busy
time). Pictures need no network when viewed: inline CSS and SVG, no script, no external reference.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from io import StringIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reconciler.model import WEEKDAYS
from reconciler.plan import LoadProfile, slot_label
from reconciler.plan.load import SLOT_MINUTES, SLOTS_PER_DAY, describe_slots

from ._format import site_title

__all__ = ["LOAD_FORMAT_VERSION", "LoadReport", "PeakGroup", "load_to_dict", "render_load_html", "render_load_json",
           "render_load_svg", "render_load_text"]

LOAD_FORMAT_VERSION = "1"
#: Light to dark: no load is left blank.
PALETTE = ("#fff7ec", "#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#990000")
_TERMINAL = ("grey23", "dark_olive_green3", "yellow3", "orange3", "dark_orange", "orange_red1", "red3", "red1")
_DAYS = tuple(d[:3].capitalize() for d in WEEKDAYS)
#: Tasks listed under each peak slot.
PEAK_TASKS_SHOWN = 8


@dataclass(frozen=True)
class PeakGroup:
    """Busy slots at one time of day (``when``: ``Mon-Fri 08:00``) with the same starts and tasks."""

    when: str
    slots: tuple[int, ...]
    starts: int
    running: float | None
    tasks: tuple[str, ...]


def _peak_groups(profile: LoadProfile, busy: tuple[float, ...] | None, count: int) -> tuple[PeakGroup, ...]:
    groups: dict[tuple[int, int, tuple[str, ...]], list[int]] = {}
    # Visit the busiest slots in order until `count` groups are complete (a week repeats itself: a
    # group has at most 7 slots, so 7 x count slots always suffice).
    for slot in profile.top_slots(7 * count):
        tasks = tuple(sorted(s.label for s in profile.tasks_at(slot)))
        key = (slot % SLOTS_PER_DAY, profile.peaks[slot], tasks)
        if key not in groups and len(groups) >= count:
            continue
        groups.setdefault(key, []).append(slot)
    out = []
    for (_, starts, tasks), slots in groups.items():
        running = max(busy[n] for n in slots) if busy is not None else None
        out.append(PeakGroup(describe_slots(slots), tuple(sorted(slots)), starts, running, tasks))
    return tuple(sorted(out, key=lambda g: (-g.starts, g.slots[0])))


@dataclass(frozen=True)
class LoadReport:
    """What ``reconciler load`` shows. ``busy`` (refreshes running per slot) needs the job history."""

    server: str
    site: str
    flavor: str
    profile: LoadProfile
    busy: tuple[float, ...] | None = None
    history_days: int = 0
    #: ``policy.load.max_starts_per_slot`` from the files, if any.
    limit: int | None = None
    peak_count: int = 5
    #: The busiest slots, grouped: the same time of day on several days with the same tasks is one group.
    peaks: tuple[PeakGroup, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "peaks", _peak_groups(self.profile, self.busy, self.peak_count))

    @property
    def measure(self) -> str:
        return "refreshes running" if self.busy is not None else "refresh starts"

    def values(self) -> tuple[float, ...]:
        """Per slot: refreshes running (with history) or starts (worst week)."""
        return self.busy if self.busy is not None else tuple(float(v) for v in self.profile.peaks)

    def hourly(self) -> list[list[float]]:
        """Per weekday and hour: starts in the hour, or the most refreshes running at once in it."""
        values = self.values()
        out = []
        for day in range(7):
            row = []
            for hour in range(24):
                chunk = values[day * SLOTS_PER_DAY + hour * 4: day * SLOTS_PER_DAY + hour * 4 + 4]
                row.append(max(chunk) if self.busy is not None else sum(chunk))
            out.append(row)
        return out


def _level(value: float, top: float) -> int:
    if value <= 0 or top <= 0:
        return -1
    return min(len(PALETTE) - 1, int(value / top * (len(PALETTE) - 1) + 0.5))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _peak_tasks(labels: tuple[str, ...]) -> list[str]:
    shown = list(labels[:PEAK_TASKS_SHOWN])
    if len(labels) > PEAK_TASKS_SHOWN:
        shown.append(f"... and {len(labels) - PEAK_TASKS_SHOWN} more")
    return shown


def _summary(report: LoadReport) -> list[str]:
    p = report.profile
    monthly = sum(1 for s in p.starts if s.recurrence.frequency == "monthly")
    lines = [f"{len(p.starts)} tasks placed, {p.starts_per_week} refresh starts a week (plus {monthly} monthly "
             f"tasks); busiest 15-minute slot: {p.busiest} starts."]
    if p.unplaced:
        lines.append(f"{p.unplaced} tasks are on schedules whose recurrence was not read: not counted.")
    if report.busy is not None:
        busiest = max(report.busy, default=0.0)
        lines.append(f"With the median durations of the last {report.history_days} days: up to {_number(busiest)} "
                     "refreshes run at once.")
        if report.flavor == "cloud" and busiest > 10:
            lines.append("Tableau Cloud runs 10 refreshes at once (25 with Advanced Management): the rest queue.")
    if report.limit is not None:
        over = sum(1 for v in p.peaks if v > report.limit)
        lines.append(f"policy.load.max_starts_per_slot is {report.limit}: {over} slot{'s' if over != 1 else ''} "
                     "over it.")
    return lines


def render_load_text(report: LoadReport, color: bool = False) -> str:
    """A weekday × hour heatmap, the peak slots with their tasks, and a summary."""
    grid = report.hourly()
    top = max((v for row in grid for v in row), default=0.0)
    heading = ("Most refreshes running at once, per hour" if report.busy is not None
               else "Refresh starts per hour (its four 15-minute slots summed)")
    table = Table(title=heading, box=None, pad_edge=False,
                  padding=(0, 0), title_justify="left")
    table.add_column("", justify="left", min_width=4)
    for hour in range(24):
        table.add_column(f"{hour:02d}", justify="right", min_width=3)
    for day, row in enumerate(grid):
        cells = []
        for value in row:
            level = _level(value, top)
            text = _number(value) if value else "·"
            cells.append(Text(f"{text:>3}", style=f"bold white on {_TERMINAL[level]}" if level >= 0 and color else
                              ""))
        table.add_row(_DAYS[day], *cells)
    out = StringIO()
    console = Console(file=out, force_terminal=color, no_color=not color, width=120, highlight=False,
                      color_system="standard" if color else None)
    console.print(Text(f"Refresh load of {site_title(report.site, report.server, report.flavor)}", style="bold"))
    console.print(Text("Times as the site shows its schedules. A monthly task counts on every weekday its days "
                       "can fall on (the worst week).", style="dim"))
    console.print(table)
    console.print()
    console.print(Text("Busiest slots:", style="bold"))
    for group in report.peaks:
        running = f", {_number(group.running)} running" if group.running is not None else ""
        console.print(f"  {group.when}: {group.starts} starts{running}", highlight=False, markup=False)
        for label in _peak_tasks(group.tasks):
            console.print(f"      {label}", highlight=False, markup=False)
    console.print()
    for line in _summary(report):
        console.print(line, highlight=False, markup=False)
    return out.getvalue()


def load_to_dict(report: LoadReport) -> dict[str, object]:
    """The load document: per-slot arrays as 7 rows (Monday first) of 96 slots."""
    p = report.profile

    def rows(values: tuple[float, ...] | tuple[int, ...]) -> list[list[float | int]]:
        return [list(values[d * SLOTS_PER_DAY:(d + 1) * SLOTS_PER_DAY]) for d in range(7)]

    return {
        "format_version": LOAD_FORMAT_VERSION,
        "server": report.server,
        "site": report.site,
        "flavor": report.flavor,
        "slot_minutes": SLOT_MINUTES,
        "weekdays": list(WEEKDAYS),
        "tasks": len(p.starts),
        "unplaced": p.unplaced,
        "starts_per_week": p.starts_per_week,
        "busiest_slot_starts": p.busiest,
        "max_starts_per_slot": report.limit,
        "weekly": rows(p.weekly),
        "monthly": rows(p.monthly),
        "busy": rows(report.busy) if report.busy is not None else None,
        "history_days": report.history_days if report.busy is not None else 0,
        "peaks": [{"when": g.when, "slots": list(g.slots), "starts": g.starts, "running": g.running,
                   "tasks": list(g.tasks)} for g in report.peaks],
    }


def render_load_json(report: LoadReport) -> str:
    return json.dumps(load_to_dict(report), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


_CELL_W, _CELL_H, _LEFT, _TOP = 11, 26, 46, 34


def _svg(report: LoadReport, standalone: bool) -> str:
    values = report.values()
    top = max(values, default=0.0)
    top0 = _TOP + (26 if standalone else 0)
    width = _LEFT + SLOTS_PER_DAY * _CELL_W + 10
    legend_y = top0 + 7 * _CELL_H + 18
    height = legend_y + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(report.measure)} per 15-minute slot">']
    if standalone:
        out.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    out.append('<g font-family="Helvetica, Arial, sans-serif" font-size="11" fill="#333">')
    if standalone:
        heading = f"Refresh load of {site_title(report.site, report.server, report.flavor)}: {report.measure}"
        out.append(f'<text x="4" y="18" font-size="15" font-weight="bold">{html.escape(heading)}</text>')
    for hour in range(24):
        x = _LEFT + hour * 4 * _CELL_W
        out.append(f'<text x="{x + 1}" y="{top0 - 8}">{hour:02d}</text>')
        out.append(f'<line x1="{x}" y1="{top0 - 4}" x2="{x}" y2="{top0 + 7 * _CELL_H}" stroke="#ddd"/>')
    for day in range(7):
        y = top0 + day * _CELL_H
        out.append(f'<text x="4" y="{y + _CELL_H * 0.65:.0f}" font-weight="bold">{_DAYS[day]}</text>')
        for n in range(SLOTS_PER_DAY):
            slot = day * SLOTS_PER_DAY + n
            value = values[slot]
            level = _level(value, top)
            fill = PALETTE[level] if level >= 0 else "#f4f4f4"
            tip = f"{slot_label(slot)}: {_number(value)} {report.measure}"
            out.append(f'<rect class="slot" x="{_LEFT + n * _CELL_W}" y="{y}" width="{_CELL_W - 1}" '
                       f'height="{_CELL_H - 2}" fill="{fill}" data-slot="{slot}" data-value="{_number(value)}">'
                       f'<title>{html.escape(tip)}</title></rect>')
    out.append(f'<text x="{_LEFT}" y="{legend_y}">0</text>')
    for n, colour in enumerate(PALETTE):
        out.append(f'<rect x="{_LEFT + 14 + n * 22}" y="{legend_y - 11}" width="20" height="14" fill="{colour}"/>')
    out.append(f'<text x="{_LEFT + 18 + len(PALETTE) * 22}" y="{legend_y}">{_number(top)} '
               f'{html.escape(report.measure)} in a 15-minute slot</text>')
    out.append("</g></svg>")
    return "".join(out)


def render_load_svg(report: LoadReport) -> str:
    """A standalone SVG heatmap (weekday × 15-minute slot) with hour marks and a legend."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _svg(report, standalone=True) + "\n"


_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px 32px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}p.note{color:#666;margin:0 0 16px;font-size:13px}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:14px 16px;margin:0 0 18px;overflow-x:auto}
table.peaks{border-collapse:collapse;font-size:13px;width:100%}
table.peaks th,table.peaks td{text-align:left;padding:6px 8px;border-bottom:1px solid #eee;vertical-align:top}
table.peaks td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
ul.tasks{margin:0;padding-left:16px}ul.tasks li{font-family:Menlo,Consolas,monospace;font-size:12px}
ul.summary{font-size:13px;margin:0;padding-left:18px}
"""


def render_load_html(report: LoadReport) -> str:
    """A self-contained page: the heatmap (SVG), the peak slots with their tasks, the summary."""
    title = f"Refresh load of {site_title(report.site, report.server, report.flavor)}"
    rows = []
    for group in report.peaks:
        tasks = "".join(f"<li>{html.escape(t)}</li>" for t in _peak_tasks(group.tasks))
        running = f"<td class=\"num\">{_number(group.running)}</td>" if group.running is not None else ""
        rows.append(f"<tr><td>{html.escape(group.when)}</td><td class=\"num\">{group.starts}</td>{running}"
                    f"<td><ul class=\"tasks\">{tasks}</ul></td></tr>")
    running_head = "<th>Running</th>" if report.busy is not None else ""
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in _summary(report))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="note">{html.escape(report.measure.capitalize())} per 15-minute slot of the week, in the time zone the site \
shows its schedules in. Monthly tasks count on every weekday their days can fall on (the worst week). Hover a cell for \
its figure.</p>
<div class="card" id="heatmap">{_svg(report, standalone=False)}</div>
<div class="card"><ul class="summary" id="summary">{summary}</ul></div>
<h2>Busiest slots</h2>
<div class="card"><table class="peaks" id="peaks"><thead><tr><th>Slot</th><th>Starts</th>{running_head}\
<th>Tasks</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>
</body></html>
"""
