"""Server schedules: create and update the declared ones; list, or prune, the undeclared ones.

A Server schedule is server-wide: an update changes it for every site, and a delete removes every
site's tasks on it. So an update says who else is affected, and prune deletes an undeclared
schedule only when nothing on this site will remain on it and no other site uses it. With a
``policy.scope``, an undeclared schedule is the files' business only when a task in the scope uses
it: the rest of a shared server's schedules belong to others, neither listed nor pruned.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model import WEEKDAYS, Schedule

from .addresses import schedule_address
from .context import Context, Draft, UnmanagedDraft
from .diffing import field_changes
from .fingerprint import schedule_key, usage_key
from .resolve import in_scope
from .tasks import PRUNE_REASON
from .types import Action, Phase, ResourceChange, ScheduleTarget, TaskTarget, Unmanaged

__all__ = ["blast_radius", "plan_schedules"]

_RECURRENCE_FIELDS = ("frequency", "every", "start", "end", "weekdays", "month_days", "on")


def _ignored_fields(ignore: frozenset[str]) -> list[str]:
    fields = [name.split(".", 1)[1] for name in ignore if name.startswith("schedule.")]
    if "recurrence" in fields:
        fields = [f for f in fields if f != "recurrence"] + list(_RECURRENCE_FIELDS)
    return sorted(set(fields))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def plan_schedules(ctx: Context, task_drafts: list[Draft]) -> tuple[list[Draft], list[UnmanagedDraft]]:
    """Schedule changes (Server only), given the task changes already planned."""
    if not ctx.on_server or not ctx.own_schedules:
        return [], []
    drafts = [d for d in (_upsert(ctx, s) for s in ctx.desired.schedules) if d is not None]
    deletes, unmanaged = _undeclared(ctx, task_drafts)
    return drafts + deletes, unmanaged


def _api(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return ()


#: Tableau Server answers and accepts weekdays on hourly and daily schedules from 2023.3.5, REST API 3.21
#: (docs/tableau-behaviour.md, "Server hourly and daily intervals").
_WEEKDAYS_API = (3, 21)


def _weekdays_unsupported(ctx: Context, desired: Schedule) -> bool:
    recurrence = desired.recurrence
    if recurrence.frequency not in ("hourly", "daily") or recurrence.weekdays == WEEKDAYS:
        return False
    version = _api(ctx.live.api_version)
    if not version or version >= _WEEKDAYS_API:
        return False
    ctx.problem(str(desired.source), f"{desired.source or 'schedule'}: schedule \"{desired.name}\" runs on some "
                f"weekdays only, but this server speaks REST API {ctx.live.api_version}: Tableau Server neither "
                "reports nor accepts weekdays on hourly and daily schedules before 2023.3.5 (API 3.21). Remove "
                "weekdays: (every day), or use a weekly schedule.")
    return True


def _upsert(ctx: Context, desired: Schedule) -> Draft | None:
    ctx.observed.add(schedule_key(desired.name))
    if _weekdays_unsupported(ctx, desired):
        return None
    address = schedule_address(desired.name)
    source = str(desired.source) if desired.source is not None else None
    touches = frozenset({("schedule", desired.name)})
    live = ctx.live_schedules.get(desired.name)
    if live is None:
        _check_name_free(ctx, desired, source)
        change = ResourceChange(
            address=address, kind="schedule", action=Action.CREATE, before=None,
            after=desired.to_dict(), source=source, phase=Phase.SCHEDULE_UPSERTS,
            target=ScheduleTarget(desired.name),
        )
        return Draft(change, touches)
    ignored = _ignored_fields(ctx.ignore)
    before = live.to_dict()
    # Ignored fields keep their live value: apply must never change them.
    after = {**desired.to_dict(), **{k: before[k] for k in ignored if k in before}}
    for key in ignored:
        if key not in before:
            after.pop(key, None)
    fields = field_changes(before, after)
    if live.recurrence.days_unknown and desired.recurrence.frequency == "monthly":
        # Tableau did not report the days ("Customized Monthly"): no change is planned from them; an
        # update for another reason writes the declared days (the whole recurrence is sent).
        ctx.warnings.append(f'schedule "{desired.name}": Tableau does not report the days of this monthly '
                            "schedule, so reconciler cannot check the days declared at "
                            f"{desired.source or 'the files'}.")
        if all(f.path in ("month_days", "on") for f in fields):
            return None
    if not fields:
        return None
    change = ResourceChange(
        address=address, kind="schedule", action=Action.UPDATE, before=before, after=after,
        changes=fields, source=source, phase=Phase.SCHEDULE_UPSERTS,
        target=ScheduleTarget(desired.name, live.id or ""),
        warnings=_shared_warning(ctx, desired.name),
    )
    return Draft(change, touches)


def _check_name_free(ctx: Context, desired: Schedule, source: str | None) -> None:
    """Tableau refuses (409021) a schedule whose name any schedule has, in any case and of any type."""
    folded = desired.name.casefold()
    taken = [(s.name, "Extract") for s in ctx.live.schedules if s.name.casefold() == folded]
    taken += [(name, kind) for name, kind in ctx.live.other_schedules if name.casefold() == folded]
    if not taken:
        return
    name, kind = taken[0]
    where = f"{source}: " if source else ""
    article = "an" if kind[:1] in "AEIOU" else "a"
    if kind == "Extract":
        fix = f'write its name exactly as the server does ("{name}") to manage it, or choose another name.'
    else:
        fix = "a schedule of another type cannot hold extract refreshes; choose another name."
    ctx.problems.append((desired.name, f'{where}the schedule "{desired.name}" cannot be created: the server already '
                                       f'has {article} {kind} schedule named "{name}", and Tableau refuses a second '
                                       f"schedule with that name in any case (409021); {fix}"))


#: How many other sites a blast radius names one by one; the rest are summed up.
SITES_SHOWN = 5


def blast_radius(here: int, others: int, by_site: Sequence[tuple[str, int]] = (), here_name: str = "this site") -> str:
    """``37 tasks on 5 sites (finance 12, marketing 9, …, this site 4)``: the tasks a change of a server schedule
    reaches, ``here`` on this site and ``others`` on the other sites, ``by_site`` their breakdown (site key,
    tasks). The biggest sites come first, past ``SITES_SHOWN`` the rest are summed up, this site comes last
    (``here_name``: a deployment names the site whose plan holds the server schedules).
    Without a breakdown (or one that does not add up to ``others``): ``5 tasks (4 on other sites, 1 on this
    site)``."""
    total = here + others
    listed = sorted(((site, n) for site, n in by_site if n), key=lambda entry: (-entry[1], entry[0]))
    if sum(n for _, n in listed) != others:
        parts = [f"{others} on other sites"] + ([f"{here} on this site"] if here else [])
        return f"{_plural(total, 'task')} ({', '.join(parts)})"
    parts = [f"{site} {n}" for site, n in listed[:SITES_SHOWN]]
    rest = listed[SITES_SHOWN:]
    if rest:
        parts.append(f"{_plural(len(rest), 'more site')} {sum(n for _, n in rest)}")
    if here:
        parts.append(f"{here_name} {here}")
    sites = len(listed) + (1 if here else 0)
    return f"{_plural(total, 'task')} on {_plural(sites, 'site')}" + (f" ({', '.join(parts)})" if parts else "")


def _shared_warning(ctx: Context, name: str) -> tuple[str, ...]:
    """The blast radius of updating a server schedule: every task on it, on every site."""
    managed = ctx.managed_task_items
    on_site = ctx.tasks_by_schedule.get(name, [])
    unmanaged = sum(1 for t in on_site if (t.item_kind, t.item_id) not in managed)
    others = ctx.shared.get(name)
    if others == 0 and unmanaged == 0:
        return ()  # every task it runs is this site's and in the files: the plan shows them all
    not_in_files = f"; {_plural(unmanaged, 'task')} on this site that the files don't manage" if unmanaged else ""
    if others is None:
        why = f" ({ctx.live.shared_unknown})" if ctx.live.shared_unknown else ""
        return (
            f'"{name}" is a server schedule: this update changes it for every site; an unknown number of tasks on '
            f"other sites may use it{why}, and {_plural(unmanaged, 'task')} on this site that the files don't "
            "manage.",
        )
    by_site = dict(ctx.live.shared_by_site).get(name, ())
    return (
        f'"{name}" is a server schedule: this update changes it for every site, for '
        f"{blast_radius(len(on_site), others, by_site, ctx.site_name or 'this site')}{not_in_files}.",
    )


def _undeclared(ctx: Context, task_drafts: list[Draft]) -> tuple[list[Draft], list[UnmanagedDraft]]:
    """Undeclared live schedules that no declared task uses: listed, or deleted with prune."""
    referenced = {t.schedule for m in ctx.managed for t in (m.extract.refresh or ()) if t.schedule}
    referenced |= ctx.referenced_schedules
    removed: dict[str, list[str]] = {}  # schedule name -> addresses of changes taking tasks off it
    removed_ids: set[str] = set()
    arriving: dict[str, int] = {}
    for draft in task_drafts:
        change = draft.change
        target = TaskTarget.of(change)
        if change.action in (Action.DELETE, Action.MOVE) and change.before is not None:
            name = str(change.before.get("schedule"))
            removed.setdefault(name, []).append(change.address)
            if target.task_id is not None:
                removed_ids.add(target.task_id)
        if change.action in (Action.CREATE, Action.MOVE) and target.schedule_name is not None:
            arriving[target.schedule_name] = arriving.get(target.schedule_name, 0) + 1
    policy = ctx.desired.policy
    prune = policy.prune if policy.prune_schedules is None else policy.prune_schedules
    drafts: list[Draft] = []
    unmanaged: list[UnmanagedDraft] = []
    for name in sorted(ctx.live_schedules):
        if name in ctx.desired_schedules or name in referenced:
            continue
        on_site = ctx.tasks_by_schedule.get(name, [])
        if ctx.scope and not any(_in_scope(ctx, t.item_kind, t.item_id) for t in on_site):
            continue  # used only outside the scope, or by nothing: not this file's schedule
        live = ctx.live_schedules[name]
        touches = frozenset({("schedule", name)})
        remaining = sum(1 for t in on_site if t.id not in removed_ids) + arriving.get(name, 0)
        others = ctx.shared.get(name)
        address = schedule_address(name)
        if prune:
            by_site = dict(ctx.live.shared_by_site).get(name, ())
            kept = _kept_because(remaining, others, ctx.live.shared_unknown, by_site)
            if kept is None:
                ctx.observed.update({schedule_key(name), usage_key(name)})
                change = ResourceChange(
                    address=address, kind="schedule", action=Action.DELETE, before=live.to_dict(),
                    after=None, source=None, phase=Phase.SCHEDULE_DELETES,
                    target=ScheduleTarget(name, live.id or ""),
                    depends_on=tuple(sorted(removed.get(name, []))), reason=PRUNE_REASON,
                )
                drafts.append(Draft(change, touches))
                continue
            ctx.warnings.append(f"{address} was not deleted although policy.prune is true: {kept}.")
        others_text = "an unknown number" if others is None else str(others)
        when = live.recurrence.describe() if live.detailed else f"{live.recurrence.frequency} schedule"
        detail = (f"{when}; not declared in any file; "
                  f"{_plural(len(on_site), 'task')} on this site, {others_text} on other sites")
        unmanaged.append(UnmanagedDraft(Unmanaged(address, "schedule", detail), touches))
    return drafts, unmanaged


def _in_scope(ctx: Context, kind: str, item_id: str) -> bool:
    item = ctx.items.get((kind, item_id))
    return item is not None and in_scope(item.project, ctx.scope)


def _kept_because(remaining: int, others: int | None, unknown: str = "",
                  by_site: Sequence[tuple[str, int]] = ()) -> str | None:
    if remaining:
        return f"{_plural(remaining, 'task')} on this site would still use it"
    if others is None:
        return "the reader could not tell whether tasks on other sites use it" + (f": {unknown}" if unknown else "")
    if others and sum(n for _, n in by_site) == others:
        return f"{blast_radius(0, others, by_site)} use it"
    if others:
        return f"{_plural(others, 'task')} on other sites use it"
    return None
