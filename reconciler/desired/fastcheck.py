"""A fast yes/no JSON Schema check, compiled from the schema itself (the subset it uses).

jsonschema takes about 0.6 s on a 5,000-item file, far from validate's 1 s budget, and almost every
file is valid. So files are first checked by closures compiled here from the same schema; only a
file that fails is handed to jsonschema, which stays the authority and words the errors. The
compiler refuses (returns None) any keyword it does not know, so the fast path can never accept
what jsonschema would reject; the tests compare both on fuzzed data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Check", "compile_check"]

Check = Callable[[Any], bool]

_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default", "examples", "errorMessage",
                "patternErrorMessage", "markdownDescription", "deprecated", "$comment"}


class _Unsupported(Exception):
    pass


def compile_check(schema: Mapping[str, Any]) -> Check | None:
    """Compile ``schema`` into a predicate, or None if it uses a keyword not supported here."""
    compiler = _Compiler(schema)
    try:
        return compiler.compile(schema)
    except _Unsupported:
        return None


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``True`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    return bool(a == b)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


_TYPES: dict[str, Check] = {
    "string": lambda x: isinstance(x, str),
    "integer": lambda x: (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, float) and x.is_integer()),
    "number": _is_number,
    "boolean": lambda x: isinstance(x, bool),
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "null": lambda x: x is None,
}


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda x: True
        if schema is False:
            return lambda x: False
        if not isinstance(schema, Mapping):
            raise _Unsupported(repr(schema))
        checks: list[Check] = []
        object_keywords = {"properties", "patternProperties", "additionalProperties", "required"}
        if object_keywords & schema.keys():
            checks.append(self.object_check(schema))
        for keyword, value in schema.items():
            if keyword in _ANNOTATIONS or keyword in object_keywords:
                continue
            method = getattr(self, "k_" + keyword.lstrip("$"), None)
            if method is None:
                raise _Unsupported(keyword)
            checks.append(method(value, schema))
        if len(checks) == 1:
            return checks[0]

        def check_all(x: Any) -> bool:
            for check in checks:  # noqa: SIM110 - a plain loop is faster than all() over a generator
                if not check(x):
                    return False
            return True

        return check_all

    def object_check(self, schema: Mapping[str, Any]) -> Check:
        """properties, patternProperties, additionalProperties and required, in one pass over the keys."""
        props = {name: self.compile(sub) for name, sub in schema.get("properties", {}).items()}
        patterns = [(re.compile(p).search, self.compile(sub)) for p, sub in schema.get("patternProperties", {}).items()]
        additional = schema.get("additionalProperties", True)
        extra: Check | None = None if additional is True else self.compile(additional)
        required = tuple(schema.get("required", ()))

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for name in required:
                if name not in x:
                    return False
            for name, value in x.items():
                test = props.get(name)
                if test is not None:
                    if not test(value):
                        return False
                    if not patterns:
                        continue
                matched = False
                for search, pattern_test in patterns:
                    if search(name):
                        matched = True
                        if not pattern_test(value):
                            return False
                if test is None and not matched and extra is not None and not extra(value):
                    return False
            return True

        return check

    def k_ref(self, ref: str, _: Mapping[str, Any]) -> Check:
        if not ref.startswith("#/$defs/"):
            raise _Unsupported(ref)
        name = ref[len("#/$defs/"):]
        if name not in self.refs:
            self.refs[name] = lambda x: False  # placeholder while compiling a recursive definition
            self.refs[name] = self.compile(self.root["$defs"][name])
        refs = self.refs
        return lambda x: refs[name](x)

    def k_type(self, value: str | list[str], _: Mapping[str, Any]) -> Check:
        names = [value] if isinstance(value, str) else value
        simple = {"string": str, "object": dict, "array": list}
        if all(n in simple for n in names):
            classes = tuple(simple[n] for n in names)
            return lambda x: isinstance(x, classes)
        tests = [_TYPES[t] for t in names]
        return lambda x: any(t(x) for t in tests)

    def k_enum(self, values: list[Any], _: Mapping[str, Any]) -> Check:
        if all(isinstance(v, str) for v in values):
            allowed = frozenset(values)
            return lambda x: isinstance(x, str) and x in allowed
        return lambda x: any(json_equal(x, v) for v in values)

    def k_const(self, value: Any, _: Mapping[str, Any]) -> Check:
        return lambda x: json_equal(x, value)

    def k_pattern(self, pattern: str, _: Mapping[str, Any]) -> Check:
        search = re.compile(pattern).search
        return lambda x: not isinstance(x, str) or search(x) is not None

    def k_minLength(self, n: int, _: Mapping[str, Any]) -> Check:
        return lambda x: not isinstance(x, str) or len(x) >= n

    def k_maxLength(self, n: int, _: Mapping[str, Any]) -> Check:
        return lambda x: not isinstance(x, str) or len(x) <= n

    def k_minimum(self, n: float, _: Mapping[str, Any]) -> Check:
        return lambda x: not _is_number(x) or x >= n

    def k_maximum(self, n: float, _: Mapping[str, Any]) -> Check:
        return lambda x: not _is_number(x) or x <= n

    def k_minItems(self, n: int, _: Mapping[str, Any]) -> Check:
        return lambda x: not isinstance(x, list) or len(x) >= n

    def k_maxItems(self, n: int, _: Mapping[str, Any]) -> Check:
        return lambda x: not isinstance(x, list) or len(x) <= n

    def k_uniqueItems(self, unique: bool, _: Mapping[str, Any]) -> Check:
        if not unique:
            return lambda x: True

        def check(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            return not any(json_equal(a, b) for i, a in enumerate(x) for b in x[i + 1:])

        return check

    def k_items(self, schema: Any, _: Mapping[str, Any]) -> Check:
        item = self.compile(schema)

        def check(x: Any) -> bool:
            if isinstance(x, list):
                for value in x:
                    if not item(value):
                        return False
            return True

        return check

    def k_minProperties(self, n: int, _: Mapping[str, Any]) -> Check:
        return lambda x: not isinstance(x, dict) or len(x) >= n

    def k_maxProperties(self, n: int, _: Mapping[str, Any]) -> Check:
        return lambda x: not isinstance(x, dict) or len(x) <= n

    def k_propertyNames(self, sub: Any, _: Mapping[str, Any]) -> Check:
        test = self.compile(sub)
        return lambda x: not isinstance(x, dict) or all(test(k) for k in x)

    def k_allOf(self, subs: list[Any], _: Mapping[str, Any]) -> Check:
        tests = [self.compile(s) for s in subs]
        return lambda x: all(t(x) for t in tests)

    def k_anyOf(self, subs: list[Any], _: Mapping[str, Any]) -> Check:
        tests = [self.compile(s) for s in subs]
        return lambda x: any(t(x) for t in tests)

    def k_oneOf(self, subs: list[Any], _: Mapping[str, Any]) -> Check:
        tests = [self.compile(s) for s in subs]

        def check(x: Any) -> bool:
            passed = 0
            for test in tests:
                if test(x):
                    passed += 1
                    if passed > 1:
                        return False
            return passed == 1

        return check

    def k_not(self, sub: Any, _: Mapping[str, Any]) -> Check:
        test = self.compile(sub)
        return lambda x: not test(x)
