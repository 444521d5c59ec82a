"""The emulator's state (moto's `models.py`): records and the `Store` backend. No XML, no HTTP.

Records are frozen dataclasses; the store replaces them on change. One re-entrant lock guards
everything, so a concurrent client never sees a half-applied change. Every state change appends an
event tuple `(kind, site_luid | None, object_id, *details)` to `Store.events` (see `Event`).
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import jobs as joblife
from .exceptions import EmulatorError
from .recurrence import Recurrence

__all__ = [
    "ContentItem", "Event", "Job", "Pat", "Project", "Schedule", "Session", "Site", "Store", "Task", "User",
    "not_extractable",
]

Event = tuple[str, ...]
"""`(kind, site_luid or "", object_id, *details)`, e.g. `("task.created", site, task, "datasource", ds)`."""

ADMIN_ROLES = ("ServerAdministrator", "SiteAdministratorCreator", "SiteAdministratorExplorer")
ENCRYPTION_MODES = ("enforced", "enabled", "disabled")


def new_id() -> str:
    """A fresh LUID."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str
    content_url: str
    encryption_mode: str = "enabled"
    state: str = "Active"
    admin_mode: str = "ContentAndUsers"
    key_version: int = 1
    """Bumped by reencrypt-extracts (new keys)."""


@dataclass(frozen=True, slots=True)
class User:
    id: str
    site_id: str
    name: str
    site_role: str
    password: str
    vizportal_id: int = 0

    @property
    def is_admin(self) -> bool:
        return self.site_role in ADMIN_ROLES


@dataclass(frozen=True, slots=True)
class Pat:
    name: str
    secret: str
    user_name: str


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user_id: str
    site_id: str
    created_at: float
    expires_at: float
    pat_name: str | None = None


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    site_id: str
    name: str
    parent_id: str | None
    owner_id: str
    description: str = ""
    content_permissions: str = "ManagedByOwner"
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class ContentItem:
    """A published data source (`kind="datasource"`) or workbook (`kind="workbook"`)."""

    kind: str
    id: str
    site_id: str
    name: str
    project_id: str
    owner_id: str
    content_url: str
    created_at: float
    updated_at: float
    has_extracts: bool = True
    encrypt_extracts: bool = False
    description: str = ""
    size: int = 1
    fails_refresh: bool = False
    """Seeded: every refresh job of this item ends with finishCode 1."""
    vizportal_id: int = 0
    ds_type: str = "dataengine"
    bridge: bool = False
    """Its connection goes through Tableau Bridge (Cloud): refresh jobs follow the Bridge lifecycle."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A Tableau Server schedule (server-wide; none on Cloud)."""

    id: str
    name: str
    type: str
    priority: int
    execution_order: str
    state: str
    recurrence: Recurrence
    created_at: float
    updated_at: float
    vizportal_id: int = 0
    customized_monthly: bool = False
    """Made in the web UI on several days of the month: Get Server Schedule answers its days as
    `<interval monthDay="Customized Monthly"/>` (ledger: "Customized Monthly")."""


@dataclass(frozen=True, slots=True)
class Task:
    """An extract refresh task: on a server schedule (`schedule_id`) or, on Cloud, its own `recurrence`."""

    id: str
    site_id: str
    item_kind: str
    item_id: str
    incremental: bool
    priority: int
    consecutive_failed_count: int
    schedule_id: str | None
    recurrence: Recurrence | None
    created_at: float
    vizportal_id: int = 0


@dataclass(frozen=True, slots=True)
class Job:
    """A background job; its state is computed from timestamps (see `jobs.py`)."""

    id: str
    site_id: str
    type: str
    item_kind: str
    item_id: str
    item_name: str
    task_id: str | None
    incremental: bool
    created_at: float
    duration: float
    fails: bool
    notes: str = ""
    cancelled_at: float | None = None
    settled: bool = False
    bridge: bool = False
    """A Tableau Bridge refresh: finishCode 0 while a Bridge client is assigned, 3 or 1 at the end."""
    queued: float | None = None
    """Seconds spent queued before starting; None: the first fifth of `duration` (see `jobs.py`)."""


