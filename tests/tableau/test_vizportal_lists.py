"""Vizportal without a server: reading paged lists to their end, matching REST tasks to Vizportal tasks,
and reading an item's Vizportal id from its REST webpageUrl (docs/tableau-behaviour.md, section Vizportal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.tableau.connect import ConnectionSettings, Credentials
from reconciler.tableau.vizportal import (
    PlannedMove,
    VizportalClient,
    VizportalSchedule,
    VizportalTask,
    item_web_id,
    match_tasks,
    web_id,
)


class ScriptedClient(VizportalClient):
    """Answers ``call`` from a script of pages; records the params of every call (no HTTP)."""

    def __init__(self, pages: Sequence[dict[str, Any]]) -> None:
        super().__init__(ConnectionSettings(server="http://127.0.0.1:9", site="",
                                            credentials=Credentials("password", "u", "p")))
        self.pages = list(pages)
        self.sent: list[Mapping[str, Any]] = []

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self.sent.append(dict(params or {}))
        return self.pages.pop(0)


def tasks(*ids: int) -> list[dict[str, Any]]:
    return [{"id": str(i), "scheduleId": "7", "targetId": str(100 + i)} for i in ids]


def test_pages_are_read_until_more_items_is_false_starting_after_what_was_received() -> None:
    client = ScriptedClient([{"tasks": tasks(1, 2), "moreItems": True, "totalCount": 5},  # capped below 1000
                             {"tasks": tasks(3, 4), "moreItems": True, "totalCount": 5},
                             {"tasks": tasks(5), "moreItems": False, "totalCount": 5}])
    read = client.extract_tasks()
    assert [t.id for t in read] == ["1", "2", "3", "4", "5"]
    assert [p["page"] for p in client.sent] == [{"startIndex": 0, "maxItems": 1000},
                                                {"startIndex": 2, "maxItems": 1000},
                                                {"startIndex": 4, "maxItems": 1000}]
    assert client.sent[0]["order"] == [{"field": "targetName", "ascending": True}]


@pytest.mark.parametrize(("pages", "says"), [
    ([{"tasks": [], "moreItems": True}], "empty page at startIndex 0"),
    ([{"tasks": tasks(1, 2), "moreItems": True}, {"tasks": tasks(2, 3), "moreItems": False}], "task 2 twice"),
    ([{"tasks": tasks(1, 2), "moreItems": False, "totalCount": 3}], "totalCount of 3"),
    ([{"tasks": tasks(1), "moreItems": True}, {"tasks": tasks(2), "moreItems": True}], "after 2 pages"),
])
def test_a_list_that_cannot_be_read_to_its_end_is_an_error(pages: list[dict[str, Any]], says: str) -> None:
    client = ScriptedClient(pages)
    with pytest.raises(TableauRequestError) as caught:
        client.paged("getExtractTasks", "tasks", max_pages=2)
    assert says in str(caught.value) and "Nothing was changed" in str(caught.value)


def test_the_schedule_list_is_paged_too() -> None:
    client = ScriptedClient([{"schedules": [{"id": "1", "name": "A"}], "moreItems": True},
                             {"schedules": [{"id": "2", "name": "B"}], "moreItems": False}])
    assert client.schedules() == [VizportalSchedule("1", "A"), VizportalSchedule("2", "B")]


@pytest.mark.parametrize(("url", "kind", "expected"), [
    ("https://tableau.example.com/#/site/Sandbox/datasources/46/connectedWorkbooks", "datasource", "46"),
    ("https://tableau.example.com/#/datasources/46", "datasource", "46"),
    ("https://tableau.example.com/#/site/s/workbooks/812/views", "workbook", "812"),
    ("https://tableau.example.com/#/site/s/workbooks/812", "datasource", None),
    ("https://tableau.example.com/#/site/s/datasources/abc", "datasource", None),
    ("", "datasource", None),
    (None, "datasource", None),
])
def test_web_id_is_the_number_after_the_kind_in_webpage_url(url: str | None, kind: str, expected: str | None) -> None:
    assert web_id(kind, url) == expected


def test_a_target_type_is_read_only_when_it_names_a_kind() -> None:
    assert VizportalTask.from_json({"id": 1, "targetType": "Datasource"}).target_kind == "datasource"
    assert VizportalTask.from_json({"id": 1, "targetType": "workbook"}).target_kind == "workbook"
    assert VizportalTask.from_json({"id": 1, "targetType": "Flow"}).target_kind is None
    assert VizportalTask.from_json({"id": 1}) == VizportalTask("1", None, None, None)


SCHEDULES = [VizportalSchedule("7", "Nightly"), VizportalSchedule("8", "Daily"), VizportalSchedule("9", "Twin"),
             VizportalSchedule("10", "Twin")]


def move(task_id: str = "luid-1", item_id: str = "ds-1", source: str = "Nightly", to: str = "Daily",
         kind: str = "datasource") -> PlannedMove:
    return PlannedMove(task_id, f'task[{kind} "P/{item_id}"][full @ {to}]', "site.yaml:4:7", kind, item_id,
                       f"P/{item_id}", source, to)


def test_a_task_matches_by_its_items_web_id_and_its_schedule() -> None:
    found = [VizportalTask("501", "7", "46"), VizportalTask("502", "8", "46"), VizportalTask("503", "7", "47")]
    mapped, problems = match_tasks([move()], {("datasource", "ds-1"): "46"}, found, SCHEDULES)
    assert mapped == {"luid-1": "501"} and problems == {}


@pytest.mark.parametrize(("found", "moved", "created", "says"), [
    ([VizportalTask("501", "8", "46")], move(), (), "lists no task of data source 'P/ds-1' (Vizportal id 46) on "
                                                    "schedule 'Nightly' (Vizportal id 7)"),
    ([VizportalTask("501", "7", "46"), VizportalTask("502", "7", "46")], move(), (), "lists 2 tasks of data source"),
    ([VizportalTask("501", "7", "46", "workbook")], move(), (), "lists no task"),
    ([VizportalTask("501", "7", "46")], move(source="Gone"), (), "lists no schedule named 'Gone'"),
    ([VizportalTask("501", "9", "46")], move(source="Twin"), (), "lists 2 schedules named 'Twin' (ids 9, 10)"),
    ([VizportalTask("501", "7", "46")], move(to="New"), (), "lists no schedule named 'New'"),
    ([VizportalTask("501", "7", "46")], move(item_id="ds-2"), (), "Vizportal id of data source 'P/ds-2' is not known"),
])
def test_a_task_that_does_not_match_exactly_one_is_not_mapped(found: list[VizportalTask], moved: PlannedMove,
                                                               created: tuple[str, ...], says: str) -> None:
    mapped, problems = match_tasks([moved], {("datasource", "ds-1"): "46"}, found, SCHEDULES, created)
    assert mapped == {}
    assert says in problems[moved.task_id]


def test_a_target_schedule_the_plan_creates_need_not_exist_yet() -> None:
    mapped, problems = match_tasks([move(to="New")], {("datasource", "ds-1"): "46"},
                                   [VizportalTask("501", "7", "46")], SCHEDULES, {"New"})
    assert mapped == {"luid-1": "501"} and problems == {}


def test_an_unknown_target_kind_still_matches_but_never_twice() -> None:
    found = [VizportalTask("501", "7", "46"), VizportalTask("502", "7", "46", "workbook")]
    assert match_tasks([move()], {("datasource", "ds-1"): "46"}, found, SCHEDULES)[0] == {"luid-1": "501"}


def test_two_rest_tasks_matching_one_vizportal_task_are_both_refused() -> None:
    moves = [move("luid-1"), move("luid-2")]
    mapped, problems = match_tasks(moves, {("datasource", "ds-1"): "46"}, [VizportalTask("501", "7", "46")],
                                   SCHEDULES)
    assert mapped == {}
    assert set(problems) == {"luid-1", "luid-2"} and "both match the one Vizportal task 501" in problems["luid-1"]


class _Answer:
    def __init__(self, xml: str) -> None:
        self.content = xml.encode()


class _Jobs:
    def __init__(self, xml: str) -> None:
        self.xml = xml
        self.urls: list[str] = []

    def get_request(self, url: str) -> _Answer:
        self.urls.append(url)
        return _Answer(self.xml)


def fake_conn(xml: str) -> Any:
    """What ``item_web_id`` uses of a Connection: ``site_url`` and ``server.jobs.get_request``."""
    return SimpleNamespace(site_url="https://t/api/3.25/sites/s", server=SimpleNamespace(jobs=_Jobs(xml)))


def test_item_web_id_reads_the_webpage_url_of_the_item() -> None:
    conn = fake_conn('<tsResponse xmlns="http://tableau.com/api"><datasource id="L" name="Orders" '
                     'webpageUrl="https://t/#/site/s/datasources/46"/></tsResponse>')
    assert item_web_id(conn, "datasource", "L", "data source Sales/Orders") == "46"
    assert conn.server.jobs.urls == ["https://t/api/3.25/sites/s/datasources/L"]


@pytest.mark.parametrize("attrs", ['', 'webpageUrl="https://t/#/site/s/datasources/"'])
def test_an_item_without_a_usable_webpage_url_is_refused(attrs: str) -> None:
    conn = fake_conn(f'<tsResponse xmlns="http://tableau.com/api"><datasource id="L" {attrs}/></tsResponse>')
    with pytest.raises(ReconcilerError) as caught:
        item_web_id(conn, "datasource", "L", "data source 'Sales/Orders'")
    assert "data source 'Sales/Orders'" in str(caught.value) and "Vizportal id" in str(caught.value)
