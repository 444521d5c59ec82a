"""Plans and drift reports as terminal text, terraform style; colour through rich when asked."""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from rich.text import Text

from reconciler.plan import BUCKETS, DriftEntry, DriftReport, Plan, ResourceChange, Unmanaged

from ._format import (
    NO_CHANGES,
    NO_DRIFT,
    STYLES,
    action_words,
    field_lines,
    load_lines,
    load_summary,
    site_title,
    summary_line,
)

__all__ = ["render_drift_text", "render_plan_text"]

Segment = tuple[str, str | None]
_SYMBOL_STYLES = {"+": "green", "-": "red", "~": "yellow", "!": "yellow", "?": "blue", "#": "dim"}
_BUCKET_SYMBOLS = {"changed": "~", "missing": "+", "unmanaged": "?", "unhealthy": "!"}


class _Lines:
    """Lines of styled segments, rendered plain (no escape codes) or through rich."""

    def __init__(self) -> None:
        self.lines: list[list[Segment]] = []

    def add(self, *segments: Segment | str) -> None:
        self.lines.append([(s, None) if isinstance(s, str) else s for s in segments])

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append([])

    def render(self, color: bool) -> str:
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        if not color:
            return "".join("".join(text for text, _ in line).rstrip() + "\n" for line in self.lines)
        out = StringIO()
        console = Console(file=out, force_terminal=True, color_system="standard", width=120,
                          soft_wrap=True, highlight=False, emoji=False)
        for line in self.lines:
            console.print(Text.assemble(*((t, s) if s else t for t, s in line)))
        return out.getvalue()


def _change_block(lines: _Lines, change: ResourceChange) -> None:
    style = STYLES[change.action]
    header: list[Segment] = [(f"{change.symbol:>3}", f"bold {style}"), (" ", None),
                             (change.address, "bold"), (f" {action_words(change)}", None)]
    if change.source:
        header.append((f" ({change.source})", "dim"))
    lines.add(*header)
    if change.reason:
        lines.add(("      # ", "dim"), (change.reason, "dim"))
    for symbol, text in field_lines(change):
        lines.add("      ", (symbol, _SYMBOL_STYLES[symbol]), f" {text}")
    lines.blank()


#: Unmanaged objects listed per kind before the rest are counted (a site being adopted has thousands).
UNMANAGED_SHOWN = 5


def render_plan_text(plan: Plan, color: bool = False, title: str | None = None) -> str:
    """The plan for a terminal: one block per change, unmanaged objects, warnings, a summary line.

    ``title`` replaces the ``Plan for <site>`` line (a deployment's server schedules belong to no one site)."""
    lines = _Lines()
    if not plan.has_changes:
        lines.add((NO_CHANGES, "bold green"))
        lines.blank()
    else:
        lines.add((title or f"Plan for {site_title(plan.site, plan.server, plan.flavor)}", "bold"))
        lines.blank()
        lines.add("Reconciler will perform the following actions, in this order:")
        lines.blank()
        for change in plan.changes:
            _change_block(lines, change)
    if plan.unmanaged:
        lines.add(("Unmanaged", "bold"), " (in scope, not declared in any file; deleted only with "
                  "policy.prune: true):")
        by_kind: dict[str, list[Unmanaged]] = {}
        for u in plan.unmanaged:  # one pass: a large site has 100,000 of them
            by_kind.setdefault(u.kind, []).append(u)
        for kind in sorted(by_kind):
            of_kind = by_kind[kind]
            for u in of_kind[:UNMANAGED_SHOWN]:
                lines.add("  ", ("?", "blue"), f" {u.address}: {u.detail}")
            if len(of_kind) > UNMANAGED_SHOWN:
                lines.add("  ", ("?", "blue"), f" ... and {len(of_kind) - UNMANAGED_SHOWN} more unmanaged {kind}s "
                          "(all are listed by --format json)")
        lines.blank()
    if plan.load is not None:
        lines.add(("Refresh load", "bold"), " (refresh starts per 15-minute slot of the week, before → after apply):")
        for headline, tasks in load_lines(plan.load):
            over = plan.load.max_starts_per_slot is not None and headline.endswith("over the limit")
            lines.add("  ", ("▲", "bold red" if over else "yellow"), " ", (headline, "bold red" if over else None))
            for task in tasks:
                lines.add("      ", *([("+", "green"), " "] if not task.startswith("... ") else ["  "]), task)
        lines.add("  ", (load_summary(plan.load), "dim" if not plan.exceeds_load else "bold red"))
        lines.blank()
    warnings = [(c.address, w) for c in plan.changes for w in c.warnings] + [("", w) for w in plan.warnings]
    if warnings:
        lines.add(("Warnings:", "bold yellow"))
        for address, text in warnings:
            lines.add("  ", ("!", "bold yellow"), f" {address}: {text}" if address else f" {text}")
        lines.blank()
    if plan.has_changes:
        lines.add((summary_line(plan), "bold"))
        if plan.exceeds_max_deletes:
            lines.add((f"{plan.delete_count} deletes exceed policy.max_deletes ({plan.max_deletes}).", "bold red"))
    return lines.render(color)


def render_drift_text(report: DriftReport, color: bool = False) -> str:
    """The drift report for a terminal: one section per non-empty bucket, coverage, a summary."""
    lines = _Lines()
    title = site_title(report.site, report.server, report.flavor)
    if report.in_sync and report.drifted:
        lines.add((f"Unhealthy on {title} (counted as drift: --fail-on-unhealthy)", "bold red"))
    elif report.in_sync and report.counts["unhealthy"]:
        lines.add((f"{NO_DRIFT} {report.counts['unhealthy']} unhealthy finding(s) below are reported, not "
                   "drift (exit 0); --fail-on-unhealthy counts them as drift.", "bold yellow"))
    elif report.in_sync:
        lines.add((NO_DRIFT, "bold green"))
    else:
        lines.add(("Drift on ", "bold red"), (title, "bold red"))
    lines.blank()
    by_bucket: dict[str, list[DriftEntry]] = {bucket: [] for bucket in BUCKETS}
    for e in report.entries:
        by_bucket[e.bucket].append(e)
    for bucket, entries in by_bucket.items():
        if not entries:
            continue
        lines.add((f"{bucket.capitalize()} ({len(entries)}):", "bold"))
        symbol = _BUCKET_SYMBOLS[bucket]
        for e in entries:
            if not color:  # the same text as the styled segments, joined once (100,000 lines on a large site)
                lines.add(f"  {symbol} {e.address}{f' ({e.source})' if e.source else ''}: {e.detail}")
                continue
            where = [(f" ({e.source})", "dim")] if e.source else []
            lines.add("  ", (symbol, _SYMBOL_STYLES[symbol]), " ", (e.address, "bold"), *where,
                      f": {e.detail}")
        lines.blank()
    c = report.counts
    lines.add(f"Drift: {c['changed']} changed, {c['missing']} missing, {c['unmanaged']} unmanaged, "
              f"{c['unhealthy']} unhealthy.")
    lines.add(f"Coverage: {report.coverage_percent:.1f}% ({report.managed_tasks} of "
              f"{report.tasks_in_scope} tasks in scope are managed).")
    return lines.render(color)
