"""A deployment's plan and drift as one report: the server schedules' section, then a section per site.

Each section is the single-site report of that site (``text``, ``markdown``); JSON is the deployment's saved-plan
form (``deployment_to_json``) or a drift document holding each site's (``drift_to_dict``); JUnit has one
test suite per site. A site that could not be read or planned has a section with its error.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, replace

import reconciler
from reconciler.model import site_label
from reconciler.plan import DriftReport, Plan
from reconciler.plan.deployment import DeploymentPlan
from reconciler.plan.serialize import deployment_to_json

from ._format import summary_line
from .json_report import DRIFT_FORMAT_VERSION, drift_to_dict
from .junit import render_drift_junit
from .markdown import render_drift_markdown, render_plan_markdown
from .text import render_drift_text, render_plan_text

__all__ = [
    "SiteDrift",
    "render_deployment_drift_json",
    "render_deployment_drift_junit",
    "render_deployment_drift_markdown",
    "render_deployment_drift_text",
    "render_deployment_json",
    "render_deployment_markdown",
    "render_deployment_text",
    "server_view",
    "site_view",
]


def server_view(plan: Plan) -> Plan:
    """The schedule owner's plan reduced to the server schedules (the deployment's own section)."""
    return replace(plan, changes=tuple(c for c in plan.changes if c.kind == "schedule"),
                   unmanaged=tuple(u for u in plan.unmanaged if u.kind == "schedule"), warnings=(), load=None)


def site_view(plan: Plan, owner: bool) -> Plan:
    """A site's plan without the server schedules (shown once, in their own section)."""
    if not owner:
        return plan
    return replace(plan, changes=tuple(c for c in plan.changes if c.kind != "schedule"),
                   unmanaged=tuple(u for u in plan.unmanaged if u.kind != "schedule"))


def _heading(label: str, content_url: str) -> str:
    where = site_label(content_url)
    return f"Site {label}" + (f" ({where})" if where.strip('"') != label else "")


def _totals(plan: DeploymentPlan) -> Plan | None:
    """All sites' changes counted together, for the summary line (None: no site has a plan)."""
    plans = [s.plan for s in plan.sites if s.plan is not None]
    if not plans:
        return None
    return replace(plans[0], changes=tuple(c for p in plans for c in p.changes), unmanaged=(), warnings=(),
                   load=None)


def _summary(plan: DeploymentPlan) -> str:
    changed = sum(1 for s in plan.sites if s.plan is not None and site_view(s.plan, s.label == plan.owner).has_changes)
    failed = sum(1 for s in plan.sites if s.error is not None)
    matching = len(plan.sites) - changed - failed
    parts = [f"{changed} with changes", f"{matching} matching"] + ([f"{failed} failed"] if failed else [])
    owner = plan.owner_plan
    if owner is not None and server_view(owner).has_changes:
        parts.insert(0, "server schedules changed")
    totals = _totals(plan)
    counted = f" {summary_line(totals)}" if totals is not None and totals.has_changes else ""
    return f"Deployment: {len(plan.sites)} site{'s' if len(plan.sites) != 1 else ''}, {', '.join(parts)}.{counted}"


def render_deployment_text(plan: DeploymentPlan, color: bool = False) -> str:
    product = "Tableau Cloud" if plan.flavor == "cloud" else "Tableau Server"
    names = ", ".join(s.label for s in plan.sites)
    out = [f"Deployment on {plan.server} ({product}): {len(plan.sites)} sites ({names})", ""]
    for warning in plan.warnings:
        out.append(f"Warning: {warning}")
    if plan.warnings:
        out.append("")
    owner = plan.owner_plan
    if owner is not None:
        out += [f"=== Server schedules (used by every site; planned with site {plan.owner}) ===", ""]
        view = server_view(owner)
        out.append(render_plan_text(view, color, title=f"Server schedules on {plan.server}").rstrip("\n")
                   if view.changes or view.unmanaged else "No changes to the server schedules.")
        out.append("")
    for site in plan.sites:
        out += [f"=== {_heading(site.label, site.site)} ===", ""]
        if site.error is not None or site.plan is None:
            out += [f"FAILED: {site.error}", ""]
            continue
        out += [render_plan_text(site_view(site.plan, site.label == plan.owner), color).rstrip("\n"), ""]
    out.append(_summary(plan))
    return "\n".join(out) + "\n"


