"""examples/policy/check_plan.py over real plans made against the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from reconciler.emulator import Emulator

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "policy" / "check_plan.py"


def _check(plan: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(plan), *args], capture_output=True, text=True,
                          timeout=60, check=False)


def _plan(cli: Any, tmp_path: Path, change: Any) -> Path:
    exported = tmp_path / "exported.yaml"
    assert cli("export", "--output", exported).code == 0
    doc = yaml.safe_load(exported.read_text(encoding="utf-8"))
    change(doc)
    file = tmp_path / "site.yaml"
    file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    out = tmp_path / "plan.json"
    made = cli("plan", file, "--out", out)
    assert made.code == 0, made.err
    return out


def _risky(doc: dict[str, Any]) -> None:
    doc["schedules"]["Early weekdays"] = {"frequency": "daily", "start": "05:30",
                                          "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"]}
    doc["schedules"]["Early weekends"] = {"frequency": "weekly", "start": "04:00", "weekdays": ["saturday"]}
    for entry in doc["extracts"]:
        if entry.get("datasource") == "Sales/Orders":
            entry["refresh"] = []
        if entry.get("datasource") == "Marketing/Campaign Performance":
            entry["refresh"] = []


def test_a_risky_plan_is_refused_with_one_line_per_violation(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    plan = _plan(cli, tmp_path, _risky)
    checked = _check(plan, "--protect-project", "Sales", "--earliest", "06:00", "--no-server-schedule-changes")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    assert 'policy: schedule["Early weekdays"]: starts at 05:30 on weekdays, before 06:00' in lines
    assert not any("Early weekends" in line and "before" in line for line in lines), "weekend only: allowed"
    deletes = [line for line in lines if "deletes a refresh task in the protected project 'Sales'" in line]
    assert deletes and all("Sales/Orders" in line for line in deletes)
    assert not any("Marketing" in line for line in lines), "Marketing is not protected"
    assert any("changes a Tableau Server schedule (create)" in line for line in lines)
    assert lines[-1].endswith("change(s).") and "policy violation(s)" in lines[-1]


def test_a_plan_within_the_rules_passes(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    def late(doc: dict[str, Any]) -> None:
        doc["schedules"]["Late weekdays"] = {"frequency": "daily", "start": "07:00",
                                             "weekdays": ["monday", "tuesday"]}

    plan = _plan(cli, tmp_path, late)
    checked = _check(plan, "--protect-project", "Sales", "--earliest", "06:00", "--max-changes", "5")
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.strip() == "The plan passes the policy (1 change(s))."
    too_many = _check(plan, "--max-changes", "0")
    assert too_many.returncode == 1 and "more than the 0 allowed" in too_many.stdout


def test_a_cloud_task_recurrence_is_checked(cloud_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    def early_task(doc: dict[str, Any]) -> None:
        for entry in doc["extracts"]:
            if entry.get("datasource") == "Sales/Pipeline":
                entry["refresh"] = [{"frequency": "weekly", "start": "03:00", "weekdays": ["monday"]}]

    plan = _plan(cli, tmp_path, early_task)
    checked = _check(plan, "--earliest", "06:00")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "Sales/Pipeline" in checked.stdout and "starts at 03:00 on weekdays" in checked.stdout


def test_a_file_that_is_not_a_plan(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format_version": "2", "resource_changes": []}))
    assert _check(other).returncode == 2
    other.write_text("not json")
    assert _check(other).returncode == 2
