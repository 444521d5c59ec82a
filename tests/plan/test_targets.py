"""A change's target: one typed form per kind, written as the saved plan's string map and read back with checks."""

from __future__ import annotations

import pytest

from reconciler.errors import PlanError
from reconciler.plan import Action, ResourceChange, ScheduleTarget, SiteTarget, TaskTarget


def _change(target: dict[str, str]) -> ResourceChange:
    return ResourceChange("task[x]", "task", Action.DELETE, {"type": "full"}, None, target=target)


def test_the_map_leaves_out_what_is_not_set_and_sorts_its_keys() -> None:
    task = TaskTarget("datasource", "L", "Sales/Orders", task_id="t1", schedule_name="Nightly")
    assert list(task.to_dict().items()) == [("item_id", "L"), ("item_kind", "datasource"),
                                            ("item_path", "Sales/Orders"), ("schedule_name", "Nightly"),
                                            ("task_id", "t1")]
    assert ScheduleTarget("Nightly").to_dict() == {"name": "Nightly"}
    assert SiteTarget("s").to_dict() == {"site_id": "s"}


def test_a_target_reads_back_as_its_type() -> None:
    task = TaskTarget("workbook", "L", "A/B", task_id="t1", from_schedule_name="Old")
    assert TaskTarget.of(_change(task.to_dict())) == task


def test_a_missing_field_is_a_plan_error_naming_the_change() -> None:
    with pytest.raises(PlanError, match=r"task\[x\]: the plan's target has no item_path"):
        TaskTarget.of(_change({"item_kind": "datasource", "item_id": "L"}))
