"""Soak: a large apply under every fault at once, run by hand (not part of the test suite).

    python bench/soak.py                       # ~500 changes a phase: 10% 503, 5% 429, 2% drops, 30 s sessions
    python bench/soak.py --items 500 --drop-after-rate 0.05 --flavor cloud

An in-process emulator (127.0.0.1, a free port) with a synthetic site; `reconciler apply` runs as a
subprocess, first to create two tasks per item (2 x --items changes), then to rearrange them (per item:
one move and one delete, or one create), re-running apply until it succeeds (at most --max-runs times).
Afterwards: the next plan must be empty, no task duplicated, none lost, and every "ok" line of the
journals must have its event on the emulator. Prints the figures; exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from reconciler.emulator import Emulator

SCHEDULES = {
    "Nightly": {"frequency": "daily", "start": "02:00"},
    "Work hours": {"frequency": "hourly", "every": "1h", "start": "08:00", "end": "18:00",
                   "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"]},
    "Weekly": {"frequency": "weekly", "start": "05:00", "weekdays": ["monday"]},
}
START = [{"schedule": "Nightly"}, {"schedule": "Weekly"}]
GOALS = ([{"schedule": "Nightly"}, {"schedule": "Work hours", "type": "incremental"}],  # a create, a delete
         [{"schedule": "Work hours"}])  # a move (Nightly → Work hours), a delete


def _write(path: Path, items: list[tuple[str, str]], tasks: list[list[dict[str, str]]]) -> Path:
    doc = {"version": 1, "schedules": SCHEDULES, "policy": {"max_deletes": 100000},
           "extracts": [{kind: item, "refresh": refresh} for (kind, item), refresh in zip(items, tasks, strict=True)]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _run(args: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "reconciler", *args], env=env, capture_output=True, text=True,
                          timeout=1800)
    return done.returncode, time.monotonic() - started, done.stderr


def _converge(file: Path, env: dict[str, str], workdir: Path, phase: str, options: argparse.Namespace,
              figures: dict[str, Any]) -> list[Path]:
    journals = []
    for run in range(options.max_runs):
        journal = workdir / f"{phase}-{run}.jsonl"
        journals.append(journal)
        code, seconds, err = _run(["apply", str(file), "--auto-approve", "--parallelism", str(options.parallelism),
                                   "--journal", str(journal), "--quiet"], env)
        lines = [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
        outcomes = Counter(str(line["outcome"]) for line in lines)
        failures = Counter(f"[{line['code']}] {str(line['detail'])[:160]}" for line in lines
                           if line["outcome"] == "failed")
        figures.setdefault("runs", []).append({"phase": phase, "exit": code, "seconds": round(seconds, 1),
                                               **dict(outcomes), "failures": dict(failures)})
        if "Traceback" in err:
            figures.setdefault("problems", []).append(f"{phase} run {run}: a traceback")
        if code == 0:
            return journals
    figures.setdefault("problems", []).append(f"{phase}: did not converge in {options.max_runs} runs")
    return journals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=280,
                        help="data sources; about 9 in 10 have an extract, and each brings 2 changes per phase")
    parser.add_argument("--flavor", choices=("server", "cloud"), default="server")
    parser.add_argument("--fail-rate", type=float, default=0.10)
    parser.add_argument("--throttle-rate", type=float, default=0.05)
    parser.add_argument("--drop-rate", type=float, default=0.02)
    parser.add_argument("--drop-after-rate", type=float, default=0.02)
    parser.add_argument("--token-ttl", type=float, default=30.0)
    parser.add_argument("--latency-ms", type=int, default=10)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--max-runs", type=int, default=5)
    options = parser.parse_args()

    figures: dict[str, Any] = {"settings": {k: v for k, v in vars(options).items()}}
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, \
            Emulator(flavor=options.flavor, seed="synthetic", datasources=options.items, workbooks=0, tasks=0,
                     schedules=1, projects=5, job_seconds=0.0) as emu:
        workdir = Path(tmp)
        with emu.store.lock:
            items = sorted(("datasource", emu.store.item_path(i.id))
                           for i in emu.store.items.values() if i.has_extracts)
        env = {**os.environ, "TABLEAU_SERVER": emu.url, "TABLEAU_SITE": "", "TABLEAU_PAT_NAME": emu.pat_name,
               "TABLEAU_PAT_SECRET": emu.pat_secret}
        for name in ("TABLEAU_USERNAME", "TABLEAU_PASSWORD", "TABLEAU_JWT"):
            env.pop(name, None)
        emu.configure_faults(fail_rate=options.fail_rate, throttle_rate=options.throttle_rate,
                             drop_rate=options.drop_rate, drop_after_rate=options.drop_after_rate,
                             token_ttl=options.token_ttl, latency_ms=options.latency_ms)
        started = time.monotonic()
        journals: list[Path] = []
        goal = [GOALS[i % 2] for i in range(len(items))]
        for phase, tasks in (("create", [START] * len(items)), ("rearrange", goal)):
            journals += _converge(_write(workdir / f"{phase}.yaml", items, tasks), env, workdir, phase, options,
                                  figures)
        figures["seconds"] = round(time.monotonic() - started, 1)
        figures["requests"] = emu.stats()["total"]
        emu.configure_faults(fail_rate=0.0, throttle_rate=0.0, drop_rate=0.0, drop_after_rate=0.0, latency_ms=0)
        code, _, _ = _run(["plan", str(workdir / "rearrange.yaml"), "--detailed-exitcode", "--quiet"], env)
        figures["next_plan_empty"] = code == 0
        with emu.store.lock:
            keys = Counter((t.item_id, t.schedule_id or repr(t.recurrence), t.incremental)
                           for t in emu.store.tasks.values())
            figures["tasks"] = len(emu.store.tasks)
            events = Counter(e[0] for e in emu.store.events if e[0].startswith("task."))
        figures["duplicates"] = sum(n - 1 for n in keys.values() if n > 1)
        figures["expected_tasks"] = sum(len(g) for g in goal)
        ok = Counter(str(line["action"]) for j in journals if j.exists()
                     for line in map(json.loads, j.read_text().splitlines()) if line["outcome"] == "ok"
                     and str(line["address"]).startswith("task["))
        figures["journal_ok"] = dict(ok)
        figures["task_events"] = dict(events)
        problems = figures.setdefault("problems", [])
        if not figures["next_plan_empty"]:
            problems.append("the next plan is not empty")
        if figures["duplicates"]:
            problems.append(f"{figures['duplicates']} duplicated tasks")
        if figures["tasks"] != figures["expected_tasks"]:
            problems.append(f"{figures['tasks']} tasks, expected {figures['expected_tasks']}")
        cloud = options.flavor == "cloud"
        created = ok["create"] + ok["replace"] + (0 if cloud else ok["move"])
        deleted = ok["delete"] + ok["replace"] + (0 if cloud else ok["move"])
        if events["task.created"] < created or events["task.deleted"] < deleted:
            problems.append("the journal reports changes the emulator did not see")
    print(json.dumps(figures, indent=2))
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
