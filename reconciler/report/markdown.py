"""Plans and drift reports as GitHub-flavoured Markdown: a pull-request comment or CI job summary."""

from __future__ import annotations

import html

from reconciler.plan import BUCKETS, Action, DriftReport, Plan, ResourceChange

from ._format import NO_CHANGES, NO_DRIFT, action_words, ordered_items, site_title, summary_line, value

__all__ = ["render_drift_markdown", "render_plan_markdown"]

_ACTION_ORDER = (Action.CREATE, Action.MOVE, Action.UPDATE, Action.REPLACE, Action.DELETE)


def _code(text: str) -> str:
    """Inline code that survives any backticks in the text."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


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


def render_plan_markdown(plan: Plan) -> str:
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
    if warnings:
        out += _quote_block("Warnings", warnings)
    for change in plan.changes:
        out += _details(change)
    if plan.unmanaged:
        n = len(plan.unmanaged)
        out += [f"<details><summary>{n} unmanaged object{'s' if n != 1 else ''} (in scope, not declared; "
                "deleted only with <code>policy.prune: true</code>)</summary>", ""]
        out += [f"- {_code(u.address)}: {_cell(u.detail)}" for u in plan.unmanaged]
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def render_drift_markdown(report: DriftReport) -> str:
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
    for bucket in BUCKETS:
        entries = [e for e in report.entries if e.bucket == bucket]
        if not entries:
            continue
        out += [f"<details><summary>{bucket.capitalize()} ({len(entries)})</summary>", ""]
        out += ["| Object | Detail | Declared at |", "| --- | --- | --- |"]
        out += [f"| {_cell(_code(e.address))} | {_cell(e.detail)} | {_code(e.source) if e.source else ''} |"
                for e in entries]
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip("\n") + "\n"
