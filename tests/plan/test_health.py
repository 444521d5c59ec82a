"""Health from the job history, joined to tasks, and drift's unhealthy bucket with figures: pure."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from reconciler.model import JobRun
from reconciler.plan import make_drift, make_health, make_plan_result
from reconciler.plan.health import expected_gap
from reconciler.report import render_drift_json, render_drift_junit, render_drift_markdown, render_drift_text

from .builders import desired, ds, extract, live, rec, sched, task, want, wb

NOW = 1_800_000_000.0
DAY = 86400.0


def run(name: str, n: int, status: str = "Success", seconds: float = 60.0, kind: str = "Datasource",
        job_type: str = "full", hours_ago: float | None = None) -> JobRun:
    start = NOW - (hours_ago if hours_ago is not None else (10 - n) * 24) * 3600
    return JobRun(f"j-{name}-{n}", kind.lower().replace(" ", "") if kind else None, name, job_type, status,
                  start - 5, start, start + seconds)


def _site():  # type: ignore[no-untyped-def]
    orders, social, stale, twin_a, twin_b = (ds("Sales/Orders"), ds("Marketing/Social"), ds("Ops/Warehouse"),
                                            ds("A/Twin"), ds("B/Twin"))
    return live(items=[orders, social, stale, twin_a, twin_b],
                schedules=[sched("Nightly", start="02:00"), sched("Weekly", "weekly", "05:00", weekdays=("monday",))],
                tasks=[task("t-orders", orders, schedule="Nightly"), task("t-social", social, schedule="Nightly"),
                       task("t-stale", stale, schedule="Weekly"), task("t-a", twin_a, schedule="Nightly"),
                       task("t-b", twin_b, schedule="Nightly")])


def _runs() -> list[JobRun]:
    runs = [run("Orders", n, seconds=6000 + n * 100) for n in range(10)]
    runs += [run("Social", n, "Failed" if n >= 7 else "Success", seconds=30) for n in range(10)]
    runs += [run("Warehouse", 0, "Success", hours_ago=30 * 24), run("Warehouse", 1, "Cancelled", hours_ago=3 * 24)]
    runs += [run("Twin", n) for n in range(3)]
    runs += [run("Orders", 99, kind="Workbook")]  # no such workbook
    return runs


def test_figures_per_task() -> None:
    health = make_health(_site(), _runs(), NOW, 14 * DAY)
    orders = health.of("datasource", "Sales/Orders", "full")
    assert orders is not None and orders.runs == 10 and orders.failures == 0 and orders.consecutive_failures == 0
    assert orders.median_duration == 6450 and orders.worst_duration == 6900 and orders.near_limit
    assert not orders.stale and orders.expected_gap == DAY
    social = health.of("datasource", "Marketing/Social", "full")
    assert social is not None and (social.failures, social.consecutive_failures) == (3, 3)
    assert social.last_success == NOW - 4 * 24 * 3600 + 30 and not social.near_limit
    warehouse = health.of("datasource", "Ops/Warehouse", "full")
    assert warehouse is not None and warehouse.stale and warehouse.last_success == NOW - 30 * DAY + 60
    assert health.of("datasource", "A/Twin", "full") is not None  # it has a recurrence...
    assert health.of("datasource", "A/Twin", "full").runs == 0  # type: ignore[union-attr]  # ...but no named runs
    assert health.unmatched == 4 and health.jobs == len(_runs())  # 3 ambiguous twins, 1 unknown workbook
    assert health.durations()[("datasource", "Sales/Orders", "full")] == 6450


def test_expected_gap_is_the_longest_pause_of_the_week() -> None:
    assert expected_gap([8], monthly=False) == 7 * DAY
    # Mon-Fri 08:00-18:00 hourly: the longest pause is Friday 18:00 to Monday 08:00.
    assert expected_gap([d * 96 + 32 + h * 4 for d in range(5) for h in range(11)], monthly=False) == 62 * 3600
    assert expected_gap([], monthly=True) == 31 * DAY


def test_drift_names_failing_slow_and_stale_tasks_with_figures_in_every_format() -> None:
    site = _site()
    files = desired(schedules=[sched("Nightly", start="02:00"), sched("Weekly", "weekly", "05:00",
                                                                      weekdays=("monday",))],
                    extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")]),
                              extract("datasource", "Marketing/Social", refresh=[want("Nightly")]),
                              extract("datasource", "Ops/Warehouse", refresh=[want("Weekly")])])
    health = make_health(site, _runs(), NOW, 14 * DAY)
    report = make_drift(make_plan_result(files, site), health)
    unhealthy = {e.address: e for e in report.entries if e.bucket == "unhealthy"}
    slow = unhealthy['task[datasource "Sales/Orders"][full @ Nightly]']
    assert "slow: its longest refresh took 1h55m, near Tableau Cloud's 2h00m limit" in slow.detail
    assert "0 of 10 runs failed in the last 14 days" in slow.detail and "median 1h47m30s" not in slow.detail
    assert "median 1h47m, worst 1h55m" in slow.detail
    failing = unhealthy['task[datasource "Marketing/Social"][full @ Nightly]']
    assert failing.detail.startswith("3 consecutive failed refreshes (task t-social); 3 of 10 runs failed")
    assert dict(failing.figures)["failures"] == 3 and dict(failing.figures)["median_seconds"] == 30
    stale = unhealthy['task[datasource "Ops/Warehouse"][full @ Weekly]']
    assert "stale extract: last successful refresh 30 days ago, but its schedule runs at least every 7d" in stale.detail
    for text in (render_drift_text(report), render_drift_markdown(report), render_drift_junit(report)):
        assert "near Tableau Cloud" in text and "3 consecutive failed refreshes" in text and "stale extract" in text
    entries = json.loads(render_drift_json(report))["entries"]
    figures = next(e["figures"] for e in entries if e["address"] == slow.address)
    assert figures["worst_seconds"] == 6900 and figures["near_limit"] is True


def test_without_history_drift_reports_only_the_task_list_figures() -> None:
    site = _site()
    files = desired(extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])])
    report = make_drift(make_plan_result(files, site))
    assert not [e for e in report.entries if e.bucket == "unhealthy"]


def test_a_task_with_no_job_in_the_window_is_not_called_stale() -> None:
    health = make_health(_site(), [], NOW, 14 * DAY)
    assert all(not t.stale and t.runs == 0 for t in health.tasks)


def plain_health(site, runs, now, window):  # type: ignore[no-untyped-def]
    """make_health as it was first written: every task through live_starts (labels and all), every key through
    _task_health."""
    from reconciler.plan.health import _task_health
    from reconciler.plan.load import live_starts, week_slots

    by_name: dict[tuple[str, str], list[str]] = {}
    for item in site.items:
        by_name.setdefault((item.kind, item.name), []).append(item.path)
    grouped: dict[tuple[str, str, str], list[JobRun]] = {}
    for r in runs:
        paths = by_name.get((r.kind or "", r.name), [])
        if len(paths) == 1:
            grouped.setdefault((r.kind or "", paths[0], r.type), []).append(r)
    gaps: dict[tuple[str, str, str], float] = {}
    for start in live_starts(site)[0]:
        weekly, monthly = week_slots(start.recurrence)
        gap = expected_gap(weekly or monthly, monthly=not weekly)
        key = (start.item[0], start.item[1], start.type)
        if gap is not None:
            gaps[key] = min(gap, gaps.get(key, gap))
    keys = sorted(set(grouped) | set(gaps))
    return tuple(_task_health(k, grouped.get(k, []), gaps.get(k), now, window) for k in keys)


@pytest.mark.parametrize("seed", range(8))
def test_health_is_the_plain_join_on_random_sites(seed: int) -> None:
    """make_health works out each recurrence's gap once and skips the arithmetic for keys without runs: the same
    figures as running every task through live_starts and _task_health, on sites with suspended and undetailed
    schedules, Cloud recurrences, items that share a path, tasks on unknown items and a partial history."""
    rng = random.Random(seed)
    items = [ds(f"P{n % 3}/Item {n % 7}") for n in range(12)] + [ds("A/B/C"), wb("A/B/C"), ds("A/B/C", id="other")]
    schedules = [sched("Nightly"), sched("Weekly", "weekly", "05:00", weekdays=("monday", "friday")),
                 sched("Held", state="suspended"),
                 replace(sched("Listed only", "hourly", "00:00"), detailed=False)]
    recurrences = [rec("daily", "03:00"), rec("monthly", "01:00", month_days=(1,)), rec("hourly", "00:00", every=60)]
    tasks = []
    for n in range(60):
        on = rng.choice([*items, ds("Gone/Away", id="unknown-item")])
        if rng.random() < 0.3:
            tasks.append(task(f"t{n:03d}", on, rng.choice(["full", "incremental"]), recurrence=rng.choice(recurrences)))
        else:
            tasks.append(task(f"t{n:03d}", on, rng.choice(["full", "incremental"]),
                              schedule=rng.choice([s.name for s in schedules] + ["Unknown"])))
    site = live(items=items, schedules=schedules, tasks=tasks)
    site = replace(site, schedules=tuple(replace(s, detailed=s.name != "Listed only") for s in site.schedules))
    runs = [run(f"Item {rng.randrange(7)}", n, rng.choice(["Success", "Failed", "Cancelled"]),
                seconds=rng.choice([30.0, 7000.0]), job_type=rng.choice(["full", "incremental"]))
            for n in range(rng.randrange(0, 30))]
    assert make_health(site, runs, NOW, 14 * DAY).tasks == plain_health(site, runs, NOW, 14 * DAY)
