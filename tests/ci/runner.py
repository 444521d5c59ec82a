"""A small stand-in for the GitHub Actions runner, to run action.yml's steps here, and a fake GitHub API.

The runner reads action.yml, evaluates the few expressions it uses (``inputs.*``, ``steps.ID.outputs.*``,
``github.*``, ``always()``, ``==``/``!=`` with a string, ``&&``), and runs each ``run:`` step as GitHub does:
``bash --noprofile --norc -eo pipefail`` with the step's ``env``, a fresh ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY`` file per step, ``GITHUB_ACTION_PATH`` at the repository root, and the event in
``GITHUB_EVENT_PATH``. A ``uses:`` step (setup-python, upload-artifact: GitHub's own services) is not run:
it is recorded with its evaluated ``with:``, so a test can check what would have been uploaded.

The fake GitHub API serves the four calls the action makes (pull requests of a commit; list, create and
update issue comments) on 127.0.0.1, port 0, and checks the token.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
TOKEN = "fake-token-for-tests"
BOT = "github-actions[bot]"
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class StepRun:
    name: str
    code: int | None  # None: not run (a `uses:` step, or skipped)
    log: str = ""
    summary: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)
    skipped: bool = False


@dataclass
class ActionRun:
    steps: list[StepRun]

    @property
    def failed(self) -> bool:
        return any(s.code not in (None, 0) for s in self.steps)

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)

    @property
    def log(self) -> str:
        return "".join(f"--- {s.name} (exit {s.code})\n{s.log}" for s in self.steps)

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)

    def outputs(self, step_id: str = "run") -> dict[str, str]:
        return next(s.outputs for s in self.steps if s.name == step_id)


def _read_outputs(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file: ``name=value`` lines and ``name<<DELIM`` blocks."""
    outputs: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1:end])
            i = end + 1
            continue
        name, _, value = line.partition("=")
        outputs[name] = value
        i += 1
    return outputs


class Runner:
    """Runs action.yml's steps with ``inputs`` for one event, in ``workspace``."""

    def __init__(self, workspace: Path, temp: Path, api_url: str, env: dict[str, str]) -> None:
        self.workspace, self.temp, self.api_url, self.env = workspace, temp, api_url, env
        self.spec = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
        self.count = 0

    def run(self, inputs: dict[str, str], event_name: str, event: dict[str, Any], sha: str = "0" * 40) -> ActionRun:
        self.count += 1
        temp = self.temp / f"run-{self.count}"
        temp.mkdir(parents=True)
        event_path = temp / "event.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        github = {"token": TOKEN, "event_name": event_name, "sha": sha, "repository": "acme/tableau-config",
                  "action_path": str(ROOT)}
        declared = self.spec["inputs"]
        unknown = set(inputs) - set(declared)
        assert not unknown, f"inputs not declared in action.yml: {unknown}"
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in inputs:
                values[name] = inputs[name]
            else:
                values[name] = self._substitute(str(spec.get("default", "")), {"github": github, "inputs": {}})
        context: dict[str, Any] = {"github": github, "inputs": values, "steps": {}}
        base = {**self.env, "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": event_name,
                "GITHUB_EVENT_PATH": str(event_path), "GITHUB_SHA": sha, "GITHUB_REPOSITORY": github["repository"],
                "GITHUB_API_URL": self.api_url, "GITHUB_SERVER_URL": "http://127.0.0.1:9/github",
                "GITHUB_RUN_ID": str(1000 + self.count), "GITHUB_ACTION_PATH": str(ROOT),
                "GITHUB_WORKSPACE": str(self.workspace), "GITHUB_ACTION": "reconciler", "RUNNER_TEMP": str(temp)}
        runs: list[StepRun] = []
        failed = False
        for index, step in enumerate(self.spec["runs"]["steps"]):
            name = step.get("id") or step["name"]
            condition = step.get("if", "success()")
            if not self._condition(condition, context, failed):
                runs.append(StepRun(name, None, skipped=True, uses=step.get("uses")))
                continue
            if "uses" in step:
                with_ = {k: self._substitute(str(v), context) for k, v in (step.get("with") or {}).items()}
                runs.append(StepRun(name, None, uses=step["uses"], with_=with_))
                continue
            assert step.get("shell") == "bash", f"{name}: every run step says `shell: bash`"
            output, summary = temp / f"output-{index}", temp / f"summary-{index}"
            output.touch()
            summary.touch()
            env = {**base, **{k: self._substitute(str(v), context) for k, v in (step.get("env") or {}).items()},
                   "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
            script = self._substitute(step["run"], context)
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                                  cwd=self.workspace, env=env, capture_output=True, text=True, timeout=300, check=False)
            outputs = _read_outputs(output)
            if step.get("id"):
                context["steps"][step["id"]] = {"outputs": outputs}
            runs.append(StepRun(name, done.returncode, done.stdout + done.stderr, summary.read_text(encoding="utf-8"),
                                outputs))
            failed = failed or done.returncode != 0
        return ActionRun(runs)

    def _value(self, expression: str, context: dict[str, Any]) -> str:
        expression = expression.strip()
        if expression.startswith("'") and expression.endswith("'"):
            return expression[1:-1]
        node: Any = context
        for part in expression.split("."):
            node = node.get(part, "") if isinstance(node, dict) else ""
        return str(node) if node is not None else ""

    def _substitute(self, text: str, context: dict[str, Any]) -> str:
        return _EXPR.sub(lambda m: self._value(m.group(1), context), text)

    def _condition(self, condition: str, context: dict[str, Any], failed: bool) -> bool:
        condition = _EXPR.sub(lambda m: m.group(1), condition)
        result = True
        has_status = False
        for term in (t.strip() for t in condition.split("&&")):
            if term in ("always()", "success()", "failure()"):
                has_status = True
                result = result and {"always()": True, "success()": not failed, "failure()": failed}[term]
            elif "!=" in term:
                left, right = term.split("!=", 1)
                result = result and self._value(left, context) != self._value(right, context)
            elif "==" in term:
                left, right = term.split("==", 1)
                result = result and self._value(left, context) == self._value(right, context)
            else:
                result = result and bool(self._value(term, context))
        return result if has_status else result and not failed


