"""Policy checks on a drafted plan (``protect``) and ``--target`` selection."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.errors import PlanError
from reconciler.model import ProtectRule

from .addresses import SITE_MODE, item_address
from .context import Context, Draft, Touch, UnmanagedDraft
from .resolve import did_you_mean, suggest
from .types import Action, ItemTarget, ScheduleTarget, TaskTarget

__all__ = ["check_protect", "select_targets"]

_SELECTOR_KINDS = ("schedule", "datasource", "workbook", "project", "site")


def check_protect(ctx: Context, drafts: list[Draft]) -> None:
    """Record a problem for every planned delete of a protected object (an error, not an action).

    A protected schedule is never deleted; a protected item's tasks are never deleted and its
    encryption is never turned off (by its flag, or by the site mode going to disabled).
    """
    rules = ctx.desired.policy.protect
    if not rules:
        return
    by_key = {(rule.kind, rule.name): rule for rule in rules}
    known = {("schedule", s.name) for s in (*ctx.live.schedules, *ctx.desired.schedules)}
    known |= {(i.kind, i.path) for i in ctx.live.items}
    for rule in rules:
        if (rule.kind, rule.name) not in known:
            where = f" ({rule.source})" if rule.source is not None else ""
            ctx.warnings.append(f'policy.protect{where}: {rule.kind} "{rule.name}" matches nothing on the '
                                "site or in the files.")
    for draft in drafts:
        change = draft.change
        key: tuple[str, str] | None = None
        what = change.address
        target = change.target
        if isinstance(target, ScheduleTarget) and change.action is Action.DELETE:
            key = ("schedule", target.name)
        elif isinstance(target, TaskTarget) and change.action is Action.DELETE:
            key = (target.item_kind, target.item_path)
            what = f"{change.address}, a refresh task of protected {item_address(*key)},"
        elif isinstance(target, ItemTarget) and change.after == {"encrypt": False}:
            key = (target.item_kind, target.item_path)
            what = f"the encryption of {item_address(*key)}"
        if key is not None and key in by_key:
            _protected(ctx, by_key[key], what, change.reason or f"declared at {change.source}")
    site = next((d.change for d in drafts if d.change.address == SITE_MODE), None)
    if site is not None and site.after == {"mode": "disabled"}:
        for item in ctx.live.items:
            protecting = by_key.get((item.kind, item.path))
            if protecting is not None and item.encrypt:
                _protected(ctx, protecting, f"the encryption of {item_address(item.kind, item.path)}",
                           "the site's extract encryption mode goes to disabled")


def _protected(ctx: Context, rule: ProtectRule, what: str, why: str) -> None:
    source = rule.source
    where = f" ({source})" if source is not None else ""
    ctx.problem(str(source), f"{what} is protected by policy.protect{where} but the plan would delete "
                f"or turn it off ({why}). Declare it in the files again, or remove the protect rule first.")


def _parse(selector: str) -> tuple[str, str] | None:
    if selector.strip() == "site":
        return ("site", "")
    kind, sep, value = selector.partition(":")
    kind, value = kind.strip(), value.strip().strip("/")
    if not sep or kind not in _SELECTOR_KINDS or (not value and kind != "site"):
        return None
    return kind, value


def _matches(selector: tuple[str, str], touches: frozenset[Touch]) -> bool:
    kind, value = selector
    if kind == "project":
        return any(t == "project" and (v == value or v.startswith(value + "/")) for t, v in touches)
    return selector in touches


def _known(ctx: Context, kind: str) -> set[str]:
    if kind == "schedule":
        names = {s.name for s in (*ctx.live.schedules, *ctx.desired.schedules)}
        return names | {t.schedule for e in ctx.desired.extracts for t in (e.refresh or ()) if t.schedule}
    if kind == "project":
        paths = {"/".join(p.path) for p in ctx.live.projects}
        for project in [i.project for i in ctx.live.items] + [e.ref.project for e in ctx.desired.extracts]:
            paths |= {"/".join(project[:n]) for n in range(1, len(project) + 1)}
        return paths
    if kind == "site":
        return {""}
    paths = {i.path for i in ctx.live.items if i.kind == kind}
    return paths | {e.ref.path for e in ctx.desired.extracts if e.ref.kind == kind}


def select_targets(
    ctx: Context, targets: Sequence[str], drafts: list[Draft], unmanaged: list[UnmanagedDraft]
) -> tuple[list[Draft], list[UnmanagedDraft]]:
    """Keep the changes touching a selector, plus what they depend on; PlanError for a bad selector."""
    if not targets:
        return drafts, unmanaged
    selectors: list[tuple[str, str]] = []
    errors: list[str] = []
    for text in targets:
        parsed = _parse(text)
        if parsed is None:
            errors.append(f'--target "{text}" is not a selector: use schedule:NAME, datasource:PATH, '
                          "workbook:PATH, project:PATH or site.")
            continue
        known = _known(ctx, parsed[0])
        if parsed[1] not in known:
            hint = did_you_mean([f"{parsed[0]}:{m}" for m in suggest(parsed[1], known)])
            errors.append(f'--target "{text}" matches nothing declared in the files or present on '
                          f"the site.{hint}")
            continue
        selectors.append(parsed)
    if errors:
        raise PlanError("\n".join(errors))
    by_address = {d.change.address: d for d in drafts}
    chosen = {d.change.address for d in drafts if any(_matches(s, d.touches) for s in selectors)}
    pending = list(chosen)
    while pending:
        for dependency in by_address[pending.pop()].change.depends_on:
            if dependency not in chosen and dependency in by_address:
                chosen.add(dependency)
                pending.append(dependency)
    ctx.warnings.append(
        "Plan limited by --target " + ", ".join(sorted(set(targets)))
        + ": other changes may be pending; run plan without --target to see them."
    )
    kept = [d for d in drafts if d.change.address in chosen]
    listed = [u for u in unmanaged if any(_matches(s, u.touches) for s in selectors)]
    return kept, listed
