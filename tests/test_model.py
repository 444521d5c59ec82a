"""The model's JSON forms decode where they are encoded: ``from_dict`` is ``to_dict``'s inverse."""

from __future__ import annotations

import pytest

from reconciler.model import UNREPORTED, Recurrence, Schedule

RECURRENCES = [
    Recurrence("hourly", "08:00", every=15, end="18:00", weekdays=("monday", "friday")),
    Recurrence("hourly", "00:00", every=240, end="23:45"),
    Recurrence("daily", "02:00"),
    Recurrence("daily", "06:00", every=720, end="20:00", weekdays=("saturday", "sunday")),
    Recurrence("weekly", "06:00", weekdays=("monday", "wednesday")),
    Recurrence("monthly", "03:00", month_days=(1, 15, "last")),
    Recurrence("monthly", "03:00", on=("second", "tuesday")),
    Recurrence("monthly", "03:00", days_unknown=True),
]


@pytest.mark.parametrize("recurrence", RECURRENCES, ids=lambda r: r.describe())
def test_a_recurrence_survives_its_json_form(recurrence: Recurrence) -> None:
    assert Recurrence.from_dict(recurrence.to_dict()) == recurrence


def test_unreported_days_come_back_as_unknown_never_as_days() -> None:
    decoded = Recurrence.from_dict({"frequency": "monthly", "start": "03:00", "month_days": UNREPORTED})
    assert decoded.days_unknown and decoded.month_days == ()


@pytest.mark.parametrize("data", [
    {"start": "02:00"},  # a list-only schedule's value has its frequency only; this has not even that
    {"frequency": "daily"},
    {"frequency": "weekly", "start": "02:00", "weekdays": "monday"},
    {"frequency": "hourly", "start": "02:00", "every": "7 minutes"},
])
def test_anything_else_is_a_value_error(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Recurrence.from_dict(data)


def test_a_schedule_survives_its_flat_json_form() -> None:
    schedule = Schedule("Nightly", Recurrence("daily", "02:00"), priority=20, execution="serial", state="suspended")
    assert Schedule.from_dict("Nightly", schedule.to_dict()) == schedule
