"""Vizportal (Tableau Server's undocumented web API) against the emulator: the client's login dance,
XSRF and session handling, in-place moves through `apply --server-move-strategy vizportal`, batching,
`refresh --via vizportal`, and the refusals (Cloud, token credentials) that must come before any write.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from reconciler.emulator import Emulator
from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.vizportal import (
    PlannedMove,
    VizportalClient,
    VizportalMover,
    encrypt_password,
    item_web_id,
)
from tests.conftest import connect_env
from tests.e2e.helpers import journal, site_id, task_ids_on, tasks_on, writes

VIZPORTAL_ROUTE = "POST /vizportal/api/web/v1/{method}"


def vizportal_calls(emu: Emulator) -> int:
    return int(emu.stats()["by_route"].get(VIZPORTAL_ROUTE, 0))


def use_password(monkeypatch: pytest.MonkeyPatch, password: str = "admin") -> None:
    """Sign in as admin with a username and password, as Vizportal requires (PAT variables removed)."""
    monkeypatch.delenv("TABLEAU_PAT_NAME", raising=False)
    monkeypatch.delenv("TABLEAU_PAT_SECRET", raising=False)
    monkeypatch.setenv("TABLEAU_USERNAME", "admin")
    monkeypatch.setenv("TABLEAU_PASSWORD", password)


def settings(emu: Emulator, password: str = "admin", site: str = "") -> ConnectionSettings:
    return ConnectionSettings(server=emu.url, site=site, credentials=Credentials("password", "admin", password),
                              timeout=10.0)


def cookie(client: VizportalClient, name: str) -> Any:
    return next(c for c in client.session.cookies if c.name == name)


def export_doc(cli: Any, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "exported.yaml"
    result = cli("export", "--output", out)
    assert result.code == 0, result.err
    return dict(yaml.safe_load(out.read_text()))


def set_refresh(doc: dict[str, Any], path: str, schedule: str, kind: str = "datasource") -> None:
    for entry in doc["extracts"]:
        if entry.get(kind) == path:
            entry["refresh"] = [{"schedule": schedule, "type": "full"}]
            return
    raise AssertionError(f"{kind} {path} not in the exported document")


def save(tmp_path: Path, doc: dict[str, Any], name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# -- the password encryption ------------------------------------------------------------------------------


def test_password_encryption_round_trip() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    numbers = key.public_key().public_numbers()
    n, e = format(numbers.n, "x"), format(numbers.e, "x")
    first = encrypt_password("s3cret-ünicode", n, e)
    second = encrypt_password("s3cret-ünicode", n, e)
    assert len(first) == 2 * 128 and int(first, 16) >= 0, "hex of one RSA block"
    assert first != second, "PKCS#1 v1.5 padding is random"
    for cipher in (first, second):
        assert key.decrypt(bytes.fromhex(cipher), padding.PKCS1v15()).decode("utf-8") == "s3cret-ünicode"


def test_a_password_too_long_for_the_key_is_refused_without_showing_it() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    numbers = key.public_key().public_numbers()
    secret = "x" * 200
    with pytest.raises(TableauRequestError) as caught:
        encrypt_password(secret, format(numbers.n, "x"), format(numbers.e, "x"))
    assert "too long" in str(caught.value) and secret not in str(caught.value)
    assert caught.value.__cause__ is None


# -- the client -----------------------------------------------------------------------------------------------


def vizportal_method_calls(emu: Emulator, method: str) -> int:
    return emu.app.vizportal.calls[method]


def rest_writes(emu: Emulator) -> int:
    """Write requests to the REST API (Vizportal reads are POSTs too, so they are left out)."""
    by_route = emu.stats()["by_route"]
    return sum(n for route, n in by_route.items() if not route.startswith("GET ") and "/auth/" not in route
               and "/_emulator" not in route and "/vizportal/" not in route)


def test_login_and_the_whole_lists(server_emu: Emulator) -> None:
    with VizportalClient(settings(server_emu)) as client:
        client.login()
        assert cookie(client, "workgroup_session_id").value and cookie(client, "XSRF-TOKEN").value
        tasks = client.extract_tasks()
        schedules = client.schedules()
    store = server_emu.store
    default = site_id(server_emu)
    assert {t.id for t in tasks} == {str(t.vizportal_id) for t in store.tasks.values() if t.site_id == default}
    some = next(t for t in store.tasks.values() if t.site_id == default)
    found = next(t for t in tasks if t.id == str(some.vizportal_id))
    assert found.target_id == str(store.items[some.item_id].vizportal_id)
    assert found.schedule_id == str(store.schedules[some.schedule_id or ""].vizportal_id)
    nightly = next(s for s in store.schedules.values() if s.name == "Nightly 02:00")
    assert [s.id for s in schedules if s.name == "Nightly 02:00"] == [str(nightly.vizportal_id)]


def test_an_items_vizportal_id_is_read_from_its_webpage_url(server_emu: Emulator) -> None:
    store = server_emu.store
    orders = next(i for i in store.items.values() if store.item_path(i.id) == "Sales/Orders")
    with connect(settings(server_emu)) as conn:
        assert item_web_id(conn, "datasource", orders.id, "data source Sales/Orders") == str(orders.vizportal_id)


@pytest.fixture
def small_pages() -> Iterator[Emulator]:
    """A Server emulator whose Vizportal lists answer 2 entries a page."""
    with Emulator(flavor="server", seed="demo", job_seconds=0.0, vizportal_max_items=2) as emu:
        yield emu


def test_the_lists_are_read_page_by_page_to_the_end(small_pages: Emulator) -> None:
    emu = small_pages
    store = emu.store
    default = site_id(emu)
    with VizportalClient(settings(emu)) as client:
        tasks = client.extract_tasks()
        schedules = client.schedules()
        with pytest.raises(TableauRequestError) as bounded:
            client.paged("getExtractTasks", "tasks", max_pages=2)
    count = sum(1 for t in store.tasks.values() if t.site_id == default)
    assert len(tasks) == count > 4 and len({t.id for t in tasks}) == count
    assert len(schedules) == len(store.schedules) > 4
    assert vizportal_method_calls(emu, "getExtractTasks") == -(-count // 2) + 2
    assert "after 2 pages" in str(bounded.value) and "never acts on a partial list" in str(bounded.value)


def test_login_to_another_site(server_emu: Emulator) -> None:
    with VizportalClient(settings(server_emu, site="finance")) as client:
        tasks = client.extract_tasks()  # logs in first
    finance = site_id(server_emu, "finance")
    on_finance = {str(t.vizportal_id) for t in server_emu.store.tasks.values() if t.site_id == finance}
    assert tasks and {t.id for t in tasks} == on_finance


def test_a_wrong_password_is_a_clear_error_that_does_not_show_it(server_emu: Emulator) -> None:
    client = VizportalClient(settings(server_emu, password="Wrong-Pa55"))
    with pytest.raises(TableauRequestError) as caught:
        client.login()
    message = str(caught.value)
    assert "refused to log in user 'admin'" in message and "TABLEAU_PASSWORD" in message
    assert caught.value.code == "16"
    assert "Wrong-Pa55" not in message and "Wrong-Pa55" not in repr(client)
    client.close()


def test_a_wrong_or_missing_xsrf_header_is_a_clear_403(server_emu: Emulator) -> None:
    with VizportalClient(settings(server_emu)) as client:
        client.login()
        token = cookie(client, "XSRF-TOKEN")
        token.value = "not-the-token"
        with pytest.raises(TableauRequestError) as wrong:
            client.schedules()
        assert wrong.value.code == "403" and "X-XSRF-TOKEN" in str(wrong.value)
        client.session.cookies.clear(token.domain, token.path, token.name)  # no cookie → no header sent
        with pytest.raises(TableauRequestError) as missing:
            client.schedules()
        assert missing.value.code == "403" and "XSRF-TOKEN cookie" in str(missing.value)


def test_an_expired_session_logs_in_again_once(server_emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    with VizportalClient(settings(server_emu)) as client:
        client.login()
        session = cookie(client, "workgroup_session_id").value
        ttl = server_emu.config.token_ttl
        monkeypatch.setattr(server_emu.store, "clock", lambda: time.time() + ttl + 60)  # the session has expired
        before = vizportal_calls(server_emu)
        assert client.schedules(), "answered after a transparent re-login"
        # The refused call, generatePublicKey + login, the call again.
        assert vizportal_calls(server_emu) - before == 4
        assert cookie(client, "workgroup_session_id").value != session


def test_a_session_refused_right_after_login_is_not_retried_forever() -> None:
    with Emulator(flavor="server", seed="empty", job_seconds=0.0, token_ttl=0) as emu:  # every session expired
        client = VizportalClient(settings(emu))
        with pytest.raises(TableauRequestError) as caught:
            client.schedules()
        assert caught.value.code == "401" and "even right after logging in again" in str(caught.value)
        # login (2 calls), the call, login again (2 calls), the call: then it gives up.
        assert vizportal_calls(emu) == 6
        client.close()


# -- apply --server-move-strategy vizportal ------------------------------------------------------------------


def test_apply_moves_a_task_in_place_keeping_its_id(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    set_refresh(doc, "Sales/Pipeline", "Daily 06:00")
    file = save(tmp_path, doc)
    use_password(monkeypatch)
    before_ids = task_ids_on(server_emu, "Sales/Pipeline")
    events_before = len(server_emu.events)
    log = tmp_path / "journal.jsonl"

    applied = cli("apply", file, "--auto-approve", "--server-move-strategy", "vizportal", "--journal", log)
    assert applied.code == 0, applied.out + applied.err
    assert '~> task[datasource "Sales/Pipeline"][full @ Daily 06:00] will be moved' in applied.out
    assert "Server move strategy: vizportal" in applied.out
    assert "not supported by Tableau and may change or break between Tableau releases" in applied.out
    assert "1 moved, 0 failed" in applied.out

    assert task_ids_on(server_emu, "Sales/Pipeline") == before_ids, "same task id: moved in place"
    assert tasks_on(server_emu, "Sales/Pipeline") == {("full", "Daily 06:00"): 1}
    kinds = [e[0] for e in server_emu.events[events_before:] if e[0].startswith("task.")]
    assert kinds == ["task.moved"], kinds
    assert [(j["action"], j["outcome"]) for j in journal(log)] == [("move", "ok")]
    again = cli("plan", file, "--detailed-exitcode")
    assert again.code == 0 and "No changes." in again.out, again.out + again.err


def test_moves_are_batched_per_target_schedule(server_emu: Emulator, cli: Any, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    batch = ["Sales/Pipeline", "Operations/Inventory", "Sales/Quotas"]
    for path in batch:
        set_refresh(doc, path, "Weekly Monday 05:00")
    set_refresh(doc, "Marketing/Campaign Performance", "Twice Daily")
    file = save(tmp_path, doc)
    use_password(monkeypatch)
    ids = {path: task_ids_on(server_emu, path) for path in [*batch, "Marketing/Campaign Performance"]}
    server_emu.reset_stats()

    applied = cli("apply", file, "--auto-approve", "--server-move-strategy", "vizportal")
    assert applied.code == 0, applied.out + applied.err
    assert "4 moved, 0 failed" in applied.out
    # generatePublicKey, login, getExtractTasks, getSchedules, one setExtractTasksSchedule per target
    # schedule (2, not 4), logout.
    assert vizportal_calls(server_emu) == 7
    by_route = server_emu.stats()["by_route"]
    # the only REST writes are the apply lock's (a project created, then deleted)
    assert not [r for r in by_route if r.startswith(("POST /api", "DELETE /api", "PUT /api"))
                and "/auth/" not in r and not r.endswith(("/projects", "/projects/{project_id}"))], by_route
    for path in batch:
        assert tasks_on(server_emu, path) == {("full", "Weekly Monday 05:00"): 1}
        assert task_ids_on(server_emu, path) == ids[path]
    assert task_ids_on(server_emu, "Marketing/Campaign Performance") == ids["Marketing/Campaign Performance"]
    assert cli("plan", file, "--detailed-exitcode").code == 0


def test_a_move_to_a_schedule_created_in_the_same_apply(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    doc["schedules"]["Sunday Deep Clean"] = {"frequency": "weekly", "start": "04:00", "weekdays": ["sunday"]}
    set_refresh(doc, "Sales/Pipeline", "Sunday Deep Clean")
    file = save(tmp_path, doc)
    use_password(monkeypatch)
    before_ids = task_ids_on(server_emu, "Sales/Pipeline")
    applied = cli("apply", file, "--auto-approve", "--server-move-strategy", "vizportal")
    assert applied.code == 0, applied.out + applied.err
    assert "1 created, 1 moved, 0 failed" in applied.out
    assert tasks_on(server_emu, "Sales/Pipeline") == {("full", "Sunday Deep Clean"): 1}
    assert task_ids_on(server_emu, "Sales/Pipeline") == before_ids


def test_the_rest_strategy_says_how_it_moves(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    set_refresh(doc, "Sales/Pipeline", "Daily 06:00")
    applied = cli("apply", save(tmp_path, doc), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert "Server move strategy: rest" in applied.out and vizportal_calls(server_emu) == 0


def test_a_wrong_password_stops_apply_before_any_write(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    set_refresh(doc, "Sales/Pipeline", "Daily 06:00")
    doc["schedules"]["Daily 06:00"]["priority"] = 12  # a schedule update that must not happen either
    file = save(tmp_path, doc)
    use_password(monkeypatch, "admin")
    assert cli("plan", file).code == 0  # REST accepts the password ...
    monkeypatch.setenv("TABLEAU_PASSWORD", "wrong")
    result = cli("apply", file, "--auto-approve", "--server-move-strategy", "vizportal")
    assert result.code == 1
    assert "Tableau refused to sign in" in result.err  # ... and a wrong one stops at the REST sign-in
    assert writes(server_emu) == 0


# -- refresh --via vizportal ---------------------------------------------------------------------------------


def test_refresh_via_vizportal_is_followed_to_success(server_emu: Emulator, cli: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    use_password(monkeypatch)
    events_before = len(server_emu.events)
    result = cli("refresh", "--datasource", "Sales/Orders", "--datasource", "Marketing/Web Traffic",
                 "--via", "vizportal", "--format", "json")
    assert result.code == 0, result.out + result.err
    report = json.loads(result.out)
    assert report["succeeded"] is True
    assert [j["state"] for j in report["jobs"]] == ["success", "success"]
    by_route = server_emu.stats()["by_route"]
    assert vizportal_calls(server_emu) >= 3
    assert not [r for r in by_route if r.endswith("/refresh")], "refreshes went through Vizportal, not REST"
    assert any(r.startswith("GET ") and "jobs/{job_id}" in r for r in by_route), "followed over REST"
    created = [e for e in server_emu.events[events_before:] if e[0] == "job.created"]
    assert len(created) == 2


def test_refresh_via_vizportal_reports_a_failing_job(server_emu: Emulator, cli: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    use_password(monkeypatch)
    result = cli("refresh", "--datasource", "Operations/Legacy Oracle Inventory", "--via", "vizportal")
    assert result.code == 1
    assert "data source Operations/Legacy Oracle Inventory: failed" in result.out
    assert "1 refresh failed" in result.err


def test_refresh_via_vizportal_refuses_workbooks_and_tasks(server_emu: Emulator, cli: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    use_password(monkeypatch)
    for args in (("--workbook", "Sales/Sales Overview"), ("--task", "1234")):
        result = cli("refresh", *args, "--via", "vizportal")
        assert result.code == 1 and "data sources only" in result.err, result.err
    assert cli("refresh", "--datasource", "Sales/Orders", "--via", "soap").code == 1
    assert server_emu.stats()["total"] == 0


# -- refusals: Cloud, tokens ---------------------------------------------------------------------------------


def test_apply_with_vizportal_is_refused_on_cloud(cloud_emu: Emulator, cli: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    doc["extracts"][0]["refresh"] = []
    with_flavor = save(tmp_path, doc)
    doc.pop("flavor", None)  # then the flavor is only known once the site is read
    detected = save(tmp_path, doc, "no-flavor.yaml")
    use_password(monkeypatch)
    cloud_emu.reset_stats()
    for file in (with_flavor, detected):
        result = cli("apply", file, "--auto-approve", "--server-move-strategy", "vizportal")
        assert result.code == 1
        assert "works only on Tableau Server" in result.err and "Tableau Cloud" in result.err, result.err
    assert writes(cloud_emu) == 0 and vizportal_calls(cloud_emu) == 0


def test_refresh_via_vizportal_is_refused_on_cloud(cloud_emu: Emulator, cli: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    use_password(monkeypatch)
    result = cli("refresh", "--datasource", "Sales/Orders", "--via", "vizportal")
    assert result.code == 1 and "works only on Tableau Server" in result.err, result.err
    assert writes(cloud_emu) == 0 and vizportal_calls(cloud_emu) == 0


def test_vizportal_is_refused_with_a_personal_access_token(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)  # the fixture signs in with the admin PAT
    set_refresh(doc, "Sales/Pipeline", "Daily 06:00")
    file = save(tmp_path, doc)
    server_emu.reset_stats()
    applied = cli("apply", file, "--auto-approve", "--server-move-strategy", "vizportal")
    assert applied.code == 1
    assert "needs a username and password" in applied.err and "personal access token 'admin-pat'" in applied.err
    assert "admin-secret" not in applied.err + applied.out
    refreshed = cli("refresh", "--datasource", "Sales/Orders", "--via", "vizportal")
    assert refreshed.code == 1 and "needs a username and password" in refreshed.err
    assert server_emu.stats()["total"] == 0, "refused before any request at all"


def test_vizportal_is_refused_with_a_jwt(server_emu: Emulator, cli: Any, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TABLEAU_PAT_NAME")
    monkeypatch.delenv("TABLEAU_PAT_SECRET")
    monkeypatch.setenv("TABLEAU_JWT", "e30.eyJzdWIiOiJhZG1pbiJ9.sig")
    result = cli("refresh", "--datasource", "Sales/Orders", "--via", "vizportal")
    assert result.code == 1 and "JSON Web Token" in result.err and "unset TABLEAU_JWT" in result.err
    assert server_emu.stats()["total"] == 0


def _move(emu: Emulator, path: str, to: str) -> PlannedMove:
    store = emu.store
    with store.lock:
        task = next(t for t in store.tasks.values() if t.site_id == site_id(emu)
                    and store.item_path(t.item_id) == path)
        source = store.schedules[task.schedule_id or ""].name
    return PlannedMove(task.id, f'task[datasource "{path}"]', None, "datasource", task.item_id, path, source, to)


def test_a_failed_batch_is_tried_task_by_task(server_emu: Emulator) -> None:
    store = server_emu.store
    pipeline, inventory = _move(server_emu, "Sales/Pipeline", "Daily 06:00"), _move(
        server_emu, "Operations/Inventory", "Daily 06:00")
    with VizportalClient(settings(server_emu)) as client, connect(settings(server_emu)) as conn:
        mover = VizportalMover(client, conn)
        mover.prepare([pipeline, inventory])
        unknown = mover.move_tasks("Daily 06:00", ["no-such-task"])["no-such-task"]
        assert isinstance(unknown, ReconcilerError) and "was not matched to a Vizportal task" in str(unknown)
        with store.lock:  # deleted behind the mover's back, after it read the task list
            del store.tasks[inventory.task_id]
        outcome = mover.move_tasks("Daily 06:00", [pipeline.task_id, inventory.task_id])
    assert outcome[pipeline.task_id] is None
    failure = outcome[inventory.task_id]
    assert isinstance(failure, TableauRequestError) and failure.code == "404026"
    assert store.schedules[store.tasks[pipeline.task_id].schedule_id or ""].name == "Daily 06:00"


def test_apply_finds_a_task_on_a_later_page(small_pages: Emulator, cli: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    emu = small_pages
    connect_env(monkeypatch, emu)
    doc = export_doc(cli, tmp_path)
    set_refresh(doc, "Marketing/Web Traffic", "Daily 06:00")  # sorted by name, its tasks are far from page 1
    doc["extracts"] = [e for e in doc["extracts"] if e.get("datasource") != "Marketing/Web Traffic"] + [
        {"datasource": "Marketing/Web Traffic",
         "refresh": [{"schedule": "Daily 06:00", "type": "full"},
                     {"schedule": "Every 15 Minutes", "type": "incremental"}]}]
    file = save(tmp_path, doc)
    use_password(monkeypatch)
    before_ids = task_ids_on(emu, "Marketing/Web Traffic")
    applied = cli("apply", file, "--auto-approve", "--server-move-strategy", "vizportal")
    assert applied.code == 0, applied.out + applied.err
    assert "1 moved, 0 failed" in applied.out
    assert task_ids_on(emu, "Marketing/Web Traffic") == before_ids, "moved in place"
    assert tasks_on(emu, "Marketing/Web Traffic")[("full", "Daily 06:00")] == 1
    assert vizportal_method_calls(emu, "getExtractTasks") > 10, "every page of the task list was read"


def test_a_task_that_matches_two_vizportal_tasks_is_refused_before_any_write(
        server_emu: Emulator, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = server_emu.store
    with store.lock:  # Sales/Customers gets an incremental task on the schedule of its full one
        full = next(t for t in store.tasks.values() if store.item_path(t.item_id) == "Sales/Customers")
        twin = dataclasses.replace(full, id="0e6c5a3e-2f0b-4c1e-9a55-5d2a7c1b9e01", incremental=True,
                                   vizportal_id=store.next_vizportal_id())
        store.tasks[twin.id] = twin
    doc = export_doc(cli, tmp_path)
    for entry in doc["extracts"]:
        if entry.get("datasource") == "Sales/Customers":
            entry["refresh"] = [{"schedule": "Daily 06:00", "type": "full"},
                                {"schedule": "Nightly 02:00", "type": "incremental"}]
    doc["schedules"]["Daily 06:00"]["priority"] = 12  # a REST write that must not happen either
    file = save(tmp_path, doc)
    use_password(monkeypatch)
    server_emu.reset_stats()
    events_before = len(server_emu.events)

    applied = cli("apply", file, "--auto-approve", "--server-move-strategy", "vizportal")
    assert applied.code == 1, applied.out + applied.err
    message = " ".join(applied.err.split())
    assert 'task[datasource "Sales/Customers"][full @ Daily 06:00]' in message, message
    assert "site.yaml:" in message
    assert "lists 2 tasks of data source 'Sales/Customers'" in message
    assert "Nothing was changed" in message and "Leave out --server-move-strategy vizportal" in message
    assert rest_writes(server_emu) == 0 and vizportal_method_calls(server_emu, "setExtractTasksSchedule") == 0
    assert len(server_emu.events) == events_before
    assert {t.id for t in store.tasks.values() if t.item_id == full.item_id} == {full.id, twin.id}
    assert store.tasks[full.id].schedule_id == full.schedule_id
    asked = cli("apply", file, "--server-move-strategy", "vizportal")  # refused before the question too
    assert asked.code == 1 and "cannot move 1 of the plan's 1 task move(s)" in " ".join(asked.err.split())
    assert "without confirmation" not in asked.err and rest_writes(server_emu) == 0


def test_refresh_via_vizportal_of_a_data_source_without_any_task(server_emu: Emulator, cli: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    use_password(monkeypatch)  # Sales/Forecasts... have tasks; Superstore Sample's is removed: no task to map through
    store = server_emu.store
    with store.lock:
        for task in [t for t in store.tasks.values() if store.item_path(t.item_id) == "Default/Superstore Sample"]:
            del store.tasks[task.id]
    result = cli("refresh", "--datasource", "Default/Superstore Sample", "--via", "vizportal", "--format", "json")
    assert result.code == 0, result.out + result.err
    assert [j["state"] for j in json.loads(result.out)["jobs"]] == ["success"]
    assert vizportal_method_calls(server_emu, "getExtractTasks") == 0, "the id comes from the webpageUrl"


def test_refresh_via_vizportal_refuses_to_follow_jobs_it_cannot_tell_apart(
        server_emu: Emulator, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = server_emu.store
    with store.lock:  # two data sources named Orders, in two projects
        traffic = next(i for i in store.items.values() if store.item_path(i.id) == "Marketing/Web Traffic")
        store.items[traffic.id] = dataclasses.replace(traffic, name="Orders")
    use_password(monkeypatch)
    result = cli("refresh", "--datasource", "Sales/Orders", "--datasource", "Marketing/Orders", "--via", "vizportal")
    assert result.code == 1
    message = " ".join(result.err.split())
    assert "cannot be followed" in message and "2 of the data sources refreshed are named 'Orders'" in message
    assert "Jobs page" in message


def test_refresh_via_vizportal_reports_already_queued(monkeypatch: pytest.MonkeyPatch, cli: Any) -> None:
    with Emulator(flavor="server", seed="demo", job_seconds=30.0) as emu:
        connect_env(monkeypatch, emu)
        first = cli("refresh", "--datasource", "Sales/Orders", "--no-wait")
        assert first.code == 0, first.err
        use_password(monkeypatch)
        again = cli("refresh", "--datasource", "Sales/Orders", "--via", "vizportal", "--no-wait")
        assert again.code == 0, again.out + again.err
        assert "already queued or running on the server (409093)" in again.out
