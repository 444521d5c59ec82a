"""Server schedules through TSC: list, get, create, update, delete, batch state, add items, extracts."""

from __future__ import annotations

from datetime import time

import pytest
import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.exceptions import FailedSignInError, ServerResponseError

from reconciler.emulator import Emulator

from .helpers import raw, sign_in


def _schedule(server: TSC.Server, name: str) -> TSC.ScheduleItem:
    return next(s for s in TSC.Pager(server.schedules) if s.name == name)


def _ds(server: TSC.Server, name: str) -> TSC.DatasourceItem:
    return next(d for d in TSC.Pager(server.datasources) if d.name == name)


def test_list_has_no_frequency_details_and_pages(server: TSC.Server) -> None:
    schedules = list(TSC.Pager(server.schedules, TSC.RequestOptions(pagesize=5)))
    assert len(schedules) == 14
    assert all(s.interval_item is None for s in schedules)
    assert {s.state for s in schedules} == {"Active", "Suspended"}
    text = requests.get(f"{server.baseurl}/schedules", headers={"X-Tableau-Auth": server.auth_token},
                        timeout=5).text
    assert "frequencyDetails" not in text


def test_get_by_id_has_frequency_details(server: TSC.Server) -> None:
    detail = server.schedules.get_by_id(_schedule(server, "Hourly Business Hours").id)
    assert isinstance(detail.interval_item, TSC.HourlyInterval)
    assert detail.interval_item.end_time == time(18, 0)
    first_monday = server.schedules.get_by_id(_schedule(server, "First Monday 06:00").id)
    assert first_monday.interval_item.interval == ("First", "Monday")
    with pytest.raises(ServerResponseError) as err:
        server.schedules.get_by_id("00000000-0000-4000-8000-000000000000")
    assert err.value.code == "404013"


@pytest.mark.parametrize("interval", [
    TSC.HourlyInterval(time(2, 30), time(23, 30), 2),
    TSC.HourlyInterval(time(0, 0), time(12, 0), 0.25),
    TSC.HourlyInterval(time(8, 0), time(18, 0), (1, "Monday", "Friday")),
    TSC.DailyInterval(time(4, 45)),
    TSC.DailyInterval(time(4, 45), 24),
    TSC.WeeklyInterval(time(9, 15), "Monday", "Wednesday"),
    TSC.MonthlyInterval(time(7), 12),
    TSC.MonthlyInterval(time(7), "LastDay"),
    TSC.MonthlyInterval(time(7), ("First", "Monday")),
])
def test_create_every_frequency(server: TSC.Server, emu: Emulator, interval: object) -> None:
    item = TSC.ScheduleItem("new schedule", 42, "Extract", "Serial", interval)
    created = server.schedules.create(item)
    assert created.id and created.priority == 42 and created.execution_order == "Serial"
    assert created.state == "Active" and created.next_run_at is not None
    again = server.schedules.get_by_id(created.id)
    assert type(again.interval_item) is type(interval)
    assert emu.events[-1] == ("schedule.created", "", created.id, "new schedule")


def test_create_returns_201_and_conflicts_on_name(server: TSC.Server) -> None:
    body = ('<tsRequest><schedule name="Nightly 02:00" priority="50" type="Extract" executionOrder="Parallel" '
            'frequency="Daily"><frequencyDetails start="02:00:00"/></schedule></tsRequest>')
    with pytest.raises(ServerResponseError) as err:
        server.schedules.post_request(f"{server.baseurl}/schedules", body)
    assert err.value.code == "409021"
    response = requests.post(f"{server.baseurl}/schedules", data=body.replace("Nightly 02:00", "Other"),
                             headers={"X-Tableau-Auth": server.auth_token}, timeout=5)
    assert response.status_code == 201


