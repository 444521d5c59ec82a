"""Reading the site's recent extract refresh jobs (Query Jobs), for health and busy time.

One filtered list: ``GET /sites/{id}/jobs?filter=jobType:in:[refresh_extracts,increment_extracts],
createdAt:gte:<since>`` paged by 1,000, pages after the first fetched concurrently (the floor:
one request per 1,000 jobs). Query Jobs' ``backgroundJob`` carries the item's name (``title``) and
kind (``subtitle``), not its id: ``reconciler.plan.health`` joins on those.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import quote
from xml.etree import ElementTree as ET

from reconciler.gcpause import gc_paused
from reconciler.model import JobRun
from reconciler.tableau.connect import Connection
from reconciler.tableau.read import READ_PARALLELISM, Fetcher, Paged

__all__ = ["JOB_TYPES", "history_filter", "parse_job", "read_history"]

#: Query Jobs' jobType values for extract refreshes, and the task type each one is.
JOB_TYPES = {"refresh_extracts": "full", "increment_extracts": "incremental"}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _kind(subtitle: str | None) -> str | None:
    text = (subtitle or "").replace(" ", "").lower()
    return {"datasource": "datasource", "workbook": "workbook"}.get(text)


def history_filter(since: float) -> str:
    """The Query Jobs filter for extract refresh jobs created at or after ``since``."""
    return f"jobType:in:[{','.join(JOB_TYPES)}],createdAt:gte:{_iso(since)}"


def parse_job(node: ET.Element) -> JobRun | None:
    """A ``backgroundJob`` as a JobRun; None for a job that is not an extract refresh."""
    task_type = JOB_TYPES.get(node.get("jobType", ""))
    created = _epoch(node.get("createdAt"))
    if task_type is None or created is None:
        return None
    return JobRun(
        id=node.get("id", ""), kind=_kind(node.get("subtitle")), name=node.get("title", ""), type=task_type,
        status=node.get("status", ""), created_at=created, started_at=_epoch(node.get("startedAt")),
        ended_at=_epoch(node.get("endedAt")),
    )


def read_history(conn: Connection, since: float, parallelism: int = READ_PARALLELISM) -> list[JobRun]:
    """Every extract refresh job created since ``since`` (epoch seconds), in the order listed.

    Each page is parsed into JobRuns in its worker as it arrives, so that a month of a large site's
    jobs (hundreds of pages) never sits in memory as XML. An error on any page fails the read.
    """
    url = f"{conn.site_url}/jobs?filter={quote(history_filter(since), safe=':,[]')}"
    with gc_paused(), ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="jobs") as pool:
        return Paged(Fetcher(conn, pool), url, "backgroundJob", "listing recent extract refresh jobs",
                     parse_job).entries()
