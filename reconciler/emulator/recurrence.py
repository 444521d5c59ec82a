"""Recurrences (a schedule's frequency and frequencyDetails): normalisation, Tableau's rules, next run.

Rules enforced (409004 with the reason in `detail`), per the REST reference and the notes:

* all: start (and end) are `HH:MM:SS` on 5-minute steps; frequency Hourly|Daily|Weekly|Monthly.
* Hourly: `end` required, with the same minutes as `start`; exactly one of minutes 15/30/60 or
  hours 1/2/4/6/8/12 (Server); weekDay intervals optional (Server 2023.3.5+).
* Daily: optional hours 2/4/6/8/12/24; below 24 an `end` is required; weekDays optional (Server).
* Weekly: 1..7 weekDays (Server).
* Monthly: monthDay 1..31 (several) or LastDay (alone), or one weekDay + monthDay First..Fifth/Last/LastDay
  ("last Friday" is documented as LastDay + weekDay; TSC sends Last; TSC's split form
  `<interval monthDay="First"/><interval monthDay="Monday"/>` is accepted too). Answered as sent.
* Cloud additionally: Hourly and Daily need at least one weekDay; Daily needs an hours interval
  (a once-daily task is `hours="24"`); Weekly exactly one weekDay; Hourly only every 60 minutes
  (`hours="1"` or `minutes="60"`: Create Cloud Extract Refresh Task; longer gaps are Daily with hours).
  The ledger (docs/tableau-behaviour.md) has the sources.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from functools import lru_cache

from .exceptions import EmulatorError

__all__ = ["WEEKDAYS", "Interval", "Recurrence", "next_run_at", "normalize_recurrence"]

WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
OCCURRENCES = ("First", "Second", "Third", "Fourth", "Fifth", "Last", "LastDay")
FREQUENCIES = ("Hourly", "Daily", "Weekly", "Monthly")

Interval = tuple[tuple[str, str], ...]
"""One `<interval>` element: its attributes as sorted (name, value) pairs."""


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A schedule's frequency and `frequencyDetails`, normalised (hours as integers, one form for monthly)."""

    frequency: str
    start: str
    end: str | None
    intervals: tuple[Interval, ...]

    def values(self, name: str) -> list[str]:
        """Every value of the interval attribute `name` (e.g. all weekDays)."""
        return [v for interval in self.intervals for k, v in interval if k == name]


def _bad(detail: str) -> EmulatorError:
    return EmulatorError.invalid_schedule(detail)


def _parse_time(value: str | None, what: str) -> tuple[int, int]:
    if value is None:
        raise _bad(f"The frequencyDetails {what} time is missing.")
    parts = value.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError(value)
        hh, mm = int(parts[0]), int(parts[1])
        ss = int(parts[2]) if len(parts) == 3 else 0
    except ValueError:
        raise _bad(f"Invalid {what} time '{value}': the valid format is HH:MM:SS.") from None
    if not (0 <= hh < 24 and 0 <= mm < 60 and ss == 0):
        raise _bad(f"Invalid {what} time '{value}'.")
    if mm % 5:
        raise _bad(f"Invalid {what} time '{value}': times must be specified in 5 minute increments.")
    return hh, mm


def _safe_float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 24.0


def _number(value: str, what: str) -> int:
    try:
        f = float(value)
    except ValueError:
        raise _bad(f"Invalid {what} interval value '{value}'.") from None
    if f != int(f):
        raise _bad(f"Invalid {what} interval value '{value}'.")
    return int(f)


