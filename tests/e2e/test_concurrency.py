"""Two applies at once, and a cancelled apply: real ``reconciler`` processes against the emulator.

Two applies at once must never leave duplicate tasks: one holds the site's apply lock, the other stops
before writing and says that another apply is running, and the lock is gone when the first ends. A
SIGTERM (what CI sends on cancel) is handled like Ctrl-C: in-flight actions finish, the journal has
them, the run says how far it got and exits non-zero. No timing is raced: the emulator holds a run at
its first change (`Emulator.hold`) for as long as the test needs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.emulator import Emulator
from reconciler.tableau.lock import LOCK_PROJECT
from tests.conftest import connect_env
from tests.e2e.helpers import journal

LOCKED = "Another apply is running on this site"


def _reconciler(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "reconciler", *[str(a) for a in args]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})


def _with_new_tasks(tmp_path: Path, cli: Any) -> Path:
    """The exported site, with one more monthly task on every item that has tasks (about 30 creates)."""
    out = tmp_path / "exported.yaml"
    exported = cli("export", "--output", out)
    assert exported.code == 0, exported.err
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


def _lock_projects(emu: Emulator) -> list[str]:
    with emu.store.lock:
        return [p.id for p in emu.store.projects.values() if p.name == LOCK_PROJECT]


def _is_write(route: str) -> bool:
    """A change to the site other than the apply lock (a project) and sign-in/out."""
    return not route.startswith("GET ") and "/auth/" not in route and not route.endswith("/projects")


def test_of_two_applies_at_once_one_applies_the_other_is_refused_and_the_lock_is_released(
        cloud_emu: Emulator, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _with_new_tasks(tmp_path, cli)
    # The first run is held at its first change: by then it has taken the lock, and it stays in the middle
    # of its apply for as long as the test needs (no timing, no race).
    hold = cloud_emu.hold(_is_write)
    first = _reconciler("apply", path, "--auto-approve")
    try:
        assert hold.reached.wait(60), first.communicate() if first.poll() is not None else "never reached"
        [lock] = _lock_projects(cloud_emu)
        # The second run signs in as a user (a PAT has one session at a time: the same PAT would sign the
        # first run out, which is another test's story) and finds the lock held.
        monkeypatch.delenv("TABLEAU_PAT_NAME")
        monkeypatch.delenv("TABLEAU_PAT_SECRET")
        monkeypatch.setenv("TABLEAU_USERNAME", cloud_emu.username)
        monkeypatch.setenv("TABLEAU_PASSWORD", cloud_emu.password)
        events, routes = cloud_emu.events, Counter(cloud_emu.stats()["by_route"])
        refused = cli("apply", path, "--auto-approve")
        assert refused.code == 1, refused.out + refused.err
        assert LOCKED in refused.err and "Nothing was applied" in refused.err and "--break-lock" in refused.err
        assert cloud_emu.events == events, "the refused run changed nothing"
        sent = Counter(cloud_emu.stats()["by_route"]) - routes
        assert [r for r in sent if not r.startswith("GET ") and "/auth/" not in r] == \
            ["POST /api/{v}/sites/{site_id}/projects"], sent  # its one write: the refused try to take the lock
        assert sent["POST /api/{v}/sites/{site_id}/projects"] == 1
        assert _lock_projects(cloud_emu) == [lock], "the refused run left the holder's lock alone"
    finally:
        hold.release()
    code = first.wait(120)
    out, err = first.communicate()
    assert code == 0, out + err
    assert hold.held >= 1 and LOCKED not in err
    assert not {key: n for key, n in _task_counts(cloud_emu).items() if n > 1}, "no duplicates"
    # The winner released the lock: a third apply, with a change of its own, takes it and applies.
    assert _lock_projects(cloud_emu) == []
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    doc["schedules"]["Monthly on the 4th"] = {"frequency": "monthly", "start": "05:00", "month_days": [4]}
    next(e for e in doc["extracts"] if e.get("refresh"))["refresh"].append({"schedule": "Monthly on the 4th"})
    third = tmp_path / "third.yaml"
    third.write_text(yaml.safe_dump(doc, sort_keys=False))
    before = len(cloud_emu.events)
    applied = cli("apply", third, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    took = [e[0] for e in cloud_emu.events[before:] if e[0].startswith("project.")]
    assert took == ["project.created", "project.deleted"], took
    assert _lock_projects(cloud_emu) == []
    assert cli("plan", third, "--detailed-exitcode").code == 0


def test_the_loser_names_the_holder_and_a_stale_lock_can_be_broken(cloud_emu: Emulator, tmp_path: Path,
                                                                    cli: Any) -> None:
    path = _with_new_tasks(tmp_path, cli)
    with cloud_emu.store.lock:
        before = len(cloud_emu.store.tasks)
    # A run killed with -9 leaves its lock behind; nothing releases it. It is killed at its first change,
    # which never reaches the site.
    hold = cloud_emu.hold(_is_write)
    killed = _reconciler("apply", path, "--auto-approve", "--journal", tmp_path / "j.jsonl")
    assert hold.reached.wait(60), killed.communicate() if killed.poll() is not None else "never reached"
    killed.kill()
    killed.wait(10)
    hold.release(drop=True)
    assert len(_lock_projects(cloud_emu)) == 1
    result = cli("apply", path, "--auto-approve")
    assert result.code == 1, result.out + result.err
    assert LOCKED in result.err and "since" in result.err and "--break-lock" in result.err
    assert "pid" in result.err
    result = cli("apply", path, "--auto-approve", "--break-lock")
    assert result.code == 0, result.out + result.err
    assert "Broke the apply lock" in result.err
    with cloud_emu.store.lock:
        assert len(cloud_emu.store.tasks) > before
    assert not {key: n for key, n in _task_counts(cloud_emu).items() if n > 1}
    assert cli("plan", path, "--detailed-exitcode").code == 0
    # The lock is released at the end of a run: the next apply needs no flag.
    assert _lock_projects(cloud_emu) == []
    assert cli("apply", path, "--auto-approve").code == 0


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_finishes_in_flight_actions_and_says_how_far_it_got(cloud_emu: Emulator, tmp_path: Path,
                                                                     cli: Any, sent: signal.Signals) -> None:
    path = _with_new_tasks(tmp_path, cli)
    with cloud_emu.store.lock:
        before = len(cloud_emu.store.tasks)
    journal_path = tmp_path / "j.jsonl"
    # The signal comes while the first changes are in flight (held by the emulator), then they go through;
    # every answer takes 40 ms, so the run is still going when the signal is handled.
    cloud_emu.configure_faults(latency_ms=40)
    hold = cloud_emu.hold(_is_write)
    run = _reconciler("apply", path, "--auto-approve", "--journal", journal_path, "--parallelism", "2")
    assert hold.reached.wait(60), run.communicate() if run.poll() is not None else "never reached"
    run.send_signal(sent)
    hold.release()
    code = run.wait(60)
    out, err = run.communicate()
    cloud_emu.configure_faults(latency_ms=0)
    assert code == 128 + sent, (code, out, err)  # 143 for SIGTERM, 130 for SIGINT, as shells report them
    assert f"({sent.name})" in err
    lines = journal(journal_path)
    done = [line for line in lines if line["outcome"] == "ok"]
    match = [line for line in err.splitlines() if "applied; run apply again to finish" in line]
    assert match, err
    applied, _, total = match[0].partition(" of ")
    assert int(applied.split()[-1]) == len(done) and int(total.split()[0]) > len(done) >= 1
    assert all(line["outcome"] in ("ok", "failed") for line in lines)
    # Every task the emulator holds that the run created is in the journal: nothing in flight was lost.
    with cloud_emu.store.lock:
        assert len(cloud_emu.store.tasks) == before + len(done)
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
