"""Shared wording and value formatting for the renderers (private)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from reconciler.model import site_label
from reconciler.plan import Action, FieldChange, LoadChange, Plan, ResourceChange

__all__ = [
    "NO_CHANGES",
    "NO_DRIFT",
    "STYLES",
    "action_words",
    "field_lines",
    "load_lines",
    "load_summary",
    "ordered_items",
    "site_title",
    "summary_line",
    "value",
]

NO_CHANGES = "No changes. The site matches the configuration."
NO_DRIFT = "No drift. The site matches the configuration."

#: rich styles per action.
STYLES: Mapping[Action, str] = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.MOVE: "cyan",
    Action.REPLACE: "magenta",
    Action.DELETE: "red",
}

# Display order of the fields of a value (saved plans sort keys; the display should not change).
_FIELD_ORDER = (
    "mode", "encrypt", "type", "schedule", "recurrence", "frequency", "every", "start", "end",
    "weekdays", "month_days", "on", "priority", "execution", "state",
)


def value(v: object) -> str:
    """A JSON value as shown to people: ``"02:00"``, ``50``, ``["monday", "friday"]``, ``null``."""
    return json.dumps(v, ensure_ascii=False)


def ordered_items(values: Mapping[str, object]) -> list[tuple[str, object]]:
    """The fields of a value in display order, leaving out nulls."""
    def key(name: str) -> tuple[int, str]:
        return (_FIELD_ORDER.index(name) if name in _FIELD_ORDER else len(_FIELD_ORDER), name)

    return [(k, values[k]) for k in sorted(values, key=key) if values[k] is not None]


def action_words(change: ResourceChange) -> str:
    if change.action is Action.CREATE:
        return "will be created"
    if change.action is Action.UPDATE:
        return "will be updated in place"
    if change.action is Action.MOVE:
        return "will be moved to another schedule"
    if change.action is Action.REPLACE:
        return "must be replaced (type change)"
    return "will be deleted"


def field_lines(change: ResourceChange) -> list[tuple[str, str]]:
    """(symbol, text) lines describing the change's values: field changes for update/move/replace,
    the full value for create (``+``) and delete (``-``)."""
    if change.action is Action.CREATE and change.after is not None:
        return [("+", f"{k}: {value(v)}") for k, v in ordered_items(change.after)]
    if change.action is Action.DELETE and change.before is not None:
        return [("-", f"{k}: {value(v)}") for k, v in ordered_items(change.before)]
    return [_field_line(f) for f in change.changes]


def _field_line(f: FieldChange) -> tuple[str, str]:
    if f.before is None:
        return ("+", f"{f.path}: {value(f.after)}")
    if f.after is None:
        return ("-", f"{f.path}: {value(f.before)}")
    return ("~", f"{f.path}: {value(f.before)} → {value(f.after)}")


def summary_line(plan: Plan) -> str:
    """``Plan: 3 to create, 1 to move, 2 to update, 1 to delete.`` (``N to replace`` only when there are any)."""
    c = plan.counts
    replace = f"{c['replace']} to replace, " if c["replace"] else ""
    return (f"Plan: {c['create']} to create, {c['move']} to move, {c['update']} to update, "
            f"{replace}{c['delete']} to delete.")


def site_title(site: str, server: str, flavor: str) -> str:
    name = site_label(site)
    product = "Tableau Cloud" if flavor == "cloud" else "Tableau Server"
    return f"{name} on {server} ({product})"


#: Tasks listed under each busier slot of a plan's load section before the rest are counted.
LOAD_TASKS_SHOWN = 5


def load_lines(load: LoadChange) -> list[tuple[str, list[str]]]:
    """The plan's load section as (headline, task lines) per busier slot group, plus a last summary."""
    out: list[tuple[str, list[str]]] = []
    for slot in load.slots:
        over = (" over the limit" if load.max_starts_per_slot is not None and slot.after > load.max_starts_per_slot
                else "")
        tasks = list(slot.added[:LOAD_TASKS_SHOWN])
        if len(slot.added) > LOAD_TASKS_SHOWN:
            tasks.append(f"... and {len(slot.added) - LOAD_TASKS_SHOWN} more")
        out.append((f"{slot.when}: {slot.before} → {slot.after} starts (+{slot.after - slot.before}){over}", tasks))
    return out


def load_summary(load: LoadChange) -> str:
    limit = load.max_starts_per_slot
    text = f"Busiest slot: {load.peak_before} → {load.peak_after} refresh starts in 15 minutes"
    if limit is not None:
        text += f"; policy.load.max_starts_per_slot is {limit}"
        if load.exceeds:
            text += " (exceeded: apply refuses without --allow-overload)"
    if load.unplaced:
        plural = load.unplaced != 1
        text += (f". {load.unplaced} task{'s' if plural else ''} on schedules the files do not declare "
                 f"{'are' if plural else 'is'} not counted")
    return text + "."
