"""YAML files → plain data, keeping the file:line:column of every node (for error messages).

The files are read defensively (size cap, binary and non-UTF-8 refused), composed safely into
nodes (libyaml when available), then converted into plain ``dict``/``list``/scalars by our own
walk, which reports duplicate keys (PyYAML silently keeps the last one), unsupported tags and alias
bombs. The node tree is dropped once converted: the walk records one compact array of packed
positions per mapping and list, and a ``Locator`` finds the position of a path from those only when a
message or a ``Source`` needs it.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Problem
from reconciler.model import Source

__all__ = ["MAX_BYTES", "Locator", "ParsedFile", "parse_file", "parse_text"]

#: Files larger than this are refused before they are read.
MAX_BYTES = 5 * 1024 * 1024
#: Nesting deeper than this is refused (no real file comes close).
MAX_DEPTH = 100
#: Values produced after alias expansion; beyond it the file is an alias bomb.
MAX_VALUES = 2_000_000

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}
_constructor = SafeConstructor()
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")

#: Turns one string scalar into its final value (``${VAR}`` interpolation); raises ValueError.
StringHook = Callable[[str], str]
PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class ParsedFile:
    """One file's data (a mapping) and the locator of its nodes."""

    name: str
    data: dict[str, Any]
    locator: Locator


class Locator:
    """Finds the position of a path (``("extracts", 3, "refresh", 0, "start")``) in one file.

    It keeps no YAML nodes: the converter records, for every mapping and list of the data, one
    compact array of packed positions (the container's own, then each key's and value's, or each
    item's), keyed by the container's identity. A lookup walks the data itself.
    """

    def __init__(self, name: str, data: Any, root: int, index: dict[int, tuple[Any, array[int]]]) -> None:
        self.name = name
        self.data = data
        self._root = root
        self._index = index
        self._orders: dict[int, dict[str, int]] = {}
        self._last: PathKey = ()
        self._steps: list[tuple[Any, int, int]] = [(data, root, -1)]

    def value(self, path: PathKey) -> Source:
        """Where the value at ``path`` starts (or the nearest ancestor that exists)."""
        value, _ = self._walk(path)
        return self._source(value)

    def key(self, path: PathKey) -> Source:
        """Where the key naming ``path`` is (a list item: where the item starts)."""
        value, key = self._walk(path)
        return self._source(key if key >= 0 else value)

    def _source(self, packed: int) -> Source:
        return Source(self.name, (packed >> _SHIFT) + 1, (packed & _COLUMN) + 1)

    def _walk(self, path: PathKey) -> tuple[int, int]:
        """(value position, key position or -1) of ``path``, or of its nearest ancestor found."""
        # Sources are asked in document order (an extract, then its tasks, then their keys): resume from
        # the longest prefix shared with the previous walk.
        last, steps = self._last, self._steps
        depth = 0
        limit = min(len(path), len(last))
        while depth < limit and path[depth] == last[depth] and type(path[depth]) is type(last[depth]):
            depth += 1
        del steps[depth + 1:]
        container, value, key = steps[depth]
        for part in path[depth:]:
            entry = self._index.get(id(container))
            if entry is None or entry[0] is not container:
                break
            positions = entry[1]
            if type(container) is list:
                if not isinstance(part, int) or not 0 <= part < len(container):
                    break
                value, key = positions[1 + part], -1
                container = container[part]
            else:
                if not isinstance(part, str) or part not in container:
                    break
                at = self._order(container)[part] if len(container) > 8 else list(container).index(part)
                if positions[1 + 2 * at] < 0:  # a key written with ${VAR}: not found as written
                    break
                value, key = positions[2 + 2 * at], positions[1 + 2 * at]
                container = container[part]
            steps.append((container, value, key))
        self._last = path[:len(steps) - 1]
        return value, key

    def _order(self, mapping: dict[str, Any]) -> dict[str, int]:
        order = self._orders.get(id(mapping))
        if order is None:
            order = self._orders[id(mapping)] = {key: at for at, key in enumerate(mapping)}
        return order


#: A position packed in one int: the line above _SHIFT bits, the column below (files are at most 5 MB).
_SHIFT = 24
_COLUMN = (1 << _SHIFT) - 1


def _pack(node: Node) -> int:
    mark = node.start_mark
    return (mark.line << _SHIFT) | mark.column


