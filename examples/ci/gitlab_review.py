#!/usr/bin/env python3
"""GitLab's half of "the reviewed plan is the applied plan" (examples/ci/gitlab-ci.yml); copy it to ci/ in your repo.

    python ci/gitlab_review.py comment plan.md plan.json   # merge request pipeline: post or update the plan note
    python ci/gitlab_review.py reviewed-digest              # default branch: print the reviewed plan's digest

`comment` posts the plan (markdown) with its digest as a note on the merge request, or updates the note it
posted before. `reviewed-digest` finds the merge request that the pipeline's commit merged, reads the digest
from that note and prints it, for `reconciler apply PATH --expect-digest DIGEST`; it fails (exit 1) when
there is no reviewed plan. Only notes by the token's own user count.

Needs GITLAB_API_TOKEN (a project access token with the api scope, as a masked CI/CD variable) and GitLab's
predefined variables (CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, CI_COMMIT_SHA). Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

MARKER = "<!-- reconciler-plan -->"
DIGEST = re.compile(r"Plan digest: `([0-9a-f]{64})`")
NOTE_LIMIT = 1_000_000  # GitLab refuses longer notes


class ReviewError(Exception):
    pass


def _api(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    base = os.environ["CI_API_V4_URL"].rstrip("/")
    project = urllib.parse.quote(os.environ["CI_PROJECT_ID"], safe="")
    url = f"{base}{path.replace(':project', project)}"
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("PRIVATE-TOKEN", os.environ.get("GITLAB_API_TOKEN", ""))
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read().decode("utf-8") or "null")
    except urllib.error.HTTPError as error:
        raise ReviewError(f"GitLab answered {error.code} to {method} {url}; is GITLAB_API_TOKEN set, with the api "
                          "scope?") from error
    except urllib.error.URLError as error:
        raise ReviewError(f"Cannot reach GitLab's API at {url}: {error.reason}.") from error


def _our_notes(iid: int) -> list[dict[str, Any]]:
    me = _api("GET", "/user")["id"]
    notes: list[dict[str, Any]] = []
    for page in range(1, 101):
        found = _api("GET", f"/projects/:project/merge_requests/{iid}/notes?sort=asc&per_page=100&page={page}")
        notes += [n for n in found if MARKER in (n.get("body") or "") and (n.get("author") or {}).get("id") == me]
        if len(found) < 100:
            break
    return notes


def comment(markdown_file: str, plan_file: str) -> int:
    iid = int(os.environ["CI_MERGE_REQUEST_IID"])
    digest = json.loads(Path(plan_file).read_text(encoding="utf-8"))["digest"]
    footer = (f"\nPlan digest: `{digest}`\n\nOn merge, the pipeline applies this plan only if the plan it makes then "
              "has this digest. The full plan is the `plan` job's artifact.\n")
    markdown = Path(markdown_file).read_text(encoding="utf-8")
    room = NOTE_LIMIT - len(MARKER) - len(footer) - 100
    if len(markdown) > room:
        markdown = markdown[:room].rsplit("\n<details>", 1)[0] + "\n\n> The plan is cut here: see the artifact.\n"
    body = f"{MARKER}\n{markdown}{footer}"
    notes = _our_notes(iid)
    if notes:
        _api("PUT", f"/projects/:project/merge_requests/{iid}/notes/{notes[-1]['id']}", {"body": body})
    else:
        _api("POST", f"/projects/:project/merge_requests/{iid}/notes", {"body": body})
    print(f"Plan digest {digest} posted on merge request !{iid}.", file=sys.stderr)
    return 0


def reviewed_digest() -> int:
    sha = os.environ["CI_COMMIT_SHA"]
    requests = _api("GET", f"/projects/:project/repository/commits/{sha}/merge_requests")
    # A fast-forward merge has no merge commit: the merged head itself is the commit.
    merged = [m for m in requests if m.get("state") == "merged"
              and sha in (m.get("merge_commit_sha"), m.get("squash_commit_sha"), m.get("sha"))]
    if not merged:
        raise ReviewError(f"Commit {sha} is not the merge of a merge request, so no plan was reviewed for it. "
                          "Nothing was applied.")
    iid = int(merged[0]["iid"])
    digests = [m.group(1) for n in _our_notes(iid) if (m := DIGEST.search(n.get("body") or ""))]
    if not digests:
        raise ReviewError(f"Merge request !{iid} has no reconciler plan note, so no plan was reviewed. Nothing was "
                          "applied.")
    print(digests[-1])
    return 0


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["comment"] and len(argv) == 3:
            return comment(argv[1], argv[2])
        if argv == ["reviewed-digest"]:
            return reviewed_digest()
    except ReviewError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
