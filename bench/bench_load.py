"""Benchmarks of the refresh load and of health from the job history.

Run: `python bench/bench_load.py` (both parts), or `--part load` / `--part health`.

- load: load expansion (every task's recurrence over a week of 15-minute slots, the peaks) for a
  synthetic Server site of 20,000 and 100,000 tasks (10,000 data sources, 5,000 workbooks, 300
  schedules), against reading the same site (`read_site`, every used schedule's details) at 50 ms of
  latency per request: time (best of 3) and peak traced memory (tracemalloc) of each.
- health: 20,000 tasks with 30 days of job history (`--history-days 30`): the Query Jobs requests
  made against the floor (one per 1,000-job page, DESIGN section 10's rule), the time to read the
  history and the time to join it to the tasks, at 50 ms of latency.

The emulator runs as a subprocess (`reconciler emulator serve`), so that this process measures only
the client. docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import subprocess
import sys
import time
import tracemalloc
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from reconciler.plan import live_starts, make_health, make_profile
from reconciler.plan.load import week_slots
from reconciler.tableau.connect import Connection, ConnectionSettings, Credentials, connect
from reconciler.tableau.history import read_history
from reconciler.tableau.read import PAGE_SIZE, read_site

T = TypeVar("T")
SITE = ["--datasources", "10000", "--workbooks", "5000", "--schedules", "300", "--projects", "500"]


@contextmanager
def emulator(tasks: int, latency: int, history_days: int = 0) -> Iterator[str]:
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0", "--seed", "synthetic",
               "--tasks", str(tasks), *SITE, "--latency-ms", str(latency), "--job-seconds", "0",
               "--history-days", str(history_days)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def signed_in(url: str) -> Iterator[Connection]:
    with connect(ConnectionSettings(server=url, site="", credentials=Credentials("pat", "admin-pat",
                                                                                "admin-secret"))) as conn:
        yield conn


def stats(url: str, reset: bool = False) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/_emulator/stats{'/reset' if reset else ''}",
                                     method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def best(runs: int, action: Callable[[], T]) -> tuple[float, T]:
    times, result = [], None
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    assert result is not None
    return min(times), result


def traced(action: Callable[[], T]) -> tuple[float, T]:
    """Peak traced memory (MB) while ``action`` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        result = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20, result


def expand(live: Any) -> Any:
    week_slots.cache_clear()
    starts, unplaced = live_starts(live)
    profile = make_profile(starts, unplaced)
    profile.top_slots(5)
    return profile


def bench_load(tasks: int, latency: int, runs: int) -> None:
    with emulator(tasks, latency) as url, signed_in(url) as conn:
        def read() -> Any:
            return read_site(conn, None, schedule_details="used")

        read_time, live = best(runs, read)
        read_mb, _ = traced(read)
        expand_time, profile = best(runs, lambda: expand(live))
        expand_mb, _ = traced(lambda: expand(live))
    print(f"load, {tasks:,} tasks ({len(profile.starts):,} placed, {profile.starts_per_week:,} starts a week, "
          f"busiest slot {profile.busiest}): expansion {expand_time * 1000:.0f} ms, peak {expand_mb:.1f} MB; "
          f"reading the site {read_time:.2f} s, peak {read_mb:.0f} MB; expansion/read: time "
          f"{expand_time / read_time:.3f}, memory {expand_mb / read_mb:.3f}", flush=True)


def bench_health(tasks: int, latency: int, days: int) -> None:
    started = time.perf_counter()
    with emulator(tasks, latency, history_days=days) as url, signed_in(url) as conn:
        print(f"health: the emulator made {days} days of history in {time.perf_counter() - started:.0f} s",
              flush=True)
        live = read_site(conn, None, schedule_details="used")
        stats(url, reset=True)
        now = time.time()
        read_time, runs = best(1, lambda: read_history(conn, now - days * 86400))
        routes = stats(url)["by_route"]
        requests = sum(n for route, n in routes.items() if "/jobs" in route)
        join_time, health = best(1, lambda: make_health(live, runs, now, days * 86400))
    pages = max(1, math.ceil(len(runs) / PAGE_SIZE))
    stale = sum(1 for t in health.tasks if t.stale)
    print(f"health, {tasks:,} tasks, {days} days: {len(runs):,} jobs; {requests} Query Jobs requests, floor {pages} "
          f"(+{requests - pages}); reading {read_time:.1f} s, joining {join_time:.2f} s; {len(health.tasks):,} tasks "
          f"with figures, {health.unmatched:,} jobs unmatched, {stale:,} stale", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("load", "health", "all"), default="all")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.part in ("load", "all"):
        for tasks in (20000, 100000):
            bench_load(tasks, args.latency_ms, args.runs)
    if args.part in ("health", "all"):
        bench_health(20000, args.latency_ms, 30)


if __name__ == "__main__":
    main()
