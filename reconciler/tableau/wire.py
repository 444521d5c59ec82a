"""Tableau's XML, read and written by hand where TSC's models lose or mangle what we need.

TSC's ``TaskItem`` drops the refresh type, its ``IntervalItem`` re-sends ``hours="2.0"``, drops a
daily ``end`` and mis-serialises a monthly "first Monday" (reference notes, section 9). So task
lists and recurrences are parsed here, into the model, and recurrences are written here too, in
the server's own format.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from xml.etree import ElementTree as ET
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

from reconciler.errors import TableauRequestError
from reconciler.model import WEEKDAYS, ItemKind, LiveTask, Recurrence, TaskType

__all__ = [
    "NS",
    "find",
    "findall",
    "parse",
    "parse_recurrence",
    "parse_task",
    "parse_task_list",
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
_TASK_TYPES: dict[str, TaskType] = {
    "refreshextracttask": "full", "fullrefresh": "full", "incrementextracttask": "incremental",
    "incrementalrefresh": "incremental", "incrementalextract": "incremental"}


#: The ``type`` values as task lists spell them, looked up before any normalising (the common case).
_EXACT_TASK_TYPES: dict[str, TaskType] = {"RefreshExtractTask": "full", "IncrementExtractTask": "incremental"}


def tag(name: str) -> str:
    return _PREFIX + name


def parse(content: bytes) -> ET.Element:
    return ET.fromstring(content)


def find(element: ET.Element, path: str) -> ET.Element | None:
    return element.find(_qualify(path))


def findall(element: ET.Element, path: str) -> list[ET.Element]:
    return element.findall(_qualify(path))


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
    kind: ItemKind = "datasource"
    if target is None:
        target = element.find(_WORKBOOK)
        kind = "workbook"
    if target is None:
        return None
    schedule = element.find(_SCHEDULE)
    return _live_task(element.attrib, kind, target.attrib, None if schedule is None else schedule.attrib,
                      lambda: parse_recurrence(schedule) if schedule is not None else None)


def _live_task(task: Mapping[str, str], kind: ItemKind, target: Mapping[str, str], schedule: Mapping[str, str] | None,
               recurrence: Callable[[], Recurrence | None]) -> LiveTask | None:
    """The task from the attributes of ``<extractRefresh>``, its target and its ``<schedule>`` (shared by
    ``parse_task`` and ``parse_task_list``, so both read a task the same way)."""
    item_id = target.get("id")
    if not item_id:
        return None
    task_type = _EXACT_TASK_TYPES.get(task.get("type", "")) or _task_type(task)
    name = schedule_id = None
    parsed = None
    if schedule is not None:
        name = schedule.get("name") or None
        schedule_id = schedule.get("id") or None
        if name is None:
            parsed = recurrence()
    # Positional: a 100,000-task list makes 100,000 of these (the fields' order: id, item_kind, item_id,
    # type, schedule, schedule_id, recurrence, priority, consecutive_failures).
    return LiveTask(task.get("id", ""), kind, item_id, task_type, name, schedule_id, parsed,
                    int(task.get("priority") or 50), int(task.get("consecutiveFailedCount") or 0))


def _task_type(element: Mapping[str, str]) -> TaskType:
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


def parse_task_list(chunks: Iterable[bytes]) -> list[LiveTask]:
    """Every task of a task list answer, parsed as the bytes come, without building its tree.

    The same tasks ``parse_task`` gives for each ``<extractRefresh>`` of the whole document (a test
    holds them equal), at a fraction of the memory: a 100,000-task list is 50 MB of XML, and its
    ElementTree 200 MB. Only the elements ``parse_task`` looks at are kept, per task, as attribute
    dicts: the task, its first ``<datasource>`` and ``<workbook>`` child, its ``<schedule>`` child
    and, for a schedule without a name (Tableau Cloud), the ``<frequencyDetails>`` below it. A Cloud
    recurrence is parsed once per distinct schedule element and the ``Recurrence`` shared.
    """
    parser = expat.ParserCreate(namespace_separator="}")
    tasks = _task_list_handlers(parser)
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as error:
        raise ET.ParseError(str(error)) from error
    return tasks


_E_TASK, _E_DATASOURCE, _E_WORKBOOK, _E_SCHEDULE, _E_DETAILS, _E_INTERVALS, _E_INTERVAL = (
    NS + "}" + name for name in
    ("extractRefresh", "datasource", "workbook", "schedule", "frequencyDetails", "intervals", "interval"))


def _task_list_handlers(parser: expat.XMLParserType) -> list[LiveTask]:
    """Set expat handlers on ``parser`` that keep what ``parse_task`` reads of each ``<extractRefresh>``
    (``find`` looks at direct children only, and takes the first match); the list they fill.

    Closures over local state rather than methods: the handlers run twice per element, 800,000 times
    for a 100,000-task list, and a cell is cheaper to reach than an attribute."""
    tasks: list[LiveTask] = []
    recurrences: dict[tuple[object, ...], Recurrence | None] = {}
    depth = 0
    at = -1  # depth of the current <extractRefresh>; -1 outside one
    task: dict[str, str] = {}
    datasource: dict[str, str] | None = None
    workbook: dict[str, str] | None = None
    schedule: dict[str, str] | None = None
    details: dict[str, str] | None = None
    intervals: list[dict[str, str]] | None = None
    opened = 0  # 1 inside the kept <schedule>, 2 inside its <frequencyDetails>, 3 inside its <intervals>

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, at, task, datasource, workbook, schedule, details, intervals, opened
        depth += 1
        if at < 0:
            if name == _E_TASK:
                at = depth
                task = attrs
                datasource = workbook = schedule = details = intervals = None
            return
        inner = depth - at
        if inner == 1:
            if name == _E_DATASOURCE:
                if datasource is None:
                    datasource = attrs
            elif name == _E_SCHEDULE:
                if schedule is None:
                    schedule = attrs
                    opened = 1
            elif name == _E_WORKBOOK and workbook is None:
                workbook = attrs
        elif inner == opened + 1:
            if inner == 2 and name == _E_DETAILS and details is None:
                details = attrs
                opened = 2
            elif inner == 3 and name == _E_INTERVALS and intervals is None and details is not None:
                intervals = []
                opened = 3
            elif inner == 4 and name == _E_INTERVAL and intervals is not None:
                intervals.append(attrs)

    def end(_name: str) -> None:
        nonlocal depth, at, opened
        inner = depth - at
        depth -= 1
        if at < 0:
            return
        if inner == 0:
            at = -1
            add()
        elif inner == opened:
            opened -= 1

    def add() -> None:
        kind: ItemKind
        if datasource is not None:
            kind, target = "datasource", datasource
        elif workbook is not None:
            kind, target = "workbook", workbook
        else:
            return
        live = _live_task(task, kind, target, schedule, recurrence)
        if live is not None:
            tasks.append(live)

    def recurrence() -> Recurrence | None:
        """The current schedule's recurrence, parsed by ``parse_recurrence`` once per distinct element
        (it reads the schedule's ``frequency`` and everything in its ``<frequencyDetails>``)."""
        assert schedule is not None
        key = (schedule.get("frequency"), None if details is None else tuple(details.items()),
               None if intervals is None else tuple(tuple(i.items()) for i in intervals))
        if key in recurrences:
            return recurrences[key]
        element = ET.Element(_SCHEDULE, {"frequency": schedule["frequency"]} if "frequency" in schedule else {})
        if details is not None:
            below = ET.SubElement(element, tag("frequencyDetails"), details)
            if intervals is not None:
                parent = ET.SubElement(below, tag("intervals"))
                for interval in intervals:
                    ET.SubElement(parent, tag("interval"), interval)
        parsed = recurrences[key] = parse_recurrence(element)
        return parsed

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    return tasks


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
