"""Plans and drift reports as GitHub-flavoured Markdown: a pull-request comment or CI job summary."""

from __future__ import annotations

import html

from reconciler.plan import BUCKETS, Action, DriftReport, Plan, ResourceChange

from ._format import (
    NO_CHANGES,
    NO_DRIFT,
    action_words,
    load_lines,
    load_summary,
    ordered_items,
    site_title,
    summary_line,
    value,
)

__all__ = ["COMMENT_LIMIT", "render_drift_markdown", "render_plan_markdown"]

#: GitHub refuses a pull-request comment longer than 65,536 characters. ``--format markdown`` prints the whole
#: report (the CI artifact); a caller that posts it as a comment passes ``limit`` (the GitHub action fits its
#: comment in action/reconciler_action.py).
COMMENT_LIMIT = 65_536

_ACTION_ORDER = (Action.CREATE, Action.MOVE, Action.UPDATE, Action.REPLACE, Action.DELETE)


def _code(text: str) -> str:
    """Inline code that survives any backticks in the text."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _task_cell(text: str) -> str:
    return html.escape(text) if text.startswith("... ") else f"<code>{html.escape(text)}</code>"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _quote_block(title: str, lines: list[str]) -> list[str]:
    return [f"> **{title}**", ">", *(f"> - {_cell(line)}" for line in lines), ""]


def _diff_lines(change: ResourceChange) -> list[str]:
    if change.action is Action.CREATE and change.after is not None:
        return [f"+ {k}: {value(v)}" for k, v in ordered_items(change.after)]
    if change.action is Action.DELETE and change.before is not None:
        return [f"- {k}: {value(v)}" for k, v in ordered_items(change.before)]
    out = []
    for f in change.changes:
        if f.before is not None:
            out.append(f"- {f.path}: {value(f.before)}")
        if f.after is not None:
            out.append(f"+ {f.path}: {value(f.after)}")
    return out


def _details(change: ResourceChange) -> list[str]:
    summary = f"<code>{html.escape(f'{change.symbol} {change.address}')}</code> {action_words(change)}"
    body = [f"<details><summary>{summary}</summary>", ""]
    if change.source:
        body.append(f"Declared at {_code(change.source)}.")
    if change.reason:
        body.append(f"Reason: {change.reason}.")
    if change.depends_on:
        body.append("After: " + ", ".join(_code(d) for d in change.depends_on) + ".")
    body += ["", "```diff", *_diff_lines(change), "```", "", "</details>", ""]
    return body


def render_plan_markdown(plan: Plan, limit: int | None = None) -> str:
    """A headline, a table of counts by action, warnings as a blockquote, then one collapsed
    ``<details>`` section per change and the unmanaged objects."""
    title = site_title(plan.site, plan.server, plan.flavor)
    out = [f"### Reconciler plan for {title}", ""]
    if not plan.has_changes:
        out += [f"**{NO_CHANGES}**", ""]
    else:
        out += [f"**{summary_line(plan)}**", "", "| Action | Count |", "| --- | ---: |"]
        out += [f"| {_code(a.symbol)} {a.value} | {plan.counts[a.value]} |" for a in _ACTION_ORDER]
        out.append("")
    warnings = [f"{_code(c.address)}: {w}" for c in plan.changes for w in c.warnings] + list(plan.warnings)
    if plan.exceeds_max_deletes:
        warnings.append(f"{plan.delete_count} deletes exceed policy.max_deletes ({plan.max_deletes}).")
    blocks: list[list[str]] = []
    if warnings:
        blocks.append(_quote_block("Warnings", warnings))
    if plan.load is not None:
        load = ["**Refresh load** (refresh starts per 15-minute slot of the week, before → after apply):", "",
                "| Slot | Before | After | Tasks this plan starts there |", "| --- | ---: | ---: | --- |"]
        for slot, (_, tasks) in zip(plan.load.slots, load_lines(plan.load), strict=True):
            load.append(f"| {slot.when} | {slot.before} | {slot.after} | "
                        f"{_cell('<br>'.join(_task_cell(t) for t in tasks))} |")
        blocks.append([*load, "", load_summary(plan.load), ""])
    blocks += [_details(change) for change in plan.changes]
    if plan.unmanaged:
        n = len(plan.unmanaged)
        blocks.append([f"<details><summary>{n} unmanaged object{'s' if n != 1 else ''} (in scope, not declared; "
                       "deleted only with <code>policy.prune: true</code>)</summary>", ""])
        blocks += [[f"- {_code(u.address)}: {_cell(u.detail)}"] for u in plan.unmanaged]
        blocks.append(["", "</details>", ""])
    return _fit(out, blocks, "plan", "`reconciler plan --out plan.json` (or `--format text`)", limit)


def _fit(head: list[str], blocks: list[list[str]], what: str, full: str, limit: int | None) -> str:
    """``head`` then as many whole ``blocks`` as fit in ``limit`` characters (all of them when None); when some do
    not, a note says how many were left out and where the whole report is. Open ``<details>`` are closed."""
    budget = None if limit is None else limit - 2_048  # room for the note and a line a workflow adds
    text = "\n".join(head)
    size = len(text)
    kept: list[str] = []
    shown = 0
    for block in blocks:
        piece = "\n" + "\n".join(block)
        if budget is not None and size + len(piece) > budget:
            break
        kept.append(piece)
        size += len(piece)
        shown += 1
    if shown == len(blocks):
        return (text + "".join(kept)).rstrip("\n") + "\n"
    body = text + "".join(kept)
    if body.count("<details>") > body.count("</details>"):
        body += "\n\n</details>"
    note = (f"\n\n> **Truncated:** this {what} is too long for a pull-request comment "
            f"({limit:,} characters); {len(blocks) - shown} of its {len(blocks)} sections are left out. "
            f"The full {what} is in the job's artifact: {full}.\n")
    return body.rstrip("\n") + note


def render_drift_markdown(report: DriftReport, limit: int | None = None) -> str:
    """A headline, a table of counts per bucket with coverage, then the entries per bucket."""
    title = site_title(report.site, report.server, report.flavor)
    headline = "The site has drifted from the configuration." if not report.in_sync else \
        "Unhealthy findings (counted as drift: --fail-on-unhealthy)." if report.drifted else \
        f"{NO_DRIFT} Unhealthy findings are reported, not drift." if report.counts["unhealthy"] else NO_DRIFT
    out = [f"### Reconciler drift for {title}", "", f"**{headline}**", "",
           "| Bucket | Count |", "| --- | ---: |"]
    out += [f"| {bucket} | {report.counts[bucket]} |" for bucket in BUCKETS]
    out += ["", f"Coverage: **{report.coverage_percent:.1f}%** ({report.managed_tasks} of "
            f"{report.tasks_in_scope} tasks in scope are managed).", ""]
    blocks: list[list[str]] = []
    for bucket in BUCKETS:
        entries = [e for e in report.entries if e.bucket == bucket]
        if not entries:
            continue
        blocks.append([f"<details><summary>{bucket.capitalize()} ({len(entries)})</summary>", "",
                       "| Object | Detail | Declared at |", "| --- | --- | --- |"])
        blocks += [[f"| {_cell(_code(e.address))} | {_cell(e.detail)} | {_code(e.source) if e.source else ''} |"]
                   for e in entries]
        blocks.append(["", "</details>", ""])
    return _fit(out, blocks, "drift report", "`reconciler drift --format json --output drift.json`", limit)
