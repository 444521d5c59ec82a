"""One file's checked data → model values (a ``Fragment``), applying the rules that need one file only.

The data has passed the JSON Schema, except under the paths in ``bad`` (which are skipped, their
errors already reported). What is checked here: the recurrence rules common to Server and Cloud
(intervals, ``end``, weekdays, month days), tasks that mix a schedule with recurrence fields, and
identical tasks in one ``refresh:``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from reconciler.desired.yamlpos import Locator, ParsedFile, PathKey
from reconciler.errors import Problem
from reconciler.model import (
    DAILY_EVERY_MINUTES,
    HOURLY_EVERY_MINUTES,
    Extract,
    ItemKind,
    ItemRef,
    ProtectRule,
    Recurrence,
    RefreshTask,
    Schedule,
    ScheduleRef,
    Source,
    format_every,
    normalise_time,
    parse_every,
    split_path,
)

__all__ = ["PLATFORM_FIELDS", "RECURRENCE_KEYS", "Fragment", "Setting", "build_fragment"]

RECURRENCE_KEYS = ("frequency", "every", "start", "end", "weekdays", "month_days", "on")
#: Schedule fields whose declaration position the platform rules need.
PLATFORM_FIELDS = ("priority", "execution", "state", "weekdays")


@dataclass(frozen=True)
class Setting:
    """A single-valued setting (site:, encryption.mode, policy.prune...) and where it was declared."""

    value: Any
    source: Source


@dataclass
class Fragment:
    """What one file declares, as model values, before the files are merged."""

    name: str
    settings: dict[str, Setting] = field(default_factory=dict)
    schedules: list[Schedule] = field(default_factory=list)
    extracts: list[Extract] = field(default_factory=list)
    protect: list[ProtectRule] = field(default_factory=list)
    #: every schedule name declared, valid or not
    declared: set[str] = field(default_factory=set)
    #: (schedule name, where a task names it)
    references: list[tuple[str, Source]] = field(default_factory=list)
    #: ``referenced_schedules:``: server schedules used but not managed
    referenced: list[ScheduleRef] = field(default_factory=list)
    #: (extract, where its encrypt: is)
    encrypts: list[tuple[Extract, Source]] = field(default_factory=list)
    #: schedule source → {field: where it is declared} for PLATFORM_FIELDS
    places: dict[Source, dict[str, Source]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def build_fragment(parsed: ParsedFile, bad: Collection[PathKey]) -> Fragment:
    """Turn one file into a Fragment; paths under ``bad`` had schema errors and are skipped."""
    return _Builder(parsed, bad).build()


class _Builder:
    def __init__(self, parsed: ParsedFile, bad: Collection[PathKey]) -> None:
        self.data = parsed.data
        self.loc: Locator = parsed.locator
        self.bad = bad
        self.out = Fragment(parsed.name)

    def ok(self, path: PathKey, deep: bool = True) -> bool:
        """Whether no schema error is at ``path`` or a parent of it (``deep``: nor anywhere under it)."""
        if not self.bad:
            return True
        return not any(path[:len(b)] == b or (deep and b[:len(path)] == path) for b in self.bad)

    def problem(self, source: Source, message: str) -> None:
        self.out.problems.append(Problem(source, message))

    def build(self) -> Fragment:
        data = self.data
        for key in ("server", "site", "flavor"):
            if key in data and self.ok((key,)):
                self.out.settings[key] = Setting(data[key], self.loc.value((key,)))
        if isinstance(data.get("encryption"), dict) and self.ok(("encryption",)):
            mode = data["encryption"]["mode"]
            self.out.settings["encryption"] = Setting(mode, self.loc.value(("encryption", "mode")))
        if isinstance(data.get("schedules"), dict):
            for name, body in data["schedules"].items():
                path: PathKey = ("schedules", name)
                self.out.declared.add(name)
                if self.ok(path):
                    self.schedule(name, body, path)
        if isinstance(data.get("referenced_schedules"), list) and self.ok(("referenced_schedules",)):
            for index, name in enumerate(data["referenced_schedules"]):
                self.out.referenced.append(ScheduleRef(name, self.loc.value(("referenced_schedules", index))))
        if isinstance(data.get("extracts"), list):
            for index, body in enumerate(data["extracts"]):
                path = ("extracts", index)
                if not self.ok(path, deep=False) or not isinstance(body, dict):
                    continue
                kind: ItemKind = "datasource" if "datasource" in body else "workbook"
                if self.ok((*path, kind)):
                    self.extract(body, path, kind)
        if isinstance(data.get("policy"), dict):
            self.policy(data["policy"])
        return self.out

    def schedule(self, name: str, body: dict[str, Any], path: PathKey) -> None:
        recurrence = self.recurrence(body, path, f'schedule "{name}"')
        source = self.loc.key(path)
        self.out.places[source] = {f: self.loc.key((*path, f)) for f in PLATFORM_FIELDS if f in body}
        if recurrence is not None:
            self.out.schedules.append(Schedule(name, recurrence, priority=body.get("priority", 50),
                                               execution=body.get("execution", "parallel"),
                                               state=body.get("state", "active"), source=source))

    def extract(self, body: dict[str, Any], path: PathKey, kind: ItemKind) -> None:
        ref = self.item_ref(kind, body[kind], (*path, kind))
        source = self.loc.value(path)
        tasks: tuple[RefreshTask, ...] | None = None
        if "refresh" in body and self.ok((*path, "refresh"), deep=False):
            built: list[RefreshTask] = []
            for index, task in enumerate(body["refresh"]):
                if not self.ok((*path, "refresh", index)):
                    continue
                made = self.task(task, (*path, "refresh", index), f'{kind} "{ref}"')
                if made is None:
                    continue
                twin = next((t for t in built if t == made), None)
                if twin is not None:
                    self.problem(made.source or source, f'this refresh task of {kind} "{ref}" is the same as '
                                                        f"the one at {twin.source}; list each task once.")
                    continue
                built.append(made)
            tasks = tuple(built)
        if ref is None:
            return
        encrypt = body.get("encrypt") if self.ok((*path, "encrypt")) else None
        extract = Extract(ref, encrypt=encrypt, refresh=tasks, source=source)
        self.out.extracts.append(extract)
        if encrypt is not None:
            self.out.encrypts.append((extract, self.loc.key((*path, "encrypt"))))

    def item_ref(self, kind: ItemKind, value: Any, path: PathKey) -> ItemRef | None:
        if isinstance(value, str):
            project, name = split_path(value)
            return ItemRef(kind, project=project, name=name)
        if "id" in value:
            return ItemRef(kind, id=value["id"].strip())
        given = value["project"]
        # A list gives the parts exactly (a project named "A/B" is ["A/B"]); a string is split at each "/".
        project = tuple(given) if isinstance(given, list) else tuple(given.split("/"))
        if not all(part.strip() for part in project):
            self.problem(self.loc.value((*path, "project")),
                         f"the project path {given!r} has an empty part; write it as \"Sales/EMEA\".")
            return None
        return ItemRef(kind, project=project, name=value["name"], as_path=False)

    def task(self, body: dict[str, Any], path: PathKey, owner: str) -> RefreshTask | None:
        source = self.loc.value(path)
        kind = body.get("type", "full")
        if "schedule" in body:
            stray = [key for key in RECURRENCE_KEYS if key in body]
            for key in stray:
                self.problem(self.loc.key((*path, key)),
                             f"a task that names a schedule takes no {key}: (the schedule \"{body['schedule']}\" "
                             "says when it runs); remove it, or drop schedule: for an inline recurrence.")
            self.out.references.append((body["schedule"], self.loc.value((*path, "schedule"))))
            return None if stray else RefreshTask(type=kind, schedule=body["schedule"], source=source)
        if "start" not in body:
            self.problem(self.loc.key(path),
                         f"this inline recurrence of {owner} is missing the required key \"start\".")
            return None
        recurrence = self.recurrence(body, path, f"the inline recurrence of {owner}")
        return None if recurrence is None else RefreshTask(type=kind, recurrence=recurrence, source=source)

    def recurrence(self, body: dict[str, Any], path: PathKey, what: str) -> Recurrence | None:
        """Check the rules common to Server and Cloud; the Recurrence, or None after a problem."""
        before = len(self.out.problems)
        frequency: str = body["frequency"]
        start = normalise_time(body["start"])
        end = normalise_time(body["end"]) if "end" in body else None

        def at(key: str) -> Source:
            return self.loc.key((*path, key)) if key in body else self.loc.key(path)

        every: int | None = None
        if "every" in body:
            every = parse_every(body["every"])
            allowed = {"hourly": HOURLY_EVERY_MINUTES, "daily": DAILY_EVERY_MINUTES}.get(frequency)
            if allowed is None:
                self.problem(at("every"), f"every: applies only to hourly and daily schedules, not to {frequency} "
                                          f"ones ({what}); remove it.")
            elif every not in allowed:
                offered = ", ".join(format_every(m) for m in allowed)
                self.problem(at("every"), f"every: {body['every']} is not an interval Tableau offers for {frequency} "
                                          f"schedules ({what}); allowed: {offered}.")
        if frequency == "hourly":
            self.window(start, end, at, what, "an hourly schedule", same_minutes=True)
        elif frequency == "daily":
            if every is not None and every < 1440:
                self.window(start, end, at, what, f"a daily schedule that runs every {format_every(every)}",
                            same_minutes=False)
            elif end is not None:
                self.problem(at("end"), f"end: applies only to a daily schedule that runs more than once a day "
                                        f"(every below 24h), not to {what}; remove it, or set every: (2h to 12h).")
        elif end is not None:
            self.problem(at("end"), f"end: applies only to hourly and daily schedules, not to {frequency} ones "
                                    f"({what}); remove it.")
        if frequency == "weekly" and "weekdays" not in body:
            self.problem(at("frequency"), f"a weekly schedule needs weekdays: (the days it runs), as in "
                                          f"weekdays: [monday] ({what}).")
        if frequency == "monthly":
            self.monthly(body, at, what)
        else:
            for key in ("month_days", "on"):
                if key in body:
                    self.problem(at(key), f"{key}: applies only to monthly schedules, not to {frequency} ones "
                                          f"({what}); remove it.")
        if len(self.out.problems) > before:
            return None
        on = (body["on"]["occurrence"], body["on"]["weekday"]) if "on" in body else None
        return Recurrence(frequency, start, every=every, end=end, weekdays=tuple(body.get("weekdays", ())),
                          month_days=tuple(body.get("month_days", ())), on=on)

    def window(self, start: str, end: str | None, at: Any, what: str, kind: str, same_minutes: bool) -> None:
        if end is None:
            self.problem(at("end"), f"{kind} needs end: (the time of its last run of the day) ({what}).")
            return
        if same_minutes and end[3:] != start[3:]:
            self.problem(at("end"), f"end: \"{end}\" must have the same minutes as start: \"{start}\" ({what}): "
                                    "Tableau runs hourly schedules on the minute of start; "
                                    f"use \"{end[:3]}{start[3:]}\".")
        elif end == start:
            # A window that ends after midnight (22:00 to 06:00) is Tableau's own (docs/tableau-behaviour.md);
            # an empty one has no evidence either way, so it is refused before anything is written.
            self.problem(at("end"), f"end: \"{end}\" is the same time as start: \"{start}\" ({what}); set the "
                                    "time of the last run (a window may end after midnight, as 22:00 to 06:00).")

    def monthly(self, body: dict[str, Any], at: Any, what: str) -> None:
        if "weekdays" in body:
            self.problem(at("weekdays"), f"weekdays: does not apply to monthly schedules ({what}); for \"the first "
                                         "Monday\" write on: {occurrence: first, weekday: monday}.")
        if "month_days" in body and "on" in body:
            self.problem(at("on"), f"a monthly schedule takes month_days: or on:, not both ({what}).")
        elif "last" in body.get("month_days", ()) and len(body["month_days"]) > 1:
            self.problem(at("month_days"), f"month_days: last cannot be combined with other days ({what}): Tableau "
                                           "refuses it (409004). Use month_days: [last] in a schedule of its own.")
        elif "month_days" not in body and "on" not in body:
            self.problem(at("frequency"), f"a monthly schedule needs month_days: (1..31 or last) or on: "
                                          f"{{occurrence: first, weekday: monday}} ({what}).")

    def policy(self, body: dict[str, Any]) -> None:
        for key in ("prune", "scope", "ignore", "max_deletes"):
            if key in body and self.ok(("policy", key)):
                self.out.settings[f"policy.{key}"] = Setting(body[key], self.loc.value(("policy", key)))
        load = body.get("load")
        limit_path = ("policy", "load", "max_starts_per_slot")
        if isinstance(load, dict) and "max_starts_per_slot" in load and self.ok(limit_path):
            self.out.settings["policy.load.max_starts_per_slot"] = Setting(load["max_starts_per_slot"],
                                                                           self.loc.value(limit_path))
        if "protect" in body and self.ok(("policy", "protect")):
            for index, rule in enumerate(body["protect"]):
                kind, name = next(iter(rule.items()))
                source = self.loc.value(("policy", "protect", index))
                self.out.protect.append(ProtectRule(kind, name.strip(), source=source))
