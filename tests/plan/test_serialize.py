"""Saved plans: exact JSON round trip, and clear errors for bad files; observe / stale_objects."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from reconciler.errors import PlanError
from reconciler.model import LiveState
from reconciler.plan import (
    FORMAT_VERSION,
    Plan,
    make_plan,
    observe,
    plan_digest,
    plan_from_json,
    plan_to_json,
    stale_objects,
)
from reconciler.plan.fingerprint import canonical_json
from reconciler.plan.types import Unmanaged

from .builders import desired, ds, extract, live, rec, sched, task, want, wb

ORDERS = ds("Sales/Orders")
BOARD = wb("Finance/Board Pack", encrypt=True)


def server_plan() -> tuple[Plan, LiveState]:
    d = desired(
        mode="enforced",
        schedules=[sched("Nightly", start="03:00", line=5), sched("Weekly", "weekly", "06:00", weekdays=("monday",))],
        extracts=[extract("datasource", "Sales/Orders", refresh=[want("Nightly"), want("Weekly", "incremental")]),
                  extract("workbook", "Finance/Board Pack", refresh=[want("Nightly", "incremental")])],
        prune=True,
    )
    lv = live(items=[ORDERS, BOARD], schedules=[sched("Nightly"), sched("Old", start="05:00")],
              tasks=[task("t1", ORDERS, schedule="Old"), task("t2", BOARD, schedule="Nightly"),
                     task("t3", ORDERS, "incremental", "Old")])
    # strict=False keeps the Server replace (refused by plan and apply) so that its JSON form is covered.
    return make_plan(d, lv, strict=False), lv


def cloud_plan() -> tuple[Plan, LiveState]:
    d = desired(flavor="cloud", extracts=[extract("datasource", "Sales/Orders", refresh=[
        want("Nightly", recurrence=rec("hourly", "08:00", end="18:00", weekdays=("monday", "friday")))])])
    lv = live(flavor="cloud", items=[ORDERS], tasks=[task("t1", ORDERS, recurrence=rec("daily", "02:00"))])
    return make_plan(d, lv), lv


def empty_plan() -> tuple[Plan, LiveState]:
    lv = live(items=[ORDERS])
    return make_plan(desired(), lv), lv


@pytest.mark.parametrize("make", [server_plan, cloud_plan, empty_plan])
def test_round_trip_is_exact(make) -> None:  # type: ignore[no-untyped-def]
    plan, _ = make()
    text = plan_to_json(plan)
    again = plan_from_json(text)
    assert again == plan
    assert plan_to_json(again) == text


def test_json_shape_is_terraform_like() -> None:
    plan, _ = server_plan()
    data = json.loads(plan_to_json(plan))
    assert data["format_version"] == FORMAT_VERSION and data["has_changes"] is True
    assert {"address", "actions", "before", "after", "source", "phase", "target", "depends_on"} <= set(
        data["resource_changes"][0])
    actions = {c["address"]: c["actions"] for c in data["resource_changes"]}
    assert actions['task[workbook "Finance/Board Pack"][incremental @ Nightly]'] == ["delete", "create"]
    assert actions['schedule["Old"]'] == ["delete"]


def _edit(text: str, **changes: object) -> str:
    data = json.loads(text)
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


BAD = {
    "truncated": (lambda t: t[: len(t) // 2], "is not valid JSON"),
    "empty": (lambda t: "", "was the file truncated?"),
    "not an object": (lambda t: "[]", "should be a JSON object"),
    "newer format": (lambda t: _edit(t, format_version="2", reconciler_version="9.0.0"),
                     "made by a newer reconciler 9.0.0 (plan format 2;"),
    # The same version naming a format it never writes: edited, not "a newer reconciler 0.1.0" (issue 15).
    "newer format, same version": (lambda t: _edit(t, format_version="2"),
                                   "never writes although the plan names this very version: the file was edited"),
    "missing key": (lambda t: _edit(t, site_id=None), "site_id is missing"),
    "wrong type": (lambda t: _edit(t, max_deletes="many"), "max_deletes should be an integer"),
    "edited observed": (lambda t: _edit(t, observed={"site": "0" * 64}), "fingerprint does not match"),
    "edited counts": (lambda t: _edit(t, has_changes=False), "does not match its resource_changes"),
    "unknown action": (
        lambda t: t.replace('[\n        "update"\n      ]', '[\n        "teleport"\n      ]', 1),
        "resource_changes[0].actions ['teleport'] is not a known action",
    ),
    "bad target": (
        lambda t: t.replace('"site_id": "site-luid"\n      }', '"site_id": 7\n      }', 1),
        "resource_changes[0].target should map names to strings",
    ),
}


@pytest.mark.parametrize(("edit", "message"), BAD.values(), ids=BAD.keys())
def test_bad_saved_plans(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    plan, _ = server_plan()
    with pytest.raises(PlanError) as error:
        plan_from_json(edit(plan_to_json(plan)))
    assert message in str(error.value)


def _edit_change(text: str, edit) -> str:  # type: ignore[no-untyped-def]
    data = json.loads(text)
    edit(data["resource_changes"])
    return json.dumps(data, indent=2)


def _set(changes: list[dict[str, object]], kind: str, key: str, field: str, value: object) -> None:
    change = next(c for c in changes if c["kind"] == kind and isinstance(c[key], dict))
    change[key][field] = value  # type: ignore[index]


EDITS = {
    "after.schedule": lambda cs: _set(cs, "task", "after", "schedule", "Weekly"),
    "after.start": lambda cs: _set(cs, "schedule", "after", "start", "04:00"),
    "before.start": lambda cs: _set(cs, "schedule", "before", "start", "04:00"),
    "target.schedule_name": lambda cs: _set(cs, "task", "target", "schedule_name", "Weekly"),
    "phase": lambda cs: cs[0].update(phase=7),
    "depends_on dropped": lambda cs: next(c for c in cs if c["depends_on"]).update(depends_on=[]),
    "source": lambda cs: cs[0].update(source="elsewhere.yaml:1:1"),
    "a change removed": lambda cs: cs.pop(0),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_any_edit_of_a_change_is_refused_by_the_digest(edit) -> None:  # type: ignore[no-untyped-def]
    plan, _ = server_plan()
    text = _edit_change(plan_to_json(plan), edit)
    data = json.loads(text)
    data["counts"] = {k: sum(1 for c in data["resource_changes"]
                             if c["actions"] == ([k] if k != "replace" else ["delete", "create"]))
                      for k in data["counts"]}
    data["has_changes"] = bool(data["resource_changes"])
    with pytest.raises(PlanError) as error:
        plan_from_json(json.dumps(data))
    assert "edited after it was made: its digest does not match" in str(error.value)


@pytest.mark.parametrize("key", ["max_deletes", "flavor", "server", "unmanaged", "warnings"])
def test_an_edit_outside_the_changes_is_refused_by_the_digest(key: str) -> None:
    plan, _ = server_plan()
    data = json.loads(plan_to_json(plan))
    data[key] = {"max_deletes": 10_000, "flavor": "cloud", "server": "https://other.example.com",
                 "unmanaged": [{"address": 'schedule["X"]', "kind": "schedule", "detail": "not declared"}],
                 "warnings": ["looks fine"]}[key]
    with pytest.raises(PlanError) as error:
        plan_from_json(json.dumps(data))
    assert "does not match" in str(error.value) and "edited" in str(error.value)


def test_the_digest_is_written_and_ignores_only_the_tool_version() -> None:
    plan, _ = server_plan()
    data = json.loads(plan_to_json(plan))
    assert data["digest"] == plan_digest(plan) and len(data["digest"]) == 64
    data["reconciler_version"] = "0.0.9"
    assert plan_digest(plan_from_json(json.dumps(data))) == data["digest"]
    del data["digest"]
    with pytest.raises(PlanError, match="digest is missing"):
        plan_from_json(json.dumps(data))


def test_digests_differ_between_plans_and_agree_for_equal_ones() -> None:
    assert plan_digest(server_plan()[0]) == plan_digest(server_plan()[0])
    assert len({plan_digest(make()[0]) for make in (server_plan, cloud_plan, empty_plan)}) == 3


def test_fresh_site_is_not_stale() -> None:
    plan, lv = server_plan()
    assert stale_objects(plan, lv) == []
    assert observe(lv, plan.observed) == dict(plan.observed)


STALE = {
    "schedule recurrence": (
        lambda lv: replace(lv, schedules=(sched("Nightly", start="04:00", id="id-Nightly"), *lv.schedules[1:])),
        ["schedule:Nightly"],
    ),
    "schedule recreated under a new id": (
        lambda lv: replace(lv, schedules=(sched("Nightly", id="other"), *lv.schedules[1:])),
        ["schedule:Nightly"],
    ),
    "task of a declared item": (
        lambda lv: replace(lv, tasks=lv.tasks[:-1]),
        [f"tasks:datasource:{ORDERS.id}", "usage:schedule:Old"],
    ),
    "site mode": (lambda lv: replace(lv, encryption_mode="disabled"), ["site"]),
    "item moved": (
        lambda lv: replace(lv, items=(ds("Archive/Orders", id=ORDERS.id), BOARD)),
        [f"item:datasource:{ORDERS.id}"],
    ),
    "item gone": (lambda lv: replace(lv, items=(BOARD,)), [f"item:datasource:{ORDERS.id}"]),
    "other site uses a pruned schedule": (
        lambda lv: replace(lv, shared_schedule_tasks=(("Old", 2),)), ["usage:schedule:Old"],
    ),
    "another site": (lambda lv: replace(lv, site_id="elsewhere"), ["site_id"]),
    "another api version": (lambda lv: replace(lv, api_version="3.19"), ["api_version"]),
    "unrelated failure count": (
        lambda lv: replace(lv, tasks=tuple(replace(t, consecutive_failures=3) for t in lv.tasks)), [],
    ),
}


@pytest.mark.parametrize(("change", "stale"), STALE.values(), ids=STALE.keys())
def test_stale_objects_name_what_changed(change, stale: list[str]) -> None:  # type: ignore[no-untyped-def]
    plan, lv = server_plan()
    assert stale_objects(plan, change(lv)) == stale


def test_observe_missing_object_hashes_null() -> None:
    lv = live()
    hashes = observe(lv, ["schedule:Nope", "item:datasource:nope"])
    assert hashes["schedule:Nope"] == hashes["item:datasource:nope"]


AWKWARD = ['Plain', 'Quote " and \\ backslash', "Tab\there", "Ünïcødé ✓", "Emoji 🎉", "Ctrl \x01\x1f", "\u2028sep",
           "</script>", "Line\nbreak"]


@pytest.mark.parametrize("count", [0, 1, 999, 1000, 1001, 2500])
def test_the_digest_is_the_sha256_of_the_canonical_json_however_many_unmanaged_entries(count: int) -> None:
    """plan_digest writes the unmanaged list itself, a thousand entries at a time: the same bytes as
    canonical_json of the whole plan object, for awkward text and across the thousand-entry steps."""
    plan, _ = server_plan()
    unmanaged = tuple(Unmanaged(f'task[datasource "{AWKWARD[n % len(AWKWARD)]} {n}"][full @ X]',
                                "task" if n % 3 else "schedule", AWKWARD[(n * 7) % len(AWKWARD)])
                      for n in range(count))
    plan = replace(plan, unmanaged=unmanaged)
    content = {k: v for k, v in json.loads(plan_to_json(plan)).items() if k not in ("digest", "reconciler_version")}
    assert plan_digest(plan) == hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
