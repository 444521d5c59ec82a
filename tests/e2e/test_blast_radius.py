"""Exact blast radius on a multi-site Tableau Server (issue 13): the plan counts the tasks every site has on a
server schedule it changes or deletes, by visiting the other sites with Switch Site, and comes back before
it writes. Through the CLI, on the emulator's six-site `multisite` seed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator
from tests.conftest import connect_env
from tests.e2e.helpers import site_id, writes
from tests.e2e.test_plan_apply import export_doc, save

SWITCH = "POST /api/{v}/auth/switchSite"
SITES = "GET /api/{v}/sites"


@pytest.fixture
def multisite(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The six-site server; the environment points at its Default site, as the server administrator's PAT."""
    with Emulator(flavor="server", seed="multisite", job_seconds=0.0) as emu:
        connect_env(monkeypatch, emu)
        yield emu


def _by_site(emu: Emulator, schedule: str) -> Counter[str]:
    """The tasks on ``schedule`` per site key (contentUrl, ``default``), from the emulator's own store."""
    with emu.store.lock:
        (schedule_id,) = [s.id for s in emu.store.schedules.values() if s.name == schedule]
        keys = {s.id: s.content_url or "default" for s in emu.store.sites.values()}
        return Counter(keys[t.site_id] for t in emu.store.tasks.values() if t.schedule_id == schedule_id)


def _route(emu: Emulator, route: str) -> int:
    return int(emu.stats()["by_route"].get(route, 0))


