"""plan and apply through the CLI against the emulator, both flavors: every kind of change, policy, saved plans.

Each test starts from `reconciler export` of the demo site (which must plan as "no changes"), edits the
document the way an admin edits the file, and checks the plan, the apply, the emulator's state, and
that a second plan is empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.emulator import Emulator
from tests.conftest import CliResult
from tests.e2e.helpers import journal, task_ids_on, tasks_on, writes


def export_doc(cli: Any, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "exported.yaml"
    result = cli("export", "--output", out)
    assert result.code == 0, result.err
    return dict(yaml.safe_load(out.read_text()))


def save(tmp_path: Path, doc: dict[str, Any], name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def extract(doc: dict[str, Any], kind: str, path: str) -> dict[str, Any]:
    for entry in doc["extracts"]:
        if entry.get(kind) == path:
            return dict(entry)
    raise AssertionError(f"{kind} {path} not in the exported document")


def set_extract(doc: dict[str, Any], kind: str, path: str, **fields: Any) -> None:
    for entry in doc["extracts"]:
        if entry.get(kind) == path:
            entry.update(fields)
            return
    doc["extracts"].append({kind: path, **fields})


def converge(cli: Any, file: Path, *extra: str) -> CliResult:
    applied = cli("apply", file, "--auto-approve", *extra)
    assert applied.code == 0, applied.out + applied.err
    again = cli("plan", file, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert "No changes. The site matches the configuration." in again.out
    return applied


# -- Server ----------------------------------------------------------------------------------------------


def test_export_of_a_site_plans_as_no_changes(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    assert cli("validate", tmp_path / "exported.yaml").code == 0
    result = cli("plan", tmp_path / "exported.yaml", "--detailed-exitcode")
    assert result.code == 0, result.out + result.err
    assert "No changes. The site matches the configuration." in result.out
    assert doc["flavor"] == "server" and "Nightly 02:00" in doc["schedules"]


def test_every_kind_of_change_on_server(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["schedules"]["Nightly 02:00"]["start"] = "03:00"                 # recurrence update
    doc["schedules"]["Daily 06:00"]["priority"] = 15                    # priority update
    doc["schedules"]["Twice Daily"]["state"] = "suspended"              # state update
    doc["schedules"]["Sunday Deep Clean"] = {"frequency": "weekly", "start": "04:00", "weekdays": ["sunday"]}
    set_extract(doc, "datasource", "Sales/Pipeline", refresh=[{"schedule": "Daily 06:00", "type": "full"}])
    set_extract(doc, "datasource", "Sales/Orders", refresh=[{"schedule": "Nightly 02:00", "type": "full"}])
    set_extract(doc, "datasource", "Sales/Quotas", encrypt=True,
                refresh=[{"schedule": "Month End 23:00", "type": "full"},
                         {"schedule": "Sunday Deep Clean", "type": "full"}])
    file = save(tmp_path, doc)

    planned = cli("plan", file, "--detailed-exitcode")
    assert planned.code == 2, planned.out + planned.err
    out = planned.out
    assert '~ schedule["Nightly 02:00"] will be updated in place' in out
    assert '~ start: "02:00" → "03:00"' in out
    assert '~ priority: 40 → 15' in out
    assert '~ state: "active" → "suspended"' in out
    assert '+ schedule["Sunday Deep Clean"] will be created' in out
    assert '~> task[datasource "Sales/Pipeline"][full @ Daily 06:00] will be moved' in out
    assert '- task[datasource "Sales/Orders"][incremental @ Hourly Business Hours] will be deleted' in out
    assert '~ datasource["Sales/Quotas"].encrypt' in out
    assert '+ task[datasource "Sales/Quotas"][full @ Sunday Deep Clean] will be created' in out
    assert "Plan: 2 to create, 1 to move, 4 to update, 1 to delete." in out
    assert "is a server schedule: this update changes it for every site" in out

    pipeline_before = task_ids_on(server_emu, "Sales/Pipeline")
    converge(cli, file)
    assert tasks_on(server_emu, "Sales/Pipeline") == {("full", "Daily 06:00"): 1}
    assert tasks_on(server_emu, "Sales/Orders") == {("full", "Nightly 02:00"): 1}
    assert tasks_on(server_emu, "Sales/Quotas") == {("full", "Month End 23:00"): 1, ("full", "Sunday Deep Clean"): 1}
    assert not pipeline_before & task_ids_on(server_emu, "Sales/Pipeline"), "a REST move is add then delete"
    schedules = {s.name: s for s in server_emu.store.schedules.values()}
    assert schedules["Nightly 02:00"].recurrence.start.startswith("03:00")
    assert schedules["Daily 06:00"].priority == 15
    assert schedules["Twice Daily"].state == "Suspended"
    quotas = next(i for i in server_emu.store.items.values() if i.name == "Quotas")
    assert quotas.encrypt_extracts


def test_a_server_move_never_leaves_the_item_without_a_task(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Pipeline", refresh=[{"schedule": "Daily 06:00", "type": "full"}])
    pipeline = next(i.id for i in server_emu.store.items.values() if i.name == "Pipeline")
    before = len(server_emu.events)
    converge(cli, save(tmp_path, doc))
    events = [e for e in server_emu.events[before:] if e[0].startswith("task.") and pipeline in e]
    kinds = [e[0] for e in events]
    assert kinds == ["task.created", "task.deleted"], kinds


def test_site_mode_change_warns_and_applies(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["encryption"]["mode"] = "disabled"
    for entry in doc["extracts"]:
        entry.pop("encrypt", None)
    file = save(tmp_path, doc)
    planned = cli("plan", file)
    assert planned.code == 0
    assert '~ site.encryption_mode will be updated in place' in planned.out
    assert "decrypts every extract" in planned.out
    converge(cli, file)
    assert server_emu.store.site_by_content_url("").encryption_mode == "disabled"  # type: ignore[union-attr]


def test_unmanaged_tasks_are_listed_and_pruned_only_with_prune(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["extracts"] = [e for e in doc["extracts"] if not str(e.get("datasource", "")).startswith("Marketing/")
                       and not str(e.get("workbook", "")).startswith("Marketing/")]
    file = save(tmp_path, doc)
    listed = cli("plan", file, "--detailed-exitcode")
    assert listed.code == 0, "unmanaged objects alone are not changes"
    assert '? task[datasource "Marketing/Web Traffic"]' in listed.out

    doc["policy"] = {"prune": True, "scope": {"projects": ["Marketing"]}}
    pruned = cli("plan", save(tmp_path, doc), "--detailed-exitcode")
    assert pruned.code == 2
    assert '- task[datasource "Marketing/Web Traffic"][incremental @ Every 15 Minutes] will be deleted' in pruned.out
    assert "Sales/" not in "".join(line for line in pruned.out.splitlines() if "will be deleted" in line)
    converge(cli, tmp_path / "site.yaml")
    assert not tasks_on(server_emu, "Marketing/Web Traffic")
    assert tasks_on(server_emu, "Sales/Orders"), "nothing outside the scope is touched"


def test_protect_turns_a_delete_into_an_error(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["extracts"] = [e for e in doc["extracts"] if e.get("datasource") != "Sales/Orders"]
    doc["policy"] = {"prune": True, "protect": [{"datasource": "Sales/Orders"}]}
    file = save(tmp_path, doc)
    before = writes(server_emu)
    result = cli("apply", file, "--auto-approve")
    assert result.code == 1
    assert "Sales/Orders" in result.err and "protect" in result.err
    assert writes(server_emu) == before


def test_max_deletes_stops_apply_until_allowed(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    for entry in doc["extracts"]:
        if str(entry.get("datasource", "")).startswith("Sales/"):
            entry["refresh"] = []
    doc["policy"] = {"max_deletes": 3}
    file = save(tmp_path, doc)
    before = writes(server_emu)
    refused = cli("apply", file, "--auto-approve")
    assert refused.code == 1
    assert "more than policy.max_deletes (3)" in refused.err
    assert writes(server_emu) == before, "refused before any write"
    converge(cli, file, "--allow-mass-delete")
    assert not tasks_on(server_emu, "Sales/Orders")


def test_ignore_hides_a_field_from_the_diff(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["schedules"]["Daily 06:00"]["priority"] = 99
    doc["policy"] = {"ignore": ["schedule.priority"]}
    result = cli("plan", save(tmp_path, doc), "--detailed-exitcode")
    assert result.code == 0, result.out


def test_target_limits_the_plan(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Orders", refresh=[])
    set_extract(doc, "datasource", "Sales/Customers", refresh=[])
    file = save(tmp_path, doc)
    result = cli("plan", file, "--target", "datasource:Sales/Orders")
    assert "Sales/Orders" in result.out and "Sales/Customers" not in result.out
    assert "Plan: 0 to create, 0 to move, 0 to update, 2 to delete." in result.out
    unknown = cli("plan", file, "--target", "datasource:Sales/Nope")
    assert unknown.code == 1 and "Sales/Nope" in unknown.err


def test_unknown_item_is_an_error_with_a_suggestion(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    file = tmp_path / "typo.yaml"
    file.write_text('version: 1\nextracts:\n  - datasource: "Sales/Ordrs"\n    refresh: []\n')
    result = cli("plan", file)
    assert result.code == 1
    assert "typo.yaml:3:" in result.err
    assert 'Did you mean "Sales/Orders"' in result.err


def test_a_saved_plan_applies_exactly_and_a_stale_one_is_refused(server_emu: Emulator, cli: Any,
                                                                 tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Pipeline", refresh=[{"schedule": "Daily 06:00", "type": "full"}])
    file = save(tmp_path, doc)
    saved = tmp_path / "plan.json"
    assert cli("plan", file, "--out", saved).code == 0
    assert cli("plan", file, "--out", tmp_path / "again.json").code == 0
    assert saved.read_text() == (tmp_path / "again.json").read_text(), "deterministic, byte for byte"
    applied = cli("apply", saved, "--auto-approve")
    assert applied.code == 0, applied.err
    assert "1 moved" in applied.out
    assert cli("plan", file, "--detailed-exitcode").code == 0

    # Make a plan, then change the site behind its back.
    set_extract(doc, "datasource", "Sales/Pipeline", refresh=[{"schedule": "Nightly 02:00", "type": "full"}])
    file = save(tmp_path, doc)
    assert cli("plan", file, "--out", saved).code == 0
    other = doc.copy()
    other["schedules"] = dict(doc["schedules"])
    other["schedules"]["Nightly 02:00"] = {**doc["schedules"]["Nightly 02:00"], "start": "01:30"}
    assert cli("apply", save(tmp_path, other, "other.yaml"), "--auto-approve").code == 0
    before = writes(server_emu)
    stale = cli("apply", saved, "--auto-approve")
    assert stale.code == 1
    assert "changed since the plan was saved" in stale.err and "Nightly 02:00" in stale.err
    assert writes(server_emu) == before


def test_apply_without_a_terminal_refuses_without_auto_approve(server_emu: Emulator, cli: Any,
                                                               tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Orders", refresh=[])
    before = writes(server_emu)
    result = cli("apply", save(tmp_path, doc))
    assert result.code == 1
    assert "--auto-approve" in result.err
    assert writes(server_emu) == before


def test_a_failing_action_is_reported_and_the_rest_is_applied(server_emu: Emulator, cli: Any,
                                                              tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    doc["schedules"]["Nightly 02:00"]["start"] = "03:00"  # this update fails on the server
    nightly = next(s.id for s in server_emu.store.schedules.values() if s.name == "Nightly 02:00")
    server_emu.configure_faults(fail_path=f"/schedules/{nightly}")
    set_extract(doc, "datasource", "Sales/Pipeline", refresh=[{"schedule": "Daily 06:00", "type": "full"}])
    file = save(tmp_path, doc)
    log = tmp_path / "journal.jsonl"
    result = cli("apply", file, "--auto-approve", "--journal", log)
    assert result.code == 1
    assert 'schedule["Nightly 02:00"]' in result.err and "500" in result.err
    assert tasks_on(server_emu, "Sales/Pipeline") == {("full", "Daily 06:00"): 1}, "independent work done"
    entries = {e["address"]: e for e in journal(log)}
    failed = [e for e in entries.values() if e["outcome"] == "failed"]
    assert len(failed) == 1 and failed[0]["code"], failed
    assert any(e["outcome"] == "ok" for e in entries.values())


# -- Cloud -----------------------------------------------------------------------------------------------


def test_every_kind_of_change_on_cloud(cloud_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    assert doc["flavor"] == "cloud"
    assert cli("plan", tmp_path / "exported.yaml", "--detailed-exitcode").code == 0
    doc["schedules"]["Weeknights"] = {"frequency": "daily", "start": "22:00",
                                      "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"]}
    orders = extract(doc, "datasource", "Sales/Orders")["refresh"]
    pipeline_ids = task_ids_on(cloud_emu, "Sales/Pipeline")
    set_extract(doc, "datasource", "Sales/Pipeline", refresh=[{"schedule": "Weeknights", "type": "full"}])
    set_extract(doc, "datasource", "Sales/Orders", refresh=orders[:1])
    set_extract(doc, "datasource", "Sales/Quotas", refresh=[{"schedule": "Weeknights", "type": "incremental"},
                                                            *extract(doc, "datasource", "Sales/Quotas")["refresh"]])
    file = save(tmp_path, doc)
    planned = cli("plan", file, "--detailed-exitcode")
    assert planned.code == 2, planned.err
    assert '~> task[datasource "Sales/Pipeline"][full @ Weeknights] will be moved' in planned.out
    assert '+ task[datasource "Sales/Quotas"][incremental @ Weeknights] will be created' in planned.out
    assert "will be deleted" in planned.out
    converge(cli, file)
    assert task_ids_on(cloud_emu, "Sales/Pipeline") == pipeline_ids, "a Cloud move is an in-place update"
    assert sum(tasks_on(cloud_emu, "Sales/Quotas").values()) == 1 + len(extract(doc, "datasource", "Sales/Quotas")[
        "refresh"]) - 1


def test_cloud_rejects_server_only_fields(cloud_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    first = next(iter(doc["schedules"]))
    doc["schedules"][first]["priority"] = 10
    result = cli("plan", save(tmp_path, doc))
    assert result.code == 1
    assert "priority" in result.err and "Cloud" in result.err


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_empty_site_full_file_all_creates(flavor: str, cli: Any, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import connect_env
    from tests.e2e.helpers import item_path

    with Emulator(flavor=flavor, seed="synthetic", datasources=12, workbooks=6, tasks=0, schedules=1, projects=4,
                  job_seconds=0.0) as emu:
        connect_env(monkeypatch, emu)
        items = sorted((i.kind, item_path(emu, i.kind, i.id)) for i in emu.store.items.values() if i.has_extracts)
        doc: dict[str, Any] = {
            "version": 1,
            # Server: every 30m, full (REST cannot make incremental tasks there); Cloud: every 1h (its only
            # hourly interval), incremental (Cloud's create takes a type).
            "schedules": {"Nightly": {"frequency": "daily", "start": "02:00"},
                          "Work hours": {"frequency": "hourly", "every": "30m" if flavor == "server" else "1h",
                                         "start": "08:00", "end": "18:00",
                                         "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"]}},
            "extracts": [{kind: path, "refresh": [
                {"schedule": "Nightly"},
                {"schedule": "Work hours", "type": "full" if flavor == "server" else "incremental"}]}
                for kind, path in items],
        }
        file = save(tmp_path, doc)
        planned = cli("plan", file, "--detailed-exitcode")
        assert planned.code == 2, planned.err
        creates = 2 * len(items) + (2 if flavor == "server" else 0)
        assert f"Plan: {creates} to create, 0 to move, 0 to update, 0 to delete." in planned.out
        converge(cli, file, "--parallelism", "8")
        assert sum(1 for t in emu.store.tasks.values()) == 2 * len(items)


def test_apply_expect_digest_applies_only_the_reviewed_plan(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    doc = export_doc(cli, tmp_path)
    set_extract(doc, "datasource", "Sales/Pipeline", refresh=[{"schedule": "Daily 06:00", "type": "full"}])
    file = save(tmp_path, doc)
    reviewed = cli("plan", file, "--format", "json")
    digest = json.loads(reviewed.out)["digest"]
    assert f"Plan digest: {digest}" in reviewed.err and f"--expect-digest {digest}" in reviewed.err

    # The site changes between review and merge: the plan made now differs, and nothing is applied.
    other = doc.copy()
    other["schedules"] = dict(doc["schedules"])
    other["schedules"]["Daily 06:00"] = {**doc["schedules"]["Daily 06:00"], "start": "06:30"}
    assert cli("apply", save(tmp_path, other, "other.yaml"), "--auto-approve").code == 0
    before = writes(server_emu)
    refused = cli("apply", file, "--auto-approve", "--expect-digest", digest)
    assert refused.code == 1 and f"not the reviewed {digest}" in refused.err, refused.err
    assert writes(server_emu) == before

    # Reviewed again: the new digest applies, in any spelling; a second run has nothing to do and says so.
    digest = json.loads(cli("plan", file, "--format", "json").out)["digest"]
    applied = cli("apply", file, "--auto-approve", "--expect-digest", f"sha256:{digest.upper()}")
    assert applied.code == 0, applied.err
    assert "Apply complete: 1 updated" in applied.out  # the schedule back to 06:00 (other.yaml made the move)
    again = cli("apply", file, "--auto-approve", "--expect-digest", digest)
    assert again.code == 0 and "Nothing to apply" in again.err
