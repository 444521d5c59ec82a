"""Vizportal: the full login (RSA PKCS#1 v1.5, cookies, XSRF) and each method, with a `requests` client."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import tableauserverclient as TSC
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from reconciler.emulator import Emulator

from .helpers import sign_in


class Client:
    """What a Vizportal script does (seed 001), with requests + cryptography."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def call(self, method: str, params: dict[str, Any] | None = None, *, xsrf: bool = True) -> requests.Response:
        headers = {"content-type": "application/json;charset=UTF-8", "accept": "application/json, text/plain, */*"}
        token = self.session.cookies.get("XSRF-TOKEN")
        if xsrf and token:
            headers["X-XSRF-TOKEN"] = token
        return self.session.post(f"{self.url}/vizportal/api/web/v1/{method}",
                                 json={"method": method, "params": params or {}}, headers=headers, timeout=5)

    def login(self, username: str, password: str, site: str | None = None) -> requests.Response:
        key = self.call("generatePublicKey").json()["result"]
        public = rsa.RSAPublicNumbers(int(key["key"]["e"], 16), int(key["key"]["n"], 16)).public_key()
        encrypted = public.encrypt(password.encode(), padding.PKCS1v15()).hex()
        params = {"username": username, "encryptedPassword": encrypted, "keyId": key["keyId"]}
        if site is not None:
            params["site"] = site
        return self.call("login", params)


@pytest.fixture
def client(emu: Emulator) -> Client:
    c = Client(emu.url)
    response = c.login("admin", "admin")
    assert response.status_code == 200 and "errors" not in response.json()
    assert {"workgroup_session_id", "XSRF-TOKEN"} <= set(c.session.cookies.keys())
    return c


def test_generate_public_key_is_a_real_rsa_key(emu: Emulator) -> None:
    result = Client(emu.url).call("generatePublicKey").json()["result"]
    assert int(result["key"]["n"], 16).bit_length() == 2048 and result["key"]["e"] == "10001" and result["keyId"]


def test_wrong_password_is_an_error_in_a_200(emu: Emulator) -> None:
    response = Client(emu.url).login("admin", "wrong")
    assert response.status_code == 200
    assert response.json()["errors"][0]["code"] == 16


def test_missing_session_and_xsrf(emu: Emulator, client: Client) -> None:
    assert Client(emu.url).call("getExtractTasks").status_code == 401
    assert client.call("getExtractTasks", xsrf=False).status_code == 403
    client.session.headers["X-XSRF-TOKEN"] = "forged"
    response = client.session.post(f"{emu.url}/vizportal/api/web/v1/getSchedules",
                                   json={"method": "getSchedules", "params": {}}, timeout=5)
    assert response.status_code == 403


