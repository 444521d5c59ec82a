"""Benchmark of large sites (issue 18): plan, drift and export against a bare client's floor, on both flavors.

Run: `python bench/bench_large.py [--tasks 100000] [--flavor both] [--runs 3] [--tsc-runs 1]`
(the figures for one size: every command is run ``--runs`` times, interleaved with the floor, and
each ratio is taken between medians of the same run), or
`python bench/bench_large.py --scaling [--sizes 5000,10000,20000,50000,100000,200000] [--plot FILE]`
(plan and the floor at each size, a table, and a PNG plot made with matplotlib, from the ``bench``
extra). docs/benchmarks.md records the figures.

The site is the synthetic seed at ``tasks`` tasks, tasks/2 data sources, tasks/4 workbooks, 300
schedules and 500 projects, behind 50 ms of latency per request; the file is made as in
bench_plan.py (every schedule, every 10th item with tasks, a few creates and moves). The floor is
``bench/floor_client.py``: the same requests, concurrently, each answer parsed, nothing else.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench_plan import TSC_SCRIPT, Run, client_env, desired_file, machine, run_client

from reconciler.emulator import Emulator

BENCH = Path(__file__).resolve().parent
FLOOR_SCRIPT = BENCH / "floor_client.py"
COMMANDS = ("floor", "plan", "drift", "export")
#: Runs ``python -m reconciler`` from another source tree (``--before DIR``, e.g. a git worktree of
#: the previous commit), ahead of the installed (editable) one, to compare both in the same run.
BEFORE = ("import runpy, sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
          "sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'reconciler'; "
          "runpy.run_module('reconciler', run_name='__main__', alter_sys=True)")


def sizes_for(tasks: int) -> dict[str, int]:
    return {"tasks": tasks, "datasources": tasks // 2, "workbooks": tasks // 4, "schedules": 300, "projects": 500}


def commands(emu: Emulator, path: Path, out: Path, before: str = "", src: str = "") -> dict[str, list[str]]:
    python = sys.executable
    old = [python, "-c", BEFORE, before]
    new = [python, "-c", BEFORE, src] if src else [python, "-m", "reconciler"]
    return {
        "plan-before": [*old, "plan", str(path), "--server", emu.url],
        "drift-before": [*old, "drift", str(path), "--server", emu.url],
        "export-before": [*old, "export", "--server", emu.url, "--output", str(out) + ".before"],
        "floor": [python, str(FLOOR_SCRIPT), emu.url, str(path)],
        "plan": [*new, "plan", str(path), "--server", emu.url],
        "drift": [*new, "drift", str(path), "--server", emu.url],
        "export": [*new, "export", "--server", emu.url, "--output", str(out)],
        "tsc": [python, str(TSC_SCRIPT), emu.url],
    }


def measure(tasks: int, flavor: str, names: tuple[str, ...], runs: int, latency: int,
            tsc_runs: int = 0, say: Callable[[str], None] = print, before: str = "",
            src: str = "", before_runs: int = 1) -> dict[str, list[Run]]:
    """Every command in ``names`` ``runs`` times, interleaved (floor, plan, ... then again), on one site."""
    emu = Emulator(flavor=flavor, seed="synthetic", latency_ms=latency, job_seconds=0.0, **sizes_for(tasks)).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path, out = Path(tmp) / "desired.yaml", Path(tmp) / "export.yaml"
            schedules, items, declared = desired_file(emu, path, every=10)
            say(f"{flavor}, {tasks} tasks: file declares {schedules} schedules, {items} items, {declared} tasks")
            env = client_env(emu)
            argv = commands(emu, path, out, before, src)
            results: dict[str, list[Run]] = {name: [] for name in (*names, *(("tsc",) if tsc_runs else ()))}
            for n in range(runs):
                for name in names:
                    if name.endswith("-before") and n >= before_runs:
                        continue
                    run = run_client(emu, argv[name], env)
                    if run.code not in (0, 2):  # drift and plan --detailed-exitcode say 2 for changes
                        raise SystemExit(f"{name} failed ({run.code}):\n{run.output}")
                    results[name].append(run)
            for _ in range(tsc_runs):
                run = run_client(emu, argv["tsc"], env)
                if run.code != 0:
                    raise SystemExit(f"the TSC script failed:\n{run.output}")
                results["tsc"].append(run)
            if before and "export" in names and "export-before" in names:
                same = _body(out) == _body(Path(str(out) + ".before"))
                say(f"export output byte-identical to --before's (the YAML; the header comments name the time): {same}")
    finally:
        emu.stop()
    return results


def _body(path: Path) -> bytes:
    return b"\n".join(line for line in path.read_bytes().split(b"\n") if not line.startswith(b"#"))


def median(runs: list[Run]) -> float:
    return statistics.median(r.wall for r in runs)


def cpu(runs: list[Run]) -> float:
    return statistics.median(r.cpu for r in runs)


def report(flavor: str, results: dict[str, list[Run]]) -> None:
    floor = median(results["floor"])
    plan = median(results["plan"]) if "plan" in results else None
    print(f"{flavor}:")
    for name, runs in results.items():
        line = (f"  {name:>13}: median {median(runs):6.2f} s (runs {', '.join(f'{r.wall:.2f}' for r in runs)}), "
                f"CPU {cpu(runs):5.2f} s, peak RSS max {max(r.rss_mb for r in runs):4.0f} MB, "
                f"{runs[-1].stats['total']} requests")
        if name != "floor":
            line += f"; {median(runs) / floor:.2f}x the floor (CPU {cpu(runs) / cpu(results['floor']):.2f}x)"
        if plan is not None and name in ("drift", "export"):
            line += f", {median(runs) / plan:.2f}x plan (CPU {cpu(runs) / cpu(results['plan']):.2f}x)"
        if name.endswith("-before") and name[:-len("-before")] in results:
            now = results[name[:-len("-before")]]
            line += f"; now {median(now) / median(runs):.2f}x of before (CPU {cpu(now) / cpu(runs):.2f}x)"
        if plan is not None and name == "tsc":
            line += (f"; plan is {median(runs) / plan:.1f}x faster "
                     f"(plan's runs next to it: {', '.join(f'{r.wall:.2f}' for r in results['plan'][-1:])})")
        print(line, flush=True)


def one_size(args: argparse.Namespace) -> int:
    names = tuple(n for n in COMMANDS if n in args.commands.split(",") or n == "floor")
    if args.before:
        names += tuple(f"{n}-before" for n in names if n != "floor")
    for flavor in (("server", "cloud") if args.flavor == "both" else (args.flavor,)):
        results = measure(args.tasks, flavor, names, args.runs, args.latency_ms,
                          tsc_runs=args.tsc_runs if flavor == "server" else 0, before=args.before, src=args.src,
                          before_runs=args.before_runs)
        report(flavor, results)
    print(f"command: python bench/bench_large.py --tasks {args.tasks} --flavor {args.flavor} --runs {args.runs} "
          f"--tsc-runs {args.tsc_runs} --commands {args.commands}" + (" --before DIR" if args.before else ""))
    return 0


def scaling(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in args.sizes.split(",")]
    flavors = ("server", "cloud") if args.flavor == "both" else (args.flavor,)
    rows: dict[str, list[tuple[int, float, float, float, float, float]]] = {f: [] for f in flavors}
    print(f"{'flavor':>6} {'tasks':>7} {'floor s':>8} {'plan s':>7} {'ratio':>6} {'plan runs':>20} {'floor CPU':>9} "
          f"{'plan CPU':>8} {'CPU ratio':>9} {'RSS MB':>7} {'ms per 1k tasks':>15}")
    for flavor in flavors:
        for tasks in sizes:
            results = measure(tasks, flavor, ("floor", "plan"), args.runs, args.latency_ms, say=lambda _: None,
                              src=args.src)
            floor, plan = median(results["floor"]), median(results["plan"])
            rss = max(r.rss_mb for r in results["plan"])
            floor_cpu, plan_cpu = cpu(results["floor"]), cpu(results["plan"])
            rows[flavor].append((tasks, floor, plan, rss, floor_cpu, plan_cpu))
            print(f"{flavor:>6} {tasks:>7} {floor:>8.2f} {plan:>7.2f} {plan / floor:>6.2f} "
                  f"{', '.join(f'{r.wall:.2f}' for r in results['plan']):>20} {floor_cpu:>9.2f} {plan_cpu:>8.2f} "
                  f"{plan_cpu / floor_cpu:>9.2f} {rss:>7.0f} "
                  f"{plan / tasks * 1000 * 1000:>15.1f}", flush=True)
    if args.plot:
        plot(rows, Path(args.plot))
        print(f"plot: {args.plot}")
    print(f"command: python bench/bench_large.py --scaling --sizes {args.sizes} --flavor {args.flavor} "
          f"--runs {args.runs}" + (f" --plot {args.plot}" if args.plot else ""))
    return 0


def plot(rows: dict[str, list[tuple[int, float, float, float, float, float]]], path: Path) -> None:
    """Wall time, the clients' own CPU time (what a shared machine disturbs least) and peak RSS against size;
    each row is (tasks, floor wall, plan wall, plan RSS MB, floor CPU, plan CPU)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (times, cpus, memory) = plt.subplots(1, 3, figsize=(15, 4.2))
    for flavor, points in rows.items():
        tasks = [p[0] / 1000 for p in points]
        times.plot(tasks, [p[2] for p in points], marker="o", label=f"plan ({flavor})")
        times.plot(tasks, [p[1] for p in points], marker=".", linestyle="--", label=f"bare client floor ({flavor})")
        cpus.plot(tasks, [p[5] for p in points], marker="o", label=f"plan ({flavor})")
        cpus.plot(tasks, [p[4] for p in points], marker=".", linestyle="--", label=f"bare client floor ({flavor})")
        memory.plot(tasks, [p[3] for p in points], marker="o", label=f"plan ({flavor})")
    times.set(xlabel="tasks (thousands)", ylabel="seconds, median", title="plan wall time, 50 ms latency")
    cpus.set(xlabel="tasks (thousands)", ylabel="seconds, median", title="client CPU time (user + system)")
    memory.set(xlabel="tasks (thousands)", ylabel="MB", title="plan peak RSS")
    memory.axhline(300, color="grey", linewidth=0.8, linestyle=":")
    for axes in (times, cpus, memory):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100000)
    parser.add_argument("--flavor", choices=("server", "cloud", "both"), default="both")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (median reported)")
    parser.add_argument("--tsc-runs", type=int, default=0, help="runs of the straightforward TSC script (Server)")
    parser.add_argument("--commands", default="plan,drift,export", help="among plan,drift,export")
    parser.add_argument("--scaling", action="store_true", help="plan and floor against site size, and a plot")
    parser.add_argument("--sizes", default="5000,10000,20000,50000,100000,200000")
    parser.add_argument("--plot", default="", help="with --scaling: write the plot here (PNG)")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--before", default="", help="also run plan/drift/export from this source tree (a worktree "
                        "of an earlier commit) in the same run, and compare")
    parser.add_argument("--before-runs", type=int, default=1, help="runs of each --before command")
    parser.add_argument("--src", default="", help="run plan/drift/export from this source tree instead of the "
                        "installed one (a snapshot, so that editing the code does not change a long run)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"emulator: in-process, synthetic seed, {args.latency_ms} ms latency per request")
    return scaling(args) if args.scaling else one_size(args)


if __name__ == "__main__":
    raise SystemExit(main())
