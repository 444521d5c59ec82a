"""REST operations on server schedules, extract refresh tasks and jobs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import ClassVar

from . import scheduling
from .exceptions import EmulatorError
from .jobs import job_state
from .models import Job, Schedule, Task, User
from .query import Accessor, apply_filters, paginate
from .recurrence import Recurrence, normalize_recurrence
from .responses import BaseResponses, Reply, Req, no_content, ok
from .serializers import (
    TaskWriter,
    background_job_type,
    background_job_xml,
    cloud_task_pair_xml,
    job_xml,
    pagination_xml,
    schedule_xml,
)
from .wire import INCREMENTAL_REFRESH_API, api_at_least, boolean, child, iso, parse_body

__all__ = ["ScheduleResponses"]

SCHEDULE_TYPES = ("Extract", "Subscription", "Flow", "DataAcceleration")
EXECUTION_ORDERS = ("Parallel", "Serial")
STATES = ("Active", "Suspended")


def _recurrence(schedule_el: ET.Element, cloud: bool, base: Recurrence | None = None) -> Recurrence | None:
    """The recurrence in a `<schedule>`; None when it carries neither frequency nor details."""
    details = child(schedule_el, "frequencyDetails")
    frequency = schedule_el.get("frequency")
    if details is None and frequency is None:
        return None
    if details is None:
        if base is None:
            raise EmulatorError.invalid_schedule("The schedule has a frequency but no frequencyDetails.")
        raw = [dict(i) for i in base.intervals]
        return normalize_recurrence(frequency, base.start, base.end, raw, cloud)
    intervals = [dict(i.attrib) for i in details.iter("interval")]
    return normalize_recurrence(frequency or (base.frequency if base else None), details.get("start"),
                                details.get("end"), intervals, cloud)


def _priority(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        priority = int(value)
    except ValueError:
        priority = 0
    if not 1 <= priority <= 100:
        raise EmulatorError(400, "400000", "Bad Request", f"Invalid priority '{value}': use 1 to 100.")
    return priority


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if value is None:
        return None
    for option in allowed:
        if option.lower() == value.lower():
            return option
    raise EmulatorError(400, "400000", "Bad Request", f"Invalid {what} '{value}': use {' or '.join(allowed)}.")


def _target(el: ET.Element) -> tuple[str, str]:
    for kind in ("datasource", "workbook"):
        found = child(el, kind)
        if found is not None:
            item_id = found.get("id")
            if not item_id:
                raise EmulatorError.bad_request(f"The <{kind}> element has no id.")
            return kind, item_id
    raise EmulatorError.bad_request("The request names no <datasource> or <workbook>.")


_TIME_OPS = ("eq", "gt", "gte", "lt", "lte")


class ScheduleResponses(BaseResponses):
    """Server schedules, extract refresh tasks (Server and Cloud) and jobs."""

    def _not_on_cloud(self) -> None:
        if self.store.cloud:
            raise EmulatorError(401, "401000", "Unauthorized Access",
                                "Server schedules are not available on Tableau Cloud.")

    def _not_on_cloud_site(self, req: Req) -> None:
        if self.store.cloud:
            raise EmulatorError.not_found("404003", "Resource Not Found",
                                          f"Unknown resource '{req.path}' specified in URI.")

    # ---- server schedules -----------------------------------------------------------------------

    def list_schedules(self, req: Req) -> Reply:
        self.auth(req)
        self._not_on_cloud()
        schedules = self.store.list_schedules()
        fields: dict[str, Accessor[Schedule]] = {"name": lambda s: s.name, "type": lambda s: s.type,
                                                 "state": lambda s: s.state}
        schedules = apply_filters(schedules, req.args.get("filter"), fields)
        rows, number, size, total = paginate(schedules, req.args)
        now = self.store.clock()
        body = "".join(schedule_xml(s, now, details=False) for s in rows)
        return ok(pagination_xml(number, size, total) + f"<schedules>{body}</schedules>")

    def get_schedule(self, req: Req) -> Reply:
        self.auth(req)
        self._not_on_cloud()
        with self.store.lock:
            schedule = self.store.schedule(req.params["schedule_id"])
        return ok(schedule_xml(schedule, self.store.clock(), details=True))

    def _schedule_body(self, req: Req) -> tuple[User, ET.Element]:
        """The signed-in user and the request's <schedule> element (create and update; Server only)."""
        _, user = self.auth(req)
        self._not_on_cloud()
        el = child(parse_body(req.body), "schedule")
        if el is None:
            raise EmulatorError.bad_request("The request has no <schedule> element.")
        return user, el

    def create_schedule(self, req: Req) -> Reply:
        user, el = self._schedule_body(req)
        name = el.get("name")
        if not name or not name.strip():
            raise EmulatorError.bad_request("The schedule name is missing.")
        recurrence = _recurrence(el, False)
        if recurrence is None:
            raise EmulatorError.invalid_schedule("The schedule has no frequency or frequencyDetails.")
        schedule = scheduling.create_schedule(self.store,
            user, name=name, type=_choice(el.get("type"), SCHEDULE_TYPES, "schedule type") or "Extract",
            priority=_priority(el.get("priority")) or 50,
            execution_order=_choice(el.get("executionOrder"), EXECUTION_ORDERS, "executionOrder") or "Parallel",
            state=_choice(el.get("state"), STATES, "state") or "Active", recurrence=recurrence)
        return ok(schedule_xml(schedule, self.store.clock(), details=True), 201)

    def update_schedule(self, req: Req) -> Reply:
        user, el = self._schedule_body(req)
        with self.store.lock:
            current = self.store.schedule(req.params["schedule_id"])
        if el.get("type") is not None and _choice(el.get("type"), SCHEDULE_TYPES, "type") != current.type:
            raise EmulatorError.bad_request("The type of an existing schedule cannot be changed.")
        schedule = scheduling.update_schedule(self.store,
            user, current.id, name=el.get("name") or None, priority=_priority(el.get("priority")),
            execution_order=_choice(el.get("executionOrder"), EXECUTION_ORDERS, "executionOrder"),
            state=_choice(el.get("state"), STATES, "state"), recurrence=_recurrence(el, False, current.recurrence))
        return ok(schedule_xml(schedule, self.store.clock(), details=True))

    def delete_schedule(self, req: Req) -> Reply:
        _, user = self.auth(req)
        self._not_on_cloud()
        scheduling.delete_schedule(self.store, user, req.params["schedule_id"])
        return no_content()

    def batch_update_schedule_state(self, req: Req) -> Reply:
        """Batch Update Schedule State (API 3.27): `PUT /schedules?state=…[&updateAll=true]`."""
        _, user = self.auth(req)
        self._not_on_cloud()
        state = _choice(req.args.get("state"), STATES, "state")
        if state is None:
            raise EmulatorError.bad_request("The state query parameter is required.")
        update_all = bool(boolean(req.args.get("updateAll"), "updateAll"))
        root = parse_body(req.body, required=not update_all)
        ids = [(e.text or "").strip() for e in root.iter("scheduleLuid")]
        done = scheduling.batch_update_state(self.store, user, ids, state, update_all)
        return ok("<scheduleLuids>" + "".join(f"<scheduleLuid>{i}</scheduleLuid>" for i in done) + "</scheduleLuids>")

    def _add_to_schedule(self, req: Req, kind: str) -> Reply:
        site_id, user = self.site_id(req)
        self._not_on_cloud_site(req)
        root = parse_body(req.body)
        task_el = child(root, "task")
        refresh_el = child(task_el, "extractRefresh") if task_el is not None else None
        if refresh_el is None:
            raise EmulatorError.bad_request("The request has no <task><extractRefresh> element.")
        found_kind, item_id = _target(refresh_el)
        if found_kind != kind:
            raise EmulatorError.bad_request(f"This endpoint takes a <{kind}>, not a <{found_kind}>.")
        # Read (and so validated) like Tableau reads it, then ignored: the new task is a full refresh.
        boolean(refresh_el.get("incremental"), "incremental")
        schedule_id = req.params["schedule_id"]
        scheduling.add_to_schedule(self.store, user, site_id, schedule_id, kind, item_id)
        # As documented: no task id in the answer; clients list the tasks to learn it.
        return ok(f'<task><extractRefresh><schedule id="{schedule_id}"/><{kind} id="{item_id}"/>'
                  "</extractRefresh></task>")

    def add_datasource_to_schedule(self, req: Req) -> Reply:
        return self._add_to_schedule(req, "datasource")

    def add_workbook_to_schedule(self, req: Req) -> Reply:
        return self._add_to_schedule(req, "workbook")

    def list_extracts_in_schedule(self, req: Req) -> Reply:
        site_id, _ = self.site_id(req)
        self._not_on_cloud_site(req)
        tasks = scheduling.schedule_extracts(self.store, site_id, req.params["schedule_id"])
        rows, number, size, total = paginate(tasks, req.args)
        body = "".join(
            f'<extract id="{t.id}" priority="{t.priority}" '
            f'type="{"IncrementalRefresh" if t.incremental else "FullRefresh"}"><{t.item_kind} id="{t.item_id}"/>'
            "</extract>" for t in rows)
        return ok(pagination_xml(number, size, total) + f"<extracts>{body}</extracts>")

    # ---- extract refresh tasks ------------------------------------------------------------------

    def list_extract_refresh_tasks(self, req: Req) -> Reply:
        """List Extract Refresh Tasks in Site: one unpaginated `<tasks>` response."""
        site_id, _ = self.site_id(req)
        tasks, schedules = self.store.list_tasks(site_id)
        writer = TaskWriter(schedules, self.store.clock())
        return ok("<tasks>" + "".join([writer.task(t) for t in tasks]) + "</tasks>")

    def get_extract_refresh_task(self, req: Req) -> Reply:
        site_id, _ = self.site_id(req)
        task, schedule = scheduling.get_task(self.store, site_id, req.params["task_id"])
        writer = TaskWriter({schedule.id: schedule} if schedule else {}, self.store.clock())
        return ok(writer.task(task))

    def delete_extract_refresh_task(self, req: Req) -> Reply:
        site_id, user = self.site_id(req)
        scheduling.delete_task(self.store, user, site_id, req.params["task_id"])
        return no_content()

    def run_extract_refresh_task(self, req: Req) -> Reply:
        site_id, user = self.site_id(req)
        root = parse_body(req.body, required=False)
        refresh_el = child(root, "extractRefresh")
        incremental = boolean(refresh_el.get("incremental"), "incremental") if refresh_el is not None else None
        if not api_at_least(req.params.get("v"), INCREMENTAL_REFRESH_API):
            incremental = None  # Tableau ignores the body below 3.25: the task runs as it is defined
        job = scheduling.run_task(self.store, user, site_id, req.params["task_id"], incremental)
        return ok(job_xml(job, self.store.clock()))

    def _cloud_only(self, what: str) -> None:
        if not self.store.cloud:
            raise EmulatorError(405, "405000", "Invalid request method",
                                f"{what} is available on Tableau Cloud only; on Tableau Server add the item to "
                                "a server schedule.")

    def _cloud_task_parts(self, root: ET.Element, base: Task | None) -> tuple[
            tuple[str, str] | None, bool | None, Recurrence | None]:
        refresh_el = child(root, "extractRefresh")
        schedule_el = child(root, "schedule")
        target: tuple[str, str] | None = None
        incremental: bool | None = None
        if refresh_el is not None:
            kind = refresh_el.get("type")
            if kind is not None:
                if kind not in ("FullRefresh", "IncrementalRefresh", "IncrementalExtract"):
                    raise EmulatorError.bad_request(
                        f"Invalid extractRefresh type '{kind}': use FullRefresh or IncrementalRefresh.")
                incremental = kind != "FullRefresh"
            if child(refresh_el, "datasource") is not None or child(refresh_el, "workbook") is not None:
                target = _target(refresh_el)
        recurrence = None
        if schedule_el is not None:
            recurrence = _recurrence(schedule_el, True, base.recurrence if base else None)
        return target, incremental, recurrence

    def create_cloud_extract_refresh_task(self, req: Req) -> Reply:
        site_id, user = self.site_id(req)
        self._cloud_only("Create Cloud Extract Refresh Task")
        root = parse_body(req.body)
        target, incremental, recurrence = self._cloud_task_parts(root, None)
        if target is None:
            raise EmulatorError.bad_request("The request has no <extractRefresh> with a datasource or workbook.")
        if recurrence is None:
            raise EmulatorError.invalid_schedule("The request has no <schedule> with frequencyDetails.")
        task = scheduling.create_cloud_task(self.store, user, site_id, target[0], target[1], bool(incremental),
                                           recurrence)
        return ok(cloud_task_pair_xml(task, self.store.clock()))

    def update_cloud_extract_refresh_task(self, req: Req) -> Reply:
        site_id, user = self.site_id(req)
        self._cloud_only("Update Cloud Extract Refresh Task")
        root = parse_body(req.body)
        current, _ = scheduling.get_task(self.store, site_id, req.params["task_id"])
        target, incremental, recurrence = self._cloud_task_parts(root, current)
        task = scheduling.update_cloud_task(self.store, user, site_id, current.id, kind=target[0] if target else None,
                                            item_id=target[1] if target else None, incremental=incremental,
                                            recurrence=recurrence)
        return ok(cloud_task_pair_xml(task, self.store.clock()))

    # ---- jobs -----------------------------------------------------------------------------------

    def get_job(self, req: Req) -> Reply:
        site_id, _ = self.site_id(req)
        job = self.store.job(site_id, req.params["job_id"])
        return ok(job_xml(job, self.store.clock()))

    #: Query Jobs' filter fields and their operators (the Query Jobs reference, as tableau-mcp's
    #: list-jobs tool documents them; docs/tableau-behaviour.md). Times compare as ISO 8601 text.
    JOB_FILTER_OPERATORS: ClassVar[dict[str, tuple[str, ...]]] = {
        "jobType": ("eq", "in"), "status": ("eq",), "title": ("eq", "has"), "subtitle": ("eq", "has"),
        "notes": ("has",), "createdAt": _TIME_OPS, "startedAt": _TIME_OPS, "completedAt": _TIME_OPS,
    }

    def _filtered_jobs(self, site_id: str, expr: str | None) -> list[Job]:
        """The site's jobs through `expr`; the answer is kept while nothing changes, so that paging
        through a long history filters it once, not once per page."""
        self.store.settle()
        with self.store.lock:
            key = (site_id, expr, len(self.store.events), len(self.store.jobs), len(self.store.history))
            settled = all(j.settled for j in self.store.jobs.values() if j.site_id == site_id)
        cached = getattr(self, "_jobs_cache", None)
        if settled and cached is not None and cached[0] == key:
            return cached[1]  # type: ignore[no-any-return]
        jobs = self.store.list_jobs(site_id)
        now = self.store.clock()
        for clause in (expr or "").split(","):
            name, _, rest = clause.partition(":")
            operator = rest.partition(":")[0]
            allowed = self.JOB_FILTER_OPERATORS.get(name)
            if allowed is not None and operator and operator not in allowed:
                raise EmulatorError.bad_request(
                    f"Invalid filter operator '{operator}' for the field '{name}'. Supported: {', '.join(allowed)}.")
        fields: dict[str, Accessor[Job]] = {
            "status": lambda j: job_state(j, now).status,
            "jobType": background_job_type,
            "title": lambda j: j.item_name,
            "subtitle": lambda j: j.item_kind.capitalize(),
            "notes": lambda j: j.notes if job_state(j, now).finish_code == 1 else "",
            "createdAt": lambda j: iso(j.created_at) or "",
            "startedAt": lambda j: iso(job_state(j, now).started_at) or "",
            "completedAt": lambda j: iso(job_state(j, now).completed_at) or "",
        }
        rows = apply_filters(jobs, expr, fields)
        if settled:
            self._jobs_cache = (key, rows)
        return rows

    def list_jobs(self, req: Req) -> Reply:
        site_id, _ = self.site_id(req)
        now = self.store.clock()
        jobs = self._filtered_jobs(site_id, req.args.get("filter"))
        rows, number, size, total = paginate(jobs, req.args)
        body = "".join(background_job_xml(j, now) for j in rows)
        return ok(pagination_xml(number, size, total) + f"<backgroundJobs>{body}</backgroundJobs>")

    def cancel_job(self, req: Req) -> Reply:
        site_id, user = self.site_id(req)
        scheduling.cancel_job(self.store, user, site_id, req.params["job_id"])
        return no_content()
