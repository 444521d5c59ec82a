"""Reading the job history for a command: health for ``drift``, durations for ``load``."""

from __future__ import annotations

import time

from reconciler.commands.output import Output
from reconciler.errors import TableauRequestError, UsageError
from reconciler.model import LiveState
from reconciler.plan import HealthReport, make_health
from reconciler.tableau.connect import Connection
from reconciler.tableau.history import read_history

__all__ = ["DEFAULT_HISTORY_DAYS", "check_history_days", "read_health"]

#: Days of job history drift and load read by default.
DEFAULT_HISTORY_DAYS = 14
MAX_HISTORY_DAYS = 90


def check_history_days(days: int) -> None:
    """``--history-days`` out of range: a usage error, before anything is read."""
    if not 0 <= days <= MAX_HISTORY_DAYS:
        raise UsageError(f"--history-days must be between 0 and {MAX_HISTORY_DAYS}, not {days}.")


def read_health(conn: Connection, live: LiveState, days: int, output: Output) -> HealthReport | None:
    """The health of the site's tasks over the last ``days`` days; None when ``days`` is 0 or the
    signed-in user may not query jobs (a warning says so: the rest of the report still stands)."""
    check_history_days(days)
    if days == 0:
        return None
    now = time.time()
    window = days * 86400.0
    try:
        with output.status(f"Reading {days} days of refresh jobs ..."):
            runs = read_history(conn, now - window)
    except TableauRequestError as error:
        if not str(error.code or "").startswith("403"):
            raise
        output.warn(f"The job history was not read ({error}): Query Jobs needs a site or server administrator. "
                    "Health figures (failures, durations, stale extracts) are left out; run as an administrator "
                    "to see them, or pass --history-days 0 to skip them.")
        return None
    return make_health(live, runs, now, window)
