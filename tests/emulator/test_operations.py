"""Operations: faults, stats, --state persistence, serve() in a subprocess, events, seeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.exceptions import InternalServerError, ServerResponseError

from reconciler.emulator import Emulator, EmulatorConfig

from .helpers import sign_in


def test_fail_rate_answers_503(make_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(seed="empty", fail_rate=1.0)
    with pytest.raises(InternalServerError) as err:
        TSC.Server(emulator.url).auth.sign_in(TSC.TableauAuth("admin", "admin"))
    assert err.value.code == 503
    assert requests.get(emulator.url + "/_emulator/stats", timeout=5).status_code == 200


def test_throttle_rate_answers_429_with_retry_after(make_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(seed="empty", throttle_rate=1.0)
    response = requests.get(emulator.url + "/api/3.25/serverInfo", timeout=5)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    with pytest.raises(ServerResponseError) as err:
        TSC.Server(emulator.url).auth.sign_in(TSC.TableauAuth("admin", "admin"))
    assert err.value.code == "429000"


def test_retry_after_is_configurable(make_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(seed="empty", throttle_rate=1.0, retry_after=0.05)
    response = requests.get(emulator.url + "/api/3.25/serverInfo", timeout=5)
    assert response.status_code == 429 and response.headers["Retry-After"] == "0.05"
    emulator.configure_faults(retry_after=2)
    assert requests.get(emulator.url + "/api/3.25/serverInfo", timeout=5).headers["Retry-After"] == "2"
    with pytest.raises(ValueError, match="retry_after"):
        emulator.configure_faults(retry_after=-1)


def test_latency(make_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(seed="empty", latency_ms=100)
    started = time.monotonic()
    requests.get(emulator.url + "/api/3.25/serverInfo", timeout=5)
    assert time.monotonic() - started >= 0.1


def test_stats_count_route_templates(emu: Emulator) -> None:
    server = sign_in(emu)
    list(TSC.Pager(server.datasources, TSC.RequestOptions(pagesize=10)))
    stats = requests.get(emu.url + "/_emulator/stats", timeout=5).json()
    assert stats["by_route"]["GET /api/{v}/sites/{site_id}/datasources"] == 3
    assert stats["by_route"]["POST /api/{v}/auth/signin"] == 1
    assert stats["total"] == sum(stats["by_route"].values()) == emu.stats()["total"]
    reset = requests.post(emu.url + "/_emulator/stats/reset", timeout=5).json()
    assert reset == {"total": 0, "by_route": {}}


def test_state_round_trip(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(seed="demo", state=str(state), job_seconds=0.0) as first:
        server = sign_in(first)
        schedule = server.schedules.create(TSC.ScheduleItem(
            "Persisted", 50, "Extract", "Parallel", TSC.WeeklyInterval(__import__("datetime").time(4), "Friday")))
        task = server.tasks.get()[0][0]
        server.tasks.delete(task.id)
        assert state.exists()
    with Emulator(seed="empty", state=str(state), job_seconds=0.0) as second:
        server = sign_in(second)
        assert server.schedules.get_by_id(schedule.id).name == "Persisted"
        assert task.id not in {t.id for t in server.tasks.get()[0]}
        assert len(server.tasks.get()[0]) == 46
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".emulator-state-")]


def test_serve_prints_listening_first_and_stops_on_sigterm() -> None:
    code = ("from reconciler.emulator import serve, EmulatorConfig; "
            "raise SystemExit(serve(EmulatorConfig(port=0, seed='empty', flavor='cloud')))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:")
        url = first.removeprefix("listening on ")
        assert "<restApiVersion>3.28</restApiVersion>" in requests.get(url + "/api/2.4/serverInfo", timeout=5).text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_events_record_order_of_changes(emu: Emulator) -> None:
    server = sign_in(emu)
    orders = next(d for d in TSC.Pager(server.datasources) if d.name == "Orders")
    old = next(t for t in server.tasks.get()[0] if t.target.id == orders.id and t.schedule_item.name == "Nightly 02:00")
    weekly = next(s for s in TSC.Pager(server.schedules) if s.name == "Weekly Monday 05:00")
    server.schedules.add_to_schedule(weekly.id, datasource=orders)
    server.tasks.delete(old.id)
    kinds = [(e[0], e[3], e[4]) for e in emu.events if e[0].startswith("task.")]
    assert kinds[-2:] == [("task.created", "datasource", orders.id), ("task.deleted", "datasource", orders.id)]


def test_config_defaults() -> None:
    config = EmulatorConfig()
    assert (config.host, config.port, config.flavor, config.seed, config.job_seconds) == (
        "127.0.0.1", 0, "server", "demo", 1.0)
    assert (config.datasources, config.workbooks, config.tasks, config.schedules, config.projects) == (
        10000, 5000, 20000, 300, 500)
    with pytest.raises(ValueError):
        Emulator(flavor="desktop")


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_synthetic_seed_is_sized_and_deterministic(flavor: str) -> None:
    options = {"seed": "synthetic", "flavor": flavor, "datasources": 60, "workbooks": 30, "tasks": 120,
               "schedules": 12, "projects": 15, "random_seed": 7}
    a, b = Emulator(**options), Emulator(**options)
    assert len(a.store.tasks) == 120 and len(a.store.projects) == 15
    assert len(a.store.schedules) == (12 if flavor == "server" else 0)
    assert sorted(a.store.tasks) == sorted(b.store.tasks)
    assert sorted(Emulator(**{**options, "random_seed": 8}).store.tasks) != sorted(a.store.tasks)
    with a:
        server = sign_in(a)
        assert len(server.tasks.get()[0]) == 120
        assert len(list(TSC.Pager(server.datasources, TSC.RequestOptions(pagesize=1000)))) == 60


def test_empty_seed(make_emulator) -> None:  # type: ignore[no-untyped-def]
    server = sign_in(make_emulator(seed="empty"))
    assert server.datasources.get()[1].total_available == 0
    assert server.tasks.get()[0] == []
    assert [p.name for p in TSC.Pager(server.projects)] == ["Default"]
    assert list(TSC.Pager(server.schedules)) == []


def test_concurrent_clients(emu: Emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    admin = sign_in(emu)
    weekly = next(s for s in TSC.Pager(admin.schedules) if s.name == "Weekends 03:00")
    on_weekly = {t.target.id for t in admin.tasks.get()[0] if t.schedule_id == weekly.id}
    items = [d for d in TSC.Pager(admin.datasources) if d.has_extracts and d.id not in on_weekly]
    before = len(admin.tasks.get()[0])

    def add(item: TSC.DatasourceItem) -> int:
        server = sign_in(emu, user="admin", password="admin")
        server.schedules.add_to_schedule(weekly.id, datasource=item)
        return len(server.tasks.get()[0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(add, items[:16]))
    assert all(before < c <= before + 16 for c in counts)
    assert len(admin.tasks.get()[0]) == before + 16


def _create_project_in_thread(server: TSC.Server, name: str) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def create() -> None:
        try:
            outcome.append(server.projects.create(TSC.ProjectItem(name)))
        except Exception as error:  # the test reads it
            outcome.append(error)

    thread = threading.Thread(target=create, daemon=True)
    thread.start()
    return thread, outcome


def test_hold_keeps_matching_requests_until_released_and_counts_them_then(emu: Emulator) -> None:
    server = sign_in(emu)
    hold = emu.hold(lambda route: route == "POST /api/{v}/sites/{site_id}/projects")
    thread, outcome = _create_project_in_thread(server, "Held")
    assert hold.reached.wait(10) and hold.held == 1
    # Held: not handled, not counted; other requests go through meanwhile.
    assert server.projects.get()[1].total_available > 0
    routes = emu.stats()["by_route"]
    assert "POST /api/{v}/sites/{site_id}/projects" not in routes
    assert not any(e[0] == "project.created" for e in emu.events) and outcome == []
    hold.release()
    thread.join(10)
    [project] = outcome
    assert isinstance(project, TSC.ProjectItem) and project.name == "Held"
    assert emu.stats()["by_route"]["POST /api/{v}/sites/{site_id}/projects"] == 1
    # Released for good: the next one is not held.
    assert server.projects.create(TSC.ProjectItem("Not held")).name == "Not held"


def test_a_dropped_hold_closes_the_connection_and_changes_nothing(emu: Emulator) -> None:
    server = sign_in(emu)
    events = emu.events
    hold = emu.hold(lambda route: route.startswith("POST ") and route.endswith("/projects"))
    thread, outcome = _create_project_in_thread(server, "Dropped")
    assert hold.reached.wait(10)
    hold.release(drop=True)
    thread.join(10)
    [error] = outcome
    assert isinstance(error, requests.ConnectionError), error
    assert emu.events == events, "a dropped request is never handled"


def test_stop_drops_what_is_still_held(make_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(seed="demo")
    server = sign_in(emulator)
    hold = emulator.hold(lambda route: route.startswith("POST "), timeout=60)
    thread, outcome = _create_project_in_thread(server, "Never")
    assert hold.reached.wait(10)
    started = time.monotonic()
    emulator.stop()
    thread.join(10)
    assert time.monotonic() - started < 10, "stop does not wait for the hold's timeout"
    [error] = outcome
    assert isinstance(error, requests.ConnectionError), error
