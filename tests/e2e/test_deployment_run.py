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
from reconciler.emulator.scheduling import add_to_schedule
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


def test_site_picks_some_sites_of_the_deployment(server: Emulator, deploy: Path, cli,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    picked: CliResult = cli("plan", deploy, "--site", "marketing")
    assert picked.code == 0, picked.err
    assert "=== Site marketing" in picked.out and "=== Site finance" not in picked.out
    assert "1 site picked by --site/TABLEAU_SITE (marketing)" in picked.err
    # A TABLEAU_SITE left in the environment picks sites too, and the run says so.
    monkeypatch.setenv("TABLEAU_SITE", "finance,marketing")
    from_env: CliResult = cli("plan", deploy)
    assert "2 sites picked by --site/TABLEAU_SITE (finance, marketing)" in from_env.err
    monkeypatch.delenv("TABLEAU_SITE")
    unknown: CliResult = cli("plan", deploy, "--site", "marketting")
    assert unknown.code == 1 and "marketing" in unknown.err


def test_a_cloud_deployment_plans_applies_and_plans_no_changes_again(cloud: Emulator, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    deploy = Path(shutil.copytree(EXAMPLES / "deployment-cloud", tmp_path / "deploy"))
    planned: CliResult = cli("plan", deploy, "--detailed-exitcode")
    assert planned.code == 2, planned.err + planned.out
    assert "=== Server schedules" not in planned.out  # Tableau Cloud has none
    drifted: CliResult = cli("drift", deploy, "--history-days", "0")
    assert drifted.code == 2 and "=== Site finance" in drifted.out
    assert cli("apply", deploy, "--auto-approve").code == 0
    again: CliResult = cli("plan", deploy, "--detailed-exitcode")
    assert again.code == 0, again.out
    assert cli("drift", deploy, "--history-days", "0").code == 0


def _tasks_by_site(emu: Emulator, schedule: str) -> dict[str, int]:
    store = emu.store
    with store.lock:
        (schedule_id,) = [s.id for s in store.schedules.values() if s.name == schedule]
        sites = {s.id: s.content_url or "default" for s in store.sites.values()}
        found: dict[str, int] = {}
        for task in store.tasks.values():
            if task.schedule_id == schedule_id:
                found[sites[task.site_id]] = found.get(sites[task.site_id], 0) + 1
    return found


def _with_spares(deploy: Path) -> tuple[str, str]:
    """Declare "Spare Sunday" (marketing's Web/Sessions gets a task on it) and an unused "Spare 04:00" in the
    deployment; returns the server file's and marketing's texts before."""
    server_file, marketing = deploy / "deployment.yaml", deploy / "sites" / "marketing.yaml"
    original, original_marketing = server_file.read_text(), marketing.read_text()
    spares = ('  Spare Sunday:\n    frequency: weekly\n    start: "05:00"\n    weekdays: [sunday]\n'
              '  Spare 04:00:\n    frequency: daily\n    start: "04:15"\n')
    server_file.write_text(original.replace("schedules:\n", "schedules:\n" + spares, 1))
    marketing.write_text(original_marketing.replace(
        "- datasource: Web/Sessions\n  refresh:\n",
        "- datasource: Web/Sessions\n  refresh:\n  - schedule: Spare Sunday\n    type: full\n", 1))
    return original, original_marketing


def _pruning(deploy: Path, original: str, original_marketing: str) -> None:
    """Neither spare declared any more, and the deployment prunes."""
    (deploy / "deployment.yaml").write_text(original + "policy:\n  prune: true\n")
    (deploy / "sites" / "marketing.yaml").write_text(original_marketing)


def test_prune_deletes_a_server_schedule_no_site_uses_counting_the_sites_outside(  # type: ignore[no-untyped-def]
        server: Emulator, deploy: Path, cli) -> None:
    original, original_marketing = _with_spares(deploy)
    assert cli("apply", deploy, "--auto-approve").code == 0
    assert _tasks_by_site(server, "Spare Sunday") == {"marketing": 1}
    # A site outside the deployment (sandbox, run by another team) puts a task on "Spare 04:00".
    store = server.store
    with store.lock:
        sandbox = store.site_by_content_url("sandbox")
        assert sandbox is not None
        item = next(i for i in store.list_items(sandbox.id, "datasource"))
        admin = store.user_by_name(sandbox.id, "admin")
        assert admin is not None
        spare = next(s.id for s in store.schedules.values() if s.name == "Spare 04:00")
    add_to_schedule(store, admin, sandbox.id, spare, "datasource", item.id)

    # Neither spare is declared any more, and the deployment prunes: Spare Sunday (its one task, marketing's,
    # leaves it in this very plan) is deleted; Spare 04:00 is kept for sandbox's task.
    _pruning(deploy, original, original_marketing)
    planned: CliResult = cli("plan", deploy)
    assert planned.code == 0, planned.err
    assert '- schedule["Spare Sunday"] will be deleted' in planned.out
    assert ('schedule["Spare 04:00"] was not deleted although policy.prune is true: 1 task on 1 site (sandbox 1) '
            "use it") in planned.out
    server_section = planned.out.split("=== Site default")[0]
    assert 'schedule["Spare Sunday"]' in server_section
    assert cli("apply", deploy, "--auto-approve").code == 0
    assert "Spare Sunday" not in _schedule_names(server)
    assert _tasks_by_site(server, "Spare 04:00") == {"sandbox": 1}
    assert cli("plan", deploy, "--detailed-exitcode").code == 0


def test_a_schedule_update_names_the_tasks_it_reaches_on_every_site(server: Emulator, deploy: Path, cli) -> None:  # type: ignore[no-untyped-def]
    planned: CliResult = cli("plan", deploy)
    assert planned.code == 0, planned.err
    # Daily 06:00 after the plan: default 6, finance 2 (Cash Flow moves off it), marketing 2, people 1, sandbox 1.
    assert ('"Daily 06:00" is a server schedule: this update changes it for every site, for 12 tasks on 5 sites '
            "(finance 2, marketing 2, people 1, sandbox 1, default 6)") in planned.out


def test_a_site_whose_credentials_are_refused_is_reported_and_the_others_planned(  # type: ignore[no-untyped-def]
        server: Emulator, deploy: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLEAU_USERNAME__FINANCE", "admin")
    monkeypatch.setenv("TABLEAU_PASSWORD__FINANCE", "not-the-password")
    planned: CliResult = cli("plan", deploy, "--detailed-exitcode")
    assert planned.code == 1
    assert "=== Site finance" in planned.out
    finance = planned.out.split("=== Site finance")[1].split("\n=== ")[0]
    assert "FAILED:" in finance and "sign" in finance.lower()
    assert 'task[datasource "Web/Conversions"][full @ Nightly 04:00] will be moved' in planned.out
    assert "1 failed" in planned.out
    assert "could not be planned (finance)" in planned.err

    before = writes(server)
    refused: CliResult = cli("apply", deploy, "--auto-approve")
    assert refused.code == 1 and "Nothing was applied" in refused.err
    assert writes(server) == before

    drifted: CliResult = cli("drift", deploy, "--history-days", "0")
    assert drifted.code == 1
    assert "=== Site marketing" in drifted.out and "FAILED" in drifted.out


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_export_all_sites_adopts_the_whole_server_and_plans_no_changes(  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch, cli, tmp_path: Path, flavor: str) -> None:
    for emu in _emulator(monkeypatch, flavor):
        out = tmp_path / "adopted"
        exported: CliResult = cli("export", "--all-sites", "--output", out)
        assert exported.code == 0, exported.err
        files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
        assert files == ["deployment.yaml", "sites/default.yaml", "sites/finance.yaml", "sites/marketing.yaml",
                         "sites/people.yaml", "sites/sandbox.yaml", "sites/supply-chain.yaml"]
        before = writes(emu)
        planned: CliResult = cli("plan", out, "--detailed-exitcode")
        assert planned.code == 0, planned.out + planned.err
        assert "Deployment: 6 sites, 0 with changes, 6 matching." in planned.out
        assert writes(emu) == before

        again: CliResult = cli("export", "--all-sites", "--output", out)
        assert again.code == 1 and "not an empty directory" in again.err


def test_export_all_sites_by_a_site_administrator_says_the_server_may_have_more(  # type: ignore[no-untyped-def]
        server: Emulator, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLEAU_USERNAME", "siteadmin")
    monkeypatch.setenv("TABLEAU_PASSWORD", "siteadmin")
    exported: CliResult = cli("export", "--all-sites", "--output", tmp_path / "out")
    assert exported.code == 0, exported.err
    assert "'siteadmin' (SiteAdministratorCreator) is not a server administrator" in exported.err
    assert "the server may have more" in exported.err


def test_load_shows_one_site_of_a_deployment(server: Emulator, deploy: Path, cli) -> None:  # type: ignore[no-untyped-def]
    several: CliResult = cli("load", deploy)
    assert several.code == 1
    assert "pick one site of" in several.err and "default, finance, marketing" in several.err
    one: CliResult = cli("load", deploy, "--site", "finance", "--history-days", "0")
    assert one.code == 0, one.err
    assert one.out.startswith('Refresh load of site "finance"')


def test_schedule_deletes_wait_for_every_site_and_are_skipped_when_one_failed(  # type: ignore[no-untyped-def]
        server: Emulator, deploy: Path, cli) -> None:
    original, original_marketing = _with_spares(deploy)
    assert cli("apply", deploy, "--auto-approve").code == 0
    _pruning(deploy, original, original_marketing)
    # marketing's task comes off Spare Sunday in this apply; that delete fails for good on the server.
    marketing = server.store.site_by_content_url("marketing")
    assert marketing is not None
    server.configure_faults(fail_path=f"/sites/{marketing.id}/tasks/")
    failed: CliResult = cli("apply", deploy, "--auto-approve")
    assert failed.code == 1
    assert "The server schedule deletes (" in failed.err and "were not made" in failed.err
    # Deleting the schedule would have deleted the task the failed change left on it: both are still there.
    assert "Spare Sunday" in _schedule_names(server)
    assert _tasks_by_site(server, "Spare Sunday") == {"marketing": 1}
    server.configure_faults(fail_path="")
    assert cli("apply", deploy, "--auto-approve").code == 0
    assert "Spare Sunday" not in _schedule_names(server)


def test_a_site_whose_user_may_not_make_its_changes_stops_the_apply_before_any_write(  # type: ignore[no-untyped-def]
        server: Emulator, deploy: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # marketing signs in as a Viewer: its task move is not theirs to make. marketing is applied last, so a check
    # made site by site would come after the other sites' (and the server schedules') writes.
    monkeypatch.setenv("TABLEAU_USERNAME__MARKETING", "viewer")
    monkeypatch.setenv("TABLEAU_PASSWORD__MARKETING", "viewer")
    before = writes(server)
    refused: CliResult = cli("apply", deploy, "--auto-approve")
    assert refused.code == 1
    assert "Site marketing:" in refused.err and "lacks the permission" in refused.err, refused.err
    assert "nothing was applied" in refused.err
    assert writes(server) == before
    assert "Nightly 04:00" not in _schedule_names(server)


def test_a_bad_history_days_is_a_usage_error_not_every_sites_failure(server: Emulator, deploy: Path, cli) -> None:  # type: ignore[no-untyped-def]
    before = server.stats()["total"]
    refused: CliResult = cli("drift", deploy, "--history-days", "400")
    assert refused.code == 1
    assert "--history-days must be between 0 and 90, not 400." in refused.err
    assert "FAILED" not in refused.out and server.stats()["total"] == before  # refused before any request
