"""Benchmark of counting the tasks other sites have on server schedules (issue 13, exact blast radius).

Run: `python bench/bench_other_sites.py [--sites 50] [--runs 3]`. docs/benchmarks.md records the figures.

The synthetic seed with ``--sites`` sites (2,000 tasks on 1,500 items per site, 100 server schedules shared by
every site) behind 50 ms of latency per request, the emulator in this process. ``reconciler plan`` of the
Default site, each run its own subprocess (``bench_plan.run_client``), with three files made from the site:

- ``unchanged``: the site as it is: no schedule changes, so no other site is counted (the baseline);
- ``update``: one server schedule's priority changed: the other sites' tasks on that one schedule are counted,
  each from the schedule's extracts list (``pageSize=1``);
- ``prune``: two schedules (and the items using them) left out, with ``policy.prune``: two schedules are
  counted, each other site from its task list.

Then, in this process, ``count_other_sites`` alone for one schedule (extracts list) and for two (task list),
which is the choice between the two ways to count a site.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plan import client_env, machine, plan_command, routes, run_client

from reconciler.desired.export import export_document
from reconciler.emulator import Emulator
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.read import read_site
from reconciler.tableau.sites import count_other_sites, list_sites

SIZES = {"datasources": 1000, "workbooks": 500, "tasks": 2000, "schedules": 100, "projects": 50}
SWITCH = "POST /api/{v}/auth/switchSite"


def files(emu: Emulator, folder: Path) -> dict[str, Path]:
    settings = ConnectionSettings(emu.url, "", Credentials("pat", emu.pat_name, emu.pat_secret))
    with connect(settings) as conn:
        live = read_site(conn, None, schedule_details="all")
    doc = export_document(live)
    del doc["server"]
    # The synthetic seed draws a few hourly schedules whose end equals their start, which the files refuse.
    bad = {n for n, spec in doc["schedules"].items() if spec.get("end") is not None and spec["end"] <= spec["start"]}
    doc["schedules"] = {n: s for n, s in doc["schedules"].items() if n not in bad}
    doc["extracts"] = [e for e in doc["extracts"] if not any(r.get("schedule") in bad for r in e.get("refresh") or ())]
    out = {}

    def write(name: str, document: dict[str, Any]) -> None:
        out[name] = folder / f"{name}.yaml"
        out[name].write_text(yaml.safe_dump(document, sort_keys=False, width=120), encoding="utf-8")

    write("unchanged", doc)
    first = sorted(doc["schedules"])[0]
    changed = {**doc["schedules"][first], "priority": 1 + doc["schedules"][first].get("priority", 50) % 99}
    write("update", {**doc, "schedules": {**doc["schedules"], first: changed}})
    dropped = set(sorted(doc["schedules"])[-2:])
    write("prune", {**doc, "policy": {"prune": True, "max_deletes": 100000},
                    "schedules": {n: s for n, s in doc["schedules"].items() if n not in dropped},
                    "extracts": [e for e in doc["extracts"]
                                 if not any(r.get("schedule") in dropped for r in e.get("refresh") or ())]})
    return out


def in_process(emu: Emulator, runs: int) -> None:
    settings = ConnectionSettings(emu.url, "", Credentials("pat", emu.pat_name, emu.pat_secret))
    with connect(settings) as conn:
        sites = list_sites(conn)
        assert sites is not None
        ids = {s.name: s.id for s in read_site(conn, None).schedules if s.id}
        names = sorted(ids)
        for label, wanted in (("1 schedule (extracts list, pageSize=1)", names[:1]),
                              ("2 schedules (task list)", names[:2])):
            walls = []
            for _ in range(runs):
                emu.reset_stats()
                started = time.perf_counter()
                counts = count_other_sites(conn, "", wanted, ids, sites=sites)
                walls.append(time.perf_counter() - started)
            assert counts.complete
            print(f"count_other_sites, {label}: median {statistics.median(walls):.2f} s "
                  f"(runs: {', '.join(f'{w:.2f}' for w in walls)}), {emu.stats()['total']} requests")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"emulator: in-process, synthetic seed, {args.sites} sites of {SIZES}, {args.latency_ms} ms latency")
    emu = Emulator(flavor="server", seed="synthetic", sites=args.sites, latency_ms=args.latency_ms,
                   job_seconds=0.0, **SIZES).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = files(emu, Path(tmp))
            env = client_env(emu)
            baseline = None
            for name, path in paths.items():
                runs = [run_client(emu, plan_command(emu, path), env) for _ in range(args.runs)]
                if any(r.code != 0 for r in runs):
                    print(runs[-1].output)
                    return 1
                wall = statistics.median(r.wall for r in runs)
                stats = runs[-1].stats
                baseline = baseline if baseline is not None else (wall, stats["total"])
                blast = [line.strip() for line in runs[-1].output.splitlines() if "server schedule" in line
                         or "policy.prune" in line or ("will be deleted" in line and "schedule[" in line)]
                print(f"plan {name}: median {wall:.2f} s (runs: {', '.join(f'{r.wall:.2f}' for r in runs)}), "
                      f"{stats['total']} requests (+{stats['total'] - baseline[1]} against unchanged, "
                      f"+{wall - baseline[0]:.2f} s), {stats['by_route'].get(SWITCH, 0)} site switches")
                for line in blast[:3]:
                    print(f"    {line[:200]}")
                if name != "unchanged":
                    print(routes(stats))
            in_process(emu, args.runs)
    finally:
        emu.stop()
    print(f"command: python bench/bench_other_sites.py --sites {args.sites} --runs {args.runs}"
          f" --latency-ms {args.latency_ms}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