def normalize_recurrence(frequency: str | None, start: str | None, end: str | None,
                         raw_intervals: list[dict[str, str]], cloud: bool) -> Recurrence:
    """Check a recurrence received in a request and return it normalised; raises 409004."""
    if frequency not in FREQUENCIES:
        raise _bad(f"Invalid schedule frequency '{frequency}'. Valid values are {', '.join(FREQUENCIES)}.")
    sh, sm = _parse_time(start, "start")
    start_s = f"{sh:02d}:{sm:02d}:00"
    end_s: str | None = None
    if end is not None and frequency in ("Hourly", "Daily"):
        eh, em = _parse_time(end, "end")
        end_s = f"{eh:02d}:{em:02d}:00"
        daily_once = frequency == "Daily" and not any(
            _safe_float(i["hours"]) < 24 for i in raw_intervals if "hours" in i)
        if em != sm and not daily_once:
            raise _bad("The difference between start and end times must be in increments of 60 minutes.")
    hours: list[int] = []
    minutes: list[int] = []
    weekdays: list[str] = []
    monthdays: list[str] = []
    for raw in raw_intervals:
        for key, value in raw.items():
            if key == "hours":
                hours.append(_number(value, "hours"))
            elif key == "minutes":
                minutes.append(_number(value, "minutes"))
            elif key == "weekDay":
                if value not in WEEKDAYS:
                    raise _bad(f"Invalid weekDay interval '{value}'.")
                weekdays.append(value)
            elif key == "monthDay":
                monthdays.append(value)
            else:
                raise _bad(f"Unknown interval attribute '{key}'.")
    # TSC sends a weekday as monthDay="Monday" next to monthDay="First"; Tableau pairs them.
    for day in [d for d in monthdays if d in WEEKDAYS]:
        monthdays.remove(day)
        weekdays.append(day)
    weekdays = [d for d in WEEKDAYS if d in weekdays]
    wd = tuple((("weekDay", d),) for d in weekdays)
    if frequency == "Hourly":
        intervals = _hourly(hours, minutes, end_s, cloud) + wd
        if cloud and not weekdays:
            raise _bad("Hourly and Daily schedules must have at least one weekDay interval.")
    elif frequency == "Daily":
        if minutes:
            raise _bad("Daily schedules take an hours interval (2, 4, 6, 8, 12 or 24), not minutes.")
        if len(hours) > 1:
            raise _bad("A Daily schedule can have only one hours interval.")
        if hours and hours[0] not in (2, 4, 6, 8, 12, 24):
            raise _bad(f"Invalid Daily hours interval '{hours[0]}'. Valid values are 2, 4, 6, 8, 12 or 24.")
        if cloud and not hours:
            raise _bad("A Daily schedule requires an hours interval (use hours=\"24\" for once a day).")
        if hours and hours[0] < 24 and end_s is None:
            raise _bad("A Daily schedule with an hours interval below 24 requires an end time.")
        if not hours or hours[0] == 24:
            end_s = None if not cloud else end_s
        if cloud and not weekdays:
            raise _bad("Hourly and Daily schedules must have at least one weekDay interval.")
        intervals = tuple((("hours", str(h)),) for h in hours) + wd
    elif frequency == "Weekly":
        end_s = None
        if hours or minutes or monthdays:
            raise _bad("Weekly schedules take weekDay intervals only.")
        if not weekdays:
            raise _bad("A Weekly schedule requires at least one weekDay interval.")
        if cloud and len(weekdays) != 1:
            raise _bad("A Weekly schedule on Tableau Cloud must have exactly one weekDay interval.")
        intervals = wd
    else:
        end_s = None
        intervals = _monthly(monthdays, weekdays, hours or minutes)
    return Recurrence(frequency, start_s, end_s, intervals)


def _hourly(hours: list[int], minutes: list[int], end: str | None, cloud: bool) -> tuple[Interval, ...]:
    if end is None:
        raise _bad("An Hourly schedule requires an end time.")
    if len(hours) + len(minutes) != 1:
        raise _bad("An Hourly schedule needs exactly one hours or minutes interval.")
    if minutes:
        allowed_minutes = (60,) if cloud else (15, 30, 60)
        if minutes[0] not in allowed_minutes:
            raise _bad(f"Invalid minutes interval '{minutes[0]}'. Valid values are "
                       f"{', '.join(map(str, allowed_minutes))}.")
        return ((("hours", "1"),),) if minutes[0] == 60 else ((("minutes", str(minutes[0])),),)
    allowed = (1,) if cloud else (1, 2, 4, 6, 8, 12)
    if hours[0] not in allowed:
        hint = " On Tableau Cloud use a Daily schedule with that hours interval." if cloud else ""
        raise _bad(f"Invalid Hourly hours interval '{hours[0]}'. Valid values are "
                   f"{', '.join(map(str, allowed))}.{hint}")
    return ((("hours", str(hours[0])),),)


