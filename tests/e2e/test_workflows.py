"""drift, export, refresh, reencrypt and demo through the CLI against the emulator."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import tableauserverclient as TSC
import yaml

from reconciler.commands import demo as demo_command
from reconciler.commands import refresh as refresh_command
from reconciler.emulator import Emulator
from tests.conftest import connect_env
from tests.e2e.helpers import SharedClock, tasks_on, writes
from tests.e2e.test_plan_apply import export_doc, save, set_extract


def drifted_site(emu: Emulator, cli: Any, tmp_path: Path) -> Path:
    """A file that matches the site except for one of each drift bucket."""
    doc = export_doc(cli, tmp_path)
    doc["schedules"]["Daily 06:00"]["priority"] = 45                              # changed
    set_extract(doc, "datasource", "Sales/Pipeline",                              # missing (+ a move)
                refresh=[{"schedule": "Every 4 Hours", "type": "full"}, {"schedule": "Daily 06:00", "type": "full"}])
    doc["extracts"] = [e for e in doc["extracts"] if e.get("datasource") != "Marketing/Web Traffic"]  # unmanaged
    return save(tmp_path, doc)


def test_drift_buckets_in_every_format(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    file = drifted_site(server_emu, cli, tmp_path)
    before = writes(server_emu)

    text = cli("drift", file)
    assert text.code == 2
    assert "Changed (1):" in text.out and 'schedule["Daily 06:00"]' in text.out and "priority" in text.out
    assert "Missing (1):" in text.out and 'task[datasource "Sales/Pipeline"][full @ Daily 06:00]' in text.out
    assert 'task[datasource "Marketing/Web Traffic"]' in text.out
    assert "Unhealthy" in text.out and "Legacy Oracle Inventory" in text.out  # seeded failures, suspended schedule
    assert "Coverage:" in text.out

    as_json = cli("drift", file, "--format", "json")
    report = json.loads(as_json.out)
    assert as_json.code == 2 and report["in_sync"] is False
    assert report["counts"]["changed"] == 1 and report["counts"]["missing"] == 1
    assert report["counts"]["unmanaged"] >= 2 and report["counts"]["unhealthy"] >= 1
    assert 0 < report["coverage"]["fraction"] < 1

    markdown = cli("drift", file, "--format", "markdown")
    assert markdown.code == 2
    lines = markdown.out.splitlines()
    assert lines[0].startswith("#") and "drift" in lines[0].lower()
    table = [line for line in lines if line.startswith("|")]
    assert len(table) >= 4 and set(table[1].replace("|", "").strip()) <= set("-: ")
    assert any("changed" in row.lower() and "| 1 |" in row for row in table)

    out = tmp_path / "drift.xml"
    junit = cli("drift", file, "--format", "junit", "--output", out)
    assert junit.code == 2
    suite = ET.parse(out).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("tests", "0")) == len(cases) > len(failures) >= 3
    assert any("Daily 06:00" in (c.get("name") or "") for c in failures)
    assert writes(server_emu) == before, "drift is read-only"


def test_drift_in_sync_exits_zero(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    export_doc(cli, tmp_path)
    result = cli("drift", tmp_path / "exported.yaml", "--format", "json")
    assert result.code == 0, result.out
    assert json.loads(result.out)["in_sync"] is True


@pytest.mark.parametrize("flavor", ["server", "cloud"])
@pytest.mark.parametrize("site", ["", "finance"])
def test_export_round_trips(flavor: str, site: str, cli: Any, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(flavor=flavor, seed="demo", job_seconds=0.0) as emu:
        connect_env(monkeypatch, emu, site)
        out = tmp_path / "site.yaml"
        assert cli("export", "--output", out).code == 0
        text = out.read_text()
        assert text.startswith("# ") and ("Exported by reconciler" in text)
        assert cli("validate", out).code == 0
        result = cli("plan", out, "--detailed-exitcode")
        assert result.code == 0, result.out + result.err
        doc = yaml.safe_load(text)
        assert doc["flavor"] == flavor and doc["site"] == site and doc["extracts"]
        limited = cli("export", "--project", "Finance" if site else "Sales")
        assert limited.code == 0
        paths = [e.get("datasource") or e.get("workbook") for e in yaml.safe_load(limited.out)["extracts"]]
        assert paths and all(p.startswith("Finance/" if site else "Sales/") for p in paths)


def test_refresh_success_and_json(server_emu: Emulator, cli: Any) -> None:
    result = cli("refresh", "--datasource", "Sales/Orders", "--workbook", "Sales/Sales Overview", "--format", "json")
    assert result.code == 0, result.err
    jobs = json.loads(result.out)["jobs"]
    assert [j["state"] for j in jobs] == ["success", "success"]


def test_refresh_failure_prints_the_job_notes(server_emu: Emulator, cli: Any) -> None:
    result = cli("refresh", "--datasource", "Operations/Legacy Oracle Inventory")
    assert result.code == 1
    assert "failed" in result.out and "Login failed" in result.out
    assert "1 refresh failed" in result.err


def test_refresh_timeout_and_already_queued(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(flavor="server", seed="demo", job_seconds=30.0) as emu:
        connect_env(monkeypatch, emu)
        monkeypatch.setattr(refresh_command, "time", SharedClock(emu))  # the 0.5 s pass without sleeping
        slow = cli("refresh", "--datasource", "Sales/Orders", "--timeout", "0.5")
        assert slow.code == 1
        assert "did not finish within 0.5s" in slow.err
        again = cli("refresh", "--datasource", "Sales/Orders", "--no-wait")
        assert again.code == 0
        assert "already queued" in again.out


def test_refresh_unknown_item_suggests_and_starts_nothing(server_emu: Emulator, cli: Any) -> None:
    before = writes(server_emu)
    result = cli("refresh", "--datasource", "Sales/Orders", "--datasource", "Sales/Ordrs")
    assert result.code == 1
    assert 'Did you mean "Sales/Orders"' in result.err
    assert writes(server_emu) == before


def test_refresh_a_task_by_id(server_emu: Emulator, cli: Any) -> None:
    task_id = next(t.id for t in server_emu.store.tasks.values())
    result = cli("refresh", "--task", task_id)
    assert result.code in (0, 1) and task_id in result.out


def test_reencrypt_confirms_and_refuses_when_disabled(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    no_terminal = cli("reencrypt")
    assert no_terminal.code == 1 and "--auto-approve" in no_terminal.err
    site = server_emu.store.site_by_content_url("")
    assert site is not None
    key_version = site.key_version
    done = cli("reencrypt", "--auto-approve")
    assert done.code == 0, done.err
    assert "encrypted extract" in done.out
    assert server_emu.store.site_by_content_url("").key_version == key_version + 1  # type: ignore[union-attr]
    doc = export_doc(cli, tmp_path)
    doc["encryption"]["mode"] = "disabled"
    for entry in doc["extracts"]:
        entry.pop("encrypt", None)
    assert cli("apply", save(tmp_path, doc), "--auto-approve").code == 0
    refused = cli("reencrypt", "--auto-approve")
    assert refused.code == 1 and "disabled" in refused.err


def test_demo_tells_the_whole_story(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo's refresh jobs take 1.5 s so that a person sees them run; here they finish at once.
    monkeypatch.setattr(demo_command, "demo", functools.partial(demo_command.demo, job_seconds=0.0))
    result = cli("demo")
    assert result.code == 0, result.out[-3000:] + result.err
    out = result.out
    for step in ("Check the files, offline", "What would change?", "Apply complete:",
                 "No changes. The site matches the configuration.", "Someone clicks in the web UI",
                 "(exit code 2: drift found)", "(exit code 0: all refreshes succeeded)", "Login failed",
                 "Refresh load (refresh starts per 15-minute slot", "Most refreshes running at once, per hour",
                 "near Tableau Cloud's 2h00m limit", "(exit code 1: refused: nothing was changed)"):
        assert step in out, step
    assert "exceed policy.load.max_starts_per_slot (10 in 15 minutes) at Mon-Sun 02:00" in out


def test_tsc_sees_what_apply_did(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    """The emulator is a real server to TSC: an apply's result reads back through TSC itself."""
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Pipeline", refresh=[{"schedule": "Daily 06:00", "type": "full"}])
    assert cli("apply", save(tmp_path, doc), "--auto-approve").code == 0
    server = TSC.Server(server_emu.url, use_server_version=True)
    with server.auth.sign_in(TSC.PersonalAccessTokenAuth(server_emu.pat_name, server_emu.pat_secret, site_id="")):
        pipeline = next(d for d in TSC.Pager(server.datasources) if d.name == "Pipeline")
        tasks, _ = server.tasks.get()
        mine = [t for t in tasks if t.target and t.target.id == pipeline.id]
        assert [t.schedule_item.name for t in mine] == ["Daily 06:00"]
    assert tasks_on(server_emu, "Sales/Pipeline") == {("full", "Daily 06:00"): 1}


