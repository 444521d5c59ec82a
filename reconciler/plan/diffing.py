"""Field-level differences between two JSON values, through deepdiff (the only deepdiff user)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from deepdiff import DeepDiff

from .types import FieldChange

__all__ = ["field_changes"]


def field_changes(
    before: Mapping[str, object], after: Mapping[str, object], ignore: Iterable[str] = ()
) -> tuple[FieldChange, ...]:
    """One FieldChange per top-level key that differs (lists and nested objects as a whole), in the
    order of the keys in ``after`` (then ``before``).

    ``ignore`` names top-level keys never compared. A key absent on one side shows as None there.
    """
    excluded = [f"root[{key!r}]" for key in ignore]
    diff = DeepDiff(dict(before), dict(after), exclude_paths=excluded, ignore_order=False)
    order = [*after, *(key for key in before if key not in after)]
    keys = sorted((str(key) for key in diff.affected_root_keys), key=order.index)
    return tuple(FieldChange(key, before.get(key), after.get(key)) for key in keys)
