"""Pairing the desired and live refresh tasks of one item, with the fewest actions.

A task has no stable identity of its own: it is (type, when), where "when" is the schedule name on
Server and the recurrence on Cloud. Pairing, deterministically:

1. exact matches (same type and when; a multiset intersection) need no action;
2. of the rest, as many pairs as possible become one action each: a **move** (same type, other
   schedule) or a **replace** (same schedule, other type), preferring moves;
3. what is left is created or deleted.

Step 2 is a small min-cost max-flow over the (type, when) classes, so that a greedy choice of moves
never costs a replace (desired ``{full@A, full@B}`` vs live ``{full@C, incremental@A}`` is one move
and one replace, not one move, one create and one delete).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ANY_TYPE", "Pairing", "Slot", "pair_tasks"]

D = TypeVar("D")
L = TypeVar("L")
P = TypeVar("P")

#: The type of every slot when ``task.type`` is ignored: any two types then match.
ANY_TYPE = "*"


@dataclass(frozen=True)
class Slot(Generic[P]):
    """One task: its type, its "when" key, a tie-breaking order key, and the payload it stands for."""

    type: str
    when: str
    order: str
    payload: P

    def sort_key(self) -> tuple[str, str, str]:
        return (self.type, self.when, self.order)


@dataclass(frozen=True)
class Pairing(Generic[D, L]):
    """The outcome: pairs of (desired, live) payloads and the unpaired ones."""

    exact: tuple[tuple[D, L], ...]
    moves: tuple[tuple[D, L], ...]
    replaces: tuple[tuple[D, L], ...]
    creates: tuple[D, ...]
    deletes: tuple[L, ...]

    @property
    def action_count(self) -> int:
        return len(self.moves) + len(self.replaces) + len(self.creates) + len(self.deletes)


def pair_tasks(desired: Sequence[Slot[D]], live: Sequence[Slot[L]]) -> Pairing[D, L]:
    """Pair desired and live tasks of one item (see the module docstring). Order of input is irrelevant."""
    want = _by_class(desired)
    have = _by_class(live)
    exact: list[tuple[D, L]] = []
    for cls in sorted(set(want) & set(have)):
        while want[cls] and have[cls]:
            exact.append((want[cls].popleft().payload, have[cls].popleft().payload))
    left = sorted(cls for cls, queue in want.items() if queue)
    right = sorted(cls for cls, queue in have.items() if queue)
    flows = _min_cost_flow(
        [len(want[c]) for c in left], [len(have[c]) for c in right], _edges(left, right)
    )
    moves: list[tuple[D, L]] = []
    replaces: list[tuple[D, L]] = []
    for (i, j), amount in sorted(flows.items()):
        bucket = moves if left[i][0] == right[j][0] else replaces
        for _ in range(amount):
            bucket.append((want[left[i]].popleft().payload, have[right[j]].popleft().payload))
    creates = tuple(slot.payload for cls in left for slot in want[cls])
    deletes = tuple(slot.payload for cls in right for slot in have[cls])
    return Pairing(tuple(exact), tuple(moves), tuple(replaces), creates, deletes)


def _by_class(slots: Sequence[Slot[P]]) -> dict[tuple[str, str], deque[Slot[P]]]:
    out: dict[tuple[str, str], deque[Slot[P]]] = {}
    for slot in sorted(slots, key=Slot.sort_key):
        out.setdefault((slot.type, slot.when), deque()).append(slot)
    return out


def _edges(left: list[tuple[str, str]], right: list[tuple[str, str]]) -> dict[tuple[int, int], int]:
    """Pairable classes: same type (a move, cost 0) or same when (a replace, cost 1)."""
    edges: dict[tuple[int, int], int] = {}
    for i, (ltype, lwhen) in enumerate(left):
        for j, (rtype, rwhen) in enumerate(right):
            if ltype == rtype:
                edges[(i, j)] = 0
            elif lwhen == rwhen:
                edges[(i, j)] = 1
    return edges


def _min_cost_flow(
    supply: list[int], demand: list[int], edges: dict[tuple[int, int], int]
) -> Counter[tuple[int, int]]:
    """Maximum flow of least cost from left classes to right classes (successive shortest paths).

    The graphs are tiny (a few classes per item), so Bellman-Ford on the residual graph is plenty.
    Deterministic: nodes and edges are visited in index order.
    """
    n, m = len(supply), len(demand)
    source, sink = n + m, n + m + 1
    size = n + m + 2
    cap: dict[tuple[int, int], int] = {}
    cost: dict[tuple[int, int], int] = {}
    adj: list[list[int]] = [[] for _ in range(size)]

    def add(u: int, v: int, capacity: int, c: int) -> None:
        cap[(u, v)] = capacity
        cost[(u, v)] = c
        cap.setdefault((v, u), 0)
        cost[(v, u)] = -c
        adj[u].append(v)
        adj[v].append(u)

    for i, amount in enumerate(supply):
        add(source, i, amount, 0)
    for j, amount in enumerate(demand):
        add(n + j, sink, amount, 0)
    big = sum(supply) + 1
    for (i, j), c in sorted(edges.items()):
        add(i, n + j, big, c)
    for node in adj:
        node.sort()

    while True:
        dist: list[int | None] = [None] * size
        prev: list[int] = [-1] * size
        dist[source] = 0
        for _ in range(size):
            changed = False
            for u in range(size):
                du = dist[u]
                if du is None:
                    continue
                for v in adj[u]:
                    if cap[(u, v)] > 0:
                        dv = dist[v]
                        candidate = du + cost[(u, v)]
                        if dv is None or candidate < dv:
                            dist[v] = candidate
                            prev[v] = u
                            changed = True
            if not changed:
                break
        if dist[sink] is None:
            break
        push = big
        v = sink
        while v != source:
            push = min(push, cap[(prev[v], v)])
            v = prev[v]
        v = sink
        while v != source:
            u = prev[v]
            cap[(u, v)] -= push
            cap[(v, u)] += push
            v = u

    flows: Counter[tuple[int, int]] = Counter()
    for (i, j) in edges:
        used = cap[(n + j, i)]
        if used > 0:
            flows[(i, j)] = used
    return flows
