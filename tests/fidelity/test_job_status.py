"""Query Job answers in the shapes real servers send, fed to the parser directly (no emulator).

A job is over only when ``completedAt`` is set (tableauserverclient's ``wait_for_job``); a Bridge job says
finishCode 0 while a Bridge client is assigned and 3 when it completed (Query Job reference, quoted in
tableauserverclient issue 1576). docs/tableau-behaviour.md, "Bridge refresh jobs".
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from reconciler.tableau import wire
from reconciler.tableau.jobs import parse_job

NS = 'xmlns="http://tableau.com/api"'


def _job(attributes: str, inner: str = "") -> ET.Element:
    root = wire.parse(f"<tsResponse {NS}><job id=\"j1\" mode=\"Asynchronous\" type=\"RefreshExtract\" "
                      f"{attributes}><extractRefreshJob>{inner}<datasource id=\"d1\" name=\"x\"/>"
                      "</extractRefreshJob></job></tsResponse>".encode())
    return next(root.iter(wire.tag("job")))


@pytest.mark.parametrize(("attributes", "finished", "state"), [
    # tableauserverclient's job_get_by_id_inprogress.xml: no finishCode, no completedAt
    ('progress="0" createdAt="2021-10-05T18:53:34Z" startedAt="2021-10-05T18:53:34Z"', False, "running"),
    ('progress="0" createdAt="2021-10-05T18:53:34Z"', False, "queued"),
    # a Bridge job with a Bridge client assigned: finishCode 0, no completedAt
    ('progress="40" createdAt="2025-03-06T10:00:00Z" startedAt="2025-03-06T10:00:00Z" finishCode="0"', False,
     "assigned to Bridge"),
    # ... and once it completed (3), or a server job's success (0), failure (1), cancellation (2)
    ('progress="100" createdAt="2025-03-06T10:00:00Z" completedAt="2025-03-06T10:05:00Z" finishCode="3"', True,
     "success"),
    ('progress="100" createdAt="2020-05-13T20:23:45Z" completedAt="2020-05-13T20:25:18Z" finishCode="0"', True,
     "success"),
    ('progress="100" createdAt="2021-10-05T18:53:34Z" startedAt="2021-10-05T18:53:34Z" '
     'completedAt="2021-10-05T18:53:35Z" finishCode="1"', True, "failed"),
    ('progress="100" createdAt="2021-10-05T18:53:34Z" completedAt="2021-10-05T18:53:35Z" finishCode="2"', True,
     "cancelled"),
    # a finish code without completedAt is never the end, whatever its value
    ('progress="100" createdAt="2021-10-05T18:53:34Z" startedAt="2021-10-05T18:53:34Z" finishCode="1"', False,
     "running"),
])
def test_a_job_is_finished_only_once_completed_at_is_set(attributes: str, finished: bool, state: str) -> None:
    status = parse_job("j1", _job(attributes))
    assert (status.finished, status.state) == (finished, state)


def test_notes_of_a_failed_job_are_kept() -> None:
    node = _job('progress="100" completedAt="2021-10-05T18:53:35Z" finishCode="1"', "<notes>Login failed</notes>")
    assert parse_job("j1", node).notes == ("Login failed",)
