"""What real Tableau does and refuses, end to end through the CLI and tableauserverclient.

Each test names its entry in docs/tableau-behaviour.md. Plans that Tableau's REST API cannot carry out
are refused before any request that changes something (counted on the emulator).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.emulator import Emulator
from reconciler.errors import TableauRequestError
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.jobs import get_job
from reconciler.tableau.write import Writer
from tests.e2e.helpers import tasks_on, writes
from tests.e2e.test_plan_apply import export_doc, save, set_extract


def test_server_refuses_to_create_an_incremental_task(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    """Add-to-schedule always makes a full task (ledger: "Add to schedule makes full tasks")."""
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Customers", refresh=[
        {"schedule": "Nightly 02:00", "type": "full"}, {"schedule": "Daily 06:00", "type": "incremental"}])
    file = save(tmp_path, doc)
    before = writes(server_emu)
    for command in (("plan", file), ("apply", file, "--auto-approve")):
        result = cli(*command)
        assert result.code == 1, result.out
        assert "cannot make an incremental refresh task" in result.err
        assert "Create this task once in Tableau's web UI" in result.err and f"{file}:" in result.err
    assert writes(server_emu) == before, "nothing was written"
    assert tasks_on(server_emu, "Sales/Customers") == {("full", "Nightly 02:00"): 1}


def test_server_refuses_a_type_change(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Orders", refresh=[
        {"schedule": "Nightly 02:00", "type": "full"}, {"schedule": "Hourly Business Hours", "type": "full"}])
    before = writes(server_emu)
    result = cli("apply", save(tmp_path, doc), "--auto-approve")
    assert result.code == 1 and "changes the task's type from incremental to full" in result.err
    assert writes(server_emu) == before
    assert tasks_on(server_emu, "Sales/Orders")[("incremental", "Hourly Business Hours")] == 1, "not deleted"


def test_a_rest_move_of_an_incremental_task_is_refused(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Orders", refresh=[
        {"schedule": "Nightly 02:00", "type": "full"}, {"schedule": "Daily 06:00", "type": "incremental"}])
    file = save(tmp_path, doc)
    before = writes(server_emu)
    result = cli("plan", file)
    assert result.code == 1 and "--server-move-strategy vizportal" in result.err
    # planned for an in-place move, the plan shows it; applied without the flag, the saved plan is refused
    planned = cli("plan", file, "--server-move-strategy", "vizportal", "--out", tmp_path / "plan.json")
    assert planned.code == 0, planned.err
    assert "incremental @ Daily 06:00] will be moved" in planned.out
    refused = cli("apply", tmp_path / "plan.json", "--auto-approve")
    assert refused.code == 1 and "apply it with the same flag" in refused.err
    assert writes(server_emu) == before


def test_a_refresh_task_on_an_item_without_an_extract_is_refused(server_emu: Emulator, cli: Any,
                                                                 tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Marketing/Live Snowflake - Web Events",
                refresh=[{"schedule": "Nightly 02:00", "type": "full"}])
    file = save(tmp_path, doc)
    before = writes(server_emu)
    result = cli("apply", file, "--auto-approve")
    assert result.code == 1
    assert 'datasource "Marketing/Live Snowflake - Web Events" has no extract' in result.err
    assert f"{file}:" in result.err
    assert writes(server_emu) == before


def test_export_of_a_customized_monthly_schedule_round_trips(server_emu: Emulator, cli: Any,
                                                             tmp_path: Path) -> None:
    """Tableau does not report the days of a UI-made multi-day monthly schedule (ledger: "Customized Monthly"):
    export references it instead of declaring made-up days, plan and drift say so and change nothing."""
    doc = export_doc(cli, tmp_path)
    assert doc["referenced_schedules"] == ["Payroll 1st and 15th"]
    assert "Payroll 1st and 15th" not in doc["schedules"]
    assert cli("plan", tmp_path / "exported.yaml", "--detailed-exitcode").code == 0
    # Declaring it with days: those days cannot be checked, so no change is planned from them.
    del doc["referenced_schedules"]
    doc["schedules"]["Payroll 1st and 15th"] = {"frequency": "monthly", "start": "05:00", "month_days": [1, 15]}
    file = save(tmp_path, doc)
    planned = cli("plan", file, "--detailed-exitcode")
    assert planned.code == 0, planned.out + planned.err
    assert "does not report the days of this monthly schedule" in planned.out + planned.err
    drift = cli("drift", file)
    assert drift.code == 0, drift.out


def test_a_referenced_schedule_must_exist(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["referenced_schedules"] = ["Payroll 1st and 16th"]
    set_extract(doc, "datasource", "Operations/Payroll Export",
                refresh=[{"schedule": "Payroll 1st and 16th", "type": "full"}])
    result = cli("plan", save(tmp_path, doc))
    assert result.code == 1
    assert 'schedule "Payroll 1st and 16th" is listed in referenced_schedules:' in result.err
    assert 'Did you mean "Payroll 1st and 15th"?' in result.err


def test_export_then_plan_is_empty_on_cloud_with_real_task_types(cloud_emu: Emulator, cli: Any,
                                                                 tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    types = {t["type"] for e in doc["extracts"] for t in e.get("refresh", [])}
    assert types == {"full", "incremental"}, "incremental tasks are read as such"
    assert cli("plan", tmp_path / "exported.yaml", "--detailed-exitcode").code == 0
    text = yaml.safe_dump(doc)
    assert "every: 15m" not in text and "every: 30m" not in text, "Cloud hourly runs every 60 minutes only"


def test_schedule_lookup_reads_every_page(cli: Any) -> None:
    """A schedule past the first 1,000 is found (a lost create's answer is checked by name)."""
    with Emulator(flavor="server", seed="synthetic", datasources=1, workbooks=0, tasks=0, schedules=1010,
                  projects=1, job_seconds=0.0) as emu:
        names = sorted(s.name for s in emu.store.schedules.values())
        settings = ConnectionSettings(server=emu.url, site="", credentials=Credentials("password", "admin", "admin"))
        with connect(settings) as conn:
            writer = Writer(conn, "server")
            last = max(emu.store.schedules.values(), key=lambda s: s.created_at)
            assert writer.find_schedule_id(last.name) == last.id
            assert writer.find_schedule_id(names[0]) is not None
            assert writer.find_schedule_id("no such schedule") is None


def test_a_job_that_vanished_is_unknown_not_a_success(server_emu: Emulator, cli: Any) -> None:
    """Tableau removes finished jobs (ledger: "Jobs vanish"): following one that is gone is an error."""
    started = cli("refresh", "--datasource", "Sales/Orders", "--no-wait", "--format", "json")
    assert started.code == 0, started.err
    job_id = json.loads(started.out)["jobs"][0]["job_id"]
    with server_emu.store.lock:
        del server_emu.store.jobs[job_id]  # cleaned up by the server
    settings = ConnectionSettings(server=server_emu.url, site="", credentials=Credentials("password", "admin", "admin"))
    with connect(settings) as conn, pytest.raises(TableauRequestError) as error:
        get_job(conn, job_id)
    assert "can no longer be read" in str(error.value) and "outcome is unknown" in str(error.value)
