"""A non-administrator's plan names the changes they may not make, and apply refuses before any write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator
from tests.e2e.helpers import item_path, tasks_on, writes
from tests.e2e.test_plan_apply import export_doc, save, set_extract


def _as(monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    monkeypatch.delenv("TABLEAU_PAT_NAME")
    monkeypatch.delenv("TABLEAU_PAT_SECRET")
    monkeypatch.setenv("TABLEAU_USERNAME", user)
    monkeypatch.setenv("TABLEAU_PASSWORD", user)


def _owned_by(emu: Emulator, user: str) -> tuple[str, str]:
    """A data source with tasks owned by ``user``, and one owned by someone else."""
    store = emu.store
    owner = next(u.id for u in store.users.values() if u.name == user and u.site_id == store.site_by_content_url(
        "").id)  # type: ignore[union-attr]
    with_tasks = {t.item_id for t in store.tasks.values()}
    mine = next(i for i in store.items.values() if i.kind == "datasource" and i.owner_id == owner
                and i.id in with_tasks)
    theirs = next(i for i in store.items.values() if i.kind == "datasource" and i.owner_id != owner
                  and i.id in with_tasks)
    return item_path(emu, "datasource", mine.id), item_path(emu, "datasource", theirs.id)


def test_a_viewer_is_told_and_apply_writes_nothing(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    doc["schedules"]["Nightly 02:00"]["start"] = "03:00"
    file = save(tmp_path, doc)
    _as(monkeypatch, "viewer")
    planned = cli("plan", file)
    assert planned.code == 0
    assert "'viewer' (Viewer) lacks the permission for 1 of the planned changes" in planned.err
    assert 'schedule["Nightly 02:00"]: server schedules are shared by every site' in planned.err
    before = writes(server_emu)
    refused = cli("apply", file, "--auto-approve")
    assert refused.code == 1
    assert "nothing was applied" in refused.err
    assert writes(server_emu) == before


def test_an_owner_may_change_their_own_items_only(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    doc = export_doc(cli, tmp_path)
    mine, theirs = _owned_by(server_emu, "etl")
    set_extract(doc, "datasource", mine, refresh=[{"schedule": "Daily 06:00", "type": "full"}])
    file = save(tmp_path, doc)
    _as(monkeypatch, "etl")
    planned = cli("plan", file)
    assert "lacks the permission" not in planned.err, planned.err
    assert cli("apply", file, "--auto-approve").code == 0
    assert tasks_on(server_emu, mine) == {("full", "Daily 06:00"): 1}

    set_extract(doc, "datasource", theirs, refresh=[])
    refused = cli("apply", save(tmp_path, doc), "--auto-approve")
    assert refused.code == 1
    assert f'task[datasource "{theirs}"]' in refused.err
    assert "only the data source's owner or a site administrator may change its refresh tasks" in refused.err
    assert tasks_on(server_emu, theirs), "nothing was deleted"
