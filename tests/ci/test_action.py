"""The GitHub Action (action.yml), run step by step as a runner would, against the emulator and a fake GitHub API.

The whole review flow: a pull request's plan is commented with its digest; the push that merges it applies
exactly that plan, and is refused when the site changed between review and merge. No traffic leaves 127.0.0.1:
Tableau is the emulator, GitHub's API is tests/ci/runner.py's fake, and the `uses:` steps (setup-python,
upload-artifact: GitHub's own services) are recorded, not run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.emulator import Emulator
from tests.ci.runner import ActionRun, FakeGitHub, Runner, fake_github, runner_env
from tests.e2e.helpers import tasks_on, writes
from tests.plan_contract import validate_plan

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the action's steps are bash steps")

PR = 42
MERGE_SHA = "a" * 40


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with fake_github() as fake:
        yield fake


@pytest.fixture
def repo(server_emu: Emulator, cli: Any, tmp_path: Path) -> Path:
    """A checkout whose tableau/site.yaml is the emulator's site as exported (no changes)."""
    workspace = tmp_path / "workspace"
    assert cli("export", "--output", workspace / "tableau" / "site.yaml").code == 0
    return workspace


@pytest.fixture
def runner(repo: Path, github: FakeGitHub, tmp_path: Path) -> Runner:
    return Runner(repo, tmp_path / "runner", github.url, runner_env())


def _edit(repo: Path, change: Any) -> None:
    file = repo / "tableau" / "site.yaml"
    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    change(doc)
    file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _move_pipeline(doc: dict[str, Any], schedule: str = "Daily 06:00") -> None:
    for entry in doc["extracts"]:
        if entry.get("datasource") == "Sales/Pipeline":
            entry["refresh"] = [{"schedule": schedule, "type": "full"}]


def _pr_event() -> dict[str, Any]:
    return {"pull_request": {"number": PR, "head": {"sha": "b" * 40}}}


def _plan_on_pr(runner: Runner) -> ActionRun:
    return runner.run({"command": "plan"}, "pull_request", _pr_event())


def test_plan_on_a_pull_request_comments_summarises_and_saves_the_plan(runner: Runner, repo: Path,
                                                                        github: FakeGitHub) -> None:
    _edit(repo, _move_pipeline)
    run = _plan_on_pr(runner)
    assert not run.failed, run.log
    out = run.outputs()
    assert out["exit-code"] == "2" and out["has-changes"] == "true"
    saved = json.loads(Path(out["plan-json"]).read_text(encoding="utf-8"))
    validate_plan(saved)
    assert out["digest"] == saved["digest"]
    # The comment: marked for this path, with the plan and its digest.
    [body] = github.comment_bodies(PR)
    assert body.startswith("<!-- reconciler-plan: tableau/ -->\n### Reconciler plan for the Default site")
    assert "Sales/Pipeline" in body and f"Plan digest: `{saved['digest']}`" in body
    # The job summary has the plan too; the upload step would upload the directory with plan.json and plan.md.
    assert "Plan: 0 to create, 1 to move" in run.summary and saved["digest"] in run.summary
    upload = run.step("Upload the full plan, journal or report")
    assert upload.uses == "actions/upload-artifact@v4" and upload.with_["name"] == "reconciler-plan"
    assert {p.name for p in Path(upload.with_["path"]).iterdir()} >= {"plan.json", "plan.md", "comment.md"}
    # Pushing again updates the one comment instead of adding another.
    _edit(repo, lambda doc: _move_pipeline(doc, "Nightly 02:00"))
    again = _plan_on_pr(runner)
    assert not again.failed, again.log
    [body] = github.comment_bodies(PR)
    assert again.outputs()["digest"] in body and saved["digest"] not in body
    assert github.requests.count(f"PATCH /repos/acme/tableau-config/issues/comments/{1}") == 1


def test_merge_applies_the_reviewed_plan(runner: Runner, repo: Path, github: FakeGitHub,
                                         server_emu: Emulator) -> None:
    _edit(repo, _move_pipeline)
    reviewed = _plan_on_pr(runner)
    assert not reviewed.failed, reviewed.log
    github.merge(PR, MERGE_SHA)
    applied = runner.run({"command": "apply"}, "push", {"after": MERGE_SHA}, sha=MERGE_SHA)
    assert not applied.failed, applied.log
    assert applied.outputs("reviewed")["digest"] == reviewed.outputs()["digest"]
    assert applied.outputs()["exit-code"] == "0"
    assert tasks_on(server_emu, "Sales/Pipeline") == {("full", "Daily 06:00"): 1}
    assert "Apply complete: 1 moved" in applied.summary and reviewed.outputs()["digest"] in applied.summary
    journal = Path(applied.outputs()["artifact-path"]) / "apply-journal.jsonl"
    assert journal.read_text(encoding="utf-8").count("\n") == 1


