"""Load expansion (week of 15-minute slots), the plan's load section and staggering suggestions: pure."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from reconciler.model import LiveTask, Policy, Recurrence
from reconciler.plan import make_plan, plan_from_json, plan_to_json
from reconciler.plan.load import (
    SLOTS,
    Start,
    _count,
    _tally,
    describe_slots,
    live_starts,
    make_profile,
    plan_load,
    recurrence_from_dict,
    slot_label,
    week_slots,
)
from reconciler.plan.suggest import shifted, suggest_staggering
from reconciler.report import render_plan_markdown, render_plan_text

from .builders import desired, ds, extract, live, rec, sched, task, want

MON, TUE, SAT, SUN = 0, 96, 5 * 96, 6 * 96


@pytest.mark.parametrize(("recurrence", "weekly", "monthly"), [
    (rec("daily", "02:00"), [d * 96 + 8 for d in range(7)], []),
    (rec("weekly", "05:00", weekdays=("monday",)), [MON + 20], []),
    (rec("weekly", "03:00", weekdays=("saturday", "sunday")), [SAT + 12, SUN + 12], []),
    (rec("hourly", "08:00", every=60, end="18:00", weekdays=("monday",)), [MON + 4 * h for h in range(8, 19)], []),
    (rec("hourly", "06:00", every=15, end="07:00", weekdays=("tuesday",)), list(range(TUE + 24, TUE + 29)), []),
    (rec("daily", "00:00", every=240, end="20:00", weekdays=("sunday",)), [SUN + 16 * k for k in range(6)], []),
    (rec("daily", "00:10", every=720, end="12:10", weekdays=("monday",)), [MON + 0, MON + 48], []),
    (rec("monthly", "23:00", month_days=("last",)), [], [d * 96 + 92 for d in range(7)]),
    (rec("monthly", "06:00", on=("first", "monday")), [], [MON + 24]),
])
def test_week_slots(recurrence: Recurrence, weekly: list[int], monthly: list[int]) -> None:
    assert week_slots(recurrence) == (tuple(weekly), tuple(monthly))


def test_slot_labels_and_groups() -> None:
    assert slot_label(0) == "Mon 00:00" and slot_label(SLOTS - 1) == "Sun 23:45" and slot_label(TUE + 9) == "Tue 02:15"
    assert describe_slots(d * 96 + 8 for d in range(7)) == "Mon-Sun 02:00"
    assert describe_slots([MON + 25, 2 * 96 + 25]) == "Mon,Wed 06:15"
    assert describe_slots([d * 96 + 32 for d in range(5)]) == "Mon-Fri 08:00"


def test_profile_counts_each_task_and_keeps_monthly_apart() -> None:
    nightly = rec("daily", "02:00")
    month_end = rec("monthly", "02:00", month_days=("last",))
    starts = [Start(f"t{n}", nightly) for n in range(10)] + [Start("m", month_end)]
    profile = make_profile(starts, unplaced=2)
    assert profile.weekly[MON + 8] == 10 and profile.monthly[MON + 8] == 1 and profile.peaks[MON + 8] == 11
    assert profile.busiest == 11 and profile.starts_per_week == 70 and profile.unplaced == 2
    assert [s.label for s in profile.tasks_at(SUN + 8)] == [f"t{n}" for n in range(10)] + ["m"]
    assert profile.top_slots(2) == [MON + 8, TUE + 8]


def test_live_starts_places_server_tasks_by_schedule_and_skips_suspended() -> None:
    orders, pipeline, old = ds("Sales/Orders"), ds("Sales/Pipeline"), ds("Sales/Old")
    site = live(items=[orders, pipeline, old],
                schedules=[sched("Nightly", start="02:00"), sched("Hold", start="03:00", state="suspended")],
                tasks=[task("t1", orders, schedule="Nightly"), task("t2", pipeline, schedule="Unknown"),
                       task("t3", old, schedule="Hold")])
    starts, unplaced = live_starts(site)
    assert [(s.label, s.item) for s in starts] == [
        ('task[datasource "Sales/Orders"][full @ Nightly]', ("datasource", "Sales/Orders"))]
    assert unplaced == 1


def _ten_moves(limit: int | None = None) -> tuple[object, object]:
    """Ten items on Daily 06:00 and ten on Nightly 02:00; the files move the first ten to Nightly."""
    items = [ds(f"Sales/D{n}") for n in range(20)]
    schedules = [sched("Nightly 02:00", start="02:00", line=5), sched("Daily 06:00", start="06:00", line=8)]
    site = live(items=items, schedules=schedules,
                tasks=[task(f"t{n}", i, schedule="Nightly 02:00" if n >= 10 else "Daily 06:00")
                       for n, i in enumerate(items)])
    files = desired(schedules=schedules,
                    extracts=[extract("datasource", i.path, refresh=[want("Nightly 02:00", line=20 + n)], line=20 + n)
                              for n, i in enumerate(items)])
    if limit is not None:
        files = replace(files, policy=Policy(max_starts_per_slot=limit))
    return files, site


def test_plan_shows_the_slot_growing_and_the_tasks_it_adds() -> None:
    files, site = _ten_moves()
    plan = make_plan(files, site)  # type: ignore[arg-type]
    assert plan.load is not None and not plan.exceeds_load
    first = plan.load.slots[0]
    assert (first.when, first.before, first.after) == ("Mon-Sun 02:00", 10, 20)
    assert len(first.added) == 10 and first.added[0] == 'task[datasource "Sales/D0"][full @ Nightly 02:00]'
    assert (plan.load.peak_before, plan.load.peak_after) == (10, 20)
    text = render_plan_text(plan)
    assert "Refresh load" in text and "Mon-Sun 02:00: 10 → 20 starts (+10)" in text
    assert "        ... and 5 more" in text and "Busiest slot: 10 → 20 refresh starts in 15 minutes." in text
    assert "| Mon-Sun 02:00 | 10 | 20 |" in render_plan_markdown(plan)


def test_a_limit_makes_the_plan_warn_and_survives_a_saved_plan() -> None:
    files, site = _ten_moves(limit=15)
    plan = make_plan(files, site)  # type: ignore[arg-type]
    assert plan.exceeds_load and plan.load is not None and plan.load.over_limit[0].after == 20
    assert any("policy.load.max_starts_per_slot (15)" in w and "--allow-overload" in w for w in plan.warnings)
    again = plan_from_json(plan_to_json(plan))
    assert again.load == plan.load and again.exceeds_load
    assert "over the limit" in render_plan_text(plan)


def test_no_load_section_when_no_slot_gets_busier() -> None:
    files, site = _ten_moves()
    back = replace(files, extracts=tuple(  # type: ignore[type-var]
        replace(e, refresh=(want("Daily 06:00" if n < 10 else "Nightly 02:00", line=20 + n),))
        for n, e in enumerate(files.extracts)))  # type: ignore[attr-defined]
    assert make_plan(back, site).load is None  # type: ignore[arg-type]
    assert plan_load(site, (), 5) is None  # type: ignore[arg-type]


def test_a_schedule_update_moves_all_its_tasks() -> None:
    files, site = _ten_moves()
    schedules = (sched("Nightly 02:00", start="06:00", line=5), sched("Daily 06:00", start="06:00", line=8))
    same = replace(files, schedules=schedules, extracts=tuple(  # type: ignore[type-var]
        replace(e, refresh=(want("Daily 06:00" if n < 10 else "Nightly 02:00", line=20 + n),))
        for n, e in enumerate(files.extracts)))  # type: ignore[attr-defined]
    plan = make_plan(same, site)  # type: ignore[arg-type]
    assert plan.load is not None and (plan.load.slots[0].when, plan.load.slots[0].after) == ("Mon-Sun 06:00", 20)


def test_recurrence_round_trips_through_a_plan_value() -> None:
    for r in (rec("hourly", "08:00", every=60, end="18:00", weekdays=("monday", "friday")),
              rec("monthly", "06:00", on=("first", "monday")), rec("monthly", "23:00", month_days=(1, "last"))):
        assert recurrence_from_dict(r.to_dict()) == r
    assert recurrence_from_dict({"start": "02:00"}) is None


def test_suggestion_staggers_the_peak_onto_later_copies() -> None:
    files, site = _ten_moves()
    plan_site = live(items=site.items, schedules=site.schedules,  # type: ignore[attr-defined]
                     tasks=[task(f"t{n}", i, schedule="Nightly 02:00")
                            for n, i in enumerate(site.items)])  # type: ignore[attr-defined]
    starts, unplaced = live_starts(plan_site)
    profile = make_profile(starts, unplaced)
    suggestion = suggest_staggering(files, plan_site, profile, target=6)  # type: ignore[arg-type]
    assert suggestion.peak_before == 20 and suggestion.peak_after == 6
    assert [(to, src, off) for to, src, off in suggestion.new_schedules] == [
        ("Nightly 02:15", "Nightly 02:00", 15), ("Nightly 02:30", "Nightly 02:00", 30),
        ("Nightly 02:45", "Nightly 02:00", 45)]
    assert len(suggestion.moves) == 14 and suggestion.moves[0].source.line == 20
    assert shifted(rec("daily", "23:50"), 15) is None


def test_twenty_thousand_tasks_expand_once_per_recurrence() -> None:
    recurrences = [rec("daily", f"{h:02d}:{m:02d}") for h in range(24) for m in (0, 15, 30, 45)]
    starts = [Start(f"t{n}", recurrences[n % len(recurrences)]) for n in range(20000)]
    profile = make_profile(starts)
    assert sum(profile.weekly) == 20000 * 7 and profile.busiest == -(-20000 // 96)


def test_an_hourly_schedule_is_one_line_of_the_load_section() -> None:
    items = [ds("Sales/A"), ds("Sales/B")]
    hourly = sched("Business", "hourly", "08:00", end="18:00", every=60, weekdays=("monday", "tuesday", "wednesday",
                                                                                    "thursday", "friday"))
    site = live(items=items, schedules=[sched("Nightly", line=5), hourly],
                tasks=[task("a", items[0], schedule="Nightly"), task("b", items[1], schedule="Business")])
    files = desired(schedules=[sched("Nightly", line=5), hourly],
                    extracts=[extract("datasource", "Sales/A", refresh=[want("Business", line=20)])])
    load = make_plan(files, site).load
    assert load is not None and [(s.when, s.before, s.after) for s in load.slots] == [
        ("Mon-Fri 08:00 to 18:00 (11 times)", 1, 2)]
    assert len(load.slots[0].slots) == 55


def test_busy_time_spreads_each_start_over_its_median_duration() -> None:
    from reconciler.plan import busy_profile

    nightly = rec("daily", "02:00")
    starts = [Start("slow", nightly, "full", ("datasource", "Sales/Orders")),
              Start("quick", nightly, "full", ("datasource", "Sales/Customers")),
              Start("sunday", rec("weekly", "23:45", weekdays=("sunday",)), "full", ("workbook", "W"))]
    busy = busy_profile(make_profile(starts), {("datasource", "Sales/Orders", "full"): 6000.0,
                                               ("workbook", "W", "full"): 1800.0})
    assert busy[MON + 8] == 2 and busy[MON + 9] == 1 and busy[MON + 14] == 1 and busy[MON + 15] == 0
    assert busy[SLOTS - 1] == 1 and busy[0] == 1 and busy[1] == 0  # Sunday 23:45 runs into Monday


def plain_count(tasks: list[LiveTask], schedules: dict[str, tuple[Recurrence | None, str]]
                ) -> tuple[Counter[Recurrence], int]:
    """The load counts as they were made before the tally: one look-up per task."""
    counts: Counter[Recurrence] = Counter()
    unplaced = 0
    for t in tasks:
        recurrence = t.recurrence
        if recurrence is None and t.schedule is not None:
            recurrence, state = schedules.get(t.schedule, (None, "active"))
            if state == "suspended":
                continue
        if recurrence is None:
            unplaced += 1
            continue
        counts[recurrence] += 1
    return counts, unplaced


@pytest.mark.parametrize("seed", range(20))
def test_the_tally_counts_like_a_count_per_task_less_the_tasks_gone(seed: int) -> None:
    """plan_load counts the site's tasks once (by schedule name, and by shared recurrence object) and takes
    the tasks a plan deletes or moves away from that count: the same counts as counting the kept tasks."""
    rng = random.Random(seed)
    on = ds("Sales/One")
    shared = [rec("daily", f"0{n}:00") for n in range(4)]
    equal_copy = rec("daily", "00:00")  # equal to shared[0], another object: counted on the same recurrence
    tasks = [task(f"t{n}", on, schedule=rng.choice([None, "A", "B", "C", "gone"]),
                  recurrence=rng.choice([None, *shared, equal_copy])) for n in range(200)]
    schedules: dict[str, tuple[Recurrence | None, str]] = {
        "A": (shared[1], "active"), "B": (None, "active"), "C": (shared[2], rng.choice(["active", "suspended"]))}
    gone = {t.id for t in tasks if rng.random() < 0.2}
    kept = [t for t in tasks if t.id not in gone]
    tally = _tally(tasks)
    assert _count(tally, schedules) == plain_count(tasks, schedules)
    counts, unplaced = _count(tally, schedules, _tally(t for t in tasks if t.id in gone))
    expected_counts, expected_unplaced = plain_count(kept, schedules)
    assert (counts, unplaced) == (+expected_counts, expected_unplaced)
