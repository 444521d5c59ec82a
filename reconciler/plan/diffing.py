"""Field-level differences between two JSON values, through deepdiff (the only deepdiff user)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .types import FieldChange

__all__ = ["field_changes"]


def field_changes(
    before: Mapping[str, object], after: Mapping[str, object], ignore: Iterable[str] = ()
) -> tuple[FieldChange, ...]:
    """One FieldChange per top-level key that differs (lists and nested objects as a whole), in the
    order of the keys in ``after`` (then ``before``).

    ``ignore`` names top-level keys never compared. A key absent on one side shows as None there.
    """
    ignored = set(ignore)
    if before.keys() - ignored == after.keys() - ignored and all(
            _same(value, after[key]) for key, value in before.items() if key not in ignored):
        return ()  # identical (most schedules of a large plan): deepdiff would find nothing either
    from deepdiff import DeepDiff  # imported on first need: 80 ms that a plan with no update never pays

    excluded = [f"root[{key!r}]" for key in ignore]
    diff = DeepDiff(dict(before), dict(after), exclude_paths=excluded, ignore_order=False)
    order = [*after, *(key for key in before if key not in after)]
    keys = sorted((str(key) for key in diff.affected_root_keys), key=order.index)
    return tuple(FieldChange(key, before.get(key), after.get(key)) for key in keys)


_SCALARS = (str, int, float, bool, type(None))


def _same(a: object, b: object) -> bool:
    """Equal values of exactly the same types, recursively: where deepdiff reports no change.

    Stricter than ``==`` (``1 == 1.0`` and ``True == 1``, but deepdiff sees a type change); anything
    but JSON-like values answers False, and deepdiff decides.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(_same(value, b[key]) for key, value in a.items())
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple))
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return isinstance(a, _SCALARS) and a == b