def _junit_failures(path: Path) -> int:
    root = ET.parse(path).getroot()
    return sum(int(s.get("failures", "0")) for s in root.iter("testsuite"))


def test_drift_exit_code_is_one_truth_across_formats(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    """The exported demo site is in sync but has unhealthy tasks (a failing refresh, a suspended schedule)."""
    export_doc(cli, tmp_path)
    file = tmp_path / "exported.yaml"
    for flags, code in (((), 0), (("--fail-on-unhealthy",), 2)):
        out = tmp_path / "drift.xml"
        junit = cli("drift", file, "--format", "junit", "--output", out, *flags)
        assert junit.code == code, junit.err
        assert (_junit_failures(out) > 0) is (code == 2)
        if code == 0:
            assert 'skipped message="unhealthy' in out.read_text()
        for fmt in ("text", "json", "markdown"):
            assert cli("drift", file, "--format", fmt, *flags).code == code, fmt
        report = json.loads(cli("drift", file, "--format", "json", *flags).out)
        assert report["drifted"] is (code == 2) and report["counts"]["unhealthy"] >= 1
    text = cli("drift", file).out
    assert "unhealthy" in text.splitlines()[0] and "--fail-on-unhealthy" in text


def test_refresh_of_an_already_queued_item_is_not_checked_and_fails(cli: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(flavor="server", seed="demo", job_seconds=30.0) as emu:
        connect_env(monkeypatch, emu)
        assert cli("refresh", "--datasource", "Sales/Orders", "--no-wait").code == 0
        waited = cli("refresh", "--datasource", "Sales/Orders", "--timeout", "5")
        assert waited.code == 1, waited.out + waited.err
        assert "409093" in waited.out and "not checked" in waited.err and "Sales/Orders" in waited.err
        as_json = cli("refresh", "--datasource", "Sales/Orders", "--format", "json")
        assert as_json.code == 1
        report = json.loads(as_json.out)
        assert report["succeeded"] is False and report["jobs"][0]["checked"] is False
        assert report["jobs"][0]["state"] == "already queued"


def test_a_project_scoped_file_on_a_shared_server_can_be_in_sync(server_emu: Emulator, cli: Any,
                                                                  tmp_path: Path) -> None:
    """Schedules used only outside the scope are someone else's: not unmanaged, not pruned."""
    out = tmp_path / "marketing.yaml"
    assert cli("export", "--project", "Marketing", "--output", out).code == 0
    doc = yaml.safe_load(out.read_text())
    doc["policy"] = {"scope": {"projects": ["Marketing"]}, "prune": True}
    file = save(tmp_path, doc)
    result = cli("drift", file, "--format", "json")
    report = json.loads(result.out)
    assert report["counts"]["unmanaged"] == 0, report["entries"]
    assert result.code == 0, result.out
    plan = cli("plan", file, "--detailed-exitcode")
    assert plan.code == 0, plan.out
    # A schedule a task in scope uses, but the files do not declare, is still the file's business.
    used_in_scope = next(iter(doc["schedules"]))
    del doc["schedules"][used_in_scope]
    for entry in doc["extracts"]:
        entry["refresh"] = [t for t in entry.get("refresh") or () if t.get("schedule") != used_in_scope]
    report = json.loads(cli("drift", save(tmp_path, doc), "--format", "json").out)
    assert f'schedule["{used_in_scope}"]' in {e["address"] for e in report["entries"] if e["bucket"] == "unmanaged"}
