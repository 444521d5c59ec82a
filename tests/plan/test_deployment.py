"""The deployment planner: every site planned, server schedules planned once, prune over every site."""

from __future__ import annotations

from dataclasses import replace

from reconciler.errors import TableauConnectionError
from reconciler.model import Deployment, LiveState, Policy, SiteFiles
from reconciler.plan import Action
from reconciler.plan.deployment import make_deployment_plan, schedule_use_after, split_owner
from reconciler.plan.fingerprint import stale_objects
from reconciler.plan.serialize import deployment_digest, deployment_from_json, deployment_to_json

from .builders import desired, ds, extract, live, sched, task, want

NIGHTLY = sched("Nightly", start="02:00")
EARLY = sched("Early", start="01:00")
OLD = sched("Old", start="04:00")


def site(label: str, *extracts_: object, prune: bool = False) -> SiteFiles:
    d = replace(desired(schedules=[NIGHTLY, EARLY], extracts=extracts_, prune=prune), site=label)  # type: ignore[arg-type]
    return SiteFiles(label, d)


def site_live(label: str, *tasks: object, items: tuple[object, ...] = ()) -> LiveState:
    lv = live(items=items, schedules=[replace(NIGHTLY, recurrence=replace(NIGHTLY.recurrence, start="03:00")), OLD],
              tasks=tasks, shared=())  # type: ignore[arg-type]
    return replace(lv, site=label, site_id=f"luid-{label}")


def deployment(*sites: SiteFiles, prune: bool = False) -> Deployment:
    return Deployment(root="deploy", server="https://tableau.example.com", flavor="server",
                      schedules=(EARLY, NIGHTLY), referenced_schedules=(), policy=Policy(prune=prune),
                      sites=tuple(sites))


A_ORDERS = ds("Sales/Orders", "a-orders")
B_ORDERS = ds("Sales/Orders", "b-orders")


def two_sites(prune: bool = False) -> tuple[Deployment, list[tuple[SiteFiles, LiveState]]]:
    a = site("a", extract("datasource", "Sales/Orders", refresh=[want("Nightly")]))
    b = site("b", extract("datasource", "Sales/Orders", refresh=[want("Early")]))
    reads = [
        (a, site_live("a", task("ta", A_ORDERS, schedule="Old"), items=(A_ORDERS,))),
        (b, site_live("b", task("tb", B_ORDERS, schedule="Old"), items=(B_ORDERS,))),
    ]
    return deployment(a, b, prune=prune), reads


def test_schedule_changes_are_planned_once_by_the_owner_and_tasks_by_every_site() -> None:
    dep, reads = two_sites()
    plan = make_deployment_plan(dep, reads, outside={})
    assert plan.owner == "a"
    a, b = (s.plan for s in plan.sites)
    assert a is not None and b is not None
    assert sorted((c.address, c.action) for c in a.changes if c.kind == "schedule") == [
        ('schedule["Early"]', Action.CREATE), ('schedule["Nightly"]', Action.UPDATE)]
    assert not [c for c in b.changes if c.kind == "schedule"]
    assert [c.action for c in b.changes] == [Action.MOVE]  # b's task moves onto Early, made by a's plan


def test_an_undeclared_schedule_is_pruned_only_when_no_site_keeps_a_task_on_it() -> None:
    dep, reads = two_sites(prune=True)
    plan = make_deployment_plan(dep, reads, outside={})
    owner = plan.owner_plan
    assert owner is not None
    deletes = [c.address for c in owner.changes if c.action is Action.DELETE and c.kind == "schedule"]
    assert deletes == ['schedule["Old"]']  # both sites move their tasks off it in this very plan

    # A site outside the deployment still has a task on it: kept, with the reason.
    plan = make_deployment_plan(dep, reads, outside={"c": {"Old": 2}})
    owner = plan.owner_plan
    assert owner is not None
    assert not [c for c in owner.changes if c.action is Action.DELETE]
    assert any("2 tasks on 1 site (c 2) use it" in w for w in owner.warnings)


def test_unknown_outside_sites_keep_every_schedule_and_say_why() -> None:
    dep, reads = two_sites(prune=True)
    plan = make_deployment_plan(dep, reads, outside=None)
    owner = plan.owner_plan
    assert owner is not None
    assert not [c for c in owner.changes if c.action is Action.DELETE]
    assert any("could be counted" in w for w in plan.warnings)


