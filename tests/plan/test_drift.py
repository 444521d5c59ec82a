"""make_drift: buckets, coverage, in_sync."""

from __future__ import annotations

from dataclasses import replace

from reconciler.plan import FieldChange, make_drift, make_plan_result

from .builders import desired, ds, extract, live, sched, task, want, wb

ORDERS = ds("Sales/Orders")
OTHER = ds("Sales/Other")
STALE = wb("Sales/Stale")
PEOPLE = ds("HR/People")


def _case():  # type: ignore[no-untyped-def]
    d = desired(
        scope=["Sales"],
        schedules=[sched("Nightly", start="03:00", line=5), sched("Weekly", "weekly", "06:00", weekdays=("monday",))],
        extracts=[extract("datasource", "Sales/Orders", encrypt=True, refresh=[want("Nightly"), want("Paused")])],
    )
    lv = live(
        items=[ORDERS, OTHER, STALE, PEOPLE],
        schedules=[sched("Nightly"), sched("Paused", state="suspended"), sched("Spare")],
        tasks=[task("t1", ORDERS, schedule="Nightly", failures=2), task("t2", ORDERS, schedule="Paused"),
               task("t3", OTHER, schedule="Nightly"), task("t4", PEOPLE, schedule="Nightly", failures=1)],
    )
    return d, lv


def test_buckets_and_coverage() -> None:
    d, lv = _case()
    report = make_drift(make_plan_result(d, lv))
    got = [(e.bucket, e.address, e.object) for e in report.entries]
    assert got == [
        ("changed", 'datasource["Sales/Orders"].encrypt', 'datasource["Sales/Orders"].encrypt'),
        ("changed", 'schedule["Nightly"]', 'schedule["Nightly"]'),
        ("missing", 'schedule["Weekly"]', 'schedule["Weekly"]'),
        # schedule["Spare"] is used by no task in the scope (Sales): another team's, not unmanaged here
        ("unmanaged", 'task[datasource "Sales/Other"][full @ Nightly]', None),
        ("unhealthy", 'schedule["Paused"]', None),
        ("unhealthy", 'task[datasource "Sales/Orders"][full @ Nightly]', 'datasource["Sales/Orders"].refresh'),
        ("unhealthy", 'workbook["Sales/Stale"]', None),
    ]
    assert report.entries[1].fields == (FieldChange("start", "02:00", "03:00"),)
    assert report.entries[1].source == "examples/site.yaml:5:3"
    assert report.counts == {"changed": 2, "missing": 1, "unmanaged": 1, "unhealthy": 3}
    assert (report.managed_tasks, report.tasks_in_scope, report.coverage_percent) == (2, 3, 66.7)
    assert not report.in_sync
    assert [m.address for m in report.managed] == [
        'datasource["Sales/Orders"].encrypt', 'datasource["Sales/Orders"].refresh',
        'schedule["Nightly"]', 'schedule["Weekly"]',
    ]


def test_a_scope_counts_only_the_undeclared_schedules_its_tasks_use() -> None:
    lv = live(items=[ORDERS, OTHER, PEOPLE], schedules=[sched("Nightly"), sched("HR Daily"), sched("Spare")],
              tasks=[task("t1", ORDERS, schedule="Nightly"), task("t2", OTHER, schedule="Nightly"),
                     task("t3", PEOPLE, schedule="HR Daily")])
    for scope, unmanaged in (([], {"HR Daily", "Nightly", "Spare"}), (["Sales"], {"Nightly"}), (["HR"], {"HR Daily"})):
        d = desired(scope=scope, extracts=[extract("datasource", "Sales/Orders", encrypt=True)])
        report = make_drift(make_plan_result(d, lv))
        got = {e.address for e in report.entries if e.bucket == "unmanaged" and e.address.startswith("schedule")}
        assert got == {f'schedule["{name}"]' for name in unmanaged}, scope


def test_in_sync_site() -> None:
    d = desired(schedules=[sched("Nightly")],
                extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])])
    lv = live(items=[ORDERS], schedules=[sched("Nightly")], tasks=[task("t1", ORDERS, schedule="Nightly")])
    report = make_drift(make_plan_result(d, lv))
    assert report.in_sync and report.entries == () and report.coverage == 1.0


def test_prune_deletes_are_unmanaged_and_extra_tasks_changed() -> None:
    d = desired(prune=True, extracts=[extract("datasource", "Sales/Orders", refresh=[])])
    lv = live(items=[ORDERS, OTHER], schedules=[sched("Nightly")],
              tasks=[task("t1", ORDERS, schedule="Nightly"), task("t2", OTHER, schedule="Nightly")])
    report = make_drift(make_plan_result(d, lv))
    assert [(e.bucket, e.address) for e in report.entries] == [
        ("changed", 'task[datasource "Sales/Orders"][full @ Nightly]'),
        ("unmanaged", 'schedule["Nightly"]'),
        ("unmanaged", 'task[datasource "Sales/Other"][full @ Nightly]'),
    ]


def test_drift_reads_the_plans_own_resolution_rather_than_resolving_again() -> None:
    d, lv = _case()
    result = make_plan_result(d, lv)
    assert [m.item.path for m in result.managed] == [ORDERS.path]
    managed = {m.address for m in make_drift(result).managed}
    assert 'datasource["Sales/Orders"].refresh' in managed
    # The same result with no resolved item: drift manages no item (it did not resolve the files again).
    bare = make_drift(replace(result, managed=()))
    assert {m.kind for m in bare.managed} <= {"site", "schedule"}
