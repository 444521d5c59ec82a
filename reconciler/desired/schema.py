"""The JSON Schema of the desired-state file: loading it, and mapping its errors to file:line:column.

The schema (``reconciler.schema.json``, shipped in this package; ``schemas/`` links to it) is the
single source of the file's shape. Its errors are reworded for people: unknown keys get the closest
valid key, enums list their values, type errors say what was expected, and the custom
``errorMessage``/``patternErrorMessage`` annotations (which yaml-language-server shows too) are used
where the generic wording would be obscure.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from reconciler.desired.fastcheck import Check, compile_check
from reconciler.desired.yamlpos import Locator, PathKey
from reconciler.errors import Problem

if TYPE_CHECKING:  # jsonschema is imported only when a file fails the fast check (it costs 65 ms to import)
    import jsonschema
    from jsonschema.exceptions import ValidationError

__all__ = ["DEPLOYMENT_SCHEMA_FILE", "SCHEMA_FILE", "check_schema", "describe_path", "load_schema", "suggest"]

SCHEMA_FILE = "reconciler.schema.json"
#: The schema of a deployment's server-level file (``deployment.yaml``).
DEPLOYMENT_SCHEMA_FILE = "deployment.schema.json"

_TYPE_NAMES = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "object": "a mapping (key: value)", "array": "a list", "null": "nothing (null)"}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@cache
def load_schema(name: str = SCHEMA_FILE) -> dict[str, Any]:
    """The JSON Schema of the desired-state file, or of ``name`` (read once, from the package data)."""
    text = resources.files("reconciler.desired").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    import jsonschema

    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


@cache
def _fast(name: str) -> Check | None:
    return compile_check(load_schema(name))


def check_schema(data: Any, locator: Locator, schema: str = SCHEMA_FILE) -> list[tuple[PathKey, Problem]]:
    """The schema errors of one file's data (against the schema file ``schema``), each with the path it concerns."""
    fast = _fast(schema)
    if fast is not None and fast(data):
        return []
    out: list[tuple[PathKey, Problem]] = []
    for error in _validator(schema).iter_errors(data):
        out.extend(_problems(error, data, locator))
    return out


def suggest(word: str, options: Any) -> str:
    """``; did you mean "frequency"?`` or ``""``."""
    pool = [str(o) for o in options]
    # Case first: "TUESDAY" is "tuesday", though difflib scores it low.
    same = [o for o in pool if o.lower() == word.lower()]
    lowered = {o.lower(): o for o in pool}
    close = same or [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)]
    return f'; did you mean "{close[0]}"?' if close else ""


