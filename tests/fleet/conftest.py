"""Fixtures for the HA-free Fleet client tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

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


@dataclass(frozen=True)
class SentRequest:
    """One request the client sent: method, URL (with its query) and keywords."""

    method: str
    url: URL
    kwargs: dict[str, Any]


class FleetMock(AiohttpClientMocker):  # type: ignore[misc]
    """Home Assistant's aiohttp mocker, as these tests want it.

    Each registered answer is used once, in the order registered (so a 401 then
    a 200 on one URL is two registrations), and every keyword of each request
    is kept (``ssl``, ``json``, ``params``, ``headers``), not only its body.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[SentRequest] = []

    def sent_to(self, method: str, url: str) -> list[SentRequest]:
        """The requests sent with ``method`` to ``url`` (any query)."""
        return [
            request
            for request in self.sent
            if request.method == method.upper()
            and request.url.with_query(None) == URL(url)
        ]

    async def match_request(
        self, method: str, url: str | URL, **kwargs: Any
    ) -> AiohttpClientMockResponse:
        request_url = URL(url)
        if params := kwargs.get("params"):
            request_url = request_url.with_query(params)
        self.sent.append(SentRequest(method.upper(), request_url, kwargs))
        for registered in self._mocks:
            if registered.match_request(method, request_url):
                self._mocks.remove(registered)
                reply = registered
                if registered.side_effect is not None:
                    reply = await registered.side_effect(method, request_url, kwargs)
                if reply.exc is not None:
                    raise reply.exc
                return reply
        raise AssertionError(f"no answer registered for {method.upper()} {url}")


def answer(*, status: int = 200, json: Any = None) -> AiohttpClientMockResponse:
    """A mocked answer, for a ``side_effect`` to return."""
    return AiohttpClientMockResponse("get", URL("http://answer"), status, json=json)


@pytest.fixture
def mock_api() -> FleetMock:
    return FleetMock()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
async def session(mock_api: FleetMock) -> AsyncIterator[aiohttp.ClientSession]:
    """A real ``ClientSession`` whose requests ``mock_api`` answers."""
    async with mock_api.create_session(asyncio.get_running_loop()) as client_session:
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
