"""Records → Tableau REST XML fragments (string building; element order per ts-api_3_29.xsd)."""

from __future__ import annotations

from collections.abc import Mapping

from . import jobs as joblife
from .models import ContentItem, Job, Project, Schedule, Site, Task, User
from .recurrence import Recurrence, next_run_at
from .wire import attrs, esc, iso, recurrence_xml

__all__ = [
    "DATASOURCE_ALL", "DATASOURCE_DEFAULT", "PROJECT_ALL", "PROJECT_DEFAULT", "WORKBOOK_ALL", "WORKBOOK_DEFAULT",
    "TaskWriter", "background_job_type", "background_job_xml", "cloud_task_pair_xml", "item_xml", "job_xml",
    "pagination_xml",
    "project_xml", "schedule_xml", "site_xml", "user_xml",
]

DATASOURCE_DEFAULT = ("id", "name", "contentUrl", "type", "description", "createdAt", "updatedAt",
                      "encryptExtracts", "hasExtracts", "isCertified", "useRemoteQueryAgent", "webpageUrl", "size",
                      "projectId", "projectName", "ownerId", "tags")
DATASOURCE_ALL = (*DATASOURCE_DEFAULT, "ownerName", "isPublished", "serverName", "databaseName",
                  "connectedWorkbooksCount", "favoritesTotal", "hasAlert", "certificationNote")
WORKBOOK_DEFAULT = ("id", "name", "description", "contentUrl", "webpageUrl", "showTabs", "size", "createdAt",
                    "updatedAt", "encryptExtracts", "hasExtracts", "defaultViewId", "sheetCount", "projectId",
                    "projectName", "ownerId", "tags")
WORKBOOK_ALL = (*WORKBOOK_DEFAULT, "ownerName", "lastPublishedAt", "favoritesTotal", "recentlyViewed")
PROJECT_DEFAULT = ("id", "name", "description", "parentProjectId", "contentPermissions", "createdAt", "updatedAt",
                   "topLevelProject", "writeable", "ownerId")
PROJECT_ALL = (*PROJECT_DEFAULT, "ownerName", "controllingPermissionsProjectId", "favoritesTotal")


def _b(value: bool) -> str:
    return "true" if value else "false"


def pagination_xml(number: int, size: int, total: int) -> str:
    return f'<pagination pageNumber="{number}" pageSize="{size}" totalAvailable="{total}"/>'


def site_xml(site: Site, usage: tuple[int, int] | None = None) -> str:
    """`<site …/>` with the attributes Query Site returns (and `<usage>` when asked)."""
    body = attrs((
        ("id", site.id), ("name", site.name), ("contentUrl", site.content_url), ("adminMode", site.admin_mode),
        ("state", site.state), ("storageQuota", "100000"), ("disableSubscriptions", "false"),
        ("revisionHistoryEnabled", "true"), ("revisionLimit", "25"), ("subscribeOthersEnabled", "true"),
        ("allowSubscriptionAttachments", "true"), ("guestAccessEnabled", "false"), ("cacheWarmupEnabled", "true"),
        ("commentingEnabled", "true"), ("extractEncryptionMode", site.encryption_mode),
        ("catalogingEnabled", "true"), ("runNowEnabled", "true"), ("requestAccessEnabled", "false"),
        ("useDefaultTimeZone", "true"), ("timeZone", "UTC"), ("userQuota", "-1"),
    ))
    if usage is None:
        return f"<site{body}/>"
    return f'<site{body}><usage numUsers="{usage[0]}" storage="{usage[1]}"/></site>'


def user_xml(user: User) -> str:
    return f"<user{attrs((('id', user.id), ('name', user.name), ('siteRole', user.site_role)))}/>"


