"""One truth for what Tableau refuses: every case runs through ``validate`` (offline) and a real create on the emulator.

The emulator imitates Tableau (docs/tableau-behaviour.md, "Schedule rules validate and the emulator share");
``validate`` must refuse exactly what it refuses, so that nothing plans cleanly and then fails at apply, and
nothing Tableau accepts (windows that cross midnight) is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import tableauserverclient as TSC
import yaml

from reconciler.desired import load_desired
from reconciler.emulator import Emulator
from reconciler.errors import DesiredStateInvalid
from reconciler.model import Recurrence
from reconciler.tableau import wire

from .helpers import site_id, writes

#: (schedule as written in a file, accepted by Tableau?, the words validate's refusal must contain)
CASES: list[tuple[dict[str, Any], bool, str]] = [
    ({"frequency": "hourly", "start": "08:00", "end": "18:00"}, True, ""),
    ({"frequency": "hourly", "start": "18:00", "end": "00:00"}, True, ""),
    ({"frequency": "hourly", "start": "22:00", "end": "06:00"}, True, ""),
    ({"frequency": "hourly", "every": "30m", "start": "22:30", "end": "02:30"}, True, ""),
    ({"frequency": "daily", "every": "2h", "start": "20:00", "end": "04:00"}, True, ""),
    ({"frequency": "daily", "every": "4h", "start": "18:00", "end": "00:00"}, True, ""),
    ({"frequency": "hourly", "start": "08:00", "end": "18:30"}, False, "same minutes"),
    ({"frequency": "monthly", "start": "07:00", "month_days": [1, 15]}, True, ""),
    ({"frequency": "monthly", "start": "07:00", "month_days": ["last"]}, True, ""),
    ({"frequency": "monthly", "start": "07:00", "month_days": [1, 15, "last"]}, False, "last"),
    ({"frequency": "monthly", "start": "07:00", "month_days": ["last", 28]}, False, "last"),
]


def _validate(tmp_path: Path, body: dict[str, Any]) -> str | None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "schedules": {"S": body}}), encoding="utf-8")
    try:
        load_desired([path], flavor="server")
    except DesiredStateInvalid as error:
        return str(error)
    return None


def _create(emu: Emulator, name: str, body: dict[str, Any], type_: str = "Extract") -> tuple[int, str]:
    """POST /schedules with the body apply sends (reconciler's own wire serialiser), through TSC's session."""
    server = TSC.Server(emu.url, use_server_version=True)
    server.auth.sign_in(TSC.PersonalAccessTokenAuth(emu.pat_name, emu.pat_secret, ""))
    frequency, details = wire.recurrence_xml(Recurrence.from_dict(body), cloud=False)
    xml = (f'<tsRequest><schedule name="{name}" priority="50" executionOrder="Parallel" type="{type_}" '
           f'frequency="{frequency}">{details}</schedule></tsRequest>')
    answer = requests.post(f"{server.baseurl}/schedules", data=xml.encode(), timeout=10,
                           headers={"X-Tableau-Auth": server.auth_token, "Content-Type": "application/xml"})
    return answer.status_code, answer.text


@pytest.mark.parametrize(("body", "accepted", "words"), CASES, ids=[str(c[0]) for c in CASES])
def test_validate_and_the_emulator_agree(tmp_path: Path, body: dict[str, Any], accepted: bool, words: str) -> None:
    refusal = _validate(tmp_path, body)
    with Emulator(flavor="server", seed="empty", job_seconds=0.0) as emu:
        status, text = _create(emu, "S", body)
    assert (status == 201) is accepted, text
    if accepted:
        assert refusal is None
    else:
        assert status == 409 and "409004" in text
        assert refusal is not None and words in refusal


def test_names_that_differ_only_in_case_are_one_name_to_tableau(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nschedules:\n  Nightly:\n    frequency: daily\n    start: '02:00'\n"
                    "  nightly:\n    frequency: daily\n    start: '03:00'\n", encoding="utf-8")
    with pytest.raises(DesiredStateInvalid) as error:
        load_desired([path])
    assert "differ only in case" in str(error.value) and "s.yaml:6:3" in str(error.value)
    with Emulator(flavor="server", seed="empty", job_seconds=0.0) as emu:
        assert _create(emu, "Nightly", {"frequency": "daily", "start": "02:00"})[0] == 201
        status, text = _create(emu, "nightly", {"frequency": "daily", "start": "03:00"})
    assert status == 409 and "409021" in text


def test_a_subscription_schedule_name_is_taken_for_extract_schedules_too() -> None:
    with Emulator(flavor="server", seed="empty", job_seconds=0.0) as emu:
        assert _create(emu, "Morning", {"frequency": "daily", "start": "07:00"}, "Subscription")[0] == 201
        status, text = _create(emu, "Morning", {"frequency": "daily", "start": "02:00"})
        assert status == 409 and "409021" in text
        assert site_id(emu)  # the Default site exists: the refusal is about the name, not the site


@pytest.mark.parametrize(("name", "words"), [
    ("Weekday Morning Subscriptions", 'a Subscription schedule named "Weekday Morning Subscriptions"'),
    ("nightly 02:00", 'an Extract schedule named "Nightly 02:00"'),
])
def test_plan_refuses_a_schedule_name_the_server_already_has(server_emu: Emulator, cli: Any, tmp_path: Path,
                                                             name: str, words: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "schedules": {name: {"frequency": "daily", "start": "04:00"}}}),
                    encoding="utf-8")
    before = writes(server_emu)
    result = cli("plan", path)
    assert result.code == 1, result.out + result.err
    assert words in result.err and "409021" in result.err and "s.yaml:2" in result.err
    result = cli("apply", path, "--auto-approve")
    assert result.code == 1 and writes(server_emu) == before