@pytest.mark.parametrize(("frequency", "details", "reason"), [
    ("Hourly", '<frequencyDetails start="08:00:00"><intervals><interval hours="1"/></intervals></frequencyDetails>',
     "end"),
    ("Hourly", '<frequencyDetails start="08:00:00" end="18:00:00"><intervals><interval hours="3"/></intervals>'
     "</frequencyDetails>", "hours"),
    ("Hourly", '<frequencyDetails start="08:00:00" end="18:00:00"><intervals><interval minutes="20"/>'
     "</intervals></frequencyDetails>", "minutes"),
    ("Hourly", '<frequencyDetails start="08:00:00" end="18:30:00"><intervals><interval hours="1"/></intervals>'
     "</frequencyDetails>", "60 minutes"),
    ("Daily", '<frequencyDetails start="08:00:00"><intervals><interval hours="3"/></intervals></frequencyDetails>',
     "Daily hours"),
    ("Daily", '<frequencyDetails start="08:00:00"><intervals><interval hours="4"/></intervals></frequencyDetails>',
     "end time"),
    ("Daily", '<frequencyDetails start="08:07:00"/>', "5 minute"),
    ("Weekly", '<frequencyDetails start="08:00:00"><intervals/></frequencyDetails>', "weekDay"),
    ("Weekly", '<frequencyDetails start="08:00:00"><intervals><interval weekDay="Funday"/></intervals>'
     "</frequencyDetails>", "weekDay"),
    ("Monthly", '<frequencyDetails start="08:00:00"><intervals><interval monthDay="32"/></intervals>'
     "</frequencyDetails>", "monthDay"),
    ("Monthly", '<frequencyDetails start="08:00:00"><intervals><interval monthDay="First"/></intervals>'
     "</frequencyDetails>", "weekDay"),
    ("Yearly", '<frequencyDetails start="08:00:00"/>', "frequency"),
])
def test_invalid_recurrences_are_409004(server: TSC.Server, frequency: str, details: str, reason: str) -> None:
    body = (f'<tsRequest><schedule name="bad" priority="50" type="Extract" executionOrder="Parallel" '
            f'frequency="{frequency}">{details}</schedule></tsRequest>')
    with pytest.raises(ServerResponseError) as err:
        server.schedules.post_request(f"{server.baseurl}/schedules", body)
    assert err.value.code == "409004"
    assert reason in err.value.detail


@pytest.mark.parametrize("attrs", ['priority="0"', 'priority="101"', 'executionOrder="Random"', 'type="Nope"'])
def test_invalid_schedule_attributes_are_400(server: TSC.Server, attrs: str) -> None:
    body = (f'<tsRequest><schedule name="bad" type="Extract" frequency="Daily" {attrs}>'
            '<frequencyDetails start="02:00:00"/></schedule></tsRequest>').replace('type="Extract" type', "type")
    with pytest.raises(ServerResponseError) as err:
        server.schedules.post_request(f"{server.baseurl}/schedules", body)
    assert err.value.code == "400000"


def test_bad_xml_is_400000(server: TSC.Server) -> None:
    with pytest.raises(ServerResponseError) as err:
        server.schedules.post_request(f"{server.baseurl}/schedules", "<tsRequest><schedule")
    assert err.value.code == "400000"


def test_update_partial_and_tsc_round_trip(server: TSC.Server, emu: Emulator) -> None:
    schedule = server.schedules.get_by_id(_schedule(server, "Nightly 02:00").id)
    schedule.name = "Nightly 03:00"
    schedule.interval_item = TSC.DailyInterval(time(3, 0))  # TSC sends an empty <intervals/>
    updated = server.schedules.update(schedule)
    assert updated.name == "Nightly 03:00"
    again = server.schedules.get_by_id(schedule.id)
    assert again.interval_item.start_time == time(3, 0) and again.priority == 50
    server.schedules.put_request(f"{server.baseurl}/schedules/{schedule.id}",
                                 '<tsRequest><schedule state="Suspended"/></tsRequest>')
    again = server.schedules.get_by_id(schedule.id)
    assert again.state == "Suspended" and again.name == "Nightly 03:00" and again.next_run_at is None
    # a TSC round trip of a daily "every 2 hours" sends hours="2.0" and drops end: end is then required
    twice = server.schedules.get_by_id(_schedule(server, "Twice Daily").id)
    with pytest.raises(ServerResponseError) as err:
        server.schedules.update(twice)
    assert err.value.code == "409004"
    server.schedules.put_request(
        f"{server.baseurl}/schedules/{twice.id}",
        '<tsRequest><schedule frequency="Daily"><frequencyDetails start="06:00:00" end="18:00:00"><intervals>'
        '<interval hours="2.0"/></intervals></frequencyDetails></schedule></tsRequest>')
    assert server.schedules.get_by_id(twice.id).interval_item.interval == (2.0,)
    with pytest.raises(ServerResponseError) as err:
        server.schedules.put_request(f"{server.baseurl}/schedules/{twice.id}",
                                     '<tsRequest><schedule name="Daily 06:00"/></tsRequest>')
    assert err.value.code == "409021"


def test_delete_removes_its_tasks_on_every_site(server: TSC.Server, emu: Emulator) -> None:
    nightly = _schedule(server, "Nightly 02:00")
    finance = sign_in(emu, "finance", user="admin", password="admin")
    assert any(t.schedule_id == nightly.id for t in finance.tasks.get()[0])
    server.schedules.delete(nightly.id)
    for srv in (server, finance):
        assert not any(t.schedule_id == nightly.id for t in srv.tasks.get()[0])
    kinds = [e[0] for e in emu.events]
    assert kinds[-1] == "schedule.deleted" and "task.deleted" in kinds
    with pytest.raises(ServerResponseError) as err:
        server.schedules.delete(nightly.id)
    assert err.value.code == "404013"


