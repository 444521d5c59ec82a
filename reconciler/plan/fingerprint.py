"""The fingerprint of a plan: canonical hashes of every live object it read and depends on.

A saved plan records, for each object key, the sha256 of the object's canonical JSON. Before
applying a saved plan, apply re-reads the site and calls ``stale_objects``: any key whose hash
changed (or a different server, site or API version) makes the plan stale.

Keys: ``site``; ``schedule:NAME``; ``usage:schedule:NAME`` (who uses a schedule the plan may
delete); ``item:KIND:LUID``; ``tasks:KIND:LUID`` (the refresh tasks of an item).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.model import Item, LiveState, LiveTask, Schedule

from .types import Plan

__all__ = [
    "ObjectKey",
    "canonical_json",
    "fingerprint",
    "item_key",
    "observe",
    "schedule_key",
    "stale_objects",
    "tasks_key",
    "usage_key",
]


def canonical_json(value: object) -> str:
    """Compact, key-sorted JSON: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(value: object) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ObjectKey:
    """What one fingerprint entry is about. ``str(key)`` is its text in the saved plan's ``observed``;
    ``ObjectKey.parse`` reads it back (the one place that knows the text form)."""

    prefix: Literal["site", "schedule", "usage", "item", "tasks", "other"]
    #: The schedule's name (schedule, usage).
    name: str = ""
    #: The item's kind and LUID (item, tasks).
    kind: str = ""
    item_id: str = ""

    def __str__(self) -> str:
        if self.prefix == "site":
            return "site"
        if self.prefix == "schedule":
            return f"schedule:{self.name}"
        if self.prefix == "usage":
            return f"usage:schedule:{self.name}"
        if self.prefix in ("item", "tasks"):
            return f"{self.prefix}:{self.kind}:{self.item_id}"
        return self.name

    @classmethod
    def parse(cls, text: str) -> ObjectKey:
        """A key's text back into its parts; a key this version does not know is ``other`` (its text in name)."""
        prefix, _, rest = text.partition(":")
        if text == "site":
            return cls("site")
        if prefix == "schedule":
            return cls("schedule", name=rest)
        if prefix == "usage" and rest.startswith("schedule:"):
            return cls("usage", name=rest[len("schedule:"):])
        if prefix in ("item", "tasks"):
            kind, _, item_id = rest.partition(":")
            return cls("item" if prefix == "item" else "tasks", kind=kind, item_id=item_id)
        return cls("other", name=text)


def schedule_key(name: str) -> str:
    return str(ObjectKey("schedule", name=name))


def usage_key(name: str) -> str:
    return str(ObjectKey("usage", name=name))


def item_key(kind: str, item_id: str) -> str:
    return str(ObjectKey("item", kind=kind, item_id=item_id))


def tasks_key(kind: str, item_id: str) -> str:
    return str(ObjectKey("tasks", kind=kind, item_id=item_id))


def fingerprint(server: str, site_id: str, api_version: str, observed: Mapping[str, str]) -> str:
    """sha256 over the connection identity and the observed hashes."""
    return _sha256({
        "server": server,
        "site_id": site_id,
        "api_version": api_version,
        "observed": dict(observed),
    })


def _schedule_value(schedule: Schedule) -> dict[str, object]:
    return {**schedule.to_dict(), "name": schedule.name, "id": schedule.id}


def _item_value(item: Item) -> dict[str, object]:
    return {
        "kind": item.kind,
        "id": item.id,
        "name": item.name,
        "project": list(item.project),
        "encrypt": item.encrypt,
    }


def _task_value(task: LiveTask) -> dict[str, object]:
    return {
        "id": task.id,
        "type": task.type,
        "schedule": task.schedule,
        "schedule_id": task.schedule_id,
        "recurrence": task.recurrence.to_dict() if task.recurrence is not None else None,
    }


@dataclass
class _Index:
    """Lookups over a LiveState, built once per call, for the objects of ``keys`` only (a plan observes
    a few thousand objects of a site that may have 100,000 tasks)."""

    live: LiveState
    keys: frozenset[str]
    schedules: dict[str, Schedule] = field(default_factory=dict)
    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    tasks_by_item: dict[tuple[str, str], list[LiveTask]] = field(default_factory=dict)
    tasks_by_schedule: dict[str, list[LiveTask]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        wanted_items: set[tuple[str, str]] = set()
        wanted_usage: set[str] = set()
        for text in self.keys:
            key = ObjectKey.parse(text)
            if key.prefix in ("item", "tasks"):
                wanted_items.add((key.kind, key.item_id))
            elif key.prefix == "usage":
                wanted_usage.add(key.name)
        self.schedules = {s.name: s for s in self.live.schedules}
        self.items = {(i.kind, i.id): i for i in self.live.items if (i.kind, i.id) in wanted_items}
        wanted_ids = {item_id for _, item_id in wanted_items}  # a string test first: most tasks are not wanted
        for task in self.live.tasks:
            if task.item_id in wanted_ids and (task.item_kind, task.item_id) in wanted_items:
                self.tasks_by_item.setdefault((task.item_kind, task.item_id), []).append(task)
            if wanted_usage and task.schedule is not None and task.schedule in wanted_usage:
                self.tasks_by_schedule.setdefault(task.schedule, []).append(task)

    def value(self, text: str) -> object:
        key = ObjectKey.parse(text)
        if key.prefix == "site":
            return {"encryption_mode": self.live.encryption_mode}
        if key.prefix == "schedule":
            schedule = self.schedules.get(key.name)
            return _schedule_value(schedule) if schedule is not None else None
        if key.prefix == "usage":
            shared = dict(self.live.shared_schedule_tasks)
            return {
                "other_sites": shared.get(key.name),
                "tasks": sorted(t.id for t in self.tasks_by_schedule.get(key.name, [])),
            }
        if key.prefix == "item":
            item = self.items.get((key.kind, key.item_id))
            return _item_value(item) if item is not None else None
        if key.prefix == "tasks":
            tasks = self.tasks_by_item.get((key.kind, key.item_id), [])
            return sorted((_task_value(t) for t in tasks), key=canonical_json)
        return None


def observe(live: LiveState, keys: Iterable[str]) -> dict[str, str]:
    """The hashes of the objects named by ``keys`` in ``live`` (a missing object hashes as null)."""
    wanted = frozenset(keys)
    index = _Index(live, wanted)
    return {key: _sha256(index.value(key)) for key in sorted(wanted)}


def stale_objects(plan: Plan, live: LiveState) -> list[str]:
    """What changed on the site since ``plan`` was made: object keys, plus ``server``, ``site_id`` or
    ``api_version`` when those differ. Empty: the plan is still valid."""
    stale: list[str] = []
    if plan.server.rstrip("/") != live.server.rstrip("/"):
        stale.append("server")
    if plan.site_id != live.site_id:
        stale.append("site_id")
    if plan.api_version != live.api_version:
        stale.append("api_version")
    now = observe(live, plan.observed)
    stale.extend(key for key in sorted(plan.observed) if now[key] != plan.observed[key])
    return stale
