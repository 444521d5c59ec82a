"""Issue 15, section 5: output never breaks. Hostile names print literally in every output; ordinary mistakes
are one-paragraph errors with exit 1 (never "unexpected error", exit 3); NO_COLOR means no escape codes at all."""

from __future__ import annotations

import html
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.apply import ApplyResult, Outcome
from reconciler.commands.apply import _report
from reconciler.commands.output import Output
from reconciler.emulator import Emulator
from reconciler.errors import ApplyFailed
from reconciler.plan.addresses import quote
from tests.conftest import connect_env
from tests.e2e.helpers import writes
from tests.e2e.names import rename_item

GOOD = 'version: 1\nschedules:\n  Nightly 02:00:\n    frequency: daily\n    start: "02:00"\n' \
       'extracts:\n  - datasource: Sales/Orders\n    refresh:\n      - schedule: Nightly 02:00\n'


def _clean(result: Any) -> None:
    text = result.out + result.err
    assert "Traceback" not in text and "unexpected error" not in text, text


# -- hostile names in every output ---------------------------------------------------------------------------------

_MARKUP = st.lists(st.sampled_from(['[datasource "x"]', "[/x]", "[bold]", "[/]", "[red]", "[link=x]", "[", "]",
                                    "\\", "a", " ", "Ω", "${", "$${"]), min_size=1, max_size=4).map("".join) \
    .filter(lambda s: s.strip() != "" and "/" not in s.replace("[/", ""))


