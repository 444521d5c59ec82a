"""Benchmark of `reconciler validate` on a 5,000-item, 200-schedule file (target: under 1 s), and at 50,000 items.

Run: python bench/bench_validate.py [--items 5000] [--schedules 200]
Prints the median of 5 `load_desired` runs and one end-to-end `reconciler validate` subprocess.

Run: python bench/bench_validate.py --large [--items 50000] [--files 2] [--runs 3] [--before DIR]
(issue 18: under 1.5 s and 250 MB). The items are split over ``--files`` files of one configuration (a
directory, which validate merges): 50,000 items are 5.9 MB of YAML and one file is capped at 5 MB.
Interleaved ``--runs`` times, each a process of its own timed from outside, peak RSS from
``/usr/bin/time``: ``python -m reconciler validate DIR``, the baseline (a bare ``yaml.load`` of the same
files with PyYAML's ``CSafeLoader``: parsing only, no positions, no checks), and with ``--before DIR``
the same command run from another checkout (e.g. ``git worktree add DIR main``). Ratios are between
medians of the same run.
"""

from __future__ import annotations

import argparse
import os
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


def split_files(text: str, files: int, directory: Path) -> list[Path]:
    """``text`` (from make_file) as ``files`` files of one configuration: the first holds the schedules."""
    head, rest = text.split("extracts:\n", 1)
    body, policy = rest.split("policy:", 1)
    items = body[len("  - "):].split("\n  - ")
    size = -(-len(items) // files)
    paths = []
    for number in range(files):
        part = items[number * size:(number + 1) * size]
        top = head if number == 0 else "version: 1\n"
        tail = "\npolicy:" + policy if number == 0 else "\n"
        path = directory / f"part{number:02d}.yaml"
        path.write_text(top + "extracts:\n  - " + "\n  - ".join(part) + tail, encoding="utf-8")
        paths.append(path)
    return paths


BARE_LOAD = ("import sys, yaml\n"
             "for name in sys.argv[1:]:\n"
             "    with open(name, encoding='utf-8') as f: yaml.load(f.read(), Loader=yaml.CSafeLoader)\n")


def timed(command: list[str], cwd: str | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, output) of one process."""
    with tempfile.NamedTemporaryFile("r") as rss:
        began = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command], capture_output=True,
                              text=True, check=False, cwd=cwd,
                              env={**os.environ, "PYTHONPATH": cwd} if cwd else None)
        wall = time.perf_counter() - began
        peak = int(rss.read().strip().splitlines()[-1]) / 1024
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    return wall, peak, done.stdout.strip()


def large(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "config"
        directory.mkdir()
        paths = split_files(make_file(args.items, args.schedules), args.files, directory)
        sizes = [path.stat().st_size / 1024 / 1024 for path in paths]
        commands: dict[str, tuple[list[str], str | None]] = {
            "validate": ([sys.executable, "-m", "reconciler", "validate", str(directory)], None),
            "bare CSafeLoader load": ([sys.executable, "-c", BARE_LOAD, *map(str, paths)], None)}
        if args.before:
            commands["validate before"] = ([sys.executable, "-m", "reconciler", "validate", str(directory)],
                                           str(Path(args.before).resolve()))
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        output = ""
        for _ in range(args.runs):
            for name, (command, cwd) in commands.items():
                wall, peak, out = timed(command, cwd)
                results[name].append((wall, peak))
                output = out if name == "validate" else output
    print(f"{args.items} items, {args.schedules} schedules in {args.files} files of "
          f"{', '.join(f'{size:.2f}' for size in sizes)} MB; validate: {output}")
    medians = {name: (statistics.median(w for w, _ in runs), statistics.median(p for _, p in runs))
               for name, runs in results.items()}
    base_wall, base_peak = medians["bare CSafeLoader load"]
    print("| command | wall, median | runs | peak RSS, median | time / bare load | RSS / bare load |")
    print("|---|---:|---|---:|---:|---:|")
    for name, runs in results.items():
        wall, peak = medians[name]
        print(f"| {name} | {wall:.2f} s | {', '.join(f'{w:.2f}' for w, _ in runs)} | {peak:.0f} MB | "
              f"{wall / base_wall:.2f}x | {peak / base_peak:.2f}x |")
    if args.before:
        (wall, peak), (old_wall, old_peak) = medians["validate"], medians["validate before"]
        print(f"validate against before: time {wall / old_wall:.2f}x, peak RSS {peak / old_peak:.2f}x")
    print(f"command: python bench/bench_validate.py --large --items {args.items} --files {args.files} "
          f"--runs {args.runs}" + (" --before DIR" if args.before else ""))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--large", action="store_true", help="50,000 items over several files, with baselines")
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--before", help="a checkout of the code before (e.g. a git worktree of main)")
    args = parser.parse_args()
    if args.large:
        args.items = args.items or 50000
        args.runs = args.runs or 3
        return large(args)
    args.items = args.items or 5000
    args.runs = args.runs or 5
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
