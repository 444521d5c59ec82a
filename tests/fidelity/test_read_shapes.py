"""Task lists, schedules and items in the shapes real servers answer, fed to the reader's parsers (no emulator).

Each case is written by hand in the shape a public source shows (named beside it) and names its entry in
docs/tableau-behaviour.md. The emulator is not involved: these check the client against the evidence,
not against our own imitation of Tableau.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from reconciler.errors import TableauRequestError
from reconciler.model import WEEKDAYS, Recurrence
from reconciler.tableau import wire
from reconciler.tableau.read import _item, _item_row, _schedule_from

NS = 'xmlns="http://tableau.com/api"'

# -- Task types (ledger: "Task types") ------------------------------------------------------------------------

# Server task list: tableauserverclient's tasks_with_datasource.xml shape; the incremental type string as in
# public code that reads real answers (keboola's extract refresh trigger, Tableau's repository `tasks.type`).
SERVER_TASKS = f"""<tsResponse {NS}><tasks>
  <task><extractRefresh id="t-full" priority="50" consecutiveFailedCount="0" type="RefreshExtractTask">
    <schedule id="s1" name="Refresh daily [23:00 - 01:00, Pacific US]" state="Active" priority="50"
      createdAt="2016-02-11T01:42:55Z" updatedAt="2017-07-12T06:00:06Z" type="Extract" frequency="Daily"
      nextRunAt="2017-07-13T06:00:00Z"/>
    <datasource id="d1"/></extractRefresh></task>
  <task><extractRefresh id="t-inc" priority="30" consecutiveFailedCount="2" type="IncrementExtractTask">
    <schedule id="s2" name="Hourly" state="Active" priority="30" type="Extract" frequency="Hourly"
      nextRunAt="2017-07-13T06:00:00Z"/>
    <workbook id="w1"/></extractRefresh></task>
</tasks></tsResponse>"""

# Cloud task list: tableauserverclient's tasks_with_interval.xml (a once-daily task lists hours="24" and an end
# equal to its start).
CLOUD_TASKS = f"""<tsResponse {NS}><tasks>
  <task><extractRefresh id="c1" priority="50" consecutiveFailedCount="0" type="RefreshExtractTask">
    <schedule frequency="Daily" nextRunAt="2024-02-21T02:20:00Z">
      <frequencyDetails start="18:20:00" end="18:20:00">
        <intervals><interval hours="24"/><interval weekDay="Tuesday"/></intervals>
      </frequencyDetails></schedule>
    <datasource id="d2"/></extractRefresh></task>
  <task><extractRefresh id="c2" priority="50" consecutiveFailedCount="0" type="IncrementExtractTask">
    <schedule frequency="Hourly" nextRunAt="2024-02-21T08:00:00Z">
      <frequencyDetails start="08:00:00" end="18:00:00">
        <intervals><interval hours="1"/><interval weekDay="Monday"/><interval weekDay="Friday"/></intervals>
      </frequencyDetails></schedule>
    <datasource id="d3"/></extractRefresh></task>
