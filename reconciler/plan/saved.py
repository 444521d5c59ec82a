"""Checks of a saved plan against a fresh read, beyond its fingerprint, and naming what changed.

``apply`` of a saved plan reads the site again; ``stale_objects`` (fingerprint.py) says which objects
changed since the plan was made, ``describe_key`` names them as the user knows them, and
``check_saved_changes`` refuses a plan whose changes were edited to touch something it did not read.
"""

from __future__ import annotations

from reconciler.errors import PlanError
from reconciler.model import Item, LiveState

from .addresses import SITE_MODE, encrypt_address, quote, schedule_address
from .fingerprint import ObjectKey, item_key, schedule_key, stale_objects, tasks_key
from .types import Action, ItemTarget, Plan, ResourceChange, ScheduleTarget, SiteTarget, TaskTarget

__all__ = ["check_saved_changes", "describe_key", "what_changed"]

_CONNECTION_KEYS = {"site_id": "the site", "server": "the server", "api_version": "the server's REST API version"}


def what_changed(plan: Plan, live: LiveState, most: int = 10) -> str:
    """What changed on the site since ``plan`` read it, as the user knows it (``schedule "Nightly", ...``);
    empty when nothing did."""
    changed = [describe_key(key, plan, live) for key in stale_objects(plan, live)]
    return ", ".join(changed[:most]) + (f" and {len(changed) - most} more" if len(changed) > most else "")


def describe_key(text: str, saved: Plan, live: LiveState) -> str:
    """A fingerprint key (``tasks:datasource:LUID``) or a connection fact (``site_id``) as the user knows the
    object: its path or name."""
    key = ObjectKey.parse(text)
    if key.prefix == "site":
        return "the site's encryption mode"
    if key.prefix == "schedule":
        return f'schedule "{key.name}"'
    if key.prefix == "usage":
        return f'the tasks using schedule "{key.name}"'
    if key.prefix in ("item", "tasks"):
        paths: dict[tuple[str, str], str] = {(i.kind, i.id): i.path for i in live.items}
        paths.update({(c.target.item_kind, c.target.item_id): c.target.item_path
                      for c in saved.changes if isinstance(c.target, (ItemTarget, TaskTarget))})
        where = (key.kind, key.item_id)
        name = f'{key.kind} "{paths[where]}"' if where in paths else f"{key.kind} {key.item_id}"
        return f"the refresh tasks of {name}" if key.prefix == "tasks" else name
    return _CONNECTION_KEYS.get(text, text)


def _edited(change: ResourceChange, why: str) -> PlanError:
    return PlanError(f"The saved plan is invalid: {change.address}: {why} (was it edited?). Nothing was applied. "
                     "Make a new plan with `reconciler plan --out FILE`.")


def check_saved_changes(saved: Plan, live: LiveState) -> None:
    """Every change of a saved plan touches only what the plan read, and its address names what it touches.

    The fingerprint covers what the plan read, not the changes: without this, a hand-edited id or address
    would make apply change another object than the one reviewed, or journal it under the wrong name.
    """
    items: dict[tuple[str, str], Item] = {(i.kind, i.id): i for i in live.items}
    tasks = {t.id: t for t in live.tasks}
    schedules = {s.name: s for s in live.schedules}
    for change in saved.changes:
        target = change.target
        if isinstance(target, SiteTarget):
            if change.address != SITE_MODE or "site" not in saved.observed:
                raise _edited(change, "not the site's encryption mode")
            continue
        if isinstance(target, ScheduleTarget):
            name = target.name
            if change.address != schedule_address(name):
                raise _edited(change, f"the address does not name the schedule it changes ({name!r})")
            if change.action is not Action.CREATE:
                live_schedule = schedules.get(name)
                if schedule_key(name) not in saved.observed or live_schedule is None or \
                        live_schedule.id != target.schedule_id:
                    raise _edited(change, f"schedule id {target.schedule_id} is not the schedule {name!r}")
            continue
        kind, item_id = target.item_kind, target.item_id
        item = items.get((kind, item_id))
        if item is None or item_key(kind, item_id) not in saved.observed:
            raise _edited(change, f"{kind} {item_id} is not an item the plan read")
        path = target.item_path
        if isinstance(target, ItemTarget):
            if change.address != encrypt_address(kind, path) or path != item.path:
                raise _edited(change, f"the address does not name the item it changes ({item.path!r})")
            continue
        if not change.address.startswith(f"task[{kind} {quote(path)}][") or path != item.path:
            raise _edited(change, f"the address does not name the item whose task it changes ({item.path!r})")
        if tasks_key(kind, item_id) not in saved.observed:
            raise _edited(change, f"the plan did not read the tasks of {kind} {item.path!r}")
        task_id = target.task_id
        if change.action is not Action.CREATE:
            task = tasks.get(task_id or "")
            if task is None or (task.item_kind, task.item_id) != (kind, item_id):
                raise _edited(change, f"task {task_id} is not a task of {kind} {item.path!r}")