def _doc(name: str, schedule: str) -> dict[str, Any]:
    return {"version": 1,
            "schedules": {schedule.replace("${", "$${"): {"frequency": "daily", "start": "04:10"}},
            "extracts": [{"datasource": {"project": ["Sales"], "name": name.replace("${", "$${")},
                          "refresh": [{"schedule": schedule.replace("${", "$${")}]}]}


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@example(name='[datasource "x"]')
@example(name="[/x]")
@example(name="[bold]")
@given(name=_MARKUP)
def test_every_output_prints_hostile_names_literally(name: str, cli: Any, tmp_path_factory: pytest.TempPathFactory,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    tmp = tmp_path_factory.mktemp("hostile")
    schedule = f"{name} 04:10"
    shown = quote(f"Sales/{name}")[1:-1]  # as it appears inside an address
    with Emulator(flavor="server", seed="demo", job_seconds=0.0, history_days=0) as emu:
        connect_env(monkeypatch, emu)
        monkeypatch.setenv("RECONCILER_RETRY_BASE", "0.001")
        rename_item(emu, "Sales/Orders", name)
        file = tmp / "site.yaml"
        file.write_text(yaml.safe_dump(_doc(name, schedule), allow_unicode=True, sort_keys=False))
        for fmt in ("text", "markdown", "json"):
            planned = cli("plan", file, "--format", fmt)
            assert planned.code == 0, planned.err
            _clean(planned)
            if fmt == "json":
                assert any(shown in c["address"] for c in json.loads(planned.out)["resource_changes"])
            else:
                assert shown in planned.out or html.escape(shown) in planned.out, (fmt, planned.out)
        for fmt in ("text", "json", "markdown", "junit"):
            drifted = cli("drift", file, "--format", fmt)
            assert drifted.code == 2, drifted.err
            _clean(drifted)
        # Every write refused (the apply lock's first): a clean error, no traceback.
        emu.configure_faults(fail_rate=1.0, fault_scope="writes")
        refused = cli("apply", file, "--auto-approve")
        _clean(refused)
        assert refused.code == 1
        emu.configure_faults(fail_rate=0.0)
        # The failure report, for changes that failed after writes were made, names each address whole.
        addresses = [c["address"] for c in json.loads(cli("plan", file, "--format", "json").out)["resource_changes"]]
        capsys.readouterr()
        with pytest.raises(ApplyFailed):
            _report(ApplyResult(tuple(Outcome(a, "create", "failed", code="400000", detail=f"refused {name}")
                                      for a in addresses)), Output(), None, 6)
        report = capsys.readouterr()
        assert "Apply complete:" in report.out
        for address in addresses:
            assert address in report.err
        applied = cli("apply", file, "--auto-approve")
        assert applied.code == 0, applied.err
        _clean(applied)
        refreshed = cli("refresh", "--datasource", f"Sales/{name}")
        _clean(refreshed)
        assert refreshed.code == 0, refreshed.err
        assert f"Sales/{name}" in refreshed.out


def _markup_closer_site(emu: Emulator, tmp_path: Path) -> Path:
    """Sales/Orders renamed "[/x]" (a rich closing tag), and a file declaring its refresh."""
    rename_item(emu, "Sales/Orders", "[/x]")
    file = tmp_path / "site.yaml"
    file.write_text(yaml.safe_dump(_doc("[/x]", "Nightly 02:00"), sort_keys=False))
    return file


def test_a_viewers_plan_names_hostile_addresses(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    file = _markup_closer_site(server_emu, tmp_path)
    monkeypatch.delenv("TABLEAU_PAT_NAME")
    monkeypatch.delenv("TABLEAU_PAT_SECRET")
    monkeypatch.setenv("TABLEAU_USERNAME", "viewer")
    monkeypatch.setenv("TABLEAU_PASSWORD", "viewer")
    planned = cli("plan", file)
    _clean(planned)
    assert planned.code == 0
    assert "lacks the permission" in planned.err and "Sales/[/x]" in planned.err


def test_no_color_means_no_escape_codes(server_emu: Emulator, cli: Any, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal, as far as rich can tell
    file = tmp_path / "site.yaml"
    file.write_text(GOOD.replace("version: 1\n", "version: 1\nsite: elsewhere\n"))
    planned = cli("plan", file, "--site", "")  # warns (the flag overrides the file's site)
    assert "Warning:" in planned.err
    assert "\x1b[" not in planned.err and "\x1b[" not in planned.out
    broken = cli("plan", tmp_path / "missing.yaml")
    assert broken.code == 1 and "\x1b[" not in broken.err


def test_plan_and_drift_say_which_files_were_read(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    for command in ("plan", "drift"):
        result = cli(command, tmp_path)
        assert "Read 1 file: " in result.err and "a.yaml" in result.err


# -- ordinary mistakes: exit 1, one paragraph -----------------------------------------------------------------------

@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield int(held.getsockname()[1])


MISTAKES: dict[str, tuple[list[str], str]] = {
    "site URL pasted": (["plan", "@file", "--server", "@url/t/finance"], "--site finance"),
    "browser URL pasted": (["plan", "@file", "--server", "@url/#/site/finance/home"], "--site finance"),
    "API URL pasted": (["plan", "@file", "--server", "@url/api/3.25"], "without /api/"),
    "plan --out a directory": (["plan", "@file", "--out", "@tmp"], "is a directory"),
    "drift --output a directory": (["drift", "@file", "--output", "@tmp"], "is a directory"),
    "export --output a directory": (["export", "--output", "@tmp"], "is a directory"),
    "export --output under a file": (["export", "--output", "@file/x.yaml"], "is a file, not a directory"),
    "apply --journal in a missing directory": (["apply", "@file", "--auto-approve", "--journal",
                                                "@tmp/missing/j.jsonl"], "does not exist"),
    "--api-version abc": (["plan", "@file", "--api-version", "abc"], "is not a REST API version"),
    "emulator --tasks -5": (["emulator", "serve", "--seed", "synthetic", "--tasks=-5"], "--tasks"),
    "emulator port in use": (["emulator", "serve", "--port", "@port"], "cannot start"),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_ordinary_mistakes_are_plain_errors(case: str, server_emu: Emulator, cli: Any, tmp_path: Path,
                                            busy_port: int) -> None:
    args, says = MISTAKES[case]
    file = tmp_path / "site.yaml"
    file.write_text(GOOD)
    argv = [a.replace("@file", str(file)).replace("@tmp", str(tmp_path)).replace("@url", server_emu.url)
            .replace("@port", str(busy_port)) for a in args]
    before = writes(server_emu)
    result = cli(*argv)
    _clean(result)
    assert result.code == 1, result.err
    assert "Error: " in result.err and says in result.err, result.err
    assert writes(server_emu) == before
    assert not (tmp_path / "missing").exists()


# -- every command, generated bad options ---------------------------------------------------------------------------

_JUNK = st.text(alphabet="abcXYZ019-_./:%[]{} ", min_size=1, max_size=12).filter(
    lambda s: s.strip() != "" and not s.startswith("-"))
_NOT = {"--format": ("text", "json", "markdown", "junit"), "--via": ("rest", "vizportal"),
        "--server-move-strategy": ("rest", "vizportal"), "--flavor": ("server", "cloud"),
        "--seed": ("demo", "empty", "synthetic"), "--fault-scope": ("all", "writes")}


def _bad(option: str) -> st.SearchStrategy[str]:
    return _JUNK.filter(lambda s: s not in _NOT.get(option, ()))


_BAD_OPTIONS: list[tuple[list[str], str, st.SearchStrategy[str]]] = [
    (["validate", "@file"], "--flavor", _bad("--flavor")),
    (["plan", "@file"], "--format", _bad("--format")),
    (["plan", "@file"], "--target", _JUNK),
    (["plan", "@file"], "--api-version", _JUNK.filter(lambda s: not s.replace(".", "").isdigit())),
    (["plan", "@file"], "--out", st.sampled_from(["@tmp", "@file/plan.json"])),
    (["plan", "@file"], "--server", _JUNK.map(lambda s: f"@url/t/{s.strip('/') or 'x'}")),
    (["drift", "@file"], "--format", _bad("--format")),
    (["drift", "@file"], "--output", st.sampled_from(["@tmp", "@file/d.txt"])),
    (["apply", "@file", "--auto-approve"], "--parallelism", st.integers(-100, 0).map(str)),
    (["apply", "@file", "--auto-approve"], "--parallelism", st.integers(33, 10_000).map(str)),
    (["apply", "@file", "--auto-approve"], "--server-move-strategy", _bad("--server-move-strategy")),
    (["apply", "@file", "--auto-approve"], "--journal", st.sampled_from(["@tmp", "@tmp/no/such/j.jsonl"])),
    (["export"], "--project", _JUNK),
    (["export"], "--output", st.sampled_from(["@tmp", "@file/x.yaml"])),
    (["refresh", "--datasource", "Sales/Orders"], "--timeout", st.integers(-1000, 0).map(str)),
    (["refresh", "--datasource", "Sales/Orders"], "--format", _bad("--format")),
    (["refresh", "--datasource", "Sales/Orders"], "--via", _bad("--via")),
    (["refresh"], "--datasource", _JUNK),
    (["refresh"], "--task", _JUNK),
    (["refresh", "--datasource", "Sales/Orders"], "--api-version", _JUNK.filter(lambda s: not s.replace(".", "")
                                                                                 .isdigit())),
    (["reencrypt", "--auto-approve"], "--api-version", _JUNK.filter(lambda s: not s.replace(".", "").isdigit())),
    (["reencrypt", "--auto-approve"], "--server", _JUNK.map(lambda s: f"@url/api/{s.strip('/') or 'x'}")),
    (["emulator", "serve"], "--tasks", st.integers(-10_000, -1).map(str)),
    (["emulator", "serve"], "--port", st.integers(65536, 10**6).map(str)),
    (["emulator", "serve"], "--flavor", _bad("--flavor")),
    (["emulator", "serve"], "--seed", _bad("--seed")),
    (["emulator", "serve"], "--fail-rate", st.floats(1.01, 100).map(str)),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_every_command_refuses_bad_options_cleanly(data: st.DataObject, cli: Any,
                                                   tmp_path_factory: pytest.TempPathFactory,
                                                   monkeypatch: pytest.MonkeyPatch, bad_options_emu: Emulator) -> None:
    tmp = tmp_path_factory.mktemp("bad")
    file = tmp / "site.yaml"
    file.write_text(GOOD)
    command, option, values = data.draw(st.sampled_from(_BAD_OPTIONS))
    value = data.draw(values)
    argv = [*command, f"{option}={value}"]
    argv = [a.replace("@file", str(file)).replace("@tmp", str(tmp)).replace("@url", bad_options_emu.url)
            for a in argv]
    connect_env(monkeypatch, bad_options_emu)
    before = writes(bad_options_emu)
    result = cli(*argv)
    _clean(result)
    assert result.code == 1, (argv, result.out, result.err)
    assert "Error: " in result.err, (argv, result.err)
    assert writes(bad_options_emu) == before


@pytest.fixture(scope="module")
def bad_options_emu() -> Iterator[Emulator]:
    with Emulator(flavor="server", seed="demo", job_seconds=0.0) as emu:
        yield emu


def test_refresh_live_table_prints_hostile_labels() -> None:
    from io import StringIO

    from rich.console import Console

    from reconciler.commands.refresh import _table, _Tracked
    from reconciler.tableau.jobs import JobStart

    out = StringIO()
    Console(file=out, force_terminal=True, width=200).print(_table([_Tracked(JobStart("data source Sales/[/x]",
                                                                                      "j1"))]))
    assert "Sales/[/x]" in out.getvalue()


def test_apply_progress_bar_on_a_terminal_prints_hostile_names(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    file = _markup_closer_site(server_emu, tmp_path)
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal: the progress bar shows each address as it is applied
    applied = cli("apply", file, "--auto-approve")
    _clean(applied)
    assert applied.code == 0, applied.err


def test_export_into_a_missing_directory_creates_it_and_says_so(server_emu: Emulator, cli: Any,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "new" / "tableau" / "site.yaml"
    result = cli("export", "--output", out)
    assert result.code == 0, result.err
    assert out.is_file()
    assert f"(created the directory {out.parent} for it)" in result.err
