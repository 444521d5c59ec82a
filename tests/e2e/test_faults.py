"""apply under faults the other tests do not inject: dropped connections (before and after the server made
the change), answers slower than the client's timeout, retries that run out, and the server restarting
from its state file in the middle of an apply.

Every case: re-running apply converges (the next plan is empty), no task is duplicated or lost, and the
journal tells the truth (each "ok" task change has its events on the emulator, and every task event of a
run belongs to a change that run's journal records).
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.emulator import Emulator
from tests.conftest import connect_env
from tests.e2e.helpers import item_path, journal, writes
from tests.e2e.test_convergence import _duplicates, _extract_items, _file

FULL = {"schedule": "Nightly"}
START = [FULL, {"schedule": "Weekly"}]
# Per item: unchanged, a move (Weekly → Work hours), a create (Cloud: incremental; Tableau Server's REST API
# cannot make incremental tasks, so there the goal has no create); or everything deleted.
GOALS = ([FULL, {"schedule": "Work hours"}, {"schedule": "Weekly", "type": "incremental"}], [])
SERVER_GOALS = ([FULL, {"schedule": "Work hours"}], [])
_ADDRESS = re.compile(r'^task\[(\w+) "(.*)"\]\[')


def _goal(items: list[tuple[str, str]], flavor: str = "cloud") -> list[list[dict[str, str]]]:
    goals = GOALS if flavor == "cloud" else SERVER_GOALS
    return [goals[0] if i % 4 else goals[1] for i in range(len(items))]


def _task_events(emu: Emulator, since: int) -> Counter[tuple[str, str, str]]:
    """(event kind, item kind, item path) of the task events after ``since``."""
    found: Counter[tuple[str, str, str]] = Counter()
    for event in emu.events[since:]:
        if event[0].startswith("task."):
            kind, item = event[3], event[4]
            found[event[0], kind, item_path(emu, kind, item)] += 1
    return found


def _expected_events(entries: list[dict[str, Any]], cloud: bool) -> tuple[Counter[tuple[str, str, str]],
                                                                         Counter[tuple[str, str, str]],
                                                                         set[tuple[str, str]]]:
    """From a journal: the task events its "ok" lines imply, the most events its failed lines allow (a failed
    move or replace may have made its new task before its delete failed; a failed create or delete made
    nothing), and the items it has a line for."""
    expected: Counter[tuple[str, str, str]] = Counter()
    allowed: Counter[tuple[str, str, str]] = Counter()
    items: set[tuple[str, str]] = set()
    for entry in entries:
        match = _ADDRESS.match(str(entry["address"]))
        if match is None:
            continue
        item = (match.group(1), match.group(2))
        items.add(item)
        action = entry["action"]
        if entry["outcome"] != "ok":
            if action in ("move", "replace") and not cloud:
                allowed["task.created", *item] += 1
            continue
        if action == "move" and cloud:
            expected["task.moved", *item] += 1  # a resent update of the same task adds "task.updated"
            continue
        if action in ("create", "move", "replace"):
            expected["task.created", *item] += 1
        if action in ("delete", "move", "replace"):
            expected["task.deleted", *item] += 1
    return expected, allowed, items


def _check_journal_tells_the_truth(emu: Emulator, since: int, log: Path, cloud: bool = False) -> None:
    events = _task_events(emu, since)
    expected, allowed, items = _expected_events(journal(log), cloud)
    stray = sorted({(kind, path) for _, kind, path in events} - items)
    assert not stray, f"task events without a journal line: {stray}"
    for key in set(expected) | {k for k in events if k[0] in ("task.created", "task.deleted", "task.moved")}:
        assert expected[key] <= events[key] <= expected[key] + allowed[key], (key, expected[key], events[key])


def _converge(cli: Any, file: Path, tmp_path: Path, emu: Emulator, runs: int = 3, cloud: bool = False) -> list[int]:
    """apply until it succeeds (at most ``runs`` times), checking each run's journal against the events."""
    codes = []
    for run in range(runs):
        since = len(emu.events)
        log = tmp_path / f"journal-{run}.jsonl"
        result = cli("apply", file, "--auto-approve", "--parallelism", "4", "--journal", log)
        assert "Traceback" not in result.out + result.err
        codes.append(result.code)
        if log.exists():
            _check_journal_tells_the_truth(emu, since, log, cloud)
        if result.code == 0:
            break
    return codes


