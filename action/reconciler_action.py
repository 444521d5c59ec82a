"""The steps of the reconciler GitHub Action (action.yml): install, reviewed-digest, run, comment, finish.

Standard library only: it runs on the runner's Python before and beside the installed reconciler. Each
step reads its inputs from ``INPUT_*`` variables (action.yml maps them), the runner's ``GITHUB_*``
variables and the event file, and writes its outputs to ``$GITHUB_OUTPUT`` and its report to
``$GITHUB_STEP_SUMMARY``. Only ``reviewed-digest`` and ``comment`` talk to GitHub's API, at
``$GITHUB_API_URL``; every other step works offline (but for the Tableau server).

The reviewed plan is the applied plan: on a pull request, ``run`` plans (saving the plan and its
digest) and ``comment`` posts the plan with its digest; on the push that merges the pull request,
``reviewed-digest`` reads that digest back from the pull request's comment and ``run`` applies with
``reconciler apply --expect-digest``, which refuses any plan but the reviewed one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any

#: GitHub refuses a comment body longer than this many characters.
COMMENT_LIMIT = 65_536
#: GitHub shows at most 1 MiB of a step's summary; stay well under it.
SUMMARY_LIMIT = 1_000_000
COMMANDS = ("validate", "plan", "apply", "drift")
DIGEST = re.compile(r"Plan digest: `([0-9a-f]{64})`")


class ActionError(Exception):
    """A failure explained to the user; the step prints it as an error annotation and fails."""


# -- the runner's files and variables ---------------------------------------------------------------------


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def set_output(name: str, value: str) -> None:
    """Append ``name=value`` to $GITHUB_OUTPUT (a delimited block for multi-line values)."""
    path = env("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        if "\n" in value:
            out.write(f"{name}<<RECONCILER_EOF\n{value}\nRECONCILER_EOF\n")
        else:
            out.write(f"{name}={value}\n")


def add_summary(markdown: str) -> None:
    path = env("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(markdown if markdown.endswith("\n") else markdown + "\n")


def event() -> dict[str, Any]:
    path = env("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def work_dir() -> Path:
    base = Path(env("RUNNER_TEMP") or env("TMPDIR") or "/tmp")
    path = base / f"reconciler-{env('GITHUB_ACTION', 'action')}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_url() -> str:
    server, repo, run_id = env("GITHUB_SERVER_URL", "https://github.com"), env("GITHUB_REPOSITORY"), \
        env("GITHUB_RUN_ID")
    return f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else ""


def marker(path: str) -> str:
    """The hidden line that identifies this action's comment for one configuration path."""
    return f"<!-- reconciler-plan: {path} -->"


# -- fitting markdown under a size limit ------------------------------------------------------------------


def fit(markdown: str, limit: int, artifact: str) -> str:
    """``markdown`` unchanged when it fits in ``limit`` characters; else cut before a change's ``<details>``
    block (so no block is left open) with a note saying how many are not shown and where the full plan is."""
    if len(markdown) <= limit:
        return markdown
    lines = markdown.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("<details>")]
    total = len(starts)

    def note(hidden: int) -> str:
        what = f"{hidden} of {total} sections are" if hidden else "The rest is"
        return (f"\n> **{what} not shown**: the whole plan would pass GitHub's {COMMENT_LIMIT:,}-character limit "
                f"for a comment. The full plan (markdown and JSON) is in {artifact}.\n")

    for shown in range(total, -1, -1):
        cut = starts[shown] if shown < total else len(lines)
        head = "".join(lines[:cut])
        text = head + note(total - shown)
        if len(text) <= limit:
            return text
    text = note(total)
    head = ""
    for line in lines:  # not even the headline and the counts fit: keep whole lines while they do
        if len(head) + len(line) + len(text) > limit:
            break
        head += line
    return head + text


# -- calling reconciler -----------------------------------------------------------------------------------


def reconciler(*args: str, stdout: Path | None = None) -> int:
    """Run the installed reconciler; stdout to a file (or the log), stderr to the log."""
    program = shutil.which("reconciler")
    command = [program] if program else [sys.executable, "-m", "reconciler"]
    print(f"+ reconciler {shlex.join(args)}", flush=True)
    if stdout is None:
        return subprocess.run([*command, *args], check=False).returncode
    with open(stdout, "w", encoding="utf-8") as out:
        return subprocess.run([*command, *args], stdout=out, check=False).returncode


def _extra_args() -> list[str]:
    try:
        return shlex.split(env("INPUT_ARGS"))
    except ValueError as error:
        raise ActionError(f"The args input is not valid shell words ({error}): {env('INPUT_ARGS')!r}.") from error


def _command() -> str:
    command = env("INPUT_COMMAND").strip()
    if command not in COMMANDS:
        raise ActionError(f"The command input must be one of {', '.join(COMMANDS)}, not {command!r}.")
    return command


# -- the steps --------------------------------------------------------------------------------------------


