"""The site's apply lock: a project Tableau itself holds, so two applies never write at once.

Two applies that plan the same site at the same time would both create the same tasks (Tableau
Cloud accepts duplicates). The lock must live on the site, where every run sees it, and taking it
must be atomic: Tableau refuses a second project with a name a sibling already has (409006), so
*creating* a top-level project with a well-known name is a compare-and-set that Tableau arbitrates.
Tags and descriptions can hold a marker too, but both are last-writer-wins: two runs can each write
theirs and each read back their own (docs/architecture-notes.md, "The apply lock").

The project's description names the holder (user, host, process id), the time it was taken and a
run id; the project is deleted when the run ends (also after a failure or Ctrl-C/SIGTERM). A run
killed with -9 leaves it behind: the next apply names it and ``--break-lock`` removes it.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

import requests
from tableauserverclient.server.endpoint.exceptions import InternalServerError

from reconciler.errors import ReconcilerError, TableauRequestError

from . import wire
from .connect import Connection, translate_error

__all__ = ["LOCK_PROJECT", "ApplyLock", "ApplyLocked"]

#: The top-level project that is the lock. Its name says what it is to anyone who sees it in Tableau.
LOCK_PROJECT = "reconciler apply lock (do not use)"


_ATTEMPTS = 3


def _lost(error: BaseException) -> bool:
    """The request may or may not have been carried out: its answer never came."""
    return isinstance(error, (requests.ConnectionError, requests.Timeout)) or (
        isinstance(error, InternalServerError) and error.code in (502, 504))


class ApplyLocked(ReconcilerError):
    """Another apply holds the site's lock."""


class ApplyLock:
    """``with ApplyLock(conn, break_lock=...):`` holds the site's apply lock for the block."""

    def __init__(self, conn: Connection, *, break_lock: bool = False,
                 warn: Callable[[str], None] | None = None) -> None:
        self.conn = conn
        self.break_lock = break_lock
        self.warn = warn or (lambda _message: None)
        self.run_id = uuid.uuid4().hex[:12]
        self.project_id: str | None = None

    def __enter__(self) -> ApplyLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def _holder(self) -> str:
        try:
            user = getpass.getuser()
        except Exception:  # no user name in some containers
            user = "unknown user"
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (f"Held by reconciler apply: {user} on {socket.gethostname()}, pid {os.getpid()}, since {since} "
                f"(run {self.run_id}). It is deleted when that apply ends; do not publish here. If no apply "
                "is running, `reconciler apply --break-lock` removes it.")

    def acquire(self) -> None:
        """Create the lock project; raises ApplyLocked (naming the holder) when another run has it."""
        url = f"{self.conn.site_url}/projects"
        body = (f"<tsRequest><project name={quoteattr(LOCK_PROJECT)} description={quoteattr(self._holder())} />"
                "</tsRequest>")
        broken = False
        for attempt in range(_ATTEMPTS):
            try:
                content = self.conn.send("POST", url, body.encode())
            except Exception as error:
                if _lost(error) and attempt + 1 < _ATTEMPTS:
                    continue  # sent again: a 409 naming our run id then says the first one was made
                code = str(getattr(error, "code", ""))
                if code.startswith("403"):
                    self.warn(f'Cannot take the site\'s apply lock: the signed-in user may not create the project '
                              f'"{LOCK_PROJECT}" ({code}). Going on without it: an apply started meanwhile by '
                              "someone else could make the same changes. Run apply as a Site Administrator to be "
                              "protected.")
                    return
                if not code.startswith("409"):
                    raise self._refused(translate_error(error, "taking the site's apply lock")) from error
                found = self._find()
                if found is None:  # released between our create and our read: try once more
                    continue
                project_id, description, created = found
                if self.run_id in description:  # our own create, whose answer was lost
                    self.project_id = project_id
                    return
                if self.break_lock and not broken:
                    broken = True
                    self._delete(project_id)
                    self.warn(f'Broke the apply lock: deleted the project "{LOCK_PROJECT}" ({description.strip()} '
                              f"Created {created or 'at an unknown time'}.)")
                    continue
                raise ApplyLocked(
                    f"Another apply is running on this site: the project \"{LOCK_PROJECT}\" (created "
                    f"{created or 'at an unknown time'}) says: {description.strip() or '(no description)'} "
                    "Nothing was applied. Wait for that apply to end and run apply again (it plans afresh). "
                    "If no apply is running (a run was killed with -9 or lost its machine), run apply with "
                    "--break-lock, or delete that project in Tableau.") from error
            node = wire.find(wire.parse(content), "project")
            self.project_id = node.get("id") if node is not None else None
            return
        raise ApplyLocked(f"The site's apply lock changed hands while it was being taken (the project "
                          f"\"{LOCK_PROJECT}\"). Nothing was applied. Run apply again.")

    def _refused(self, error: ReconcilerError) -> ReconcilerError:
        code = error.code if isinstance(error, TableauRequestError) else None
        busy = " The server refused every try (429 or 503): run apply again later." if code in (
            "429", "503", "429000", "503000") else ""
        return ReconcilerError(
            f"Taking the site's apply lock failed: {error} Nothing was applied. apply takes the site's apply lock "
            f'by creating the top-level project "{LOCK_PROJECT}" (deleted when it ends), which needs a Site '
            f"Administrator. (Tableau's code: {code or 'none'}.){busy}")

    def _find(self) -> tuple[str, str, str] | None:
        """The lock project's (id, description, createdAt), or None when there is none."""
        url = (f"{self.conn.site_url}/projects?filter={quote(f'name:eq:{LOCK_PROJECT}', safe=':')}"
               "&fields=_all_&pageSize=100")
        for node in wire.parse(self.conn.get(url, "reading the site's apply lock")).iter(wire.tag("project")):
            # The server's filter is not trusted to compare exactly: the name and the level are checked here.
            if node.get("name") == LOCK_PROJECT and not node.get("parentProjectId"):
                return node.get("id", ""), node.get("description", ""), node.get("createdAt", "")
        return None

    def _delete(self, project_id: str) -> None:
        for attempt in range(_ATTEMPTS):
            try:
                self.conn.send("DELETE", f"{self.conn.site_url}/projects/{project_id}")
                return
            except Exception as error:
                if str(getattr(error, "code", "")).startswith("404"):  # gone already (a lost answer): done
                    return
                if not _lost(error) or attempt + 1 == _ATTEMPTS:
                    raise translate_error(error, "removing the site's apply lock") from error

    def release(self) -> None:
        """Delete the lock project, unless something was published into it (then it is left, with a warning)."""
        if self.project_id is None:
            return
        project_id, self.project_id = self.project_id, None
        try:
            if self._holds_content(project_id):
                self.warn(f'The project "{LOCK_PROJECT}" was not deleted: something was published into it while '
                          "apply ran. Move that content out, then delete the project (the next apply will say "
                          "the lock is held until then).")
                return
            self._delete(project_id)
        except ReconcilerError as error:
            self.warn(f'Could not remove the site\'s apply lock (the project "{LOCK_PROJECT}"): {error} The next '
                      "apply will refuse until it is deleted: run it with --break-lock, or delete the project.")

    def _holds_content(self, project_id: str) -> bool:
        for kind in ("datasources", "workbooks"):
            url = (f"{self.conn.site_url}/{kind}?filter={quote(f'projectName:eq:{LOCK_PROJECT}', safe=':')}"
                   "&pageSize=100")
            for node in wire.parse(self.conn.get(url, "checking the apply lock's project is empty")).iter(
                    wire.tag("project")):
                if node.get("id") == project_id:
                    return True
        return False
