"""The generated reference pages cover every command, option and schema key; the site's nav covers every page."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import typer
import yaml

from reconciler.cli import app
from reconciler.desired.schema import DEPLOYMENT_SCHEMA_FILE, load_schema

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "tools" / "docs_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands(group: Any, path: str = "reconciler") -> list[tuple[str, Any]]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _commands(command, f"{path} {name}")
        else:
            found.append((f"{path} {name}", command))
    return found


def test_cli_reference_has_every_command_and_option() -> None:
    text = _generator().cli_markdown()
    commands = _commands(typer.main.get_command(app))
    assert len(commands) >= 10
    for path, command in commands:
        assert f"## `{path}`" in text
        for param in command.params:
            if param.param_type_name == "option" and not param.hidden:
                assert f"`{param.opts[0]}`" in text, f"{path} {param.opts[0]}"
    assert "`--expect-digest`" in text and "`--version`" in text and "## `reconciler emulator serve`" in text


def _keys(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            found.add(name)
            found |= _keys(sub)
        for key, sub in schema.items():
            if key != "properties":
                found |= _keys(sub)
    elif isinstance(schema, list):
        for sub in schema:
            found |= _keys(sub)
    return found


def test_file_format_and_plan_pages_have_every_key() -> None:
    generator = _generator()
    for text, schema in ((generator.file_format_markdown(), load_schema()),
                         (generator.deployment_markdown(),
                          {"properties": load_schema(DEPLOYMENT_SCHEMA_FILE)["properties"]}),
                         (generator.plan_markdown(),
                          json.loads((ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8")))):
        missing = [key for key in _keys(schema) if f"{key}`" not in text]
        assert missing == []


def test_markers_are_replaced_by_the_hook() -> None:
    generator = _generator()
    for page, marker in (("cli.md", "cli"), ("file-format.md", "file-format"), ("plan-format.md", "plan"),
                         ("file-format.md", "deployment")):
        markdown = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert f"<!-- reference: {marker} -->" in markdown
        assert "<!-- reference:" not in generator.on_page_markdown(markdown)


def _nav_pages(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(_nav_pages(n) for n in nav))
    if isinstance(nav, dict):
        return set().union(*(_nav_pages(v) for v in nav.values()))
    return set()


def test_every_page_is_in_the_nav_and_the_ledger_is_there() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert _nav_pages(config["nav"]) == pages
    assert "tableau-behaviour.md" in pages and config["strict"] is True
