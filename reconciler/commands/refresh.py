"""``reconciler refresh``: trigger extract refreshes now and follow the jobs to the end."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich.live import Live
from rich.table import Table
from rich.text import Text

from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import Output
from reconciler.commands.settings import resolve_settings
from reconciler.errors import ReconcilerError, UsageError
from reconciler.tableau.connect import Connection, connect
from reconciler.tableau.find import find_item, find_task
from reconciler.tableau.jobs import JobStart, JobStatus, get_job, run_task, start_refresh
from reconciler.tableau.vizportal import (
    VizportalClient,
    detect_flavor,
    require_password_credentials,
    require_server_flavor,
    start_datasource_refreshes,
)

FORMATS = ("text", "json")
VIAS = ("rest", "vizportal")
VIZPORTAL_FEATURE = "refresh --via vizportal"
#: Update Data Source Now / Update Workbook Now / Run Extract Refresh Task accept
#: <extractRefresh incremental="true"/> from this REST API version; below it Tableau ignores the body and runs a
#: full refresh (docs/tableau-behaviour.md, "refresh --incremental needs REST API 3.25").
INCREMENTAL_API = (3, 25)


@dataclass
class _Tracked:
    start: JobStart
    status: JobStatus | None = None
    began: float = 0.0
    ended: float | None = None

    @property
    def state(self) -> str:
        if self.start.job_id is None:
            return "already queued"
        if self.status is None:
            return "queued"
        return self.status.state

    @property
    def done(self) -> bool:
        return self.start.job_id is None or (self.status is not None and self.status.finished)


def refresh(options: ConnectionOptions, *, datasources: Sequence[str] = (), workbooks: Sequence[str] = (),
            tasks: Sequence[str] = (), incremental: bool = False, wait: bool = True, timeout: float = 3600.0,
            fmt: str = "text", poll_interval: float = 1.0, via: str = "rest") -> int:
    if fmt not in FORMATS:
        raise UsageError(f"--format must be text or json, not {fmt!r}.")
    if not (datasources or workbooks or tasks):
        raise UsageError("Nothing to refresh: give --datasource, --workbook or --task (each repeatable).")
    if timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds.")
    if via not in VIAS:
        raise UsageError(f"--via must be rest or vizportal, not {via!r}.")
    if incremental and tasks:
        # Run Extract Refresh Task takes no body: a task runs as its own type (ledger: "refresh --incremental").
        raise UsageError("--incremental applies to --datasource and --workbook: a task (--task) always runs as its "
                         "own type (full or incremental), whatever is asked. Refresh the tasks in a run without "
                         "--incremental. Nothing was started.")
    if via == "vizportal" and (workbooks or tasks):
        raise UsageError("refresh --via vizportal refreshes data sources only (Vizportal's "
                         "runExtractRefreshesOnDatasources): give them with --datasource, and refresh workbooks and "
                         "tasks in a separate run without --via vizportal. Nothing was started.")
    output = Output(options.quiet or fmt == "json")
    settings = resolve_settings(options)
    if via == "vizportal":
        require_password_credentials(settings, VIZPORTAL_FEATURE)
    with connect(settings, warn=output.warn) as conn:
        if via == "vizportal":
            require_server_flavor(detect_flavor(conn), VIZPORTAL_FEATURE, settings.server)
            started = _start_via_vizportal(conn, datasources, incremental, output)
        else:
            if incremental and (datasources or workbooks):
                _require_incremental_api(conn.api_version, pinned=bool(conn.settings.api_version))
            started = _start_all(conn, datasources, workbooks, tasks, incremental)
        tracked = [_Tracked(s, began=time.monotonic()) for s in started]
        if wait:
            _follow(conn, tracked, timeout, poll_interval, output)
    return _report(tracked, wait, fmt, output, timeout)


def _api_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.strip().split("."))
    except ValueError:
        return ()


def _require_incremental_api(api_version: str, *, pinned: bool) -> None:
    """Refuse --incremental where Tableau would silently run a full refresh instead."""
    if _api_tuple(api_version) >= INCREMENTAL_API:
        return
    speaks = f"--api-version pins {api_version}" if pinned else f"this server speaks {api_version}"
    hint = " (or drop --api-version if the server is newer)" if pinned else ""
    raise ReconcilerError(
        f"--incremental needs REST API 3.25 (Tableau Server 2025.1 or later, or Tableau Cloud); {speaks}: "
        "nothing was started. Below 3.25 Tableau ignores the incremental request and runs a full refresh. Run "
        f"it without --incremental for a full refresh{hint}, or run the item's incremental task with --task ID.")


def _start_all(conn: Connection, datasources: Sequence[str], workbooks: Sequence[str], tasks: Sequence[str],
               incremental: bool) -> list[JobStart]:
    # Resolve every reference before starting anything: a typo must not leave half the refreshes running.
    items = [(find_item(conn, "datasource", ref), f"data source {ref}") for ref in datasources]
    items += [(find_item(conn, "workbook", ref), f"workbook {ref}") for ref in workbooks]
    task_ids = [find_task(conn, task_id) for task_id in tasks]
    started = [start_refresh(conn, item, incremental, label) for item, label in items]
    started += [run_task(conn, task_id, f"task {task_id}") for task_id in task_ids]
    return started


def _start_via_vizportal(conn: Connection, datasources: Sequence[str], incremental: bool,
                         output: Output) -> list[JobStart]:
    """One Vizportal call for every data source; the jobs are then followed through the REST API."""
    items = [(find_item(conn, "datasource", ref), f"data source {ref}") for ref in datasources]
    output.warn("refresh --via vizportal uses Vizportal, Tableau Server's undocumented web API: it is not "
                "supported by Tableau and may change or break between releases.")
    with VizportalClient(conn.settings) as client:
        client.login()
        return start_datasource_refreshes(conn, client, items, incremental)


def _table(tracked: Sequence[_Tracked]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("item", "state", "progress", "elapsed"):
        table.add_column(column)
    now = time.monotonic()
    for entry in tracked:
        progress = f"{entry.status.progress}%" if entry.status else "-"
        elapsed = (entry.ended or now) - entry.began
        # The label holds the item's name: a Text, never markup ("[/x]" in a name would crash the live table).
        table.add_row(Text(entry.start.label), entry.state, progress, f"{elapsed:.0f}s")
    return table


def _follow(conn: Connection, tracked: list[_Tracked], timeout: float, interval: float, output: Output) -> None:
    deadline = time.monotonic() + timeout
    live = Live(_table(tracked), console=output.err, transient=False, auto_refresh=False) if output.interactive \
        else None
    if live is not None:
        live.start()
    try:
        while time.monotonic() < deadline:
            for entry in tracked:
                if not entry.done and entry.start.job_id is not None:
                    entry.status = get_job(conn, entry.start.job_id)
                    if entry.status.finished:
                        entry.ended = time.monotonic()
            if live is not None:
                live.update(_table(tracked), refresh=True)
            if all(entry.done for entry in tracked):
                return
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
    finally:
        if live is not None:
            live.stop()


def _report(tracked: Sequence[_Tracked], wait: bool, fmt: str, output: Output, timeout: float) -> int:
    """Exit 0 only when every job was followed to success (or, with --no-wait, started or already queued).

    Tableau's 409093 ("already queued") names no job (server-client-python#1090), so the outcome of that
    refresh cannot be followed: guessing the job from the job list could report another item's outcome.
    When waiting, such an item is "not checked" and the run fails: a pipeline gate must not pass unchecked.
    """
    failed = [t for t in tracked if t.state in ("failed", "cancelled")]
    unfinished = [t for t in tracked if wait and not t.done]
    unchecked = [t for t in tracked if wait and t.start.job_id is None]
    if fmt == "json":
        output.result(json.dumps({"jobs": [{
            "item": t.start.label, "job_id": t.start.job_id, "state": t.state if wait or not t.start.job_id
            else "started", "progress": t.status.progress if t.status else None,
            "notes": list(t.status.notes) if t.status else [], "detail": t.start.detail or None,
            "checked": t.start.job_id is not None and wait,
        } for t in tracked], "succeeded": not failed and not unfinished and not unchecked}, indent=2,
            sort_keys=True))
    else:
        for t in tracked:
            if t.start.job_id is None:
                output.result(f"{t.start.label}: already queued or running on the server (409093); not started "
                              "again.")
            elif not wait:
                output.result(f"{t.start.label}: started job {t.start.job_id}")
            elif t.state == "success":
                output.result(f"{t.start.label}: refreshed (job {t.start.job_id}).")
            elif t in unfinished:
                output.result(f"{t.start.label}: still {t.state} after {timeout:g}s (job {t.start.job_id}).")
            else:
                notes = "; ".join(t.status.notes) if t.status and t.status.notes else "no notes from the server"
                output.result(f"{t.start.label}: {t.state} (job {t.start.job_id}): {notes}")
    if failed or unfinished or unchecked:
        what = []
        if failed:
            what.append(f"{len(failed)} refresh{'es' if len(failed) != 1 else ''} failed")
        if unfinished:
            what.append(f"{len(unfinished)} did not finish within {timeout:g}s (they go on on the server)")
        if unchecked:
            names = ", ".join(t.start.label for t in unchecked)
            what.append(f"{len(unchecked)} not checked: {names} already had a refresh queued or running (Tableau's "
                        "409093), which Tableau does not name, so its outcome was not followed; wait for it to end "
                        "(the site's Jobs page), then run refresh again for an outcome to gate on")
        raise ReconcilerError(" and ".join(what) + ".")
    return 0
