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
    import time

    time.sleep(0.3)
    response = c.call("getExtractTasks")
    assert response.status_code == 401 and "errors" in response.json()


def test_get_extract_tasks_maps_ids_to_luids(client: Client, emu: Emulator) -> None:
    server = sign_in(emu)
    rest = {t.id for t in server.tasks.get()[0]}
    tasks = client.call("getExtractTasks").json()["result"]["tasks"]
    assert {t["luid"] for t in tasks} == rest
    assert all(t["id"].isdigit() and t["targetLuid"] and t["scheduleLuid"] for t in tasks)


def test_get_schedules(client: Client) -> None:
    schedules = client.call("getSchedules").json()["result"]["schedules"]
    assert "Nightly 02:00" in {s["name"] for s in schedules}


def test_set_extract_tasks_schedule_moves_in_place(client: Client, emu: Emulator) -> None:
    server = sign_in(emu)
    schedules = {s["name"]: s for s in client.call("getSchedules").json()["result"]["schedules"]}
    tasks = client.call("getExtractTasks").json()["result"]["tasks"]
    task = next(t for t in tasks if t["scheduleName"] == "Nightly 02:00")
    target = schedules["Daily 06:00"]
    response = client.call("setExtractTasksSchedule", {"ids": [task["id"]], "scheduleId": target["id"]})
    assert "errors" not in response.json()
    moved = server.tasks.get_by_id(task["luid"])
    assert moved.schedule_id == target["luid"]
    assert emu.events[-1] == ("task.moved", server.site_id, task["luid"], task["targetType"], task["targetLuid"])
    # LUIDs work too, and unknown ids are errors in a 200
    response = client.call("setExtractTasksSchedule", {"ids": [task["luid"]], "scheduleId": schedules[
        "Nightly 02:00"]["luid"]})
    assert server.tasks.get_by_id(task["luid"]).schedule_id == schedules["Nightly 02:00"]["luid"]
    response = client.call("setExtractTasksSchedule", {"ids": ["999999"], "scheduleId": target["id"]})
    assert response.status_code == 200 and response.json()["errors"][0]["code"] == 404026


def test_run_extract_refreshes_on_datasources(client: Client, emu: Emulator) -> None:
    server = sign_in(emu)
    tasks = client.call("getExtractTasks").json()["result"]["tasks"]
    orders = next(t for t in tasks if t["targetName"] == "Orders")
    response = client.call("runExtractRefreshesOnDatasources", {"ids": [orders["targetId"]], "type": "RefreshExtract"})
    jobs = response.json()["result"]["jobs"]
    assert len(jobs) == 1
    assert server.jobs.get_by_id(jobs[0]["id"]).finish_code == 0
    assert [j.id for j in TSC.Pager(server.jobs)] == [jobs[0]["id"]]
    response = client.call("runExtractRefreshesOnDatasources", {"ids": ["nope"]})
    assert response.status_code == 200 and "errors" in response.json()


def test_login_to_another_site(emu: Emulator) -> None:
    c = Client(emu.url)
    assert "errors" not in c.login("admin", "admin", site="finance").json()
    names = {t["targetName"] for t in c.call("getExtractTasks").json()["result"]["tasks"]}
    assert "General Ledger" in names


def test_vizportal_is_not_on_cloud(cloud: Emulator) -> None:
    assert Client(cloud.url).call("generatePublicKey").status_code == 404
