"""Fixtures for the HA-free Fleet client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiohttp
from aioresponses import aioresponses
import pytest

from custom_components.tesla_scout_worker.fleet import (
    RequestCategory,
    TeslaFleetClient,
)

BASE = "https://fleet-api.prd.eu.vn.cloud.tesla.com"
PROXY = "https://proxy.local:4443"
VIN = "LRWXF7EK4KC700000"


@dataclass
class FakeTokens:
    """A token provider that hands out numbered tokens and records forced refreshes."""

    issued: int = 1
    forced: int = 0

    async def __call__(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            self.forced += 1
            self.issued += 1
        return f"access-{self.issued}"


@dataclass
class Ledger:
    """Collects what the client reports for billing."""

    calls: list[tuple[RequestCategory, int | None]] = field(default_factory=list)

    def __call__(self, category: RequestCategory, status: int | None) -> None:
        self.calls.append((category, status))


@pytest.fixture
def mock_api() -> Iterator[aioresponses]:
    with aioresponses() as mocked:
        yield mocked


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def client(
    session: aiohttp.ClientSession, tokens: FakeTokens, ledger: Ledger
) -> TeslaFleetClient:
    return TeslaFleetClient(
        session=session, token_provider=tokens, api_base_url=BASE, on_request=ledger
    )


@pytest.fixture
def proxy_client(
    session: aiohttp.ClientSession, tokens: FakeTokens, ledger: Ledger
) -> TeslaFleetClient:
    return TeslaFleetClient(
        session=session,
        token_provider=tokens,
        api_base_url=BASE,
        command_base_url=PROXY,
        command_ssl=False,
        on_request=ledger,
    )
