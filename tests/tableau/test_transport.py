"""The shared transport's retry policy: a 429's Retry-After is the wait."""

from __future__ import annotations

import time

import pytest

from reconciler.emulator import Emulator
from reconciler.tableau.connect import ConnectionSettings, Credentials
from reconciler.tableau.transport import RetryPolicy, TransportHooks, make_session_factory
from reconciler.tableau.vizportal import VizportalClient


def test_delay_is_retry_after_when_given_capped_and_backoff_otherwise() -> None:
    policy = RetryPolicy(base=0.25, cap=8.0, max_retry_after=60.0)
    assert policy.delay(0, "0.05") == 0.05
    assert policy.delay(3, "2") == 2.0
    assert policy.delay(0, "600") == 60.0
    assert 0.0 <= policy.delay(0, "Wed, 21 Oct 2015 07:28:00 GMT") <= 0.25  # not seconds: backoff
    assert 0.0 <= policy.delay(2, None) <= 1.0


def test_a_throttled_request_waits_retry_after_between_attempts() -> None:
    with Emulator(seed="empty", throttle_rate=1.0, retry_after=0.2, job_seconds=0.0, history_days=0) as emu:
        hooks = TransportHooks()
        session = make_session_factory(RetryPolicy(attempts=3, base=0.0), hooks)()
        started = time.monotonic()
        response = session.get(emu.url + "/api/3.25/serverInfo", timeout=5)
        elapsed = time.monotonic() - started
    assert response.status_code == 429
    assert hooks.retries == 2
    assert elapsed >= 0.4, f"two waits of Retry-After (0.2 s) each, took {elapsed:.2f} s"


def test_vizportal_calls_share_the_transports_retries(capsys: pytest.CaptureFixture[str]) -> None:
    with Emulator(flavor="server", seed="demo", throttle_rate=0.3, retry_after=0.01, random_seed=3,
                  job_seconds=0.0, history_days=0) as emu:
        settings = ConnectionSettings(server=emu.url, site="", credentials=Credentials("password", "admin", "admin"),
                                      timeout=10.0, debug=True)
        with VizportalClient(settings) as client:
            assert client.schedules(), "every call answered, the throttled ones after Retry-After"
    traced = capsys.readouterr().err
    assert "/vizportal/api/web/v1/getSchedules -> 200" in traced
    assert "-> 429" in traced, "some calls were throttled and sent again (each attempt traced)"
