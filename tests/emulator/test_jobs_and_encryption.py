"""The emulator imitates Tableau for Bridge refresh jobs, incremental refreshes below API 3.25, and who may
use extract encryption at rest (docs/tableau-behaviour.md, "Jobs, refresh and encryption")."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.exceptions import ServerResponseError

from reconciler.emulator import Emulator

from .helpers import raw, sign_in

REFRESH_INCREMENTAL = b'<tsRequest><extractRefresh incremental="true"/></tsRequest>'


def _datasource(server: TSC.Server, name: str) -> TSC.DatasourceItem:
    return next(d for d in TSC.Pager(server.datasources) if d.name == name)


def _post(server: TSC.Server, path: str, body: bytes, version: str) -> requests.Response:
    url = raw(server, path).replace(f"/api/{server.version}/", f"/api/{version}/")
    return requests.post(url, data=body, headers={"X-Tableau-Auth": server.auth_token}, timeout=10)


# -- Bridge ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "end_code"), [("Plant Floor Metrics (Bridge)", 3), ("On-Prem Orders (Bridge)", 1)])
def test_a_bridge_job_says_finish_code_0_while_assigned_then_ends_with_completed_at(
        make_emulator: Callable[..., Emulator], name: str, end_code: int) -> None:
    emu = make_emulator(flavor="cloud", seed="demo", job_seconds=0.6)
    server = sign_in(emu)
    item = _datasource(server, name)
    assert item.use_remote_query_agent is True
    job = server.datasources.refresh(item)
    assigned = server.jobs.get_by_id(job.id)
    assert (assigned.finish_code, assigned.completed_at) == (0, None)
    later = emu.store.clock() + 1.0  # past the job's 0.6 s, on the store's clock
    emu.store.clock = lambda: later
    assigned = server.jobs.get_by_id(job.id)
    assert assigned.completed_at is not None and assigned.finish_code == end_code
    assert bool(assigned.notes) == (end_code == 1)


def test_server_flavor_has_no_bridge_items(server: TSC.Server) -> None:
    assert not any(d.use_remote_query_agent for d in TSC.Pager(server.datasources))


# -- incremental below 3.25 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "incremental"), [("3.22", False), ("3.24", False), ("3.25", True)])
def test_update_now_reads_incremental_from_3_25_only(emu: Emulator, server: TSC.Server, version: str,
                                                    incremental: bool) -> None:
    item = _datasource(server, "Orders")
    response = _post(server, f"/datasources/{item.id}/refresh", REFRESH_INCREMENTAL, version)
    assert response.status_code == 202, response.text
    assert [j.incremental for j in emu.store.jobs.values()] == [incremental]


def test_run_now_below_3_25_runs_the_task_as_defined(emu: Emulator, server: TSC.Server) -> None:
    full = next(t for t in emu.store.tasks.values() if not t.incremental)
    response = _post(server, f"/tasks/extractRefreshes/{full.id}/runNow", REFRESH_INCREMENTAL, "3.22")
    assert response.status_code == 200, response.text
    assert [j.incremental for j in emu.store.jobs.values()] == [False]


# -- extract encryption: server administrators only; not on Cloud ---------------------------------------------


def _encryption_calls(server: TSC.Server) -> list[Callable[[], object]]:
    def set_mode() -> object:
        return server.sites.put_request(raw(server, ""),
                                        b'<tsRequest><site extractEncryptionMode="enforced"/></tsRequest>')

    return [set_mode, lambda: server.sites.encrypt_extracts(server.site_id),
            lambda: server.sites.decrypt_extracts(server.site_id),
            lambda: server.sites.re_encrypt_extracts(server.site_id)]


def test_a_site_administrator_may_not_touch_extract_encryption(emu: Emulator) -> None:
    site_admin = sign_in(emu, user="siteadmin")
    for call in _encryption_calls(site_admin):
        with pytest.raises(ServerResponseError) as err:
            call()
        assert err.value.code == "403004" and "server administrators" in err.value.detail
    assert emu.store.site_by_content_url("").encryption_mode == "enabled"  # type: ignore[union-attr]
    assert not [e for e in emu.events if e[0].startswith("site.")]


def test_a_site_administrator_still_updates_other_site_settings(emu: Emulator) -> None:
    site_admin = sign_in(emu, user="siteadmin")
    response = site_admin.sites.put_request(raw(site_admin, ""), b'<tsRequest><site state="Active"/></tsRequest>')
    assert response.status_code == 200


def test_cloud_refuses_extract_encryption_calls(cloud: Emulator) -> None:
    server = sign_in(cloud)
    item = _datasource(server, "Pipeline")
    item.encrypt_extracts = True
    calls = [*_encryption_calls(server), lambda: server.datasources.update(item)]
    for call in calls:
        with pytest.raises(ServerResponseError) as err:
            call()
        assert err.value.code == "403004" and "Tableau Server feature" in err.value.detail
    assert not _datasource(server, "Pipeline").encrypt_extracts