def test_the_site_policy_prunes_tasks_but_never_the_server_schedules() -> None:
    a = site("a", extract("datasource", "Sales/Orders", refresh=[want("Nightly")]), prune=True)
    reads = [(a, site_live("a", task("ta", A_ORDERS, schedule="Old"), items=(A_ORDERS,)))]
    plan = make_deployment_plan(deployment(a, prune=False), reads, outside={})
    owner = plan.owner_plan
    assert owner is not None
    assert not [c for c in owner.changes if c.kind == "schedule" and c.action is Action.DELETE]


def test_a_site_that_failed_is_reported_and_the_others_planned() -> None:
    dep, reads = two_sites(prune=True)
    failed: list[tuple[SiteFiles, LiveState | TableauConnectionError]] = [
        (reads[0][0], reads[0][1]), (reads[1][0], TableauConnectionError("Sign-in refused for site b."))]
    plan = make_deployment_plan(dep, failed, outside={})
    assert plan.failed
    assert plan.sites[1].error == "Sign-in refused for site b."
    owner = plan.owner_plan
    assert owner is not None and owner.has_changes
    # b's tasks were not counted: Old is not pruned though a's task leaves it.
    assert not [c for c in owner.changes if c.action is Action.DELETE]


def test_every_site_observes_its_use_of_a_pruned_schedule() -> None:
    dep, reads = two_sites(prune=True)
    plan = make_deployment_plan(dep, reads, outside={})
    b = plan.sites[1].plan
    assert b is not None
    assert "usage:schedule:Old" in b.observed
    # A task added on b on the pruned schedule after the plan makes b's part stale.
    b_live = reads[1][1]
    later = replace(b_live, tasks=(*b_live.tasks, task("tb2", B_ORDERS, schedule="Old")))
    assert "usage:schedule:Old" in stale_objects(b, later)


def test_the_owner_fingerprint_is_checked_against_the_owner_site_alone() -> None:
    dep, reads = two_sites(prune=True)
    plan = make_deployment_plan(dep, reads, outside={})
    owner = plan.owner_plan
    assert owner is not None
    assert stale_objects(owner, reads[0][1]) == []


def test_use_after_counts_moves_creates_and_deletes() -> None:
    dep, reads = two_sites()
    plan = make_deployment_plan(dep, reads, outside={})
    b = plan.sites[1].plan
    assert b is not None
    assert schedule_use_after(b, reads[1][1]) == {"Early": 1}


def test_the_owner_schedule_deletes_come_last() -> None:
    dep, reads = two_sites(prune=True)
    owner = make_deployment_plan(dep, reads, outside={}).owner_plan
    assert owner is not None
    first, last = split_owner(owner)
    assert [c.address for c in last.changes] == ['schedule["Old"]']
    assert len(first.changes) + len(last.changes) == len(owner.changes)


def test_a_saved_deployment_plan_round_trips_and_refuses_an_edit() -> None:
    dep, reads = two_sites(prune=True)
    plan = make_deployment_plan(dep, reads, outside={})
    text = deployment_to_json(plan)
    back = deployment_from_json(text)
    assert deployment_digest(back) == deployment_digest(plan)
    assert [s.plan for s in back.sites] == [s.plan for s in plan.sites]
    edited = text.replace('"owner": "a"', '"owner": "b"')
    try:
        deployment_from_json(edited)
    except Exception as error:
        assert "edited" in str(error)
    else:
        raise AssertionError("an edited deployment plan was accepted")


def test_cloud_sites_are_planned_independently() -> None:
    a = replace(site("a"), desired=replace(site("a").desired, flavor="cloud", schedules=()))
    lv = replace(site_live("a"), flavor="cloud", schedules=())
    dep = replace(deployment(a), flavor="cloud", schedules=())
    plan = make_deployment_plan(dep, [(a, lv)], outside=None)
    assert plan.owner is None
    assert not plan.warnings


def test_a_schedule_not_counted_outside_the_deployment_has_no_total() -> None:
    dep, reads = two_sites()  # "Old" is undeclared and not pruned: listed, with its tasks on other sites
    counted = make_deployment_plan(dep, reads, outside={}, outside_known={"Old"}).owner_plan
    uncounted = make_deployment_plan(dep, reads, outside={}, outside_known=set()).owner_plan
    assert counted is not None and uncounted is not None
    (old,) = [u.detail for u in counted.unmanaged if u.address == 'schedule["Old"]']
    assert old.endswith("0 on other sites")  # b's task leaves it in b's plan; no site outside has one
    (old,) = [u.detail for u in uncounted.unmanaged if u.address == 'schedule["Old"]']
    assert old.endswith("an unknown number on other sites")  # never a count that was not read
