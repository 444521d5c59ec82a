"""Recurrence rules and next-run computation (pure functions)."""

from __future__ import annotations

import calendar

import pytest

from reconciler.emulator import EmulatorError
from reconciler.emulator.recurrence import next_run_at, normalize_recurrence


def test_normalises_tsc_forms() -> None:
    rec = normalize_recurrence("Daily", "06:00:00", "18:00:00", [{"hours": "2.0"}], False)
    assert rec.intervals == ((("hours", "2"),),)
    rec = normalize_recurrence("Monthly", "06:00", None, [{"monthDay": "First"}, {"monthDay": "Monday"}], False)
    assert rec.intervals == ((("monthDay", "First"), ("weekDay", "Monday")),)
    rec = normalize_recurrence("Hourly", "06:00:00", "18:00:00", [{"minutes": "60"}], False)
    assert rec.intervals == ((("hours", "1"),),)


@pytest.mark.parametrize(("frequency", "start", "end", "intervals", "cloud"), [
    ("Hourly", "06:00:00", None, [{"hours": "1"}], False),
    ("Hourly", "06:00:00", "18:00:00", [{"hours": "1"}, {"minutes": "30"}], False),
    ("Hourly", "06:00:00", "18:00:00", [{"hours": "2"}, {"weekDay": "Monday"}], True),
    ("Daily", "06:00:00", None, [{"hours": "24"}], True),
    ("Monthly", "06:00:00", None, [{"monthDay": "LastDay"}, {"monthDay": "3"}], False),
    ("Monthly", "06:00:00", None, [{"monthDay": "Second", "weekDay": "Monday"}, {"monthDay": "4"}], False),
    ("Weekly", "06:00:60", None, [{"weekDay": "Monday"}], False),
])
def test_invalid(frequency: str, start: str, end: str | None, intervals: list[dict[str, str]], cloud: bool) -> None:
    with pytest.raises(EmulatorError) as err:
        normalize_recurrence(frequency, start, end, intervals, cloud)
    assert err.value.code == "409004" and err.value.status == 409


def test_next_run() -> None:
    now = calendar.timegm((2024, 3, 1, 12, 0, 0))  # a Friday
    daily = normalize_recurrence("Daily", "02:00:00", None, [], False)
    assert next_run_at(daily, now) == calendar.timegm((2024, 3, 2, 2, 0, 0))
    monday = normalize_recurrence("Weekly", "05:00:00", None, [{"weekDay": "Monday"}], False)
    assert next_run_at(monday, now) == calendar.timegm((2024, 3, 4, 5, 0, 0))
    last = normalize_recurrence("Monthly", "23:00:00", None, [{"monthDay": "LastDay"}], False)
    assert next_run_at(last, now) == calendar.timegm((2024, 3, 31, 23, 0, 0))
    first_monday = normalize_recurrence("Monthly", "06:00:00", None, [{"monthDay": "First", "weekDay": "Monday"}],
                                        False)
    assert next_run_at(first_monday, now) == calendar.timegm((2024, 3, 4, 6, 0, 0))
    hourly = normalize_recurrence("Hourly", "08:00:00", "18:00:00", [{"minutes": "30"}], False)
    assert next_run_at(hourly, now) == calendar.timegm((2024, 3, 1, 12, 30, 0))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from reconciler.emulator.recurrence import WEEKDAYS  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(frequency=st.sampled_from(["Hourly", "Daily", "Weekly", "Monthly"]),
       hour=st.integers(0, 23), minute=st.sampled_from(range(0, 60, 5)), span=st.integers(0, 23),
       every=st.sampled_from(["minutes=15", "minutes=30", "hours=1", "hours=2", "hours=4", "hours=12", "hours=24"]),
       days=st.lists(st.sampled_from(WEEKDAYS), max_size=7), month_day=st.integers(1, 31), cloud=st.booleans())
def test_normalisation_is_idempotent(frequency: str, hour: int, minute: int, span: int, every: str,
                                     days: list[str], month_day: int, cloud: bool) -> None:
    """Whatever is accepted, re-sending what the emulator emits is accepted unchanged."""
    key, value = every.split("=")
    intervals: list[dict[str, str]] = [{"weekDay": d} for d in days]
    if frequency in ("Hourly", "Daily"):
        intervals.append({key: value})
    elif frequency == "Monthly":
        intervals = [{"monthDay": str(month_day)}]
    start = f"{hour:02d}:{minute:02d}:00"
    end = f"{(hour + span) % 24:02d}:{minute:02d}:00"
    try:
        rec = normalize_recurrence(frequency, start, end, intervals, cloud)
    except EmulatorError as err:
        assert err.code == "409004"
        return
    again = normalize_recurrence(rec.frequency, rec.start, rec.end, [dict(i) for i in rec.intervals], cloud)
    assert again == rec
    assert next_run_at(rec, 1_700_000_000) > 1_700_000_000
