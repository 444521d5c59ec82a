"""The blast radius of a server schedule change: tasks on every site, counted site by site (issue 13)."""

from __future__ import annotations

from dataclasses import replace

from reconciler.model import LiveState
from reconciler.plan import Action, make_plan
from reconciler.plan.fingerprint import observe, stale_objects
from reconciler.plan.schedules import blast_radius
from reconciler.report import render_plan_markdown, render_plan_text

from .builders import desired, ds, extract, live, sched, task, want

ORDERS = ds("Sales/Orders")
OTHER = ds("Sales/Other")
SIX = (("finance", 12), ("marketing", 9), ("people", 6), ("supply-chain", 6), ("sandbox", 2), ("archive", 1))


def _server(**kw) -> LiveState:  # type: ignore[no-untyped-def]
    kw.setdefault("items", (ORDERS, OTHER))
    return live(**kw)


def test_blast_radius_names_every_site_biggest_first_and_this_site_last() -> None:
    assert blast_radius(4, 33, SIX[:4]) == (
        "37 tasks on 5 sites (finance 12, marketing 9, people 6, supply-chain 6, this site 4)")


def test_blast_radius_sums_up_the_sites_past_the_fifth() -> None:
    assert blast_radius(0, 36, SIX) == (
        "36 tasks on 6 sites (finance 12, marketing 9, people 6, supply-chain 6, sandbox 2, 1 more site 1)")
    many = tuple((f"site-{n:02}", 1) for n in range(20))
    assert blast_radius(1, 20, many).endswith("site-04 1, 15 more sites 15, this site 1)")


def test_blast_radius_without_a_breakdown_says_other_sites_as_one_figure() -> None:
    assert blast_radius(1, 7) == "8 tasks (7 on other sites, 1 on this site)"
    assert blast_radius(1, 7, (("finance", 3),)) == "8 tasks (7 on other sites, 1 on this site)"  # does not add up
    assert blast_radius(2, 0) == "2 tasks on 1 site (this site 2)"


def test_an_update_says_the_tasks_on_every_site() -> None:
    d = desired(schedules=[sched("Nightly", start="03:00")],
                extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])])
    lv = replace(_server(schedules=[sched("Nightly")], shared=[("Nightly", 33)],
                         tasks=[task("t1", ORDERS, schedule="Nightly"), task("t2", OTHER, schedule="Nightly")]),
                 shared_by_site=(("Nightly", SIX[:4]),))
    plan = make_plan(d, lv)
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    warning = ('"Nightly" is a server schedule: this update changes it for every site, for 35 tasks on 5 sites '
               "(finance 12, marketing 9, people 6, supply-chain 6, this site 2); 1 task on this site that the files "
               "don't manage.")
    assert change.warnings == (warning,)
    assert f'! schedule["Nightly"]: {warning}' in render_plan_text(plan)
    assert f"> - `schedule[\"Nightly\"]`: {warning}" in render_plan_markdown(plan)


def test_an_update_when_other_sites_cannot_be_counted_says_why() -> None:
    d = desired(schedules=[sched("Nightly", start="03:00")])
    lv = replace(_server(schedules=[sched("Nightly")], shared=[]),
                 shared_unknown="'ops' (SiteAdministratorCreator) is not a server administrator")
    (change,) = make_plan(d, lv).changes
    assert change.warnings == (
        '"Nightly" is a server schedule: this update changes it for every site; an unknown number of tasks on other '
        "sites may use it ('ops' (SiteAdministratorCreator) is not a server administrator), and 0 tasks on this "
        "site that the files don't manage.",)


def test_prune_deletes_a_schedule_no_site_uses_on_a_multi_site_server() -> None:
    lv = _server(schedules=[sched("Nightly"), sched("Spare")], shared=[("Nightly", 4), ("Spare", 0)])
    lv = replace(lv, shared_by_site=(("Nightly", (("finance", 3), ("people", 1))),))
    plan = make_plan(desired(prune=True), lv)
    assert [(c.action, c.address) for c in plan.changes] == [(Action.DELETE, 'schedule["Spare"]')]
    assert plan.warnings == ('schedule["Nightly"] was not deleted although policy.prune is true: 4 tasks on 2 sites '
                             "(finance 3, people 1) use it.",)


def test_prune_counts_this_plans_own_moves_off_the_schedule() -> None:
    """The last task on an undeclared schedule moves to a declared one: nothing uses it after the plan."""
    d = desired(schedules=[sched("Nightly")], prune=True,
                extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])])
    lv = _server(schedules=[sched("Nightly"), sched("Old", start="05:00")], shared=[("Nightly", 2), ("Old", 0)],
                 tasks=[task("t1", ORDERS, schedule="Old")])
    plan = make_plan(d, lv)
    assert ("delete", 'schedule["Old"]') in [(c.action.value, c.address) for c in plan.changes]


def test_prune_keeps_a_schedule_when_some_site_could_not_be_counted_and_says_why() -> None:
    why = 'the tasks on 1 of the other sites could not be counted (site "hr": refused (403004))'
    lv = replace(_server(schedules=[sched("Spare")], shared=[]), shared_unknown=why)
    plan = make_plan(desired(prune=True), lv)
    assert not plan.changes
    assert plan.warnings == ('schedule["Spare"] was not deleted although policy.prune is true: the reader could not '
                             f"tell whether tasks on other sites use it: {why}.",)


def test_a_task_added_on_another_site_makes_a_saved_prune_plan_stale() -> None:
    lv = _server(schedules=[sched("Spare")], shared=[("Spare", 0)])
    plan = make_plan(desired(prune=True), lv)
    assert [c.address for c in plan.changes] == ['schedule["Spare"]']
    assert "usage:schedule:Spare" in plan.observed
    assert stale_objects(plan, lv) == []
    later = replace(lv, shared_schedule_tasks=(("Spare", 1),), shared_by_site=(("Spare", (("finance", 1),)),))
    assert stale_objects(plan, later) == ["usage:schedule:Spare"]
    unknown = replace(lv, shared_schedule_tasks=(), shared_unknown="not a server administrator")
    assert stale_objects(plan, unknown) == ["usage:schedule:Spare"]
    assert observe(lv, ["usage:schedule:Spare"]) != observe(later, ["usage:schedule:Spare"])