</tasks></tsResponse>"""


def _tasks(xml: str) -> list:  # type: ignore[type-arg]
    root = wire.parse(xml.encode())
    return [t for t in (wire.parse_task(n) for n in root.iter(wire.tag("extractRefresh"))) if t is not None]


def test_server_task_list_types_and_schedule() -> None:
    full, incremental = _tasks(SERVER_TASKS)
    assert (full.id, full.type, full.item_kind, full.item_id) == ("t-full", "full", "datasource", "d1")
    assert (full.schedule, full.schedule_id, full.recurrence) == ("Refresh daily [23:00 - 01:00, Pacific US]", "s1",
                                                                  None)
    assert (incremental.type, incremental.item_kind, incremental.schedule) == ("incremental", "workbook", "Hourly")
    assert (incremental.priority, incremental.consecutive_failures) == (30, 2)


def test_cloud_task_list_types_and_recurrences() -> None:
    daily, hourly = _tasks(CLOUD_TASKS)
    assert daily.type == "full" and daily.schedule is None
    assert daily.recurrence == Recurrence("daily", "18:20", every=1440, weekdays=("tuesday",))
    assert hourly.type == "incremental"
    assert hourly.recurrence == Recurrence("hourly", "08:00", every=60, end="18:00", weekdays=("monday", "friday"))


@pytest.mark.parametrize(("attributes", "expected"), [
    # Create/Update Cloud Extract Refresh Task answers use the request vocabulary (tasks_create_extract_task.xml)
    ('type="FullRefresh"', "full"),
    ('type="IncrementalRefresh"', "incremental"),
    # the tableau-migration-sdk's Cloud spelling for creating an incremental task
    ('type="IncrementalExtract"', "incremental"),
    # the XSD's form (taskExtractRefreshType has an `incremental` boolean; never seen in a real list)
    ('incremental="true"', "incremental"),
    ('incremental="false"', "full"),
    ("", "full"),
])
def test_other_type_spellings(attributes: str, expected: str) -> None:
    (task,) = _tasks(f'<tsResponse {NS}><extractRefresh id="x" {attributes}><datasource id="d"/></extractRefresh>'
                     "</tsResponse>")
    assert task.type == expected


def test_an_unknown_task_type_stops_the_read() -> None:
    """Guessing "full" would plan a replace of an incremental task: refuse instead (ledger: "Task types")."""
    with pytest.raises(TableauRequestError, match=r"'RefreshExtractTaskV2'.*Nothing was planned"):
        _tasks(f'<tsResponse {NS}><extractRefresh id="x" type="RefreshExtractTaskV2"><datasource id="d"/>'
               "</extractRefresh></tsResponse>")


def test_tasks_that_are_not_on_an_item_are_skipped() -> None:
    """tableauserverclient's tasks_no_workbook_or_datasource.xml: a task whose target is neither."""
    assert _tasks(f'<tsResponse {NS}><tasks><task><extractRefresh id="x" type="RefreshExtractTask">'
                  '<schedule id="s" name="n"/></extractRefresh></task></tasks></tsResponse>') == []


def test_prefixed_namespace_captures_parse_the_same() -> None:
    """Some captures are stored with an ``ns0:`` prefix (tableauserverclient's *_all_fields.xml)."""
    xml = ('<ns0:tsResponse xmlns:ns0="http://tableau.com/api"><ns0:tasks><ns0:task>'
           '<ns0:extractRefresh id="p" type="IncrementExtractTask"><ns0:datasource id="d"/></ns0:extractRefresh>'
           "</ns0:task></ns0:tasks></ns0:tsResponse>")
    (task,) = _tasks(xml)
    assert (task.id, task.type) == ("p", "incremental")


# -- Schedules (ledger: "Customized Monthly", "Monthly shapes", "Server hourly every 60 minutes") ------------

def _recurrence(frequency: str, details: str) -> Recurrence | None:
    root = wire.parse(f'<tsResponse {NS}><schedule id="s" name="n" frequency="{frequency}">{details}</schedule>'
                      "</tsResponse>".encode())
    schedule = wire.find(root, "schedule")
    assert schedule is not None
    return wire.parse_recurrence(schedule)


def _details(start: str, intervals: str, end: str = "") -> str:
    end_attr = f' end="{end}"' if end else ""
    return f'<frequencyDetails start="{start}"{end_attr}><intervals>{intervals}</intervals></frequencyDetails>'


MONTHLY = {
    # tableauserverclient issue 1365 (Server 2022.1.20) and fixture schedule_get_customized_monthly_id.xml
    "customized monthly": ('<interval monthDay="Customized Monthly"/>',
                           Recurrence("monthly", "17:05", days_unknown=True)),
    # schedule_get_monthly_id.xml ("Monthly multiple days")
    "several days": ('<interval monthDay="1"/><interval monthDay="2"/>', Recurrence("monthly", "17:05",
                                                                                    month_days=(1, 2))),
    # schedule_get_monthly_id_2.xml: one interval with both attributes
    "first monday": ('<interval weekDay="Monday" monthDay="First" />', Recurrence("monthly", "17:05",
                                                                                 on=("first", "monday"))),
    # "last Friday" is documented as LastDay + weekDay (XSD; the migration SDK); TSC accepts Last
    "last friday (documented)": ('<interval weekDay="Friday" monthDay="LastDay"/>',
                                 Recurrence("monthly", "17:05", on=("last", "friday"))),
    "last friday (Last)": ('<interval weekDay="Friday" monthDay="Last"/>',
                           Recurrence("monthly", "17:05", on=("last", "friday"))),
    # tableauserverclient's own split form of "first Monday"
    "split first monday": ('<interval monthDay="First"/><interval monthDay="Monday"/>',
                           Recurrence("monthly", "17:05", on=("first", "monday"))),
    "last day": ('<interval monthDay="LastDay"/>', Recurrence("monthly", "17:05", month_days=("last",))),
    # an occurrence without a weekday, or an unknown value: days not known, never guessed
    "occurrence alone": ('<interval monthDay="Second"/>', Recurrence("monthly", "17:05", days_unknown=True)),
    "unknown value": ('<interval monthDay="Every other"/>', Recurrence("monthly", "17:05", days_unknown=True)),
    # API 3.15-era servers answered several days with no usable detail (tableauserverclient issue 1140)
    "no intervals": ("", Recurrence("monthly", "17:05", days_unknown=True)),
}


