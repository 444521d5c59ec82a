"""The streamed task-list parser reads exactly what ``parse_task`` reads from the element tree."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.serializers import TaskWriter
from reconciler.emulator.wire import envelope
from reconciler.tableau import wire


def tree_tasks(content: bytes) -> list[object]:
    """The tasks as read before streaming: the whole tree, then ``parse_task`` on every ``<extractRefresh>``."""
    root = ET.fromstring(content)
    return [t for t in (wire.parse_task(n) for n in root.iter(wire.tag("extractRefresh"))) if t is not None]


def streamed(content: bytes, step: int = 1 << 20) -> list[object]:
    return list(wire.parse_task_list(content[n:n + step] for n in range(0, len(content), step)))


def emulator_task_list(flavor: str) -> bytes:
    """The task list the emulator serves for a synthetic site of 2,000 tasks, without a server."""
    emu = Emulator(flavor=flavor, seed="synthetic", tasks=2000, datasources=1000, workbooks=500, schedules=60,
                   projects=20)
    store = emu.store
    site_id = next(iter(store.sites))
    tasks, schedules = store.list_tasks(site_id)
    writer = TaskWriter(schedules, store.clock())
    return envelope("<tasks>" + "".join(writer.task(t) for t in tasks) + "</tasks>")


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_streamed_task_list_equals_the_tree_parse_on_the_emulators_answer(flavor: str) -> None:
    content = emulator_task_list(flavor)
    expected = tree_tasks(content)
    assert len(expected) == 2000
    assert streamed(content) == expected
    assert streamed(content, step=97) == expected  # elements split across chunks


def test_cloud_recurrences_are_shared_per_distinct_schedule_element() -> None:
    tasks = streamed(emulator_task_list("cloud"))
    recurrences = [t.recurrence for t in tasks if t.recurrence is not None]  # type: ignore[attr-defined]
    assert len(recurrences) == 2000
    assert len({id(r) for r in recurrences}) == len(set(recurrences)) < 100


EDGE_CASES = b"""<?xml version='1.0' encoding='UTF-8'?>
<ts:tsResponse xmlns:ts="http://tableau.com/api" xmlns:other="urn:other">
<ts:tasks>
 <ts:task><ts:extractRefresh id="inc-attr" incremental="true" type="RefreshExtractTask" priority="7"
   consecutiveFailedCount="3">
   <ts:schedule id="s1" name="Nightly"/><ts:datasource id="d1"/></ts:extractRefresh></ts:task>
 <ts:task><ts:extractRefresh id="inc-type" type="IncrementExtractTask"><ts:workbook id="w1"/>
   <ts:schedule id="s2" name=""><ts:frequencyDetails start="06:00:00"><ts:intervals><ts:interval weekDay="Monday"/>
   </ts:intervals></ts:frequencyDetails></ts:schedule></ts:extractRefresh></ts:task>
 <ts:task><ts:extractRefresh id="no-target">
   <ts:schedule name="Nightly"/><ts:flow id="f1"/></ts:extractRefresh></ts:task>
 <ts:task><ts:extractRefresh id="no-id"><ts:datasource/><ts:workbook id="w2"/></ts:extractRefresh></ts:task>
 <ts:task><ts:extractRefresh id="two-targets"><ts:workbook id="w3"/><ts:datasource id="d3"/>
   <ts:datasource id="d4"/></ts:extractRefresh></ts:task>
 <ts:task><ts:extractRefresh id="nested-only"><other:wrap><ts:datasource id="deep"/></other:wrap>
   </ts:extractRefresh></ts:task>
 <ts:task><ts:extractRefresh id="no-schedule"><ts:datasource id="d5"/></ts:extractRefresh></ts:task>
 <ts:task><ts:extractRefresh id="two-schedules"><ts:schedule frequency="Hourly"><ts:frequencyDetails start="01:00:00"
   end="05:00:00"><ts:intervals><ts:interval hours="2"/><ts:interval weekDay="Friday"/></ts:intervals>
   <ts:intervals><ts:interval hours="4"/></ts:intervals></ts:frequencyDetails><ts:frequencyDetails start="09:00:00"/>
   </ts:schedule><ts:schedule frequency="Daily"/><ts:datasource id="d6"/></ts:extractRefresh></ts:task>
 <ts:task><ts:extractRefresh id="monthly"><ts:schedule frequency="Monthly"><other:note><ts:frequencyDetails
   start="00:00:00"/></other:note><ts:frequencyDetails start="03:15:00"><ts:intervals><ts:interval monthDay="1"/>
   <ts:interval monthDay="LastDay"/></ts:intervals></ts:frequencyDetails></ts:schedule><ts:datasource id="d7"/>
   </ts:extractRefresh></ts:task>
 <ts:task><ts:extractRefresh id="same-monthly"><ts:schedule frequency="Monthly" nextRunAt="2026-01-01T03:15:00Z">
   <ts:frequencyDetails start="03:15:00"><ts:intervals><ts:interval monthDay="1"/><ts:interval monthDay="LastDay"/>
   </ts:intervals></ts:frequencyDetails></ts:schedule><ts:workbook id="w8"/></ts:extractRefresh></ts:task>
</ts:tasks>
<extractRefresh id="other-namespace"><datasource id="x"/></extractRefresh>
</ts:tsResponse>"""


def test_streamed_task_list_reads_edge_cases_like_the_tree_parse() -> None:
    expected = tree_tasks(EDGE_CASES)
    assert [t.id for t in expected] == ["inc-attr", "inc-type", "two-targets", "no-schedule",  # type: ignore[attr-defined]
                                        "two-schedules", "monthly", "same-monthly"]
    for step in (len(EDGE_CASES), 13, 1):
        assert streamed(EDGE_CASES, step) == expected


def test_streamed_task_list_refuses_broken_xml() -> None:
    with pytest.raises(ET.ParseError):
        wire.parse_task_list([b"<tsResponse><tasks><task>"])
    with pytest.raises(ET.ParseError):
        wire.parse_task_list([b"<tsResponse><tasks></task>"])


TSC_FIXTURES = Path("/work/shared/reference/tsc-fixtures")


@pytest.mark.skipif(not TSC_FIXTURES.is_dir(), reason="TSC's test assets are not on this machine")
def test_streamed_task_list_equals_the_tree_parse_on_tscs_test_assets() -> None:
    compared = 0
    for fixture in sorted(TSC_FIXTURES.glob("*.xml")):
        content = fixture.read_bytes()
        if b"extractRefresh" in content:
            assert streamed(content, step=64) == tree_tasks(content), fixture.name
            compared += 1
    assert compared >= 5
