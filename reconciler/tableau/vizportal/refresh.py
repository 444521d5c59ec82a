"""``refresh --via vizportal``: one ``runExtractRefreshesOnDatasources``, its jobs found in the REST jobs list."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.model import Item
from reconciler.tableau.connect import Connection
from reconciler.tableau.jobs import ALREADY_QUEUED, JobStart
from reconciler.tableau.read import list_all
from reconciler.tableau.vizportal.client import VizportalClient, error_text
from reconciler.tableau.vizportal.lists import item_web_id

_DATASOURCE_SUBTITLES = ("datasource", "data source")
#: How many times the REST jobs list is read after the call, and the wait between reads (seconds),
#: while a data source has no new job and Vizportal reported no error.
JOB_LIST_ATTEMPTS = 3
JOB_LIST_WAIT = 1.0


def _refresh_jobs(conn: Connection, incremental: bool) -> dict[str, ET.Element]:
    """Every REST refresh job of the site of that type (all pages), by id."""
    job_type = "increment_extracts" if incremental else "refresh_extracts"
    url = f"{conn.site_url}/jobs?filter=jobType:eq:{job_type}"
    return {node.get("id", ""): node for node in list_all(conn, url, "backgroundJob", "listing jobs")}


def start_datasource_refreshes(conn: Connection, client: VizportalClient, items: Sequence[tuple[Item, str]],
                               incremental: bool) -> list[JobStart]:
    """One ``runExtractRefreshesOnDatasources`` for all ``(data source, label)``; REST job ids to follow.

    The data sources' Vizportal ids come from their REST ``webpageUrl`` (read before anything starts).
    No public sample shows what the answer carries besides ``errors``, so the jobs are found in the
    REST jobs list instead: the refresh jobs that were not there before the call, by item name (Query
    Jobs has no item id). A data source whose new job is not exactly one cannot be followed: that is
    an error naming it (its refresh may be running; the site's Jobs page shows it).
    """
    ids = [item_web_id(conn, "datasource", item.id, label) for item, label in items]
    before = _refresh_jobs(conn, incremental)
    answer = client.run_extract_refreshes_on_datasources(ids, incremental)
    names = [item.name for item, _ in items]
    for attempt in range(JOB_LIST_ATTEMPTS):  # a job may show in the REST list a moment after the call
        if attempt:
            time.sleep(JOB_LIST_WAIT)
        new = [node for ident, node in _refresh_jobs(conn, incremental).items() if ident not in before]
        started: list[JobStart] = []
        unmatched: list[tuple[Item, str]] = []
        unclear: list[str] = []
        for item, label in items:
            jobs = [n for n in new if n.get("title") == item.name
                    and (n.get("subtitle") or "").lower() in _DATASOURCE_SUBTITLES]
            if len(jobs) == 1 and names.count(item.name) == 1:
                started.append(JobStart(label, jobs[0].get("id", "")))
            elif not jobs:
                unmatched.append((item, label))
            else:
                why = (f"{names.count(item.name)} of the data sources refreshed are named {item.name!r}"
                       if names.count(item.name) > 1 else f"{len(jobs)} new refresh jobs are titled {item.name!r}")
                unclear.append(f"{label} ({why}: the REST jobs list does not say which job is whose)")
        if not unmatched or answer.errors:
            break
    running = (" The refresh(es) that did start go on on the server: "
               + ", ".join(f"{s.label} (job {s.job_id})" for s in started) + ".") if started else ""
    if unclear:
        raise ReconcilerError(
            "Vizportal runExtractRefreshesOnDatasources was called, but the refresh of "
            + "; ".join(unclear) + " cannot be followed. Check the site's Jobs page, or refresh these data "
            f"sources without --via vizportal (the REST API answers each refresh with its job).{running}")
    if not unmatched:
        return started
    errors = list(answer.errors)
    if errors and all(str(e.get("code")) == ALREADY_QUEUED for e in errors):
        detail = error_text(errors[:1])
        return started + [JobStart(label, None, detail) for _, label in unmatched]
    which = ", ".join(label for _, label in unmatched)
    raise TableauRequestError(f"Vizportal runExtractRefreshesOnDatasources did not start {which}: "
                              f"{error_text(errors) if errors else 'no error in its answer, and no new job'}."
                              f"{running}", code=str(errors[0].get("code")) if errors else None)