@pytest.mark.parametrize(("intervals", "expected"), MONTHLY.values(), ids=MONTHLY.keys())
def test_monthly_shapes(intervals: str, expected: Recurrence) -> None:
    assert _recurrence("Monthly", _details("17:05:00", intervals)) == expected


def test_customized_monthly_is_described_and_never_written() -> None:
    recurrence = _recurrence("Monthly", _details("17:05:00", '<interval monthDay="Customized Monthly"/>'))
    assert recurrence is not None
    assert recurrence.describe() == "monthly at 17:05 on days Tableau does not report"
    assert recurrence.to_dict()["month_days"] == "not reported by Tableau"
    with pytest.raises(ValueError, match="did not report"):
        wire.recurrence_xml(recurrence, cloud=False)


@pytest.mark.parametrize(("frequency", "details", "expected"), [
    # Server hourly `minutes="60"` is accepted by real servers (migration SDK's ServerScheduleValidator)
    ("Hourly", _details("08:00:00", '<interval minutes="60"/>', "18:00:00"),
     Recurrence("hourly", "08:00", every=60, end="18:00")),
    ("Hourly", _details("06:00:00", '<interval minutes="15"/>', "22:00:00"),
     Recurrence("hourly", "06:00", every=15, end="22:00")),
    # tableauserverclient re-sends hours as "2.0"; servers may echo it
    ("Daily", _details("06:00:00", '<interval hours="2.0"/>', "18:00:00"),
     Recurrence("daily", "06:00", every=120, end="18:00")),
    # Server before 2023.3.5 (API 3.21) sent no weekDay for daily schedules: every day
    ("Daily", _details("02:00:00", ""), Recurrence("daily", "02:00", weekdays=WEEKDAYS)),
    ("Weekly", _details("05:00:00", '<interval weekDay="Saturday"/><interval weekDay="Sunday"/>'),
     Recurrence("weekly", "05:00", weekdays=("saturday", "sunday"))),
])
def test_other_recurrence_shapes(frequency: str, details: str, expected: Recurrence) -> None:
    assert _recurrence(frequency, details) == expected


def test_a_schedule_without_details_has_no_recurrence() -> None:
    """Server schedule lists carry no frequencyDetails (tableauserverclient issue 327; schedule_get.xml)."""
    assert _recurrence("Daily", "") is None


def test_schedule_list_entry_fields() -> None:
    """schedule_get.xml: state, priority and executionOrder in Tableau's capitalisation."""
    node = ET.fromstring('<schedule xmlns="http://tableau.com/api" id="s" name="Weekends" state="Suspended" '
                         'priority="70" type="Extract" frequency="Weekly" executionOrder="Serial"/>')
    schedule = _schedule_from(node, None)
    assert (schedule.name, schedule.state, schedule.priority, schedule.execution, schedule.detailed) == (
        "Weekends", "suspended", 70, "serial", False)


# -- Items (ledger: "hasExtracts") ------------------------------------------------------------------------------

@pytest.mark.parametrize(("attributes", "expected"), [
    # datasource_get.xml: hasExtracts in the default list; datasource_get_all_fields.xml: "false" for a live one
    ('hasExtracts="true" encryptExtracts="false"', True),
    ('hasExtracts="false" encryptExtracts="false"', False),
    # workbook_get.xml (an old default workbook list) has no hasExtracts: unknown, so nothing is refused for it
    ('encryptExtracts="false"', None),
])
def test_has_extracts(attributes: str, expected: bool | None) -> None:
    node = ET.fromstring(f'<workbook xmlns="http://tableau.com/api" id="w" name="Board Pack" {attributes}>'
                         '<project id="p" name="Finance"/><owner id="u"/></workbook>')
    item = _item(_item_row(node), "workbook", {})
    assert item.has_extracts is expected
    assert (item.project, item.owner_id, item.encrypt) == (("Finance",), "u", False)