def parse_file(path: Path, name: str, hook: StringHook) -> tuple[ParsedFile | None, list[Problem]]:
    """Read and parse one file. Returns the parsed file, or None and the problems found."""
    where = Source(name, 1, 1)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return None, [Problem(where, f"the file is {size / 1024 / 1024:.1f} MB; reconciler reads files of up "
                                         f"to {MAX_BYTES // 1024 // 1024} MB. Split it into several files "
                                         "(a directory of files is merged).")]
        raw = path.read_bytes()
    except OSError as error:
        return None, [Problem(where, f"cannot read the file: {error.strerror or error}.")]
    return parse_bytes(raw, name, hook)


def parse_bytes(raw: bytes, name: str, hook: StringHook) -> tuple[ParsedFile | None, list[Problem]]:
    """Decode (UTF-8 only) and parse the bytes of one file."""
    if len(raw) > MAX_BYTES:
        return None, [Problem(Source(name, 1, 1), f"the file is larger than {MAX_BYTES // 1024 // 1024} MB; "
                                                  "split it into several files.")]
    nul = raw.find(b"\0")
    if nul >= 0:
        return None, [Problem(_byte_source(raw, nul, name),
                              "this is a binary file (it contains NUL bytes), not YAML text; "
                              "save it as UTF-8 text, or remove it from the paths given.")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, [Problem(_byte_source(raw, error.start, name),
                              f"the file is not UTF-8 text (byte 0x{raw[error.start]:02x}); save it as UTF-8.")]
    return parse_text(text, name, hook)


def _byte_source(raw: bytes, offset: int, name: str) -> Source:
    before = raw[:offset]
    line_start = before.rfind(b"\n") + 1
    return Source(name, before.count(b"\n") + 1, len(before[line_start:].decode("utf-8", "replace")) + 1)


def parse_text(text: str, name: str, hook: StringHook) -> tuple[ParsedFile | None, list[Problem]]:
    """Parse YAML text into a ParsedFile whose data is a mapping."""
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as error:
        return None, [_syntax_problem(error, text, name)]
    except yaml.YAMLError as error:
        return None, [Problem(Source(name, 1, 1), f"invalid YAML: {error}")]
    except RecursionError:
        return None, [Problem(Source(name, 1, 1), f"the YAML is nested too deeply (more than {MAX_DEPTH} levels).")]
    if root is None:
        return None, [Problem(Source(name, 1, 1), "the file is empty: expected a mapping that starts with "
                                                  "`version: 1` (then schedules:, extracts:, ...).")]
    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        where = Source(name, root.start_mark.line + 1, root.start_mark.column + 1)
        return None, [Problem(where, f"the top level of the file is {kind}; expected a mapping of "
                                                 "keys (version:, schedules:, extracts:, policy:, ...).")]
    converter = _Converter(name, hook)
    data = converter.convert(root, 0)
    if converter.problems:
        return None, converter.problems
    assert isinstance(data, dict)
    # The node tree is dropped here: only the data and the compact positions are kept.
    return ParsedFile(name, data, Locator(name, data, _pack(root), converter.index)), []


def _compose(text: str) -> Node | None:
    # libyaml's composer recurses on the C stack and crashes on absurd nesting: then use the
    # Python one, which raises RecursionError instead.
    loader = yaml.SafeLoader(text) if _max_flow_depth(text) > 1000 else _Loader(text)
    try:
        node: Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def _max_flow_depth(text: str) -> int:
    count = text.count("[") + text.count("{")
    if count <= 1000:
        return count
    brackets = _NOT_BRACKET.sub("", text)
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def _syntax_problem(error: yaml.MarkedYAMLError, text: str, name: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line, mark.column) if mark is not None else (0, 0)
    lines = text.splitlines()
    here = lines[line][column:column + 1] if line < len(lines) else ""
    where = Source(name, line + 1, column + 1)
    if here == "\t" or ("\t" in (error.problem or "") and "character" in (error.problem or "")):
        return Problem(where, "a tab character: YAML indents with spaces only; replace the tabs with spaces.")
    problem = (error.problem or "syntax error").rstrip(".")
    detail = f"invalid YAML: {problem}"
    if error.context and error.context_mark is not None and error.context_mark is not mark:
        detail += f" ({error.context} at line {error.context_mark.line + 1})"
    elif error.context:
        detail += f" ({error.context})"
    if "mapping values are not allowed" in problem:
        detail += "; a value that contains \": \" must be quoted"
    elif "expected a single document" in (error.context or "") or "but found another document" in problem:
        detail = "invalid YAML: the file holds several documents (---); put one document per file"
    return Problem(where, detail + ".")


class _Converter:
    """Nodes → plain data; collects duplicate keys, bad keys and unsupported tags as problems."""

    def __init__(self, name: str, hook: StringHook) -> None:
        self.name = name
        self.hook = hook
        self.problems: list[Problem] = []
        self.count = 0
        #: id(container) → (container, its own position then each key's and value's / each item's).
        self.index: dict[int, tuple[Any, array[int]]] = {}

    def _problem(self, node: Node, message: str) -> None:
        self.problems.append(Problem(Source(self.name, node.start_mark.line + 1, node.start_mark.column + 1), message))

    def convert(self, node: Node, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            if self.count == MAX_VALUES + 1:
                self._problem(node, f"the file expands to more than {MAX_VALUES:,} values (aliases that "
                                    "repeat aliases?); simplify it.")
            return None
        if depth > MAX_DEPTH:
            if not self.problems:
                self._problem(node, f"the YAML is nested too deeply (more than {MAX_DEPTH} levels).")
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                self._problem(node, f"the YAML tag {node.tag} is not supported here; write a plain list.")
            items = [self.convert(item, depth + 1) for item in node.value]
            self.index[id(items)] = (items, array("q", [_pack(node), *map(_pack, node.value)]))
            return items
        if isinstance(node, MappingNode):
            if node.tag != _MAP:
                self._problem(node, f"the YAML tag {node.tag} is not supported here; write a plain mapping.")
            return self._mapping(node, depth)
        raise TypeError(f"unexpected YAML node {node!r}")  # pragma: no cover - the composer makes only these

    def _mapping(self, node: MappingNode, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        merged: list[dict[str, Any]] = []
        positions = array("q", (_pack(node),))
        append = positions.append
        plain = depth < MAX_DEPTH  # a plain text value one level down needs no other check
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self._merge_sources(value_node, depth))
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(key_node, "a key must be plain text, not a list or a mapping.")
                continue
            key = key_node.value
            if "$" in key and key_node.tag == _STR:  # `${TEAM} Nightly:` names a schedule too
                try:
                    key = self.hook(key)
                except ValueError as error:
                    self._problem(key_node, str(error))
            if key in seen:
                first = seen[key].start_mark
                self._problem(key_node, f"duplicate key {key!r}: it is already set at line {first.line + 1}, "
                                        f"column {first.column + 1}; keep one of them.")
                continue
            seen[key] = key_node
            value = value_node.value
            if plain and value_node.tag == _STR and type(value) is str and "$" not in value \
                    and self.count < MAX_VALUES:
                self.count += 1  # what convert() would do for it, without the calls
                out[key] = value
            else:
                out[key] = self.convert(value_node, depth + 1)
            # the locator matches keys as written: one written with ${VAR} is not found under its value
            mark = key_node.start_mark
            append((mark.line << _SHIFT) | mark.column if key == key_node.value else -1)
            mark = value_node.start_mark
            append((mark.line << _SHIFT) | mark.column)
        for source in merged:
            found = self.index[id(source)][1]
            for at, (key, value) in enumerate(source.items()):
                if key not in out:
                    out[key] = value
                    append(found[1 + 2 * at])
                    append(found[2 + 2 * at])
        self.index[id(out)] = (out, positions)
        return out

    def _merge_sources(self, node: Node, depth: int) -> Iterator[dict[str, Any]]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if isinstance(source, MappingNode):
                yield self._mapping(source, depth + 1)
            else:
                self._problem(source, "a merge key (<<) takes a mapping or a list of mappings.")

    def _scalar(self, node: ScalarNode) -> Any:
        value = node.value
        if node.tag != _STR:
            return self._typed(node)
        if "$" not in value:
            return value
        try:
            text = self.hook(value)
        except ValueError as error:
            self._problem(node, str(error))
            return value
        if not node.style and _WHOLE_REF.match(value):
            # `max_deletes: ${MAX}`: a plain scalar that is only a reference is a number or a boolean when its
            # value is one written plainly (25, true); anything else stays the text it was: `start: ${START}`
            # with START=0200 is "0200", never YAML 1.1's octal 128 nor 200.
            if _PLAIN_INT.match(text):
                return int(text)
            if text in ("true", "false"):
                return text == "true"
        return text

    def _typed(self, node: ScalarNode) -> Any:
        tag, value = node.tag, node.value
        try:
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return _constructor.construct_yaml_bool(node)
            if tag in (_INT, _FLOAT):
                # YAML 1.1 reads 23:00 as the base-60 number 82800: keep such values as written.
                if ":" in value:
                    return value
                return _constructor.construct_yaml_int(node) if tag == _INT else _constructor.construct_yaml_float(node)
        except (ConstructorError, ValueError):
            return value
        if tag in _AS_TEXT:
            return value
        self._problem(node, f"the YAML tag {tag} is not supported; write a plain value.")
        return value


_PLAIN_INT = re.compile(r"^(0|-?[1-9][0-9]*)$")
_WHOLE_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
