"""Tableau REST operations (moto's `responses.py`): read the request, call the store, write XML.

Each public method is one REST operation, named after it, taking a `Req` and returning a `Reply`.
Schedules, tasks and jobs are in `schedule_responses.py`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import NamedTuple

from .exceptions import EmulatorError
from .models import ContentItem, Project, Session, Store, User
from .query import Accessor, apply_filters, paginate, parse_fields, sort_rows
from .serializers import (
    DATASOURCE_ALL,
    DATASOURCE_DEFAULT,
    PROJECT_ALL,
    PROJECT_DEFAULT,
    WORKBOOK_ALL,
    WORKBOOK_DEFAULT,
    item_xml,
    job_xml,
    pagination_xml,
    project_xml,
    site_xml,
    user_xml,
)
from .wire import INCREMENTAL_REFRESH_API, api_at_least, boolean, child, envelope, iso, parse_body

__all__ = ["ContentResponses", "Reply", "Req", "ok"]

SERVER_VERSION = ("2025.1.4", "20251.25.0410.1207", "3.25")
CLOUD_VERSION = ("2025.3.0", "20253.25.1012.0935", "3.28")


class Req(NamedTuple):
    """One HTTP request, as the handlers see it."""

    method: str
    path: str
    args: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    params: Mapping[str, str]
    base_url: str


class Reply(NamedTuple):
    """One HTTP response."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/xml;charset=utf-8"


def ok(body: str, status: int = 200) -> Reply:
    """An XML reply in the Tableau envelope."""
    return Reply(status, envelope(body))


def no_content() -> Reply:
    return Reply(204, b"")


class BaseResponses:
    """Shared helpers: authentication and site binding."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def auth(self, req: Req, site_id: str | None = None) -> tuple[Session, User]:
        """The caller's session (401002 otherwise); with `site_id`, the token must be bound to that site."""
        session, user = self.store.session(req.headers.get("X-Tableau-Auth"))
        if site_id is not None and site_id != session.site_id:
            with self.store.lock:
                self.store.site(site_id)  # 404000 when the site does not exist at all
            raise EmulatorError.forbidden(
                "403004", "Forbidden",
                f"The authentication token is for site '{session.site_id}', not for site '{site_id}'. "
                "Sign in to that site (or switch site) first.")
        return session, user

    def site_id(self, req: Req) -> tuple[str, User]:
        site_id = req.params["site_id"]
        _, user = self.auth(req, site_id)
        return site_id, user


def _owner_map(store: Store, site_id: str) -> dict[str, User]:
    return {u.id: u for u in store.list_users(site_id)}


