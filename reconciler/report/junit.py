"""Drift reports as JUnit XML, for CI dashboards: one test case per managed object, drift as failure."""

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


def _case(suite: ET.Element, classname: str, name: str, entries: list[DriftEntry]) -> bool:
    case = ET.SubElement(suite, "testcase", {"classname": classname, "name": name, "time": "0"})
    if not entries:
        return False
    message = "; ".join(f"{e.bucket}: {e.detail}" for e in entries)
    failure = ET.SubElement(case, "failure", {"message": message, "type": entries[0].bucket})
    failure.text = _failure_text(entries)
    return True


def render_drift_junit(report: DriftReport) -> str:
    """JUnit XML with one testsuite ``reconciler drift``: a test case per managed object (site mode,
    schedule, item encryption, item task set) failing with the differing fields when it drifted, and
    a failing case per unmanaged or unhealthy finding that belongs to no managed object."""
    suite = ET.Element("testsuite", {"name": SUITE})
    failures = tests = 0
    managed = {m.address for m in report.managed}
    for m in report.managed:
        tests += 1
        failures += _case(suite, f"reconciler.{m.kind}", m.address, list(report.entries_for(m.address)))
    for e in report.entries:
        if e.object is None or e.object not in managed:
            tests += 1
            failures += _case(suite, f"reconciler.{e.bucket}", e.address, [e])
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    suites = ET.Element("testsuites", {"name": SUITE, "tests": str(tests), "failures": str(failures)})
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
