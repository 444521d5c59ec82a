"""Sites: query, list, update (TSC payload and one attribute), extract encryption modes and calls."""

from __future__ import annotations

import pytest
import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.exceptions import ServerResponseError

from reconciler.emulator import Emulator

from .helpers import raw, sign_in


def _items(server: TSC.Server) -> list[TSC.DatasourceItem]:
    return list(TSC.Pager(server.datasources)) + list(TSC.Pager(server.workbooks))


def test_query_site_by_id_name_and_content_url(server: TSC.Server) -> None:
    site = server.sites.get_by_id(server.site_id)
    assert (site.name, site.content_url, site.extract_encryption_mode) == ("Default", "", "enabled")
    assert server.sites.get_by_name("Default").id == server.site_id
    response = requests.get(f"{server.baseurl}/sites/FINANCE?key=contentUrl",
                            headers={"X-Tableau-Auth": server.auth_token}, timeout=5)
    assert response.status_code == 200
    assert 'contentUrl="finance"' in response.text
    with pytest.raises(ServerResponseError) as err:
        server.sites.get_by_name("Nope")
    assert err.value.code == "404000"


def test_list_sites_with_pager(server: TSC.Server) -> None:
    sites = list(TSC.Pager(server.sites, TSC.RequestOptions(pagesize=1)))
    assert {s.content_url for s in sites} == {"", "finance"}


def test_full_tsc_site_update_round_trip(server: TSC.Server, emu: Emulator) -> None:
    site = server.sites.get_by_id(server.site_id)
    site.extract_encryption_mode = "enforced"
    site.data_alerts_enabled = True  # TSC sends dataAlertsEnabled="True" (capitalised)
    updated = server.sites.update(site)
    assert updated.extract_encryption_mode == "enforced"
    # enforced encrypts every extract on the site
    assert all(i.encrypt_extracts for i in _items(server) if i.has_extracts)
    assert ("site.encryption_mode", server.site_id, server.site_id, "enforced") in emu.events


def test_one_attribute_site_update(server: TSC.Server) -> None:
    response = server.sites.put_request(f"{server.baseurl}/sites/{server.site_id}",
                                        '<tsRequest><site extractEncryptionMode="disabled"/></tsRequest>')
    assert 'extractEncryptionMode="disabled"' in response.text
    site = server.sites.get_by_id(server.site_id)
    assert site.name == "Default"
    assert site.extract_encryption_mode == "disabled"
    assert not any(i.encrypt_extracts for i in _items(server))


def test_invalid_encryption_mode_is_400(server: TSC.Server) -> None:
    with pytest.raises(ServerResponseError) as err:
        server.sites.put_request(f"{server.baseurl}/sites/{server.site_id}",
                                 '<tsRequest><site extractEncryptionMode="sometimes"/></tsRequest>')
    assert err.value.code == "400000"


def test_site_update_by_non_admin_is_403(viewer: TSC.Server) -> None:
    with pytest.raises(ServerResponseError) as err:
        viewer.sites.put_request(f"{viewer.baseurl}/sites/{viewer.site_id}",
                                 '<tsRequest><site extractEncryptionMode="enforced"/></tsRequest>')
    assert err.value.code == "403004"


def test_encrypt_decrypt_reencrypt_follow_the_mode(server: TSC.Server, emu: Emulator) -> None:
    server.sites.encrypt_extracts(server.site_id)
    assert all(i.encrypt_extracts for i in _items(server) if i.has_extracts)
    server.sites.decrypt_extracts(server.site_id)
    assert not any(i.encrypt_extracts for i in _items(server))
    server.sites.re_encrypt_extracts(server.site_id)
    assert emu.store.sites[server.site_id].key_version == 2
    server.sites.put_request(f"{server.baseurl}/sites/{server.site_id}",
                             '<tsRequest><site extractEncryptionMode="enforced"/></tsRequest>')
    with pytest.raises(ServerResponseError) as err:
        server.sites.decrypt_extracts(server.site_id)
    assert err.value.code == "400000"
    server.sites.re_encrypt_extracts(server.site_id)
    server.sites.put_request(f"{server.baseurl}/sites/{server.site_id}",
                             '<tsRequest><site extractEncryptionMode="disabled"/></tsRequest>')
    for call in (server.sites.encrypt_extracts, server.sites.re_encrypt_extracts):
        with pytest.raises(ServerResponseError) as err:
            call(server.site_id)
        assert err.value.code == "400000"


def test_encryption_calls_by_non_admin_are_403(viewer: TSC.Server) -> None:
    for call in (viewer.sites.encrypt_extracts, viewer.sites.decrypt_extracts, viewer.sites.re_encrypt_extracts):
        with pytest.raises(ServerResponseError) as err:
            call(viewer.site_id)
        assert err.value.code == "403004"


def test_users_list_and_get(server: TSC.Server) -> None:
    users = list(TSC.Pager(server.users))
    assert {u.name: u.site_role for u in users} == {"admin": "ServerAdministrator", "viewer": "Viewer",
                                                   "etl": "Creator", "siteadmin": "SiteAdministratorCreator"}
    one = server.users.get_by_id(users[0].id)
    assert one.name == users[0].name
    with pytest.raises(ServerResponseError) as err:
        server.users.get_by_id("00000000-0000-4000-8000-000000000000")
    assert err.value.code == "404002"


def test_sites_on_cloud(cloud: Emulator) -> None:
    server = sign_in(cloud, "finance")
    site = server.sites.get_by_id(server.site_id)
    assert site.content_url == "finance"
    response = requests.get(raw(server, ""), headers={"X-Tableau-Auth": server.auth_token}, timeout=5)
    assert response.status_code == 200
