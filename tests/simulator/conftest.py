"""Fixtures for the simulator tests: a manual clock, a simulator, an HTTP client.

The simulator is independent of Home Assistant, so these tests replace the
project-wide autouse fixture that loads custom integrations into ``hass``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
import pytest

from simulator import DEFAULT_VIN, FleetSimulator, ManualClock, create_app

type Client = TestClient[web.Request, web.Application]

WARSAW = ZoneInfo("Europe/Warsaw")
VIN = DEFAULT_VIN
# Monday 16 June 2025, 12:00 in Warsaw.
MONDAY_NOON = datetime(2025, 6, 16, 12, 0, tzinfo=WARSAW).timestamp()


def local(day: int, hour: int, minute: int = 0, month: int = 6) -> float:
    """Epoch of a local Warsaw time in June 2025."""
    return datetime(2025, month, day, hour, minute, tzinfo=WARSAW).timestamp()


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    """Authorization header for a token answer."""
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@asynccontextmanager
async def serve(simulator: FleetSimulator) -> AsyncIterator[Client]:
    """Serve a simulator on loopback for the duration of a ``with`` block."""
    server = TestServer(create_app(simulator), host="127.0.0.1")
    async with TestClient(server) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the project fixture: no Home Assistant here."""


@pytest.fixture
def clock() -> ManualClock:
    """A clock that only moves when a test says so."""
    return ManualClock(MONDAY_NOON)


@pytest.fixture
def sim(clock: ManualClock) -> FleetSimulator:
    """A simulator with the default vehicle, online and idle."""
    return FleetSimulator(clock)


@pytest.fixture
def tokens(sim: FleetSimulator) -> dict[str, Any]:
    """A token pair with every scope."""
    return sim.issue_tokens()


@pytest.fixture
def auth(tokens: dict[str, Any]) -> dict[str, str]:
    """Authorization header of ``tokens``."""
    return bearer(tokens)


@pytest.fixture
async def client(sim: FleetSimulator, socket_enabled: None) -> AsyncIterator[Client]:
    """An HTTP client talking to ``sim`` over loopback (sockets stay 127.0.0.1)."""
    async with serve(sim) as test_client:
        yield test_client
