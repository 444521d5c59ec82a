"""A synthetic site read end to end: export's bytes, the streamed task list, drift's requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.desired import export
from reconciler.emulator import Emulator
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.read import read_site

from ..conftest import connect_env


@pytest.fixture(params=["server", "cloud"])
def synthetic(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(flavor=request.param, seed="synthetic", tasks=3000, datasources=1500, workbooks=750, schedules=40,
                  projects=30, job_seconds=0.0) as emu:
        connect_env(monkeypatch, emu)
        yield emu


def test_export_writes_the_bytes_the_python_emitter_wrote(synthetic: Emulator, cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "site.yaml"
    result = cli("export", "--output", out)
    assert result.code == 0, result.err
    settings = ConnectionSettings(server=synthetic.url, site="", credentials=Credentials(
        "pat", synthetic.pat_name, synthetic.pat_secret))
    with connect(settings) as conn:
        live = read_site(conn, None, schedule_details="used")
    assert len(live.tasks) == 3000
    before = yaml.dump(export.export_document(live), Dumper=export._Dumper, sort_keys=False, allow_unicode=True,
                       default_flow_style=False, width=120)
    written = out.read_text(encoding="utf-8")
    assert export._dumper_for(export.export_document(live)) is export._FastDumper
    assert "\n".join(line for line in written.split("\n") if not line.startswith("#")) == before


def schedule_details_read(emu: Emulator) -> int:
    return sum(n for route, n in emu.stats()["by_route"].items()
               if route.startswith("GET ") and route.rstrip("/").endswith("schedules/{schedule_id}"))


def test_drift_reads_only_the_declared_schedules_details(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    exported = tmp_path / "site.yaml"
    assert cli("export", "--output", exported).code == 0
    doc = yaml.safe_load(exported.read_text())
    kept = sorted(doc["schedules"])[0]
    doc["schedules"] = {kept: doc["schedules"][kept]}
    doc.pop("referenced_schedules", None)  # their details are read too: they are declared
    doc["extracts"] = [e for e in doc["extracts"] if all(r["schedule"] == kept for r in e.get("refresh", []))]
    file = tmp_path / "one-schedule.yaml"
    file.write_text(yaml.safe_dump(doc, sort_keys=False))
    server_emu.reset_stats()
    result = cli("drift", file, "--format", "json")
    assert result.code == 2, result.err
    assert schedule_details_read(server_emu) == 1  # the declared one; the others are described from the list
    report = json.loads(result.out)
    undeclared = [e for e in report["entries"]
                  if e["bucket"] == "unmanaged" and e["address"].startswith("schedule[")]
    assert undeclared and all(" schedule; not declared in any file; " in e["detail"] for e in undeclared)
