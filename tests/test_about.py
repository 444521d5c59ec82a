"""reconciler --version, reconciler schema, and shell completion through the installed console script."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import reconciler
from reconciler.desired.schema import load_schema

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "reconciler"


def test_version_names_the_tool_the_client_and_python(cli: Any) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out.splitlines() == [
        f"reconciler {reconciler.__version__}",
        "tableauserverclient 0.42",
        f"Python {platform.python_version()} ({platform.python_implementation()}, {platform.system()})",
    ]


def test_version_matches_the_package_metadata() -> None:
    from importlib import metadata

    assert metadata.version("reconciler") == reconciler.__version__
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{reconciler.__version__}"' in pyproject
    assert f"## [{reconciler.__version__}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "file"), [("desired-state", "reconciler.schema.json"),
                                             ("deployment", "deployment.schema.json"),
                                             ("plan", "plan.schema.json")])
def test_schema_prints_the_installed_schemas(cli: Any, name: str, file: str) -> None:
    args = ("schema",) if name == "desired-state" else ("schema", name)
    result = cli(*args)
    assert result.code == 0
    printed = json.loads(result.out)
    assert printed == json.loads((ROOT / "schemas" / file).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed["$id"].startswith("https://") and printed["$id"].endswith(file)


def test_schema_refuses_an_unknown_name(cli: Any) -> None:
    result = cli("schema", "pipeline")
    assert result.code == 1 and "desired-state, deployment, plan" in result.err


def test_schemastore_catalog_entry_points_at_the_schema() -> None:
    entry = json.loads((ROOT / "schemas" / "schemastore-catalog-entry.json").read_text(encoding="utf-8"))
    assert entry["url"] == load_schema()["$id"]
    assert "tableau/**/*.yaml" in entry["fileMatch"] and "reconciler*.yaml" in entry["fileMatch"]
    assert entry["name"] and entry["description"]


def test_drift_json_carries_the_version(server_emu: Any, cli: Any, tmp_path: Path) -> None:
    file = tmp_path / "site.yaml"
    file.write_text("version: 1\n")
    result = cli("drift", file, "--format", "json")
    assert json.loads(result.out)["reconciler_version"] == reconciler.__version__


needs_script = pytest.mark.skipif(not SCRIPT.exists(), reason="the reconciler console script is not installed")


def _complete(shell: str, words: str, **extra: str) -> str:
    env = {**os.environ, "_RECONCILER_COMPLETE": f"complete_{shell}", **extra}
    if shell == "bash":
        env.update(COMP_WORDS=words, COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)))
    else:
        env["_TYPER_COMPLETE_ARGS"] = words
    done = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_script
def test_bash_completion_script_completes_commands_and_options() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    program = ('eval "$(reconciler --show-completion)"; COMP_WORDS=(reconciler ap); COMP_CWORD=1; '
               '_reconciler_completion reconciler; printf "%s\\n" "${COMPREPLY[@]}"')
    env = {**os.environ, "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([bash, "-c", program], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["apply"]


@needs_script
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_protocol_of_each_shell(shell: str) -> None:
    fish = {"_TYPER_COMPLETE_FISH_ACTION": "get-args"} if shell == "fish" else {}
    commands = _complete(shell, "reconciler dr", **fish)
    assert "drift" in commands and "apply" not in commands
    options = _complete(shell, "reconciler apply --expect", **fish)
    assert "--expect-digest" in options
