"""Deployment folders against the multisite emulator through the real client: export round trip, the examples."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.desired import export_deployment, load_deployment, load_desired
from reconciler.desired.export import export_yaml
from reconciler.emulator import Emulator
from reconciler.model import DesiredState, LiveState
from reconciler.plan import make_plan
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.read import read_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SITES = ["", "finance", "marketing", "supply-chain", "people", "sandbox"]


@pytest.fixture(params=["server", "cloud"])
def multisite(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    with Emulator(flavor=request.param, seed="multisite", job_seconds=0.0) as emu:
        yield emu


def _settings(emu: Emulator, site: str) -> ConnectionSettings:
    return ConnectionSettings(server=emu.url, site=site, credentials=Credentials("pat", emu.pat_name, emu.pat_secret))


def _read(emu: Emulator, site: str, desired: DesiredState | None = None) -> LiveState:
    """One site, read the way export reads it (or plan, given the files): a sign-in of its own."""
    with connect(_settings(emu, site)) as conn:
        if desired is None:
            return read_site(conn, None, schedule_details="used")
        return read_site(conn, desired, flavor=desired.flavor)


def _without_schedules(desired: DesiredState) -> DesiredState:
    return replace(desired, schedules=(), referenced_schedules=(), files=(), server=None)


def test_an_exported_deployment_loads_as_each_sites_own_export(multisite: Emulator, tmp_path: Path) -> None:
    lives = [_read(multisite, site) for site in SITES]
    flavor = lives[0].flavor
    files = export_deployment(multisite.url, flavor, lives[0].schedules, [("", live) for live in lives],
                              when="2024-03-01 00:00 UTC", version="test")
    assert sorted(files) == ["deployment.yaml", "sites/default.yaml", "sites/finance.yaml", "sites/marketing.yaml",
                             "sites/people.yaml", "sites/sandbox.yaml", "sites/supply-chain.yaml"]
    for name, text in files.items():
        (tmp_path / "deploy" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "deploy" / name).write_text(text, encoding="utf-8")
    deployment = load_deployment(tmp_path / "deploy")
    assert deployment.flavor == flavor and deployment.server == multisite.url
    assert [site.desired.site for site in deployment.sites] == ["", "finance", "marketing", "people", "sandbox",
                                                                "supply-chain"]
    schedules = {s.name: s for s in deployment.schedules}
    referenced = {r.name for r in deployment.referenced_schedules}
    for site in deployment.sites:
        live = next(live for live in lives if live.site == site.desired.site)
        alone_file = tmp_path / "alone" / f"{site.label}.yaml"
        alone_file.parent.mkdir(exist_ok=True)
        alone_file.write_text(export_yaml(live), encoding="utf-8")
        alone = load_desired([alone_file])
        assert _without_schedules(site.desired) == _without_schedules(alone)
        assert site.desired.schedules == deployment.schedules
        for schedule in alone.schedules:  # the site's own schedules are the deployment's, unchanged
            assert schedules[schedule.name] == schedule
        assert {r.name for r in alone.referenced_schedules} <= referenced
    # every schedule written is used by some site: nothing for plan to create or prune
    used = {t.schedule for site in deployment.sites for e in site.desired.extracts for t in e.refresh or ()}
    assert used == set(schedules) | referenced
    assert "# Its server, flavor and schedules are in ../deployment.yaml." in files["sites/finance.yaml"]
    if flavor == "server":
        assert referenced == {"Payroll 1st and 15th"}  # made in the web UI: Tableau does not report its days


@pytest.mark.parametrize(("folder", "flavor"), [("deployment", "server"), ("deployment-cloud", "cloud")])
def test_the_examples_plan_a_few_changes_and_nothing_refused(folder: str, flavor: str) -> None:
    """Per site, with today's single-site planner: the lead's deployment plan builds on the same states."""
    deployment = load_deployment(EXAMPLES / folder)
    with Emulator(flavor=flavor, seed="multisite", job_seconds=0.0) as emu:
        plans = {site.label: make_plan(site.desired, _read(emu, site.desired.site or "", site.desired))
                 for site in deployment.sites}
    changes = {label: sorted((c.action.value, c.address) for c in plan.changes) for label, plan in plans.items()}
    moved = {label: [address for action, address in found if action == "move"] for label, found in changes.items()}
    assert moved["finance"] == ['task[datasource "Finance/Accounts Receivable"][full @ Nightly 04:00]',
                                'task[datasource "Finance/Cash Flow"][full @ Twice Daily]']
    assert moved["marketing"][0] == 'task[datasource "Web/Conversions"][full @ Nightly 04:00]'
    assert all(action in ("create", "update", "move") for found in changes.values() for action, _ in found)
    if flavor == "server":
        for found in changes.values():  # the server schedules' changes, seen from every site
            assert ("update", 'schedule["Daily 06:00"]') in found and ("create", 'schedule["Nightly 04:00"]') in found
    else:  # a template's change is a change of each task using it
        assert 'task[workbook "Web/Traffic Dashboard"][full @ Twice Daily]' in moved["marketing"]