def describe_path(path: PathKey) -> str:
    """``schedules."Nightly 02:00".start``, ``extracts[3].refresh[0]``; ``()`` is the top level."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f".{json.dumps(part, ensure_ascii=False)}" if out else json.dumps(part, ensure_ascii=False)
    return out or "the top level"


def _then(suggestion: str) -> str:
    return f"{suggestion} " if suggestion else ". "


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {_show(value)}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {_show(value)}"
    return _show(value)


def _problems(error: ValidationError, data: Any, locator: Locator) -> Iterator[tuple[PathKey, Problem]]:
    path: PathKey = tuple(error.absolute_path)
    label = describe_path(path)
    keyword = error.validator
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    expected: Any = error.validator_value

    if keyword == "additionalProperties" and isinstance(value, dict):
        known = list(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        for key in value:
            if key in known or any(p.search(key) for p in patterns):
                continue
            yield (*path, key), Problem(locator.key((*path, key)),
                                         f"unknown key {_show(key)} in {label}{_then(suggest(key, known))}"
                                         f"Allowed keys: {', '.join(known)}.")
        return
    if keyword == "required" and isinstance(value, dict):
        for name in expected:
            if name not in value:
                hint = " at the top of the file (the file format version)" if name == "version" and not path else ""
                yield path, Problem(locator.key(path), f"{label} is missing the required key {_show(name)}{hint}.")
        return
    where = locator.value(path)
    if keyword in ("oneOf", "anyOf"):
        if "errorMessage" in schema:
            message = f"{label}: expected {schema['errorMessage']}"
            if not isinstance(value, (dict, list)):
                message = f"{_show(value)} is not valid for {label}: expected {schema['errorMessage']}"
            yield path, Problem(locator.key(path) if isinstance(value, dict) else where, message + ".")
            return
        from jsonschema.exceptions import best_match

        best = best_match(error.context or [])
        if best is not None:
            yield from _problems(best, data, locator)
        return
    if keyword == "enum":
        word = suggest(value, expected) if isinstance(value, str) else ""
        allowed = ", ".join(_show(v) if not isinstance(v, str) else v for v in expected)
        yield path, Problem(where, f"{_show(value)} is not allowed for {label}{_then(word)}Allowed: {allowed}.")
        return
    if keyword == "const":
        why = " (the only file format version this reconciler reads)" if path == ("version",) else ""
        yield path, Problem(where, f"{label} must be {_show(expected)}{why}, not {_show(value)}.")
        return
    if keyword == "type":
        wanted = [expected] if isinstance(expected, str) else list(expected)
        names = " or ".join(_TYPE_NAMES.get(w, w) for w in wanted)
        hint = ""
        if "string" in wanted and isinstance(value, (int, float)) and not isinstance(value, bool):
            hint = "; quote it"
        yield path, Problem(where, f"{label} must be {names}, not {_kind(value)}{hint}.")
        return
    if keyword == "pattern":
        yield path, Problem(where, _pattern_message(value, label, schema))
        return
    if keyword in ("minimum", "maximum"):
        bound = "at least" if keyword == "minimum" else "at most"
        yield path, Problem(where, f"{label} must be {bound} {expected}, not {_show(value)}.")
        return
    if keyword == "minItems":
        hint = "; leave the key out to mean every day" if path and path[-1] == "weekdays" else ""
        yield path, Problem(where, f"{label} must list at least {expected} value{'s' if expected != 1 else ''}{hint}.")
        return
    if keyword == "uniqueItems" and isinstance(value, list):
        twice = next((a for i, a in enumerate(value) if a in value[i + 1:]), None)
        yield path, Problem(where, f"{label} lists {_show(twice)} twice; list each value once.")
        return
    if keyword == "minLength":
        yield path, Problem(where, f"{label} must not be empty.")
        return
    if keyword in ("minProperties", "maxProperties") and "errorMessage" in schema:
        yield path, Problem(locator.key(path), f"{label}: expected {schema['errorMessage']}.")
        return
    if keyword == "propertyNames":
        yield path, Problem(locator.key(path), f"{label}: a name must be 1 to 200 characters long.")
        return
    yield path, Problem(where, f"{label}: {error.message}.")


def _pattern_message(value: Any, label: str, schema: dict[str, Any]) -> str:
    wanted = schema.get("patternErrorMessage", f"text matching {schema.get('pattern')}")
    if wanted.startswith("a time of day") and isinstance(value, str):
        match = _TIME.match(value.strip())
        if match and int(match.group(1)) <= 23 and int(match.group(2)) <= 59 and match.group(3) in (None, "00"):
            hours, minutes = int(match.group(1)), int(match.group(2))
            low, high = minutes - minutes % 5, minutes - minutes % 5 + 5
            options = [f"{hours:02d}:{low:02d}"] + ([f"{hours:02d}:{high:02d}"] if high < 60 else [])
            return (f"{_show(value)} is not on a 5-minute step for {label}: Tableau runs schedules at :00, :05, "
                    f"... :55 (use {' or '.join(_show(o) for o in options)}).")
        return f"{_show(value)} is not a time of day for {label}: use HH:MM from 00:00 to 23:55, on 5-minute steps."
    return f"{_show(value)} is not valid for {label}: expected {wanted}."