def render_deployment_json(plan: DeploymentPlan) -> str:
    return deployment_to_json(plan)


def render_deployment_markdown(plan: DeploymentPlan) -> str:
    product = "Tableau Cloud" if plan.flavor == "cloud" else "Tableau Server"
    out = [f"## Reconciler plan for the deployment on {plan.server} ({product})", "", f"**{_summary(plan)}**", ""]
    out += [f"> **Warning:** {w}" for w in plan.warnings]
    owner = plan.owner_plan
    if owner is not None:
        view = server_view(owner)
        out += ["", f"#### Server schedules (used by every site; planned with site `{plan.owner}`)", ""]
        out.append(render_plan_markdown(view).split("\n", 2)[2] if view.changes or view.unmanaged
                   else "No changes to the server schedules.\n")
    for site in plan.sites:
        out += ["", f"#### {_heading(site.label, site.site)}", ""]
        if site.error is not None or site.plan is None:
            out += [f"**Failed:** {site.error}", ""]
            continue
        out.append(render_plan_markdown(site_view(site.plan, site.label == plan.owner)).split("\n", 2)[2])
    return "\n".join(out).rstrip("\n") + "\n"


@dataclass(frozen=True)
class SiteDrift:
    """One site's drift report, or the error that kept it from being read."""

    label: str
    site: str
    report: DriftReport | None = None
    error: str | None = None


def _drift_heading(site: SiteDrift, owner: str | None) -> str:
    head = _heading(site.label, site.site)
    return head + (" and the server schedules" if site.label == owner else "")


def render_deployment_drift_text(sites: Sequence[SiteDrift], owner: str | None, color: bool = False) -> str:
    out: list[str] = []
    for site in sites:
        out += [f"=== {_drift_heading(site, owner)} ===", ""]
        if site.report is None:
            out += [f"FAILED: {site.error}", ""]
            continue
        out += [render_drift_text(site.report, color).rstrip("\n"), ""]
    drifted = sum(1 for s in sites if s.report is not None and s.report.drifted)
    failed = sum(1 for s in sites if s.report is None)
    out.append(f"Deployment: {len(sites)} sites, {drifted} drifted, {len(sites) - drifted - failed} in sync"
               + (f", {failed} failed." if failed else "."))
    return "\n".join(out) + "\n"


def render_deployment_drift_json(sites: Sequence[SiteDrift], owner: str | None) -> str:
    document = {
        "format_version": DRIFT_FORMAT_VERSION,
        "kind": "deployment",
        "reconciler_version": reconciler.__version__,
        "schedule_owner": owner,
        "drifted": any(s.report is not None and s.report.drifted for s in sites),
        "failed": any(s.report is None for s in sites),
        "sites": [{"label": s.label, "site": s.site, "error": s.error,
                   "drift": drift_to_dict(s.report) if s.report is not None else None} for s in sites],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_deployment_drift_markdown(sites: Sequence[SiteDrift], owner: str | None) -> str:
    out: list[str] = []
    for site in sites:
        out += [f"## {_drift_heading(site, owner)}", ""]
        out.append(render_drift_markdown(site.report) if site.report is not None else f"**Failed:** {site.error}\n")
    return "\n".join(out).rstrip("\n") + "\n"


def render_deployment_drift_junit(sites: Sequence[SiteDrift], owner: str | None) -> str:
    """One ``<testsuite>`` per site (named after it); a site that failed is a suite with one error case."""
    root = ET.Element("testsuites", {"name": "reconciler drift"})
    tests = failures = errors = 0
    for site in sites:
        name = f"reconciler drift: {_drift_heading(site, owner)}"
        if site.report is None:
            suite = ET.SubElement(root, "testsuite", {"name": name, "tests": "1", "failures": "0", "errors": "1",
                                                      "skipped": "0"})
            case = ET.SubElement(suite, "testcase", {"classname": "reconciler.site", "name": site.label})
            ET.SubElement(case, "error", {"message": "the site could not be read"}).text = site.error
            tests, errors = tests + 1, errors + 1
            continue
        single = ET.fromstring(render_drift_junit(site.report).split("?>", 1)[1])
        for suite in single.iter("testsuite"):
            suite.set("name", name)
            tests += int(suite.get("tests", "0"))
            failures += int(suite.get("failures", "0"))
            root.append(suite)
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
