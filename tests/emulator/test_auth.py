"""Sign-in, sessions, site binding, server info and routing, through TSC over HTTP."""

from __future__ import annotations

import base64
import json

import pytest
import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.exceptions import FailedSignInError, ServerResponseError

from reconciler.emulator import Emulator

from .helpers import raw, sign_in


def _jwt(sub: str) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'HS256'})}.{part({'sub': sub})}.c2lnbmF0dXJl"


def test_pat_sign_in_negotiates_the_server_version(emu: Emulator) -> None:
    server = sign_in(emu)
    assert server.version == "3.25"
    assert server.site_url == ""
    assert server.user_id and server.auth_token


def test_cloud_reports_api_3_28(cloud: Emulator) -> None:
    server = sign_in(cloud, "finance")
    assert server.version == "3.28"
    assert server.site_url == "finance"


@pytest.mark.parametrize(("user", "password"), [("admin", "admin"), ("viewer", "viewer"), ("etl", "etl")])
def test_password_sign_in(emu: Emulator, user: str, password: str) -> None:
    server = sign_in(emu, user=user, password=password)
    users, _ = server.users.get()
    assert user in {u.name for u in users}


def test_jwt_sign_in_trusts_the_subject(emu: Emulator) -> None:
    server = TSC.Server(emu.url)
    server.use_server_version()
    server.auth.sign_in_with_json_web_token(TSC.JWTAuth(_jwt("admin"), site_id="finance"))
    assert server.site_url == "finance"
    with pytest.raises(FailedSignInError) as err:
        TSC.Server(emu.url, use_server_version=True).auth.sign_in(TSC.JWTAuth(_jwt("nobody")))
    assert err.value.code == "401001"


@pytest.mark.parametrize("auth", [
    TSC.TableauAuth("admin", "wrong"),
    TSC.TableauAuth("nobody", "admin"),
    TSC.PersonalAccessTokenAuth("admin-pat", "wrong"),
    TSC.PersonalAccessTokenAuth("admin-pat", "admin-secret", site_id="no-such-site"),
])
def test_wrong_credentials_are_401001(emu: Emulator, auth: TSC.TableauAuth) -> None:
    server = TSC.Server(emu.url, use_server_version=True)
    with pytest.raises(FailedSignInError) as err:
        server.auth.sign_in(auth)
    assert err.value.code == "401001"
    assert err.value.summary == "Signin Error"


def test_missing_and_unknown_tokens_are_401002(emu: Emulator) -> None:
    server = sign_in(emu)
    response = requests.get(raw(server, "/datasources"), timeout=5)
    assert response.status_code == 401
    assert 'code="401002"' in response.text
    server._auth_token = "not-a-token"
    with pytest.raises(FailedSignInError) as err:
        server.datasources.get()
    assert err.value.code == "401002"


def test_a_new_pat_sign_in_ends_the_previous_session(emu: Emulator) -> None:
    first = sign_in(emu)
    second = sign_in(emu)
    second.datasources.get()
    with pytest.raises(FailedSignInError) as err:
        first.datasources.get()
    assert err.value.code == "401002"
    # password sessions are independent
    a = sign_in(emu, user="admin", password="admin")
    sign_in(emu, user="admin", password="admin")
    assert a.datasources.get()[1].total_available == 30


def test_tokens_expire_after_token_ttl(make_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(seed="empty", token_ttl=0.3)
    server = sign_in(emulator)
    server.projects.get()
    later = emulator.store.clock() + 0.4
    emulator.store.clock = lambda: later  # 0.4 s on: the session's 0.3 s are over
    with pytest.raises(FailedSignInError) as err:
        server.projects.get()
    assert err.value.code == "401002"


def test_sign_out_ends_the_session(emu: Emulator) -> None:
    server = sign_in(emu, user="admin", password="admin")
    token = server.auth_token
    server.auth.sign_out()
    response = requests.get(f"{server.baseurl}/sites", headers={"X-Tableau-Auth": token}, timeout=5)
    assert response.status_code == 401


def test_a_token_is_bound_to_its_site(emu: Emulator) -> None:
    default = sign_in(emu)
    finance = sign_in(emu, "finance", user="admin", password="admin")
    url = f"{default.baseurl}/sites/{finance.site_id}/datasources"
    response = requests.get(url, headers={"X-Tableau-Auth": default.auth_token}, timeout=5)
    assert response.status_code == 403
    unknown = f"{default.baseurl}/sites/00000000-0000-4000-8000-000000000000/datasources"
    response = requests.get(unknown, headers={"X-Tableau-Auth": default.auth_token}, timeout=5)
    assert response.status_code == 404
    assert 'code="404000"' in response.text


def test_switch_site(emu: Emulator) -> None:
    server = sign_in(emu, user="admin", password="admin")
    sites, _ = server.sites.get()
    finance = next(s for s in sites if s.content_url == "finance")
    server.auth.switch_site(finance)
    assert server.site_id == finance.id
    datasources, _ = server.datasources.get()
    assert "General Ledger" in {d.name for d in datasources}


@pytest.mark.parametrize("path", ["/api/2.4/serverInfo", "/api/3.25/serverinfo", "//api/3.1/ServerInfo"])
def test_server_info_any_version_any_case(emu: Emulator, path: str) -> None:
    response = requests.get(emu.url + path, timeout=5)
    assert response.status_code == 200
    assert "<restApiVersion>3.25</restApiVersion>" in response.text
    assert 'xmlns="http://tableau.com/api"' in response.text


def test_server_info_through_tsc(emu: Emulator, cloud: Emulator) -> None:
    info = TSC.Server(emu.url).server_info.get()
    assert info.rest_api_version == "3.25"
    assert info.product_version.startswith("2025.")
    assert TSC.Server(cloud.url).server_info.get().rest_api_version == "3.28"


def test_trailing_slash_in_the_server_address_works(emu: Emulator) -> None:
    server = TSC.Server(emu.url + "/", use_server_version=True)
    server.auth.sign_in(TSC.PersonalAccessTokenAuth(emu.pat_name, emu.pat_secret))
    assert server.projects.get()[1].total_available == 10


def test_unknown_resource_and_wrong_method(server: TSC.Server) -> None:
    headers = {"X-Tableau-Auth": server.auth_token}
    response = requests.get(raw(server, "/nonsense"), headers=headers, timeout=5)
    assert response.status_code == 404
    assert 'code="404003"' in response.text
    response = requests.delete(raw(server, "/datasources"), headers=headers, timeout=5)
    assert response.status_code == 405
    assert 'code="405000"' in response.text


def test_malformed_xml_is_400000(emu: Emulator) -> None:
    response = requests.post(emu.url + "/api/3.25/auth/signin", data=b"<tsRequest><credentials", timeout=5)
    assert response.status_code == 400
    assert 'code="400000"' in response.text


def test_request_with_namespace_is_accepted(emu: Emulator) -> None:
    body = ('<tsRequest xmlns="http://tableau.com/api"><credentials name="admin" password="admin">'
            '<site contentUrl="finance"/></credentials></tsRequest>')
    response = requests.post(emu.url + "/api/3.25/auth/signin", data=body, timeout=5)
    assert response.status_code == 200
    assert "<credentials token=" in response.text


def test_viewer_pat(emu: Emulator) -> None:
    server = sign_in(emu, pat=("viewer-pat", "viewer-secret"))
    with pytest.raises(ServerResponseError) as err:
        server.sites.encrypt_extracts(server.site_id)
    assert err.value.code.startswith("403")
