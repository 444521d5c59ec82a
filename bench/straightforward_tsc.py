"""The baseline for bench_plan.py: read a site the way TSC's samples do, one request after another.

Run: `python bench/straightforward_tsc.py SERVER_URL` with TABLEAU_PAT_NAME / TABLEAU_PAT_SECRET in
the environment (bench_plan.py runs it for you against its emulator). Default page size (100),
no ``fields``, no concurrency: ``TSC.Pager`` over data sources, workbooks and projects, the task
list, the schedule list, then ``schedules.get_by_id`` for every schedule (the list carries no
recurrence). Prints one line of counts; it plans nothing, so the comparison flatters it.
"""

from __future__ import annotations

import os
import sys

import tableauserverclient as TSC


def main() -> int:
    server = TSC.Server(sys.argv[1], use_server_version=True)
    auth = TSC.PersonalAccessTokenAuth(os.environ["TABLEAU_PAT_NAME"], os.environ["TABLEAU_PAT_SECRET"], site_id="")
    with server.auth.sign_in(auth):
        datasources = list(TSC.Pager(server.datasources))
        workbooks = list(TSC.Pager(server.workbooks))
        projects = list(TSC.Pager(server.projects))
        tasks, _ = server.tasks.get()
        schedules = [server.schedules.get_by_id(s.id) for s in TSC.Pager(server.schedules)]
    print(f"{len(datasources)} datasources, {len(workbooks)} workbooks, {len(projects)} projects, "
          f"{len(tasks)} tasks, {len(schedules)} schedules with details")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
