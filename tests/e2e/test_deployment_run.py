"""plan, apply, drift over a whole deployment, through the CLI, against the multisite emulator (real HTTP, real TSC).

The examples (examples/deployment, examples/deployment-cloud) describe three of the seed's six sites: the Default
site, finance and marketing, on the seed's server schedules. Against the seed they update "Daily 06:00", create
"Nightly 04:00" (used by finance and marketing) and move three tasks.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from tests.conftest import CliResult
from tests.e2e.helpers import tasks_on, writes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Cli = object


def _emulator(monkeypatch: pytest.MonkeyPatch, flavor: str) -> Iterator[Emulator]:
    with Emulator(flavor=flavor, seed="multisite", job_seconds=0.0) as emu:
        monkeypatch.setenv("TABLEAU_SERVER", emu.url)
        monkeypatch.setenv("TABLEAU_USERNAME", "admin")
        monkeypatch.setenv("TABLEAU_PASSWORD", "admin")
        yield emu


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    yield from _emulator(monkeypatch, "server")


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    yield from _emulator(monkeypatch, "cloud")


@pytest.fixture
def deploy(tmp_path: Path) -> Path:
    """A copy of examples/deployment (tests may edit it)."""
    return Path(shutil.copytree(EXAMPLES / "deployment", tmp_path / "deploy"))


def _schedule_names(emu: Emulator) -> set[str]:
    with emu.store.lock:
        return {s.name for s in emu.store.schedules.values()}


def test_a_deployment_plans_applies_and_plans_no_changes_again(server: Emulator, deploy: Path, cli) -> None:  # type: ignore[no-untyped-def]
    planned: CliResult = cli("plan", deploy, "--detailed-exitcode")
    assert planned.code == 2, planned.err
    out = planned.out
    assert "=== Server schedules" in out and "=== Site default" in out and "=== Site finance" in out
    assert "=== Site marketing" in out
    # The schedule changes are shown once, in the server section, not in a site's.
    assert out.count('schedule["Nightly 04:00"] will be created') == 1
    assert out.index('schedule["Nightly 04:00"]') < out.index("=== Site default")
    assert 'task[datasource "Web/Conversions"][full @ Nightly 04:00] will be moved' in out
    assert "Deployment: 3 sites" in out

    applied: CliResult = cli("apply", deploy, "--auto-approve")
    assert applied.code == 0, applied.err + applied.out
    assert "Nightly 04:00" in _schedule_names(server)
    assert tasks_on(server, "Web/Conversions", content_url="marketing")["full", "Nightly 04:00"] == 1
    assert tasks_on(server, "Finance/Accounts Receivable", content_url="finance")["full", "Nightly 04:00"] == 1

    again: CliResult = cli("plan", deploy, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert "Deployment: 3 sites, 0 with changes, 3 matching." in again.out


def test_drift_reports_each_site_in_every_format(server: Emulator, deploy: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text: CliResult = cli("drift", deploy, "--history-days", "0")
    assert text.code == 2, text.err
    assert "=== Site finance" in text.out and "=== Site marketing" in text.out
    assert "Deployment: 3 sites, 3 drifted, 0 in sync." in text.out

    as_json: CliResult = cli("drift", deploy, "--format", "json", "--history-days", "0")
    document = json.loads(as_json.out)
    assert document["kind"] == "deployment" and document["drifted"] is True
    assert [s["label"] for s in document["sites"]] == ["default", "finance", "marketing"]
    finance = document["sites"][1]["drift"]
    assert finance["site"] == "finance" and finance["drifted"] is True

    report = tmp_path / "drift.xml"
    junit: CliResult = cli("drift", deploy, "--format", "junit", "--output", report, "--history-days", "0")
    assert junit.code == 2
    suites = ET.parse(report).getroot().findall("testsuite")
    assert [s.get("name", "").split(": ", 1)[1].split(" (")[0] for s in suites] == [
        "Site default", "Site finance", "Site marketing"]
    assert int(suites[1].get("failures", "0")) >= 1

    assert cli("apply", deploy, "--auto-approve").code == 0
    clean: CliResult = cli("drift", deploy, "--history-days", "0")
    assert clean.code == 0, clean.out


def test_a_saved_deployment_plan_applies_and_goes_stale_when_a_site_changes(server: Emulator, deploy: Path, cli,  # type: ignore[no-untyped-def]
                                                                             tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert cli("plan", deploy, "--out", saved).code == 0
    document = json.loads(saved.read_text())
    assert document["kind"] == "deployment" and len(document["sites"]) == 3

    # Someone moves marketing's task by hand after the review: the saved plan no longer holds for that site.
    with server.store.lock:
        site = server.store.site_by_content_url("marketing")
        assert site is not None
        task = next(t for t in server.store.tasks.values()
                    if t.site_id == site.id and server.store.item_path(t.item_id) == "Web/Conversions")
        other = next(s for s in server.store.schedules.values() if s.name == "Weekly Monday 05:00")
        server.store.tasks[task.id] = replace(task, schedule_id=other.id)
    before = writes(server)
    stale: CliResult = cli("apply", saved, "--auto-approve")
    assert stale.code != 0
    assert "Site marketing: The site changed since the plan was saved" in stale.err
    assert writes(server) == before  # every site is checked before the first write
    assert "Nightly 04:00" not in _schedule_names(server)

    fresh = tmp_path / "fresh.json"
    assert cli("plan", deploy, "--out", fresh).code == 0
    assert cli("apply", fresh, "--auto-approve").code == 0
    assert cli("plan", deploy, "--detailed-exitcode").code == 0


def test_an_edited_saved_deployment_plan_is_refused(server: Emulator, deploy: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "plan.json"
    assert cli("plan", deploy, "--out", saved).code == 0
    saved.write_text(saved.read_text().replace('"Nightly 04:00"', '"Nightly 05:00"'))
    before = writes(server)
    refused: CliResult = cli("apply", saved, "--auto-approve")
    assert refused.code != 0 and "edited" in refused.err
    assert writes(server) == before


def test_site_picks_some_sites_of_the_deployment(server: Emulator, deploy: Path, cli) -> None:  # type: ignore[no-untyped-def]
    picked: CliResult = cli("plan", deploy, "--site", "marketing")
    assert picked.code == 0, picked.err
    assert "=== Site marketing" in picked.out and "=== Site finance" not in picked.out
    unknown: CliResult = cli("plan", deploy, "--site", "marketting")
    assert unknown.code == 1 and "marketing" in unknown.err


def test_a_cloud_deployment_plans_applies_and_plans_no_changes_again(cloud: Emulator, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    deploy = Path(shutil.copytree(EXAMPLES / "deployment-cloud", tmp_path / "deploy"))
    planned: CliResult = cli("plan", deploy, "--detailed-exitcode")
    assert planned.code == 2, planned.err + planned.out
    assert "=== Server schedules" not in planned.out  # Tableau Cloud has none
    assert cli("apply", deploy, "--auto-approve").code == 0
    again: CliResult = cli("plan", deploy, "--detailed-exitcode")
    assert again.code == 0, again.out
