"""Projects, data sources and workbooks: paging, filter, fields, sort, get, update, refresh, extracts."""

from __future__ import annotations

import pytest
import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.exceptions import JobFailedException, ServerResponseError

from reconciler.emulator import Emulator

from .helpers import raw


def _get(server: TSC.Server, path: str) -> requests.Response:
    return requests.get(raw(server, path), headers={"X-Tableau-Auth": server.auth_token}, timeout=5)


def _ds(server: TSC.Server, name: str) -> TSC.DatasourceItem:
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("name", "eq", name))
    found, _ = server.datasources.get(options)
    assert len(found) == 1, name
    return found[0]


def _wb(server: TSC.Server, name: str) -> TSC.WorkbookItem:
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("name", "eq", name))
    found, _ = server.workbooks.get(options)
    assert len(found) == 1, name
    return found[0]


def test_pager_walks_every_page(server: TSC.Server) -> None:
    for endpoint, total in ((server.datasources, 30), (server.workbooks, 14), (server.projects, 10)):
        items = list(TSC.Pager(endpoint, TSC.RequestOptions(pagesize=4)))
        assert len(items) == total
        assert len({i.id for i in items}) == total


def test_pagination_echoes_size_and_total(server: TSC.Server) -> None:
    items, pagination = server.datasources.get(TSC.RequestOptions(pagenumber=2, pagesize=10))
    assert (len(items), pagination.page_number, pagination.page_size, pagination.total_available) == (10, 2, 10, 30)
    items, pagination = server.datasources.get(TSC.RequestOptions(pagesize=1000))
    assert len(items) == 30


@pytest.mark.parametrize(("query", "status", "code"), [
    ("pageNumber=4&pageSize=10", 400, "400006"),
    ("pageNumber=0", 400, "400006"),
    ("pageNumber=x", 400, "400006"),
    ("pageSize=0", 400, "400007"),
    ("pageSize=abc", 400, "400007"),
    ("pageSize=1001", 403, "403014"),
    ("filter=colour:eq:red", 400, "400000"),
    ("sort=name:sideways", 400, "400000"),
    ("fields=id,frobnicate", 400, "400000"),
])
def test_list_errors(server: TSC.Server, query: str, status: int, code: str) -> None:
    response = _get(server, f"/datasources?{query}")
    assert response.status_code == status
    assert f'code="{code}"' in response.text


def test_out_of_range_page_raises_in_tsc(server: TSC.Server) -> None:
    with pytest.raises(ServerResponseError) as err:
        server.workbooks.get(TSC.RequestOptions(pagenumber=99, pagesize=5))
    assert err.value.code == "400006"


def test_filters(server: TSC.Server) -> None:
    options = TSC.RequestOptions(pagesize=100)
    options.filter.add(TSC.Filter("projectName", "eq", "Marketing"))
    found, _ = server.datasources.get(options)
    assert {d.name for d in found} == {"Web Traffic", "Campaign Performance", "Email Engagement", "Social Mentions",
                                       "Live Snowflake - Web Events"}
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("name", "in", ["Orders", "Customers", "Nope"]))
    assert {d.name for d in server.datasources.get(options)[0]} == {"Orders", "Customers"}
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("topLevelProject", "eq", True))
    top = server.projects.get(options)[0]
    assert {p.name for p in top} == {"Default", "Sales", "Marketing", "Operations", "Executive", "Data Engineering"}
    sales = next(p for p in top if p.name == "Sales")
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("parentProjectId", "eq", sales.id))
    assert {p.name for p in server.projects.get(options)[0]} == {"Forecasts", "Regional"}
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("name", "eq", "Legacy*"))
    assert [d.name for d in server.datasources.get(options)[0]] == ["Legacy Oracle Inventory"]


def test_projects_get_by_path(server: TSC.Server) -> None:
    project = server.projects.get_by_path("Sales/Regional/EMEA")
    assert project is not None
    assert project.name == "EMEA"


