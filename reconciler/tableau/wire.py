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

from reconciler.errors import TableauRequestError
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
             "last": "LastDay"}
#: ``monthDay`` values that name an occurrence when a ``weekDay`` comes with them. "Last <weekday>" is
#: documented as ``LastDay`` + ``weekDay``; tableauserverclient sends ``Last`` (docs/tableau-behaviour.md).
_OCCURRENCES = {"first": "first", "second": "second", "third": "third", "fourth": "fourth", "fifth": "fifth",
                "last": "last", "lastday": "last"}
#: The refresh type of a task, by the ``type`` attribute of its ``<extractRefresh>``: task lists say
#: ``RefreshExtractTask`` / ``IncrementExtractTask``; Cloud's create and update answers ``FullRefresh`` /
#: ``IncrementalRefresh``; the tableau-migration-sdk creates Cloud tasks as ``IncrementalExtract``
#: (docs/tableau-behaviour.md, "Task types").
_TASK_TYPES = {"refreshextracttask": "full", "fullrefresh": "full", "incrementextracttask": "incremental",
               "incrementalrefresh": "incremental", "incrementalextract": "incremental"}


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
    """A ``<schedule frequency=…><frequencyDetails…>`` into a Recurrence; None without details.

    A monthly schedule whose days Tableau does not report (``monthDay="Customized Monthly"``, or any
    ``monthDay`` that is neither a day, ``LastDay`` nor an occurrence) is read with ``days_unknown``.
    """
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
    unknown = False
    for interval in _intervals(details):
        hours, minutes = interval.get("hours"), interval.get("minutes")
        if hours:
            every = round(_number(hours) * 60)
        if minutes:
            every = round(_number(minutes))
        week_day = (interval.get("weekDay") or "").strip().lower()
        month_day = (interval.get("monthDay") or "").strip().lower()
        if week_day:
            weekdays.append(week_day)
        if not month_day:
            continue
        if month_day in WEEKDAYS:  # TSC's own mis-serialisation of "first Monday"
            weekdays.append(month_day)
        elif month_day in _OCCURRENCES and (week_day or month_day != "lastday"):
            ordinal = _OCCURRENCES[month_day]
        elif month_day == "lastday":
            month_days.append("last")
        elif month_day.isdigit() and 1 <= int(month_day) <= 31:
            month_days.append(int(month_day))
        else:
            unknown = True
    if frequency == "daily" and every in (None, 1440):
        end = None
    if frequency == "monthly" and ordinal and weekdays:
        return Recurrence("monthly", start, on=(ordinal, weekdays[0]))
    if frequency == "monthly" and (unknown or (ordinal and not weekdays) or not month_days):
        return Recurrence("monthly", start, days_unknown=True)
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
    task_type = _task_type(element)
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
        type=task_type,
        schedule=name,
        schedule_id=schedule_id,
        recurrence=recurrence,
        priority=int(element.get("priority") or 50),
        consecutive_failures=int(element.get("consecutiveFailedCount") or 0),
    )


def _task_type(element: ET.Element) -> str:
    """``full`` or ``incremental``; an unknown ``type`` stops the read (guessing would plan a replace)."""
    raw = element.get("type", "")
    known = _TASK_TYPES.get(raw.strip().lower())
    if known is not None:
        return known
    if not raw.strip():  # the XSD's form: no type, an ``incremental`` flag
        return "incremental" if _bool(element.get("incremental")) else "full"
    raise TableauRequestError(
        f"The server answered an extract refresh task ({element.get('id', '?')}) of type {raw!r}, which "
        "reconciler does not know, so it cannot tell a full refresh from an incremental one. Nothing was "
        "planned or changed. Please report this type with your Tableau version.")


def recurrence_xml(recurrence: Recurrence, cloud: bool) -> tuple[str, str]:
    """The ``frequency`` attribute value and the ``<frequencyDetails>`` element for a recurrence.

    On Cloud a once-daily task is sent with ``hours="24"`` (without it Cloud runs it hourly), and
    hourly/daily always list their weekdays (Cloud requires at least one).
    """
    if recurrence.days_unknown:
        raise ValueError("a recurrence whose days Tableau did not report cannot be written")
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
