"""A synthetic site read end to end: export's bytes, the streamed task list, drift's requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.emulator import Emulator
from reconciler.spec import export
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.read import read_site

from ..conftest import connect_env


@pytest.fixture(params=["server", "cloud"])
def synthetic(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(flavor=request.param, seed="synthetic", tasks=3000, datasources=1500, workbooks=750, schedules=40,
                  projects=30, job_seconds=0.0) as emu:
        connect_env(monkeypatch, emu)
        yield emu


def test_export_writes_the_bytes_the_python_emitter_wrote(synthetic: Emulator, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
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
