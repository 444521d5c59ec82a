"""Tableau's XML, read and written by hand where TSC's models lose or mangle what we need.

TSC's ``TaskItem`` drops the refresh type, its ``IntervalItem`` re-sends ``hours="2.0"``, drops a
daily ``end`` and mis-serialises a monthly "first Monday" (reference notes, section 9). So task
lists and recurrences are parsed here, into the model, and recurrences are written here too, in
the server's own format.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

from reconciler.model import WEEKDAYS, LiveTask, Recurrence

__all__ = [
    "NS",
    "attr",
    "find",
    "findall",
    "parse",
    "parse_recurrence",
    "parse_task",
    "recurrence_xml",
    "tag",
]

NS = "http://tableau.com/api"
_PREFIX = "{" + NS + "}"
_DATASOURCE, _WORKBOOK, _SCHEDULE = _PREFIX + "datasource", _PREFIX + "workbook", _PREFIX + "schedule"
_ORDINALS = {"first": "First", "second": "Second", "third": "Third", "fourth": "Fourth", "fifth": "Fifth",
             "last": "Last"}


def tag(name: str) -> str:
    return _PREFIX + name


def parse(content: bytes) -> ET.Element:
    return ET.fromstring(content)


def find(element: ET.Element, path: str) -> ET.Element | None:
    return element.find(_qualify(path))


def findall(element: ET.Element, path: str) -> list[ET.Element]:
    return element.findall(_qualify(path))


def attr(element: ET.Element, name: str, default: str = "") -> str:
    return element.get(name, default)


@functools.lru_cache(maxsize=512)
def _qualify(path: str) -> str:
    """``a/b`` → ``{ns}a/{ns}b`` (cached: a task list asks the same few paths 60,000 times)."""
    return "/".join(part if part in (".", "..", "") or part.startswith("{") else _PREFIX + part
                    for part in path.split("/"))


def _bool(text: str | None) -> bool:
    return (text or "").strip().lower() == "true"


def _number(text: str) -> float:
    return float(text.strip())


def parse_recurrence(schedule: ET.Element) -> Recurrence | None:
    """A ``<schedule frequency=…><frequencyDetails…>`` into a Recurrence; None without details."""
    frequency = schedule.get("frequency", "").lower()
    details = find(schedule, "frequencyDetails")
    if details is None or frequency not in ("hourly", "daily", "weekly", "monthly"):
        return None
    start = details.get("start", "00:00:00")
    end = details.get("end")
    every: int | None = None
    weekdays: list[str] = []
    month_days: list[int | str] = []
    ordinal: str | None = None
    for interval in _intervals(details):
        hours, minutes = interval.get("hours"), interval.get("minutes")
        if hours:
            every = round(_number(hours) * 60)
        if minutes:
            every = round(_number(minutes))
        week_day = interval.get("weekDay")
        month_day = interval.get("monthDay")
        if month_day:
            lowered = month_day.strip().lower()
            if lowered in WEEKDAYS:  # TSC's own mis-serialisation of "first Monday"
                weekdays.append(lowered)
            elif lowered in _ORDINALS:
                ordinal = lowered
            elif lowered == "lastday":
                month_days.append("last")
            else:
                month_days.append(int(lowered))
        if week_day:
            weekdays.append(week_day.strip().lower())
    if frequency == "daily" and every in (None, 1440):
        end = None
    if frequency == "monthly" and ordinal and weekdays:
        return Recurrence("monthly", start, on=(ordinal, weekdays[0]))
    return Recurrence(frequency, start, every=every, end=end, weekdays=tuple(weekdays),
                      month_days=tuple(month_days))


def _intervals(details: ET.Element) -> Iterator[ET.Element]:
    intervals = find(details, "intervals")
    if intervals is not None:
        yield from findall(intervals, "interval")


def parse_task(element: ET.Element) -> LiveTask | None:
    """One ``<extractRefresh>`` of a task list; None for tasks that are not on a data source or workbook."""
    target = element.find(_DATASOURCE)
    kind = "datasource"
    if target is None:
        target = element.find(_WORKBOOK)
        kind = "workbook"
    if target is None or not target.get("id"):
        return None
    task_type = element.get("type", "")
    incremental = _bool(element.get("incremental")) or task_type.lower().startswith("incremental")
    schedule = element.find(_SCHEDULE)
    name = schedule_id = None
    recurrence = None
    if schedule is not None:
        name = schedule.get("name") or None
        schedule_id = schedule.get("id") or None
        if name is None:
            recurrence = parse_recurrence(schedule)
    return LiveTask(
        id=element.get("id", ""),
        item_kind=kind,
        item_id=target.get("id", ""),
        type="incremental" if incremental else "full",
        schedule=name,
        schedule_id=schedule_id,
        recurrence=recurrence,
        priority=int(element.get("priority") or 50),
        consecutive_failures=int(element.get("consecutiveFailedCount") or 0),
    )


def recurrence_xml(recurrence: Recurrence, cloud: bool) -> tuple[str, str]:
    """The ``frequency`` attribute value and the ``<frequencyDetails>`` element for a recurrence.

    On Cloud a once-daily task is sent with ``hours="24"`` (without it Cloud runs it hourly), and
    hourly/daily always list their weekdays (Cloud requires at least one).
    """
    frequency = recurrence.frequency.capitalize()
    start = f"{recurrence.start}:00"
    intervals: list[str] = []
    end = ""
    if recurrence.frequency in ("hourly", "daily"):
        every = recurrence.every or (60 if recurrence.frequency == "hourly" else 1440)
        if recurrence.frequency == "hourly" and every < 60:
            intervals.append(f'<interval minutes="{every}" />')
        elif recurrence.frequency == "hourly" or every < 1440 or cloud:
            intervals.append(f'<interval hours="{every // 60}" />')
        if recurrence.end is not None:
            end = f' end="{recurrence.end}:00"'
        if cloud or recurrence.weekdays != WEEKDAYS:
            intervals.extend(f'<interval weekDay="{day.capitalize()}" />' for day in recurrence.weekdays)
    elif recurrence.frequency == "weekly":
        intervals.extend(f'<interval weekDay="{day.capitalize()}" />' for day in recurrence.weekdays)
    elif recurrence.on is not None:
        ordinal, weekday = recurrence.on
        intervals.append(f'<interval weekDay="{weekday.capitalize()}" monthDay="{_ORDINALS[ordinal]}" />')
    else:
        intervals.extend(
            f'<interval monthDay="{"LastDay" if day == "last" else day}" />' for day in recurrence.month_days)
    details = (f'<frequencyDetails start={quoteattr(start)}{end}>'
               f'<intervals>{"".join(intervals)}</intervals></frequencyDetails>')
    return frequency, details
