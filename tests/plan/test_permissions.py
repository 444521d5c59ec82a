"""permission_gaps: which planned changes the signed-in user may not make."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.model import SignedInUser
from reconciler.plan import make_plan, permission_gaps
from tests.plan.builders import desired, ds, extract, live, sched, task

ORDERS = replace(ds("Sales/Orders"), owner_id="u-etl")
QUOTAS = replace(ds("Sales/Quotas"), owner_id="u-someone-else")


def _plan(flavor: str = "server"):  # type: ignore[no-untyped-def]
    schedules = [sched("Nightly")] if flavor == "server" else []
    d = desired(flavor=flavor, mode="disabled" if flavor == "server" else None,
                schedules=[sched("Nightly", start="03:00")] if flavor == "server" else [],
                extracts=[extract("datasource", "Sales/Orders", refresh=[]),
                          extract("datasource", "Sales/Quotas", refresh=[])])
    lv = live(flavor=flavor, items=[ORDERS, QUOTAS], schedules=schedules,
              tasks=[task("t1", ORDERS, schedule="Nightly" if flavor == "server" else None),
                     task("t2", QUOTAS, schedule="Nightly" if flavor == "server" else None)])
    return make_plan(d, lv), lv


@pytest.mark.parametrize(("role", "expected"), [
    ("ServerAdministrator", set()),
    ("SiteAdministratorCreator", {'schedule["Nightly"]', "site.encryption_mode"}),
    ("Creator", {'schedule["Nightly"]', "site.encryption_mode",
                 'task[datasource "Sales/Quotas"][full @ Nightly]'}),
])
def test_gaps_follow_the_role_and_ownership(role: str, expected: set[str]) -> None:
    plan, lv = _plan()
    gaps = permission_gaps(plan, replace(lv, user=SignedInUser("u-etl", "etl", role)))
    assert {g.address for g in gaps} == expected
    for gap in gaps:
        assert "administrator" in gap.reason


def test_unknown_role_assumes_nothing() -> None:
    plan, lv = _plan()
    assert permission_gaps(plan, lv) == ()


def test_cloud_has_no_server_schedules_to_lack() -> None:
    plan, lv = _plan("cloud")
    gaps = permission_gaps(plan, replace(lv, user=SignedInUser("u-etl", "etl", "SiteAdministratorExplorer")))
    assert gaps == ()


def test_a_site_administrator_may_not_change_the_encryption_mode() -> None:
    """Tableau lets only a server administrator change a site's extractEncryptionMode (Update Site)."""
    plan, lv = _plan()
    gaps = permission_gaps(plan, replace(lv, user=SignedInUser("u-sa", "siteadmin", "SiteAdministratorExplorer")))
    mode = next(g for g in gaps if g.address == "site.encryption_mode")
    assert "server administrator" in mode.reason and "site administrator may not" in mode.reason
