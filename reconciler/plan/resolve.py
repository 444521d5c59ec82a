"""Identity: resolve the files' item references to live items, with close matches for typos."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.errors import PlanError
from reconciler.hints import did_you_mean, suggest
from reconciler.model import (
    DesiredState,
    Extract,
    Item,
    ItemRef,
    LiveState,
    Source,
    describe_item,
    match_ref,
    site_label,
)

__all__ = [
    "Managed",
    "ambiguous",
    "check_scope",
    "did_you_mean",
    "in_scope",
    "resolve_extracts",
    "suggest",
]


@dataclass(frozen=True)
class Managed:
    """A declared ``extracts:`` entry and the live item it names."""

    extract: Extract
    item: Item


def ambiguous(ref: ItemRef, found: Sequence[Item]) -> str:
    """The refusal of a path that names more than one item (a "/" inside a project or item name)."""
    listed = "; ".join(describe_item(item) for item in sorted(found, key=lambda i: (i.project, i.name, i.id)))
    return (f'{ref.kind} "{ref.path}" is ambiguous: a "/" inside a project or item name makes it name '
            f"{len(found)} items: {listed}. Nothing was planned. Name the one you mean exactly, with "
            "{project: [parts...], name: ...} (each project part given whole) or {id: LUID}.")


def where(source: Source | None) -> str:
    """``file:line:col: `` prefix for a message, or nothing."""
    return f"{source}: " if source is not None else ""


def in_scope(project: tuple[str, ...], scope: tuple[tuple[str, ...], ...]) -> bool:
    """Whether a project path lies under one of the scope's project paths (empty scope: everything)."""
    return not scope or any(project[: len(root)] == root for root in scope)


def resolve_extracts(desired: DesiredState, live: LiveState) -> tuple[Managed, ...]:
    """Resolve every ``extracts:`` entry to its live item.

    Raises one PlanError listing every unknown item (with up to 3 close matches each) and every item
    declared twice under different names (a path and a LUID).
    """
    index = _ItemIndex(live.items, any(extract.ref.id is not None for extract in desired.extracts))
    resolved: list[Managed] = []
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], Extract] = {}
    for extract in desired.extracts:
        ref = extract.ref
        # match_ref is the one resolver (refresh uses it too); the index only narrows what it looks at.
        found = match_ref(ref, index.pool(ref))
        if len(found) > 1:
            problems.append((_sort_key(extract.source), where(extract.source) + ambiguous(ref, found)))
            continue
        if not found:
            problems.append((_sort_key(extract.source), _unknown(extract, live)))
            continue
        item = found[0]
        first = seen.get((item.kind, item.id))
        if first is not None:
            problems.append((
                _sort_key(extract.source),
                f'{where(extract.source)}{item.kind} "{item.path}" is declared twice '
                f"(also at {first.source or 'another entry'}); declare it once.",
            ))
            continue
        seen[(item.kind, item.id)] = extract
        resolved.append(Managed(extract, item))
    if problems:
        problems.sort()
        raise PlanError("\n".join(message for _, message in problems))
    return tuple(resolved)


class _ItemIndex:
    """The live items a reference can name, without joining 75,000 paths: by (kind, id), and by (kind, name),
    since an item whose path is P has as its name P itself or a part of P after a "/"."""

    def __init__(self, items: Sequence[Item], with_ids: bool) -> None:
        self.by_id: dict[tuple[str, str], list[Item]] = {}
        self.by_name: dict[tuple[str, str], list[Item]] = {}
        for item in items:
            key = (item.kind, item.name)
            if (named := self.by_name.get(key)) is None:
                self.by_name[key] = [item]
            else:
                named.append(item)
            if with_ids:
                self.by_id.setdefault((item.kind, item.id), []).append(item)

    def pool(self, ref: ItemRef) -> list[Item]:
        """A superset of what ``match_ref(ref, ...)`` finds: the items with ref's id, or with ref's path."""
        if ref.id is not None:
            return self.by_id.get((ref.kind, ref.id), [])
        path = ref.path
        names = [path, *(path[n + 1:] for n, char in enumerate(path) if char == "/")]
        return [item for name in dict.fromkeys(names) for item in self.by_name.get((ref.kind, name), [])
                if item.path == path]


def check_scope(desired: DesiredState, live: LiveState) -> None:
    """Every ``policy.scope`` project must be a project of the site, compared exactly: a scope that matches
    nothing ("sales" for "Sales") would manage nothing, prune nothing and report 100% coverage."""
    if not desired.policy.scope:
        return
    paths = {project.path for project in live.projects} | {item.project for item in live.items}
    known = {path[:n] for path in paths for n in range(1, len(path) + 1)}
    missing = [root for root in desired.policy.scope if root not in known]
    if not missing:
        return
    names = sorted("/".join(path) for path in known)
    lines = []
    for root in missing:
        text = "/".join(root)
        lines.append(f'policy.scope names the project "{text}", which is not on {site_label(live.site)} (project paths '
                     f'are compared exactly, case included).{did_you_mean(suggest(text, names), text)}')
    raise PlanError("\n".join(lines) + "\nNothing was planned: a scope that matches nothing would manage nothing "
                    "and report full coverage. Fix the project path in policy.scope.")


def _sort_key(source: Source | None) -> str:
    return "" if source is None else f"{source.file}\0{source.line:09d}\0{source.column:09d}"


def _unknown(extract: Extract, live: LiveState) -> str:
    ref = extract.ref
    if ref.name is None:
        return f'{where(extract.source)}{ref.kind} with id "{ref.id}" does not exist on {site_label(live.site)}.'
    paths = [item.path for item in live.items if item.kind == ref.kind]
    hint = did_you_mean(suggest(ref.path, paths), ref.path)
    return f'{where(extract.source)}{ref.kind} "{ref.path}" does not exist on {site_label(live.site)}.{hint}'
