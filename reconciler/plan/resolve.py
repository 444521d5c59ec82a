"""Identity: resolve the files' item references to live items, with close matches for typos."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.errors import PlanError
from reconciler.model import DesiredState, Extract, Item, LiveState, Source

__all__ = [
    "Managed",
    "did_you_mean",
    "in_scope",
    "resolve_extracts",
    "site_label",
    "suggest",
]


@dataclass(frozen=True)
class Managed:
    """A declared ``extracts:`` entry and the live item it names."""

    extract: Extract
    item: Item


def suggest(word: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Up to ``limit`` close matches for ``word``, best first (difflib)."""
    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(word, pool, n=limit, cutoff=0.6)
    if len(matches) < limit:
        # A case slip ("sales/orders") is a likely typo that difflib scores low.
        lowered = [c for c in pool if c.lower() == word.lower() and c not in matches]
        matches = (lowered + matches)[:limit]
    return matches


def did_you_mean(matches: Sequence[str]) -> str:
    """`` Did you mean "a", "b" or "c"?`` (empty when there is nothing to suggest)."""
    if not matches:
        return ""
    quoted = [f'"{m}"' for m in matches]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" Did you mean {listed}?"


def site_label(live: LiveState) -> str:
    return f'site "{live.site}"' if live.site else "the Default site"


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
    by_id = {(item.kind, item.id): item for item in live.items}
    by_path = {(item.kind, item.path): item for item in live.items}
    resolved: list[Managed] = []
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], Extract] = {}
    for extract in desired.extracts:
        ref = extract.ref
        item = by_id.get((ref.kind, ref.id)) if ref.id is not None else by_path.get((ref.kind, ref.path))
        if item is None:
            problems.append((_sort_key(extract.source), _unknown(extract, live)))
            continue
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


def _sort_key(source: Source | None) -> str:
    return "" if source is None else f"{source.file}\0{source.line:09d}\0{source.column:09d}"


def _unknown(extract: Extract, live: LiveState) -> str:
    ref = extract.ref
    if ref.name is None:
        return f'{where(extract.source)}{ref.kind} with id "{ref.id}" does not exist on {site_label(live)}.'
    paths = [item.path for item in live.items if item.kind == ref.kind]
    hint = did_you_mean(suggest(ref.path, paths))
    return f'{where(extract.source)}{ref.kind} "{ref.path}" does not exist on {site_label(live)}.{hint}'
