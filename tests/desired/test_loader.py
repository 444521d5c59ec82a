"""load_desired and for_flavor: normalisation, merging, item refs, interpolation, Cloud inlining."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.desired import for_flavor, load_desired
from reconciler.errors import DesiredStateInvalid
from reconciler.model import WEEKDAYS, ItemRef, Recurrence, Source


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("version: 1\n" + text, encoding="utf-8")
    return path


def messages(error: pytest.ExceptionInfo[DesiredStateInvalid]) -> list[str]:
    return [str(p) for p in error.value.problems]


def test_times_and_intervals_normalise(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", 'schedules:\n  X:\n    frequency: hourly\n    every: 60m\n'
                                  '    start: "8:00"\n    end: 18:00\n    weekdays: [friday, monday]\n')
    b = write(tmp_path, "b.yaml", 'schedules:\n  X:\n    frequency: hourly\n    every: 1h\n'
                                  '    start: "08:00"\n    end: "18:00:00"\n    weekdays: [monday, friday]\n')
    x, y = load_desired([a]).schedules[0], load_desired([b]).schedules[0]
    assert x == y
    assert x.recurrence == Recurrence("hourly", "08:00", every=60, end="18:00", weekdays=("monday", "friday"))
    assert x.recurrence.weekdays == ("monday", "friday")


def test_defaults_are_filled_in(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'schedules:\n  N:\n    frequency: daily\n    start: "2:00"\n'
                                     "extracts:\n  - datasource: S/O\n    refresh:\n      - schedule: N\n")
    desired = load_desired([path])
    schedule = desired.schedules[0]
    assert (schedule.priority, schedule.execution, schedule.state) == (50, "parallel", "active")
    assert schedule.recurrence.every == 1440 and schedule.recurrence.weekdays == WEEKDAYS
    assert schedule.recurrence.start == "02:00"
    assert desired.extracts[0].refresh is not None and desired.extracts[0].refresh[0].type == "full"
    assert desired.extracts[0].encrypt is None
    assert desired.policy.max_deletes == 50 and desired.policy.prune is False
    assert desired.flavor is None


def test_item_refs(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "extracts:\n  - datasource: Sales/EMEA/Orders\n"
                                     "  - workbook: {project: Sales/EMEA, name: A/B Test}\n"
                                     "  - datasource: {id: 9f6c5d3e-0000-4000-8000-000000000001}\n"
                                     "  - workbook: { project: ' Sales ', name: Board }\n")
    refs = [e.ref for e in load_desired([path]).extracts]
    assert refs == [ItemRef("datasource", ("Sales", "EMEA"), "Orders"),
                    ItemRef("workbook", ("Sales", "EMEA"), "A/B Test", as_path=False),
                    ItemRef("datasource", id="9f6c5d3e-0000-4000-8000-000000000001"),
                    ItemRef("workbook", (" Sales ",), "Board", as_path=False)]  # exact: nothing stripped


def test_refresh_absent_empty_and_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "extracts:\n  - datasource: S/A\n  - datasource: S/B\n    refresh: []\n")
    a, b = load_desired([path]).extracts
    assert a.refresh is None and b.refresh == ()


def test_sources_point_at_the_declarations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.yaml", 'encryption:\n  mode: enabled\nschedules:\n  N:\n    frequency: daily\n'
                              '    start: "02:00"\nextracts:\n  - datasource: S/O\n    refresh:\n'
                              "      - schedule: N\npolicy:\n  protect:\n    - schedule: N\n")
    desired = load_desired([tmp_path / "a.yaml"])
    assert desired.files == ("a.yaml",)
    assert desired.encryption_source == Source("a.yaml", 3, 9)
    assert desired.schedules[0].source == Source("a.yaml", 5, 3)
    assert desired.extracts[0].source == Source("a.yaml", 9, 5)
    assert desired.extracts[0].refresh is not None
    assert desired.extracts[0].refresh[0].source == Source("a.yaml", 11, 9)
    assert desired.policy.protect[0].source == Source("a.yaml", 14, 7)


def test_directories_merge_sorted_and_recursive(tmp_path: Path) -> None:
    write(tmp_path, "site.yaml", 'site: finance\nflavor: server\nschedules:\n  N:\n    frequency: daily\n'
                                 '    start: "02:00"\npolicy:\n  scope: {projects: [Sales, Sales/EMEA]}\n'
                                 "  protect: [{schedule: N}]\n")
    write(tmp_path, "projects/b.yml", "extracts:\n  - datasource: B/X\n    refresh: [{schedule: N}]\n"
                                      "policy:\n  protect: [{schedule: N}, {datasource: B/X}]\n")
    write(tmp_path, "projects/a.yaml", "site: finance\nextracts:\n  - datasource: A/X\n")
    (tmp_path / "notes.txt").write_text("not yaml")
    desired = load_desired([tmp_path])
    assert [Path(f).name for f in desired.files] == ["a.yaml", "b.yml", "site.yaml"]
    assert [e.ref.path for e in desired.extracts] == ["A/X", "B/X"]
    assert desired.site == "finance" and desired.flavor == "server"
    assert desired.policy.scope == (("Sales",), ("Sales", "EMEA"))
    assert [(r.kind, r.name) for r in desired.policy.protect] == [("schedule", "N"), ("datasource", "B/X")]


def test_flavor_argument_overrides_the_files(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'flavor: server\nschedules:\n  N:\n    frequency: daily\n    start: "02:00"\n'
                                     "extracts:\n  - datasource: S/O\n    refresh: [{schedule: N}]\n")
    assert load_desired([path], flavor="cloud").flavor == "cloud"
    with pytest.raises(DesiredStateInvalid, match="must be server or cloud"):
        load_desired([path], flavor="tableau")


def test_cloud_inlines_templates(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'schedules:\n  N:\n    frequency: daily\n    start: "02:00"\n'
                                     "extracts:\n  - datasource: S/O\n    refresh:\n      - schedule: N\n"
                                     '      - {type: incremental, frequency: weekly, start: "06:00", '
                                     "weekdays: [monday]}\n")
    desired = load_desired([path])
    assert desired.extracts[0].refresh is not None
    assert desired.extracts[0].refresh[0].recurrence is None
    cloud = for_flavor(desired, "cloud")
    assert cloud.flavor == "cloud"
    named, inline = cloud.extracts[0].refresh or ()
    assert named.schedule == "N" and named.recurrence == Recurrence("daily", "02:00")
    assert named.when() == "N"
    assert inline.schedule is None and inline.recurrence == Recurrence("weekly", "06:00", weekdays=("monday",))
    assert load_desired([path], flavor="cloud") == cloud
    with pytest.raises(DesiredStateInvalid, match="the files say flavor: cloud, but the site is Tableau Server"):
        for_flavor(cloud, "server")
    with pytest.raises(DesiredStateInvalid, match="Tableau Cloud only"):
        for_flavor(replace(cloud, flavor=None), "server")


def test_server_keeps_schedule_names(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'schedules:\n  N:\n    frequency: daily\n    start: "02:00"\n    priority: 10\n'
                                     "extracts:\n  - datasource: S/O\n    refresh: [{schedule: N}]\n")
    server = for_flavor(load_desired([path]), "server")
    assert server.flavor == "server"
    assert server.extracts[0].refresh is not None
    assert server.extracts[0].refresh[0].schedule == "N" and server.extracts[0].refresh[0].recurrence is None


def test_for_flavor_checks_the_platform(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'schedules:\n  N:\n    frequency: daily\n    start: "02:00"\n'
                                     '    priority: 10\n  W:\n    frequency: weekly\n    start: "02:00"\n'
                                     "    weekdays: [monday, friday]\n")
    desired = load_desired([path])
    with pytest.raises(DesiredStateInvalid) as error:
        for_flavor(desired, "cloud")
    found = messages(error)
    assert any("priority: is Tableau Server only" in m for m in found)
    assert any("exactly one weekday" in m for m in found)
    with pytest.raises(DesiredStateInvalid, match="must be server or cloud"):
        for_flavor(desired, "onprem")
    with pytest.raises(DesiredStateInvalid, match="the files say flavor: server"):
        for_flavor(for_flavor(desired, "server"), "cloud")


def test_interpolation(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "server: https://${HOST}/x\nsite: $${literal}\npolicy:\n"
                                     "  max_deletes: ${MAX}\n  prune: ${PRUNE}\n")
    desired = load_desired([path], env={"HOST": "tableau.example.com", "MAX": "7", "PRUNE": "true"})
    assert desired.server == "https://tableau.example.com/x"
    assert desired.site == "${literal}"
    assert desired.policy.max_deletes == 7 and desired.policy.prune is True
    with pytest.raises(DesiredStateInvalid) as error:
        load_desired([path], env={"HOST": "h"})
    found = messages(error)
    assert any("MAX is not set" in m for m in found) and any("PRUNE is not set" in m for m in found)


def test_interpolation_keeps_quoted_values_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'site: "${SITE}"\n')
    assert load_desired([path], env={"SITE": "123"}).site == "123"


def test_malformed_reference(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "site: ${not valid}\n")
    with pytest.raises(DesiredStateInvalid, match=r"malformed \$\{"):
        load_desired([path], env={})


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'x-base: &base\n  frequency: daily\n  start: "02:00"\nschedules:\n'
                                     "  A: *base\n  B:\n    <<: *base\n    start: \"03:00\"\n")
    a, b = load_desired([path]).schedules
    assert a.recurrence.start == "02:00" and b.recurrence.start == "03:00"


def test_duplicate_in_merged_keys_is_not_an_error_but_explicit_duplicates_are(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'schedules:\n  A:\n    frequency: daily\n    start: "02:00"\n'
                                     '    frequency: daily\n')
    with pytest.raises(DesiredStateInvalid, match="duplicate key 'frequency'"):
        load_desired([path])


def test_same_setting_in_two_files_is_fine_when_equal(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "site: s\nencryption: {mode: enabled}\n")
    write(tmp_path, "b.yaml", "site: s\nencryption: {mode: enabled}\n")
    desired = load_desired([tmp_path])
    assert desired.encryption_mode == "enabled" and desired.site == "s"


def test_encryption_conflict_names_both_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.yaml", "encryption: {mode: enabled}\n")
    write(tmp_path, "b.yaml", "encryption: {mode: enforced}\n")
    with pytest.raises(DesiredStateInvalid) as error:
        load_desired(["a.yaml", "b.yaml"])
    assert messages(error) == ['b.yaml:2:20: encryption.mode is "enforced" here but "enabled" at a.yaml:2:20; '
                               "declare it once."]


def test_encrypt_false_under_enforced(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "encryption: {mode: enforced}\nextracts:\n  - datasource: S/O\n"
                                     "    encrypt: false\n")
    with pytest.raises(DesiredStateInvalid, match="encrypt: false on datasource \"S/O\" cannot hold"):
        load_desired([path])


def test_protecting_an_undeclared_schedule_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "policy:\n  protect:\n    - schedule: Lives Only On The Server\n")
    assert load_desired([path]).policy.protect[0].name == "Lives Only On The Server"


def test_absolute_paths_inside_the_cwd_are_shown_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "sub/a.yaml", "site: [x]\n")
    with pytest.raises(DesiredStateInvalid) as error:
        load_desired([path.resolve()])
    assert messages(error)[0].startswith("sub/a.yaml:2:7: site must be text")


def test_no_files(tmp_path: Path) -> None:
    with pytest.raises(DesiredStateInvalid, match="holds no"):
        load_desired([tmp_path])
    with pytest.raises(DesiredStateInvalid, match="no files given"):
        load_desired([])


def test_server_drops_inlined_recurrences(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'schedules:\n  N:\n    frequency: daily\n    start: "02:00"\n'
                                     "extracts:\n  - datasource: S/O\n    refresh: [{schedule: N}]\n")
    desired = load_desired([path])
    cloud = for_flavor(desired, "cloud")
    assert cloud.extracts[0].refresh is not None and cloud.extracts[0].refresh[0].recurrence is not None
    server = for_flavor(replace(cloud, flavor=None), "server")
    assert server.extracts == desired.extracts
    assert server.extracts[0].refresh is not None and server.extracts[0].refresh[0].recurrence is None


def test_validate_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli import main

    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.yaml", 'schedules:\n  N:\n    frequency: daily\n    start: "02:00"\n'
                              "extracts:\n  - datasource: S/O\n"
                              "    refresh: [{schedule: N}, {schedule: N, type: incremental}]\n")
    assert main(["validate", "a.yaml"]) == 0
    assert capsys.readouterr().out == ("1 file: 1 schedule, 1 item, 2 refresh tasks (flavor: not set — rules common "
                                       "to Server and Cloud checked; plan checks the rest)\n")
    assert main(["validate", ".", "--flavor", "cloud"]) == 0
    assert capsys.readouterr().out == "1 file: 1 schedule, 1 item, 2 refresh tasks (flavor: cloud)\n"
    assert main(["validate", "a.yaml", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
