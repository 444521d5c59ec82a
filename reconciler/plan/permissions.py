"""Which planned changes the signed-in user may not make, said before apply fails halfway.

Tableau's rules, as they bear on a plan:

- Server schedules are server-wide: only a server administrator creates, updates or deletes them.
- The site's extract encryption mode (and encrypt/decrypt/reencrypt-extracts): a server administrator
  only; a site administrator may not (docs/tableau-behaviour.md, "Extract encryption mode is for server
  administrators").
- A task or an item's encryption flag: the item's owner, or a site administrator.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import LiveState

from .types import ItemTarget, Plan, TaskTarget

__all__ = ["PermissionGap", "permission_gaps"]


@dataclass(frozen=True)
class PermissionGap:
    """A change the signed-in user lacks the permission for, and why."""

    address: str
    reason: str


def permission_gaps(plan: Plan, live: LiveState) -> tuple[PermissionGap, ...]:
    """The changes of ``plan`` that ``live.user`` may not make (empty when the role is unknown)."""
    user = live.user
    if user is None or user.is_server_admin:
        return ()
    owners: dict[tuple[str, str], str | None] = {(i.kind, i.id): i.owner_id for i in live.items}
    gaps = []
    for change in plan.changes:
        reason = None
        if change.kind == "schedule" and plan.flavor == "server":
            reason = "server schedules are shared by every site: only a server administrator may change them"
        elif change.kind == "site":
            reason = ("the site's extract encryption mode is changed by a server administrator only (Tableau's "
                      "Update Site; a site administrator may not)")
        elif user.is_site_admin:
            continue
        elif isinstance(change.target, (TaskTarget, ItemTarget)):
            owner = owners.get((change.target.item_kind, change.target.item_id))
            if owner != user.id:
                label = "data source" if change.target.item_kind == "datasource" else "workbook"
                what = "refresh tasks" if change.kind == "task" else "extract encryption"
                reason = f"only the {label}'s owner or a site administrator may change its {what}"
        if reason is not None:
            gaps.append(PermissionGap(change.address, reason))
    return tuple(gaps)
