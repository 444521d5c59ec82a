"""Sessions over several sites (issue 13), on the emulator's six-site server through the real TSC: Query Sites,
counting other sites' tasks with Switch Site and coming back, and one session per personal access token."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from reconciler.emulator import Emulator
from reconciler.errors import TableauConnectionError
from reconciler.model import DesiredState, Policy
from reconciler.tableau import sites as sites_module
from reconciler.tableau.connect import Connection, ConnectionSettings, connect, credentials_for_site, session_groups
from reconciler.tableau.read import read_site
from reconciler.tableau.sites import count_other_sites, list_sites
from tests.e2e.helpers import site_id

SWITCH = "POST /api/{v}/auth/switchSite"


@pytest.fixture
def multisite() -> Iterator[Emulator]:
    with Emulator(flavor="server", seed="multisite", job_seconds=0.0) as emu:
        yield emu


def _settings(emu: Emulator, site: str = "", **env: str) -> ConnectionSettings:
    env = env or {"TABLEAU_PAT_NAME": emu.pat_name, "TABLEAU_PAT_SECRET": emu.pat_secret}
    return ConnectionSettings(emu.url, site, credentials_for_site(site, env))


def _tasks_by_site(emu: Emulator, names: set[str]) -> dict[str, Counter[str]]:
    with emu.store.lock:
        keys = {s.id: s.content_url or "default" for s in emu.store.sites.values()}
        found: dict[str, Counter[str]] = {}
        for task in emu.store.tasks.values():
            name = emu.store.schedules[task.schedule_id].name if task.schedule_id else ""
            if name in names:
                found.setdefault(keys[task.site_id], Counter())[name] += 1
        return found


def test_list_sites_reads_every_page(multisite: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sites_module, "SITE_PAGE_SIZE", 2)
    multisite.reset_stats()
    with connect(_settings(multisite)) as conn:
        listed = list_sites(conn)
    assert listed is not None
    assert [s.key for s in listed] == ["default", "finance", "marketing", "supply-chain", "people", "sandbox"]
    assert multisite.stats()["by_route"]["GET /api/{v}/sites"] == 3


def test_count_other_sites_visits_each_site_and_comes_back(multisite: Emulator) -> None:
    names = {"Nightly 02:00", "Month End 23:00", "Weekends 03:00"}
    with connect(_settings(multisite)) as conn:
        home = conn.site_id
        ids = {s.name: s.id for s in multisite.store.schedules.values()}
        multisite.reset_stats()
        counts = count_other_sites(conn, "", names, ids)
        stats = multisite.stats()["by_route"]
        assert conn.site_id == home and conn.current_site == ""
        read_site(conn)  # the session works on the home site: no new sign-in was needed
        assert conn.hooks.reauths == 0
    expected = _tasks_by_site(multisite, names)
    expected.pop("default", None)
    assert counts.complete
    assert {site: dict(c) for site, c in counts.counted if c} == {site: dict(c) for site, c in expected.items()}
    assert [site for site, _ in counts.counted] == ["finance", "marketing", "supply-chain", "people", "sandbox"]
    for name in names:
        assert counts.total(name) == sum(c[name] for c in expected.values())
    assert stats[SWITCH] == 6 and stats["GET /api/{v}/sites/{site_id}/tasks/extractRefreshes"] == 5


def test_one_schedule_is_counted_from_its_extracts_list(multisite: Emulator) -> None:
    with connect(_settings(multisite)) as conn:
        ids = {s.name: s.id for s in multisite.store.schedules.values()}
        multisite.reset_stats()
        counts = count_other_sites(conn, "", ["Nightly 02:00"], ids)
    expected = _tasks_by_site(multisite, {"Nightly 02:00"})
    assert counts.total("Nightly 02:00") == sum(c["Nightly 02:00"] for k, c in expected.items() if k != "default")
    stats = multisite.stats()["by_route"]
    assert stats["GET /api/{v}/sites/{site_id}/schedules/{schedule_id}/extracts"] == 5
    assert "GET /api/{v}/sites/{site_id}/tasks/extractRefreshes" not in stats


def test_a_site_that_cannot_be_entered_is_uncounted_and_the_rest_still_are(multisite: Emulator) -> None:
    marketing = site_id(multisite, "marketing")
    with multisite.store.lock:
        (admin,) = [u.id for u in multisite.store.users.values() if u.site_id == marketing and u.name == "admin"]
        del multisite.store.users[admin]
    with connect(_settings(multisite)) as conn:
        ids = {s.name: s.id for s in multisite.store.schedules.values()}
        counts = count_other_sites(conn, "", ["Nightly 02:00", "Daily 06:00"], ids)
        assert conn.current_site == "" and conn.site_id == site_id(multisite)
        read_site(conn)
    assert not counts.complete and counts.total("Nightly 02:00") is None
    assert counts.uncounted == (("marketing", "the signed-in user may not enter it (401001)"),)
    assert [site for site, _ in counts.counted] == ["finance", "supply-chain", "people", "sandbox"]
    assert counts.reason() == ('the tasks on 1 of the other sites could not be counted (site "marketing": the '
                               "signed-in user may not enter it (401001)), so the total on the server is unknown")


def test_when_the_way_back_home_fails_nothing_goes_on(multisite: Emulator) -> None:
    default = site_id(multisite)

    def lose_home(message: str) -> None:
        if "sandbox" in message:  # the last site: the administrator's account on the home site goes away
            with multisite.store.lock:
                for user in [u for u in multisite.store.users.values() if u.site_id == default and u.name == "admin"]:
                    del multisite.store.users[user.id]

    with connect(_settings(multisite)) as conn:
        ids = {s.name: s.id for s in multisite.store.schedules.values()}
        with pytest.raises(TableauConnectionError, match=r"could not come back to the Default site.*Nothing was "
                                                         r"written"):
            count_other_sites(conn, "", ["Nightly 02:00", "Daily 06:00"], ids, progress=lose_home)


def test_a_non_administrator_cannot_list_every_site(multisite: Emulator) -> None:
    settings = _settings(multisite, "marketing", TABLEAU_USERNAME="analyst", TABLEAU_PASSWORD="analyst")
    with connect(settings) as conn:
        live = read_site(conn, None, shared_schedules=["Nightly 02:00"])
    assert live.shared_schedule_tasks == ()
    assert "'analyst' (Explorer) is not a server administrator" in live.shared_unknown


def test_read_site_counts_only_on_request_and_fills_the_breakdown(multisite: Emulator) -> None:
    with connect(_settings(multisite, "finance")) as conn:
        multisite.reset_stats()
        plain = read_site(conn)
        assert SWITCH not in multisite.stats()["by_route"]
        live = read_site(conn, None, shared_schedules=["Month End 23:00"])
    assert plain.shared_schedule_tasks == () and plain.shared_unknown == ""
    expected = _tasks_by_site(multisite, {"Month End 23:00"})
    expected.pop("finance")
    assert dict(live.shared_schedule_tasks) == {"Month End 23:00": sum(c["Month End 23:00"] for c in expected.values())}
    assert live.shared_by_site == (("Month End 23:00", tuple(sorted((k, c["Month End 23:00"])
                                                                    for k, c in expected.items()))),)
    assert live.site_id == site_id(multisite, "finance")


def _token(conn: Connection) -> str:
    return str(conn.server.auth_token)


def test_sites_sharing_one_token_read_in_turn_succeed_and_at_once_break(multisite: Emulator) -> None:
    env = {"TABLEAU_PAT_NAME": multisite.pat_name, "TABLEAU_PAT_SECRET": multisite.pat_secret,
           "TABLEAU_USERNAME__PEOPLE": "admin", "TABLEAU_PASSWORD__PEOPLE": "admin"}
    sites = [(site, credentials_for_site(site, env)) for site in ("", "finance", "people")]
    groups = session_groups(sites)
    assert groups == [["", "finance"], ["people"]]

    def read_group(group: list[str]) -> list[tuple[str, int]]:
        out = []
        for site in group:
            with connect(ConnectionSettings(multisite.url, site, dict(sites)[site])) as conn:
                live = read_site(conn)
                out.append((live.site_id, conn.hooks.reauths))
        return out

    with ThreadPoolExecutor(max_workers=len(groups)) as pool:  # groups at once, each group's sites in turn
        results = [entry for group in pool.map(read_group, groups) for entry in group]
    assert [sid for sid, _ in results] == [site_id(multisite, s) for s in ("", "finance", "people")]
    assert all(reauths == 0 for _, reauths in results), "no session was ended under a reader"

    # The same token signed in to two sites at once: the second sign-in ends the first session.
    first = connect(ConnectionSettings(multisite.url, "", dict(sites)[""]))
    second = connect(ConnectionSettings(multisite.url, "finance", dict(sites)["finance"]))
    try:
        ended = requests.get(f"{first.site_url}/projects", headers={"X-Tableau-Auth": _token(first)}, timeout=10)
        assert ended.status_code == 401 and "401002" in ended.text
        read_site(first)  # goes through only by signing in again, which in turn ends the second session
        assert first.hooks.reauths >= 1
        again = requests.get(f"{second.site_url}/projects", headers={"X-Tableau-Auth": _token(second)}, timeout=10)
        assert again.status_code == 401
    finally:
        first.close()
        second.close()


def test_nothing_is_counted_when_schedules_are_not_pruned_or_when_the_caller_says_so(multisite: Emulator) -> None:
    """``policy.prune_schedules: false`` (a deployment's site) and ``other_sites=False`` (a deployment run, which
    reads every site itself) make no request for the other sites; ``prune`` alone does."""
    pruning = DesiredState(policy=Policy(prune=True))
    with connect(_settings(multisite)) as conn:
        multisite.reset_stats()
        read_site(conn, DesiredState(policy=Policy(prune=True, prune_schedules=False)))
        read_site(conn, pruning, other_sites=False)
        assert SWITCH not in multisite.stats()["by_route"]
        counted = read_site(conn, pruning)
    assert multisite.stats()["by_route"][SWITCH] == 6
    assert counted.shared_schedule_tasks and counted.shared_unknown == ""