class ContentResponses(BaseResponses):
    """Auth, server info, sites, users, projects, data sources and workbooks."""

    # ---- auth and server info ---------------------------------------------------------------------

    def get_server_info(self, req: Req) -> Reply:
        product, build, api = CLOUD_VERSION if self.store.cloud else SERVER_VERSION
        return ok(f'<serverInfo><productVersion build="{build}">{product}</productVersion>'
                  f"<prepConductorVersion>{build}</prepConductorVersion>"
                  f"<restApiVersion>{api}</restApiVersion><platform>linux</platform>"
                  '<serverSettings oAuthEnabled="true" sheetImageMaxAgeFloor="1" sheetImageMaxAgeCeiling="60" '
                  'offlineInteractionSupportedPhase="0"/></serverInfo>')

    def _credentials_xml(self, session: Session) -> str:
        site = self.store.sites[session.site_id]
        left = max(0, int(session.expires_at - session.created_at))
        expiry = f"{left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}"
        return (f'<credentials token="{session.token}" estimatedTimeToExpiration="{expiry}">'
                f'<site id="{site.id}" contentUrl="{site.content_url}"/><user id="{session.user_id}"/>'
                "</credentials>")

    def sign_in(self, req: Req) -> Reply:
        root = parse_body(req.body)
        creds = child(root, "credentials")
        if creds is None:
            raise EmulatorError.bad_request("The request has no <credentials> element.")
        site_el = child(creds, "site")
        content_url = (site_el.get("contentUrl") if site_el is not None else "") or ""
        if creds.get("personalAccessTokenName") is not None:
            session = self.store.sign_in(content_url, pat_name=creds.get("personalAccessTokenName"),
                                         pat_secret=creds.get("personalAccessTokenSecret"))
        elif creds.get("jwt") is not None:
            session = self.store.sign_in(content_url, trusted_user=_jwt_subject(creds.get("jwt") or ""))
        else:
            session = self.store.sign_in(content_url, user_name=creds.get("name"), password=creds.get("password"))
        return ok(self._credentials_xml(session))

    def sign_out(self, req: Req) -> Reply:
        token = req.headers.get("X-Tableau-Auth")
        self.store.session(token)
        self.store.sign_out(token or "")
        return no_content()

    def switch_site(self, req: Req) -> Reply:
        root = parse_body(req.body)
        site_el = child(root, "site")
        if site_el is None:
            raise EmulatorError.bad_request("The request has no <site> element.")
        session = self.store.switch_site(req.headers.get("X-Tableau-Auth") or "", site_el.get("contentUrl") or "")
        return ok(self._credentials_xml(session))

    # ---- sites ------------------------------------------------------------------------------------

    def list_sites(self, req: Req) -> Reply:
        _, user = self.auth(req)
        if user.site_role == "ServerAdministrator":
            rows, number, size, total = paginate(self.store.list_sites(), req.args)
        else:
            # "the sites … that the caller … has access to"; pageSize/pageNumber are for server
            # administrators only (ledger: "Query Sites"): every such site, in one page.
            rows = self.store.sites_of(user)
            number, size, total = 1, max(1, len(rows)), len(rows)
        return ok(pagination_xml(number, size, total) + "<sites>" + "".join(site_xml(s) for s in rows) + "</sites>")

    def get_site(self, req: Req) -> Reply:
        session, user = self.auth(req)
        key = req.args.get("key", "id")
        value = req.params["site_id"]
        with self.store.lock:
            if key == "name":
                found = [s for s in self.store.sites.values() if s.name.lower() == value.lower()]
            elif key == "contentUrl":
                found = [s for s in self.store.sites.values() if s.content_url.lower() == value.lower()]
            elif key == "id":
                found = [s for s in self.store.sites.values() if s.id == value]
            else:
                raise EmulatorError.bad_request(f"Invalid key '{key}': use name or contentUrl.")
            if not found:
                raise EmulatorError.not_found("404000", "Site not found",
                                              f"The site '{value}' doesn't correspond to an existing site.")
            site = found[0]
            if site.id != session.site_id and user.site_role != "ServerAdministrator":
                raise EmulatorError.forbidden("403004", "Forbidden", "You are not signed in to that site.")
            usage = None
            if (req.args.get("includeUsage") or "").lower() == "true":
                usage = (len([u for u in self.store.users.values() if u.site_id == site.id]), 0)
        return ok(site_xml(site, usage))

    def update_site(self, req: Req) -> Reply:
        site_id, user = self.site_id(req)
        root = parse_body(req.body)
        site_el = child(root, "site")
        if site_el is None:
            raise EmulatorError.bad_request("The request has no <site> element.")
        for name, value in site_el.attrib.items():
            if name.endswith("Enabled") or name in ("disableSubscriptions", "useDefaultTimeZone"):
                boolean(value, name)  # TSC sends True/False or true/false; anything else is a bad request
        site = self.store.update_site(user, site_id, dict(site_el.attrib))
        return ok(site_xml(site))

    def _encryption(self, req: Req, action: str) -> Reply:
        site_id, user = self.site_id(req)
        self.store.encryption_action(user, site_id, action)
        return Reply(200, b"")

    def encrypt_extracts(self, req: Req) -> Reply:
        return self._encryption(req, "encrypt-extracts")

    def decrypt_extracts(self, req: Req) -> Reply:
        return self._encryption(req, "decrypt-extracts")

    def reencrypt_extracts(self, req: Req) -> Reply:
        return self._encryption(req, "reencrypt-extracts")

    # ---- users ------------------------------------------------------------------------------------

    def list_users(self, req: Req) -> Reply:
        site_id, _ = self.site_id(req)
        users = self.store.list_users(site_id)
        fields: dict[str, Accessor[User]] = {"name": lambda u: u.name, "siteRole": lambda u: u.site_role}
        users = sort_rows(apply_filters(users, req.args.get("filter"), fields), req.args.get("sort"), fields)
        rows, number, size, total = paginate(users, req.args)
        return ok(pagination_xml(number, size, total) + "<users>" + "".join(user_xml(u) for u in rows) + "</users>")

    def get_user(self, req: Req) -> Reply:
        site_id, _ = self.site_id(req)
        with self.store.lock:
            user = self.store.user(site_id, req.params["user_id"])
        return ok(user_xml(user))

    # ---- projects ---------------------------------------------------------------------------------

    def list_projects(self, req: Req) -> Reply:
        site_id, _ = self.site_id(req)
        projects = self.store.list_projects(site_id)
        owners = _owner_map(self.store, site_id)
        fields: dict[str, Accessor[Project]] = {
            "name": lambda p: p.name,
            "parentProjectId": lambda p: p.parent_id or "",
            "topLevelProject": lambda p: "true" if p.parent_id is None else "false",
            "ownerName": lambda p: owners[p.owner_id].name if p.owner_id in owners else "",
            "createdAt": lambda p: iso(p.created_at) or "",
            "updatedAt": lambda p: iso(p.updated_at) or "",
        }
        projects = sort_rows(apply_filters(projects, req.args.get("filter"), fields), req.args.get("sort"), fields)
        chosen = parse_fields(req.args.get("fields"), PROJECT_DEFAULT, PROJECT_ALL)
        rows, number, size, total = paginate(projects, req.args)
        body = "".join(project_xml(p, chosen, owners) for p in rows)
        return ok(pagination_xml(number, size, total) + f"<projects>{body}</projects>")

    def create_project(self, req: Req) -> Reply:
        site_id, user = self.site_id(req)
        project_el = child(parse_body(req.body), "project")
        if project_el is None:
            raise EmulatorError.bad_request("The request has no <project> element.")
        project = self.store.create_project(user, site_id, name=project_el.get("name") or "",
                                            description=project_el.get("description") or "",
                                            parent_id=project_el.get("parentProjectId") or None)
        return ok(project_xml(project, frozenset(PROJECT_DEFAULT), _owner_map(self.store, site_id)), 201)

    def delete_project(self, req: Req) -> Reply:
        site_id, user = self.site_id(req)
        self.store.delete_project(user, site_id, req.params["project_id"])
        return no_content()

    def update_project(self, req: Req) -> Reply:
        """Update Project; TSC's `projects.get_by_id` sends an empty `<project/>` as a read."""
        site_id, user = self.site_id(req)
        root = parse_body(req.body, required=False)
        project_el = child(root, "project")
        changes = dict(project_el.attrib) if project_el is not None else {}
        project = self.store.update_project(user, site_id, req.params["project_id"], changes)
        owners = _owner_map(self.store, site_id)
        return ok(project_xml(project, frozenset(PROJECT_DEFAULT), owners))

    # ---- data sources and workbooks ---------------------------------------------------------------

    def _list_items(self, req: Req, kind: str) -> Reply:
        site_id, _ = self.site_id(req)
        items = self.store.list_items(site_id, kind)
        projects = {p.id: p for p in self.store.list_projects(site_id)}
        owners = _owner_map(self.store, site_id)

        def project_name(i: ContentItem) -> str:
            p = projects.get(i.project_id)
            return p.name if p else ""

        fields: dict[str, Accessor[ContentItem]] = {
            "name": lambda i: i.name,
            "projectName": project_name,
            "projectId": lambda i: i.project_id,
            "contentUrl": lambda i: i.content_url,
            "hasExtracts": lambda i: "true" if i.has_extracts else "false",
            "ownerName": lambda i: owners[i.owner_id].name if i.owner_id in owners else "",
            "createdAt": lambda i: iso(i.created_at) or "",
            "updatedAt": lambda i: iso(i.updated_at) or "",
            "size": lambda i: f"{i.size:012d}",
        }
        items = sort_rows(apply_filters(items, req.args.get("filter"), fields), req.args.get("sort"), fields)
        default, everything = (DATASOURCE_DEFAULT, DATASOURCE_ALL) if kind == "datasource" else (
            WORKBOOK_DEFAULT, WORKBOOK_ALL)
        chosen = parse_fields(req.args.get("fields"), default, everything)
        rows, number, size, total = paginate(items, req.args)
        body = "".join(item_xml(i, chosen, projects, owners, req.base_url) for i in rows)
        return ok(pagination_xml(number, size, total) + f"<{kind}s>{body}</{kind}s>")

    def _get_item(self, req: Req, kind: str) -> Reply:
        site_id, _ = self.site_id(req)
        self.store.settle()
        with self.store.lock:
            item = self.store.item(site_id, kind, req.params["item_id"])
        projects = {p.id: p for p in self.store.list_projects(site_id)}
        owners = _owner_map(self.store, site_id)
        default = DATASOURCE_DEFAULT if kind == "datasource" else WORKBOOK_DEFAULT
        return ok(item_xml(item, frozenset(default), projects, owners, req.base_url))

    def _update_item(self, req: Req, kind: str) -> Reply:
        site_id, user = self.site_id(req)
        root = parse_body(req.body)
        el = child(root, kind)
        if el is None:
            raise EmulatorError.bad_request(f"The request has no <{kind}> element.")
        project_el = child(el, "project")
        owner_el = child(el, "owner")
        item = self.store.update_item(
            user, site_id, kind, req.params["item_id"], name=el.get("name"), description=el.get("description"),
            encrypt=boolean(el.get("encryptExtracts"), "encryptExtracts"),
            project_id=project_el.get("id") if project_el is not None else None,
            owner_id=owner_el.get("id") if owner_el is not None else None)
        projects = {p.id: p for p in self.store.list_projects(site_id)}
        owners = _owner_map(self.store, site_id)
        default = DATASOURCE_DEFAULT if kind == "datasource" else WORKBOOK_DEFAULT
        return ok(item_xml(item, frozenset(default), projects, owners, req.base_url))

    def _refresh_item(self, req: Req, kind: str) -> Reply:
        site_id, user = self.site_id(req)
        root = parse_body(req.body, required=False)
        refresh_el = child(root, "extractRefresh")
        incremental = bool(boolean(refresh_el.get("incremental"), "incremental")) if refresh_el is not None else False
        if not api_at_least(req.params.get("v"), INCREMENTAL_REFRESH_API):
            incremental = False  # Tableau ignores the body below 3.25 and runs a full refresh
        job = self.store.refresh_item(user, site_id, kind, req.params["item_id"], incremental)
        return ok(job_xml(job, self.store.clock()), 202)

    def _create_extract(self, req: Req, kind: str) -> Reply:
        site_id, user = self.site_id(req)
        encrypt = bool(boolean(req.args.get("encrypt"), "encrypt"))
        job = self.store.create_extract(user, site_id, kind, req.params["item_id"], encrypt)
        return ok(job_xml(job, self.store.clock()))

    def _delete_extract(self, req: Req, kind: str) -> Reply:
        site_id, user = self.site_id(req)
        job = self.store.delete_extract(user, site_id, kind, req.params["item_id"])
        return ok(job_xml(job, self.store.clock()))

    def list_datasources(self, req: Req) -> Reply:
        return self._list_items(req, "datasource")

    def get_datasource(self, req: Req) -> Reply:
        return self._get_item(req, "datasource")

    def update_datasource(self, req: Req) -> Reply:
        return self._update_item(req, "datasource")

    def refresh_datasource(self, req: Req) -> Reply:
        return self._refresh_item(req, "datasource")

    def create_datasource_extract(self, req: Req) -> Reply:
        return self._create_extract(req, "datasource")

    def delete_datasource_extract(self, req: Req) -> Reply:
        return self._delete_extract(req, "datasource")

    def list_workbooks(self, req: Req) -> Reply:
        return self._list_items(req, "workbook")

    def get_workbook(self, req: Req) -> Reply:
        return self._get_item(req, "workbook")

    def update_workbook(self, req: Req) -> Reply:
        return self._update_item(req, "workbook")

    def refresh_workbook(self, req: Req) -> Reply:
        return self._refresh_item(req, "workbook")

    def create_workbook_extract(self, req: Req) -> Reply:
        return self._create_extract(req, "workbook")

    def delete_workbook_extract(self, req: Req) -> Reply:
        return self._delete_extract(req, "workbook")


def _jwt_subject(token: str) -> str:
    """The `sub` claim of a JWT. The signature is NOT checked: the emulator trusts any well-formed JWT."""
    failed = EmulatorError(401, "401001", "Signin Error", "Error signing in to Tableau Server: invalid JWT.")
    parts = token.split(".")
    if len(parts) != 3:
        raise failed
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        raise failed from None
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
        raise failed
    return str(claims["sub"])
