"""Benchmark of `reconciler apply`: 1,000 task creates behind 50 ms of latency, parallelism 1, 4 and 8.

Run: `python bench/bench_apply.py [--runs 3] [--serial-runs 1]`. Each run starts a fresh emulator
(the synthetic site of DESIGN section 10: 10,000 data sources, 5,000 workbooks, 20,000 tasks,
300 schedules, 500 projects; in this process, a thread) and runs the real CLI as a subprocess:
`reconciler apply FILE --auto-approve --parallelism N`. The file declares 10 of the site's
schedules (as they are) and 1,000 extract items that have no task, each with one refresh: the plan
is exactly 1,000 creates. Reported: the whole command's wall time (sign-in, the read of the site,
the plan, the 1,000 writes), the write phase alone (first to last write, as the emulator saw
them), and the requests by route. Target (DESIGN section 10): under 10 s at parallelism 8.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from bench_plan import FULL, client_env, machine, run_client

from reconciler.desired.export import export_document
from reconciler.emulator import Emulator
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.read import read_site

CREATES = 1000
FLOOR_SCRIPT = Path(__file__).resolve().parent / "floor_apply.py"


def desired_file(emu: Emulator, path: Path, creates: int) -> None:
    """10 declared schedules (unchanged) and ``creates`` task-less extract items with one task each."""
    settings = ConnectionSettings(server=emu.url, site="", credentials=Credentials("pat", emu.pat_name,
                                                                                   emu.pat_secret))
    with connect(settings) as conn:
        live = read_site(conn, None, schedule_details="all")
    schedules = export_document(live)["schedules"]
    names = [n for n, spec in sorted(schedules.items()) if spec.get("state", "active") == "active"
             and (spec.get("end") is None or spec["end"] > spec["start"])][:10]
    with_tasks = {(t.item_kind, t.item_id) for t in live.tasks}
    free = [i for i in live.items if i.has_extracts and (i.kind, i.id) not in with_tasks][:creates]
    if len(free) < creates:
        raise SystemExit(f"the site has only {len(free)} extract items without tasks")
    doc: dict[str, Any] = {
        "version": 1, "site": "", "flavor": "server",
        "schedules": {name: schedules[name] for name in names},
        "extracts": [{item.kind: item.path, "refresh": [{"schedule": names[n % len(names)], "type": "full"}]}
                     for n, item in enumerate(free)],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=120), encoding="utf-8")


class WriteClock:
    """Wraps the emulator's request handler to time the first and the last write of the plan it receives."""

    def __init__(self, emu: Emulator) -> None:
        self.first: float | None = None
        self.last: float | None = None
        self.lock = threading.Lock()
        handle = emu.app.handle

        def timed(request: Any) -> Any:
            reply = handle(request)
            # The writes of the plan: not sign-in/out, nor the apply lock (a project made and deleted around them).
            if request.method in ("PUT", "POST", "DELETE") and "/auth/" not in request.path \
                    and "/projects" not in request.path:
                now = time.perf_counter()
                with self.lock:
                    self.first = now if self.first is None else self.first
                    self.last = now
            return reply

        emu.app.handle = timed  # type: ignore[method-assign]

    @property
    def window(self) -> float:
        return (self.last or 0.0) - (self.first or 0.0)


def one_run(parallelism: int, latency: int, creates: int, tmp: Path) -> dict[str, Any]:
    with Emulator(flavor="server", seed="synthetic", latency_ms=latency, job_seconds=0.0, **FULL) as emu:
        path = tmp / "desired.yaml"
        desired_file(emu, path, creates)
        before = len(emu.store.tasks)
        clock = WriteClock(emu)
        command = [sys.executable, "-m", "reconciler", "apply", str(path), "--server", emu.url, "--auto-approve",
                   "--parallelism", str(parallelism)]
        run = run_client(emu, command, client_env(emu))
        created = len(emu.store.tasks) - before
    output, code = run.output, run.code
    summary = next((line for line in output.splitlines() if line.startswith("Apply complete")), output[-500:])
    if code != 0 or created != creates:
        raise SystemExit(f"apply failed (exit {code}, {created} tasks created):\n{output[-3000:]}")
    return {"wall": run.wall, "writes": clock.window, "rss": run.rss_mb, "stats": run.stats, "summary": summary}


