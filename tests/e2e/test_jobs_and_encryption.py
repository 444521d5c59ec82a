"""Issue 12, jobs and encryption, through the CLI against the emulator: Bridge refreshes are followed to
their real end, ``--incremental`` is refused below REST API 3.25, the site's encryption mode is for server
administrators, and extract encryption is refused on Tableau Cloud (docs/tableau-behaviour.md, "Jobs,
refresh and encryption")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.commands import refresh as refresh_command
from reconciler.commands.refresh import _require_incremental_api
from reconciler.emulator import Emulator
from reconciler.emulator.jobs import job_state
from reconciler.errors import ReconcilerError
from tests.conftest import connect_env, write
from tests.e2e.helpers import SharedClock, writes
from tests.e2e.test_plan_apply import export_doc, save

BRIDGE_OK = "Operations/Plant Floor Metrics (Bridge)"
BRIDGE_FAILS = "Operations/On-Prem Orders (Bridge)"


@pytest.fixture
def slow_cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A Cloud emulator whose jobs take 1.5 s: long enough for a Bridge job to be seen while assigned. Its
    clock is refresh's: refresh's one-second polls move both on without sleeping."""
    with Emulator(flavor="cloud", seed="demo", job_seconds=1.5) as emu:
        connect_env(monkeypatch, emu)
        monkeypatch.setattr(refresh_command, "time", SharedClock(emu))
        yield emu


