"""Fingerprint keys have one text form (``ObjectKey``), and a stale key is named as the user knows the object."""

from __future__ import annotations

import pytest

from reconciler.plan import make_plan
from reconciler.plan.fingerprint import ObjectKey, item_key, schedule_key, tasks_key, usage_key
from reconciler.plan.saved import describe_key
from tests.plan.builders import desired, ds, extract, live, sched, task, want

ORDERS = ds("Sales/Orders")


@pytest.mark.parametrize("key", [
    ObjectKey("site"),
    ObjectKey("schedule", name="Nightly: 02:00"),
    ObjectKey("usage", name="Nightly"),
    ObjectKey("item", kind="datasource", item_id="L-1"),
    ObjectKey("tasks", kind="workbook", item_id="L-2"),
])
def test_a_key_reads_back_from_its_text(key: ObjectKey) -> None:
    assert ObjectKey.parse(str(key)) == key


def test_the_builders_write_the_saved_plans_text() -> None:
    assert (schedule_key("N"), usage_key("N"), item_key("datasource", "L"), tasks_key("datasource", "L")) == (
        "schedule:N", "usage:schedule:N", "item:datasource:L", "tasks:datasource:L")
    assert ObjectKey.parse("usage:other") == ObjectKey("other", name="usage:other")


def test_stale_keys_are_named_by_path_and_name() -> None:
    lv = live(items=(ORDERS,), schedules=[sched("Nightly", id="id-N")], tasks=[task("t1", ORDERS, schedule="Nightly")])
    plan = make_plan(desired(schedules=[sched("Nightly")],
                             extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly")])]), lv)
    assert [describe_key(k, plan, lv) for k in (tasks_key("datasource", ORDERS.id), schedule_key("Nightly"),
                                                 usage_key("Nightly"), "site", "api_version")] == [
        'the refresh tasks of datasource "Sales/Orders"', 'schedule "Nightly"', 'the tasks using schedule "Nightly"',
        "the site's encryption mode", "the server's REST API version"]
