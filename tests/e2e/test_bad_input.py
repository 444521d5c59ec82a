"""Bad input across every command, table-driven, against a running emulator.

Each case: exit 1, one paragraph on stderr that starts with ``Error:`` and names the thing, no traceback,
and not one write request reached the emulator. (The file corpus for `validate` is tests/desired/test_corpus.py.)
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator
from tests.e2e.helpers import writes

SCHEDULES = ('schedules:\n  Nightly 02:00:\n    frequency: daily\n    start: "02:00"\n'
             '  Daily 06:00:\n    frequency: daily\n    start: "06:00"\n    priority: 40\n')
GOOD = ('version: 1\n' + SCHEDULES
        + 'extracts:\n  - datasource: Sales/Orders\n    refresh:\n      - schedule: Nightly 02:00\n')
MOVE = ('version: 1\n' + SCHEDULES
        + 'extracts:\n  - datasource: Sales/Pipeline\n    refresh:\n      - schedule: Daily 06:00\n')
FILE = "@file"  # in args: the path of the case's site.yaml
PLAN = "@plan"  # in args: the path of a saved plan (of MOVE against the Default site), after `edit`
TMP = "@tmp"  # in args: the test's temporary directory


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _plan_json(edit: Callable[[dict[str, Any]], None]) -> Callable[[str], str]:
    def apply_edit(text: str) -> str:
        data = json.loads(text)
        edit(data)
        return json.dumps(data, indent=2)
    return apply_edit


def _rename_first(data: dict[str, Any]) -> None:
    data["resource_changes"][0]["address"] = 'task[datasource "Sales/Orders"][full @ Nightly 02:00]'


def _recount(data: dict[str, Any]) -> None:
    data["counts"]["create"] = 7


def _retarget(data: dict[str, Any]) -> None:
    data["resource_changes"][0]["target"]["item_id"] = "00000000-0000-0000-0000-000000000000"


def _reschedule(data: dict[str, Any]) -> None:
    """The edit a reviewer would not see: the move keeps its address and ids but lands on another schedule."""
    data["resource_changes"][0]["after"]["schedule"] = "Nightly 02:00"


def _reschedule_everywhere(data: dict[str, Any]) -> None:
    _reschedule(data)
    change = data["resource_changes"][0]
    change["target"]["schedule_name"] = "Nightly 02:00"
    change["changes"][0]["after"] = "Nightly 02:00"


def _raise_max_deletes(data: dict[str, Any]) -> None:
    data["max_deletes"] = 100000


def _newer(data: dict[str, Any]) -> None:
    data["format_version"] = "99.0"
    data["reconciler_version"] = "99.0.0"


def _newer_same_version(data: dict[str, Any]) -> None:
    data["format_version"] = "99.0"


@dataclass
class Case:
    id: str
    args: list[str]
    words: list[str]
    file: str | None = GOOD
    env: dict[str, str | None] = field(default_factory=dict)
    plan_edit: Callable[[str], str] | None = None  # makes @plan from a good saved plan's text


CASES = [
    # -- flags ---------------------------------------------------------------------------------------------
    Case("unknown-flag", ["plan", FILE, "--frobnicate"], ["--frobnicate"]),
    Case("unknown-command", ["deploy", FILE], ["deploy"]),
    Case("plan-bad-format", ["plan", FILE, "--format", "yaml"], ["--format", "yaml"]),
    Case("drift-bad-format", ["drift", FILE, "--format", "html"], ["--format", "html"]),
    Case("refresh-bad-format", ["refresh", "--datasource", "Sales/Orders", "--format", "xml"], ["--format", "xml"]),
    Case("parallelism-0", ["apply", FILE, "--auto-approve", "--parallelism", "0"], ["--parallelism", "1"]),
    Case("parallelism-word", ["apply", FILE, "--auto-approve", "--parallelism", "many"], ["--parallelism", "integer"]),
    Case("move-strategy", ["apply", FILE, "--auto-approve", "--server-move-strategy", "teleport"],
         ["--server-move-strategy", "teleport"]),
    Case("refresh-timeout-0", ["refresh", "--datasource", "Sales/Orders", "--timeout", "0"], ["--timeout"]),
    Case("refresh-via", ["refresh", "--datasource", "Sales/Orders", "--via", "carrier-pigeon"], ["--via"]),
    Case("server-ftp", ["plan", FILE, "--server", "ftp://x"], ["ftp://x", "URL"]),
    Case("server-not-a-url", ["plan", FILE, "--server", "not a url"], ["not a url", "URL"]),
    Case("server-empty-host", ["export", "--server", "https://"], ["https://", "URL"]),
    Case("ca-bundle-missing", ["plan", FILE, "--ca-bundle", "/nonexistent/ca.pem"], ["--ca-bundle", "ca.pem"]),
    Case("target-garbage", ["plan", FILE, "--target", "foo"], ["--target", "foo"]),
    Case("target-unknown-kind", ["plan", FILE, "--target", "pipeline:Sales/Orders"], ["pipeline"]),
    Case("target-unknown-item", ["apply", FILE, "--auto-approve", "--target", "datasource:Sales/Nope"],
         ["Sales/Nope"]),
    Case("http-timeout-env", ["plan", FILE], ["RECONCILER_HTTP_TIMEOUT"], env={"RECONCILER_HTTP_TIMEOUT": "soon"}),
    Case("emulator-flavor", ["emulator", "serve", "--port", "0", "--flavor", "moon"], ["--flavor", "moon"]),
    Case("emulator-seed", ["emulator", "serve", "--port", "0", "--seed", "huge"], ["--seed", "huge"]),
    Case("emulator-port", ["emulator", "serve", "--port", "99999"], ["--port", "65535"]),
    Case("emulator-drop-rate", ["emulator", "serve", "--port", "0", "--drop-rate", "2"], ["--drop-rate", "1"]),
    Case("emulator-state-not-json", ["emulator", "serve", "--port", "0", "--state", FILE], ["emulator cannot start"]),
    # -- credentials and connection ---------------------------------------------------------------------------
    Case("only-pat-name", ["plan", FILE], ["TABLEAU_PAT_SECRET"], env={"TABLEAU_PAT_SECRET": None}),
    Case("only-password", ["apply", FILE, "--auto-approve"], ["TABLEAU_USERNAME"],
         env={"TABLEAU_PAT_NAME": None, "TABLEAU_PAT_SECRET": None, "TABLEAU_PASSWORD": "admin"}),
    Case("no-credentials", ["export"], ["credentials", "TABLEAU_PAT_NAME"],
         env={"TABLEAU_PAT_NAME": None, "TABLEAU_PAT_SECRET": None}),
    Case("wrong-credentials", ["apply", FILE, "--auto-approve"], ["refused", "admin-pat"],
         env={"TABLEAU_PAT_SECRET": "wrong-secret"}),
    Case("wrong-password", ["refresh", "--datasource", "Sales/Orders"], ["refused", "admin"],
         env={"TABLEAU_PAT_NAME": None, "TABLEAU_PAT_SECRET": None, "TABLEAU_USERNAME": "admin",
              "TABLEAU_PASSWORD": "nope"}),
    Case("unreachable", ["apply", FILE, "--auto-approve"], ["Cannot reach", "127.0.0.1"],
         env={"TABLEAU_SERVER": f"http://127.0.0.1:{_closed_port()}", "RECONCILER_RETRY_BASE": "0.01"}),
    Case("unknown-site", ["plan", FILE, "--site", "nosuchsite"], ["nosuchsite"]),
    Case("unknown-site-export", ["export", "--site", "nosuchsite"], ["nosuchsite"]),
    Case("no-server", ["plan", FILE], ["--server", "TABLEAU_SERVER"], env={"TABLEAU_SERVER": None}),
    # -- refresh -------------------------------------------------------------------------------------------
    Case("refresh-nothing", ["refresh"], ["Nothing to refresh", "--datasource"]),
    Case("refresh-unknown-item", ["refresh", "--datasource", "Sales/Ordrs"], ["Sales/Ordrs", "Sales/Orders"]),
    Case("refresh-unknown-workbook", ["refresh", "--workbook", "Nope/Nothing"], ["Nope/Nothing"]),
    Case("refresh-unknown-luid", ["refresh", "--datasource", "00000000-0000-0000-0000-000000000000"],
         ["00000000-0000-0000-0000-000000000000"]),
    Case("refresh-unknown-task", ["refresh", "--task", "00000000-0000-0000-0000-000000000000"],
         ["00000000-0000-0000-0000-000000000000"]),
    Case("refresh-task-garbage", ["refresh", "--task", "not-a-task-id"], ["not-a-task-id"]),
    Case("refresh-one-bad-of-two", ["refresh", "--datasource", "Sales/Orders", "--datasource", "Sales/Nope"],
         ["Sales/Nope"]),
    # -- paths and files --------------------------------------------------------------------------------------
    Case("path-missing", ["plan", "/nonexistent/site.yaml"], ["/nonexistent/site.yaml"]),
    Case("apply-path-missing", ["apply", "/nonexistent/plan.json", "--auto-approve"], ["/nonexistent/plan.json"]),
    Case("dir-without-yaml", ["plan", TMP + "/empty"], ["empty", "yaml"]),
    Case("drift-unknown-item", ["drift", FILE],
         ["Sales/Ordrs", "Sales/Orders"], file=GOOD.replace("Sales/Orders", "Sales/Ordrs")),
    Case("plan-inline-recurrence-on-server", ["plan", FILE], ["recurrence", "Server"],
         file=('version: 1\nflavor: server\nextracts:\n  - datasource: Sales/Orders\n    refresh:\n'
               '      - frequency: daily\n        start: "02:00"\n')),
    Case("apply-invalid-file", ["apply", FILE, "--auto-approve"], ["site.yaml:", "frequency"],
         file='version: 1\nschedules:\n  N:\n    frequency: fortnightly\n    start: "02:00"\n'),
    Case("export-unknown-project", ["export", "--project", "NoSuchProject"], ["NoSuchProject"]),
    # -- saved plans ----------------------------------------------------------------------------------------
    Case("plan-truncated", ["apply", PLAN, "--auto-approve"], ["saved plan", "JSON", "truncated"],
         plan_edit=lambda text: text[: len(text) // 2]),
    Case("plan-empty", ["apply", PLAN, "--auto-approve"], ["saved plan", "JSON"], plan_edit=lambda text: ""),
    Case("plan-not-json", ["apply", PLAN, "--auto-approve"], ["saved plan", "JSON"],
         plan_edit=lambda text: "this is not a plan\n"),
    Case("plan-address-edited", ["apply", PLAN, "--auto-approve"], ["saved plan", "edited"],
         plan_edit=_plan_json(_rename_first)),
    Case("plan-count-edited", ["apply", PLAN, "--auto-approve"], ["saved plan", "edited"],
         plan_edit=_plan_json(_recount)),
    Case("plan-target-edited", ["apply", PLAN, "--auto-approve"], ["saved plan", "edited"],
         plan_edit=_plan_json(_retarget)),
    Case("plan-schedule-edited", ["apply", PLAN, "--auto-approve"], ["saved plan", "edited", "digest"],
         plan_edit=_plan_json(_reschedule)),
    Case("plan-schedule-edited-everywhere", ["apply", PLAN, "--auto-approve"], ["saved plan", "edited", "digest"],
         plan_edit=_plan_json(_reschedule_everywhere)),
    Case("plan-policy-edited", ["apply", PLAN, "--auto-approve"], ["saved plan", "edited", "digest"],
         plan_edit=_plan_json(_raise_max_deletes)),
    Case("plan-digest-unexpected", ["apply", PLAN, "--auto-approve", "--expect-digest", "0" * 64],
         ["digest", "0" * 64, "reviewed"]),
    Case("plan-digest-malformed", ["apply", PLAN, "--auto-approve", "--expect-digest", "abc"],
         ["--expect-digest", "abc", "64"]),
    Case("files-digest-unexpected", ["apply", FILE, "--auto-approve", "--expect-digest", "0" * 64],
         ["digest", "0" * 64, "reviewed"]),
    Case("plan-newer-format", ["apply", PLAN, "--auto-approve"], ["newer reconciler", "upgrade"],
         plan_edit=_plan_json(_newer)),
    Case("plan-newer-format-same-version", ["apply", PLAN, "--auto-approve"], ["the file was edited"],
         plan_edit=_plan_json(_newer_same_version)),
    Case("plan-other-site", ["apply", PLAN, "--auto-approve", "--site", "finance"], ["another site", "finance"]),
    Case("plan-with-target", ["apply", PLAN, "--auto-approve", "--target", "datasource:Sales/Pipeline"],
         ["--target", "saved plan"]),
    Case("plan-stale", ["apply", PLAN, "--auto-approve"], ["changed since the plan was saved", "Sales/Pipeline"],
         plan_edit=lambda text: "@stale" + text),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_cleanly(case: Case, server_emu: Emulator, cli: Any, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no yaml here\n")
    file = tmp_path / "site.yaml"
    if case.file is not None:
        file.write_text(case.file)
    saved = tmp_path / "plan.json"
    stale = False
    if PLAN in case.args:
        (tmp_path / "move.yaml").write_text(MOVE)
        made = cli("plan", tmp_path / "move.yaml", "--out", saved)
        assert made.code == 0, made.err
        if case.plan_edit is not None:
            text = case.plan_edit(saved.read_text())
            stale = text.startswith("@stale")
            saved.write_text(text.removeprefix("@stale"))
    if stale:  # someone changes the item behind the plan's back
        (tmp_path / "other.yaml").write_text(MOVE.replace("- schedule: Daily 06:00", "- schedule: Nightly 02:00"))
        assert cli("apply", tmp_path / "other.yaml", "--auto-approve").code == 0
    for name, value in case.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    args = [str(file) if a == FILE else str(saved) if a == PLAN else a.replace(TMP, str(tmp_path))
            for a in case.args]
    before = writes(server_emu)
    result = cli(*args)
    output = result.out + result.err
    assert "Traceback" not in output, output
    assert result.code == 1, f"exit {result.code}\n{output}"
    # After a plan was made, plan and apply first say which files they read (issue 15); then the one paragraph.
    error = re.sub(r"^Read \d+ files?: [^\n]*\n", "", result.err)
    assert error.startswith("Error:"), result.err
    error = result.err.strip()
    assert "\n\n" not in error and "unexpected error" not in error, error
    for word in case.words:
        assert word in error, f"{word!r} not in: {error}"
    assert writes(server_emu) == before, "not one write request"