def _task_counts(emu: Emulator) -> Counter[tuple[str, str]]:
    with emu.store.lock:
        return Counter((t.item_kind, item_path(emu, t.item_kind, t.item_id)) for t in emu.store.tasks.values())


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_RETRY_BASE", "0.02")


def test_the_emulator_drops_connections_and_answers_late() -> None:
    with Emulator(flavor="server", seed="demo", job_seconds=0.0) as emu:
        info = f"{emu.url}/api/3.25/serverinfo"
        emu.configure_faults(drop_rate=1.0)
        with pytest.raises(requests.ConnectionError):
            requests.get(info, timeout=5)
        emu.configure_faults(drop_rate=0.0, slow_rate=1.0, slow_ms=600)
        with pytest.raises(requests.Timeout):
            requests.get(info, timeout=0.2)
        emu.configure_faults(slow_rate=0.0, drop_after_rate=1.0, fault_scope="writes")
        assert requests.get(info, timeout=5).status_code == 200, "reads are spared with fault_scope=writes"
        signin = (f'<tsRequest><credentials personalAccessTokenName="{emu.pat_name}" '
                  f'personalAccessTokenSecret="{emu.pat_secret}"><site contentUrl="" /></credentials></tsRequest>')
        answer = requests.post(f"{emu.url}/api/3.25/auth/signin", data=signin, timeout=5)
        assert answer.status_code == 200, "sign-in is spared with fault_scope=writes"
        token = re.search(r'token="([^"]+)"', answer.text)
        site = re.search(r'<site id="([^"]+)"', answer.text)
        assert token and site
        task = next(t for t in emu.store.tasks.values() if t.site_id == site.group(1))
        with pytest.raises(requests.ConnectionError):
            requests.delete(f"{emu.url}/api/3.25/sites/{site.group(1)}/tasks/extractRefreshes/{task.id}",
                            headers={"X-Tableau-Auth": token.group(1)}, timeout=5)
        assert task.id not in emu.store.tasks, "the change was made; only its answer was lost"
        with pytest.raises(ValueError, match="drop_rate"):
            emu.configure_faults(drop_rate=1.5)


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_apply_converges_when_connections_drop_and_answers_are_lost_or_late(
        flavor: str, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_retries: None) -> None:
    with Emulator(flavor=flavor, seed="synthetic", datasources=40, workbooks=0, tasks=0, schedules=1, projects=2,
                  job_seconds=0.0, random_seed=3) as emu:
        connect_env(monkeypatch, emu)
        items = _extract_items(emu)
        assert cli("apply", _file(tmp_path, items, [START] * len(items)), "--auto-approve").code == 0
        file = _file(tmp_path, items, _goal(items, flavor), max_deletes=1000)
        # From here: 5% of requests dropped unanswered, 20% of writes made but unanswered, 5% of answers
        # later than the client waits for.
        monkeypatch.setenv("RECONCILER_HTTP_TIMEOUT", "0.5")
        emu.configure_faults(drop_rate=0.05, drop_after_rate=0.20, slow_rate=0.05, slow_ms=800)
        before = sum(emu.stats()["by_route"].values())
        codes = _converge(cli, file, tmp_path, emu, cloud=flavor == "cloud")
        assert codes[-1] == 0, codes
        emu.configure_faults(drop_rate=0.0, drop_after_rate=0.0, slow_rate=0.0)
        assert cli("plan", file, "--detailed-exitcode").code == 0
        assert not _duplicates(emu)
        wanted = Counter({item: len(goal) for item, goal in zip(items, _goal(items, flavor), strict=True) if goal})
        assert _task_counts(emu) == wanted, "no task lost, none duplicated"
        assert sum(emu.stats()["by_route"].values()) > before