def test_expired_session(make_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(seed="demo", token_ttl=0.2)
    c = Client(emulator.url)
    c.login("admin", "admin")
    later = emulator.store.clock() + 0.3
    emulator.store.clock = lambda: later  # 0.3 s on: the session's 0.2 s are over
    response = c.call("getExtractTasks")
    assert response.status_code == 401 and "errors" in response.json()


def test_get_extract_tasks_carries_vizportal_ids_only(client: Client, emu: Emulator) -> None:
    server = sign_in(emu)
    rest = {t.id for t in server.tasks.get()[0]}
    result = client.call("getExtractTasks").json()["result"]
    tasks = result["tasks"]
    assert result["totalCount"] == len(tasks) == len(rest) and result["moreItems"] is False
    assert all(set(t) == {"id", "scheduleId", "targetId", "targetName"} for t in tasks), "no invented fields"
    assert all(t["id"].isdigit() and t["targetId"].isdigit() and t["scheduleId"].isdigit() for t in tasks)
    assert "luid" not in response_text(client, "getExtractTasks").lower()
    schedule_ids = {s["id"] for s in result["schedules"]}
    assert {t["scheduleId"] for t in tasks} == schedule_ids
    assert {d["name"] for d in result["datasources"]} >= {"Orders", "Customers"}


def response_text(client: Client, method: str) -> str:
    return client.call(method).text


def test_get_extract_tasks_is_paged(make_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(seed="demo", vizportal_max_items=5)
    c = Client(emulator.url)
    c.login("admin", "admin")
    order = [{"field": "targetName", "ascending": True}]
    first = c.call("getExtractTasks", {"order": order, "page": {"startIndex": 0, "maxItems": 1000}}).json()["result"]
    assert len(first["tasks"]) == 5 and first["moreItems"] is True and first["totalCount"] > 5  # capped at 5
    names = [t["targetName"] for t in first["tasks"]]
    assert names == sorted(names, key=str.lower)
    seen = []
    start = 0
    while True:
        page = c.call("getExtractTasks", {"order": order, "page": {"startIndex": start, "maxItems": 3}}).json()
        seen += [t["id"] for t in page["result"]["tasks"]]
        start += 3
        if not page["result"]["moreItems"]:
            break
    assert len(seen) == len(set(seen)) == first["totalCount"]
    schedules = c.call("getSchedules", {"page": {"startIndex": 0, "maxItems": 2}}).json()["result"]
    assert len(schedules["schedules"]) == 2 and schedules["moreItems"] is True
    assert set(schedules["schedules"][0]) == {"id", "name"}


def test_get_schedules(client: Client) -> None:
    schedules = client.call("getSchedules").json()["result"]["schedules"]
    assert "Nightly 02:00" in {s["name"] for s in schedules}


def test_set_extract_tasks_schedule_moves_in_place(client: Client, emu: Emulator) -> None:
    server = sign_in(emu)
    store = emu.store
    schedules = {s["name"]: s for s in client.call("getSchedules").json()["result"]["schedules"]}
    nightly = schedules["Nightly 02:00"]["id"]
    tasks = client.call("getExtractTasks").json()["result"]["tasks"]
    task = next(t for t in tasks if t["scheduleId"] == nightly)
    luid = next(t.id for t in store.tasks.values() if str(t.vizportal_id) == task["id"])
    target = schedules["Daily 06:00"]
    response = client.call("setExtractTasksSchedule", {"ids": [task["id"]], "scheduleId": target["id"]})
    assert response.json() == {"result": {}}
    moved = server.tasks.get_by_id(luid)
    assert store.schedules[moved.schedule_id].name == "Daily 06:00"
    assert emu.events[-1][:3] == ("task.moved", server.site_id, luid)
    # REST LUIDs are not Vizportal ids; unknown ids are errors in a 200
    for ids, schedule in (([luid], target["id"]), (["999999"], target["id"]),
                          ([task["id"]], next(s.id for s in store.schedules.values() if s.name == "Daily 06:00"))):
        response = client.call("setExtractTasksSchedule", {"ids": ids, "scheduleId": schedule})
        assert response.status_code == 200 and response.json()["errors"][0]["code"] in (404026, 404008)


def test_run_extract_refreshes_on_datasources(client: Client, emu: Emulator) -> None:
    server = sign_in(emu)
    orders = next(i for i in emu.store.items.values() if emu.store.item_path(i.id) == "Sales/Orders")
    response = client.call("runExtractRefreshesOnDatasources", {"ids": [str(orders.vizportal_id)],
                                                                 "type": "RefreshExtract"})
    assert response.json() == {"result": {}}
    jobs = list(TSC.Pager(server.jobs))
    assert len(jobs) == 1 and server.jobs.get_by_id(jobs[0].id).finish_code == 0
    response = client.call("runExtractRefreshesOnDatasources", {"ids": [orders.id]})  # a LUID is not an id here
    assert response.status_code == 200 and response.json()["errors"][0]["code"] == 404004


def test_login_to_another_site(emu: Emulator) -> None:
    c = Client(emu.url)
    assert "errors" not in c.login("admin", "admin", site="finance").json()
    names = {t["targetName"] for t in c.call("getExtractTasks").json()["result"]["tasks"]}
    assert "General Ledger" in names


def test_vizportal_is_not_on_cloud(cloud: Emulator) -> None:
    assert Client(cloud.url).call("generatePublicKey").status_code == 404
