"""Fuzzing: whatever the input, load_desired returns or raises DesiredStateInvalid, never anything else;
and the fast schema check agrees with jsonschema."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import load_desired, load_schema
from reconciler.desired.fastcheck import compile_check
from reconciler.errors import DesiredStateInvalid

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = ["version", "server", "site", "flavor", "encryption", "mode", "schedules", "extracts", "policy",
        "frequency", "every", "start", "end", "weekdays", "month_days", "on", "occurrence", "weekday",
        "priority", "execution", "state", "datasource", "workbook", "project", "name", "id", "encrypt",
        "refresh", "schedule", "type", "prune", "scope", "projects", "protect", "ignore", "max_deletes",
        "Nightly", "x-anchor"]
WORDS = ["daily", "hourly", "weekly", "monthly", "02:00", "2:00", "23:55", "25:00", "02:07", "1h", "15m", "3h",
         "24h", "monday", "friday", "first", "sixth", "last", "server", "cloud", "enabled", "enforced",
         "full", "incremental", "Sales/Orders", "Orders", "Nightly", "schedule.priority", "${HOME}", "$${x}",
         "${", "https://t.example.com", ""]
scalars = st.one_of(st.sampled_from(WORDS), st.integers(-3, 40), st.booleans(), st.none(),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
data = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=5)), max_leaves=25)
documents = st.fixed_dictionaries({"version": st.sampled_from([1, 1, 1, 2, "1"])},
                                  optional={k: data for k in ("schedules", "extracts", "policy", "site", "flavor",
                                                              "encryption")})

pick = st.sampled_from
recurrence = {"every": pick(["15m", "30m", "1h", "4h", "12h", "24h", "3h", "0m"]),
              "end": pick(["18:00", "08:00", "18:30", "00:00"]),
              "weekdays": st.lists(pick(["monday", "friday", "sunday", "Monday"]), max_size=3),
              "month_days": st.lists(st.one_of(st.integers(0, 33), pick(["last", "first"])), max_size=3),
              "on": st.fixed_dictionaries({"occurrence": pick(["first", "last", "sixth"]),
                                           "weekday": pick(["monday", "funday"])})}
schedule = st.fixed_dictionaries({"frequency": pick(["hourly", "daily", "weekly", "monthly"]),
                                  "start": pick(["08:00", "2:00", "23:55", "02:07"])},
                                 optional={**recurrence, "priority": st.integers(0, 101),
                                           "execution": pick(["serial", "parallel"]),
                                           "state": pick(["active", "paused"])})
task = st.one_of(st.fixed_dictionaries({"schedule": pick(["A", "B", "C"])},
                                       optional={"type": pick(["full", "incremental"]), "start": pick(["08:00"])}),
                 st.fixed_dictionaries({"frequency": pick(["hourly", "daily", "weekly", "monthly"])},
                                       optional={**recurrence, "start": pick(["08:00", "02:07"]),
                                                 "type": pick(["full", "incremental"])}))
extract = st.fixed_dictionaries({"datasource": pick(["S/A", "S/B", "S/E/C", "A", "S//B"])},
                                optional={"encrypt": st.booleans(), "refresh": st.lists(task, max_size=3)})
shaped = st.fixed_dictionaries({"version": st.just(1), "schedules": st.dictionaries(pick(["A", "B"]), schedule),
                                "extracts": st.lists(extract, max_size=4)},
                               optional={"flavor": pick(["server", "cloud"]),
                                         "encryption": st.fixed_dictionaries({"mode": pick(["enabled", "disabled",
                                                                                            "enforced"])})})


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp) / "fuzz.yaml"


def _load(path: Path) -> None:
    try:
        load_desired([path], env={"HOME": "/home/x"})
    except DesiredStateInvalid as error:
        assert error.problems  # every failure explains itself
        assert all(p.message for p in error.problems)


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.text(alphabet="version: 1\n-[]{}:,'\"#&*!|>\t ${}", max_size=200)))
def test_arbitrary_text(scratch: Path, text: str) -> None:
    # Lone surrogates become invalid UTF-8 on disk: the loader's "not UTF-8" path.
    scratch.write_bytes(text.encode("utf-8", "surrogatepass"))
    _load(scratch)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(scratch: Path, raw: bytes) -> None:
    scratch.write_bytes(raw)
    _load(scratch)


@FUZZ
@given(document=documents, flow=st.booleans())
def test_arbitrary_nested_data(scratch: Path, document: dict[str, Any], flow: bool) -> None:
    scratch.write_text(yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True), encoding="utf-8")
    _load(scratch)


@FUZZ
@given(document=shaped)
def test_shaped_documents(scratch: Path, document: dict[str, Any]) -> None:
    scratch.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    _load(scratch)


@FUZZ
@given(document=st.one_of(documents, data, shaped))
def test_fast_check_agrees_with_jsonschema(document: Any) -> None:
    check = compile_check(load_schema())
    assert check is not None
    expected = jsonschema.Draft202012Validator(load_schema()).is_valid(document)
    assert check(document) is expected

