"""Bad input, table-driven: each case runs `reconciler validate` and checks exit 1, file:line:col and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main

HEAD = 'version: 1\n'
DAILY = 'schedules:\n  Nightly:\n    frequency: daily\n    start: "02:00"\n'

# id, {file name: content}, extra CLI arguments, [(location, [words that the message must contain])]
CASES: list[tuple[str, dict[str, str | bytes], list[str], list[tuple[str, list[str]]]]] = [
    ("yaml-syntax", {"a.yaml": HEAD + "schedules:\n  Nightly: [daily\n"}, [],
     [("a.yaml:4:1", ["invalid YAML", "flow sequence at line 3"])]),
    ("unquoted-colon", {"a.yaml": HEAD + "site: a: b\n"}, [],
     [("a.yaml:2:8", ["invalid YAML", "must be quoted"])]),
    ("tab", {"a.yaml": HEAD + "schedules:\n\tNightly:\n"}, [],
     [("a.yaml:3:1", ["tab character", "spaces"])]),
    ("duplicate-key", {"a.yaml": HEAD + DAILY + "    start: \"03:00\"\n"}, [],
     [("a.yaml:6:5", ["duplicate key 'start'", "line 5"])]),
    ("duplicate-top-key", {"a.yaml": HEAD + "site: a\nsite: b\n"}, [],
     [("a.yaml:3:1", ["duplicate key 'site'", "line 2, column 1"])]),
    ("wrong-type-bool", {"a.yaml": HEAD + "extracts:\n  - datasource: Sales/Orders\n    encrypt: maybe\n"}, [],
     [("a.yaml:4:14", ["extracts[0].encrypt must be true or false", '"maybe"'])]),
    ("wrong-type-list", {"a.yaml": HEAD + "extracts: {datasource: Sales/Orders}\n"}, [],
     [("a.yaml:2:11", ["extracts must be a list", "a mapping"])]),
    ("wrong-type-number", {"a.yaml": HEAD + "schedules:\n  N:\n    frequency: daily\n    start: \"02:00\"\n"
                                            "    priority: high\n"}, [],
     [("a.yaml:6:15", ["priority must be a whole number", '"high"'])]),
    ("unknown-key", {"a.yaml": HEAD + 'schedules:\n  N:\n    frequncy: daily\n    start: "02:00"\n'}, [],
     [("a.yaml:4:5", ['unknown key "frequncy"', 'did you mean "frequency"?', "Allowed keys"]),
      ("a.yaml:3:3", ['missing the required key "frequency"'])]),
    ("unknown-top-key", {"a.yaml": HEAD + "extract: []\n"}, [],
     [("a.yaml:2:1", ['unknown key "extract"', 'did you mean "extracts"?'])]),
    ("missing-version", {"a.yaml": "site: finance\n"}, [],
     [("a.yaml:1:1", ['missing the required key "version"'])]),
    ("version-2", {"a.yaml": "version: 2\n"}, [],
     [("a.yaml:1:10", ["version must be 1", "not 2"])]),
    ("enum", {"a.yaml": HEAD + 'schedules:\n  N:\n    frequency: dayly\n    start: "02:00"\n'}, [],
     [("a.yaml:4:16", ['"dayly" is not allowed', 'did you mean "daily"?', "hourly, daily, weekly, monthly"])]),
    ("hour-25", {"a.yaml": HEAD + 'schedules:\n  N:\n    frequency: daily\n    start: "25:00"\n'}, [],
     [("a.yaml:5:12", ['"25:00" is not a time of day', "00:00 to 23:55"])]),
    ("unquoted-hour-25", {"a.yaml": HEAD + 'schedules:\n  N:\n    frequency: daily\n    start: 25:00\n'}, [],
     [("a.yaml:5:12", ['"25:00" is not a time of day'])]),
    ("minute-07", {"a.yaml": HEAD + 'schedules:\n  N:\n    frequency: daily\n    start: "02:07"\n'}, [],
     [("a.yaml:5:12", ['"02:07" is not on a 5-minute step', '"02:05" or "02:10"'])]),
    ("hourly-no-end", {"a.yaml": HEAD + 'schedules:\n  H:\n    frequency: hourly\n    start: "08:00"\n'}, [],
     [("a.yaml:3:3", ["an hourly schedule needs end:", 'schedule "H"'])]),
    ("hourly-end-minutes", {"a.yaml": HEAD + 'schedules:\n  H:\n    frequency: hourly\n    start: "08:00"\n'
                                             '    end: "18:30"\n'}, [],
     [("a.yaml:6:5", ['end: "18:30" must have the same minutes as start: "08:00"', 'use "18:00"'])]),
    ("hourly-end-equals-start", {"a.yaml": HEAD + 'schedules:\n  H:\n    frequency: hourly\n    start: "08:00"\n'
                                                  '    end: "08:00"\n'}, [],
     [("a.yaml:6:5", ["is the same time as start", "after midnight"])]),
    ("monthly-last-combined", {"a.yaml": HEAD + 'schedules:\n  M:\n    frequency: monthly\n    start: "08:00"\n'
                                                '    month_days: [1, 15, last]\n'}, [],
     [("a.yaml:6:5", ["last cannot be combined", "409004"])]),
    ("hourly-every-45m", {"a.yaml": HEAD + 'schedules:\n  H:\n    frequency: hourly\n    every: 45m\n'
                                           '    start: "08:00"\n    end: "18:00"\n'}, [],
     [("a.yaml:5:5", ["every: 45m is not an interval", "15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h"])]),
    ("daily-every-3h", {"a.yaml": HEAD + 'schedules:\n  D:\n    frequency: daily\n    every: 3h\n'
                                         '    start: "06:00"\n    end: "18:00"\n'}, [],
     [("a.yaml:5:5", ["every: 3h is not an interval", "daily", "2h, 4h, 6h, 8h, 12h, 24h"])]),
    ("daily-every-4h-no-end", {"a.yaml": HEAD + 'schedules:\n  D:\n    frequency: daily\n    every: 4h\n'
                                                '    start: "06:00"\n'}, [],
     [("a.yaml:3:3", ["a daily schedule that runs every 4h needs end:"])]),
    ("daily-once-with-end", {"a.yaml": HEAD + 'schedules:\n  D:\n    frequency: daily\n    start: "06:00"\n'
                                              '    end: "18:00"\n'}, [],
     [("a.yaml:6:5", ["end: applies only to a daily schedule that runs more than once a day"])]),
    ("weekly-no-weekdays", {"a.yaml": HEAD + 'schedules:\n  W:\n    frequency: weekly\n    start: "06:00"\n'}, [],
     [("a.yaml:4:5", ["a weekly schedule needs weekdays:"])]),
    ("weekly-several-days-cloud", {"a.yaml": HEAD + 'flavor: cloud\nschedules:\n  W:\n    frequency: weekly\n'
                                                    '    start: "06:00"\n    weekdays: [monday, friday]\n'}, [],
     [("a.yaml:7:5", ["exactly one weekday", 'schedule "W"', "monday, friday"])]),
    ("weekly-several-days-cloud-flag", {"a.yaml": HEAD + 'schedules:\n  W:\n    frequency: weekly\n'
                                                         '    start: "06:00"\n    weekdays: [monday, friday]\n'},
     ["--flavor", "cloud"], [("a.yaml:6:5", ["exactly one weekday"])]),
    ("hourly-every-4h-cloud", {"a.yaml": HEAD + 'flavor: cloud\nschedules:\n  H:\n    frequency: hourly\n'
                                                '    every: 4h\n    start: "00:00"\n    end: "20:00"\n'}, [],
     [("a.yaml:4:3", ["every 60 minutes only", "frequency: daily with every: 4h"])]),
    # Cloud's hourly runs every 60 minutes only: 15m and 30m are Tableau Server only (ledger: "Cloud hourly").
    ("hourly-every-30m-cloud", {"a.yaml": HEAD + 'flavor: cloud\nschedules:\n  H:\n    frequency: hourly\n'
                                                 '    every: 30m\n    start: "08:00"\n    end: "18:00"\n'}, [],
     [("a.yaml:4:3", ["every 60 minutes only", "every 30m", "Tableau Server only", "every: 1h"])]),
    ("referenced-and-declared", {"a.yaml": HEAD + 'schedules:\n  N:\n    frequency: daily\n    start: "02:00"\n'
                                                  'referenced_schedules: [N]\n'}, [],
     [("a.yaml:6:24", ["referenced_schedules:", "also declared", "a.yaml:3:3"])]),
    ("referenced-on-cloud", {"a.yaml": HEAD + 'flavor: cloud\nreferenced_schedules: [Nightly]\n'}, [],
     [("a.yaml:3:24", ["Tableau Cloud has no server schedules"])]),
    ("monthly-day-32", {"a.yaml": HEAD + 'schedules:\n  M:\n    frequency: monthly\n    start: "06:00"\n'
                                         '    month_days: [1, 32]\n'}, [],
     [("a.yaml:6:21", ["32 is not valid", "1..31 or last"])]),
    ("monthly-sixth", {"a.yaml": HEAD + 'schedules:\n  M:\n    frequency: monthly\n    start: "06:00"\n'
                                        '    on: {occurrence: sixth, weekday: monday}\n'}, [],
     [("a.yaml:6:22", ['"sixth" is not allowed', "first, second, third, fourth, fifth, last"])]),
    ("monthly-neither", {"a.yaml": HEAD + 'schedules:\n  M:\n    frequency: monthly\n    start: "06:00"\n'}, [],
     [("a.yaml:4:5", ["a monthly schedule needs month_days:", "or on:"])]),
    ("monthly-both", {"a.yaml": HEAD + 'schedules:\n  M:\n    frequency: monthly\n    start: "06:00"\n'
                                       '    month_days: [1]\n    on: {occurrence: first, weekday: monday}\n'}, [],
     [("a.yaml:7:5", ["month_days: or on:, not both"])]),
    ("unknown-schedule", {"a.yaml": HEAD + DAILY + "extracts:\n  - datasource: Sales/Orders\n    refresh:\n"
                                                   "      - schedule: Nightly 2\n"}, [],
     [("a.yaml:9:19", ['the schedule "Nightly 2" is not declared', 'did you mean "Nightly"?'])]),
    ("item-twice", {"a.yaml": HEAD + "extracts:\n  - datasource: Sales/Orders\n  - datasource: Sales/Orders\n"}, [],
     [("a.yaml:4:5", ['the datasource "Sales/Orders" is declared twice', "a.yaml:3:5"])]),
    ("item-twice-two-forms", {"a.yaml": HEAD + "extracts:\n  - workbook: Sales/EMEA/Board\n"
                                               "  - workbook: {project: Sales/EMEA, name: Board}\n"}, [],
     [("a.yaml:4:5", ['the workbook "Sales/EMEA/Board" is declared twice', "a.yaml:3:5"])]),
    ("schedule-two-files", {"a.yaml": HEAD + DAILY, "b.yaml": HEAD + DAILY}, [],
     [("b.yaml:3:3", ['the schedule "Nightly" is declared twice', "a.yaml:3:3"])]),
    ("setting-two-files", {"a.yaml": HEAD + "site: finance\n", "b.yaml": HEAD + "site: sales\n"}, [],
     [("b.yaml:2:7", ['site is "sales" here but "finance" at a.yaml:2:7'])]),
    ("missing-variable", {"a.yaml": HEAD + "server: ${RECONCILER_TEST_UNSET_VARIABLE}\n"}, [],
     [("a.yaml:2:9", ["RECONCILER_TEST_UNSET_VARIABLE is not set", "$${"])]),
    ("empty-file", {"a.yaml": ""}, [], [("a.yaml:1:1", ["the file is empty", "version: 1"])]),
    ("comments-only", {"a.yaml": "# nothing yet\n"}, [], [("a.yaml:1:1", ["the file is empty"])]),
    ("yaml-list", {"a.yaml": "- version: 1\n"}, [], [("a.yaml:1:1", ["the top level of the file is a list"])]),
    ("yaml-scalar", {"a.yaml": "hello\n"}, [], [("a.yaml:1:1", ["the top level of the file is a single value"])]),
    ("binary", {"a.yaml": b"version: 1\n\x00\x01\x02"}, [], [("a.yaml:2:1", ["binary file", "NUL"])]),
    ("not-utf8", {"a.yaml": b"version: 1\nsite: caf\xe9\n"}, [], [("a.yaml:2:10", ["not UTF-8", "0xe9"])]),
    ("huge", {"a.yaml": b"version: 1\n" + b"#" * (10 * 1024 * 1024)}, [],
     [("a.yaml:1:1", ["10.0 MB", "up to 5 MB", "Split it"])]),
    ("several-documents", {"a.yaml": HEAD + "---\n" + HEAD}, [], [("a.yaml:2:1", ["several documents"])]),
    ("priority-on-cloud", {"a.yaml": HEAD + "flavor: cloud\n" + DAILY + "    priority: 10\n"}, [],
     [("a.yaml:7:5", ["priority: is Tableau Server only", 'schedule "Nightly"'])]),
    ("inline-on-server", {"a.yaml": HEAD + "flavor: server\nextracts:\n  - workbook: Finance/Board Pack\n"
                                           "    refresh:\n      - frequency: weekly\n        start: \"06:00\"\n"
                                           "        weekdays: [monday]\n"}, [],
     [("a.yaml:6:9", ["inline recurrence", "Tableau Cloud only", "Declare it under schedules: and name it"])]),
    ("inline-on-server-flag", {"a.yaml": HEAD + "extracts:\n  - workbook: Finance/Board Pack\n"
                                                "    refresh:\n      - {frequency: daily, start: \"06:00\"}\n"},
     ["--flavor", "server"], [("a.yaml:5:9", ["Tableau Cloud only"])]),
    ("task-schedule-and-recurrence", {"a.yaml": HEAD + DAILY + "extracts:\n  - datasource: S/O\n    refresh:\n"
                                                               "      - {schedule: Nightly, frequency: daily}\n"}, [],
     [("a.yaml:9:9", ["either schedule:", "not both"])]),
    ("task-twice", {"a.yaml": HEAD + DAILY + "extracts:\n  - datasource: S/O\n    refresh:\n"
                                             "      - schedule: Nightly\n      - schedule: Nightly\n"}, [],
     [("a.yaml:10:9", ["is the same as the one at a.yaml:9:9"])]),
    ("encrypt-mode-disabled", {"a.yaml": HEAD + "encryption: {mode: disabled}\nextracts:\n"
                                                "  - datasource: S/O\n    encrypt: true\n"}, [],
     [("a.yaml:5:5", ["encrypt: true", "enabled or enforced", "a.yaml:2:20"])]),
    ("item-without-project", {"a.yaml": HEAD + "extracts:\n  - datasource: Orders\n"}, [],
     [("a.yaml:3:17", ['"Orders" is not valid', '"project/name"'])]),
    ("item-both-kinds", {"a.yaml": HEAD + "extracts:\n  - {datasource: S/O, workbook: S/W}\n"}, [],
     [("a.yaml:3:5", ["exactly one of datasource: or workbook:"])]),
    ("ignore-unknown-field", {"a.yaml": HEAD + "policy:\n  ignore: [schedule.prio]\n"}, [],
     [("a.yaml:3:12", ['"schedule.prio" is not allowed', 'did you mean "schedule.priority"?'])]),
    ("bad-flavor-flag", {"a.yaml": HEAD}, ["--flavor", "onprem"], [("", ["--flavor must be server or cloud"])]),
    ("missing-path", {}, ["nowhere.yaml"], [("", ["nowhere.yaml: no such file or directory"])]),
    ("deep-nesting", {"a.yaml": "[" * 50_000}, [], [("a.yaml:1:1", ["nested too deeply"])]),
    ("alias-bomb", {"a.yaml": HEAD + 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))}, [],
     [("a.yaml:2:43", ["expands to more than 2,000,000 values", "aliases"])]),
    ("custom-tag", {"a.yaml": HEAD + "site: !secret finance\n"}, [],
     [("a.yaml:2:7", ["tag !secret is not supported"])]),
]


def _write(tmp_path: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize(("files", "args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(files: dict[str, str | bytes], args: list[str], expected: list[tuple[str, list[str]]],
                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_TEST_UNSET_VARIABLE", raising=False)
    _write(tmp_path, files)
    paths = sorted(files) if not any(not a.startswith("-") and a.endswith(".yaml") for a in args) else []
    code = main(["validate", *paths, *args])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert out == ""
    assert err.startswith("Error: ")
    lines = err.replace("Error: ", "", 1).splitlines()
    for location, words in expected:
        matching = [line for line in lines if line.startswith(f"{location}: ")] if location else lines
        assert matching, f"no problem at {location!r} in:\n{err}"
        assert any(all(word in line for word in words) for line in matching), f"{words} not in:\n{err}"


def test_every_problem_is_reported_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, {"a.yaml": HEAD + 'schedules:\n  A:\n    frequency: daily\n    start: "25:00"\n'
                                       '  B:\n    frequency: hourly\n    start: "08:00"\n',
                      "b.yaml": "version: 3\n"})
    assert main(["validate", "a.yaml", "b.yaml"]) == 1
    err = capsys.readouterr().err
    assert "a.yaml:5:12: " in err and "a.yaml:6:3: " in err and "b.yaml:1:10: " in err
    assert err.rstrip().endswith("3 problems found; nothing was sent to any server.")


def test_problems_are_capped_at_fifty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    body = "".join(f'  S{i}:\n    frequency: daily\n    start: "02:07"\n' for i in range(60))
    _write(tmp_path, {"a.yaml": HEAD + "schedules:\n" + body})
    assert main(["validate", "a.yaml"]) == 1
    err = capsys.readouterr().err
    assert "... and 10 more problems" in err
    assert "60 problems found" in err
