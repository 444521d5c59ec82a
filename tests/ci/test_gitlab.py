"""examples/ci/gitlab-ci.yml's review flow, its job scripts run in bash against the emulator and a fake GitLab API.

The merge request pipeline's `plan` job posts the plan with its digest; the default branch's `apply` job applies
only a plan with that digest. The `before_script` (pip install from the package index) is not run: the tests'
own installation is on PATH. GitLab's API is a fake on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from reconciler.emulator import Emulator
from tests.ci.runner import ROOT, runner_env
from tests.e2e.helpers import tasks_on, writes

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="GitLab runs the job scripts in bash")

PIPELINE = yaml.safe_load((ROOT / "examples" / "ci" / "gitlab-ci.yml").read_text(encoding="utf-8"))
TOKEN = "glpat-fake-for-tests"
ME = 7
IID = 12
SHA = "c" * 40


@dataclass
class FakeGitLab:
    url: str = ""
    notes: list[dict[str, Any]] = field(default_factory=list)
    merged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _handler(state: FakeGitLab) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            if self.headers.get("PRIVATE-TOKEN") != TOKEN:
                self._answer(401, {"message": "401 Unauthorized"})
                return
            path = urlparse(self.path).path.removeprefix("/api/v4")
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            notes = f"/projects/acme%2Ftableau/merge_requests/{IID}/notes"
            if method == "GET" and path == "/user":
                self._answer(200, {"id": ME, "username": "project_bot"})
            elif method == "GET" and path == f"/projects/acme%2Ftableau/repository/commits/{SHA}/merge_requests":
                self._answer(200, state.merged.get(SHA, []))
            elif method == "GET" and path == notes:
                self._answer(200, state.notes)
            elif method == "POST" and path == notes:
                note = {"id": len(state.notes) + 1, "body": body["body"], "author": {"id": ME}}
                state.notes.append(note)
                self._answer(201, note)
            elif method == "PUT" and path.startswith(notes + "/"):
                note = state.notes[int(path.rsplit("/", 1)[1]) - 1]
                note["body"] = body["body"]
                self._answer(200, note)
            else:
                self._answer(404, {"message": "404 Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

    return Handler


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    state = FakeGitLab()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/v4"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def repo(server_emu: Emulator, cli: Any, tmp_path: Path) -> Path:
    workspace = tmp_path / "repo"
    assert cli("export", "--output", workspace / "tableau" / "site.yaml").code == 0
    (workspace / "ci").mkdir()
    shutil.copy(ROOT / "examples" / "ci" / "gitlab_review.py", workspace / "ci" / "gitlab_review.py")
    return workspace


def _job(name: str, repo: Path, gitlab: FakeGitLab, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run a job's `script:` as GitLab's bash shell does (set -eo pipefail), with the pipeline's variables."""
    env = {**runner_env(), **PIPELINE.get("variables", {}), "CI": "true", "CI_API_V4_URL": gitlab.url,
           "CI_PROJECT_ID": "acme/tableau", "GITLAB_API_TOKEN": TOKEN, **variables}
    script = "\n".join(PIPELINE[name]["script"])
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def _move_pipeline(repo: Path, schedule: str = "Daily 06:00") -> None:
    file = repo / "tableau" / "site.yaml"
    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    for entry in doc["extracts"]:
        if entry.get("datasource") == "Sales/Pipeline":
            entry["refresh"] = [{"schedule": schedule, "type": "full"}]
    file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _merge(gitlab: FakeGitLab) -> None:
    gitlab.merged[SHA] = [{"iid": IID, "state": "merged", "merge_commit_sha": SHA, "squash_commit_sha": None}]


def test_the_reviewed_plan_is_applied_on_merge(repo: Path, gitlab: FakeGitLab, server_emu: Emulator) -> None:
    _move_pipeline(repo)
    plan = _job("plan", repo, gitlab, CI_MERGE_REQUEST_IID=str(IID), CI_PIPELINE_SOURCE="merge_request_event")
    assert plan.returncode == 0, plan.stderr
    digest = json.loads((repo / "plan.json").read_text(encoding="utf-8"))["digest"]
    [note] = gitlab.notes
    assert f"Plan digest: `{digest}`" in note["body"] and "Sales/Pipeline" in note["body"]
    again = _job("plan", repo, gitlab, CI_MERGE_REQUEST_IID=str(IID))  # a new push updates the one note
    assert again.returncode == 0 and len(gitlab.notes) == 1
    _merge(gitlab)
    apply = _job("apply", repo, gitlab, CI_COMMIT_SHA=SHA)
    assert apply.returncode == 0, apply.stderr
    assert "Apply complete: 1 moved" in apply.stdout
    assert tasks_on(server_emu, "Sales/Pipeline") == {("full", "Daily 06:00"): 1}


def test_a_change_between_review_and_merge_is_refused(repo: Path, gitlab: FakeGitLab, server_emu: Emulator,
                                                      cli: Any, tmp_path: Path) -> None:
    _move_pipeline(repo)
    assert _job("plan", repo, gitlab, CI_MERGE_REQUEST_IID=str(IID)).returncode == 0
    _move_pipeline(repo, "Nightly 02:00")  # a later commit on the default branch changes the files
    _merge(gitlab)
    before = writes(server_emu)
    apply = _job("apply", repo, gitlab, CI_COMMIT_SHA=SHA)
    assert apply.returncode == 1
    assert "not the reviewed" in apply.stderr and "Nothing was applied" in apply.stderr
    assert writes(server_emu) == before


def test_no_reviewed_plan_no_apply(repo: Path, gitlab: FakeGitLab, server_emu: Emulator) -> None:
    _move_pipeline(repo)
    before = writes(server_emu)
    apply = _job("apply", repo, gitlab, CI_COMMIT_SHA=SHA)
    assert apply.returncode == 1 and "not the merge of a merge request" in apply.stderr
    _merge(gitlab)
    gitlab.notes.append({"id": 1, "body": "<!-- reconciler-plan -->\nPlan digest: `" + "0" * 64 + "`",
                         "author": {"id": ME + 1}})  # someone else's note is not a review
    apply = _job("apply", repo, gitlab, CI_COMMIT_SHA=SHA)
    assert apply.returncode == 1 and "has no reconciler plan note" in apply.stderr
    assert writes(server_emu) == before
