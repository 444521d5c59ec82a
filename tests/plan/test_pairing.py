"""Pairing of one item's tasks: exact first, then moves and replaces, fewest actions (property-based)."""

from __future__ import annotations

import random
from collections import Counter
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.plan.pairing import ANY_TYPE, Slot, pair_tasks

Task = tuple[str, str]  # (type, when)

tasks = st.lists(
    st.tuples(st.sampled_from(["full", "incremental"]), st.sampled_from(["A", "B", "C", "D"])), max_size=6
)


def _pair(desired: list[Task], live: list[Task]):  # type: ignore[no-untyped-def]
    d = [Slot(t, w, f"{i:03d}", (t, w)) for i, (t, w) in enumerate(desired)]
    l_ = [Slot(t, w, f"{i:03d}", (i, t, w)) for i, (t, w) in enumerate(live)]
    return pair_tasks(d, l_)


def _minimum(desired: list[Task], live: list[Task]) -> int:
    """Brute force: each live task is kept (0), moved or retyped (1) or deleted (1); the rest created."""

    def cost(a: Task, b: Task) -> int | None:
        if a == b:
            return 0
        if a[0] == b[0] or a[1] == b[1]:
            return 1
        return None

    @cache
    def best(i: int, used: int) -> int:
        if i == len(live):
            return len(desired) - bin(used).count("1")
        options = [1 + best(i + 1, used)]
        for j, want in enumerate(desired):
            c = cost(live[i], want)
            if not used & (1 << j) and c is not None:
                options.append(c + best(i + 1, used | (1 << j)))
        return min(options)

    return best(0, 0)


@settings(max_examples=300, deadline=None)
@given(tasks, tasks)
def test_applying_the_pairing_yields_the_desired_set_with_fewest_actions(
    desired: list[Task], live: list[Task]
) -> None:
    p = _pair(desired, live)
    result = Counter(live)
    used = []
    for want, (i, t, w) in p.exact:
        assert want == (t, w)
        used.append(i)
    for want, (i, t, w) in p.moves:
        assert want[0] == t and want[1] != w
        result[(t, w)] -= 1
        result[want] += 1
        used.append(i)
    for want, (i, t, w) in p.replaces:
        assert want[1] == w and want[0] != t
        result[(t, w)] -= 1
        result[want] += 1
        used.append(i)
    for want in p.creates:
        result[want] += 1
    for i, t, w in p.deletes:
        result[(t, w)] -= 1
        used.append(i)
    assert sorted(used) == list(range(len(live)))  # every live task accounted for exactly once
    assert +result == Counter(desired)
    assert p.action_count == _minimum(desired, live)


@given(tasks, tasks, st.randoms(use_true_random=False))
def test_pairing_ignores_input_order(desired: list[Task], live: list[Task], rnd: random.Random) -> None:
    d = [Slot(t, w, "", (t, w)) for t, w in desired]
    l_ = [Slot(t, w, f"{i:03d}", (i, t, w)) for i, (t, w) in enumerate(live)]
    first = pair_tasks(d, l_)
    rnd.shuffle(d)
    rnd.shuffle(l_)
    assert pair_tasks(d, l_) == first


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        # (exact, moves, replaces, creates, deletes)
        ([("full", "A")], [("full", "A")], (1, 0, 0, 0, 0)),
        ([("full", "A")], [("full", "B")], (0, 1, 0, 0, 0)),
        ([("full", "A")], [("incremental", "A")], (0, 0, 1, 0, 0)),
        ([("full", "A")], [("incremental", "B")], (0, 0, 0, 1, 1)),
        ([("full", "A"), ("full", "A")], [("full", "A")], (1, 0, 0, 1, 0)),
        ([], [("full", "A"), ("full", "A")], (0, 0, 0, 0, 2)),
        # a greedy move would cost a replace: full@B <- full@C is a move, full@A <- incremental@A a replace
        ([("full", "A"), ("full", "B")], [("full", "C"), ("incremental", "A")], (0, 1, 1, 0, 0)),
        # moves are preferred to replaces when both are possible
        ([("full", "A"), ("incremental", "B")], [("full", "B"), ("incremental", "A")], (0, 2, 0, 0, 0)),
    ],
)
def test_pairing_table(desired: list[Task], live: list[Task], expected: tuple[int, ...]) -> None:
    p = _pair(desired, live)
    got = (len(p.exact), len(p.moves), len(p.replaces), len(p.creates), len(p.deletes))
    assert got == expected


def test_ignored_type_matches_any_type() -> None:
    d = [Slot(ANY_TYPE, "A", "0", "want")]
    l_ = [Slot(ANY_TYPE, "A", "t1", "have")]
    assert pair_tasks(d, l_).exact == (("want", "have"),)
