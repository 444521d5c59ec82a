"""apply never does more than the files and flags say: prune stays inside policy.scope and leaves shared and
non-Extract schedules alone, protect holds for schedules too, max_deletes counts schedule deletes, and a
--target apply touches only its target. Each claim is checked on the emulator's own record of changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator
from tests.e2e.helpers import item_path, site_id, without_apply_lock, writes
from tests.e2e.test_plan_apply import export_doc, save


def _task_paths(emu: Emulator) -> dict[str, tuple[str, str, str]]:
    """Every task on the emulator: id → (site id, item kind, item path)."""
    with emu.store.lock:
        return {t.id: (t.site_id, t.item_kind, item_path(emu, t.item_kind, t.item_id))
                for t in emu.store.tasks.values()}


SPARE = {"Spare 04:00": {"frequency": "daily", "start": "04:00"},
         "Spare Sunday": {"frequency": "weekly", "start": "05:00", "weekdays": ["sunday"]}}


def _with_spare_schedules(cli: Any, tmp_path: Path) -> dict[str, Any]:
    """The exported site plus two new schedules no task uses; applied, then returned."""
    doc = export_doc(cli, tmp_path)
    doc["schedules"].update(SPARE)
    applied = cli("apply", save(tmp_path, doc, "spare.yaml"), "--auto-approve")
    assert applied.code == 0, applied.err
    return doc


def _without_schedules(doc: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {**doc, "schedules": {n: s for n, s in doc["schedules"].items() if n not in names}}


def test_prune_deletes_nothing_outside_its_scope(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["extracts"] = []  # nothing declared: only the scope limits what prune may delete
    doc["policy"] = {"prune": True, "scope": {"projects": ["Marketing"]}, "max_deletes": 1000}
    before = _task_paths(server_emu)
    events = len(server_emu.events)
    result = cli("apply", save(tmp_path, doc), "--auto-approve")
    assert result.code == 0, result.err
    deleted = [e for e in without_apply_lock(server_emu.events[events:]) if e[0].endswith(".deleted")]
    assert deleted and all(e[0] == "task.deleted" for e in deleted), deleted
    default = site_id(server_emu)
    for event in deleted:
        site, kind, path = before[event[2]]
        assert site == default and path.startswith("Marketing/"), (kind, path)
    after = _task_paths(server_emu)
    outside = {i: p for i, p in before.items() if p[0] != default or not p[2].startswith("Marketing/")}
    assert outside and all(after.get(i) == p for i, p in outside.items()), "every task outside the scope is kept"
    assert not [p for p in after.values() if p[0] == default and p[2].startswith("Marketing/")]


def test_prune_keeps_schedules_it_cannot_prove_unused(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    """A site the signed-in administrator cannot enter: its tasks are unknown, so no schedule is pruned."""
    doc = _with_spare_schedules(cli, tmp_path)
    doc = _without_schedules(doc, set(SPARE))
    doc["policy"] = {"prune": True}
    finance = site_id(server_emu, "finance")
    with server_emu.store.lock:  # the administrator's account on Finance is gone: Switch Site is refused there
        (admin,) = [u.id for u in server_emu.store.users.values() if u.site_id == finance and u.name == "admin"]
        del server_emu.store.users[admin]
    before = writes(server_emu)
    result = cli("apply", save(tmp_path, doc), "--auto-approve")
    assert result.code == 0, result.err
    assert ("the reader could not tell whether tasks on other sites use it: the tasks on 1 of the other sites could "
            'not be counted (site "finance": the signed-in user may not enter it (401001))') in result.out
    assert writes(server_emu) == before
    assert cli("plan", save(tmp_path, doc), "--detailed-exitcode").code == 0, "the session came back home"


def test_prune_deletes_only_unused_extract_schedules(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = _with_spare_schedules(cli, tmp_path)
    shared = "Month End 23:00"  # used on both demo sites: this site's tasks move off it, Finance's stay
    for entry in doc["extracts"]:
        for task in entry.get("refresh") or ():
            if task.get("schedule") == shared:
                task["schedule"] = "Spare 04:00"
    with server_emu.store.lock:
        others = {s.name for s in server_emu.store.schedules.values() if s.type != "Extract"}
        finance = {t.id for t in server_emu.store.tasks.values() if t.site_id != site_id(server_emu)}
    used = {str(t["schedule"]) for e in doc["extracts"] for t in e.get("refresh") or () if "schedule" in t}
    doc = _without_schedules(doc, set(doc["schedules"]) - used)  # every schedule this file does not use
    doc["policy"] = {"prune": True, "max_deletes": 1000}
    events = len(server_emu.events)
    result = cli("apply", save(tmp_path, doc), "--auto-approve")
    assert result.code == 0, result.err
    deleted = {e[3] for e in server_emu.events[events:] if e[0] == "schedule.deleted"}
    assert deleted == {"Spare Sunday"}, f"deleted {sorted(deleted)}"
    assert f'schedule["{shared}"] was not deleted although policy.prune is true' in result.out
    with server_emu.store.lock:
        remaining = {s.name for s in server_emu.store.schedules.values()}
        assert finance <= set(server_emu.store.tasks), "no task of another site is touched"
    assert shared in remaining
    assert others and others <= remaining, "schedules of other types (subscriptions) are never touched"


def test_protect_holds_for_a_schedule_removed_from_the_files(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = _with_spare_schedules(cli, tmp_path)
    unused = sorted(SPARE)
    doc = _without_schedules(doc, set(unused))
    doc["policy"] = {"prune": True, "protect": [{"schedule": unused[0]}]}
    before = writes(server_emu)
    result = cli("apply", save(tmp_path, doc), "--auto-approve")
    assert result.code == 1
    assert unused[0] in result.err and "protect" in result.err and "Traceback" not in result.err
    assert writes(server_emu) == before
    assert unused[0] in {s.name for s in server_emu.store.schedules.values()}


def test_max_deletes_counts_schedule_deletes(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = _with_spare_schedules(cli, tmp_path)
    unused = set(SPARE)
    doc = _without_schedules(doc, unused)
    doc["policy"] = {"prune": True, "max_deletes": len(unused) - 1}
    file = save(tmp_path, doc)
    before = writes(server_emu)
    refused = cli("apply", file, "--auto-approve")
    assert refused.code == 1
    assert f"more than policy.max_deletes ({len(unused) - 1})" in refused.err
    assert writes(server_emu) == before, "refused before any write"
    events = len(server_emu.events)
    assert cli("apply", file, "--auto-approve", "--allow-mass-delete").code == 0
    assert {e[3] for e in server_emu.events[events:] if e[0] == "schedule.deleted"} == unused


def test_a_targeted_apply_touches_only_its_target(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    for entry in doc["extracts"]:
        if entry.get("datasource") in ("Sales/Orders", "Sales/Customers"):
            entry["refresh"] = []
    doc["schedules"]["Nightly 02:00"]["start"] = "03:00"
    file = save(tmp_path, doc)
    orders = next(i.id for i in server_emu.store.items.values()
                  if item_path(server_emu, i.kind, i.id) == "Sales/Orders")
    events = len(server_emu.events)
    result = cli("apply", file, "--auto-approve", "--target", "datasource:Sales/Orders")
    assert result.code == 0, result.err
    changed = without_apply_lock(server_emu.events[events:])
    assert changed and all(e[0] == "task.deleted" and e[4] == orders for e in changed), changed
    pending = cli("plan", file, "--detailed-exitcode")
    assert pending.code == 2
    assert "Sales/Customers" in pending.out and "Nightly 02:00" in pending.out and "Sales/Orders" not in pending.out


def test_prune_deletes_unused_schedules_on_a_single_site_server(cli: Any, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """With one site on the server, no other site can use a schedule: prune may delete the unused ones."""
    from tests.conftest import connect_env

    with Emulator(flavor="server", seed="synthetic", datasources=3, workbooks=0, tasks=0, schedules=3, projects=1,
                  job_seconds=0.0) as emu:
        connect_env(monkeypatch, emu)
        names = sorted(s.name for s in emu.store.schedules.values() if s.type == "Extract")
        file = tmp_path / "site.yaml"
        file.write_text("version: 1\npolicy:\n  prune: true\n")
        planned = cli("plan", file)
        assert planned.code == 0, planned.err
        for name in names:
            assert f'- schedule["{name}"] will be deleted' in planned.out
        # Only the list was read: the plan shows no made-up start or interval for them (issue 16, point 2).
        saved = cli("plan", file, "--format", "json")
        deleted = [c["before"] for c in json.loads(saved.out)["resource_changes"]]
        assert deleted and all("start" not in before and "every" not in before for before in deleted), deleted
        assert cli("apply", file, "--auto-approve").code == 0
        assert not [s for s in emu.store.schedules.values() if s.type == "Extract"]