def test_an_update_of_a_server_schedule_names_the_tasks_on_every_site(multisite: Emulator, cli: Any,
                                                                        tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["schedules"]["Nightly 02:00"]["start"] = "03:00"
    counts = _by_site(multisite, "Nightly 02:00")
    here = counts.pop("default")
    assert len(counts) >= 4, counts  # the seed puts the schedule on most sites
    others = sorted(counts.items(), key=lambda entry: (-entry[1], entry[0]))
    expected = (f"for {sum(counts.values()) + here} tasks on {len(counts) + 1} sites ("
                + ", ".join(f"{site} {n}" for site, n in others) + f", this site {here})")
    multisite.reset_stats()
    result = cli("plan", save(tmp_path, doc))
    assert result.code == 0, result.err
    assert f'"Nightly 02:00" is a server schedule: this update changes it for every site, {expected}' in result.out
    assert _route(multisite, SITES) == 1
    assert _route(multisite, SWITCH) == 6, "five other sites, one at a time, then back home"
    markdown = cli("plan", save(tmp_path, doc), "--format", "markdown")
    assert expected in markdown.out
    as_json = cli("plan", save(tmp_path, doc), "--format", "json")
    assert expected in as_json.out


def test_prune_deletes_a_schedule_no_site_uses_and_keeps_one_another_site_uses(
        multisite: Emulator, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    doc["schedules"].update({"Spare 04:00": {"frequency": "daily", "start": "04:00"},
                             "Spare Sunday": {"frequency": "weekly", "start": "05:00", "weekdays": ["sunday"]}})
    assert cli("apply", save(tmp_path, doc, "spare.yaml"), "--auto-approve").code == 0
    # On the Sandbox site, its one data source's task moves to "Spare 04:00" (the schedule is referenced there).
    monkeypatch.setenv("TABLEAU_SITE", "sandbox")
    sandbox = export_doc(cli, tmp_path)
    for entry in sandbox["extracts"]:
        for refresh in entry.get("refresh") or ():
            if entry.get("datasource") == "Experiments/Scratch Extract":
                refresh["schedule"] = "Spare 04:00"
    sandbox["schedules"]["Spare 04:00"] = doc["schedules"]["Spare 04:00"]
    assert cli("apply", save(tmp_path, sandbox, "sandbox.yaml"), "--auto-approve").code == 0
    assert _by_site(multisite, "Spare 04:00") == {"sandbox": 1}
    monkeypatch.setenv("TABLEAU_SITE", "")

    pruned = {**doc, "schedules": {n: s for n, s in doc["schedules"].items() if not n.startswith("Spare")},
              "policy": {"prune": True}}
    file = save(tmp_path, pruned)
    events = len(multisite.events)
    result = cli("apply", file, "--auto-approve")
    assert result.code == 0, result.err
    assert '- schedule["Spare Sunday"] will be deleted' in result.out
    assert ('schedule["Spare 04:00"] was not deleted although policy.prune is true: 1 task on 1 site (sandbox 1) '
            "use it.") in result.out
    # The delete was written after the visits: the session was back on the Default site.
    assert {e[3] for e in multisite.events[events:] if e[0] == "schedule.deleted"} == {"Spare Sunday"}
    assert _by_site(multisite, "Spare 04:00") == {"sandbox": 1}
    assert cli("plan", file, "--detailed-exitcode").code == 0


def _spare_sunday_pruned(cli: Any, tmp_path: Path) -> dict[str, Any]:
    """The site's export, applied with an unused "Spare Sunday" schedule; returned without it, pruning."""
    doc = export_doc(cli, tmp_path)
    doc["schedules"]["Spare Sunday"] = {"frequency": "weekly", "start": "05:00", "weekdays": ["sunday"]}
    assert cli("apply", save(tmp_path, doc, "spare.yaml"), "--auto-approve").code == 0
    return {**doc, "schedules": {n: s for n, s in doc["schedules"].items() if n != "Spare Sunday"},
            "policy": {"prune": True}}


def test_a_saved_prune_plan_is_stale_once_another_site_uses_the_schedule(
        multisite: Emulator, cli: Any, tmp_path: Path) -> None:
    pruned = _spare_sunday_pruned(cli, tmp_path)
    saved = tmp_path / "plan.json"
    planned = cli("plan", save(tmp_path, pruned), "--out", saved)
    assert planned.code == 0, planned.err
    assert '- schedule["Spare Sunday"] will be deleted' in planned.out
    # A task on the People site is put on the schedule between the plan and the apply.
    with multisite.store.lock:
        people = site_id(multisite, "people")
        (spare,) = [s.id for s in multisite.store.schedules.values() if s.name == "Spare Sunday"]
        task = next(t for t in multisite.store.tasks.values() if t.site_id == people)
        multisite.store.tasks[task.id] = replace(task, schedule_id=spare)
    before = writes(multisite)
    stale = cli("apply", saved, "--auto-approve")
    assert stale.code == 1
    assert 'the tasks using schedule "Spare Sunday"' in stale.err and "Nothing was applied" in stale.err
    assert writes(multisite) == before


def test_a_saved_prune_plan_applies_when_no_site_changed(multisite: Emulator, cli: Any, tmp_path: Path) -> None:
    pruned = _spare_sunday_pruned(cli, tmp_path)
    saved = tmp_path / "plan.json"
    assert cli("plan", save(tmp_path, pruned), "--out", saved).code == 0
    applied = cli("apply", saved, "--auto-approve")
    assert applied.code == 0, applied.err
    assert "Spare Sunday" not in {s.name for s in multisite.store.schedules.values()}


def test_a_plan_without_schedule_changes_makes_no_request_for_other_sites(multisite: Emulator, cli: Any,
                                                                          tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    multisite.reset_stats()
    result = cli("plan", save(tmp_path, doc), "--detailed-exitcode")
    assert result.code == 0, result.out
    assert _route(multisite, SITES) == 0 and _route(multisite, SWITCH) == 0


def test_a_site_administrator_is_told_the_other_sites_are_not_counted(multisite: Emulator, cli: Any,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    doc["schedules"]["Nightly 02:00"]["start"] = "03:00"
    for name in ("TABLEAU_PAT_NAME", "TABLEAU_PAT_SECRET"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("TABLEAU_USERNAME", "siteadmin")
    monkeypatch.setenv("TABLEAU_PASSWORD", "siteadmin")
    multisite.reset_stats()
    result = cli("plan", save(tmp_path, doc))
    text = result.out + result.err
    assert ("an unknown number of tasks on other sites may use it ('siteadmin' (SiteAdministratorCreator) is not a "
            "server administrator, so reconciler cannot list the server's sites") in text
    assert _route(multisite, SWITCH) == 0


def test_a_site_signs_in_with_its_own_suffixed_credentials(multisite: Emulator, cli: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TABLEAU_PAT_NAME", "TABLEAU_PAT_SECRET"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("TABLEAU_SITE", "supply-chain")
    missing = cli("plan", save(tmp_path, {"version": 1}))
    assert missing.code == 1 and 'No Tableau credentials found for site "supply-chain"' in missing.err
    assert "TABLEAU_PAT_NAME__FINANCE" in missing.err, "the error teaches the scheme"
    monkeypatch.setenv("TABLEAU_USERNAME__SUPPLY_CHAIN", "admin")
    monkeypatch.setenv("TABLEAU_PASSWORD__SUPPLY_CHAIN", "admin")
    result = cli("plan", save(tmp_path, {"version": 1}))
    assert result.code == 0, result.err
    assert 'task[datasource "Logistics/Shipments"]' in result.out, "the Supply Chain site's own items"


def test_cloud_never_switches_site(cloud_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["policy"] = {"prune": True}
    cloud_emu.reset_stats()
    assert cli("plan", save(tmp_path, doc)).code == 0
    assert _route(cloud_emu, SWITCH) == 0 and _route(cloud_emu, SITES) == 0