def one_floor(parallelism: int, latency: int, creates: int, tmp: Path) -> dict[str, Any]:
    """The same writes by ``floor_apply.py`` (a bare client) on a fresh site: the plan is saved first, untimed."""
    with Emulator(flavor="server", seed="synthetic", latency_ms=latency, job_seconds=0.0, **FULL) as emu:
        path, saved = tmp / "desired.yaml", tmp / "plan.json"
        desired_file(emu, path, creates)
        env = client_env(emu)
        made = run_client(emu, [sys.executable, "-m", "reconciler", "plan", str(path), "--server", emu.url,
                                "--out", str(saved)], env)
        if made.code != 0:
            raise SystemExit(f"plan --out failed:\n{made.output[-3000:]}")
        before = len(emu.store.tasks)
        clock = WriteClock(emu)
        run = run_client(emu, [sys.executable, str(FLOOR_SCRIPT), emu.url, str(saved), str(parallelism)], env)
        created = len(emu.store.tasks) - before
    if run.code != 0 or created != creates:
        raise SystemExit(f"the bare writer failed (exit {run.code}, {created} tasks created):\n{run.output[-3000:]}")
    return {"wall": run.wall, "writes": clock.window, "rss": run.rss_mb, "stats": run.stats, "summary": run.output}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs at parallelism 4 and 8 (median reported)")
    parser.add_argument("--serial-runs", type=int, default=1,
                        help="runs at parallelism 1 (about a minute each: latency-bound, so 1 by default)")
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--creates", type=int, default=CREATES)
    parser.add_argument("--floor", action="store_true", help="also run the same writes with a bare client "
                        "(bench/floor_apply.py) as many times, and compare the write phases")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"emulator: in-process, fresh per run, synthetic seed {FULL}, {args.latency_ms} ms latency per request")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for parallelism in args.parallelism:
            count = args.serial_runs if parallelism == 1 else args.runs
            runs, floors = [], []
            for _ in range(count):  # interleaved: apply, then the bare client, each on a fresh site
                runs.append(one_run(parallelism, args.latency_ms, args.creates, Path(tmp)))
                if args.floor:
                    floors.append(one_floor(parallelism, args.latency_ms, args.creates, Path(tmp)))
            wall = statistics.median(r["wall"] for r in runs)
            writes = statistics.median(r["writes"] for r in runs)
            rows.append((parallelism, wall, writes, runs))
            walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
            rss = statistics.median(r["rss"] for r in runs)
            print(f"--parallelism {parallelism}: median {wall:.2f} s for the command (runs: {walls}), "
                  f"writes {writes:.2f} s ({args.creates / writes:.0f}/s), peak RSS {rss:.0f} MB; "
                  f"{runs[-1]['summary']}", flush=True)
            if floors:
                floor_writes = statistics.median(r["writes"] for r in floors)
                floor_runs = ", ".join(f"{r['writes']:.2f}" for r in floors)
                print(f"  bare client at {parallelism}: writes {floor_writes:.2f} s (runs: {floor_runs}), whole run "
                      f"{statistics.median(r['wall'] for r in floors):.2f} s; apply's writes take "
                      f"{writes / floor_writes:.3f}x the bare client's", flush=True)
    by_route = rows[-1][3][-1]["stats"]["by_route"]
    print(f"requests of the last run ({rows[-1][3][-1]['stats']['total']}):")
    for route, count in by_route.items():
        print(f"  {count:5d}  {route}")
    print(f"command: python bench/bench_apply.py --runs {args.runs} --serial-runs {args.serial_runs}"
          + (" --floor" if args.floor else "")
          + (f" --parallelism {' '.join(map(str, args.parallelism))}" if args.parallelism != [1, 4, 8] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
