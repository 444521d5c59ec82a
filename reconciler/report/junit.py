"""Drift reports as JUnit XML, for CI dashboards: one test case per managed object, drift as failure.

Failures follow ``DriftReport.drifted`` (the exit code's truth): unhealthy findings are failures only
with ``--fail-on-unhealthy``; otherwise their cases are ``skipped``, shown but not failing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reconciler.plan import DriftEntry, DriftReport

__all__ = ["render_drift_junit"]

SUITE = "reconciler drift"


def _failure_text(entries: list[DriftEntry]) -> str:
    lines = []
    for e in entries:
        where = f" ({e.source})" if e.source else ""
        lines.append(f"[{e.bucket}] {e.address}{where}: {e.detail}")
        lines += [f"    {f.path}: {f.before!r} -> {f.after!r}" for f in e.fields]
    return "\n".join(lines)


def _case(suite: ET.Element, classname: str, name: str, entries: list[DriftEntry], report: DriftReport) -> str:
    """Add one test case; ``failure``, ``skipped`` (findings that are reported only) or ``""`` (passed)."""
    case = ET.SubElement(suite, "testcase", {"classname": classname, "name": name, "time": "0"})
    if not entries:
        return ""
    message = "; ".join(f"{e.bucket}: {e.detail}" for e in entries)
    outcome = "failure" if any(report.fails(e) for e in entries) else "skipped"
    attrs = {"message": message, "type": entries[0].bucket} if outcome == "failure" else {"message": message}
    element = ET.SubElement(case, outcome, attrs)
    element.text = _failure_text(entries)
    return outcome


def render_drift_junit(report: DriftReport) -> str:
    """JUnit XML with one testsuite ``reconciler drift``: a test case per managed object (site mode,
    schedule, item encryption, item task set) failing with the differing fields when it drifted, and
    a failing case per unmanaged or unhealthy finding that belongs to no managed object."""
    suite = ET.Element("testsuite", {"name": SUITE})
    outcomes: list[str] = []
    managed = {m.address for m in report.managed}
    for m in report.managed:
        outcomes.append(_case(suite, f"reconciler.{m.kind}", m.address, list(report.entries_for(m.address)), report))
    for e in report.entries:
        if e.object is None or e.object not in managed:
            outcomes.append(_case(suite, f"reconciler.{e.bucket}", e.address, [e], report))
    tests, failures = len(outcomes), outcomes.count("failure")
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(outcomes.count("skipped")))
    suites = ET.Element("testsuites", {"name": SUITE, "tests": str(tests), "failures": str(failures)})
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