def _monthly(monthdays: list[str], weekdays: list[str], other: list[int]) -> tuple[Interval, ...]:
    if other:
        raise _bad("Monthly schedules take monthDay intervals only.")
    if not monthdays:
        raise _bad("A Monthly schedule requires a monthDay interval.")
    occurrences = [d for d in monthdays if d in OCCURRENCES and (d != "LastDay" or weekdays)]
    if weekdays or occurrences:
        if len(weekdays) != 1 or len(occurrences) != 1 or len(monthdays) != 1:
            raise _bad("A Monthly weekday schedule needs exactly one weekDay and one monthDay "
                       "of First, Second, Third, Fourth, Fifth, Last or LastDay.")
        return ((("monthDay", occurrences[0]), ("weekDay", weekdays[0])),)
    if "LastDay" in monthdays:
        if len(monthdays) != 1:
            raise _bad("monthDay LastDay cannot be combined with other monthDay intervals.")
        return ((("monthDay", "LastDay"),),)
    days: list[int] = []
    for d in monthdays:
        if not d.isdigit() or not 1 <= int(d) <= 31:
            raise _bad(f"Invalid monthDay interval '{d}'. Valid values are 1 to 31 or LastDay.")
        if int(d) not in days:
            days.append(int(d))
    return tuple((("monthDay", str(d)),) for d in sorted(days))


def _day_matches(rec: Recurrence, year: int, month: int, day: int, weekday_name: str) -> bool:
    weekdays = rec.values("weekDay")
    if rec.frequency in ("Hourly", "Daily", "Weekly"):
        return not weekdays or weekday_name in weekdays
    last = calendar.monthrange(year, month)[1]
    for interval in rec.intervals:
        attrs = dict(interval)
        md = attrs.get("monthDay", "")
        if "weekDay" in attrs:
            if attrs["weekDay"] != weekday_name:
                continue
            if md in ("Last", "LastDay"):
                if day + 7 > last:
                    return True
            elif OCCURRENCES.index(md) == (day - 1) // 7:
                return True
        elif md == "LastDay":
            if day == last:
                return True
        elif md.isdigit() and int(md) == day:
            return True
    return False


def _slots(rec: Recurrence) -> list[int]:
    """Minutes after midnight at which the recurrence fires on a matching day."""
    sh, sm = (int(x) for x in rec.start.split(":")[:2])
    start = sh * 60 + sm
    step = 0
    for interval in rec.intervals:
        for k, v in interval:
            if k == "hours" and int(v) < 24:
                step = int(v) * 60
            elif k == "minutes":
                step = int(v)
    if not step or rec.end is None:
        return [start]
    eh, em = (int(x) for x in rec.end.split(":")[:2])
    end = eh * 60 + em
    if end <= start:
        end += 24 * 60
    return [m % (24 * 60) for m in range(start, end + 1, step)]


@lru_cache(maxsize=4096)
def _next_run_cached(rec: Recurrence, minute: int) -> int:
    now = minute * 60
    slots = sorted(_slots(rec))
    day0 = now - now % 86400
    for offset in range(0, 400):
        day = day0 + offset * 86400
        tm = time.gmtime(day)
        if not _day_matches(rec, tm.tm_year, tm.tm_mon, tm.tm_mday, WEEKDAYS[(tm.tm_wday + 1) % 7]):
            continue
        for slot in slots:
            when = day + slot * 60
            if when > now:
                return when
    return day0 + 86400


def next_run_at(rec: Recurrence, now: float) -> int:
    """The next time (epoch seconds, UTC) at which the recurrence fires after `now`."""
    return _next_run_cached(rec, int(now) // 60)
