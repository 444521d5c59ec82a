"""apply_plan with a recording writer: order, dependents skipped after a failure, the journal (no server)."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

from reconciler.apply import apply_plan
from reconciler.errors import TableauRequestError
from reconciler.model import Schedule
from reconciler.plan import make_plan
from tests.plan.builders import desired, ds, extract, live, sched, task, want

ORDERS = ds("Sales/Orders")
OTHER = ds("Sales/Other")


class RecordingWriter:
    """Stands in for tableau.write.Writer: records each call; ``fail`` names calls that raise."""

    def __init__(self, cloud: bool = False, fail: tuple[str, ...] = ()) -> None:
        self.cloud = cloud
        self.fail = fail
        self.calls: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()

    def _call(self, *call: Any) -> None:
        with self.lock:
            self.calls.append(call)
        if any(str(part) in self.fail for part in call):
            raise TableauRequestError(f"{call[0]} failed", code="409004")

    def set_site_mode(self, mode: str) -> None:
        self._call("set_site_mode", mode)

    def create_schedule(self, schedule: Schedule) -> str:
        self._call("create_schedule", schedule.name)
        return f"id-{schedule.name}"

    def update_schedule(self, schedule_id: str, schedule: Schedule) -> None:
        self._call("update_schedule", schedule.name)

    def delete_schedule(self, schedule_id: str, name: str) -> None:
        self._call("delete_schedule", name)

    def find_schedule_id(self, name: str) -> str | None:
        return None

    def set_item_encrypt(self, kind: str, item_id: str, encrypt: bool, label: str) -> None:
        self._call("set_item_encrypt", label, encrypt)

    def create_task(self, kind: str, item_id: str, task_type: str, label: str, **where: Any) -> str:
        self._call("create_task", label, where.get("schedule_id"))
        return "new"

    def delete_task(self, task_id: str, label: str) -> None:
        self._call("delete_task", task_id)

    def update_cloud_task(self, *args: Any) -> None:
        self._call("update_cloud_task", args[0])


def _plan():  # type: ignore[no-untyped-def]
    d = desired(schedules=[sched("Nightly"), sched("Weekly", "weekly", "06:00", weekdays=("monday",))],
                extracts=[extract("datasource", "Sales/Orders", refresh=[want("Weekly")], line=10),
                          extract("datasource", "Sales/Other", refresh=[want("Nightly")], line=20)])
    lv = live(items=(ORDERS, OTHER), schedules=[sched("Nightly", id="id-Nightly")],
              tasks=[task("t1", ORDERS, schedule="Nightly"), task("t2", OTHER, schedule="Nightly"),
                     task("t3", OTHER, "incremental", "Nightly")])
    return make_plan(d, lv)


def test_phases_run_in_order_and_a_move_creates_before_it_deletes() -> None:
    plan = _plan()
    writer = RecordingWriter()
    result = apply_plan(plan, writer, schedule_ids={"Nightly": "id-Nightly"})  # type: ignore[arg-type]
    assert not result.failed and not result.skipped
    names = [call[0] for call in writer.calls]
    assert names == ["create_schedule", "create_task", "delete_task", "delete_task"]
    assert writer.calls[1] == ("create_task", "Sales/Orders", "id-Weekly"), "the new schedule's id is used"
    assert {call[1] for call in writer.calls[2:]} == {"t1", "t3"}
    assert result.summary() == "1 created, 1 moved, 1 deleted, 0 failed"


def test_a_failure_skips_its_dependents_and_the_rest_goes_on() -> None:
    plan = _plan()
    writer = RecordingWriter(fail=("Weekly",))  # creating the schedule fails
    journal = io.StringIO()
    result = apply_plan(plan, writer, schedule_ids={"Nightly": "id-Nightly"},  # type: ignore[arg-type]
                        journal=journal)
    by_address = {o.address: o for o in result.outcomes}
    assert by_address['schedule["Weekly"]'].status == "failed"
    assert by_address['schedule["Weekly"]'].code == "409004"
    move = by_address['task[datasource "Sales/Orders"][full @ Weekly]']
    assert move.status == "skipped" and 'schedule["Weekly"]' in (move.detail or "")
    assert by_address['task[datasource "Sales/Other"][incremental @ Nightly]'].status == "ok", "independent"
    assert ("delete_task", "t1") not in writer.calls, "the old task stays when its replacement was not made"
    lines = [json.loads(line) for line in journal.getvalue().splitlines()]
    assert sorted(line["outcome"] for line in lines) == ["failed", "ok", "skipped"]
    assert all(line["address"] in by_address for line in lines)


def test_a_cloud_move_is_an_update_in_place() -> None:
    from tests.plan.builders import rec

    d = desired(extracts=[extract("datasource", "Sales/Orders",
                                  refresh=[want("W", recurrence=rec("weekly", "06:00", weekdays=("monday",)))])])
    lv = live(flavor="cloud", items=(ORDERS,), tasks=[task("c1", ORDERS, recurrence=rec("daily", "02:00"))])
    writer = RecordingWriter(cloud=True)
    result = apply_plan(make_plan(d, lv), writer, schedule_ids={})  # type: ignore[arg-type]
    assert not result.failed and writer.calls == [("update_cloud_task", "c1")]


def test_a_stop_lets_the_action_in_flight_finish_and_starts_no_other() -> None:
    """Ctrl-C/SIGTERM set ``stop``: the schedule create in flight finishes (and is journaled); nothing after it."""
    plan = _plan()
    writer = RecordingWriter()
    stop = threading.Event()
    journal = io.StringIO()
    result = apply_plan(plan, writer, schedule_ids={"Nightly": "id-Nightly"},  # type: ignore[arg-type]
                        journal=journal, on_outcome=lambda outcome: stop.set(), stop=stop)
    assert [o.address for o in result.outcomes] == ['schedule["Weekly"]'] and result.outcomes[0].status == "ok"
    assert [call[0] for call in writer.calls] == ["create_schedule"]
    assert [json.loads(line)["address"] for line in journal.getvalue().splitlines()] == ['schedule["Weekly"]']
