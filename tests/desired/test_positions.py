"""The compact position index answers every path exactly as a walk of the YAML node tree does.

``yamlpos.Locator`` no longer keeps the node tree (it was most of validate's memory on large files):
these tests compose the same text into nodes and hold the locator's answer for every path of the data,
and for paths that do not exist, equal to the node walk the locator used to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.desired.yamlpos import Locator, PathKey, parse_text
from reconciler.model import Source

from .test_fuzz import data, shaped

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _child(node: Node | None, part: str | int) -> tuple[Node, Node | None] | None:
    """The node walk of the former locator (keys matched as written, merge sources after direct keys)."""
    if isinstance(node, SequenceNode) and isinstance(part, int):
        return (node.value[part], None) if 0 <= part < len(node.value) else None
    if isinstance(node, MappingNode):
        merges: list[Node] = []
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                merges.extend(value.value if isinstance(value, SequenceNode) else [value])
            elif isinstance(key, ScalarNode) and key.value == part:
                return value, key
        for source in merges:
            found = _child(source, part)
            if found is not None:
                return found
    return None


def _by_nodes(root: Node, path: PathKey, name: str) -> tuple[Source, Source]:
    node, key = root, None
    for part in path:
        found = _child(node, part)
        if found is None:
            break
        node, key = found
    where = key if key is not None else node
    return (Source(name, node.start_mark.line + 1, node.start_mark.column + 1),
            Source(name, where.start_mark.line + 1, where.start_mark.column + 1))


def _paths(value: Any, path: PathKey = ()) -> list[PathKey]:
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*path, index)))
    return out


def _check(text: str) -> int:
    """Compare the locator with the node walk on every path of ``text``'s data; the number of paths."""
    parsed, problems = parse_text(text, "f.yaml", lambda value: value.replace("${TEAM}", "Ops"))
    if parsed is None:
        assert problems
        return 0
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert root is not None
    locator: Locator = parsed.locator
    paths = _paths(parsed.data)
    # and paths that are not there: the nearest ancestor answers
    paths += [(*path, extra) for path in paths[:50] for extra in ("nope", 0, 99, -1)]
    for path in paths:
        assert (locator.value(path), locator.key(path)) == _by_nodes(root, path, "f.yaml"), path
    return len(paths)


def test_examples_every_path() -> None:
    files = sorted(EXAMPLES.rglob("*.yaml"))
    assert files
    assert sum(_check(file.read_text(encoding="utf-8")) for file in files) > 100


def test_anchors_merges_and_interpolated_keys() -> None:
    text = """\
version: 1
base: &base {priority: 10, state: active}
more: &more
  execution: serial
  state: suspended
schedules:
  A:
    <<: *base
    frequency: daily
    start: "02:00"
  B:
    <<: [*more, *base]
    frequency: weekly
    weekdays: [monday, friday]
    start: "03:00"
  ${TEAM} Nightly:
    frequency: daily
    start: "04:00"
extracts:
  - datasource: Sales/Orders
    refresh:
      - &task {schedule: A, type: full}
      - *task
  - {workbook: {project: [Sales, EMEA], name: Book}, refresh: [{schedule: B}]}
"""
    assert _check(text) > 40
    parsed, _ = parse_text(text, "f.yaml", lambda value: value.replace("${TEAM}", "Ops"))
    assert parsed is not None
    locator = parsed.locator
    assert "Ops Nightly" in parsed.data["schedules"]
    # merged keys point into the mapping they come from; a key written with ${VAR} is not found as such
    assert locator.key(("schedules", "B", "state")) == Source("f.yaml", 5, 3)
    assert locator.key(("schedules", "B", "priority")) == Source("f.yaml", 2, 14)
    assert locator.key(("schedules", "Ops Nightly")) == Source("f.yaml", 6, 1)
    assert locator.value(("extracts", 0, "refresh", 1, "type")) == Source("f.yaml", 22, 35)


def test_large_mapping_uses_the_same_positions() -> None:
    text = "version: 1\nschedules:\n" + "".join(f"  S{i}:\n    frequency: daily\n    start: \"0{i % 10}:00\"\n"
                                                 for i in range(40))
    assert _check(text) > 120


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(document=st.one_of(shaped, st.dictionaries(st.text(max_size=5), data, max_size=4)), flow=st.booleans())
def test_fuzzed_documents(document: dict[str, Any], flow: bool) -> None:
    _check(yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True))
