"""Measure the emulator on the synthetic seed: start-up time and the full task list over HTTP.

Run: `python bench/bench_emulator.py [--flavor server|cloud] [--repeat N]`. Prints the figures that
docs/benchmarks.md (section 5) records (targets: start < 5 s, full task list < 1 s).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import requests
import tableauserverclient as TSC

from reconciler.emulator import Emulator


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavor", default="server", choices=["server", "cloud"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--datasources", type=int, default=10000)
    parser.add_argument("--workbooks", type=int, default=5000)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--schedules", type=int, default=300)
    parser.add_argument("--projects", type=int, default=500)
    args = parser.parse_args()

    print(f"machine: {_cpu()}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
          f"Python {platform.python_version()}")
    started = time.perf_counter()
    emulator = Emulator(flavor=args.flavor, seed="synthetic", datasources=args.datasources, workbooks=args.workbooks,
                        tasks=args.tasks, schedules=args.schedules, projects=args.projects, job_seconds=0.0)
    emulator.start()
    startup = time.perf_counter() - started
    print(f"start ({args.flavor}, {args.tasks} tasks, {args.datasources} datasources, {args.workbooks} workbooks, "
          f"{args.schedules} schedules, {args.projects} projects): {startup:.2f} s")
    try:
        server = TSC.Server(emulator.url, use_server_version=True)
        server.auth.sign_in(TSC.PersonalAccessTokenAuth(emulator.pat_name, emulator.pat_secret))
        url = f"{server.baseurl}/sites/{server.site_id}/tasks/extractRefreshes"
        session = requests.Session()
        session.headers["X-Tableau-Auth"] = server.auth_token
        timings = []
        size = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            response = session.get(url, timeout=60)
            timings.append(time.perf_counter() - t0)
            response.raise_for_status()
            size = len(response.content)
        print(f"full task list over HTTP (raw GET, {size / 1e6:.1f} MB): median {statistics.median(timings):.3f} s, "
              f"max {max(timings):.3f} s over {args.repeat} runs")
        t0 = time.perf_counter()
        tasks, _ = server.tasks.get()
        print(f"full task list through TSC tasks.get() incl. TSC parsing: {time.perf_counter() - t0:.3f} s "
              f"({len(tasks)} tasks)")
        page = f"{server.baseurl}/sites/{server.site_id}/datasources?pageSize=1000&pageNumber=5"
        t0 = time.perf_counter()
        session.get(page, timeout=60).raise_for_status()
        print(f"one 1000-row data source page over HTTP (raw GET): {time.perf_counter() - t0:.3f} s")
        t0 = time.perf_counter()
        datasources = list(TSC.Pager(server.datasources, TSC.RequestOptions(pagesize=1000)))
        print(f"all data sources through TSC Pager (pageSize 1000): {time.perf_counter() - t0:.3f} s "
              f"({len(datasources)} items)")
    finally:
        emulator.stop()
    print(f"command: python bench/bench_emulator.py --flavor {args.flavor} --repeat {args.repeat}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
