"""`--state FILE`: the store as JSON, written after every change (temp file + os.replace), reloaded on start.

Sessions are not persisted (clients sign in again after a restart); events neither.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .models import ContentItem, Job, Pat, Project, Schedule, Site, Store, Task, TaskTable, User
from .recurrence import Recurrence

__all__ = ["StateFile"]

FORMAT_VERSION = 1


def _recurrence(data: dict[str, Any] | None) -> Recurrence | None:
    if data is None:
        return None
    intervals = tuple(tuple((str(k), str(v)) for k, v in interval) for interval in data["intervals"])
    return Recurrence(data["frequency"], data["start"], data["end"], intervals)


_JOB_FIELDS = tuple(f.name for f in fields(Job))


def _job(job: Job) -> dict[str, Any]:
    """`asdict` for a Job, whose fields are all plain values: a demo's history is thousands of them, written
    after every change."""
    return {name: getattr(job, name) for name in _JOB_FIELDS}


def dump(store: Store) -> dict[str, Any]:
    """The persistent part of the store as JSON-ready data."""
    with store.lock:
        return {
            "format_version": FORMAT_VERSION,
            "flavor": store.flavor,
            "vizportal_counter": store.counters.vizportal,
            "sites": [asdict(x) for x in store.sites.values()],
            "users": [asdict(x) for x in store.users.values()],
            "pats": [asdict(x) for x in store.pats.values()],
            "projects": [asdict(x) for x in store.projects.values()],
            "items": [asdict(x) for x in store.items.values()],
            "schedules": [asdict(x) for x in store.schedules.values()],
            "tasks": [asdict(x) for x in store.tasks.values()],
            "jobs": [_job(x) for x in store.jobs.values()],
            "history": [_job(x) for x in store.history.values()],
        }


def restore(store: Store, data: dict[str, Any]) -> None:
    """Replace the store's content with `data` (from `dump`)."""
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unsupported emulator state format {data.get('format_version')!r}")
    if data.get("flavor") != store.flavor:
        raise ValueError(f"the state file is for flavor {data.get('flavor')!r}, not {store.flavor!r}")
    with store.lock:
        store.counters.vizportal = int(data["vizportal_counter"])
        store.sites = {d["id"]: Site(**d) for d in data["sites"]}
        store.users = {d["id"]: User(**d) for d in data["users"]}
        store.pats = {d["name"]: Pat(**d) for d in data["pats"]}
        store.projects = {d["id"]: Project(**d) for d in data["projects"]}
        store.items = {d["id"]: ContentItem(**d) for d in data["items"]}
        store.schedules = {}
        for d in data["schedules"]:
            rec = _recurrence(d.pop("recurrence"))
            assert rec is not None
            store.schedules[d["id"]] = Schedule(**d, recurrence=rec)
        store.tasks = TaskTable()
        for d in data["tasks"]:
            rec = _recurrence(d.pop("recurrence"))
            store.tasks[d["id"]] = Task(**d, recurrence=rec)
        store.jobs = {d["id"]: Job(**d) for d in data["jobs"]}
        store.history = {d["id"]: Job(**d) for d in data.get("history", [])}
        store.sessions = {}


class StateFile:
    """One JSON state file."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists()

    def load(self, store: Store) -> None:
        restore(store, json.loads(self.path.read_text(encoding="utf-8")))

    def save(self, store: Store) -> None:
        """Write atomically: a temporary file in the same directory, then os.replace."""
        data = json.dumps(dump(store), separators=(",", ":"))
        directory = self.path.parent if str(self.path.parent) else Path(".")
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".emulator-state-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
