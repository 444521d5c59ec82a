"""Job lifecycle, computed lazily from timestamps (no background thread).

A job is queued for the first fifth of its duration, then in progress (progress 0..100), then
finished: finishCode 0 (success), 1 (failed, with notes; items seeded to fail) or 2 (cancelled).
`startedAt`/`completedAt` exist only once reached.

A Tableau Bridge refresh (an item whose connection goes through Bridge; Cloud) is different, as the
Query Job reference describes it (quoted in tableauserverclient issue 1576): from the moment a Bridge
client is assigned it reports finishCode 0 with no `completedAt`, then ends with `completedAt` and
finishCode 3 (completed) or 1 (failed). See docs/tableau-behaviour.md, "Bridge refresh jobs".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .models import Job

__all__ = ["JobState", "completed_at", "finish_code", "job_state"]

QUEUED_SHARE = 0.2


class JobState(NamedTuple):
    """What a job looks like at one instant."""

    status: str
    """Pending, InProgress, Success, Failed or Cancelled (Query Jobs' `status`)."""
    progress: int
    started_at: float | None
    completed_at: float | None
    finish_code: int | None


def _started(job: Job) -> float:
    if job.bridge:  # assigned to a Bridge client at once
        return job.created_at
    queued = job.queued if job.queued is not None else job.duration * QUEUED_SHARE
    return job.created_at + queued


def completed_at(job: Job) -> float | None:
    """When the job ends (or ended), or None if it never runs to an end (not possible today)."""
    natural = job.created_at + job.duration
    if job.cancelled_at is not None and job.cancelled_at < natural:
        return job.cancelled_at
    return natural


def finish_code(job: Job) -> int:
    """The finish code the job has (or will have) when it ends."""
    natural = job.created_at + job.duration
    if job.cancelled_at is not None and job.cancelled_at < natural:
        return 2
    if job.fails:
        return 1
    return 3 if job.bridge else 0


def job_state(job: Job, now: float) -> JobState:
    """The job's state at `now`."""
    done = completed_at(job)
    started = _started(job)
    if done is not None and now >= done:
        code = finish_code(job)
        status = {0: "Success", 1: "Failed", 2: "Cancelled", 3: "Success"}[code]
        return JobState(status, 100, min(started, done) if code != 2 or started <= done else None, done, code)
    if now < started:
        return JobState("Pending", 0, None, None, None)
    span = max(job.created_at + job.duration - started, 1e-9)
    progress = max(0, min(99, int((now - started) / span * 100)))
    # A Bridge job says finishCode 0 while a Bridge client is assigned: not finished (no completedAt).
    return JobState("InProgress", progress, started, None, 0 if job.bridge else None)
