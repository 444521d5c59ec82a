#!/usr/bin/env python3
"""An example policy check over a reconciler plan (docs/plan-format.md), for CI to run before anyone applies it.

    reconciler plan tableau/ --out plan.json
    python examples/policy/check_plan.py plan.json --protect-project Finance --earliest 06:00

Rules (each optional, combine as you like):
  --protect-project NAME   refuse deleting or replacing any refresh task of an item in project NAME (or below it);
  --earliest HH:MM         refuse a schedule or task recurrence that starts before HH:MM on a weekday;
  --max-changes N          refuse a plan with more than N changes;
  --no-server-schedule-changes
                           refuse creating, updating or deleting Tableau Server schedules (shared by every site).

Prints one line per violation and exits 1 if there is any, 0 if the plan passes, 2 if the file is not a plan
this check understands (format 1.x). Standard library only: copy it into your repository and adapt the rules.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
ALL_DAYS = (*WEEKDAYS, "saturday", "sunday")


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes[:2] or 0)


def _runs_on_weekdays(value: dict[str, Any]) -> bool:
    frequency = value.get("frequency")
    if frequency in ("hourly", "daily"):
        days = value.get("weekdays") or ALL_DAYS  # left out: every day
        return any(day in WEEKDAYS for day in days)
    if frequency == "weekly":
        return any(day in WEEKDAYS for day in value.get("weekdays") or ())
    return frequency == "monthly"  # a day of the month falls on a weekday most months


def _when(change: dict[str, Any]) -> dict[str, Any] | None:
    """The recurrence a change leaves in place: a schedule's own, or a Cloud task's."""
    after = change.get("after") or {}
    if change["kind"] == "schedule":
        return after or None
    if change["kind"] == "task" and isinstance(after.get("recurrence"), dict):
        return dict(after["recurrence"])
    return None


def violations(plan: dict[str, Any], *, protect: Sequence[str] = (), earliest: str | None = None,
               max_changes: int | None = None, server_schedules: bool = True) -> Iterator[str]:
    """Every rule the plan breaks, one sentence each, naming the change by its address."""
    changes = plan["resource_changes"]
    if max_changes is not None and len(changes) > max_changes:
        yield f"the plan makes {len(changes)} changes, more than the {max_changes} allowed in one review"
    for change in changes:
        address, actions = change["address"], change["actions"]
        if change["kind"] == "task" and "delete" in actions:
            path = change["target"].get("item_path", "")
            for project in protect:
                if path.startswith(project.rstrip("/") + "/"):
                    verb = "replaces" if actions == ["delete", "create"] else "deletes"
                    yield f"{address}: {verb} a refresh task in the protected project {project!r}"
        if not server_schedules and change["kind"] == "schedule" and plan.get("flavor") == "server":
            yield f"{address}: changes a Tableau Server schedule ({'/'.join(actions)}), which every site shares"
        when = _when(change) if "create" in actions or actions == ["update"] or actions == ["move"] else None
        if (earliest is not None and when and "start" in when and _runs_on_weekdays(when)
                and _minutes(str(when["start"])) < _minutes(earliest)):
            yield f"{address}: starts at {when['start']} on weekdays, before {earliest}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("plan", type=Path, help="a plan from `reconciler plan --out FILE` (or --format json)")
    parser.add_argument("--protect-project", action="append", default=[], metavar="NAME")
    parser.add_argument("--earliest", metavar="HH:MM")
    parser.add_argument("--max-changes", type=int, metavar="N")
    parser.add_argument("--no-server-schedule-changes", action="store_true")
    args = parser.parse_args(argv)
    try:
        plan = json.loads(args.plan.read_text(encoding="utf-8"))
        major = str(plan["format_version"]).split(".")[0]
        if not isinstance(plan["resource_changes"], list):
            raise TypeError("resource_changes is not a list")
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"{args.plan}: not a reconciler plan ({error})", file=sys.stderr)
        return 2
    if major != "1":
        print(f"{args.plan}: plan format {plan['format_version']}; this check reads format 1.x", file=sys.stderr)
        return 2
    found = list(violations(plan, protect=args.protect_project, earliest=args.earliest,
                            max_changes=args.max_changes, server_schedules=not args.no_server_schedule_changes))
    for line in found:
        print(f"policy: {line}")
    count = len(plan["resource_changes"])
    print(f"{len(found)} policy violation(s) in {count} change(s)." if found else
          f"The plan passes the policy ({count} change(s)).")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
