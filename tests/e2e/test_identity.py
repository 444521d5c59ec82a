"""Issue 15, section 1: an item is exactly the item the file names (plan, refresh and export agree)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.emulator import Emulator
from tests.conftest import connect_env
from tests.e2e.helpers import writes
from tests.e2e.names import add_item, add_project, find_item, rename_item, rename_project

HEAD = 'version: 1\nschedules:\n  Issue 15 03:10:\n    frequency: daily\n    start: "03:10"\n'


def _file(tmp_path: Path, ref: Any, name: str = "site.yaml") -> Path:
    doc = yaml.safe_load(HEAD)
    doc["extracts"] = [{"datasource": ref, "refresh": [{"schedule": "Issue 15 03:10"}]}]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


def _targets(cli: Any, file: Path) -> set[str]:
    planned = cli("plan", file, "--format", "json")
    assert planned.code == 0, planned.err
    return {c["target"]["item_id"] for c in json.loads(planned.out)["resource_changes"]
            if c["kind"] == "task" and c["actions"] != ["delete"]}


def test_a_padded_name_is_its_own_item(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    padded = rename_item(server_emu, "Sales/Customers", " Padded ")
    plain = rename_item(server_emu, "Sales/Quotas", "Padded")
    assert _targets(cli, _file(tmp_path, "Sales/ Padded ")) == {padded}
    assert _targets(cli, _file(tmp_path, "Sales/Padded")) == {plain}


def test_refresh_takes_the_padded_name_exactly(server_emu: Emulator, cli: Any) -> None:
    padded = rename_item(server_emu, "Sales/Customers", " Padded ")
    rename_item(server_emu, "Sales/Quotas", "Padded")
    done = cli("refresh", "--datasource", "Sales/ Padded ", "--format", "json")
    assert done.code == 0, done.err
    jobs = [j for j in server_emu.store.jobs.values() if j.type == "RefreshExtract"]
    assert {j.item_id for j in jobs} == {padded}


def test_nfc_and_nfd_do_not_match_and_the_hint_shows_the_difference(server_emu: Emulator, cli: Any,
                                                                    tmp_path: Path) -> None:
    rename_item(server_emu, "Sales/Orders", unicodedata.normalize("NFC", "Café"))
    planned = cli("plan", _file(tmp_path, "Sales/" + unicodedata.normalize("NFD", "Café")))
    assert planned.code == 1
    assert "\\u0301" in planned.err and "\\xe9" in planned.err  # both spellings, visibly different
    assert "compared exactly" in planned.err


def _ambiguous_site(emu: Emulator) -> tuple[str, str]:
    """A project named "A/B" holding X, and project A → B holding X: the path "A/B/X" names both."""
    slash = add_project(emu, "A/B")
    a = add_project(emu, "A")
    b = add_project(emu, "B", parent_id=a)
    return add_item(emu, slash, "X"), add_item(emu, b, "X")


def test_an_ambiguous_path_is_refused_by_plan_and_refresh_alike(server_emu: Emulator, cli: Any,
                                                                tmp_path: Path) -> None:
    in_slash, in_nested = _ambiguous_site(server_emu)
    planned = cli("plan", _file(tmp_path, "A/B/X"))
    assert planned.code == 1
    assert "ambiguous" in planned.err and in_slash in planned.err and in_nested in planned.err
    assert "{project:" in planned.err and "{id:" in planned.err
    before = writes(server_emu)
    refreshed = cli("refresh", "--datasource", "A/B/X")
    assert refreshed.code == 1
    assert "ambiguous" in refreshed.err and in_slash in refreshed.err and in_nested in refreshed.err
    assert writes(server_emu) == before
    # The exact forms name one each.
    assert _targets(cli, _file(tmp_path, {"project": ["A/B"], "name": "X"})) == {in_slash}
    assert _targets(cli, _file(tmp_path, {"project": "A/B", "name": "X"})) == {in_nested}
    assert _targets(cli, _file(tmp_path, {"id": in_slash})) == {in_slash}


def test_refresh_checks_the_exact_name_after_the_servers_filter(server_emu: Emulator, cli: Any) -> None:
    # The emulator, like Tableau, treats "*" in an eq filter as a wildcard.
    orders = find_item(server_emu, "Sales/Orders").id
    missing = cli("refresh", "--datasource", "Sales/Order*")
    assert missing.code == 1 and "does not exist" in missing.err
    assert not [j for j in server_emu.store.jobs.values() if j.item_id == orders]
    starred = rename_item(server_emu, "Sales/Quotas", "Order*")
    done = cli("refresh", "--datasource", "Sales/Order*", "--format", "json")
    assert done.code == 0, done.err
    assert {j.item_id for j in server_emu.store.jobs.values() if j.type == "RefreshExtract"} == {starred}


def test_a_scope_that_matches_nothing_is_an_error(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(HEAD + "policy:\n  scope:\n    projects: [sales]\nextracts:\n"
                           "  - datasource: Sales/Orders\n    refresh:\n      - schedule: Issue 15 03:10\n")
    for command in ("plan", "drift"):
        result = cli(command, path)
        assert result.code == 1, result.out
        assert 'policy.scope names the project "sales"' in result.err and '"Sales"' in result.err


def test_an_empty_tableau_site_is_the_default_site(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(tmp_path, "Sales/Orders")
    path.write_text(path.read_text().replace("version: 1\n", "version: 1\nsite: finance\n"))
    monkeypatch.setenv("TABLEAU_SITE", "")
    planned = cli("plan", path)
    assert planned.code == 0, planned.err  # the Default site, as --site "" would
    assert "overrides the files' site: 'finance'" in planned.err
    flagged = cli("plan", path, "--site", "")
    assert flagged.code == 0 and "overrides the files' site: 'finance'" in flagged.err


# -- export → plan round-trips every name -------------------------------------------------------------------------

_PIECES = [*"aZ09 /\t'\"[]{}:#&*!|>,-_.%@`\\", "${", "$${", "é", "e\u0301", "\u00a0", "Ω", "日本", "🙂", "[bold]",
           "[/x]", "${HOME}"]
_AWKWARD = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6).map("".join).filter(lambda s: s.strip() != "")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(item=_AWKWARD, project=_AWKWARD, other=_AWKWARD)
def test_export_then_plan_is_no_changes_for_any_name(item: str, project: str, other: str, cli: Any,
                                                      tmp_path_factory: pytest.TempPathFactory,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(flavor="server", seed="demo", job_seconds=0.0, history_days=0) as emu:
        connect_env(monkeypatch, emu)
        rename_item(emu, "Sales/Orders", item)
        rename_project(emu, "Marketing", project)
        rename_item(emu, f"{project}/Web Traffic", other)
        out = tmp_path_factory.mktemp("export") / "site.yaml"
        exported = cli("export", "--output", out)
        assert exported.code == 0, exported.err
        planned = cli("plan", out, "--detailed-exitcode")
        assert planned.code == 0, (out.read_text(), planned.out, planned.err)
        assert "No changes" in planned.out