def test_retries_give_up_with_the_servers_code(cli: Any, tmp_path: Path, server_emu: Emulator,
                                               monkeypatch: pytest.MonkeyPatch, fast_retries: None) -> None:
    file = tmp_path / "site.yaml"
    file.write_text("version: 1\nextracts:\n  - datasource: Sales/Orders\n    refresh: []\n"
                    "  - datasource: Sales/Customers\n    refresh: []\n")
    server_emu.configure_faults(fail_rate=1.0, fault_scope="writes")
    before = writes(server_emu)
    started = time.monotonic()
    result = cli("apply", file, "--auto-approve")
    assert time.monotonic() - started < 20
    assert result.code == 1
    output = result.out + result.err
    assert "Traceback" not in output
    error = result.err[result.err.index("Error:"):].strip()
    assert "\n\n" not in error, "one paragraph"
    assert "503" in result.err and "failed" in error and "Nothing was applied" in error
    tries = writes(server_emu) - before
    # The first write is taking the site's apply lock: tried exactly RetryPolicy.attempts (6) times, then
    # apply stops before any change.
    assert tries == 6, f"the lock's create tried exactly RetryPolicy.attempts (6) times, got {tries}"
    server_emu.configure_faults(fail_rate=0.0)
    assert cli("apply", file, "--auto-approve").code == 0


def _free_port() -> int:
    """A free port below the ephemeral range: while the server is down, a client's own outgoing connection
    cannot take it (nor connect to itself on it), so the restart gets it back."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]) \
        if Path("/proc/sys/net/ipv4/ip_local_port_range").exists() else 32768
    for port in random.Random().sample(range(max(1024, low - 8000), low), 50):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range")


def _serve(state: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", str(port), "--state", str(state),
         "--seed", "synthetic", "--datasources", "60", "--workbooks", "0", "--tasks", "0", "--schedules", "1",
         "--projects", "2", "--job-seconds", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening on http://127.0.0.1:"), line
    return process


def _stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


def test_apply_survives_the_server_restarting_mid_apply(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        fast_retries: None) -> None:
    state, port = tmp_path / "emulator.json", _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(state, port, "--latency-ms", "15")
    apply_process: subprocess.Popen[bytes] | None = None
    try:
        items = _extract_items(Emulator(state=str(state)))  # the same state, not served: to name the items
        file = _file(tmp_path, items, [START] * len(items), max_deletes=1000)
        env = {**os.environ, "TABLEAU_SERVER": url, "TABLEAU_SITE": "", "TABLEAU_PAT_NAME": "admin-pat",
               "TABLEAU_PAT_SECRET": "admin-secret", "RECONCILER_RETRY_BASE": "0.2"}
        apply_process = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", str(file), "--auto-approve",
                                          "--parallelism", "2", "--journal", str(tmp_path / "journal.jsonl")],
                                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and apply_process.poll() is None:
            created = requests.get(f"{url}/_emulator/stats", timeout=5).json()["by_route"]
            if sum(n for route, n in created.items() if route.startswith("PUT ") and "/schedules/" in route) >= 15:
                break
            time.sleep(0.05)
        assert apply_process.poll() is None, "the apply was still running when the server went down"
        _stop(server, signal.SIGKILL)
        server = _serve(state, port)  # the same port, the state it had (its latency was to stop it midway)
        apply_process.wait(timeout=90)
        assert all(e["outcome"] in ("ok", "failed", "skipped") for e in journal(tmp_path / "journal.jsonl"))

        monkeypatch.setenv("TABLEAU_SERVER", url)
        monkeypatch.setenv("TABLEAU_SITE", "")
        monkeypatch.setenv("TABLEAU_PAT_NAME", "admin-pat")
        monkeypatch.setenv("TABLEAU_PAT_SECRET", "admin-secret")
        rerun = cli("apply", file, "--auto-approve", "--parallelism", "8")
        assert rerun.code == 0, rerun.out[-3000:] + rerun.err[-3000:]
        assert cli("plan", file, "--detailed-exitcode").code == 0
    finally:
        if apply_process is not None and apply_process.poll() is None:
            apply_process.kill()
            apply_process.wait(timeout=10)
        _stop(server)
    after = Emulator(state=str(state))  # what the server ended with, not served
    assert not _duplicates(after)
    assert _task_counts(after) == Counter({item: 2 for item in items}), "no task lost, none duplicated"
