"""Issue 15, section 1: which files are read (symlinks, hidden directories) and ``${VAR}`` in keys and values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.desired import load_desired
from reconciler.errors import DesiredStateInvalid

SCHEDULE = 'version: 1\nschedules:\n  Nightly:\n    frequency: daily\n    start: "02:00"\n'
USES = "version: 1\nextracts:\n  - datasource: Sales/Orders\n    refresh:\n      - schedule: Nightly\n"


def _layout(root: Path) -> Path:
    """config/schedules.yaml and config/projects -> ../real_projects (a symlinked directory)."""
    config = root / "config"
    config.mkdir()
    (config / "schedules.yaml").write_text(SCHEDULE)
    real = root / "real_projects"
    real.mkdir()
    (real / "sales.yaml").write_text(USES)
    (config / "projects").symlink_to(real, target_is_directory=True)
    return config


def test_a_symlinked_directory_is_followed(tmp_path: Path) -> None:
    desired = load_desired([_layout(tmp_path)])
    assert [e.ref.path for e in desired.extracts] == ["Sales/Orders"]
    assert len(desired.files) == 2


def test_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    config = _layout(tmp_path)
    (tmp_path / "real_projects" / "back").symlink_to(config, target_is_directory=True)
    with pytest.raises(DesiredStateInvalid, match="symlink loop"):
        load_desired([config])


def test_a_broken_symlink_is_a_warning(tmp_path: Path) -> None:
    config = _layout(tmp_path)
    (config / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    desired = load_desired([config])
    assert any("gone.yaml is a broken symlink" in note for note in desired.notes)


def test_hidden_directories_are_skipped(tmp_path: Path) -> None:
    config = _layout(tmp_path)
    (config / ".git").mkdir()
    (config / ".git" / "bad.yaml").write_text("not: [valid")
    desired = load_desired([config])
    assert not any(".git" in f for f in desired.files)


def test_variables_are_replaced_in_keys(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text('version: 1\nschedules:\n  ${TEAM} Nightly:\n    frequency: daily\n    start: "02:00"\n')
    desired = load_desired([path], env={"TEAM": "Finance"})
    assert [s.name for s in desired.schedules] == ["Finance Nightly"]
    with pytest.raises(DesiredStateInvalid, match="TEAM is not set"):
        load_desired([path], env={})


def test_a_replaced_value_stays_the_text_it_was(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("version: 1\nsite: ${SITE}\nschedules:\n  Nightly:\n    frequency: daily\n    start: ${START}\n"
                    "policy:\n  max_deletes: ${MAX}\n")
    # 0200 is neither YAML 1.1's octal 128 nor 200: it stays "0200", and is then refused as a time of day.
    with pytest.raises(DesiredStateInvalid) as error:
        load_desired([path], env={"START": "0200", "SITE": "0123", "MAX": "25"})
    assert "'0200'" in str(error.value) or '"0200"' in str(error.value)
    desired = load_desired([path], env={"START": "02:00", "SITE": "0123", "MAX": "25"})
    assert desired.site == "0123" and desired.policy.max_deletes == 25


def test_weekday_suggestions_ignore_case(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text('version: 1\nschedules:\n  W:\n    frequency: weekly\n    start: "02:00"\n'
                    "    weekdays: [TUESDAY]\n")
    with pytest.raises(DesiredStateInvalid, match='did you mean "tuesday"'):
        load_desired([path])


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_validate_with_config_checks_the_whole_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli import main

    config = tmp_path / "tableau"
    config.mkdir()
    (config / "schedules.yaml").write_text(SCHEDULE)
    (config / "sales.yaml").write_text(USES)
    monkeypatch.chdir(tmp_path)
    # pre-commit passes only the changed file: alone, its schedule is "not declared".
    assert main(["validate", "tableau/sales.yaml"]) == 1
    assert main(["validate", "--config", "tableau", "tableau/sales.yaml"]) == 0
    assert "2 files" in capsys.readouterr().out