def test_fields_only_emit_what_was_asked(server: TSC.Server) -> None:
    text = _get(server, "/datasources?fields=id,name,hasExtracts,encryptExtracts,projectId,projectName"
                        "&filter=name:eq:Orders").text
    assert 'hasExtracts="true"' in text and 'encryptExtracts="true"' in text
    assert "contentUrl=" not in text and "createdAt=" not in text and "<owner" not in text
    assert '<project id="' in text and 'name="Sales"' in text
    options = TSC.RequestOptions()
    options.fields.update({"id", "name", "hasExtracts", "encryptExtracts", "projectId", "projectName"})
    items = list(TSC.Pager(server.datasources, options))
    assert len(items) == 30
    orders = next(i for i in items if i.name == "Orders")
    assert (orders.project_name, orders.has_extracts, orders.encrypt_extracts, orders.owner_id) == (
        "Sales", True, True, None)
    everything = _get(server, "/workbooks?fields=_all_&pageSize=1").text
    assert "lastPublishedAt=" in everything and "<owner" in everything
    default = _get(server, "/projects?fields=_default_,ownerName&pageSize=1").text
    assert 'name="admin"' in default


def test_sort(server: TSC.Server) -> None:
    options = TSC.RequestOptions(pagesize=100)
    options.sort.add(TSC.Sort("name", "desc"))
    names = [d.name for d in server.datasources.get(options)[0]]
    assert names == sorted(names, key=str.lower, reverse=True)


def test_get_by_id_has_project_and_owner(server: TSC.Server) -> None:
    orders = server.datasources.get_by_id(_ds(server, "Orders").id)
    assert (orders.project_name, orders.has_extracts, orders.encrypt_extracts) == ("Sales", True, True)
    assert orders.owner_id
    board = server.workbooks.get_by_id(_wb(server, "Board Pack").id)
    assert board.project_name == "Executive" and board.encrypt_extracts
    for call, code in ((server.datasources.get_by_id, "404004"), (server.workbooks.get_by_id, "404006")):
        with pytest.raises(ServerResponseError) as err:
            call("00000000-0000-4000-8000-000000000000")
        assert err.value.code == code


def test_project_get_by_id_is_an_empty_put(server: TSC.Server) -> None:
    project = next(p for p in TSC.Pager(server.projects) if p.name == "Marketing")
    assert server.projects.get_by_id(project.id).name == "Marketing"


def test_datasource_update_encrypt(server: TSC.Server, emu: Emulator) -> None:
    item = _ds(server, "Pipeline")
    assert item.encrypt_extracts is False
    item.encrypt_extracts = True
    updated = server.datasources.update(item)
    assert updated.encrypt_extracts is True
    assert server.datasources.get_by_id(item.id).encrypt_extracts is True
    assert ("item.updated", server.site_id, item.id, "datasource") in emu.events


def test_workbook_encrypt_through_raw_put_obeys_the_site_mode(server: TSC.Server) -> None:
    item = _wb(server, "Sales Overview")
    url = f"{server.baseurl}/sites/{server.site_id}/workbooks/{item.id}"
    response = server.workbooks.put_request(url, '<tsRequest><workbook encryptExtracts="true"/></tsRequest>')
    assert 'encryptExtracts="true"' in response.text
    assert server.workbooks.get_by_id(item.id).encrypt_extracts is True
    server.sites.put_request(f"{server.baseurl}/sites/{server.site_id}",
                             '<tsRequest><site extractEncryptionMode="enforced"/></tsRequest>')
    with pytest.raises(ServerResponseError) as err:
        server.workbooks.put_request(url, '<tsRequest><workbook encryptExtracts="false"/></tsRequest>')
    assert err.value.code == "400000"
    server.sites.put_request(f"{server.baseurl}/sites/{server.site_id}",
                             '<tsRequest><site extractEncryptionMode="disabled"/></tsRequest>')
    assert server.workbooks.get_by_id(item.id).encrypt_extracts is False
    with pytest.raises(ServerResponseError):
        server.workbooks.put_request(url, '<tsRequest><workbook encryptExtracts="True"/></tsRequest>')