def not_extractable(item: ContentItem) -> EmulatorError:
    """A refresh (or a refresh task) of an item without an extract: 409090, as a real server answered a
    refresh it would not run (ledger: "Tasks on items without an extract"; the cause is guessed)."""
    return EmulatorError(409, "409090", "Bad Request",
                         f"Extract operation for the {item.kind} '{item.name}' is not allowed.")


class TaskTable(dict[str, Task]):
    """The tasks by id, also indexed by item: a task's item never changes, so the index follows
    insertions and deletions only (checks such as "already on this schedule" stay O(tasks of the item))."""

    def __init__(self) -> None:
        super().__init__()
        self._by_item: dict[str, set[str]] = {}

    def __setitem__(self, task_id: str, task: Task) -> None:
        super().__setitem__(task_id, task)
        self._by_item.setdefault(task.item_id, set()).add(task_id)

    def __delitem__(self, task_id: str) -> None:
        task = self[task_id]
        super().__delitem__(task_id)
        self._by_item.get(task.item_id, set()).discard(task_id)

    def of_item(self, item_id: str) -> list[Task]:
        """The tasks of one item."""
        return [self[t] for t in sorted(self._by_item.get(item_id, ())) if t in self]


@dataclass
class _Counters:
    vizportal: int = 100


@dataclass
class Store:
    """All state of one emulated Tableau Server or Cloud pod, behind one lock."""

    flavor: str = "server"
    job_seconds: float = 1.0
    token_ttl: float = 14400.0
    clock: Callable[[], float] = time.time
    sites: dict[str, Site] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    pats: dict[str, Pat] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    items: dict[str, ContentItem] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    tasks: TaskTable = field(default_factory=TaskTable)
    jobs: dict[str, Job] = field(default_factory=dict)
    history: dict[str, Job] = field(default_factory=dict)
    """Past, finished refresh jobs from the seed (oldest first); never settled again."""
    events: list[Event] = field(default_factory=list)
    on_change: Callable[[], None] | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    counters: _Counters = field(default_factory=_Counters)

    @property
    def cloud(self) -> bool:
        return self.flavor == "cloud"

    # ---- plumbing -------------------------------------------------------------------------------

    def next_vizportal_id(self) -> int:
        """A fresh Vizportal (repository) integer id."""
        self.counters.vizportal += 1
        return self.counters.vizportal

    def _changed(self, *event: str) -> None:
        self.events.append(tuple(event))
        if self.on_change is not None:
            self.on_change()

    def _settle(self) -> None:
        """Apply the effects of every job that has finished by now (lazy job lifecycle)."""
        now = self.clock()
        for job in [j for j in self.jobs.values() if not j.settled]:
            done_at = joblife.completed_at(job)
            if done_at is None or done_at > now:
                continue
            self.jobs[job.id] = replace(job, settled=True)
            code = joblife.finish_code(job)
            if code in (0, 1, 3):
                targets = [job.task_id] if job.task_id else [t.id for t in self.tasks.of_item(job.item_id)]
                for task_id in targets:
                    task = self.tasks.get(task_id)
                    if task is not None:
                        ccf = task.consecutive_failed_count + 1 if code == 1 else 0
                        self.tasks[task_id] = replace(task, consecutive_failed_count=ccf)
                item = self.items.get(job.item_id)
                if item is not None and code in (0, 3):
                    self.items[item.id] = replace(item, updated_at=done_at)
            self._changed("job.finished", job.site_id, job.id, str(code))

    def item_path(self, item_id: str) -> str:
        """``Project/Sub-project/Name`` of an item, as a client names it."""
        item = self.items[item_id]
        parts = [item.name]
        project = self.projects.get(item.project_id)
        while project is not None:
            parts.insert(0, project.name)
            project = self.projects.get(project.parent_id) if project.parent_id else None
        return "/".join(parts)

    def remove_task(self, task: Task) -> None:
        """Delete a task and record it (callers hold the lock)."""
        del self.tasks[task.id]
        self._changed("task.deleted", task.site_id, task.id, task.item_kind, task.item_id)

    def settle(self) -> None:
        """Public entry to apply finished jobs (used before reads)."""
        with self.lock:
            self._settle()

    # ---- auth -----------------------------------------------------------------------------------

    def site_by_content_url(self, content_url: str) -> Site | None:
        for site in self.sites.values():
            if site.content_url.lower() == content_url.lower():
                return site
        return None

    def user_by_name(self, site_id: str, name: str) -> User | None:
        for user in self.users.values():
            if user.site_id == site_id and user.name.lower() == name.lower():
                return user
        return None

    def sign_in(self, content_url: str, *, user_name: str | None = None, password: str | None = None,
                pat_name: str | None = None, pat_secret: str | None = None,
                trusted_user: str | None = None) -> Session:
        """Authenticate (password, PAT, or a JWT's subject) on the site with this contentUrl."""
        failed = EmulatorError(401, "401001", "Signin Error", "Error signing in to Tableau Server")
        with self.lock:
            site = self.site_by_content_url(content_url or "")
            if site is None:
                raise failed
            if pat_name is not None:
                pat = self.pats.get(pat_name)
                if pat is None or not secrets.compare_digest(pat.secret, pat_secret or ""):
                    raise failed
                user = self.user_by_name(site.id, pat.user_name)
                # One live session per PAT: signing in again ends the previous one.
                for token in [s.token for s in self.sessions.values() if s.pat_name == pat_name]:
                    del self.sessions[token]
            elif trusted_user is not None:
                user = self.user_by_name(site.id, trusted_user)
            else:
                user = self.user_by_name(site.id, user_name or "")
                if user is not None and not secrets.compare_digest(user.password, password or ""):
                    user = None
            if user is None:
                raise failed
            now = self.clock()
            session = Session(secrets.token_urlsafe(24) + "|" + secrets.token_hex(8), user.id, site.id, now,
                              now + self.token_ttl, pat_name)
            self.sessions[session.token] = session
            return session

    def session(self, token: str | None) -> tuple[Session, User]:
        """The live session of this token and its user; 401002 when missing, unknown or expired."""
        with self.lock:
            session = self.sessions.get(token or "")
            if session is None:
                raise EmulatorError.unauthorized()
            if session.expires_at <= self.clock():
                del self.sessions[session.token]
                raise EmulatorError.unauthorized()
            return session, self.users[session.user_id]

    def sign_out(self, token: str) -> None:
        with self.lock:
            self.sessions.pop(token, None)

    def switch_site(self, token: str, content_url: str) -> Session:
        """End this session and open one for the same user on another site (403070 if already there).

        Tableau Server only: on Cloud the session stays as it was and the call is refused (ledger:
        "Switch Site", the Cloud answer is guessed).
        """
        with self.lock:
            session, user = self.session(token)
            if self.cloud:
                raise EmulatorError.forbidden(
                    "403000", "Forbidden",
                    "Switch Site is not available on Tableau Cloud: sign in to each site instead.")
            site = self.site_by_content_url(content_url)
            if site is None:
                raise EmulatorError.not_found("404000", "Site not found",
                                              f"The site '{content_url}' does not exist.")
            if site.id == session.site_id:
                raise EmulatorError.forbidden("403070", "Forbidden", "You are already signed in to this site.")
            target = self.user_by_name(site.id, user.name)
            if target is None:
                raise EmulatorError(401, "401001", "Signin Error", "The user is not a member of the site.")
            del self.sessions[token]
            now = self.clock()
            new = Session(secrets.token_urlsafe(24) + "|" + secrets.token_hex(8), target.id, site.id, now,
                          now + self.token_ttl, session.pat_name)
            self.sessions[new.token] = new
            return new

    # ---- lookups --------------------------------------------------------------------------------

    def site(self, site_id: str) -> Site:
        site = self.sites.get(site_id)
        if site is None:
            raise EmulatorError.not_found("404000", "Site not found",
                                          f"The site ID '{site_id}' doesn't correspond to an existing site.")
        return site

    def item(self, site_id: str, kind: str, item_id: str) -> ContentItem:
        item = self.items.get(item_id)
        if item is None or item.kind != kind or item.site_id != site_id:
            if kind == "datasource":
                raise EmulatorError.not_found("404004", "Data source not found",
                                              f"The data source ID '{item_id}' doesn't correspond to an "
                                              "existing data source.")
            raise EmulatorError.not_found("404006", "Workbook not found",
                                          f"The workbook ID '{item_id}' doesn't correspond to an existing workbook.")
        return item

    def project(self, site_id: str, project_id: str) -> Project:
        project = self.projects.get(project_id)
        if project is None or project.site_id != site_id:
            raise EmulatorError.not_found("404005", "Project not found",
                                          f"The project ID '{project_id}' doesn't correspond to an existing project.")
        return project

    def schedule(self, schedule_id: str) -> Schedule:
        schedule = self.schedules.get(schedule_id)
        if schedule is None:
            raise EmulatorError.not_found("404013", "Schedule not found",
                                          f"The schedule ID '{schedule_id}' doesn't correspond to an existing "
                                          "schedule.")
        return schedule

    def task(self, site_id: str, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None or task.site_id != site_id:
            raise EmulatorError.not_found("404026", "Task not found",
                                          f"The task ID '{task_id}' doesn't correspond to an existing task.")
        return task

    def job(self, site_id: str, job_id: str) -> Job:
        with self.lock:
            self._settle()
            job = self.jobs.get(job_id) or self.history.get(job_id)
            if job is None or job.site_id != site_id:
                raise EmulatorError.not_found("404031", "Job not found",
                                              f"The job ID '{job_id}' doesn't correspond to an existing job.")
            return job

    def user(self, site_id: str, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None or user.site_id != site_id:
            raise EmulatorError.not_found("404002", "User not found",
                                          f"The user ID '{user_id}' doesn't correspond to an existing user.")
        return user

    # ---- snapshots (immutable records, safe to serialise outside the lock) -----------------------

    def list_sites(self) -> list[Site]:
        with self.lock:
            return list(self.sites.values())

    def sites_of(self, user: User) -> list[Site]:
        """The sites where this user's name has an account (where they may sign in or switch to)."""
        with self.lock:
            names = {u.site_id for u in self.users.values() if u.name.lower() == user.name.lower()}
            return [s for s in self.sites.values() if s.id in names]

    def list_users(self, site_id: str) -> list[User]:
        with self.lock:
            return [u for u in self.users.values() if u.site_id == site_id]

    def list_projects(self, site_id: str) -> list[Project]:
        with self.lock:
            return [p for p in self.projects.values() if p.site_id == site_id]

    def list_items(self, site_id: str, kind: str) -> list[ContentItem]:
        with self.lock:
            self._settle()
            return [i for i in self.items.values() if i.site_id == site_id and i.kind == kind]

    def list_schedules(self) -> list[Schedule]:
        with self.lock:
            return list(self.schedules.values())

    def list_tasks(self, site_id: str) -> tuple[list[Task], dict[str, Schedule]]:
        """The site's tasks and the schedules they refer to, from one consistent snapshot."""
        with self.lock:
            self._settle()
            return [t for t in self.tasks.values() if t.site_id == site_id], dict(self.schedules)

    def list_jobs(self, site_id: str) -> list[Job]:
        with self.lock:
            self._settle()
            recent = sorted((j for j in self.jobs.values() if j.site_id == site_id),
                            key=lambda j: j.created_at, reverse=True)
            # The seed's history is older than any job made since: newest first after them.
            return recent + [j for j in reversed(self.history.values()) if j.site_id == site_id]

    # ---- sites and encryption -------------------------------------------------------------------

    def update_site(self, user: User, site_id: str, changes: dict[str, str]) -> Site:
        """Update Site: name, contentUrl, state, adminMode, extractEncryptionMode (others are accepted)."""
        with self.lock:
            site = self.site(site_id)
            if not user.is_admin:
                raise EmulatorError.forbidden("403004", "Update forbidden",
                                              "Only administrators can update a site.")
            mode = changes.get("extractEncryptionMode")
            if mode is not None and mode.lower() != site.encryption_mode:
                self._check_encryption_admin(user, "change the site's extractEncryptionMode")
            if mode is not None and mode.lower() not in ENCRYPTION_MODES:
                raise EmulatorError(400, "400000", "Bad Request",
                                    f"Invalid extractEncryptionMode '{mode}'. Valid values are enforced, "
                                    "enabled or disabled.")
            content_url = changes.get("contentUrl", site.content_url)
            other = self.site_by_content_url(content_url)
            if other is not None and other.id != site.id:
                raise EmulatorError(409, "409021", "Conflict", f"A site with contentUrl '{content_url}' exists.")
            updated = replace(site, name=changes.get("name") or site.name, content_url=content_url,
                              state=changes.get("state", site.state),
                              admin_mode=changes.get("adminMode", site.admin_mode),
                              encryption_mode=mode.lower() if mode else site.encryption_mode)
            self.sites[site.id] = updated
            if updated.encryption_mode != site.encryption_mode:
                self._apply_mode(updated)
                self._changed("site.encryption_mode", site.id, site.id, updated.encryption_mode)
            if updated != replace(site, encryption_mode=updated.encryption_mode):
                self._changed("site.updated", site.id, site.id)
            return updated

    def _apply_mode(self, site: Site) -> None:
        if site.encryption_mode == "enabled":
            return
        encrypt = site.encryption_mode == "enforced"
        for item in list(self.items.values()):
            if item.site_id == site.id and item.has_extracts and item.encrypt_extracts != encrypt:
                self.items[item.id] = replace(item, encrypt_extracts=encrypt)

    def encryption_action(self, user: User, site_id: str, action: str) -> None:
        """encrypt-extracts, decrypt-extracts or reencrypt-extracts, under the site mode's rules."""
        with self.lock:
            site = self.site(site_id)
            self._check_encryption_admin(user, action)
            mode = site.encryption_mode
            if action in ("encrypt-extracts", "reencrypt-extracts") and mode == "disabled":
                raise EmulatorError.bad_request(
                    f"Extract encryption is disabled on site '{site.name}'; {action} is not allowed.")
            if action == "decrypt-extracts" and mode == "enforced":
                raise EmulatorError.bad_request(
                    f"Extract encryption is enforced on site '{site.name}'; extracts cannot be decrypted.")
            if action == "reencrypt-extracts":
                self.sites[site.id] = replace(site, key_version=site.key_version + 1)
            else:
                encrypt = action == "encrypt-extracts"
                for item in list(self.items.values()):
                    if item.site_id == site.id and item.has_extracts and item.encrypt_extracts != encrypt:
                        self.items[item.id] = replace(item, encrypt_extracts=encrypt)
            self._changed(f"site.{action}", site.id, site.id)

    def _check_encryption_admin(self, user: User, what: str) -> None:
        """Extract encryption at rest is managed by server administrators, and is a Tableau Server feature.

        Documented: only a server administrator sets a site's encryption mode (docs/tableau-behaviour.md,
        "Extract encryption mode is for server administrators"). Guessed: the 403004 code and its text, and
        what Tableau Cloud answers ("Extract encryption on Tableau Cloud": no evidence, so refused).
        """
        if self.cloud:
            raise EmulatorError.forbidden(
                "403004", "Forbidden",
                f"Cannot {what}: extract encryption at rest (extractEncryptionMode, encryptExtracts, "
                "encrypt/decrypt/reencrypt-extracts) is a Tableau Server feature; Tableau Cloud encrypts "
                "extracts in its own site settings.")
        if user.site_role != "ServerAdministrator":
            raise EmulatorError.forbidden(
                "403004", "Forbidden",
                f"Only server administrators can {what}; a site administrator cannot.")

    # ---- content --------------------------------------------------------------------------------

    def _check_encrypt(self, site: Site, encrypt: bool) -> None:
        if encrypt and site.encryption_mode == "disabled":
            raise EmulatorError.bad_request(
                f"Extract encryption is disabled on site '{site.name}'; encryptExtracts cannot be true.")
        if not encrypt and site.encryption_mode == "enforced":
            raise EmulatorError.bad_request(
                f"Extract encryption is enforced on site '{site.name}'; encryptExtracts cannot be false.")

    def update_item(self, user: User, site_id: str, kind: str, item_id: str, *, name: str | None = None,
                    description: str | None = None, encrypt: bool | None = None, project_id: str | None = None,
                    owner_id: str | None = None) -> ContentItem:
        """Update Data Source / Update Workbook (the fields the emulator models)."""
        with self.lock:
            site = self.site(site_id)
            item = self.item(site_id, kind, item_id)
            if not user.is_admin and item.owner_id != user.id:
                raise EmulatorError.forbidden("403032", "Update forbidden",
                                              f"The user is not allowed to update this {kind}.")
            if encrypt is not None and encrypt != item.encrypt_extracts:
                if self.cloud:
                    self._check_encryption_admin(user, f"change encryptExtracts of this {kind}")
                self._check_encrypt(site, encrypt)
            if project_id is not None:
                self.project(site_id, project_id)
            if owner_id is not None:
                self.user(site_id, owner_id)
            if name is not None:
                if not name.strip() or len(name) > 255:
                    raise EmulatorError(400, "400008", "Invalid parameter value", f"Invalid {kind} name.")
                for other in self.items.values():
                    if (other.site_id == site_id and other.kind == kind and other.id != item.id
                            and other.project_id == (project_id or item.project_id)
                            and other.name.lower() == name.lower()):
                        raise EmulatorError(409, "409015" if kind == "datasource" else "409005", "Name conflict",
                                            f"A {kind} named '{name}' already exists in the project.")
            updated = replace(item, name=name if name is not None else item.name,
                              description=description if description is not None else item.description,
                              encrypt_extracts=encrypt if encrypt is not None else item.encrypt_extracts,
                              project_id=project_id or item.project_id, owner_id=owner_id or item.owner_id,
                              updated_at=self.clock())
            self.items[item.id] = updated
            self._changed("item.updated", site_id, item.id, kind)
            return updated

    def update_project(self, user: User, site_id: str, project_id: str, changes: dict[str, str]) -> Project:
        """Update Project (name, description); an empty change set is a read (TSC's get_by_id)."""
        with self.lock:
            self.site(site_id)
            project = self.project(site_id, project_id)
            wanted = {k: v for k, v in changes.items() if k in ("name", "description", "contentPermissions")}
            if not wanted:
                return project
            if not user.is_admin:
                raise EmulatorError.forbidden("403004", "Update forbidden", "Only administrators can update projects.")
            updated = replace(project, name=wanted.get("name", project.name),
                              description=wanted.get("description", project.description),
                              content_permissions=wanted.get("contentPermissions", project.content_permissions),
                              updated_at=self.clock())
            self.projects[project.id] = updated
            self._changed("project.updated", site_id, project.id)
            return updated

    def create_project(self, user: User, site_id: str, *, name: str, description: str = "",
                       parent_id: str | None = None) -> Project:
        """Create Project: a name a sibling already has is 409006 (tabcmd's "already exists" code)."""
        with self.lock:
            self.site(site_id)
            if not user.is_admin:
                raise EmulatorError.forbidden("403004", "Create forbidden", "Only administrators can create projects.")
            if not name.strip() or len(name) > 255:
                raise EmulatorError(400, "400008", "Invalid parameter value", "Invalid project name.")
            if parent_id is not None:
                self.project(site_id, parent_id)
            for other in self.projects.values():
                if other.site_id == site_id and other.parent_id == parent_id and other.name.lower() == name.lower():
                    raise EmulatorError(409, "409006", "Resource Conflict",
                                        f"A project named '{name}' already exists at this level.")
            now = self.clock()
            project = Project(new_id(), site_id, name, parent_id, user.id, description, "ManagedByOwner", now, now)
            self.projects[project.id] = project
            self._changed("project.created", site_id, project.id)
            return project

    def delete_project(self, user: User, site_id: str, project_id: str) -> None:
        """Delete Project: its workbooks, data sources (and their tasks) and child projects go with it."""
        with self.lock:
            self.site(site_id)
            if not user.is_admin:
                raise EmulatorError.forbidden("403004", "Delete forbidden", "Only administrators can delete projects.")
            doomed = {self.project(site_id, project_id).id}
            while True:
                more = {p.id for p in self.projects.values() if p.parent_id in doomed} - doomed
                if not more:
                    break
                doomed |= more
            for item in [i for i in self.items.values() if i.project_id in doomed]:
                for task in self.tasks.of_item(item.id):
                    self.remove_task(task)
                del self.items[item.id]
            for pid in doomed:
                del self.projects[pid]
            self._changed("project.deleted", site_id, project_id)

    def _start_job(self, site_id: str, item: ContentItem, *, job_type: str, incremental: bool,
                   task_id: str | None) -> Job:
        self._settle()
        for job in self.jobs.values():
            if job.item_id == item.id and not job.settled and job.type == job_type:
                raise EmulatorError(409, "409093", "Resource Conflict",
                                    f"Job for '{item.name}' is already queued. Not queuing a duplicate.")
        fails = item.fails_refresh and job_type == "RefreshExtract"
        notes = (f"com.tableausoftware.nativeapi.exceptions.DataSourceException: Unable to connect to the "
                 f"server for '{item.name}'. Login failed for user 'etl_reader'." if fails else "")
        if fails and item.bridge:
            notes = (f"Tableau Bridge: the refresh of '{item.name}' failed on the Bridge client: unable to connect "
                     "to the server 'sqlprod01.corp.local'.")
        job = Job(new_id(), site_id, job_type, item.kind, item.id, item.name, task_id, incremental,
                  self.clock(), self.job_seconds, fails, notes,
                  bridge=item.bridge and job_type == "RefreshExtract")
        self.jobs[job.id] = job
        self._changed("job.created", site_id, job.id, item.kind, item.id)
        self._settle()
        return job

    def refresh_item(self, user: User, site_id: str, kind: str, item_id: str, incremental: bool) -> Job:
        """Update Data Source Now / Update Workbook Now: a RefreshExtract job (409093 if one is pending)."""
        with self.lock:
            self.site(site_id)
            item = self.item(site_id, kind, item_id)
            if not user.is_admin and item.owner_id != user.id:
                raise EmulatorError.forbidden("403032", "Update forbidden",
                                              f"The user is not allowed to refresh this {kind}.")
            if not item.has_extracts:
                raise not_extractable(item)
            return self._start_job(site_id, item, job_type="RefreshExtract", incremental=incremental, task_id=None)

    def create_extract(self, user: User, site_id: str, kind: str, item_id: str, encrypt: bool) -> Job:
        with self.lock:
            site = self.site(site_id)
            item = self.item(site_id, kind, item_id)
            if not user.is_admin and item.owner_id != user.id:
                raise EmulatorError.forbidden("403032", "Update forbidden", f"Cannot create an extract of this {kind}.")
            if encrypt and site.encryption_mode == "disabled":
                self._check_encrypt(site, True)
            encrypted = encrypt or site.encryption_mode == "enforced"
            self.items[item.id] = replace(item, has_extracts=True, encrypt_extracts=encrypted, updated_at=self.clock())
            self._changed("item.extract_created", site_id, item.id, kind)
            return self._start_job(site_id, self.items[item.id], job_type="CreateExtract", incremental=False,
                                   task_id=None)

    def delete_extract(self, user: User, site_id: str, kind: str, item_id: str) -> Job:
        """Delete the item's extract (it becomes live); its refresh tasks go with it."""
        with self.lock:
            self.site(site_id)
            item = self.item(site_id, kind, item_id)
            if not user.is_admin and item.owner_id != user.id:
                raise EmulatorError.forbidden("403032", "Update forbidden",
                                              f"Cannot delete the extract of this {kind}.")
            for task in self.tasks.of_item(item.id):
                self.remove_task(task)
            self.items[item.id] = replace(item, has_extracts=False, encrypt_extracts=False, updated_at=self.clock())
            self._changed("item.extract_deleted", site_id, item.id, kind)
            return self._start_job(site_id, self.items[item.id], job_type="DeleteExtract", incremental=False,
                                   task_id=None)
