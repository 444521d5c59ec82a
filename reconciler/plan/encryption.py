"""Extract encryption: the site's mode and each declared item's ``encrypt`` flag.

Mode up (to enabled or enforced) runs first, mode down (to disabled) last, item flags in between;
``disabled`` decrypts and ``enforced`` encrypts every extract on the site, so both say so. An item
cannot ask for ``encrypt: true`` on a disabled site, nor ``encrypt: false`` on an enforced one.
"""

from __future__ import annotations

from .addresses import SITE_MODE, encrypt_address
from .context import Context, Draft
from .fingerprint import item_key
from .resolve import where
from .types import Action, FieldChange, ItemTarget, Phase, ResourceChange, SiteTarget

__all__ = ["plan_encryption", "resulting_mode"]



def resulting_mode(ctx: Context) -> str:
    """The site's extract encryption mode once the plan is applied."""
    wanted = ctx.desired.encryption_mode
    if wanted is None or "site.encryption_mode" in ctx.ignore:
        return ctx.live.encryption_mode
    return wanted


def plan_encryption(ctx: Context) -> list[Draft]:
    """The site mode change (if any) and the item flag changes."""
    ctx.observed.add("site")
    drafts: list[Draft] = []
    site = _site_change(ctx)
    if site is not None:
        drafts.append(Draft(site, frozenset({("site", "")})))
    mode = resulting_mode(ctx)
    depends = (SITE_MODE,) if site is not None and site.phase == Phase.SITE_MODE_UP else ()
    for managed in ctx.managed:
        extract, item = managed.extract, managed.item
        if extract.encrypt is None or f"{item.kind}.encrypt" in ctx.ignore:
            continue
        ctx.observed.add(item_key(item.kind, item.id))
        label = f'{item.kind} "{item.path}"'
        tense = "is" if mode == ctx.live.encryption_mode else "will be"
        if extract.encrypt and mode == "disabled":
            ctx.problem(str(extract.source), f"{where(extract.source)}{label} has encrypt: true but the "
                        f"site's extract encryption mode {tense} disabled; set encryption.mode: enabled.")
            continue
        if not extract.encrypt and mode == "enforced":
            ctx.problem(str(extract.source), f"{where(extract.source)}{label} has encrypt: false but the "
                        f"site's extract encryption mode {tense} enforced (Tableau encrypts every "
                        "extract); remove encrypt: false or set encryption.mode: enabled.")
            continue
        if mode == "enforced" or item.encrypt == extract.encrypt:
            continue
        change = ResourceChange(
            address=encrypt_address(item.kind, item.path), kind="encrypt", action=Action.UPDATE,
            before={"encrypt": item.encrypt}, after={"encrypt": extract.encrypt},
            changes=(FieldChange("encrypt", item.encrypt, extract.encrypt),),
            source=str(extract.source) if extract.source is not None else None, phase=Phase.ITEM_ENCRYPTION,
            target=ItemTarget(item.kind, item.id, item.path),
            depends_on=depends if extract.encrypt else (),
        )
        drafts.append(Draft(change, frozenset({(item.kind, item.path),
                                               ("project", "/".join(item.project))})))
    return drafts


def _site_change(ctx: Context) -> ResourceChange | None:
    before, after = ctx.live.encryption_mode, resulting_mode(ctx)
    if before == after:
        return None
    with_extracts = sum(1 for item in ctx.live.items if item.has_extracts)
    count = f" ({with_extracts} data sources and workbooks with extracts)" if with_extracts else ""
    warnings: tuple[str, ...] = ()
    if after == "disabled":
        warnings = (f"extract encryption mode disabled decrypts every extract on the site{count}: "
                    "slow and heavy on the server, and the extracts are no longer encrypted at rest.",)
    elif after == "enforced":
        warnings = (f"extract encryption mode enforced encrypts every extract on the site{count}, "
                    "and every new one: slow and heavy on the server; items can no longer opt out.",)
    source = ctx.desired.encryption_source
    return ResourceChange(
        address=SITE_MODE, kind="site", action=Action.UPDATE, before={"mode": before},
        after={"mode": after}, changes=(FieldChange("mode", before, after),),
        source=str(source) if source is not None else None,
        phase=Phase.SITE_MODE_DOWN if after == "disabled" else Phase.SITE_MODE_UP,
        target=SiteTarget(ctx.live.site_id), warnings=warnings,
    )
