"""Benchmark of `reconciler plan` against the synthetic site behind 50 ms of latency per request.

Run: `python bench/bench_plan.py [--runs 3]` (the site of DESIGN section 10, the request count
next to the floor, and the straightforward TSC script for the ratio), or
`python bench/bench_plan.py --scaling` (plan time for 2,500 / 5,000 / 10,000 / 20,000 tasks,
items scaled proportionally). docs/benchmarks.md records the figures.

The emulator runs in this process (a thread); every client runs as its own subprocess, so its
wall time and peak RSS (measured by ``/usr/bin/time``) are its own. The desired-state file is
generated from the site itself: every schedule, and every N-th item with its tasks (1,000 items
on the full site), with a few moves and creates so the plan has something to say.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.desired.export import export_document
from reconciler.emulator import Emulator
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.read import PAGE_SIZE, read_site

BENCH = Path(__file__).resolve().parent
TSC_SCRIPT = BENCH / "straightforward_tsc.py"
FULL = {"datasources": 10000, "workbooks": 5000, "tasks": 20000, "schedules": 300, "projects": 500}


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


@dataclass(frozen=True)
class Run:
    wall: float
    rss_mb: float
    code: int
    stats: dict[str, Any]
    output: str
    #: The client's own user + system CPU seconds: much less sensitive than ``wall`` to other
    #: processes on the machine (the 2 cores are shared); NaN without ``/usr/bin/time``.
    cpu: float = float("nan")


def run_client(emu: Emulator, command: list[str], env: dict[str, str]) -> Run:
    """Run one client subprocess; its wall time, its own peak RSS, and the requests it made.

    The peak RSS comes from ``/usr/bin/time`` (a small process that forks the client): the rusage
    of a child forked directly from this process would count this process's memory (the emulator's
    store) in the child's peak, since Linux keeps the pre-exec high-water mark.
    """
    emu.reset_stats()
    with tempfile.NamedTemporaryFile("r", suffix=".time") as measured:
        timed = (["/usr/bin/time", "-f", "%M %U %S", "-o", measured.name, *command]
                 if os.path.exists("/usr/bin/time") else command)
        started = time.perf_counter()
        process = subprocess.run(timed, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 check=False)
        wall = time.perf_counter() - started
        last = (measured.read().strip().splitlines() or [""])[-1].split()
    rss, user, system = (float(x) for x in last) if len(last) == 3 else (float("nan"),) * 3
    return Run(wall, rss / 1024, process.returncode, emu.stats(), process.stdout, cpu=user + system)


def desired_file(emu: Emulator, path: Path, every: int) -> tuple[int, int, int]:
    """Write a file declaring every schedule and every ``every``-th item with its tasks (a few changed)."""
    settings = ConnectionSettings(server=emu.url, site="", credentials=Credentials("pat", emu.pat_name,
                                                                                   emu.pat_secret))
    with connect(settings) as conn:
        live = read_site(conn, None, schedule_details="all")
    doc = export_document(live)
    # The synthetic seed draws a few hourly schedules whose end equals their start, which the
    # files' rules refuse: those and the items with tasks on them are left out.
    doc["schedules"] = {name: spec for name, spec in doc["schedules"].items()
                        if spec.get("end") is None or spec["end"] > spec["start"]}
    extracts = declared_extracts(doc, every)
    doc["extracts"] = extracts
    del doc["server"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=120), encoding="utf-8")
    return len(doc["schedules"]), len(extracts), sum(len(e["refresh"]) for e in extracts)


def declared_extracts(doc: dict[str, Any], every: int, change_every: int = 100) -> list[dict[str, Any]]:
    """Every ``every``-th exported item with tasks, all on ``doc``'s schedules; of those, one in ``change_every``
    gets a new task (a create) and another a full task on another schedule (a move)."""
    names = sorted(doc["schedules"])
    extracts = [e for e in doc["extracts"] if "refresh" in e
                and all(r["schedule"] in doc["schedules"] for r in e["refresh"])][::every]
    for n, entry in enumerate(extracts):
        refresh = entry["refresh"]
        taken = {r["schedule"] for r in refresh}
        other = next(s for s in names[n % len(names):] + names if s not in taken)
        if n % change_every == 0:  # a new task: a create
            refresh.append({"schedule": other, "type": "full"})
        elif n % change_every == change_every // 2:  # a full task elsewhere: a move (REST moves no incremental)
            full = next((i for i, r in enumerate(refresh) if r["type"] == "full"), None)
            if full is not None:
                refresh[full] = {**refresh[full], "schedule": other}
    return extracts


def floor(sizes: dict[str, int], declared_schedules: int) -> int:
    """DESIGN section 10: a request per 1,000-row page of each list, the task list, one detail per
    declared schedule, sign-in and server info."""
    pages = sum(max(1, math.ceil(sizes[k] / PAGE_SIZE)) for k in ("datasources", "workbooks", "projects", "schedules"))
    return pages + 1 + declared_schedules + 2


def start(sizes: dict[str, int], latency: int) -> Emulator:
    return Emulator(flavor="server", seed="synthetic", latency_ms=latency, job_seconds=0.0, **sizes).start()


def client_env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABLEAU_")}
    env.update(TABLEAU_PAT_NAME=emu.pat_name, TABLEAU_PAT_SECRET=emu.pat_secret, NO_COLOR="1")
    return env


def plan_command(emu: Emulator, path: Path) -> list[str]:
    return [sys.executable, "-m", "reconciler", "plan", str(path), "--server", emu.url]


def routes(stats: dict[str, Any]) -> str:
    return "\n".join(f"    {n:5d}  {route}" for route, n in stats["by_route"].items())


def main_benchmark(args: argparse.Namespace) -> int:
    sizes = dict(FULL)
    emu = start(sizes, args.latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "desired.yaml"
            schedules, items, tasks = desired_file(emu, path, every=args.every)
            print(f"desired file: {schedules} schedules, {items} items, {tasks} tasks "
                  f"({path.stat().st_size / 1024:.0f} KiB)")
            env = client_env(emu)
            ours = [run_client(emu, plan_command(emu, path), env) for _ in range(args.runs)]
            for run in ours:
                if run.code != 0:
                    print(run.output)
                    return 1
            last = ours[-1]
            print("plan output (last lines):\n  " + "\n  ".join(last.output.strip().splitlines()[-3:]))
            wall = statistics.median(r.wall for r in ours)
            rss = statistics.median(r.rss_mb for r in ours)
            count = last.stats["total"]
            least = floor(sizes, schedules)
            print(f"reconciler plan: median {wall:.2f} s (runs: {', '.join(f'{r.wall:.2f}' for r in ours)}), "
                  f"peak RSS median {rss:.0f} MB (max {max(r.rss_mb for r in ours):.0f} MB)")
            print(f"requests: {count} (floor {least}, allowed {least + 3}); by route:\n{routes(last.stats)}")
            theirs: list[Run] = []
            if not args.skip_tsc:
                command = [sys.executable, str(TSC_SCRIPT), emu.url]
                theirs = [run_client(emu, command, env) for _ in range(args.tsc_runs)]
                if any(r.code != 0 for r in theirs):
                    print(theirs[-1].output)
                    return 1
                tsc_wall = statistics.median(r.wall for r in theirs)
                print(f"straightforward TSC script: median {tsc_wall:.2f} s "
                      f"(runs: {', '.join(f'{r.wall:.2f}' for r in theirs)}), "
                      f"peak RSS median {statistics.median(r.rss_mb for r in theirs):.0f} MB, "
                      f"{theirs[-1].stats['total']} requests; {theirs[-1].output.strip()}")
                print(f"ratio: reconciler plan is {tsc_wall / wall:.1f}x faster")
    finally:
        emu.stop()
    print(f"command: python bench/bench_plan.py --runs {args.runs} --tsc-runs {args.tsc_runs}"
          + (" --skip-tsc" if args.skip_tsc else ""))
    return 0


def scaling(args: argparse.Namespace) -> int:
    print(f"{'tasks':>6} {'datasources':>11} {'workbooks':>9} {'projects':>8} {'declared':>8} {'requests':>8} "
          f"{'floor':>5} {'median s':>8} {'runs':>20} {'RSS MB':>6} {'s per 10k tasks':>15}")
    for factor in (8, 4, 2, 1):
        sizes = {k: (v if k == "schedules" else v // factor) for k, v in FULL.items()}
        emu = start(sizes, args.latency_ms)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "desired.yaml"
                schedules, items, _ = desired_file(emu, path, every=args.every)
                env = client_env(emu)
                runs = [run_client(emu, plan_command(emu, path), env) for _ in range(args.runs)]
        finally:
            emu.stop()
        if any(r.code != 0 for r in runs):
            print(runs[-1].output)
            return 1
        wall = statistics.median(r.wall for r in runs)
        print(f"{sizes['tasks']:>6} {sizes['datasources']:>11} {sizes['workbooks']:>9} {sizes['projects']:>8} "
              f"{items:>8} {runs[-1].stats['total']:>8} {floor(sizes, schedules):>5} {wall:>8.2f} "
              f"{', '.join(f'{r.wall:.2f}' for r in runs):>20} {statistics.median(r.rss_mb for r in runs):>6.0f} "
              f"{wall / sizes['tasks'] * 10000:>15.2f}", flush=True)
    print(f"command: python bench/bench_plan.py --scaling --runs {args.runs}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of `reconciler plan` (median reported)")
    parser.add_argument("--tsc-runs", type=int, default=3, help="runs of the straightforward TSC script")
    parser.add_argument("--skip-tsc", action="store_true", help="do not run the straightforward TSC script")
    parser.add_argument("--scaling", action="store_true", help="plan time against 4 site sizes instead")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--every", type=int, default=10,
                        help="declare every N-th item that has tasks (10: about 1,000 on the full site)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"emulator: in-process, synthetic seed, {args.latency_ms} ms latency per request")
    return scaling(args) if args.scaling else main_benchmark(args)


if __name__ == "__main__":
    raise SystemExit(main())
