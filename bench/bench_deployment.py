"""Benchmark of `reconciler plan` over a whole deployment against 50 separate single-site runs.

Run: `python bench/bench_deployment.py [--sites 50] [--tasks 2000] [--runs 3]`. docs/benchmarks.md records the
figures.

The emulator (synthetic seed, ``--sites`` sites sharing the server schedules, ``--tasks`` tasks per site, half as
many data sources and a quarter as many workbooks per site, 50 ms latency per request) runs in this process; every
client runs as its own subprocess (``bench_plan.run_client``: wall, CPU, peak RSS, requests). The deployment folder
is written from the sites themselves: ``deployment.yaml`` with every server schedule, and a file per site declaring
every 10th item that has tasks, a few of them changed. The separate runs plan the same sites one after another,
each from a single-site file holding the same declarations and schedules: what a team with one job per site runs.

Printed: the deployment run's wall time and requests against the floor (the per-site floor times the sites, plus
the server-level reads once), the separate runs' total, and the ratio (the target is at least 5x).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plan import Run, declared_extracts, machine, routes, run_client

from reconciler.desired.export import export_document
from reconciler.emulator import Emulator
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.read import PAGE_SIZE, read_site


def site_url(n: int) -> str:
    return "" if n == 1 else f"site-{n:03d}"


def label(n: int) -> str:
    return "default" if n == 1 else f"site-{n:03d}"


def write_files(emu: Emulator, root: Path, sites: int, every: int) -> tuple[int, int]:
    """The deployment folder under ``root/deployment`` and one single-site file per site under ``root/single``.

    Returns (schedules declared, tasks declared over every site)."""
    schedules: dict[str, Any] | None = None
    declared = 0
    (root / "deployment" / "sites").mkdir(parents=True)
    (root / "single").mkdir()
    for n in range(1, sites + 1):
        settings = ConnectionSettings(server=emu.url, site=site_url(n),
                                      credentials=Credentials("password", "admin", "admin"))
        with connect(settings) as conn:
            live = read_site(conn, None, schedule_details="all" if schedules is None else "used")
        doc = export_document(live)
        if schedules is None:
            # The synthetic seed draws a few hourly schedules whose end equals their start, which the files'
            # rules refuse: those (and the items with tasks on them) are left out.
            schedules = {name: spec for name, spec in doc["schedules"].items()
                         if spec.get("end") is None or spec["end"] > spec["start"]}
        doc["schedules"] = schedules
        extracts = declared_extracts(doc, every, change_every=50)
        declared += sum(len(e["refresh"]) for e in extracts)
        site_doc = {"version": 1, "site": site_url(n), "extracts": extracts}
        (root / "deployment" / "sites" / f"{label(n)}.yaml").write_text(
            yaml.safe_dump(site_doc, sort_keys=False, width=120), encoding="utf-8")
        single = {"version": 1, "site": site_url(n), "schedules": schedules, "extracts": extracts}
        (root / "single" / f"{label(n)}.yaml").write_text(yaml.safe_dump(single, sort_keys=False, width=120),
                                                         encoding="utf-8")
    assert schedules is not None
    server = {"version": 1, "flavor": "server", "schedules": schedules}
    (root / "deployment" / "deployment.yaml").write_text(yaml.safe_dump(server, sort_keys=False, width=120),
                                                         encoding="utf-8")
    return len(schedules), declared


def site_floor(sizes: dict[str, int]) -> int:
    """Per site: sign-in, server info, the site, the task list, a page per 1,000 rows of each item list and
    of the projects (the signed-in user and sign-out are extra, as in bench_plan's floor)."""
    pages = sum(max(1, math.ceil(sizes[k] / PAGE_SIZE)) for k in ("datasources", "workbooks", "projects"))
    return 2 + 1 + 1 + pages


def server_floor(sizes: dict[str, int], declared_schedules: int) -> int:
    """Once per deployment: the schedule list's pages and a detail per declared schedule."""
    return max(1, math.ceil(sizes["schedules"] / PAGE_SIZE)) + declared_schedules


def env_for(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABLEAU_")}
    env.update(TABLEAU_USERNAME="admin", TABLEAU_PASSWORD="admin", NO_COLOR="1")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per site")
    parser.add_argument("--schedules", type=int, default=100, help="server schedules")
    parser.add_argument("--runs", type=int, default=3, help="runs of the deployment plan (median reported)")
    parser.add_argument("--separate-runs", type=int, default=1, help="runs of the 50 separate plans")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--every", type=int, default=10, help="declare every N-th item that has tasks")
    args = parser.parse_args()
    sizes = {"tasks": args.tasks, "datasources": args.tasks // 2, "workbooks": args.tasks // 4,
             "projects": max(1, args.tasks // 40), "schedules": args.schedules}
    print(f"machine: {machine()}")
    print(f"emulator: in-process, synthetic seed, {args.sites} sites x {args.tasks} tasks, {args.schedules} server "
          f"schedules, {args.latency_ms} ms latency per request")
    emu = Emulator(flavor="server", seed="synthetic", latency_ms=0, job_seconds=0.0, sites=args.sites,
                   **sizes).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            started = time.perf_counter()
            schedules, declared = write_files(emu, root, args.sites, args.every)
            print(f"files: {schedules} schedules, {declared} tasks declared over {args.sites} sites "
                  f"(written in {time.perf_counter() - started:.1f} s)")
            emu.configure_faults(latency_ms=args.latency_ms)
            env = env_for(emu)
            command = [sys.executable, "-m", "reconciler", "plan", str(root / "deployment"), "--server", emu.url]
            ours: list[Run] = [run_client(emu, command, env) for _ in range(args.runs)]
            if any(r.code != 0 for r in ours):
                print(ours[-1].output)
                return 1
            print("deployment plan (last lines):\n  " + "\n  ".join(ours[-1].output.strip().splitlines()[-2:]))
            wall = statistics.median(r.wall for r in ours)
            count = ours[-1].stats["total"]
            least = site_floor(sizes) * args.sites + server_floor(sizes, schedules)
            print(f"deployment plan: median {wall:.2f} s (runs: {', '.join(f'{r.wall:.2f}' for r in ours)}), "
                  f"CPU median {statistics.median(r.cpu for r in ours):.2f} s, peak RSS median "
                  f"{statistics.median(r.rss_mb for r in ours):.0f} MB")
            print(f"requests: {count}; floor {least} = {site_floor(sizes)} per site x {args.sites} + "
                  f"{server_floor(sizes, schedules)} server-level; by route:\n{routes(ours[-1].stats)}")
            totals = []
            for _ in range(args.separate_runs):
                total = 0.0
                requests = 0
                for n in range(1, args.sites + 1):
                    single = [sys.executable, "-m", "reconciler", "plan", str(root / "single" / f"{label(n)}.yaml"),
                              "--server", emu.url]
                    run = run_client(emu, single, env)
                    if run.code != 0:
                        print(run.output)
                        return 1
                    total += run.wall
                    requests += run.stats["total"]
                totals.append(total)
            separate = statistics.median(totals)
            print(f"{args.sites} separate single-site plans: {separate:.2f} s in all "
                  f"(runs: {', '.join(f'{t:.2f}' for t in totals)}), {requests} requests")
            print(f"ratio: the deployment run is {separate / wall:.1f}x faster than {args.sites} separate runs")
    finally:
        emu.stop()
    print(f"command: python bench/bench_deployment.py --sites {args.sites} --tasks {args.tasks} --schedules "
          f"{args.schedules} --runs {args.runs} --separate-runs {args.separate_runs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
