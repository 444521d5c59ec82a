"""Builders for end-to-end tests: desired-state files and views of the emulator's state."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from reconciler.emulator import Emulator


def site_id(emu: Emulator, content_url: str = "") -> str:
    site = emu.store.site_by_content_url(content_url)
    assert site is not None
    return site.id


def item_path(emu: Emulator, kind: str, item_id: str) -> str:
    return emu.store.item_path(item_id)


def tasks_on(emu: Emulator, path: str, kind: str = "datasource", content_url: str = "") -> Counter[tuple[str, str]]:
    """The tasks of one item on the emulator, as a multiset of (type, schedule name or recurrence repr)."""
    store = emu.store
    sid = site_id(emu, content_url)
    with store.lock:
        found: Counter[tuple[str, str]] = Counter()
        for task in store.tasks.values():
            if task.site_id != sid or task.item_kind != kind or item_path(emu, kind, task.item_id) != path:
                continue
            when = store.schedules[task.schedule_id].name if task.schedule_id else repr(task.recurrence)
            found["incremental" if task.incremental else "full", when] += 1
    return found


def task_ids_on(emu: Emulator, path: str, kind: str = "datasource", content_url: str = "") -> set[str]:
    sid = site_id(emu, content_url)
    with emu.store.lock:
        return {t.id for t in emu.store.tasks.values()
                if t.site_id == sid and t.item_kind == kind and item_path(emu, kind, t.item_id) == path}


def writes(emu: Emulator) -> int:
    """How many write requests (anything but GET and sign-in/out) the emulator has served."""
    by_route = emu.stats()["by_route"]
    return sum(n for route, n in by_route.items()
               if not route.startswith("GET ") and "/auth/" not in route and "/_emulator" not in route)


def journal(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def without_apply_lock(events: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The emulator's events minus the apply lock's (a project created, then deleted, by the same run)."""
    created = [e[2] for e in events if e[0] == "project.created"]
    deleted = [e[2] for e in events if e[0] == "project.deleted"]
    assert created == deleted, f"every project apply created (its lock) is deleted: {created} vs {deleted}"
    return [e for e in events if e[0] not in ("project.created", "project.deleted")]


class SharedClock:
    """One clock for the emulator's jobs and a command's waiting: the command's ``time.sleep`` moves both on at
    once, so a test follows a job of any length without sleeping. Install it with
    ``monkeypatch.setattr(module, "time", SharedClock(emu))`` on the command's module."""

    def __init__(self, emu: Emulator) -> None:
        self.elapsed = 0.0
        start = emu.store.clock()
        emu.store.clock = lambda: start + self.elapsed

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.elapsed += max(0.0, seconds)

