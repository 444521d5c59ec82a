"""Benchmark of `reconciler validate` on a 5,000-item, 200-schedule file (target: under 1 s).

Run: python bench/bench_validate.py [--items 5000] [--schedules 200]
Prints the median of 5 `load_desired` runs and one end-to-end `reconciler validate` subprocess.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.desired import load_desired

_SHAPES = [
    'frequency: daily\n    start: "{h:02d}:{m:02d}"',
    'frequency: hourly\n    every: 1h\n    start: "{h:02d}:{m:02d}"\n    end: "23:{m:02d}"\n'
    "    weekdays: [monday, tuesday, wednesday, thursday, friday]",
    'frequency: weekly\n    start: "{h:02d}:{m:02d}"\n    weekdays: [monday, thursday]',
    'frequency: monthly\n    start: "{h:02d}:{m:02d}"\n    month_days: [1, 15]',
    'frequency: monthly\n    start: "{h:02d}:{m:02d}"\n    on: {{occurrence: first, weekday: monday}}',
    'frequency: daily\n    every: 4h\n    start: "{h:02d}:{m:02d}"\n    end: "22:{m:02d}"\n    priority: 40',
]


def make_file(items: int, schedules: int) -> str:
    """A realistic desired-state file: `schedules` schedules, `items` extracts with 1-2 tasks each."""
    lines = ["version: 1", "site: bench", "flavor: server", "encryption:", "  mode: enabled", "schedules:"]
    for i in range(schedules):
        body = _SHAPES[i % len(_SHAPES)].format(h=i % 22, m=(i * 5) % 60)
        lines.append(f"  Schedule {i:03d}:\n    {body}")
    lines.append("extracts:")
    for i in range(items):
        kind = "datasource" if i % 3 else "workbook"
        lines.append(f"  - {kind}: Project {i % 100:02d}/Sub {i % 7}/Item {i:05d}")
        if i % 10 == 0:
            lines.append("    encrypt: true")
        lines.append("    refresh:")
        lines.append(f"      - schedule: Schedule {i % schedules:03d}")
        if i % 2 == 0:
            lines.append(f"        type: incremental\n      - schedule: Schedule {(i * 7 + 1) % schedules:03d}")
    lines.append("policy:\n  prune: false\n  max_deletes: 25\n")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(make_file(args.items, args.schedules), encoding="utf-8")
        size = path.stat().st_size
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            desired = load_desired([path])
            times.append(time.perf_counter() - began)
        tasks = sum(len(e.refresh or ()) for e in desired.extracts)
        command = [sys.executable, "-m", "reconciler", "validate", str(path)]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        end_to_end = time.perf_counter() - began
    print(f"file: {args.items} items, {args.schedules} schedules, {tasks} tasks, {size / 1024:.0f} KiB")
    print(f"load_desired: median {statistics.median(times):.3f} s of {args.runs} runs "
          f"(min {min(times):.3f} s, max {max(times):.3f} s)")
    print(f"end to end: {end_to_end:.3f} s for `python -m reconciler validate FILE` (exit {done.returncode}): "
          f"{done.stdout.strip() or done.stderr.strip()[:200]}")
    print("command: python bench/bench_validate.py" + (f" --items {args.items}" if args.items != 5000 else ""))
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