def project_xml(project: Project, fields: frozenset[str], owners: Mapping[str, User]) -> str:
    owner = owners.get(project.owner_id)
    values: dict[str, str | None] = {
        "id": project.id, "name": project.name, "description": project.description,
        "parentProjectId": project.parent_id, "contentPermissions": project.content_permissions,
        "controllingPermissionsProjectId": project.id,
        "createdAt": iso(project.created_at), "updatedAt": iso(project.updated_at),
        "topLevelProject": _b(project.parent_id is None), "writeable": "true", "favoritesTotal": "0",
    }
    head = attrs((k, v) for k, v in values.items() if k in fields)
    owner_attrs = attrs((("id", project.owner_id if "ownerId" in fields else None),
                         ("name", owner.name if owner and "ownerName" in fields else None)))
    inner = f"<owner{owner_attrs}/>" if owner_attrs else ""
    return f"<project{head}>{inner}</project>" if inner else f"<project{head}/>"


def item_xml(item: ContentItem, fields: frozenset[str], projects: Mapping[str, Project],
             owners: Mapping[str, User], base_url: str = "") -> str:
    """`<datasource>` or `<workbook>` with only the requested fields; project, owner, tags children."""
    project = projects.get(item.project_id)
    owner = owners.get(item.owner_id)
    kind = item.kind
    web = f"{base_url}/#/{kind}s/{item.vizportal_id}"
    values: dict[str, str | None] = {
        "id": item.id, "name": item.name, "contentUrl": item.content_url, "description": item.description,
        "createdAt": iso(item.created_at), "updatedAt": iso(item.updated_at),
        "encryptExtracts": _b(item.encrypt_extracts), "hasExtracts": _b(item.has_extracts),
        "webpageUrl": web, "size": str(item.size), "favoritesTotal": "0",
    }
    if kind == "datasource":
        values.update({"type": item.ds_type, "isCertified": "false", "useRemoteQueryAgent": _b(item.bridge),
                       "isPublished": "true", "serverName": "warehouse.internal", "databaseName": "analytics",
                       "connectedWorkbooksCount": "0", "hasAlert": "false", "certificationNote": None})
    else:
        values.update({"showTabs": "true", "defaultViewId": None, "sheetCount": "3",
                       "lastPublishedAt": iso(item.updated_at), "recentlyViewed": "false"})
    head = attrs((k, v) for k, v in values.items() if k in fields)
    inner = ""
    project_attrs = attrs((("id", item.project_id if "projectId" in fields else None),
                           ("name", project.name if project and "projectName" in fields else None)))
    if project_attrs:
        inner += f"<project{project_attrs}/>"
    owner_attrs = attrs((("id", item.owner_id if "ownerId" in fields else None),
                         ("name", owner.name if owner and "ownerName" in fields else None)))
    if owner_attrs:
        inner += f"<owner{owner_attrs}/>"
    if "tags" in fields:
        inner += "<tags/>"
    return f"<{kind}{head}>{inner}</{kind}>" if inner else f"<{kind}{head}/>"


def schedule_xml(schedule: Schedule, now: float, *, details: bool) -> str:
    """A server schedule; `details` adds `<frequencyDetails>` (Get Server Schedule, not the list)."""
    head = attrs((
        ("id", schedule.id), ("name", schedule.name), ("state", schedule.state),
        ("priority", str(schedule.priority)), ("createdAt", iso(schedule.created_at)),
        ("updatedAt", iso(schedule.updated_at)), ("type", schedule.type),
        ("frequency", schedule.recurrence.frequency),
        ("nextRunAt", iso(next_run_at(schedule.recurrence, now)) if schedule.state == "Active" else None),
        ("executionOrder", schedule.execution_order),
    ))
    if not details:
        return f"<schedule{head}/>"
    if schedule.customized_monthly:
        return (f'<schedule{head}><frequencyDetails start="{schedule.recurrence.start}"><intervals>'
                f'<interval monthDay="Customized Monthly"/></intervals></frequencyDetails></schedule>')
    return f"<schedule{head}>{recurrence_xml(schedule.recurrence)}</schedule>"