def test_merge_refuses_a_plan_that_changed_since_review(runner: Runner, repo: Path, github: FakeGitHub,
                                                        server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    _edit(repo, _move_pipeline)
    assert not _plan_on_pr(runner).failed
    # Between review and merge, someone moves the task elsewhere on the site.
    other = tmp_path / "other.yaml"
    shutil.copy(repo / "tableau" / "site.yaml", other)
    doc = yaml.safe_load(other.read_text(encoding="utf-8"))
    _move_pipeline(doc, "Nightly 02:00")
    other.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    assert cli("apply", other, "--auto-approve").code == 0
    github.merge(PR, MERGE_SHA)
    before = writes(server_emu)
    refused = runner.run({"command": "apply"}, "push", {"after": MERGE_SHA}, sha=MERGE_SHA)
    assert refused.failed
    assert refused.step("Result").code == 1
    assert "not the reviewed" in refused.log and "Nothing was applied" in refused.log
    assert "reconciler apply failed (exit 1)" in refused.summary
    assert writes(server_emu) == before
    assert tasks_on(server_emu, "Sales/Pipeline") == {("full", "Nightly 02:00"): 1}


def test_merge_without_a_reviewed_plan_applies_nothing(runner: Runner, repo: Path, github: FakeGitHub,
                                                       server_emu: Emulator) -> None:
    _edit(repo, _move_pipeline)
    before = writes(server_emu)
    not_a_merge = runner.run({"command": "apply"}, "push", {"after": MERGE_SHA}, sha=MERGE_SHA)
    assert not_a_merge.failed and "not the merge of a pull request" in not_a_merge.log
    github.merge(PR, MERGE_SHA)
    uncommented = runner.run({"command": "apply"}, "push", {"after": MERGE_SHA}, sha=MERGE_SHA)
    assert uncommented.failed and f"#{PR} has no reconciler plan comment" in uncommented.log
    manual = runner.run({"command": "apply"}, "workflow_dispatch", {})
    assert manual.failed and "needs the expect-digest input" in manual.log
    assert all(s.skipped for s in manual.steps if s.name in ("run", "Result"))
    assert writes(server_emu) == before


def test_a_comment_by_someone_else_is_not_a_review(runner: Runner, repo: Path, github: FakeGitHub,
                                                   server_emu: Emulator) -> None:
    _edit(repo, _move_pipeline)
    digest = _plan_on_pr(runner).outputs()["digest"]
    github.comments[PR][0]["user"] = {"login": "mallory", "type": "User"}
    github.merge(PR, MERGE_SHA)
    before = writes(server_emu)
    run = runner.run({"command": "apply"}, "push", {"after": MERGE_SHA}, sha=MERGE_SHA)
    assert run.failed and "no reconciler plan comment" in run.log
    assert writes(server_emu) == before
    # The way back: Run workflow without a digest shows a plan (summary only, no comment) with its digest;
    # run again with that digest to apply it.
    shown = runner.run({"command": "plan"}, "workflow_dispatch", {})
    assert not shown.failed, shown.log
    assert shown.outputs()["digest"] == digest and f"Plan digest: `{digest}`" in shown.summary
    assert "comment-file" not in shown.outputs() and len(github.comment_bodies(PR)) == 1
    manual = runner.run({"command": "apply", "expect-digest": digest}, "workflow_dispatch", {})
    assert not manual.failed, manual.log
    assert tasks_on(server_emu, "Sales/Pipeline") == {("full", "Daily 06:00"): 1}


def test_a_long_plan_fits_in_one_comment(runner: Runner, repo: Path, github: FakeGitHub) -> None:
    def many_schedules(doc: dict[str, Any]) -> None:
        for n in range(400):
            doc["schedules"][f"Generated schedule number {n:04d} for a long plan"] = {
                "frequency": "weekly", "start": f"{n % 24:02d}:00", "weekdays": ["monday", "wednesday"]}

    _edit(repo, many_schedules)
    run = _plan_on_pr(runner)
    assert not run.failed, run.log
    [body] = github.comment_bodies(PR)
    assert len(body) <= 65_536
    assert "sections are not shown" in body and "reconciler-plan" in body
    assert body.count("<details>") == body.count("</details>")
    assert f"Plan digest: `{run.outputs()['digest']}`" in body
    full = Path(run.outputs()["plan-markdown"]).read_text(encoding="utf-8")
    assert len(full) > 65_536 and full.count("<details>") == 400 and "not shown" not in full


def test_validate_and_drift(runner: Runner, repo: Path, github: FakeGitHub) -> None:
    valid = runner.run({"command": "validate"}, "pull_request", _pr_event())
    assert not valid.failed, valid.log
    assert "reconciler validate tableau/: passed" in valid.summary
    in_sync = runner.run({"command": "drift"}, "schedule", {})
    assert not in_sync.failed, in_sync.log
    assert in_sync.outputs()["has-changes"] == "false" and "Reconciler drift" in in_sync.summary
    _edit(repo, _move_pipeline)
    drifted = runner.run({"command": "drift"}, "schedule", {})
    assert drifted.failed and drifted.outputs()["has-changes"] == "true"
    assert Path(drifted.outputs()["report"]).read_text(encoding="utf-8").startswith("<?xml")
    tolerated = runner.run({"command": "drift", "fail-on-drift": "false"}, "schedule", {})
    assert not tolerated.failed
    assert github.requests == [], "validate and drift never call GitHub"
    bad = runner.run({"command": "deploy"}, "push", {})
    assert bad.failed and "must be one of validate, plan, apply, drift" in bad.log


def test_a_read_only_token_warns_and_keeps_the_plan(runner: Runner, repo: Path, github: FakeGitHub) -> None:
    _edit(repo, _move_pipeline)
    run = runner.run({"command": "plan", "github-token": "read-only"}, "pull_request", _pr_event())
    assert not run.failed, run.log
    assert "::warning title=reconciler::Could not comment" in run.log and "401" in run.log
    assert github.comment_bodies(PR) == [] and "Plan digest" in run.summary
