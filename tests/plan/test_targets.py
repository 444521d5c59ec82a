"""A change's target: one typed form per kind, written as the saved plan's string map and read back with checks."""

from __future__ import annotations

import pytest

from reconciler.errors import PlanError
from reconciler.plan import Action, ItemTarget, ResourceChange, ScheduleTarget, SiteTarget, Target, TaskTarget
from reconciler.plan.types import TARGET_TYPES, target_from_dict


def _change(target: TaskTarget | ScheduleTarget) -> ResourceChange:
    return ResourceChange("task[x]", "task", Action.DELETE, {"type": "full"}, None, target=target)


def test_the_map_leaves_out_what_is_not_set_and_sorts_its_keys() -> None:
    task = TaskTarget("datasource", "L", "Sales/Orders", task_id="t1", schedule_name="Nightly")
    assert list(task.to_dict().items()) == [("item_id", "L"), ("item_kind", "datasource"),
                                            ("item_path", "Sales/Orders"), ("schedule_name", "Nightly"),
                                            ("task_id", "t1")]
    assert ScheduleTarget("Nightly").to_dict() == {"name": "Nightly"}
    assert SiteTarget("s").to_dict() == {"site_id": "s"}


@pytest.mark.parametrize("target", [
    SiteTarget("s"), ScheduleTarget("Nightly"), ScheduleTarget("Nightly", ""), ItemTarget("workbook", "L", "A/B"),
    TaskTarget("workbook", "L", "A/B", task_id="t1", from_schedule_name="Old"),
])
def test_a_target_reads_back_as_its_type_from_its_kinds_map(target: Target) -> None:
    [kind] = [k for k, t in TARGET_TYPES.items() if type(target) is t]
    assert target_from_dict(kind, target.to_dict(), "x") == target


def test_a_missing_field_is_a_plan_error_naming_the_change() -> None:
    with pytest.raises(PlanError, match=r"task\[x\]: the plan's target has no item_path"):
        target_from_dict("task", {"item_kind": "datasource", "item_id": "L"}, "task[x]")


def test_an_unknown_field_is_a_plan_error_naming_the_change() -> None:
    with pytest.raises(PlanError, match=r"schedule\[x\]: the plan's target has item_id, which a ScheduleTarget"):
        target_from_dict("schedule", {"name": "N", "item_id": "L"}, "schedule[x]")


def test_of_narrows_to_the_kinds_type_and_names_the_change_otherwise() -> None:
    task = TaskTarget("workbook", "L", "A/B", task_id="t1")
    assert TaskTarget.of(_change(task)) is task
    with pytest.raises(PlanError, match=r"task\[x\]: the plan's target is a ScheduleTarget, not a TaskTarget"):
        TaskTarget.of(_change(ScheduleTarget("Nightly")))
