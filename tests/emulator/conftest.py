"""Fixtures: emulators on 127.0.0.1, port 0, stopped when each test ends; TSC servers signed in to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import tableauserverclient as TSC

from reconciler.emulator import Emulator

from .helpers import sign_in


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A Server-flavor demo emulator whose jobs finish at once; no seeded job history (the job list
    holds only the jobs a test starts; tests/emulator/test_job_history.py covers the history)."""
    with Emulator(flavor="server", seed="demo", job_seconds=0.0, history_days=0) as emulator:
        yield emulator


@pytest.fixture
def cloud() -> Iterator[Emulator]:
    """A Cloud-flavor demo emulator whose jobs finish at once; no seeded job history."""
    with Emulator(flavor="cloud", seed="demo", job_seconds=0.0, history_days=0) as emulator:
        yield emulator


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with any options; all are stopped at the end of the test."""
    started: list[Emulator] = []

    def make(**options: Any) -> Emulator:
        options.setdefault("job_seconds", 0.0)
        options.setdefault("history_days", 0)
        emulator = Emulator(**options).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def server(emu: Emulator) -> TSC.Server:
    """TSC signed in as admin (PAT) to the Default site of the Server-flavor emulator."""
    return sign_in(emu)


@pytest.fixture
def cloud_server(cloud: Emulator) -> TSC.Server:
    """TSC signed in as admin (PAT) to the Default site of the Cloud-flavor emulator."""
    return sign_in(cloud)


@pytest.fixture
def viewer(emu: Emulator) -> TSC.Server:
    """TSC signed in as the non-admin viewer (password) to the Default site."""
    return sign_in(emu, user="viewer", password="viewer")
