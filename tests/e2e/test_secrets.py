"""No secret ever appears in output, files or errors: every command, with --debug, with each kind of credential."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator
from tests.e2e.test_plan_apply import export_doc, save, set_extract


def _jwt(subject: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': subject, 'nonce': uuid.uuid4().hex})}.c2lnbmF0dXJl"


def _assert_clean(secrets: list[str], texts: list[str]) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"a secret leaked: ...{text[max(0, text.find(secret) - 80):][:200]}..."


def _run_everything(cli: Any, tmp_path: Path) -> list[str]:
    """Every server command, with --debug, writing every kind of file; returns all output and file contents."""
    texts: list[str] = []

    def run(*args: Any) -> None:
        result = cli(*args, "--debug")
        texts.extend([result.out, result.err])

    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Pipeline", refresh=[{"schedule": "Daily 06:00", "type": "full"}])
    file = save(tmp_path, doc)
    run("validate", file)
    run("plan", file, "--out", tmp_path / "plan.json")
    run("plan", file, "--format", "json")
    run("plan", file, "--format", "markdown")
    run("apply", tmp_path / "plan.json", "--auto-approve", "--journal", tmp_path / "journal.jsonl")
    for fmt in ("text", "json", "markdown", "junit"):
        run("drift", file, "--format", fmt, "--output", tmp_path / f"drift.{fmt}")
    run("export", "--output", tmp_path / "export.yaml")
    run("refresh", "--datasource", "Sales/Orders", "--format", "json")
    run("refresh", "--datasource", "Operations/Legacy Oracle Inventory")
    run("reencrypt", "--auto-approve")
    run("plan", tmp_path / "missing.yaml")
    texts.extend(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    return texts


def test_a_pat_secret_never_appears(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    texts = _run_everything(cli, tmp_path)
    assert any("Apply complete" in t for t in texts), "the commands really ran"
    _assert_clean([server_emu.pat_secret], texts)


def test_a_jwt_never_appears(server_emu: Emulator, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = _jwt("admin")
    monkeypatch.delenv("TABLEAU_PAT_NAME")
    monkeypatch.delenv("TABLEAU_PAT_SECRET")
    monkeypatch.setenv("TABLEAU_JWT", token)
    texts = _run_everything(cli, tmp_path)
    assert any("Apply complete" in t for t in texts)
    _assert_clean([token, token.split(".")[1]], texts)


@pytest.mark.parametrize("kind", ["pat", "password", "jwt"])
def test_refused_credentials_are_not_echoed(kind: str, server_emu: Emulator, cli: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"wrong-{uuid.uuid4().hex}"
    for name in ("TABLEAU_PAT_NAME", "TABLEAU_PAT_SECRET"):
        monkeypatch.delenv(name)
    if kind == "pat":
        monkeypatch.setenv("TABLEAU_PAT_NAME", "admin-pat")
        monkeypatch.setenv("TABLEAU_PAT_SECRET", secret)
    elif kind == "password":
        monkeypatch.setenv("TABLEAU_USERNAME", "admin")
        monkeypatch.setenv("TABLEAU_PASSWORD", secret)
    else:
        monkeypatch.setenv("TABLEAU_JWT", secret)
    file = tmp_path / "site.yaml"
    file.write_text("version: 1\n")
    result = cli("plan", file, "--debug")
    assert result.code == 1
    assert "refused to sign in" in result.err
    _assert_clean([secret], [result.out, result.err])


def test_insecure_warns_every_time(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    file = tmp_path / "site.yaml"
    file.write_text("version: 1\n")
    for _ in range(2):
        result = cli("plan", file, "--insecure")
        assert result.code == 0
        assert "TLS certificates are NOT verified" in result.err
