"""Load and health end to end: plan's load section and apply's refusal, `reconciler load` (heatmap, JSON,
HTML/SVG pictures, --suggest), drift's unhealthy bucket from the job history, over HTTP with TSC."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator

from ..conftest import connect_env, write
from .helpers import tasks_on, writes

MOVED = ("Daily 06:00", "Every 4 Hours", "Weekly Monday 05:00", "Twice Daily")


def exported(cli: Any, tmp_path: Path) -> Path:
    out = tmp_path / "site.yaml"
    assert cli("export", "--output", out).code == 0
    return out


def ten_onto_nightly(file: Path, limit: int | None = None) -> Path:
    """The exported site with ten full refreshes moved onto "Nightly 02:00" (and a load limit)."""
    lines, moved = [], 0
    text = file.read_text()
    for line in text.splitlines():
        match = re.match(r"(\s*- schedule: )(.+)$", line)
        if match and match.group(2) in MOVED and moved < 10:
            line, moved = match.group(1) + "Nightly 02:00", moved + 1
        lines.append(line)
    assert moved == 10
    if limit is not None:
        lines += ["policy:", "  load:", f"    max_starts_per_slot: {limit}"]
    return write(file.with_name("ten.yaml"), "\n".join(lines) + "\n")


def test_plan_shows_the_nightly_slot_growing_and_a_limit_stops_apply(server_emu: Emulator, cli: Any,
                                                                     tmp_path: Path) -> None:
    ten = ten_onto_nightly(exported(cli, tmp_path))
    plan = cli("plan", ten)
    assert plan.code == 0
    assert "Refresh load (refresh starts per 15-minute slot of the week, before → after apply):" in plan.out
    assert "Mon-Sun 02:00: 10 → 20 starts (+10)" in plan.out
    assert '+ task[datasource "Executive/KPI Summary"][full @ Nightly 02:00]' in plan.out
    limited = ten_onto_nightly(exported(cli, tmp_path), limit=15)
    before = writes(server_emu)
    refused = cli("apply", limited, "--auto-approve")
    assert refused.code == 1 and writes(server_emu) == before
    assert ("The plan makes refresh starts exceed policy.load.max_starts_per_slot (15 in 15 minutes) at "
            "Mon-Sun 02:00 (10 → 20). Nothing was applied.") in refused.err
    assert "--allow-overload" in refused.err and "over the limit" in refused.out
    applied = cli("apply", limited, "--auto-approve", "--allow-overload")
    assert applied.code == 0, applied.err
    assert tasks_on(server_emu, "Executive/KPI Summary") == {("full", "Nightly 02:00"): 1}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if tag == "rect" and values.get("class") == "slot":
            self.cells.append(values)
        for name in ("src", "href"):
            if values.get(name):
                self.external.append(str(values[name]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_load_heatmap_json_and_a_self_contained_page(history_server: Emulator, cli: Any, tmp_path: Path) -> None:
    before = writes(history_server)
    text = cli("load")
    assert text.code == 0, text.err
    assert "Most refreshes running at once, per hour" in text.out
    assert re.search(r"^Mon\s+\d", text.out, re.M) and "Busiest slots:" in text.out
    assert "Mon-Fri 08:00: 13 starts" in text.out
    data = json.loads(cli("load", "--format", "json").out)
    assert data["slot_minutes"] == 15 and len(data["weekly"]) == 7 and len(data["weekly"][0]) == 96
    assert data["weekly"][0][8] == 10  # Monday 02:00: the ten Nightly 02:00 tasks
    assert data["busy"][0][9] >= 1  # Sales/Orders runs for about 1h40m: still running at 02:15
    assert data["peaks"][0]["starts"] == data["busiest_slot_starts"] == 14
    page = tmp_path / "load.html"
    assert cli("load", "--output", page).code == 0
    parser = _Page()
    parser.feed(page.read_text())
    assert len(parser.cells) == 7 * 96 and "script" not in parser.tags and not parser.external
    by_slot = {int(str(c["data-slot"])): float(str(c["data-value"])) for c in parser.cells}
    assert by_slot[24] == 14.0  # Monday 06:00, the busiest slot
    assert any("Busiest slots" in t for t in parser.text)
    picture = tmp_path / "load.svg"
    assert cli("load", "--output", picture, "--history-days", "0").code == 0
    svg = ET.fromstring(picture.read_text())
    rects = [r for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "slot"]
    assert len(rects) == 672 and rects[8].get("data-value") == "10"
    assert writes(history_server) == before, "load is read-only"
    bad = cli("load", "--output", tmp_path / "load.png")
    assert bad.code == 1 and ".html or .svg" in bad.err


def test_suggest_prints_a_patch_that_applies_and_validates(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exported(cli, tmp_path)
    site = Path("site.yaml")
    suggested = cli("load", site, "--suggest", "--history-days", "0")
    assert suggested.code == 0, suggested.err
    patch = suggested.out
    assert patch.startswith("--- a/site.yaml\n+++ b/site.yaml\n")
    assert "+  Daily 06:15:" in patch and '+    start: "06:15"' in patch
    assert "Suggested: move" in suggested.err
    write(tmp_path / "stagger.patch", patch)
    applied = subprocess.run(["git", "apply", "stagger.patch"], capture_output=True, text=True, check=False,
                             cwd=tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert cli("validate", site).code == 0
    plan = cli("plan", site)
    assert plan.code == 0 and "Daily 06:15" in plan.out
    no_paths = cli("load", "--suggest")
    assert no_paths.code == 1 and "give the PATHs" in no_paths.err


def test_drift_names_failing_slow_and_stale_tasks_in_every_format(history_server: Emulator, cli: Any,
                                                                   tmp_path: Path) -> None:
    site = exported(cli, tmp_path)
    text = cli("drift", site)
    assert text.code == 0, text.err  # unhealthy alone is not drift
    slow = re.search(r'task\[datasource "Sales/Orders"\]\[full @ Nightly 02:00\]: slow: its longest refresh took '
                     r"1h\d\dm, near Tableau Cloud's 2h00m limit.*median 1h\d\dm, worst 1h\d\dm", text.out)
    assert slow, text.out
    assert re.search(r'"Marketing/Social Mentions"\]\[full @ Hourly Business Hours\]: 3 consecutive failed refreshes '
                     r"\(task [0-9a-f-]+\); 3 of \d+ runs failed in the last 14 days", text.out)
    assert re.search(r'"Operations/Warehouse Capacity"\]\[full @ Weekly Monday 05:00\]: stale extract: no successful '
                     r"refresh in the last 14 days although its schedule runs at least every 7d", text.out)
    assert re.search(r'"Operations/Legacy Oracle Inventory"\]\[full @ Nightly 02:00\]: \d+ consecutive failed '
                     r"refreshes .*no success in the last 14 days", text.out)
    for fmt in ("markdown", "junit", "json"):
        out = cli("drift", site, "--format", fmt).out
        assert "near Tableau Cloud" in out and "Social Mentions" in out and "stale extract" in out, fmt
    entries = json.loads(cli("drift", site, "--format", "json").out)["entries"]
    orders = next(e for e in entries if e["address"] == 'task[datasource "Sales/Orders"][full @ Nightly 02:00]')
    assert orders["figures"]["near_limit"] is True and orders["figures"]["worst_seconds"] > 5400
    quiet = cli("drift", site, "--history-days", "0")
    assert "near Tableau Cloud" not in quiet.out and "Social Mentions" in quiet.out  # the task list still says so


def test_drift_on_cloud_reads_the_history_too(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(flavor="cloud", seed="demo", job_seconds=0.0) as emu:
        connect_env(monkeypatch, emu)
        site = exported(cli, tmp_path)
        result = cli("drift", site, "--format", "json")
        assert result.code == 0, result.err
        entries = json.loads(result.out)["entries"]
        assert any("near Tableau Cloud" in e["detail"] for e in entries)
        too_long = cli("drift", site, "--history-days", "91")
        assert too_long.code == 1 and "--history-days must be between 0 and 90" in too_long.err
