"""Fixtures shared by the end-to-end tests: an emulator on 127.0.0.1 port 0, and the CLI run in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.emulator import Emulator
from reconciler.plan import serialize
from tests import plan_contract

_CREDENTIAL_VARS = ("TABLEAU_PAT_NAME", "TABLEAU_PAT_SECRET", "TABLEAU_USERNAME", "TABLEAU_PASSWORD", "TABLEAU_JWT",
                    "TABLEAU_SERVER", "TABLEAU_SITE")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True, scope="session")
def _plans_match_their_schema() -> Iterator[None]:
    """Every plan any test serializes (saved plans, `plan --format json`) is validated against the plan schema."""
    original = serialize.plan_to_dict

    def checked(plan: serialize.Plan) -> dict[str, object]:
        data = original(plan)
        plan_contract.validate_plan(json.loads(json.dumps(data)))
        plan_contract.validated[0] += 1
        return data

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(serialize, "plan_to_dict", checked)
        yield


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own Tableau settings; colour is off so output is comparable."""
    for name in _CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``reconciler ARGS`` in-process; returns (code, stdout, stderr)."""

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def _emulator(flavor: str, seed: str = "demo", **options: object) -> Iterator[Emulator]:
    """Jobs finish at once; no seeded job history unless ``history_days`` asks for it (14 days of the demo's
    history are 4,000 jobs: 50 ms to seed and read by every drift, for tests that look at none of them)."""
    options.setdefault("history_days", 0)
    with Emulator(flavor=flavor, seed=seed, job_seconds=0.0, **options) as emu:
        yield emu


def connect_env(monkeypatch: pytest.MonkeyPatch, emu: Emulator, site: str = "") -> None:
    """Point reconciler at ``emu`` through the environment, as a user would."""
    monkeypatch.setenv("TABLEAU_SERVER", emu.url)
    monkeypatch.setenv("TABLEAU_SITE", site)
    monkeypatch.setenv("TABLEAU_PAT_NAME", emu.pat_name)
    monkeypatch.setenv("TABLEAU_PAT_SECRET", emu.pat_secret)


@pytest.fixture
def server_emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A Tableau Server emulator with the demo seed (no job history); the environment points at its Default
    site."""
    for emu in _emulator("server"):
        connect_env(monkeypatch, emu)
        yield emu


@pytest.fixture
def cloud_emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A Tableau Cloud emulator with the demo seed (no job history); the environment points at its Default
    site."""
    for emu in _emulator("cloud"):
        connect_env(monkeypatch, emu)
        yield emu


@pytest.fixture
def history_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """``server_emu`` with the demo's 14 days of job history (its slow, failing and stale tasks' stories)."""
    for emu in _emulator("server", history_days=14):
        connect_env(monkeypatch, emu)
        yield emu


@pytest.fixture
def empty_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    for emu in _emulator("server", seed="empty"):
        connect_env(monkeypatch, emu)
        yield emu


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


__all__ = ["CliResult", "connect_env", "write"]
