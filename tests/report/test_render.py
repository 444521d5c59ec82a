"""Renderers: exact text and markdown for small plans, drift in every format, JUnit parsed back."""

# Expected outputs are compared exactly; their long lines stay as printed.
# ruff: noqa: E501

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

from reconciler.plan import make_drift, make_plan, make_plan_result, plan_to_json
from reconciler.report import (
    render_drift_json,
    render_drift_junit,
    render_drift_markdown,
    render_drift_text,
    render_plan_json,
    render_plan_markdown,
    render_plan_text,
)
from tests.plan.builders import desired, ds, extract, live, sched, task, want

ORDERS = ds("Sales/Orders")
OTHER = ds("Sales/Other")


def _plan():  # type: ignore[no-untyped-def]
    d = desired(
        schedules=[sched("Nightly 02:00", start="03:00", line=12),
                   sched("Weekly", "weekly", "06:00", weekdays=("monday",), line=18)],
        extracts=[extract("datasource", "Sales/Orders", line=30, refresh=[
            want("Nightly 02:00", line=32), want("Weekly", "incremental", line=34)])],
    )
    lv = live(items=[ORDERS, OTHER], schedules=[sched("Nightly 02:00"), sched("Old", start="05:00")],
              shared=[("Nightly 02:00", 4), ("Old", 0)],
              tasks=[task("t1", ORDERS, schedule="Old"), task("t2", ORDERS, "incremental", "Old"),
                     task("t3", OTHER, schedule="Old")])
    lv = replace(lv, shared_by_site=(("Nightly 02:00", (("marketing", 3), ("people", 1))),))
    return d, lv, make_plan(d, lv, server_moves="vizportal")  # it moves an incremental task


PLAN_TEXT = """\
Plan for site "finance" on https://tableau.example.com (Tableau Server)

Reconciler will perform the following actions, in this order:

  ~ schedule["Nightly 02:00"] will be updated in place (examples/site.yaml:12:3)
      ~ start: "02:00" → "03:00"

  + schedule["Weekly"] will be created (examples/site.yaml:18:3)
      + frequency: "weekly"
      + start: "06:00"
      + weekdays: ["monday"]
      + priority: 50
      + execution: "parallel"
      + state: "active"

 ~> task[datasource "Sales/Orders"][full @ Nightly 02:00] will be moved to another schedule (examples/site.yaml:32:9)
      ~ schedule: "Old" → "Nightly 02:00"

 ~> task[datasource "Sales/Orders"][incremental @ Weekly] will be moved to another schedule (examples/site.yaml:34:9)
      ~ schedule: "Old" → "Weekly"

Unmanaged (in scope, not declared in any file; deleted only with policy.prune: true):
  ? schedule["Old"]: daily at 05:00; not declared in any file; 3 tasks on this site, 0 on other sites
  ? task[datasource "Sales/Other"][full @ Old]: full refresh on Old; not declared in any file

Refresh load (refresh starts per 15-minute slot of the week, before → after apply):
  ▲ Mon-Sun 03:00: 0 → 1 starts (+1)
      + task[datasource "Sales/Orders"][full @ Nightly 02:00]
  ▲ Mon 06:00: 0 → 1 starts (+1)
      + task[datasource "Sales/Orders"][incremental @ Weekly]
  Busiest slot: 3 → 1 refresh starts in 15 minutes.

Warnings:
  ! schedule["Nightly 02:00"]: "Nightly 02:00" is a server schedule: this update changes it for every site, for 4 tasks on 2 sites (marketing 3, people 1).

Plan: 1 to create, 2 to move, 1 to update, 0 to delete.
"""


def test_plan_text_exact() -> None:
    _, _, plan = _plan()
    assert render_plan_text(plan) == PLAN_TEXT
    assert "\x1b[" not in render_plan_text(plan)


def test_plan_text_color_uses_ansi() -> None:
    _, _, plan = _plan()
    colored = render_plan_text(plan, color=True)
    assert "\x1b[" in colored and 'schedule["Nightly 02:00"]' in colored


def test_no_changes_text() -> None:
    d = desired(schedules=[sched("Nightly")])
    lv = live(schedules=[sched("Nightly")])
    assert render_plan_text(make_plan(d, lv)) == "No changes. The site matches the configuration.\n"


def test_no_changes_with_unmanaged() -> None:
    lv = live(schedules=[sched("Nightly")])
    assert render_plan_text(make_plan(desired(), lv)) == (
        "No changes. The site matches the configuration.\n\n"
        "Unmanaged (in scope, not declared in any file; deleted only with policy.prune: true):\n"
        '  ? schedule["Nightly"]: daily at 02:00; not declared in any file; 0 tasks on this site, 0 on other sites\n'
    )


PLAN_MARKDOWN = """\
### Reconciler plan for site "finance" on https://tableau.example.com (Tableau Server)

**Plan: 1 to create, 0 to move, 0 to update, 1 to delete.**

| Action | Count |
| --- | ---: |
| `+` create | 1 |
| `~>` move | 0 |
| `~` update | 0 |
| `-/+` replace | 0 |
| `-` delete | 1 |

**Refresh load** (refresh starts per 15-minute slot of the week, before → after apply):

| Slot | Before | After | Tasks this plan starts there |
| --- | ---: | ---: | --- |
| Mon-Sun 02:00 | 0 | 1 | <code>task[datasource &quot;Sales/Orders&quot;][full @ Nightly]</code> |

Busiest slot: 1 → 1 refresh starts in 15 minutes.

<details><summary><code>+ task[datasource &quot;Sales/Orders&quot;][full @ Nightly]</code> will be created</summary>

Declared at `examples/site.yaml:21:9`.

```diff
+ type: "full"
+ schedule: "Nightly"
```

</details>

<details><summary><code>- task[datasource &quot;Sales/Orders&quot;][incremental @ Hourly]</code> will be deleted</summary>

Declared at `examples/site.yaml:20:5`.
Reason: not listed in the item's refresh.
After: `task[datasource "Sales/Orders"][full @ Nightly]`.

```diff
- type: "incremental"
- schedule: "Hourly"
```

</details>

<details><summary>1 unmanaged object (in scope, not declared; deleted only with <code>policy.prune: true</code>)</summary>

- `schedule["Hourly"]`: every 1h 08:00-18:00; not declared in any file; 1 task on this site, 0 on other sites

</details>
"""