class TaskWriter:
    """Serialises many tasks fast: each schedule / recurrence element is built once per response."""

    def __init__(self, schedules: Mapping[str, Schedule], now: float) -> None:
        self.schedules = schedules
        self.now = now
        self._server: dict[str, str] = {}
        self._cloud: dict[Recurrence, str] = {}

    def schedule_element(self, task: Task) -> str:
        if task.schedule_id is not None:
            cached = self._server.get(task.schedule_id)
            if cached is None:
                schedule = self.schedules.get(task.schedule_id)
                cached = "" if schedule is None else schedule_xml(schedule, self.now, details=False)
                self._server[task.schedule_id] = cached
            return cached
        if task.recurrence is None:
            return ""
        cached = self._cloud.get(task.recurrence)
        if cached is None:
            rec = task.recurrence
            cached = (f'<schedule frequency="{rec.frequency}" nextRunAt="{iso(next_run_at(rec, self.now))}">'
                      f"{recurrence_xml(rec)}</schedule>")
            self._cloud[rec] = cached
        return cached

    def task(self, task: Task) -> str:
        """`<task><extractRefresh …><schedule/><datasource id/></extractRefresh></task>`.

        The type is `IncrementExtractTask` or `RefreshExtractTask`, with no `incremental` attribute, as
        real task lists answer (ledger: "Task types").
        """
        kind = "IncrementExtractTask" if task.incremental else "RefreshExtractTask"
        return (f'<task><extractRefresh id="{task.id}" priority="{task.priority}" '
                f'consecutiveFailedCount="{task.consecutive_failed_count}" type="{kind}">'
                f'{self.schedule_element(task)}<{task.item_kind} id="{task.item_id}"/></extractRefresh></task>')


def cloud_task_pair_xml(task: Task, now: float) -> str:
    """Create/Update Cloud Extract Refresh Task response: `<extractRefresh>` and `<schedule>` as siblings."""
    kind = "IncrementalRefresh" if task.incremental else "FullRefresh"
    rec = task.recurrence
    out = (f'<extractRefresh id="{task.id}" priority="{task.priority}" '
           f'consecutiveFailedCount="{task.consecutive_failed_count}" type="{kind}">'
           f'<{task.item_kind} id="{task.item_id}"/></extractRefresh>')
    if rec is not None:
        out += (f'<schedule createdAt="{iso(task.created_at)}" updatedAt="{iso(now)}" frequency="{rec.frequency}" '
                f'nextRunAt="{iso(next_run_at(rec, now))}">{recurrence_xml(rec)}</schedule>')
    return out


_JOB_CHILD = {"RefreshExtract": "extractRefreshJob", "CreateExtract": "extractCreationJob",
              "DeleteExtract": "extractDeletionJob"}


def job_xml(job: Job, now: float) -> str:
    """`<job>` with its current lifecycle state; notes (before the target, per the XSD) on failure."""
    state = joblife.job_state(job, now)
    head = attrs((
        ("id", job.id), ("mode", "Asynchronous"), ("type", job.type), ("progress", str(state.progress)),
        ("createdAt", iso(job.created_at)), ("startedAt", iso(state.started_at)),
        ("completedAt", iso(state.completed_at)),
        ("finishCode", None if state.finish_code is None else str(state.finish_code)),
    ))
    notes = f"<notes>{esc(job.notes)}</notes>" if state.finish_code == 1 and job.notes else ""
    target = f"<{job.item_kind}{attrs((('id', job.item_id), ('name', job.item_name)))}/>"
    tag = _JOB_CHILD.get(job.type, "extractRefreshJob")
    return f"<job{head}><{tag}>{notes}{target}</{tag}></job>"


def background_job_type(job: Job) -> str:
    """The Query Jobs `jobType` of a job (refresh_extracts, increment_extracts, ...)."""
    if job.type == "RefreshExtract":
        return "increment_extracts" if job.incremental else "refresh_extracts"
    return "create_extracts" if job.type == "CreateExtract" else "delete_extracts"


def background_job_xml(job: Job, now: float) -> str:
    """A Query Jobs `<backgroundJob>`."""
    state = joblife.job_state(job, now)
    job_type = background_job_type(job)
    return "<backgroundJob" + attrs((
        ("id", job.id), ("status", state.status), ("createdAt", iso(job.created_at)),
        ("startedAt", iso(state.started_at)), ("endedAt", iso(state.completed_at)), ("priority", "50"),
        ("jobType", job_type), ("title", job.item_name), ("subtitle", job.item_kind.capitalize()),
    )) + "/>"
