"""The CI integration files in examples/ci and .pre-commit-hooks.yaml use commands and flags that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from reconciler.cli import main

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"
FILES = [ROOT / ".pre-commit-hooks.yaml", *sorted(p for p in (ROOT / "examples" / "ci").glob("*.yml") if p != WORKFLOW)]


def _commands(path: Path) -> list[list[str]]:
    yaml.safe_load(path.read_text())  # the file itself must be valid YAML
    found = []
    for line in path.read_text().splitlines():
        match = re.search(r"(?<![\w-])reconciler ([a-z]+[^\n|>;&]*)", line)
        if match and not line.lstrip().startswith("#"):
            words = shlex.split(match.group(1).replace("$", ""))
            found.append(words)
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_integration_files_use_real_commands_and_flags(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands(path)
    assert commands, f"{path.name} runs no reconciler command"
    for words in commands:
        command = words[0]
        capsys.readouterr()
        assert main([command, "--help"]) == 0, f"{path.name}: unknown command {command!r}"
        help_text = capsys.readouterr().out
        for flag in (w.split("=")[0] for w in words[1:] if w.startswith("--")):
            assert flag in help_text, f"{path.name}: `reconciler {command}` has no {flag}"


def test_the_github_workflow_uses_the_action_with_its_inputs() -> None:
    import reconciler

    action = yaml.safe_load((ROOT / "action.yml").read_text())
    workflow = yaml.safe_load(WORKFLOW.read_text())
    uses = [step for job in workflow["jobs"].values() for step in job["steps"]
            if str(step.get("uses", "")).startswith("reconciler-dev/reconciler@")]
    assert {step["with"]["command"] for step in uses} == {"validate", "plan", "apply", "drift"}
    for step in uses:
        assert step["uses"] == f"reconciler-dev/reconciler@v{reconciler.__version__}"
        assert set(step["with"]) <= set(action["inputs"]), step
    assert action["inputs"]["version"]["default"] == reconciler.__version__, "the action pins the released package"