# -- a fake GitHub API -------------------------------------------------------------------------------------


@dataclass
class FakeGitHub:
    url: str = ""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls_of_commit: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    next_id: int = 1

    def merge(self, number: int, sha: str) -> None:
        """Pull request ``number`` was merged as commit ``sha``."""
        self.pulls_of_commit[sha] = [{"number": number, "merge_commit_sha": sha, "merged_at": "2026-01-01T00:00:00Z"}]

    def comment_bodies(self, number: int) -> list[str]:
        return [c["body"] for c in self.comments.get(number, [])]


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            url = urlparse(self.path)
            state.requests.append(f"{method} {url.path}")
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"message": "Bad credentials"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            parts = url.path.strip("/").split("/")
            if parts[:3] != ["repos", "acme", "tableau-config"]:
                self._answer(404, {"message": "Not Found"})
                return
            rest = parts[3:]
            if method == "GET" and len(rest) == 3 and rest[0] == "commits" and rest[2] == "pulls":
                self._answer(200, state.pulls_of_commit.get(rest[1], []))
            elif method == "GET" and len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments":
                query = parse_qs(url.query)
                per_page, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
                found = state.comments.get(int(rest[1]), [])
                self._answer(200, found[(page - 1) * per_page: page * per_page])
            elif method == "POST" and len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments":
                assert body is not None and len(body["body"]) <= 65_536, "GitHub refuses longer comments"
                comment = {"id": state.next_id, "body": body["body"], "user": {"login": BOT, "type": "Bot"}}
                state.next_id += 1
                state.comments.setdefault(int(rest[1]), []).append(comment)
                self._answer(201, comment)
            elif method == "PATCH" and len(rest) == 3 and rest[:2] == ["issues", "comments"]:
                assert body is not None and len(body["body"]) <= 65_536, "GitHub refuses longer comments"
                for comment in (c for cs in state.comments.values() for c in cs):
                    if comment["id"] == int(rest[2]):
                        comment["body"] = body["body"]
                        self._answer(200, comment)
                        return
                self._answer(404, {"message": "Not Found"})
            else:
                self._answer(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def runner_env() -> dict[str, str]:
    """The process environment for the steps: this interpreter's bin first (python and reconciler)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env