def test_plan_markdown_exact() -> None:
    d = desired(extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly", line=21)])])
    lv = live(items=[ORDERS], schedules=[sched("Nightly"), sched("Hourly", "hourly", "08:00", end="18:00")],
              tasks=[task("t2", ORDERS, "incremental", "Hourly")])
    assert render_plan_markdown(make_plan(d, lv)) == PLAN_MARKDOWN


def test_plan_markdown_warnings_blockquote() -> None:
    _, _, plan = _plan()
    md = render_plan_markdown(plan)
    assert "> **Warnings**\n>\n> - `schedule[\"Nightly 02:00\"]`: \"Nightly 02:00\" is a server schedule" in md
    assert md.count("<details>") == 5  # four changes and the unmanaged list


def test_plan_json_is_the_saved_plan() -> None:
    _, _, plan = _plan()
    assert render_plan_json(plan) == plan_to_json(plan)


def test_drift_renderers() -> None:
    d, lv, _ = _plan()
    lv = live(items=lv.items, schedules=lv.schedules, shared=lv.shared_schedule_tasks,
              tasks=(*lv.tasks[:2], task("t3", OTHER, schedule="Old", failures=4)))
    report = make_drift(make_plan_result(d, lv, strict=False))
    text = render_drift_text(report)
    assert text.startswith('Drift on site "finance" on https://tableau.example.com (Tableau Server)\n')
    assert "Drift: 3 changed, 1 missing, 2 unmanaged, 1 unhealthy.\n" in text
    assert text.endswith("Coverage: 66.7% (2 of 3 tasks in scope are managed).\n")

    data = json.loads(render_drift_json(report))
    assert data["in_sync"] is False
    assert data["counts"] == {"changed": 3, "missing": 1, "unmanaged": 2, "unhealthy": 1}
    assert data["coverage"] == {"managed_tasks": 2, "tasks_in_scope": 3, "fraction": 2 / 3, "percent": 66.7}
    assert [e["bucket"] for e in data["entries"]] == ["changed"] * 3 + ["missing"] + ["unmanaged"] * 2 + ["unhealthy"]

    md = render_drift_markdown(report)
    assert md.startswith('### Reconciler drift for site "finance"')
    assert "| changed | 3 |" in md and "Coverage: **66.7%**" in md

    root = ET.fromstring(render_drift_junit(report))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "reconciler drift"
    cases = suite.findall("testcase")
    # managed: 2 schedules + the item's task set; plus 2 unmanaged and 1 unhealthy (unmanaged item's task)
    assert len(cases) == 6 and suite.get("tests") == "6"
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    # the unhealthy finding is reported, not drift (the exit code's truth): a skipped case
    assert suite.get("failures") == str(len(failed)) == "5" and suite.get("skipped") == "1"
    refresh = next(c for c in cases if c.get("name") == 'datasource["Sales/Orders"].refresh')
    failure = refresh.find("failure")
    assert failure is not None and "schedule: 'Old' -> 'Nightly 02:00'" in (failure.text or "")


def test_drift_in_sync_renderers() -> None:
    d = desired(schedules=[sched("Nightly")],
                extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])])
    lv = live(items=[ORDERS], schedules=[sched("Nightly")], tasks=[task("t1", ORDERS, schedule="Nightly")])
    report = make_drift(make_plan_result(d, lv, strict=False))
    assert render_drift_text(report) == (
        "No drift. The site matches the configuration.\n\n"
        "Drift: 0 changed, 0 missing, 0 unmanaged, 0 unhealthy.\n"
        "Coverage: 100.0% (1 of 1 tasks in scope are managed).\n"
    )
    root = ET.fromstring(render_drift_junit(report))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "0"
    assert json.loads(render_drift_json(report))["in_sync"] is True


def test_plain_drift_text_is_the_styled_segments_joined() -> None:
    """The plain renderer joins each entry's line at once; it must read exactly as the styled segments do."""
    from reconciler.plan import DriftEntry, DriftReport
    from reconciler.report.text import _BUCKET_SYMBOLS, _SYMBOL_STYLES, _Lines

    entries = (
        DriftEntry("changed", 'schedule["Daily"]', "priority 50 → 45", "site.yaml:4:3"),
        DriftEntry("missing", 'task[datasource "Sales/Orders"][full @ Daily]', "declared, not on the site", None),
        DriftEntry("unmanaged", 'task[workbook "A/B"][full @ Daily]', "full refresh on Daily; not declared", None),
        DriftEntry("unhealthy", 'datasource["Ops/Inventory"]', "has an extract but no refresh task", "a.yaml:9:5"),
    )
    report = DriftReport(server="https://t.example.com", site="", flavor="server", entries=entries, managed=(),
                         managed_tasks=1, tasks_in_scope=3)
    text = render_drift_text(report)
    for e in entries:
        symbol = _BUCKET_SYMBOLS[e.bucket]
        styled = _Lines()
        styled.add("  ", (symbol, _SYMBOL_STYLES[symbol]), " ", (e.address, "bold"),
                   *([(f" ({e.source})", "dim")] if e.source else []), f": {e.detail}")
        assert styled.render(color=False) in text