def test_update_by_non_owner_viewer_is_403(viewer: TSC.Server) -> None:
    item = _ds(viewer, "Orders")
    item.encrypt_extracts = False
    with pytest.raises(ServerResponseError) as err:
        viewer.datasources.update(item)
    assert err.value.code == "403032"


def test_refresh_and_wait_for_job(make_emulator) -> None:  # type: ignore[no-untyped-def]
    from .helpers import sign_in

    server = sign_in(make_emulator(seed="demo", job_seconds=0.05))
    job = server.datasources.refresh(_ds(server, "Orders"))
    assert job.type == "RefreshExtract" and job.completed_at is None
    done = server.jobs.wait_for_job(job, timeout=10)
    assert done.finish_code == 0 and done.completed_at is not None and done.started_at is not None
    job = server.workbooks.refresh(_wb(server, "Board Pack"))
    assert server.jobs.wait_for_job(job, timeout=10).finish_code == 0
    failing = server.datasources.refresh(_ds(server, "Legacy Oracle Inventory"))
    with pytest.raises(JobFailedException) as err:
        server.jobs.wait_for_job(failing, timeout=10)
    assert "Login failed" in (err.value.job.notes or [""])[0]


def test_refresh_body_with_incremental(server: TSC.Server) -> None:
    job = server.datasources.refresh(_ds(server, "Orders"), incremental=True)
    assert server.jobs.get_by_id(job.id).finish_code == 0


def test_refresh_of_live_item_and_viewer(server: TSC.Server, viewer: TSC.Server) -> None:
    with pytest.raises(ServerResponseError) as err:
        server.datasources.refresh(_ds(server, "Live Snowflake - Web Events"))
    assert err.value.code == "409090"  # "Extract operation ... is not allowed" (TSC issue 1531)
    with pytest.raises(ServerResponseError) as err:
        viewer.datasources.refresh(_ds(viewer, "Orders"))
    assert err.value.code == "403032"


def test_create_and_delete_extract(server: TSC.Server, emu: Emulator) -> None:
    live = _ds(server, "Live Snowflake - Web Events")
    job = server.datasources.create_extract(live, encrypt=True)
    assert job.type == "CreateExtract"
    item = server.datasources.get_by_id(live.id)
    assert item.has_extracts and item.encrypt_extracts
    orders = _ds(server, "Orders")
    server.datasources.delete_extract(orders)
    item = server.datasources.get_by_id(orders.id)
    assert not item.has_extracts and not item.encrypt_extracts
    tasks, _ = server.tasks.get()
    assert orders.id not in {t.target.id for t in tasks}
    workbook = _wb(server, "Data Quality")
    server.workbooks.create_extract(workbook, encrypt=False)
    assert server.workbooks.get_by_id(workbook.id).has_extracts
    job = server.workbooks.delete_extract(workbook)
    assert job.id and not server.workbooks.get_by_id(workbook.id).has_extracts
    response = requests.post(raw(server, f"/datasources/{live.id}/createExtract?encrypt=true"),
                             headers={"X-Tableau-Auth": server.auth_token}, timeout=5)
    assert response.status_code == 200


def test_create_extract_encrypted_when_disabled_is_an_error(server: TSC.Server) -> None:
    server.sites.put_request(f"{server.baseurl}/sites/{server.site_id}",
                             '<tsRequest><site extractEncryptionMode="disabled"/></tsRequest>')
    with pytest.raises(ServerResponseError) as err:
        server.datasources.create_extract(_ds(server, "Live Postgres - App DB"), encrypt=True)
    assert err.value.code == "400000"
