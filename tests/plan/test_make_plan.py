"""make_plan: every kind of change, both flavors, policy, targets, errors, determinism."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from reconciler.errors import PlanError
from reconciler.model import DesiredState, LiveState
from reconciler.plan import (
    Action,
    FieldChange,
    ItemTarget,
    Plan,
    ScheduleTarget,
    SiteTarget,
    TaskTarget,
    make_plan,
    plan_to_json,
)

from .builders import desired, ds, extract, live, rec, sched, task, want, wb

ORDERS = ds("Sales/Orders")
BOARD = wb("Finance/Board Pack")
OTHER = ds("Sales/Other")
OUTSIDE = ds("HR/People")
ITEMS = (ORDERS, BOARD, OTHER, OUTSIDE)
NIGHTLY = 'schedule["Nightly"]'
T_ORDERS = 'task[datasource "Sales/Orders"]'


def actions(plan: Plan) -> list[tuple[str, str]]:
    return [(c.action.value, c.address) for c in plan.changes]


def server(**kw) -> LiveState:  # type: ignore[no-untyped-def]
    kw.setdefault("items", ITEMS)
    return live(**kw)


CASES = {
    "schedule create": (
        desired(schedules=[sched("Nightly", line=5)]),
        server(),
        [("create", NIGHTLY)],
    ),
    "schedule update start": (
        desired(schedules=[sched("Nightly", start="03:00")]),
        server(schedules=[sched("Nightly")]),
        [("update", NIGHTLY)],
    ),
    "schedule no change": (
        desired(schedules=[sched("Nightly")]),
        server(schedules=[sched("Nightly")]),
        [],
    ),
    "schedule update priority": (
        desired(schedules=[sched("Nightly", priority=80)]),
        server(schedules=[sched("Nightly")]),
        [("update", NIGHTLY)],
    ),
    "schedule priority ignored": (
        desired(schedules=[sched("Nightly", priority=80)], ignore=["schedule.priority"]),
        server(schedules=[sched("Nightly")]),
        [],
    ),
    "schedule recurrence ignored": (
        desired(schedules=[sched("Nightly", start="04:00")], ignore=["schedule.recurrence"]),
        server(schedules=[sched("Nightly")]),
        [],
    ),
    "undeclared schedule listed, not deleted": (
        desired(),
        server(schedules=[sched("Nightly")]),
        [],
    ),
    "undeclared schedule pruned": (
        desired(prune=True),
        server(schedules=[sched("Nightly")]),
        [("delete", NIGHTLY)],
    ),
    "pruned schedule kept: other sites use it": (
        desired(prune=True),
        server(schedules=[sched("Nightly")], shared=[("Nightly", 3)]),
        [],
    ),
    "pruned schedule kept: unknown use elsewhere": (
        desired(prune=True),
        server(schedules=[sched("Nightly")], shared=[]),
        [],
    ),
    "pruned schedule kept: tasks of undeclared item out of scope": (
        desired(prune=True, scope=["Sales"]),
        server(schedules=[sched("Nightly")], tasks=[task("t9", OUTSIDE, schedule="Nightly")]),
        [],
    ),
    "task create on a new schedule": (
        desired(schedules=[sched("Nightly")],
                extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])]),
        server(),
        [("create", NIGHTLY), ("create", f"{T_ORDERS}[full @ Nightly]")],
    ),
    "task move": (
        desired(extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])]),
        server(schedules=[sched("Nightly"), sched("Hourly", "hourly", "08:00", end="18:00")],
               tasks=[task("t1", ORDERS, schedule="Hourly")]),
        [("move", f"{T_ORDERS}[full @ Nightly]")],
    ),
    "task type ignored": (
        desired(extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly", "incremental")])],
                ignore=["task.type"]),
        server(schedules=[sched("Nightly")], tasks=[task("t1", ORDERS, schedule="Nightly")]),
        [],
    ),
    "refresh authoritative: extra task deleted": (
        desired(extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])]),
        server(schedules=[sched("Nightly")], tasks=[task("t1", ORDERS, schedule="Nightly"),
                                                     task("t2", ORDERS, "incremental", "Nightly")]),
        [("delete", f"{T_ORDERS}[incremental @ Nightly]")],
    ),
    "refresh [] deletes every task": (
        desired(extracts=[extract("datasource", "Sales/Orders", refresh=[])]),
        server(schedules=[sched("Nightly")], tasks=[task("t1", ORDERS, schedule="Nightly")]),
        [("delete", f"{T_ORDERS}[full @ Nightly]")],
    ),
    "refresh absent: tasks not managed": (
        desired(extracts=[extract("datasource", "Sales/Orders", encrypt=False)], prune=True),
        server(schedules=[sched("Nightly")], tasks=[task("t1", ORDERS, schedule="Nightly")], shared=[]),
        [],
    ),
    "duplicate live tasks: both deleted, distinct addresses": (
        desired(extracts=[extract("datasource", "Sales/Orders", refresh=[])]),
        server(schedules=[sched("Nightly")], tasks=[task("t1", ORDERS, schedule="Nightly"),
                                                     task("t2", ORDERS, schedule="Nightly")]),
        [("delete", f"{T_ORDERS}[full @ Nightly #2]"), ("delete", f"{T_ORDERS}[full @ Nightly]")],
    ),
    "prune deletes tasks of undeclared items in scope only": (
        desired(prune=True, scope=["Sales"]),
        server(schedules=[sched("Nightly")], shared=[("Nightly", 0)],
               tasks=[task("t1", OTHER, schedule="Nightly"), task("t2", OUTSIDE, schedule="Nightly")]),
        [("delete", 'task[datasource "Sales/Other"][full @ Nightly]')],
    ),
    "prune deletes the tasks, then the schedule": (
        desired(prune=True),
        server(schedules=[sched("Nightly")], tasks=[task("t1", OTHER, schedule="Nightly")]),
        [("delete", 'task[datasource "Sales/Other"][full @ Nightly]'), ("delete", NIGHTLY)],
    ),
    "site mode up": (
        desired(mode="enforced"),
        server(mode="enabled"),
        [("update", "site.encryption_mode")],
    ),
    "site mode down": (
        desired(mode="disabled"),
        server(mode="enabled"),
        [("update", "site.encryption_mode")],
    ),
    "site mode ignored": (
        desired(mode="disabled", ignore=["site.encryption_mode"]),
        server(mode="enabled"),
        [],
    ),
    "encrypt flag on, site mode up first": (
        desired(mode="enabled", extracts=[extract("datasource", "Sales/Orders", encrypt=True)]),
        server(mode="disabled"),
        [("update", "site.encryption_mode"), ("update", 'datasource["Sales/Orders"].encrypt')],
    ),
    "encrypt flag off": (
        desired(extracts=[extract("workbook", "Finance/Board Pack", encrypt=False)]),
        server(items=(ORDERS, wb("Finance/Board Pack", encrypt=True))),
        [("update", 'workbook["Finance/Board Pack"].encrypt')],
    ),
    "encrypt flag ignored": (
        desired(extracts=[extract("workbook", "Finance/Board Pack", encrypt=True)], ignore=["workbook.encrypt"]),
        server(),
        [],
    ),
    "encrypt true under enforced: nothing to do": (
        desired(extracts=[extract("datasource", "Sales/Orders", encrypt=True)]),
        server(mode="enforced"),
        [],
    ),
    "cloud task create": (
        desired(flavor="cloud", extracts=[extract("datasource", "Sales/Orders", refresh=[
            want("Nightly", recurrence=rec("daily", "02:00"))])]),
        live(flavor="cloud", items=ITEMS),
        [("create", f"{T_ORDERS}[full @ Nightly]")],
    ),
    "cloud task unchanged": (
        desired(flavor="cloud", extracts=[extract("datasource", "Sales/Orders", refresh=[
            want("Nightly", recurrence=rec("daily", "02:00"))])]),
        live(flavor="cloud", items=ITEMS, tasks=[task("t1", ORDERS, recurrence=rec("daily", "2:00"))]),
        [],
    ),
    "cloud task move (new recurrence)": (
        desired(flavor="cloud", extracts=[extract("datasource", "Sales/Orders", refresh=[
            want("Nightly", recurrence=rec("daily", "03:00"))])]),
        live(flavor="cloud", items=ITEMS, tasks=[task("t1", ORDERS, recurrence=rec("daily", "02:00"))]),
        [("move", f"{T_ORDERS}[full @ Nightly]")],
    ),
    "cloud task replace": (
        desired(flavor="cloud", extracts=[extract("datasource", "Sales/Orders", refresh=[
            want("Nightly", "incremental", recurrence=rec("daily", "02:00"))])]),
        live(flavor="cloud", items=ITEMS, tasks=[task("t1", ORDERS, recurrence=rec("daily", "02:00"))]),
        [("replace", f"{T_ORDERS}[incremental @ Nightly]")],
    ),
    "cloud task delete, templates are not schedules": (
        desired(flavor="cloud", schedules=[sched("Nightly")],
                extracts=[extract("datasource", "Sales/Orders", refresh=[])]),
        live(flavor="cloud", items=ITEMS,
             tasks=[task("t1", ORDERS, recurrence=rec("weekly", "06:00", weekdays=("monday",)))]),
        [("delete", f"{T_ORDERS}[full @ weekly at 06:00 on Monday]")],
    ),
}


@pytest.mark.parametrize(("d", "lv", "expected"), CASES.values(), ids=CASES.keys())
def test_actions(d: DesiredState, lv: LiveState, expected: list[tuple[str, str]]) -> None:
    assert actions(make_plan(d, lv)) == expected


def test_schedule_update_fields_and_target() -> None:
    d = desired(schedules=[sched("Nightly", "hourly", "08:00", end="18:00", every=120, state="suspended", line=7)])
    lv = server(schedules=[sched("Nightly", "hourly", "08:00", end="18:00", id="luid-1")])
    (change,) = make_plan(d, lv).changes
    assert change.changes == (FieldChange("every", "1h", "2h"), FieldChange("state", "active", "suspended"))
    assert change.target == ScheduleTarget("Nightly", "luid-1")
    assert change.source == "examples/site.yaml:7:3"
    assert change.phase == 2 and change.kind == "schedule"
    assert change.before is not None and change.after is not None
    assert change.before["every"] == "1h" and change.after["every"] == "2h"


def test_schedule_update_frequency_shows_each_field() -> None:
    d = desired(schedules=[sched("Nightly", "weekly", "02:00", weekdays=("monday", "friday"))])
    (change,) = make_plan(d, server(schedules=[sched("Nightly")])).changes
    assert change.changes == (
        FieldChange("frequency", "daily", "weekly"),
        FieldChange("weekdays", None, ["monday", "friday"]),
    )


def test_ignored_schedule_field_keeps_its_live_value_in_after() -> None:
    d = desired(schedules=[sched("Nightly", start="03:00", priority=90)], ignore=["schedule.priority"])
    (change,) = make_plan(d, server(schedules=[sched("Nightly", priority=10)])).changes
    assert change.after is not None and change.after["priority"] == 10
    assert [f.path for f in change.changes] == ["start"]


def test_schedule_update_warns_about_other_sites_and_unmanaged_tasks() -> None:
    d = desired(schedules=[sched("Nightly", start="03:00")])
    lv = server(schedules=[sched("Nightly")], shared=[("Nightly", 7)], tasks=[task("t1", OTHER, schedule="Nightly")])
    (change,) = make_plan(d, lv).changes
    assert change.warnings == (
        '"Nightly" is a server schedule: this update changes it for every site, for 8 tasks (7 on other sites, '
        "1 on this site); 1 task on this site that the files don't manage.",
    )


def test_pruned_schedule_kept_says_why() -> None:
    plan = make_plan(desired(prune=True), server(schedules=[sched("Nightly")], shared=[("Nightly", 3)]))
    assert plan.warnings == (
        'schedule["Nightly"] was not deleted although policy.prune is true: 3 tasks on other sites use it.',
    )
    assert [u.address for u in plan.unmanaged] == [NIGHTLY]


def test_unmanaged_lists_undeclared_tasks_in_scope() -> None:
    lv = server(schedules=[sched("Nightly")], tasks=[task("t1", OTHER, schedule="Nightly"),
                                                       task("t2", OUTSIDE, schedule="Nightly")])
    plan = make_plan(desired(scope=["Sales"]), lv)
    assert [(u.kind, u.address) for u in plan.unmanaged] == [
        ("schedule", NIGHTLY), ("task", 'task[datasource "Sales/Other"][full @ Nightly]'),
    ]
    assert not plan.has_changes


def test_task_targets_and_dependencies() -> None:
    d = desired(schedules=[sched("Nightly")],
                extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly", line=30)])])
    lv = server(schedules=[sched("Hourly", "hourly", "08:00", end="18:00")],
                tasks=[task("t1", ORDERS, "incremental", "Hourly")], shared=[("Hourly", 0)])
    plan = make_plan(replace(d, policy=replace(d.policy, prune=True)), lv)
    by = {c.address: c for c in plan.changes}
    create = by[f"{T_ORDERS}[full @ Nightly]"]
    delete = by[f"{T_ORDERS}[incremental @ Hourly]"]
    drop = by['schedule["Hourly"]']
    assert create.target == TaskTarget("datasource", ORDERS.id, "Sales/Orders", schedule_name="Nightly")
    assert create.depends_on == (NIGHTLY,) and create.source == "examples/site.yaml:30:9"
    assert TaskTarget.of(delete).task_id == "t1" and delete.depends_on == (create.address,)
    assert drop.depends_on == (delete.address,) and drop.phase == 6 and drop.source is None
    assert [c.phase for c in plan.changes] == [2, 4, 5, 6]


def test_move_target_on_server() -> None:
    d = desired(extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])])
    lv = server(schedules=[sched("Nightly"), sched("Early", start="01:00")],
                tasks=[task("t1", ORDERS, schedule="Early")])
    (change,) = make_plan(d, lv).changes
    assert change.target == TaskTarget("datasource", ORDERS.id, "Sales/Orders", task_id="t1",
                                       from_schedule_name="Early", schedule_name="Nightly")
    assert change.changes == (FieldChange("schedule", "Early", "Nightly"),)


def test_cloud_move_shows_recurrence_fields() -> None:
    d = desired(flavor="cloud", extracts=[extract("datasource", "Sales/Orders", refresh=[
        want("Nightly", recurrence=rec("daily", "03:00"))])])
    lv = live(flavor="cloud", items=ITEMS, tasks=[task("t1", ORDERS, recurrence=rec("daily", "02:00"))])
    (change,) = make_plan(d, lv).changes
    assert change.changes == (FieldChange("start", "02:00", "03:00"),)
    assert change.target == TaskTarget("datasource", ORDERS.id, "Sales/Orders", task_id="t1")
    assert change.after == {"type": "full", "schedule": "Nightly",
                            "recurrence": {"frequency": "daily", "start": "03:00"}}


@pytest.mark.parametrize(
    ("mode_before", "mode_after", "phase", "warning"),
    [
        ("enabled", "disabled", 7, "decrypts every extract on the site (4 data sources and workbooks with extracts)"),
        ("enabled", "enforced", 1, "encrypts every extract on the site"),
        ("disabled", "enabled", 1, None),
    ],
)
def test_site_mode(mode_before: str, mode_after: str, phase: int, warning: str | None) -> None:
    (change,) = make_plan(desired(mode=mode_after), server(mode=mode_before)).changes
    assert (change.phase, change.before, change.after) == (phase, {"mode": mode_before}, {"mode": mode_after})
    assert change.target == SiteTarget("site-luid") and change.source == "examples/site.yaml:4:3"
    if warning is None:
        assert change.warnings == ()
    else:
        assert len(change.warnings) == 1 and warning in change.warnings[0]


def test_encrypt_depends_on_site_mode_up() -> None:
    d = desired(mode="enabled", extracts=[extract("datasource", "Sales/Orders", encrypt=True, line=40)])
    site, flag = make_plan(d, server(mode="disabled")).changes
    assert flag.depends_on == (site.address,) and flag.phase == 3
    assert flag.target == ItemTarget("datasource", ORDERS.id, "Sales/Orders")
    assert flag.changes == (FieldChange("encrypt", False, True),)


ERRORS = {
    "encrypt true on a disabled site": (
        desired(extracts=[extract("datasource", "Sales/Orders", encrypt=True, line=12)]),
        server(mode="disabled"),
        'examples/site.yaml:12:5: datasource "Sales/Orders" has encrypt: true but the site\'s extract '
        "encryption mode is disabled; set encryption.mode: enabled.",
    ),
    "encrypt false on an enforced site": (
        desired(mode="enforced", extracts=[extract("datasource", "Sales/Orders", encrypt=False, line=12)]),
        server(mode="enabled"),
        "encryption mode will be enforced",
    ),
    "unknown item with suggestion": (
        desired(extracts=[extract("datasource", "Sales/Ordrs", refresh=[], line=12)]),
        server(),
        'examples/site.yaml:12:5: datasource "Sales/Ordrs" does not exist on site "finance". '
        'Did you mean "Sales/Orders" or "Sales/Other"?',
    ),
    "unknown schedule": (
        desired(extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightlly", line=14)])]),
        server(schedules=[sched("Nightly")]),
        'examples/site.yaml:14:9: schedule "Nightlly" is not declared in any file and does not exist on '
        'the server. Did you mean "Nightly"?',
    ),
    "protected item's task": (
        desired(extracts=[extract("datasource", "Sales/Orders", refresh=[])], protect=[("datasource", "Sales/Orders")]),
        server(schedules=[sched("Nightly")], tasks=[task("t1", ORDERS, schedule="Nightly")]),
        'task[datasource "Sales/Orders"][full @ Nightly], a refresh task of protected '
        'datasource["Sales/Orders"], is protected by policy.protect (examples/site.yaml:90:3)',
    ),
    "protected item's task, declaration removed, pruned": (
        desired(prune=True, protect=[("datasource", "Sales/Orders")]),
        server(schedules=[sched("Nightly")], tasks=[task("t1", ORDERS, schedule="Nightly")]),
        "not declared in any file (policy.prune: true)",
    ),
    "protected schedule, declaration removed, pruned": (
        desired(prune=True, protect=[("schedule", "Nightly")]),
        server(schedules=[sched("Nightly")]),
        'schedule["Nightly"] is protected by policy.protect (examples/site.yaml:90:3) but the plan would delete',
    ),
    "protected item's encryption turned off": (
        desired(extracts=[extract("datasource", "Sales/Orders", encrypt=False)],
                protect=[("datasource", "Sales/Orders")]),
        server(items=(ds("Sales/Orders", encrypt=True),)),
        'the encryption of datasource["Sales/Orders"] is protected',
    ),
}


@pytest.mark.parametrize(("d", "lv", "message"), ERRORS.values(), ids=ERRORS.keys())
def test_plan_errors(d: DesiredState, lv: LiveState, message: str) -> None:
    with pytest.raises(PlanError) as error:
        make_plan(d, lv)
    assert message in str(error.value)


def test_every_unknown_item_in_one_error() -> None:
    d = desired(extracts=[extract("datasource", "Sales/Ordrs", line=12),
                          extract("workbook", "Finance/Bord Pack", line=9),
                          extract("workbook", "Nowhere/At All", line=20)])
    with pytest.raises(PlanError) as error:
        make_plan(d, server())
    assert str(error.value).splitlines() == [
        'examples/site.yaml:9:5: workbook "Finance/Bord Pack" does not exist on site "finance". '
        'Did you mean "Finance/Board Pack"?',
        'examples/site.yaml:12:5: datasource "Sales/Ordrs" does not exist on site "finance". '
        'Did you mean "Sales/Orders" or "Sales/Other"?',
        'examples/site.yaml:20:5: workbook "Nowhere/At All" does not exist on site "finance".',
    ]


@pytest.mark.parametrize(
    ("max_deletes", "delete_count", "exceeds"),
    [(5, 3, False), (3, 3, False), (2, 3, True)],
)
def test_max_deletes_counts_deletes_and_replaces(max_deletes: int, delete_count: int, exceeds: bool) -> None:
    d = desired(max_deletes=max_deletes, prune=True,
                extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly", "incremental")])])
    lv = server(schedules=[sched("Nightly"), sched("Spare", start="05:00")],
                tasks=[task("t1", ORDERS, schedule="Nightly"), task("t2", OTHER, schedule="Nightly")])
    plan = make_plan(d, lv, strict=False)  # a Server replace is kept (as drift keeps it) to be counted
    assert plan.counts == {"create": 0, "update": 0, "move": 0, "replace": 1, "delete": 2}
    assert (plan.delete_count, plan.exceeds_max_deletes, plan.max_deletes) == (delete_count, exceeds, max_deletes)
    assert any("max_deletes" in w for w in plan.warnings) == exceeds


def _big() -> tuple[DesiredState, LiveState]:
    """Every kind of change at once, including Server task changes Tableau's REST API cannot make:
    the tests below plan it with ``strict=False`` (as drift does), so those changes stay in the plan
    and targeting, ordering and determinism are checked over all of them."""
    d = desired(
        schedules=[sched("Nightly", start="03:00"), sched("Weekly", "weekly", "06:00", weekdays=("monday",))],
        extracts=[
            extract("datasource", "Sales/Orders", line=20,
                    refresh=[want("Nightly", line=21), want("Weekly", "incremental", line=22)]),
            extract("workbook", "Finance/Board Pack", encrypt=True, refresh=[want("Nightly")], line=30),
        ],
        prune=True,
    )
    lv = server(
        schedules=[sched("Nightly"), sched("Old", start="05:00")],
        tasks=[task("t1", ORDERS, schedule="Old"), task("t2", ORDERS, "incremental", "Nightly"),
               task("t3", OTHER, schedule="Old"), task("t4", BOARD, "incremental", "Nightly")],
    )
    return d, lv


TARGETS = {
    "schedule": (["schedule:Weekly"], ['schedule["Weekly"]']),
    "item pulls its new schedule": (["datasource:Sales/Orders"], [
        'schedule["Weekly"]', f"{T_ORDERS}[full @ Nightly]", f"{T_ORDERS}[incremental @ Weekly]"]),
    "workbook": (["workbook:Finance/Board Pack"], [
        'workbook["Finance/Board Pack"].encrypt', 'task[workbook "Finance/Board Pack"][full @ Nightly]']),
    "project": (["project:Sales"], [
        'schedule["Weekly"]', f"{T_ORDERS}[full @ Nightly]", f"{T_ORDERS}[incremental @ Weekly]",
        'task[datasource "Sales/Other"][full @ Old]']),
    "schedule delete pulls the task changes off it": (["schedule:Old"], [
        f"{T_ORDERS}[full @ Nightly]", 'task[datasource "Sales/Other"][full @ Old]', 'schedule["Old"]']),
}


@pytest.mark.parametrize(("targets", "addresses"), TARGETS.values(), ids=TARGETS.keys())
def test_targets(targets: list[str], addresses: list[str]) -> None:
    d, lv = _big()
    plan = make_plan(d, lv, targets, strict=False)
    assert sorted(c.address for c in plan.changes) == sorted(addresses)
    assert any(w.startswith("Plan limited by --target") for w in plan.warnings)


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("datasource:Sales/Ordrs", '--target "datasource:Sales/Ordrs" matches nothing declared in the files or '
         'present on the site. Did you mean "datasource:Sales/Orders" or "datasource:Sales/Other"?'),
        ("schedule:Nighty", 'Did you mean "schedule:Nightly"?'),
        ("project:Sale", 'Did you mean "project:Sales"?'),
        ("nonsense", "is not a selector"),
    ],
)
def test_bad_target(selector: str, message: str) -> None:
    d, lv = _big()
    with pytest.raises(PlanError) as error:
        make_plan(d, lv, [selector], strict=False)
    assert message in str(error.value)


def test_same_input_gives_the_same_plan_byte_for_byte() -> None:
    d, lv = _big()
    assert plan_to_json(make_plan(d, lv, strict=False)) == plan_to_json(make_plan(d, lv, strict=False))


@pytest.mark.parametrize("seed", range(5))
def test_input_order_does_not_matter(seed: int) -> None:
    d, lv = _big()
    rnd = random.Random(seed)

    def shuffled(values: tuple) -> tuple:  # type: ignore[type-arg]
        out = list(values)
        rnd.shuffle(out)
        return tuple(out)

    d2 = replace(d, schedules=shuffled(d.schedules),
                 extracts=tuple(replace(e, refresh=shuffled(e.refresh or ())) for e in shuffled(d.extracts)))
    lv2 = replace(lv, items=shuffled(lv.items), schedules=shuffled(lv.schedules), tasks=shuffled(lv.tasks),
                  projects=shuffled(lv.projects))
    assert plan_to_json(make_plan(d2, lv2, strict=False)) == plan_to_json(make_plan(d, lv, strict=False))


def test_plan_is_sorted_by_phase_kind_address() -> None:
    d, lv = _big()
    changes = make_plan(d, lv, strict=False).changes
    keys = [(c.phase, c.kind, c.address) for c in changes]
    assert [c.action for c in changes][:1] == [Action.UPDATE]
    assert keys == sorted(keys, key=lambda k: (k[0], ["site", "schedule", "encrypt", "task"].index(k[1]), k[2]))


def test_observed_covers_what_the_plan_depends_on() -> None:
    d, lv = _big()
    plan = make_plan(d, lv, strict=False)
    assert set(plan.observed) == {
        "site", "schedule:Nightly", "schedule:Weekly", "schedule:Old", "usage:schedule:Old",
        f"item:datasource:{ORDERS.id}", f"tasks:datasource:{ORDERS.id}",
        f"item:workbook:{BOARD.id}", f"tasks:workbook:{BOARD.id}",
        f"item:datasource:{OTHER.id}", f"tasks:datasource:{OTHER.id}",
    }


# -- What Tableau Server's REST API cannot do is refused before anything is written ------------------------
# Add-to-schedule always makes a full refresh task (docs/tableau-behaviour.md, "Add to schedule makes full
# tasks"), so creating an incremental task, changing a task's type, and a REST move of an incremental task
# would all silently turn it into a full refresh.

SERVER_REFUSALS = {
    "create incremental": (
        [want("Nightly", "incremental")], [], "cannot make an incremental refresh task"),
    "type full to incremental": (
        [want("Nightly", "incremental")], [task("t1", ORDERS, schedule="Nightly")],
        "changes the task's type from full to incremental"),
    "type incremental to full": (
        [want("Nightly")], [task("t1", ORDERS, "incremental", "Nightly")],
        "changes the task's type from incremental to full"),
    "REST move of an incremental task": (
        [want("Weekly", "incremental")], [task("t1", ORDERS, "incremental", "Nightly")],
        "--server-move-strategy vizportal"),
}


@pytest.mark.parametrize(("wanted", "tasks", "words"), SERVER_REFUSALS.values(), ids=SERVER_REFUSALS.keys())
def test_server_refuses_what_rest_cannot_make(wanted: list, tasks: list, words: str) -> None:  # type: ignore[type-arg]
    d = desired(extracts=[extract("datasource", "Sales/Orders", refresh=wanted, line=20)])
    lv = server(schedules=[sched("Nightly"), sched("Weekly", "weekly", "06:00", weekdays=("monday",))], tasks=tasks)
    with pytest.raises(PlanError) as error:
        make_plan(d, lv)
    message = str(error.value)
    assert message.startswith("examples/site.yaml:") and T_ORDERS in message and words in message
    # drift (strict=False) keeps the difference, with the reason as a warning
    (change,) = [c for c in make_plan(d, lv, strict=False).changes if c.kind == "task"]
    assert any(words in w for w in change.warnings)


def test_incremental_move_allowed_in_place_with_vizportal() -> None:
    d = desired(extracts=[extract("datasource", "Sales/Orders", refresh=[want("Weekly", "incremental")])])
    lv = server(schedules=[sched("Nightly"), sched("Weekly", "weekly", "06:00", weekdays=("monday",))],
                tasks=[task("t1", ORDERS, "incremental", "Nightly")])
    plan = make_plan(d, lv, server_moves="vizportal")
    assert actions(plan) == [("move", f"{T_ORDERS}[incremental @ Weekly]")]
    assert not plan.changes[0].warnings


def test_cloud_may_create_and_retype_incremental_tasks() -> None:
    d = desired(extracts=[extract("datasource", "Sales/Orders", refresh=[
        want("N", "incremental", recurrence=rec("daily", "02:00")),
        want("W", "incremental", recurrence=rec("weekly", "06:00", weekdays=("monday",)))])])
    lv = live(flavor="cloud", items=ITEMS, tasks=[task("t1", ORDERS, recurrence=rec("daily", "02:00"))])
    assert sorted(a for a, _ in actions(make_plan(d, lv))) == ["create", "replace"]


def test_refresh_on_an_item_without_an_extract_is_refused() -> None:
    live_item = ds("Sales/Live", has_extracts=False)
    d = desired(extracts=[extract("datasource", "Sales/Live", refresh=[want("Nightly")], line=12),
                          extract("datasource", "Sales/Orders", refresh=[], line=14)])
    lv = server(items=(*ITEMS, live_item), schedules=[sched("Nightly")])
    with pytest.raises(PlanError) as error:
        make_plan(d, lv)
    assert str(error.value).startswith('examples/site.yaml:12:')
    assert 'datasource "Sales/Live" has no extract' in str(error.value)
    # refresh: [] on such an item is fine, and an unknown hasExtracts (None) refuses nothing
    d2 = desired(extracts=[extract("datasource", "Sales/Live", refresh=[want("Nightly")])])
    unknown = replace(live_item, has_extracts=None)
    assert actions(make_plan(d2, server(items=(*ITEMS, unknown), schedules=[sched("Nightly")]))) == [
        ("create", 'task[datasource "Sales/Live"][full @ Nightly]')]


def test_customized_monthly_days_are_never_diffed() -> None:
    """Tableau answers a UI-made multi-day monthly schedule without its days (ledger: "Customized Monthly")."""
    unknown = replace(sched("Payroll", "monthly", "05:00"), recurrence=rec("monthly", "05:00", days_unknown=True))
    d = desired(schedules=[sched("Payroll", "monthly", "05:00", month_days=(1, 15), line=4)])
    plan = make_plan(d, server(schedules=[unknown]))
    assert actions(plan) == []
    assert any("does not report the days" in w and "examples/site.yaml:4:3" in w for w in plan.warnings)
    # another field changing writes the declared days, and shows what was (not) read before
    d2 = desired(schedules=[sched("Payroll", "monthly", "06:00", month_days=(1, 15), line=4)])
    (change,) = make_plan(d2, server(schedules=[unknown])).changes
    assert change.before is not None and change.before["month_days"] == "not reported by Tableau"
    assert change.after is not None and change.after["month_days"] == [1, 15]


def test_referenced_schedules_are_checked_and_never_pruned() -> None:
    from reconciler.model import ScheduleRef
    d = replace(desired(extracts=[extract("datasource", "Sales/Orders", refresh=[want("Payroll", line=21)])],
                        prune=True), referenced_schedules=(ScheduleRef("Payroll"), ScheduleRef("Spare")))
    lv = server(schedules=[sched("Payroll", "monthly", "05:00", month_days=(1,)), sched("Spare", start="04:00")],
                tasks=[task("t1", ORDERS, schedule="Payroll")])
    plan = make_plan(d, lv)
    assert actions(plan) == [] and not plan.unmanaged
    with pytest.raises(PlanError) as error:
        make_plan(d, server(schedules=[sched("Spare", start="04:00")]))
    assert 'schedule "Payroll" is listed in referenced_schedules:' in str(error.value)


def test_weekdays_on_hourly_schedules_need_api_3_21() -> None:
    """Before Server 2023.3.5 (API 3.21) hourly and daily schedules have no weekdays (TSC issue 1377)."""
    d = desired(schedules=[sched("Work", "hourly", "08:00", end="18:00", weekdays=("monday",), line=3)])
    old = replace(server(), api_version="3.20")
    with pytest.raises(PlanError) as error:
        make_plan(d, old)
    assert "examples/site.yaml:3:3" in str(error.value) and "before 2023.3.5 (API 3.21)" in str(error.value)
    assert actions(make_plan(d, replace(old, api_version="3.21"))) == [("create", 'schedule["Work"]')]
    every_day = desired(schedules=[sched("Work", "hourly", "08:00", end="18:00", line=3)])
    assert actions(make_plan(every_day, old)) == [("create", 'schedule["Work"]')]
