"""Rules across files (merging, duplicates, references) and the platform rules of Server and Cloud.

``merge`` joins the fragments of several files into one DesiredState, reporting anything declared
twice (with both places), refreshes naming undeclared schedules and encryption contradictions.
``platform_problems`` checks what only one platform forbids; it runs on model values, so the
planner can call it (through ``for_flavor``) once it has detected the flavor. ``inline_templates``
turns Cloud schedule templates into each task's own recurrence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.desired.build import Fragment, Setting
from reconciler.desired.schema import suggest
from reconciler.errors import Problem
from reconciler.hints import did_you_mean
from reconciler.hints import suggest as close_matches
from reconciler.model import (
    DesiredState,
    Extract,
    Policy,
    ProtectRule,
    Recurrence,
    RefreshTask,
    Schedule,
    ScheduleRef,
    Source,
    format_every,
)

__all__ = ["FLAVORS", "Places", "inline_templates", "merge", "platform_problems"]

FLAVORS = ("server", "cloud")
#: schedule source → {field: where it is declared}; empty when the files are not at hand.
Places = Mapping[Source, Mapping[str, Source]]

_SETTING_NAMES = {"encryption": "encryption.mode"}


def merge(fragments: Sequence[Fragment], problems: list[Problem],
          declared_in: str | None = None) -> tuple[DesiredState, dict[Source, dict[str, Source]]]:
    """Merge the files' fragments; problems found are appended to ``problems``.

    ``declared_in`` names a deployment's server file when these are one site's files of a deployment (whose
    schedules are declared there or in any site's files), for the message about a task naming a schedule
    declared nowhere.
    """
    settings: dict[str, Setting] = {}
    schedules: dict[str, Schedule] = {}
    folded: dict[str, Schedule] = {}  # Tableau's schedule names are case-insensitive (409021)
    extracts: dict[tuple[str, ...], Extract] = {}
    protect: dict[ProtectRule, ProtectRule] = {}
    referenced: dict[str, ScheduleRef] = {}
    places: dict[Source, dict[str, Source]] = {}
    for fragment in fragments:
        problems.extend(fragment.problems)
        places.update(fragment.places)
        for extract, source in fragment.encrypts:  # where each encrypt: is, for the platform rules
            if extract.source is not None:
                places.setdefault(extract.source, {})["encrypt"] = source
        for key, setting in fragment.settings.items():
            first = settings.setdefault(key, setting)
            if first is not setting and first.value != setting.value:
                name = _SETTING_NAMES.get(key, key)
                problems.append(Problem(setting.source, f"{name} is {_show(setting.value)} here but "
                                                        f"{_show(first.value)} at {first.source}; declare it once."))
        for schedule in fragment.schedules:
            other = schedules.setdefault(schedule.name, schedule)
            if other is not schedule:
                problems.append(Problem(schedule.source, f'the schedule "{schedule.name}" is declared twice: here and '
                                                         f"at {other.source}; keep one of them."))
                continue
            same = folded.setdefault(schedule.name.casefold(), schedule)
            if same is not schedule:
                problems.append(Problem(schedule.source, f'the schedules "{same.name}" (at {same.source}) and '
                                                         f'"{schedule.name}" differ only in case: Tableau treats them '
                                                         "as one name and refuses the second (409021); rename one."))
        for extract in fragment.extracts:
            ref = extract.ref
            identity = (ref.kind, "id", ref.id) if ref.id else (ref.kind, "path", *ref.project, ref.name or "")
            seen = extracts.setdefault(identity, extract)
            if seen is not extract:
                problems.append(Problem(extract.source, f'the {ref.kind} "{ref}" is declared twice: here and at '
                                                        f"{seen.source}; merge the two entries into one."))
        for rule in fragment.protect:
            protect.setdefault(rule, rule)
        for used in fragment.referenced:
            referenced.setdefault(used.name, used)
    for name in sorted(set(referenced) & set(schedules)):
        problems.append(Problem(referenced[name].source, f'the schedule "{name}" is in referenced_schedules: and also '
                                                         f"declared under schedules: at {schedules[name].source}; a "
                                                         "schedule is either managed (schedules:) or only used "
                                                         "(referenced_schedules:)."))
    declared = {name for fragment in fragments for name in fragment.declared} | set(referenced)
    for fragment in fragments:
        for name, source in fragment.references:
            if name not in declared and declared_in is not None:
                problems.append(Problem(source, f'the schedule "{name}" is not declared under schedules: in '
                                                f"{declared_in} or in any site's files."
                                                f"{did_you_mean(close_matches(name, declared), name)} Declare it in "
                                                f"{declared_in} (once, for every site), or name "
                                                "a declared schedule."))
            elif name not in declared:
                problems.append(Problem(source, f'the schedule "{name}" is not declared under schedules:'
                                                f"{_hint(suggest(name, declared))}"))
        _check_encryption(fragment, settings.get("encryption"), problems)
    value = {key: setting.value for key, setting in settings.items()}
    policy = Policy(prune=value.get("policy.prune", False),
                    scope=tuple(_project_path(p) for p in value.get("policy.scope", {}).get("projects", [])),
                    protect=tuple(protect), ignore=tuple(value.get("policy.ignore", ())),
                    max_deletes=value.get("policy.max_deletes", 50),
                    max_starts_per_slot=value.get("policy.load.max_starts_per_slot"))
    encryption = settings.get("encryption")
    desired = DesiredState(server=value.get("server"), site=value.get("site"), flavor=value.get("flavor"),
                           encryption_mode=value.get("encryption"),
                           encryption_source=encryption.source if encryption else None,
                           schedules=tuple(schedules.values()), extracts=tuple(extracts.values()), policy=policy,
                           referenced_schedules=tuple(sorted(referenced.values(), key=lambda r: r.name)),
                           files=tuple(f.name for f in fragments))
    return desired, places


def _hint(suggestion: str) -> str:
    if suggestion:
        return f"{suggestion} Declare the schedule, or name a declared one."
    return "; declare it there (or name a declared schedule)."


def _project_path(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split("/") if part)  # exact: "sales" is not "Sales", " Sales" is not either


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _check_encryption(fragment: Fragment, mode: Setting | None, problems: list[Problem]) -> None:
    if mode is None:
        return
    for extract, source in fragment.encrypts:
        what = f'{extract.ref.kind} "{extract.ref}"'
        if extract.encrypt and mode.value == "disabled":
            problems.append(Problem(source, f"encrypt: true on {what} needs the site's encryption mode enabled or "
                                            f"enforced, but encryption.mode is disabled (at {mode.source})."))
        if extract.encrypt is False and mode.value == "enforced":
            problems.append(Problem(source, f"encrypt: false on {what} cannot hold: encryption.mode is enforced "
                                            f"(at {mode.source}), which encrypts every extract; remove it or "
                                            "set the mode to enabled."))


def platform_problems(desired: DesiredState, flavor: str, places: Places | None = None) -> list[Problem]:
    """What ``flavor`` forbids in ``desired``. Without ``places``, Cloud flags non-default Server fields."""
    problems: list[Problem] = []
    if flavor not in FLAVORS:
        return [Problem(None, f"the flavor must be server or cloud, not {flavor!r}.")]
    if desired.flavor is not None and desired.flavor != flavor:
        platform = "Tableau Cloud" if flavor == "cloud" else "Tableau Server"
        return [Problem(None, f"the files say flavor: {desired.flavor}, but the site is {platform}; fix flavor: "
                              "in the files (or leave it out to detect it).")]
    if flavor == "cloud":
        for ref in desired.referenced_schedules:
            problems.append(Problem(ref.source, f'referenced_schedules: names a server schedule ("{ref.name}"), '
                                                "but Tableau Cloud has no server schedules; declare it under "
                                                "schedules: as a template instead."))
        _cloud_encryption(desired, places, problems)
        for schedule in desired.schedules:
            _cloud_schedule(schedule, places, problems)
        for extract in desired.extracts:
            for task in extract.refresh or ():
                if task.recurrence is not None and task.schedule is None:
                    _cloud_recurrence(task.recurrence, task.source, task.source,
                                      f'the inline recurrence of {extract.ref.kind} "{extract.ref}"', problems)
        return problems
    for extract in desired.extracts:
        for task in extract.refresh or ():
            if task.recurrence is not None and task.schedule is None:
                problems.append(Problem(task.source, f'an inline recurrence in the refresh: of {extract.ref.kind} '
                                                     f'"{extract.ref}" is Tableau Cloud only: on Tableau Server a '
                                                     "task runs on a server schedule. Declare it under schedules: "
                                                     "and name it (schedule: NAME)."))
    return problems


def _cloud_encryption(desired: DesiredState, places: Places | None, problems: list[Problem]) -> None:
    """Extract encryption at rest (site mode, per-item flag, its REST methods) is a Tableau Server feature.

    Tableau Cloud encrypts extracts at the service level and offers Customer-Managed Encryption Keys as a
    site setting of its own: neither ``encryption:`` nor ``encrypt:`` means anything there
    (docs/tableau-behaviour.md, "Extract encryption on Tableau Cloud").
    """
    if desired.encryption_mode is not None:
        problems.append(Problem(desired.encryption_source, "encryption: (the site's extract encryption mode) is "
                                "Tableau Server only: extract encryption at rest and its REST methods are a Tableau "
                                "Server feature. Tableau Cloud encrypts extracts itself, and its Customer-Managed "
                                "Encryption Keys are set in the site's settings (Security), not through the REST "
                                "API. Remove encryption: from the files for this Cloud site."))
    for extract in desired.extracts:
        if extract.encrypt is None:
            continue
        at = (places or {}).get(extract.source, {}).get("encrypt", extract.source) if extract.source else None
        problems.append(Problem(at, f'encrypt: on {extract.ref.kind} "{extract.ref}" is Tableau Server only (extract '
                                    "encryption at rest); Tableau Cloud has no per-item extract encryption to set "
                                    "through the REST API. Remove encrypt: from this entry."))


def _cloud_schedule(schedule: Schedule, places: Places | None, problems: list[Problem]) -> None:
    declared: Mapping[str, Source]
    if places is not None and schedule.source is not None and schedule.source in places:
        declared = places[schedule.source]
    else:
        defaults = {"priority": 50, "execution": "parallel", "state": "active"}
        declared = {f: schedule.source for f, v in defaults.items() if getattr(schedule, f) != v and schedule.source}
    for field in ("priority", "execution", "state"):
        if field in declared:
            problems.append(Problem(declared[field], f'{field}: is Tableau Server only (schedule "{schedule.name}"): '
                                                     "Tableau Cloud has no server schedules, only each task's own "
                                                     "recurrence; remove it."))
    _cloud_recurrence(schedule.recurrence, declared.get("weekdays", schedule.source),
                      declared.get("every", schedule.source), f'schedule "{schedule.name}"', problems)


def _cloud_recurrence(recurrence: Recurrence, weekdays_at: Source | None, every_at: Source | None, what: str,
                      problems: list[Problem]) -> None:
    """Tableau Cloud's own limits: weekly on one weekday; hourly every 60 minutes only (longer is daily).

    Sources: the Create/Update Cloud Extract Refresh Task reference (Hourly takes ``hours="1"`` or
    ``minutes="60"``) and the tableau-migration-sdk's Cloud validator (docs/tableau-behaviour.md).
    """
    every_minutes = recurrence.every or 60
    if recurrence.frequency == "hourly" and every_minutes > 60:
        every = format_every(every_minutes)
        problems.append(Problem(every_at, f"an hourly schedule on Tableau Cloud runs every 60 minutes only, but {what} "
                                          f"says every {every}; on Cloud write frequency: daily with every: {every} "
                                          "(and the same start and end)."))
    elif recurrence.frequency == "hourly" and every_minutes < 60:
        problems.append(Problem(every_at, f"an hourly schedule on Tableau Cloud runs every 60 minutes only, but {what} "
                                          f"says every {format_every(every_minutes)} (15m and 30m are Tableau Server "
                                          "only); write every: 1h."))
    weekdays, frequency, source = recurrence.weekdays, recurrence.frequency, weekdays_at
    if frequency == "weekly" and len(weekdays) != 1:
        problems.append(Problem(source, f"a weekly schedule on Tableau Cloud runs on exactly one weekday, but {what} "
                                        f"lists {len(weekdays)} ({', '.join(weekdays)}); use one weekday, or a "
                                        "daily schedule with weekdays:."))


def inline_templates(desired: DesiredState) -> tuple[DesiredState, list[Problem]]:
    """Cloud: give every task naming a schedule template that template's recurrence."""
    templates = {schedule.name: schedule for schedule in desired.schedules}
    problems: list[Problem] = []
    extracts: list[Extract] = []
    for extract in desired.extracts:
        if not extract.refresh:
            extracts.append(extract)
            continue
        tasks: list[RefreshTask] = []
        for task in extract.refresh:
            if task.schedule is not None:
                template = templates.get(task.schedule)
                if template is None:
                    problems.append(Problem(task.source, f'the schedule "{task.schedule}" is not declared under '
                                                         "schedules:."))
                    continue
                task = replace(task, recurrence=template.recurrence)
            tasks.append(task)
        extracts.append(replace(extract, refresh=tuple(tasks)))
    return replace(desired, extracts=tuple(extracts)), problems
