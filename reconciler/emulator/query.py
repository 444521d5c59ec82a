"""List query parameters: `pageSize`/`pageNumber`, `filter`, `sort` and `fields`, as Tableau reads them.

Errors: 400006 page number out of range, 400007 bad page size, 403014 page size over 1000,
400000 for an unknown filter/sort/field name or operator.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from .exceptions import EmulatorError

__all__ = ["Accessor", "apply_filters", "paginate", "parse_fields", "sort_rows"]

T = TypeVar("T")
Accessor = Callable[[T], str]
"""Reads one field of a row as a string (booleans as `true`/`false`, dates in ISO form)."""

MAX_PAGE_SIZE = 1000
_CLAUSE = re.compile(r"^([A-Za-z]+):([A-Za-z]+):(.*)$", re.S)


def _page_int(value: str | None, default: int, code: str, what: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        summary = "Invalid page number" if code == "400006" else "Invalid page size"
        raise EmulatorError(400, code, summary, f"The {what} '{value}' is not an integer.") from None


def paginate(rows: Sequence[T], args: Mapping[str, str]) -> tuple[Sequence[T], int, int, int]:
    """Slice one page: returns (rows, pageNumber, pageSize, totalAvailable)."""
    size = _page_int(args.get("pageSize"), 100, "400007", "page size")
    if size < 1:
        raise EmulatorError(400, "400007", "Invalid page size", "The page size must be at least 1.")
    if size > MAX_PAGE_SIZE:
        raise EmulatorError(403, "403014", "Page size limit exceeded",
                            f"The page size {size} is larger than the maximum page size ({MAX_PAGE_SIZE}).")
    number = _page_int(args.get("pageNumber"), 1, "400006", "page number")
    last = max(1, math.ceil(len(rows) / size))
    if number < 1 or number > last:
        raise EmulatorError(400, "400006", "Invalid page number",
                            f"The page number {number} is less than one or greater than the final page "
                            f"number ({last}) at page size {size}.")
    start = (number - 1) * size
    return rows[start:start + size], number, size, len(rows)


def _split_clauses(expr: str) -> list[str]:
    clauses: list[str] = []
    depth = 0
    current = ""
    for ch in expr:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            clauses.append(current)
            current = ""
        else:
            current += ch
    clauses.append(current)
    # A comma inside a value (not a new `field:op:` clause) belongs to the previous clause.
    merged: list[str] = []
    for clause in clauses:
        if merged and not _CLAUSE.match(clause):
            merged[-1] += "," + clause
        else:
            merged.append(clause)
    return [c for c in merged if c]


def _matches(op: str, actual: str, value: str) -> bool:
    if op == "eq":
        if "*" in value:
            return fnmatch.fnmatchcase(actual.lower(), value.lower())
        return actual == value
    if op == "in":
        values = [v for v in value.strip("[]").split(",")]
        return actual in values
    if op == "has":
        return value.lower() in actual.lower()
    if op == "gt":
        return actual > value
    if op == "gte":
        return actual >= value
    if op == "lt":
        return actual < value
    if op == "lte":
        return actual <= value
    raise EmulatorError.bad_request(f"Unknown filter operator '{op}'.")


def apply_filters(rows: list[T], expr: str | None, fields: Mapping[str, Accessor[T]]) -> list[T]:
    """Keep the rows that satisfy every `field:operator:value` clause of `expr`."""
    if not expr:
        return rows
    for clause in _split_clauses(expr):
        m = _CLAUSE.match(clause)
        if m is None:
            raise EmulatorError.bad_request(f"Invalid filter expression '{clause}'.")
        name, op, value = m.groups()
        accessor = fields.get(name)
        if accessor is None:
            raise EmulatorError.bad_request(
                f"Invalid filter field '{name}'. Supported: {', '.join(sorted(fields))}.")
        if op not in ("eq", "in", "has", "gt", "gte", "lt", "lte"):
            raise EmulatorError.bad_request(f"Unknown filter operator '{op}'.")
        rows = [r for r in rows if _matches(op, accessor(r), value)]
    return rows


def sort_rows(rows: list[T], expr: str | None, fields: Mapping[str, Accessor[T]]) -> list[T]:
    """Sort by `field:asc|desc[,…]`; stable, so the last key is applied first."""
    if not expr:
        return rows
    keys: list[tuple[Accessor[T], bool]] = []
    for clause in expr.split(","):
        name, _, direction = clause.partition(":")
        accessor = fields.get(name)
        if accessor is None or direction not in ("asc", "desc"):
            raise EmulatorError.bad_request(f"Invalid sort expression '{clause}'.")
        keys.append((accessor, direction == "desc"))
    for accessor, desc in reversed(keys):
        rows = sorted(rows, key=lambda r, a=accessor: a(r).lower(), reverse=desc)  # type: ignore[misc]
    return rows


#: Tableau names sub-resource fields with a dot (`project.id`); the emulator's own names are flat.
_DOTTED = {"project.id": "projectId", "project.name": "projectName", "owner.id": "ownerId",
           "owner.name": "ownerName"}


def parse_fields(expr: str | None, default: Sequence[str], everything: Sequence[str]) -> frozenset[str]:
    """`fields=` → the set of field names to emit (`_default_`, `_all_`, or an explicit list)."""
    if not expr:
        return frozenset(default)
    chosen: set[str] = set()
    for name in expr.split(","):
        name = _DOTTED.get(name.strip(), name.strip())
        if name == "_default_":
            chosen.update(default)
        elif name == "_all_":
            chosen.update(everything)
        elif name in everything:
            chosen.add(name)
        else:
            raise EmulatorError.bad_request(f"Invalid field '{name}' in the fields parameter.")
    return frozenset(chosen)
