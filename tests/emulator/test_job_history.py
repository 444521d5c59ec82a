"""The seeds' job history and Query Jobs' filters and paging, through TSC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.exceptions import ServerResponseError

from reconciler.emulator import Emulator

from .helpers import raw, sign_in

F = TSC.RequestOptions.Field
OP = TSC.RequestOptions.Operator


def _jobs(server: TSC.Server, *filters: TSC.Filter, size: int = 1000) -> list[TSC.BackgroundJobItem]:
    options = TSC.RequestOptions(pagesize=size)
    for f in filters:
        options.filter.add(f)
    return list(TSC.Pager(server.jobs, options))


@pytest.fixture
def emu(make_emulator) -> Emulator:  # type: ignore[no-untyped-def]
    """The demo seed with its 14 days of job history."""
    return make_emulator(seed="demo", history_days=14)  # type: ignore[no-any-return]


def test_demo_history_is_realistic_and_filterable(emu: Emulator) -> None:
    server = sign_in(emu)
    everything = _jobs(server)
    assert len(everything) > 1000 and all(j.ended_at is not None and j.started_at is not None for j in everything)
    assert {j.type for j in everything} == {"refresh_extracts", "increment_extracts"}
    assert {j.status for j in everything} == {"Success", "Failed", "Cancelled"}
    day = datetime.now(UTC) - timedelta(days=1)
    recent = _jobs(server, TSC.Filter(F.CreatedAt, OP.GreaterThanOrEqual, day.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert 0 < len(recent) < len(everything) and all(j.created_at >= day for j in recent)
    failed = _jobs(server, TSC.Filter(F.Status, OP.Equals, "Failed"))
    assert failed and all(j.status == "Failed" for j in failed)
    orders = _jobs(server, TSC.Filter(F.Title, OP.Equals, "Orders"), TSC.Filter(F.JobType, OP.Equals,
                                                                                  "refresh_extracts"))
    durations = [(j.ended_at - j.started_at).total_seconds() for j in orders]
    assert orders and min(durations) > 5000 and max(durations) < 7200  # the demo's slow refresh
    kinds = _jobs(server, TSC.Filter(F.JobType, OP.In, ["refresh_extracts", "increment_extracts"]))
    assert len(kinds) == len(everything)
    paged = _jobs(server, size=100)
    assert [j.id for j in paged] == [j.id for j in everything]


def test_history_is_deterministic_for_a_seed() -> None:
    def durations(**options: object) -> list[float]:
        with Emulator(flavor="server", seed="synthetic", datasources=40, workbooks=10, tasks=60, schedules=8,
                      projects=5, history_days=3, job_seconds=0.0, **options) as emu:  # type: ignore[arg-type]
            return sorted(j.duration for j in emu.store.history.values())

    first = durations(random_seed=7)
    assert first and first == durations(random_seed=7) and first != durations(random_seed=8)


def test_bad_filters_are_refused(emu: Emulator) -> None:
    server = sign_in(emu)
    for expr, code in (("status:gt:Failed", "400000"), ("owner:eq:admin", "400000")):
        response = server.session.get(raw(server, f"/jobs?filter={expr}"),
                                      headers={"X-Tableau-Auth": server.auth_token})
        assert response.status_code == 400 and f'code="{code}"' in response.text
    with pytest.raises(ServerResponseError):
        _jobs(server, size=1001)


def test_live_jobs_come_first_and_the_history_persists(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.json"
    with Emulator(flavor="server", seed="demo", job_seconds=0.0, state=str(state)) as emu:
        server = sign_in(emu)
        orders = next(d for d in TSC.Pager(server.datasources) if d.name == "Customers")
        job = server.datasources.refresh(orders)
        later = emu.store.clock() + 1.0  # the job is over
        emu.store.clock = lambda: later
        first = server.jobs.get(TSC.RequestOptions(pagesize=10))[0][0]  # the first page: newest first
        assert first.id == job.id and first.status == "Success"
        count = len(emu.store.history)
    with Emulator(flavor="server", seed="demo", job_seconds=0.0, state=str(state)) as again:
        assert len(again.store.history) == count
