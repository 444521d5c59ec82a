"""Extract refresh tasks (Server and Cloud) and jobs, through TSC over HTTP."""

from __future__ import annotations

from datetime import time

import pytest
import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.exceptions import JobCancelledException, ServerResponseError

from reconciler.emulator import Emulator

from .helpers import raw, sign_in


def _ds(server: TSC.Server, name: str) -> TSC.DatasourceItem:
    return next(d for d in TSC.Pager(server.datasources) if d.name == name)


def test_server_task_list_is_one_unpaginated_response(server: TSC.Server) -> None:
    tasks, pagination = server.tasks.get()
    assert len(tasks) == 47
    assert pagination is None or pagination.total_available is None
    assert len(list(TSC.Pager(server.tasks))) == 47
    text = requests.get(raw(server, "/tasks/extractRefreshes"), headers={"X-Tableau-Auth": server.auth_token},
                        timeout=5).text
    assert "<pagination" not in text and "frequencyDetails" not in text
    # Real task lists type tasks, with no incremental attribute (ledger: "Task types").
    assert 'type="IncrementExtractTask"' in text and 'type="RefreshExtractTask"' in text
    assert "incremental=" not in text
    nightly = [t for t in tasks if t.schedule_item and t.schedule_item.name == "Nightly 02:00"]
    assert nightly and all(t.schedule_item.state == "Active" and t.schedule_item.next_run_at for t in nightly)


def test_failing_item_has_consecutive_failures(server: TSC.Server) -> None:
    legacy = _ds(server, "Legacy Oracle Inventory")
    tasks = [t for t in server.tasks.get()[0] if t.target.id == legacy.id]
    assert len(tasks) == 2 and all(t.consecutive_failed_count == 4 for t in tasks)


def test_get_run_and_delete_a_task(server: TSC.Server, emu: Emulator) -> None:
    task = server.tasks.get()[0][0]
    again = server.tasks.get_by_id(task.id)
    assert again.target.id == task.target.id and again.schedule_id == task.schedule_id
    job = TSC.JobItem.from_response(server.tasks.run(again), server.namespace)[0]
    assert server.jobs.wait_for_job(job.id, timeout=10).finish_code == 0
    server.tasks.delete(task.id)
    assert emu.events[-1] == ("task.deleted", server.site_id, task.id, task.target.type, task.target.id)
    for call in (server.tasks.get_by_id, server.tasks.delete):
        with pytest.raises(ServerResponseError) as err:
            call(task.id)
        assert err.value.code == "404026"


def test_run_now_results_update_consecutive_failures(server: TSC.Server) -> None:
    legacy = _ds(server, "Legacy Oracle Inventory")
    task = next(t for t in server.tasks.get()[0] if t.target.id == legacy.id)
    server.tasks.run(task)
    assert server.tasks.get_by_id(task.id).consecutive_failed_count == 5
    orders = _ds(server, "Orders")
    ok = next(t for t in server.tasks.get()[0] if t.target.id == orders.id)
    server.tasks.run(ok)
    assert server.tasks.get_by_id(ok.id).consecutive_failed_count == 0


def test_viewer_cannot_run_or_delete_tasks(viewer: TSC.Server) -> None:
    task = viewer.tasks.get()[0][0]
    with pytest.raises(ServerResponseError) as err:
        viewer.tasks.run(task)
    assert err.value.code == "403004"
    with pytest.raises(ServerResponseError) as err:
        viewer.tasks.delete(task.id)
    assert err.value.code == "403004"


def test_duplicate_refresh_is_409093_and_cancel(make_emulator) -> None:  # type: ignore[no-untyped-def]
    server = sign_in(make_emulator(seed="demo", job_seconds=30.0))
    orders = _ds(server, "Orders")
    job = server.datasources.refresh(orders)
    assert job is not None
    assert server.datasources.refresh(orders) is None  # TSC turns 409093 into None
    task = next(t for t in server.tasks.get()[0] if t.target.id == orders.id)
    with pytest.raises(ServerResponseError) as err:
        server.tasks.run(task)
    assert err.value.code == "409093"
    running = server.jobs.get_by_id(job.id)
    assert running.completed_at is None and running.finish_code == -1
    jobs = list(TSC.Pager(server.jobs))
    assert [j.id for j in jobs] == [job.id] and jobs[0].status in ("Pending", "InProgress")
    server.jobs.cancel(job.id)
    with pytest.raises(JobCancelledException):
        server.jobs.wait_for_job(job.id, timeout=5)
    assert server.jobs.get_by_id(job.id).finish_code == 2
    assert server.datasources.refresh(orders) is not None
    with pytest.raises(ServerResponseError) as err:
        server.jobs.get_by_id("00000000-0000-4000-8000-000000000000")
    assert err.value.code == "404031"


