"""Refresh tasks: pair each managed item's declared tasks with its live ones; prune or list the rest."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import repeat
from operator import itemgetter

from reconciler.model import Item, LiveTask, Recurrence, RefreshTask

from .addresses import quote, task_address
from .context import Context, Draft, UnmanagedDraft, item_touches
from .diffing import field_changes
from .fingerprint import canonical_json, item_key, tasks_key
from .pairing import ANY_TYPE, Slot, pair_tasks
from .resolve import Managed, did_you_mean, in_scope, suggest, where
from .types import Action, FieldChange, Phase, ResourceChange, TaskTarget, Unmanaged

__all__ = ["PRUNE_REASON", "plan_tasks", "prune_tasks"]

_FIRST, _SECOND = itemgetter(0), itemgetter(1)
PRUNE_REASON = "not declared in any file (policy.prune: true)"
#: Why Tableau Server cannot make some task changes (docs/tableau-behaviour.md, "Add to schedule makes
#: full tasks"): adding an item to a schedule is the REST API's only way to make a Server task, and
#: it always makes a full refresh.
_NO_INCREMENTAL = ("Tableau Server's REST API cannot make an incremental refresh task: adding an item to a "
                   "schedule always makes a full refresh (tableauserverclient issue 1101).")


def plan_tasks(ctx: Context) -> list[Draft]:
    """Changes to the tasks of every item declared with a ``refresh:`` key."""
    drafts: list[Draft] = []
    for managed in ctx.managed:
        if managed.extract.refresh is None:
            continue
        item = managed.item
        ctx.observed.update({item_key(item.kind, item.id), tasks_key(item.kind, item.id)})
        if _check(ctx, managed):
            drafts.extend(_item_changes(ctx, managed))
    return drafts


def _check(ctx: Context, managed: Managed) -> bool:
    ok = True
    item = managed.item
    if managed.extract.refresh and item.has_extracts is False:
        source = managed.extract.source
        ctx.problem(str(source), f"{where(source)}the {item.kind} {quote(item.path)} has no extract (it uses a "
                    "live connection), and Tableau refuses refresh tasks on it. Remove its refresh tasks "
                    "(refresh: []), or create an extract for it in Tableau first.")
        return False
    for task in managed.extract.refresh or ():
        source = task.source or managed.extract.source
        if ctx.on_server:
            name = task.schedule
            if name is None:
                ctx.problem(str(source), f"{where(source)}a refresh task on Tableau Server must name a "
                            "schedule (an inline recurrence is Tableau Cloud only).")
                ok = False
            elif name in ctx.referenced_schedules and name not in ctx.live_schedules:
                ctx.problem(str(source), f'{where(source)}schedule "{name}" is listed in referenced_schedules: '
                            "but the server has no Extract schedule by that name. Ask the server's "
                            "administrators to create it, or fix the name."
                            f"{did_you_mean(suggest(name, list(ctx.live_schedules)))}")
                ok = False
            elif name not in ctx.desired_schedules and name not in ctx.live_schedules:
                names = [*ctx.desired_schedules, *ctx.live_schedules]
                ctx.problem(str(source), f'{where(source)}schedule "{name}" is not declared in any file '
                            f"and does not exist on the server.{did_you_mean(suggest(name, names))}")
                ok = False
            elif name not in ctx.desired_schedules:
                ctx.observed.add(f"schedule:{name}")
        elif task.recurrence is None:
            ctx.problem(str(source), f"{where(source)}a refresh task on Tableau Cloud needs a recurrence "
                        f'(schedule "{task.schedule}" was not resolved to a template).')
            ok = False
    return ok


def _desired_value(ctx: Context, task: RefreshTask) -> dict[str, object]:
    recurrence = task.recurrence.to_dict() if task.recurrence is not None and not ctx.on_server else None
    return {"type": task.type, "schedule": task.schedule, "recurrence": recurrence}


def _live_value(ctx: Context, task: LiveTask) -> dict[str, object]:
    if ctx.on_server:
        return {"type": task.type, "schedule": task.schedule, "recurrence": None}
    recurrence = task.recurrence.to_dict() if task.recurrence is not None else None
    return {"type": task.type, "schedule": None, "recurrence": recurrence}


def _desired_when(ctx: Context, task: RefreshTask) -> str:
    if ctx.on_server or task.recurrence is None:
        return task.schedule or ""
    return canonical_json(task.recurrence.to_dict())


def _live_when(ctx: Context, task: LiveTask) -> str:
    if ctx.on_server or task.recurrence is None:
        return task.schedule or ""
    return canonical_json(task.recurrence.to_dict())


def _live_label(task: LiveTask) -> str:
    if task.schedule is not None:
        return task.schedule
    return task.recurrence.describe() if task.recurrence is not None else "?"


def _target(item: Item, task_id: str | None = None, *, schedule_name: str | None = None,
            from_schedule_name: str | None = None) -> TaskTarget:
    return TaskTarget(item.kind, item.id, item.path, task_id, schedule_name, from_schedule_name)


def _item_changes(ctx: Context, managed: Managed) -> list[Draft]:
    item = managed.item
    type_ignored = "task.type" in ctx.ignore
    desired = [
        Slot(ANY_TYPE if type_ignored else t.type, _desired_when(ctx, t), f"{i:06d}", t)
        for i, t in enumerate(sorted(managed.extract.refresh or (), key=lambda t: str(t.source)))
    ]
    live = [
        Slot(ANY_TYPE if type_ignored else t.type, _live_when(ctx, t), t.id, t)
        for t in ctx.tasks_by_item.get((item.kind, item.id), [])
    ]
    if not ctx.on_server:
        live = _match_unreported_days(ctx, desired, live)
    pairing = pair_tasks(desired, live)
    server = ctx.on_server
    changes: list[ResourceChange] = []
    for want, have in pairing.moves:
        before = _live_value(ctx, have)
        after = {**_desired_value(ctx, want), "type": have.type if type_ignored else want.type}
        if server:
            fields: tuple[FieldChange, ...] = (FieldChange("schedule", have.schedule, want.schedule),)
        else:
            fields = field_changes(_as_dict(before["recurrence"]), _as_dict(after["recurrence"]))
        if not type_ignored and have.type != want.type:
            fields = (*fields, FieldChange("type", have.type, want.type))
        changes.append(ResourceChange(
            address=task_address(item.kind, item.path, str(after["type"]), want.when()),
            kind="task", action=Action.MOVE, before=before, after=after, changes=fields,
            source=_source(want, managed), phase=Phase.TASK_CHANGES,
            target=_target(item, have.id, from_schedule_name=have.schedule if server else None,
                           schedule_name=want.schedule if server else None),
            warnings=_suspended(ctx, want),
        ))
        if server and have.type == "incremental" and ctx.server_moves != "vizportal":
            changes[-1] = ctx.unmakeable(changes[-1], (
                f"moving an incremental task through REST adds the item to {quote(str(want.schedule))} "
                "and deletes the old task, and Tableau Server's REST API can only add a full refresh: the task "
                "would silently become a full refresh. Move it with --server-move-strategy vizportal (in place, "
                "keeping its type and history; give the flag to plan and apply), or in Tableau's web UI."))
    for want, have in pairing.replaces:
        changes.append(ResourceChange(
            address=task_address(item.kind, item.path, want.type, want.when()),
            kind="task", action=Action.REPLACE, before=_live_value(ctx, have),
            after=_desired_value(ctx, want), changes=(FieldChange("type", have.type, want.type),),
            source=_source(want, managed), phase=Phase.TASK_CHANGES,
            target=_target(item, have.id, schedule_name=want.schedule if server else None),
            warnings=_suspended(ctx, want),
        ))
        if server:
            changes[-1] = ctx.unmakeable(changes[-1], (
                f"changes the task's type from {have.type} to {want.type}. {_NO_INCREMENTAL} Change the type in "
                f"Tableau's web UI (reconciler then finds it), or declare the task's current type ({have.type})."
                if want.type == "incremental" else
                f"changes the task's type from {have.type} to {want.type}, which Tableau Server's REST API cannot "
                "do in place, and reconciler will not delete an incremental task to make a full one without "
                "being asked. Change the type in Tableau's web UI, or declare the current type "
                f"({have.type}); to replace it, remove the task from the file (apply deletes it), then add "
                "the full one."))
    for want in pairing.creates:
        changes.append(ResourceChange(
            address=task_address(item.kind, item.path, want.type, want.when()),
            kind="task", action=Action.CREATE, before=None, after=_desired_value(ctx, want),
            source=_source(want, managed), phase=Phase.TASK_CHANGES,
            target=_target(item, schedule_name=want.schedule if server else None),
            warnings=_suspended(ctx, want),
        ))
        if server and want.type == "incremental":
            changes[-1] = ctx.unmakeable(changes[-1], (
                f"{_NO_INCREMENTAL} Create this task once in Tableau's web UI (the item's Extract Refreshes); "
                "from then on reconciler finds and manages it."))
    for have in pairing.deletes:
        changes.append(ResourceChange(
            address=task_address(item.kind, item.path, have.type, _live_label(have)),
            kind="task", action=Action.DELETE, before=_live_value(ctx, have), after=None,
            source=str(managed.extract.source) if managed.extract.source else None,
            phase=Phase.TASK_DELETES, target=_target(item, have.id),
            reason="not listed in the item's refresh",
        ))
    touches = item_touches(item)
    return [Draft(change, touches) for change in unique_addresses(changes)]


def _match_unreported_days(ctx: Context, desired: list[Slot[RefreshTask]],
                           live: list[Slot[LiveTask]]) -> list[Slot[LiveTask]]:
    """Cloud: a live monthly task whose days Tableau does not report is taken to match a declared
    monthly task of the same type and start time (never a change planned from days nobody read),
    with a warning that the days could not be checked."""
    taken: set[str] = set()
    exact = {slot.when for slot in live}
    out = []
    for slot in live:
        recurrence = slot.payload.recurrence
        if recurrence is None or not recurrence.days_unknown:
            out.append(slot)
            continue
        match = next((d for d in desired if d.order not in taken and d.when not in exact and d.type == slot.type
                      and (wanted := d.payload.recurrence) is not None and wanted.frequency == "monthly"
                      and wanted.start == recurrence.start), None)
        if match is None:
            out.append(slot)
            continue
        taken.add(match.order)
        where_declared = match.payload.source or "the files"
        ctx.warnings.append(f"task {slot.payload.id}: Tableau does not report the days of its monthly schedule, so "
                            f"reconciler could not check them against {where_declared}.")
        out.append(replace(slot, when=match.when))
    return out


def _source(task: RefreshTask, managed: Managed) -> str | None:
    source = task.source or managed.extract.source
    return str(source) if source is not None else None


def _as_dict(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}


def _suspended(ctx: Context, task: RefreshTask) -> tuple[str, ...]:
    if ctx.on_server and task.schedule is not None and ctx.schedule_state(task.schedule) == "suspended":
        return (f"schedule {quote(task.schedule)} is suspended: this task will not run until it is resumed.",)
    return ()


def unique_addresses(changes: list[ResourceChange]) -> list[ResourceChange]:
    """Identical tasks share an address: number the second and later ones (``... #2]``)."""
    seen: Counter[str] = Counter()
    out = []
    for change in changes:
        seen[change.address] += 1
        if seen[change.address] > 1:
            address = f"{change.address[:-1]} #{seen[change.address]}]"
            change = replace(change, address=address)
        out.append(change)
    return out


def prune_tasks(ctx: Context) -> tuple[list[Draft], list[UnmanagedDraft]]:
    """Tasks in scope on items no file declares: deleted with ``prune: true``, else listed."""
    declared = {(m.item.kind, m.item.id) for m in ctx.managed}
    prune = ctx.desired.policy.prune
    scope = ctx.scope
    drafts: list[Draft] = []
    unmanaged: list[UnmanagedDraft] = []
    labels: dict[Recurrence, str] = {}  # a Cloud site has ~300 distinct recurrences for 100,000 tasks
    items, by_item = ctx.items, ctx.tasks_by_item
    details: dict[tuple[str, str], str] = {}  # a few hundred distinct (type, schedule) for 100,000 tasks
    # Sorted by (kind, id): by id, then (stable) by kind, comparing strings rather than 75,000 tuples.
    keys = sorted(by_item, key=_SECOND)
    keys.sort(key=_FIRST)
    for key in keys:
        tasks = by_item[key]
        item = items.get(key)
        if item is None or key in declared or (scope and not in_scope(item.project, scope)):
            continue
        kind = key[0]
        path = item.path
        touches = item_touches(item, path)
        if prune:
            changes = [
                ResourceChange(
                    address=task_address(kind, path, task.type, _live_label(task)),
                    kind="task", action=Action.DELETE, before=_live_value(ctx, task), after=None,
                    source=None, phase=Phase.TASK_DELETES, target=_target(item, task.id), reason=PRUNE_REASON,
                )
                for task in tasks
            ]
            ctx.observed.update({item_key(kind, key[1]), tasks_key(kind, key[1])})
            drafts.extend(Draft(change, touches) for change in unique_addresses(changes))
        else:
            # Only listed: the address is all that is needed (a large site has 100,000 of these).
            prefix = task_address(kind, path, "", "").removesuffix("[ @ ]")  # task[KIND "PATH"]
            addresses: list[str] = []
            texts: list[str] = []
            for task in tasks:
                if task.schedule is not None:
                    label = task.schedule
                elif task.recurrence is None:
                    label = "?"
                else:
                    label = labels.get(task.recurrence) or labels.setdefault(task.recurrence,
                                                                           task.recurrence.describe())
                addresses.append(f"{prefix}[{task.type} @ {label}]")
                text = details.get((task.type, label))
                if text is None:
                    text = details[(task.type, label)] = f"{task.type} refresh on {label}; not declared in any file"
                texts.append(text)
            if len(addresses) > 1 and len(set(addresses)) < len(addresses):
                addresses = _numbered(addresses)
            entries = list(map(Unmanaged, addresses, repeat("task"), texts))
            unmanaged.append(UnmanagedDraft(entries[0], touches, tuple(entries[1:])))
    return drafts, unmanaged


def _numbered(addresses: list[str]) -> list[str]:
    """``unique_addresses`` for bare addresses."""
    seen: Counter[str] = Counter()
    out = []
    for address in addresses:
        seen[address] += 1
        out.append(f"{address[:-1]} #{seen[address]}]" if seen[address] > 1 else address)
    return out