def _as(monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    monkeypatch.delenv("TABLEAU_PAT_NAME")
    monkeypatch.delenv("TABLEAU_PAT_SECRET")
    monkeypatch.setenv("TABLEAU_USERNAME", user)
    monkeypatch.setenv("TABLEAU_PASSWORD", user)


def _posts(emu: Emulator, route_end: str) -> int:
    return sum(n for route, n in emu.stats()["by_route"].items() if route.startswith("POST") and
               route.endswith(route_end))


# -- Bridge refreshes -----------------------------------------------------------------------------------------


def test_a_failing_bridge_refresh_is_followed_past_assignment_and_exits_non_zero(slow_cloud: Emulator,
                                                                                 cli: Any) -> None:
    result = cli("refresh", "--datasource", BRIDGE_FAILS, "--timeout", "30")
    assert result.code == 1, result.out + result.err
    assert "failed" in result.out and "Tableau Bridge" in result.out
    assert "1 refresh failed" in result.err


def test_a_bridge_refresh_succeeds_only_once_completed(slow_cloud: Emulator, cli: Any) -> None:
    result = cli("refresh", "--datasource", BRIDGE_OK, "--format", "json", "--timeout", "30")
    assert result.code == 0, result.err
    job = json.loads(result.out)["jobs"][0]
    assert job["state"] == "success"
    state = job_state(slow_cloud.store.jobs[job["job_id"]], slow_cloud.store.clock())
    assert state.completed_at is not None and state.finish_code == 3, "refresh returned before the job ended"


# -- refresh --incremental below REST API 3.25 -------------------------------------------------------------------


def test_incremental_below_3_25_is_refused_before_anything_starts(server_emu: Emulator, cli: Any) -> None:
    before = writes(server_emu)
    result = cli("refresh", "--datasource", "Sales/Orders", "--incremental", "--api-version", "3.22")
    assert result.code == 1
    assert "--incremental needs REST API 3.25" in result.err and "--api-version pins 3.22" in result.err
    assert "nothing was started" in result.err
    assert writes(server_emu) == before
    assert not server_emu.store.jobs


@pytest.mark.parametrize(("version", "refused"), [("3.22", True), ("3.24", True), ("3.25", False), ("3.28", False)])
def test_an_older_server_is_named_by_its_version(version: str, refused: bool) -> None:
    if not refused:
        _require_incremental_api(version, pinned=False)
        return
    with pytest.raises(ReconcilerError) as error:
        _require_incremental_api(version, pinned=False)
    assert f"this server speaks {version}: nothing was started" in str(error.value)


def test_incremental_with_a_task_is_refused(server_emu: Emulator, cli: Any) -> None:
    """Run Extract Refresh Task takes no body: a task runs as its own type, so --incremental would be ignored."""
    task = next(iter(server_emu.store.tasks))
    result = cli("refresh", "--task", task, "--incremental")
    assert result.code == 1 and "always runs as its own type" in result.err
    assert not server_emu.store.jobs


def test_incremental_from_3_25_runs_an_incremental_job(server_emu: Emulator, cli: Any) -> None:
    result = cli("refresh", "--datasource", "Sales/Orders", "--incremental", "--api-version", "3.25")
    assert result.code == 0, result.err
    assert [job.incremental for job in server_emu.store.jobs.values()] == [True]


# -- the site's encryption mode is for server administrators ------------------------------------------------------


def test_a_site_administrator_is_told_and_apply_changes_no_encryption_mode(
        server_emu: Emulator, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    doc["encryption"]["mode"] = "enforced"
    for entry in doc["extracts"]:
        entry.pop("encrypt", None)
    file = save(tmp_path, doc)
    _as(monkeypatch, "siteadmin")
    planned = cli("plan", file)
    assert planned.code == 0, planned.err
    assert "'siteadmin' (SiteAdministratorCreator) lacks the permission for 1 of the planned changes" in planned.err
    assert "site.encryption_mode: the site's extract encryption mode is changed by a server administrator" \
        in planned.err
    before = writes(server_emu)
    refused = cli("apply", file, "--auto-approve")
    assert refused.code == 1 and "nothing was applied" in refused.err
    assert writes(server_emu) == before
    assert server_emu.store.site_by_content_url("").encryption_mode == "enabled"  # type: ignore[union-attr]


def test_reencrypt_by_a_site_administrator_is_refused_before_calling(server_emu: Emulator, cli: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _as(monkeypatch, "siteadmin")
    result = cli("reencrypt", "--auto-approve")
    assert result.code == 1
    assert "not a server administrator" in result.err and "Nothing was changed" in result.err
    assert _posts(server_emu, "/reencrypt-extracts") == 0


# -- extract encryption on Tableau Cloud -------------------------------------------------------------------------

CLOUD_FILE = """\
version: 1
flavor: cloud
encryption:
  mode: enabled
extracts:
  - datasource: Finance/Cash Flow
    encrypt: true
"""


def test_validate_says_encryption_is_server_only_in_a_cloud_file(cli: Any, tmp_path: Path) -> None:
    file = write(tmp_path / "cloud.yaml", CLOUD_FILE)
    result = cli("validate", file)
    assert result.code == 1
    assert f"{file}:4:9: encryption: (the site's extract encryption mode) is Tableau Server only" in result.err
    assert f"{file}:7:5" in result.err and 'encrypt: on datasource "Finance/Cash Flow" is Tableau Server only' \
        in result.err


def test_plan_on_a_detected_cloud_site_refuses_encryption(cloud_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    file = write(tmp_path / "site.yaml", CLOUD_FILE.replace("flavor: cloud\n", ""))
    before = writes(cloud_emu)
    result = cli("plan", file)
    assert result.code == 1
    assert f"{file}:3:9: encryption: (the site's extract encryption mode) is Tableau Server only" in result.err
    assert f'{file}:5:5: encrypt: on datasource "Finance/Cash Flow" is Tableau Server only' in result.err
    assert writes(cloud_emu) == before


def test_export_on_cloud_declares_no_encryption_and_plans_nothing(cloud_emu: Emulator, cli: Any,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "exported.yaml"
    assert cli("export", "--output", out).code == 0
    doc = yaml.safe_load(out.read_text())
    assert "encryption" not in doc and not any("encrypt" in entry for entry in doc["extracts"])
    assert cli("plan", out, "--detailed-exitcode").code == 0


def test_reencrypt_on_cloud_is_refused_before_calling(cloud_emu: Emulator, cli: Any) -> None:
    result = cli("reencrypt", "--auto-approve")
    assert result.code == 1 and "reencrypt is for Tableau Server" in result.err
    assert _posts(cloud_emu, "/reencrypt-extracts") == 0