def test_batch_update_state(server: TSC.Server) -> None:
    server.version = "3.27"
    targets = [_schedule(server, "Nightly 02:00"), _schedule(server, "Daily 06:00")]
    done = server.schedules.batch_update_state(targets, "suspended")
    assert set(done) == {s.id for s in targets}
    assert {server.schedules.get_by_id(s.id).state for s in targets} == {"Suspended"}
    done = server.schedules.batch_update_state([], "active", update_all=True)
    assert len(done) == 14
    assert {s.state for s in TSC.Pager(server.schedules)} == {"Active"}


def test_add_datasource_and_workbook_to_schedule(server: TSC.Server, emu: Emulator) -> None:
    weekly = _schedule(server, "Weekly Monday 05:00")
    item = _ds(server, "Customers")
    assert server.schedules.add_to_schedule(weekly.id, datasource=item) == []
    workbook = next(w for w in TSC.Pager(server.workbooks) if w.name == "Sales Overview")
    assert server.schedules.add_to_schedule(weekly.id, workbook=workbook) == []
    tasks = [t for t in server.tasks.get()[0] if t.schedule_id == weekly.id]
    assert {t.target.id for t in tasks} >= {item.id, workbook.id}
    created = [e for e in emu.events if e[0] == "task.created"]
    assert created[-2][3:] == ("datasource", item.id) and created[-1][3:] == ("workbook", workbook.id)
    # Asking for an incremental task still makes a full one, as on Tableau Server (TSC issue 1101).
    other = _ds(server, "Pipeline")
    body = (f'<tsRequest><task><extractRefresh incremental="true"><datasource id="{other.id}"/></extractRefresh>'
            "</task></tsRequest>")
    server.schedules.put_request(raw(server, f"/schedules/{weekly.id}/datasources"), body)
    extracts, pagination = server.schedules.get_extract_refresh_tasks(weekly.id)
    assert [e.type for e in extracts if e.datasource_id == other.id] == ["FullRefresh"]
    assert pagination.total_available == len(extracts)


def test_add_to_schedule_errors(server: TSC.Server, viewer: TSC.Server) -> None:
    item = _ds(server, "Customers")
    with pytest.raises(Exception) as err:
        server.schedules.add_to_schedule("00000000-0000-4000-8000-000000000000", datasource=item)
    assert "500" in str(err.value)
    subscription = _schedule(server, "Weekday Morning Subscriptions")
    with pytest.raises(ServerResponseError) as bad:
        server.schedules.add_to_schedule(subscription.id, datasource=item)
    assert bad.value.code == "400047"
    live = _ds(server, "Live Postgres - App DB")
    with pytest.raises(ServerResponseError) as bad:
        server.schedules.add_to_schedule(_schedule(server, "Nightly 02:00").id, datasource=live)
    assert bad.value.code == "409090"  # as a real server refused an extract operation (TSC issue 1531)
    with pytest.raises(ServerResponseError) as bad:
        viewer.schedules.add_to_schedule(_schedule(viewer, "Nightly 02:00").id, datasource=_ds(viewer, "Orders"))
    assert bad.value.code == "403032"


def test_schedule_changes_by_non_admin_are_403(viewer: TSC.Server) -> None:
    nightly = _schedule(viewer, "Nightly 02:00")
    with pytest.raises(ServerResponseError) as err:
        viewer.schedules.create(TSC.ScheduleItem("x", 50, "Extract", "Parallel", TSC.DailyInterval(time(1))))
    assert err.value.code == "403004"
    with pytest.raises(ServerResponseError) as err:
        viewer.schedules.delete(nightly.id)
    assert err.value.code == "403004"
    with pytest.raises(ServerResponseError) as err:
        viewer.schedules.put_request(f"{viewer.baseurl}/schedules/{nightly.id}",
                                     '<tsRequest><schedule state="Suspended"/></tsRequest>')
    assert err.value.code == "403004"


def test_cloud_has_no_server_schedules(cloud_server: TSC.Server) -> None:
    with pytest.raises(FailedSignInError):
        cloud_server.schedules.get()
    response = requests.post(f"{cloud_server.baseurl}/schedules", data="<tsRequest/>",
                             headers={"X-Tableau-Auth": cloud_server.auth_token}, timeout=5)
    assert response.status_code == 401
    response = requests.get(raw(cloud_server, "/schedules"), headers={"X-Tableau-Auth": cloud_server.auth_token},
                            timeout=5)
    assert response.status_code == 404
    with pytest.raises(ServerResponseError) as err:
        cloud_server.schedules.get_extract_refresh_tasks("any")
    assert err.value.code.startswith("404")