def step_install() -> int:
    """Install the wanted reconciler unless it is already installed (a self-hosted runner, a second use)."""
    wanted = env("RECONCILER_VERSION").strip()
    if not wanted:
        raise ActionError("The version input is empty: give a reconciler version, such as 0.1.0.")
    try:
        installed = metadata.version("reconciler")
    except metadata.PackageNotFoundError:
        installed = None
    if installed == wanted:
        print(f"reconciler {installed} is already installed.")
    else:
        requirement = f"reconciler=={wanted}" if re.fullmatch(r"[0-9][0-9a-zA-Z.+-]*", wanted) else wanted
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", requirement], check=False)
        if done.returncode != 0:
            raise ActionError(f"pip could not install {requirement} (exit {done.returncode}); see the log above.")
    return reconciler("--version")


def _github(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    token = env("GITHUB_TOKEN")
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        raise ActionError(f"GitHub answered {error.code} to {method} {url}: {detail}") from error
    except urllib.error.URLError as error:
        raise ActionError(f"Cannot reach GitHub's API at {url}: {error.reason}.") from error
    return json.loads(text) if text else None


def _api(path: str) -> str:
    return f"{env('GITHUB_API_URL', 'https://api.github.com').rstrip('/')}/repos/{env('GITHUB_REPOSITORY')}{path}"


def _plan_comments(number: int, path: str) -> list[dict[str, Any]]:
    """This action's comments for ``path`` on pull request ``number``, oldest first (100 pages at most)."""
    author = env("INPUT_COMMENT_AUTHOR", "github-actions[bot]")
    found: list[dict[str, Any]] = []
    for page in range(1, 101):
        comments = _github("GET", _api(f"/issues/{number}/comments?per_page=100&page={page}"))
        found += [c for c in comments if marker(path) in (c.get("body") or "")
                  and (c.get("user") or {}).get("login") == author]
        if len(comments) < 100:
            break
    return found


def step_reviewed_digest() -> int:
    """For apply: the digest of the reviewed plan (the expect-digest input, or the merged pull request's comment)."""
    if _command() != "apply":
        return 0
    given = env("INPUT_EXPECT_DIGEST").strip()
    if given:
        set_output("digest", given)
        print("The reviewed plan's digest is the expect-digest input.")
        return 0
    name, sha, path = env("GITHUB_EVENT_NAME"), env("GITHUB_SHA"), env("INPUT_PATH")
    if name != "push":
        raise ActionError(f"apply on a {name or 'manual'} event needs the expect-digest input: the digest of the plan "
                          "that was reviewed (`reconciler plan` prints it). Nothing was applied.")
    pulls = _github("GET", _api(f"/commits/{sha}/pulls"))
    merged = [p for p in pulls if p.get("merge_commit_sha") == sha] or [p for p in pulls if p.get("merged_at")]
    if not merged:
        raise ActionError(f"Commit {sha} is not the merge of a pull request, so no plan was reviewed for it. Nothing "
                          "was applied. Change the files through a pull request, or run the apply with the "
                          "expect-digest input set to the digest of a plan you reviewed.")
    number = int(merged[0]["number"])
    comments = _plan_comments(number, path)
    digests = [m.group(1) for c in comments if (m := DIGEST.search(c.get("body") or ""))]
    if not digests:
        raise ActionError(f"Pull request #{number} has no reconciler plan comment for {path}, so no plan was reviewed. "
                          "Nothing was applied. Run the plan on the pull request (command: plan), review it, and merge "
                          "again, or run the apply with the expect-digest input.")
    set_output("digest", digests[-1])
    set_output("pull-request", str(number))
    print(f"The reviewed plan is the one commented on pull request #{number}: digest {digests[-1]}.")
    return 0


def _artifact_note(name: str) -> str:
    url = run_url()
    return f"the artifact `{name}` of [this run]({url})" if url else f"the artifact `{name}`"


def _plan(path: str, extra: list[str], out: Path) -> int:
    plan_json, plan_md = out / "plan.json", out / "plan.md"
    code = reconciler("plan", path, "--format", "markdown", "--out", str(plan_json), "--detailed-exitcode", *extra,
                      stdout=plan_md)
    set_output("exit-code", str(code))
    if code not in (0, 2) or not plan_json.is_file():
        add_summary(f"### reconciler plan failed (exit {code})\n\nSee the job log for the error.\n")
        return code
    data = json.loads(plan_json.read_text(encoding="utf-8"))
    digest = data["digest"]
    artifact = env("INPUT_ARTIFACT_NAME") or "reconciler-plan"
    footer = (f"\nPlan digest: `{digest}`\n\nOn merge, the workflow applies this plan only if the plan it makes "
              "then has this digest: a change to the site or the files since this plan is refused.\n")
    markdown = plan_md.read_text(encoding="utf-8")
    plan_md.write_text(markdown + footer, encoding="utf-8")
    head = f"{marker(path)}\n"
    body = fit(markdown, COMMENT_LIMIT - len(head) - len(footer), _artifact_note(artifact))
    comment = out / "comment.md"
    comment.write_text(head + body + footer, encoding="utf-8")
    add_summary(fit(markdown, SUMMARY_LIMIT - len(footer), _artifact_note(artifact)) + footer)
    set_output("has-changes", "true" if data["has_changes"] else "false")
    set_output("digest", digest)
    set_output("plan-json", str(plan_json))
    set_output("plan-markdown", str(plan_md))
    set_output("artifact-name", artifact)
    set_output("artifact-path", str(out))
    wants_comment = env("INPUT_COMMENT", "true").lower() == "true"
    if wants_comment and env("GITHUB_EVENT_NAME") in ("pull_request", "pull_request_target"):
        set_output("comment-file", str(comment))
    return code


def _log_block(title: str, text: str) -> str:
    text = text if len(text) < SUMMARY_LIMIT // 2 else text[: SUMMARY_LIMIT // 2] + "\n... (cut; see the job log)\n"
    return f"### {title}\n\n```text\n{text.rstrip()}\n```\n"


def step_run() -> int:
    command, path, extra, out = _command(), env("INPUT_PATH", "tableau/"), _extra_args(), work_dir()
    if command == "plan":
        _plan(path, extra, out)  # the finish step fails the job on its exit code, after the upload and comment
        return 0
    if command == "validate":
        log = out / "validate.txt"
        code = reconciler("validate", path, *extra, stdout=log)
        add_summary(_log_block(f"reconciler validate {path}: {'passed' if code == 0 else 'failed'}",
                               log.read_text(encoding="utf-8")))
    elif command == "apply":
        digest = env("REVIEWED_DIGEST").strip()
        if not digest:
            raise ActionError("No reviewed plan digest: nothing was applied.")
        log, journal = out / "apply.txt", out / "apply-journal.jsonl"
        code = reconciler("apply", path, "--auto-approve", "--expect-digest", digest, "--journal", str(journal),
                          *extra, stdout=log)
        text = log.read_text(encoding="utf-8")
        sys.stdout.write(text)
        title = "reconciler apply: done" if code == 0 else f"reconciler apply failed (exit {code})"
        add_summary(_log_block(title, text) + f"\nReviewed plan digest: `{digest}`\n")
        set_output("digest", digest)
        set_output("artifact-name", env("INPUT_ARTIFACT_NAME") or "reconciler-apply-journal")
        set_output("artifact-path", str(out))
    else:
        junit, report = out / "drift.xml", out / "drift.md"
        code = reconciler("drift", path, "--format", "markdown", "--output", str(report), *extra)
        if code in (0, 2):
            reconciler("drift", path, "--format", "junit", "--output", str(junit), *extra)
            add_summary(report.read_text(encoding="utf-8"))
            set_output("report", str(junit))
            set_output("has-changes", "true" if code == 2 else "false")
        set_output("artifact-name", env("INPUT_ARTIFACT_NAME") or "reconciler-drift")
        set_output("artifact-path", str(out))
    set_output("exit-code", str(code))
    return 0


def step_comment() -> int:
    """Post the plan on the pull request, or update this action's earlier comment for the same path."""
    file = env("COMMENT_FILE")
    if not file:
        return 0
    number = (event().get("pull_request") or {}).get("number")
    if not isinstance(number, int):
        raise ActionError("This event has no pull request to comment on.")
    body = Path(file).read_text(encoding="utf-8")
    try:
        existing = _plan_comments(number, env("INPUT_PATH", "tableau/"))
        if existing:
            _github("PATCH", _api(f"/issues/comments/{existing[-1]['id']}"), {"body": body})
            print(f"Updated the plan comment on pull request #{number}.")
        else:
            _github("POST", _api(f"/issues/{number}/comments"), {"body": body})
            print(f"Commented the plan on pull request #{number}.")
    except ActionError as error:  # a fork's read-only token: the plan is still in the summary and the artifact
        print(f"::warning title=reconciler::Could not comment the plan on the pull request: {error} Give the job "
              "`permissions: pull-requests: write`.", flush=True)
    return 0


def step_finish() -> int:
    """Fail the job as the command's exit code says: plan 0/2 pass, drift 2 fails unless fail-on-drift is false."""
    command, code = _command(), int(env("EXIT_CODE") or "1")
    if command == "plan" and code == 2:
        return 0
    if command == "drift" and code == 2:
        if env("INPUT_FAIL_ON_DRIFT", "true").lower() == "false":
            return 0
        print("::error title=reconciler::The site has drifted from the files (see the job summary).", flush=True)
    return code


STEPS = {"install": step_install, "reviewed-digest": step_reviewed_digest, "run": step_run,
         "comment": step_comment, "finish": step_finish}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in STEPS:
        print(f"usage: reconciler_action.py {{{','.join(STEPS)}}}", file=sys.stderr)
        return 2
    try:
        return STEPS[argv[0]]()
    except ActionError as error:
        print(f"::error title=reconciler::{error}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