def test_job_lifecycle_queued_in_progress_finished(make_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(seed="demo", job_seconds=1000.0)
    server = sign_in(emulator)
    job = server.datasources.refresh(_ds(server, "Orders"))
    store = emulator.store
    created = store.jobs[job.id].created_at
    clock = [created]
    store.clock = lambda: clock[0]
    assert server.jobs.get_by_id(job.id).started_at is None  # queued
    clock[0] = created + 600
    running = server.jobs.get_by_id(job.id)
    assert running.started_at is not None and running.completed_at is None and 0 < int(running.progress) < 100
    clock[0] = created + 1001
    done = server.jobs.get_by_id(job.id)
    assert done.finish_code == 0 and done.progress == "100" and done.completed_at is not None
    statuses = {j.status for j in TSC.Pager(server.jobs)}
    assert statuses == {"Success"}


def test_server_rejects_cloud_task_create_and_update(server: TSC.Server) -> None:
    item = TSC.TaskItem(None, "FullRefresh", None, schedule_item=TSC.ScheduleItem(
        None, None, None, None, TSC.WeeklyInterval(time(6), "Monday")), target=TSC.Target(_ds(server, "Orders").id,
                                                                                          "datasource"))
    with pytest.raises(ServerResponseError) as err:
        server.tasks.create(item)
    assert err.value.code == "405000"
    task = server.tasks.get()[0][0]
    with pytest.raises(ServerResponseError) as err:
        server.tasks.post_request(raw(server, f"/tasks/extractRefreshes/{task.id}"), "<tsRequest/>")
    assert err.value.code == "405000"


# ---- Cloud ---------------------------------------------------------------------------------------


def test_cloud_tasks_carry_their_recurrence(cloud_server: TSC.Server) -> None:
    tasks, _ = cloud_server.tasks.get()
    assert len(tasks) == 47
    assert all(t.schedule_id is None and t.schedule_item.interval_item is not None for t in tasks)
    text = requests.get(raw(cloud_server, "/tasks/extractRefreshes"),
                        headers={"X-Tableau-Auth": cloud_server.auth_token}, timeout=5).text
    assert 'hours="24"' in text and "<schedule id=" not in text
    hourly = [t for t in tasks if isinstance(t.schedule_item.interval_item, TSC.HourlyInterval)]
    assert hourly and all(t.schedule_item.interval_item.end_time is not None for t in hourly)
    assert cloud_server.tasks.get_by_id(tasks[0].id).schedule_item.interval_item is not None


def test_cloud_create_and_update_keep_the_task_id(cloud_server: TSC.Server, cloud: Emulator) -> None:
    orders = _ds(cloud_server, "Orders")
    item = TSC.TaskItem(None, "IncrementalRefresh", None, schedule_item=TSC.ScheduleItem(
        None, None, None, None, TSC.DailyInterval(time(5, 30), 24, "Monday", "Tuesday")),
        target=TSC.Target(orders.id, "datasource"))
    created = cloud_server.tasks.create(item)
    assert b'type="IncrementalRefresh"' in created and b"<schedule " in created
    new = [t for t in cloud_server.tasks.get()[0]
           if t.target.id == orders.id and t.schedule_item.interval_item.start_time == time(5, 30)]
    assert len(new) == 1
    task_id = new[0].id
    body = ('<tsRequest><schedule frequency="Weekly"><frequencyDetails start="07:00:00"><intervals>'
            '<interval weekDay="Friday"/></intervals></frequencyDetails></schedule></tsRequest>')
    response = cloud_server.tasks.post_request(raw(cloud_server, f"/tasks/extractRefreshes/{task_id}"), body)
    assert f'id="{task_id}"'.encode() in response.content
    moved = cloud_server.tasks.get_by_id(task_id)
    assert isinstance(moved.schedule_item.interval_item, TSC.WeeklyInterval)
    assert cloud.events[-1] == ("task.moved", cloud_server.site_id, task_id, "datasource", orders.id)
    body = '<tsRequest><extractRefresh type="FullRefresh"/></tsRequest>'
    cloud_server.tasks.post_request(raw(cloud_server, f"/tasks/extractRefreshes/{task_id}"), body)
    assert cloud.store.tasks[task_id].incremental is False


@pytest.mark.parametrize(("schedule", "reason"), [
    ('<schedule frequency="Daily"><frequencyDetails start="05:00:00"><intervals><interval hours="24"/>'
     "</intervals></frequencyDetails></schedule>", "at least one weekDay"),
    ('<schedule frequency="Hourly"><frequencyDetails start="05:00:00" end="09:00:00"><intervals>'
     '<interval hours="1"/></intervals></frequencyDetails></schedule>', "at least one weekDay"),
    ('<schedule frequency="Hourly"><frequencyDetails start="05:00:00"><intervals><interval hours="1"/>'
     '<interval weekDay="Monday"/></intervals></frequencyDetails></schedule>', "end time"),
    ('<schedule frequency="Weekly"><frequencyDetails start="05:00:00"><intervals><interval weekDay="Monday"/>'
     '<interval weekDay="Friday"/></intervals></frequencyDetails></schedule>', "exactly one weekDay"),
    ('<schedule frequency="Hourly"><frequencyDetails start="05:00:00" end="09:00:00"><intervals>'
     '<interval minutes="5"/><interval weekDay="Monday"/></intervals></frequencyDetails></schedule>', "minutes"),
    ('<schedule frequency="Daily"><frequencyDetails start="05:00:00"><intervals><interval weekDay="Monday"/>'
     "</intervals></frequencyDetails></schedule>", "hours interval"),
])
def test_cloud_recurrence_rules_are_409004(cloud_server: TSC.Server, schedule: str, reason: str) -> None:
    orders = _ds(cloud_server, "Orders")
    body = f'<tsRequest><extractRefresh type="FullRefresh"><datasource id="{orders.id}"/></extractRefresh>' \
           f"{schedule}</tsRequest>"
    with pytest.raises(ServerResponseError) as err:
        cloud_server.tasks.post_request(raw(cloud_server, "/tasks/extractRefreshes"), body)
    assert err.value.code == "409004"
    assert reason in err.value.detail


def test_cloud_create_errors(cloud_server: TSC.Server) -> None:
    url = raw(cloud_server, "/tasks/extractRefreshes")
    with pytest.raises(ServerResponseError) as err:
        cloud_server.tasks.post_request(url, '<tsRequest><extractRefresh type="FullRefresh"><datasource '
                                             'id="00000000-0000-4000-8000-000000000000"/></extractRefresh>'
                                             '<schedule frequency="Weekly"><frequencyDetails start="05:00:00">'
                                             '<intervals><interval weekDay="Monday"/></intervals>'
                                             "</frequencyDetails></schedule></tsRequest>")
    assert err.value.code == "404004"
    with pytest.raises(ServerResponseError) as err:
        cloud_server.tasks.post_request(url, "<tsRequest><schedule/>")
    assert err.value.code == "400000"
    with pytest.raises(ServerResponseError) as err:
        cloud_server.tasks.post_request(raw(cloud_server, "/tasks/extractRefreshes/nope"), "<tsRequest/>")
    assert err.value.code == "404026"


def test_cloud_run_now_and_jobs(cloud_server: TSC.Server) -> None:
    task = cloud_server.tasks.get()[0][0]
    job = TSC.JobItem.from_response(cloud_server.tasks.run(task), cloud_server.namespace)[0]
    assert cloud_server.jobs.wait_for_job(job.id, timeout=5).finish_code == 0
    assert [j.id for j in TSC.Pager(cloud_server.jobs)] == [job.id]
