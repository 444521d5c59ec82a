"""Two applies at once, and a cancelled apply: real ``reconciler`` processes against the emulator.

Two applies started together must never leave duplicate tasks: one holds the site's apply lock, the
other stops before writing and says that another apply is running. A SIGTERM (what CI sends on
cancel) is handled like Ctrl-C: in-flight actions finish, the journal has them, the run says how far
it got and exits non-zero.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.emulator import Emulator
from tests.conftest import connect_env
from tests.e2e.helpers import journal

LOCKED = "Another apply is running on this site"


@pytest.fixture
def slow_cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A Cloud emulator whose every answer takes 40 ms: applies last long enough to overlap."""
    with Emulator(flavor="cloud", seed="demo", job_seconds=0.0, latency_ms=40) as emu:
        connect_env(monkeypatch, emu)
        yield emu


def _reconciler(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "reconciler", *[str(a) for a in args]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})


def _with_new_tasks(tmp_path: Path, emu: Emulator) -> Path:
    """The exported site, with one more monthly task on every item that has tasks (about 30 creates)."""
    out = tmp_path / "exported.yaml"
    exported = _reconciler("export", "--output", out)
    assert exported.wait(60) == 0, exported.communicate()
    doc: dict[str, Any] = yaml.safe_load(out.read_text())
    doc["schedules"]["Monthly on the 3rd"] = {"frequency": "monthly", "start": "05:00", "month_days": [3]}
    for entry in doc["extracts"]:
        if entry.get("refresh"):
            entry["refresh"].append({"schedule": "Monthly on the 3rd"})
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _task_counts(emu: Emulator) -> Counter[tuple[str, str, str]]:
    with emu.store.lock:
        return Counter((t.item_id, "incremental" if t.incremental else "full", repr(t.recurrence))
                       for t in emu.store.tasks.values())


def test_two_applies_at_once_never_leave_duplicates(slow_cloud: Emulator, tmp_path: Path) -> None:
    path = _with_new_tasks(tmp_path, slow_cloud)
    first = _reconciler("apply", path, "--auto-approve")
    second = _reconciler("apply", path, "--auto-approve")
    results = [(p.wait(120), *p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _, _ in results)
    # Both runs share one token, and Tableau keeps one session per token: on a busy machine they can sign
    # each other out past reconciler's re-sign-ins, so both may stop (saying why); usually one wins.
    assert codes in ([0, 1], [1, 1]), results
    for code, _, err in results:
        if code != 1:
            continue
        # Usually the loser finds the lock held; if the winner finished before the loser took it, the loser's
        # read-back under the lock finds the site changed since its plan. Either way it writes nothing.
        if LOCKED in err or "another apply may have just run" in err:
            assert "Nothing was applied" in err, err
        else:
            assert "same personal access token" in err, err
    duplicates = {key: n for key, n in _task_counts(slow_cloud).items() if n > 1}
    assert not duplicates
    if codes == [1, 1]:  # whatever is left, one more apply finishes
        rerun = _reconciler("apply", path, "--auto-approve")
        assert rerun.wait(120) == 0, rerun.communicate()
        assert not {key: n for key, n in _task_counts(slow_cloud).items() if n > 1}
    again = _reconciler("plan", path, "--detailed-exitcode")
    assert again.wait(60) == 0, again.communicate()


def test_the_loser_names_the_holder_and_a_stale_lock_can_be_broken(slow_cloud: Emulator, tmp_path: Path,
                                                                    cli: Any) -> None:
    path = _with_new_tasks(tmp_path, slow_cloud)
    with slow_cloud.store.lock:
        before = len(slow_cloud.store.tasks)
    # A run killed with -9 leaves its lock behind; nothing releases it.
    killed = _reconciler("apply", path, "--auto-approve", "--journal", tmp_path / "j.jsonl")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "j.jsonl").exists():
        time.sleep(0.05)
    while time.monotonic() < deadline and not journal(tmp_path / "j.jsonl"):
        time.sleep(0.05)
    killed.kill()
    killed.wait(10)
    result = cli("apply", path, "--auto-approve")
    assert result.code == 1, result.out + result.err
    assert LOCKED in result.err and "since" in result.err and "--break-lock" in result.err
    assert "pid" in result.err
    result = cli("apply", path, "--auto-approve", "--break-lock")
    assert result.code == 0, result.out + result.err
    assert "Broke the apply lock" in result.err
    with slow_cloud.store.lock:
        assert len(slow_cloud.store.tasks) > before
    assert not {key: n for key, n in _task_counts(slow_cloud).items() if n > 1}
    assert cli("plan", path, "--detailed-exitcode").code == 0
    # The lock is released at the end of a run: the next apply needs no flag.
    assert cli("apply", path, "--auto-approve").code == 0


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_finishes_in_flight_actions_and_says_how_far_it_got(slow_cloud: Emulator, tmp_path: Path,
                                                                     cli: Any, sent: signal.Signals) -> None:
    path = _with_new_tasks(tmp_path, slow_cloud)
    with slow_cloud.store.lock:
        before = len(slow_cloud.store.tasks)
    journal_path = tmp_path / "j.jsonl"
    run = _reconciler("apply", path, "--auto-approve", "--journal", journal_path, "--parallelism", "2")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (journal_path.exists() and journal(journal_path)):
        time.sleep(0.02)
    run.send_signal(sent)
    code = run.wait(60)
    out, err = run.communicate()
    assert code == 128 + sent, (code, out, err)  # 143 for SIGTERM, 130 for SIGINT, as shells report them
    assert f"({sent.name})" in err
    lines = journal(journal_path)
    done = [line for line in lines if line["outcome"] == "ok"]
    match = [line for line in err.splitlines() if "applied; run apply again to finish" in line]
    assert match, err
    applied, _, total = match[0].partition(" of ")
    assert int(applied.split()[-1]) == len(done) and int(total.split()[0]) > len(done)
    assert all(line["outcome"] in ("ok", "failed") for line in lines)
    # Every task the emulator holds that the run created is in the journal: nothing in flight was lost.
    with slow_cloud.store.lock:
        assert len(slow_cloud.store.tasks) == before + len(done)
    # The lock was released: apply again finishes the job.
    result = cli("apply", path, "--auto-approve")
    assert result.code == 0, result.err
    assert cli("plan", path, "--detailed-exitcode").code == 0


def test_a_session_tableau_keeps_ending_names_the_shared_token(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every token expires at once, as when another run signs in with the same PAT before each request."""
    with Emulator(flavor="server", seed="demo", job_seconds=0.0, token_ttl=0.001) as emu:
        connect_env(monkeypatch, emu)
        result = cli("export")
    assert result.code == 1, result.out
    assert "401002" in result.err and "same personal access token" in result.err
    assert "its own token" in result.err and "Traceback" not in result.err
