"""The token keeper, HA-free: single flight, rate limit, persist-before-use."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
import logging
import time
from typing import Any

import aiohttp
import pytest
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.tesla_scout_worker.fleet import (
    InvalidClientError,
    LoginRequiredError,
    RequestCategory,
    TeslaFleetClient,
    TeslaFleetError,
    Token,
    TokenRefreshFailedError,
    TokenRefreshRateLimitedError,
    TokenUnavailableError,
)
from custom_components.tesla_scout_worker.fleet.auth import TOKEN_URL
from custom_components.tesla_scout_worker.fleet.tokens import (
    TOKEN_ERRORS,
    LoginLost,
    OAuthClient,
    SharedRefresh,
    TokenKeeper,
)

from .conftest import BASE, VIN, FleetMock, Ledger, answer

CLIENT_ID = "client-id-123"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Owner:
    """What the keeper's owner provides: the stored token, its save, the callbacks."""

    token: Token
    saved: list[Token] = field(default_factory=list)
    lost: list[LoginLost] = field(default_factory=list)
    rotated: int = 0

    async def save(self, token: Token) -> None:
        await asyncio.sleep(0)  # a write takes its time
        self.saved.append(token)
        self.token = token

    def login_lost(self, err: LoginLost) -> None:
        self.lost.append(err)

    def on_rotated(self) -> None:
        self.rotated += 1


def stored(clock: Clock, seconds_left: float, refresh: str = "EU_refresh-1") -> Token:
    return Token(
        access_token="access-1",
        refresh_token=refresh,
        expires_in=28800,
        expires_at=clock() + seconds_left,
    )


def make_keeper(
    session: aiohttp.ClientSession,
    owner: Owner,
    clock: Clock,
    **kwargs: Any,
) -> TokenKeeper:
    return TokenKeeper(
        session,
        load=lambda: owner.token,
        oauth_client=lambda: OAuthClient(client_id=CLIENT_ID),
        save=owner.save,
        on_login_lost=owner.login_lost,
        on_rotated=owner.on_rotated,
        clock=clock,
        **kwargs,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


def rotating(
    mock_api: FleetMock, times: int = 3, *, delay: float = 0.0
) -> list[dict[str, Any]]:
    """Tesla's token endpoint for ``times`` refreshes, each rotating; the forms."""
    forms: list[dict[str, Any]] = []

    async def rotate(
        method: str, url: URL, kwargs: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        forms.append(dict(kwargs["data"]))
        await asyncio.sleep(delay)
        number = len(forms) + 1
        return answer(
            json={
                "access_token": f"access-{number}",
                "refresh_token": f"EU_refresh-{number}",
                "expires_in": 28800,
                "token_type": "Bearer",
            }
        )

    for _ in range(times):
        mock_api.post(TOKEN_URL, side_effect=rotate)
    return forms


def posts(mock_api: FleetMock) -> int:
    return len(mock_api.sent_to("POST", TOKEN_URL))


async def test_a_valid_token_needs_no_request(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    owner = Owner(stored(clock, 3600))
    keeper = make_keeper(session, owner, clock)
    assert await keeper.async_get_access_token() == "access-1"
    assert await keeper() == "access-1"
    assert posts(mock_api) == 0


async def test_fifty_callers_one_refresh_saved_before_anyone_uses_it(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    owner = Owner(stored(clock, 299))
    forms = rotating(mock_api, delay=0.01)
    ledger = Ledger()
    keeper = make_keeper(session, owner, clock, on_request=ledger)
    heard: list[str] = []
    keeper.async_add_listener(lambda: heard.append(owner.token.access_token))

    async def caller() -> str:
        token = await keeper.async_get_access_token()
        # Persist before use: whoever receives a token finds it saved.
        assert owner.saved[-1].access_token == token
        return token

    results = await asyncio.gather(*(caller() for _ in range(50)))

    assert forms == [
        {
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": "EU_refresh-1",
        }
    ]
    assert set(results) == {"access-2"}
    assert [token.refresh_token for token in owner.saved] == ["EU_refresh-2"]
    assert heard == ["access-2"]
    assert owner.rotated == 1
    assert keeper.stats.refreshes == 1
    assert keeper.stats.last_refresh == clock()
    # Whoever waited got the refresh's token, not a refusal of the limit.
    assert keeper.stats.rate_limited == 0
    assert ledger.calls == [(RequestCategory.AUTH, 200)]


async def test_forced_refreshes_asked_together_share_one(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """The button pressed while the action runs: one POST, both get its token."""
    owner = Owner(stored(clock, 3600))
    rotating(mock_api, delay=0.01)
    keeper = make_keeper(session, owner, clock)
    tokens = await asyncio.gather(*(keeper.async_force_refresh() for _ in range(3)))
    assert {token.refresh_token for token in tokens} == {"EU_refresh-2"}
    assert posts(mock_api) == 1
    assert keeper.stats.rate_limited == 0


async def test_the_listeners_hear_of_a_rotation_before_the_owner(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """The owner announces a rotation its listeners (entities) already show."""
    order: list[str] = []
    owner = Owner(stored(clock, 0))
    rotating(mock_api)
    keeper = TokenKeeper(
        session,
        load=lambda: owner.token,
        oauth_client=lambda: OAuthClient(client_id=CLIENT_ID),
        save=owner.save,
        on_rotated=lambda: order.append("owner"),
        clock=clock,
    )
    keeper.async_add_listener(lambda: order.append("listener"))
    await keeper.async_get_access_token()
    assert order == ["listener", "owner"]


async def test_a_refresh_names_the_application_as_it_is_then(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    url = "http://127.0.0.1:8100/oauth2/v3/token"
    mock_api.post(
        url, json={"access_token": "a", "refresh_token": "r", "expires_in": 60}
    )
    owner = Owner(stored(clock, 0))
    application = OAuthClient(client_id="old")
    keeper = TokenKeeper(
        session,
        load=lambda: owner.token,
        oauth_client=lambda: application,
        save=owner.save,
        clock=clock,
    )
    application = OAuthClient(client_id="new", client_secret="s", token_url=url)
    await keeper.async_get_access_token()
    (sent,) = mock_api.sent_to("POST", url)
    assert sent.kwargs["data"] == {
        "grant_type": "refresh_token",
        "client_id": "new",
        "refresh_token": "EU_refresh-1",
        "client_secret": "s",
    }


async def test_a_second_attempt_within_a_minute_sends_nothing(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    owner = Owner(stored(clock, 3600))
    rotating(mock_api)
    keeper = make_keeper(session, owner, clock)
    first = clock()

    await keeper.async_force_refresh()
    clock.tick(30)
    with pytest.raises(TokenRefreshRateLimitedError) as err:
        await keeper.async_force_refresh()
    assert err.value.next_attempt_at == first + 60
    assert posts(mock_api) == 1
    # A refused call does not restart the window: 61 s after the first, it works.
    clock.tick(31)
    token = await keeper.async_force_refresh()
    assert token.refresh_token == "EU_refresh-3"
    sent = mock_api.sent_to("POST", TOKEN_URL)
    assert [s.kwargs["data"]["refresh_token"] for s in sent] == [
        "EU_refresh-1",
        "EU_refresh-2",
    ]
    assert keeper.stats.rate_limited == 1


async def test_an_expired_token_inside_the_window_fails_clearly(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    owner = Owner(stored(clock, -1))
    mock_api.post(TOKEN_URL, status=503, text="<html>down</html>")
    keeper = make_keeper(session, owner, clock)
    with pytest.raises(TokenRefreshFailedError) as failed:
        await keeper.async_get_access_token()
    assert failed.value.reason == "ServerError"
    clock.tick(10)
    with pytest.raises(TokenRefreshRateLimitedError):
        await keeper.async_get_access_token()
    assert posts(mock_api) == 1
    assert keeper.stats.failures == 1
    assert keeper.stats.last_failure == "ServerError"
    assert owner.saved == []


async def test_a_429_from_the_token_endpoint_is_waited_out(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """Retry-After from the token endpoint wins over the one-minute window."""
    owner = Owner(stored(clock, 3600))
    mock_api.post(
        TOKEN_URL,
        status=429,
        json={"error": "rate limit exceeded"},
        headers={"Retry-After": "600"},
    )
    keeper = make_keeper(session, owner, clock)
    sent_at = clock()
    with pytest.raises(TokenRefreshFailedError):
        await keeper.async_force_refresh()
    clock.tick(61)
    with pytest.raises(TokenRefreshRateLimitedError):
        await keeper.async_force_refresh()
    assert posts(mock_api) == 1
    assert keeper.next_attempt_at == pytest.approx(sent_at + 600)
    rotating(mock_api)
    clock.tick(540)
    await keeper.async_force_refresh()
    assert posts(mock_api) == 2


async def test_a_failed_refresh_hands_out_the_token_that_still_works(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """Four minutes left and a blip: the valid token, then no POST for a minute."""
    owner = Owner(stored(clock, 240))
    mock_api.post(TOKEN_URL, exc=aiohttp.ClientConnectionError())
    keeper = make_keeper(session, owner, clock)
    assert await keeper.async_get_access_token() == "access-1"
    clock.tick(5)
    assert await keeper.async_get_access_token() == "access-1"
    assert posts(mock_api) == 1
    assert keeper.stats.failures == 1
    assert keeper.stats.rate_limited == 1
    # Forced (Tesla rejected it), the failure is the caller's to see.
    clock.tick(60)
    mock_api.post(TOKEN_URL, exc=aiohttp.ClientConnectionError())
    with pytest.raises(TokenRefreshFailedError):
        await keeper.async_get_access_token(force_refresh=True)


async def test_an_expiring_token_inside_the_window_is_still_handed_out(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    owner = Owner(stored(clock, 3600))
    mock_api.post(TOKEN_URL, exc=TimeoutError())
    keeper = make_keeper(session, owner, clock)
    with pytest.raises(TokenRefreshFailedError):
        await keeper.async_force_refresh()
    owner.token = stored(clock, 100, refresh="EU_other")
    clock.tick(5)
    assert await keeper.async_get_access_token() == "access-1"
    assert posts(mock_api) == 1


@pytest.mark.parametrize(
    ("payload", "kind", "reason"),
    [
        (
            {"error": "login_required", "error_description": "Login required"},
            LoginRequiredError,
            "login_required",
        ),
        ({"error": "invalid_grant"}, LoginRequiredError, "login_required"),
        ({"error": "invalid_client"}, InvalidClientError, "invalid_client"),
    ],
)
async def test_a_refused_login_tells_the_owner_once_and_keeps_the_token(
    mock_api: FleetMock,
    session: aiohttp.ClientSession,
    clock: Clock,
    payload: dict[str, str],
    kind: type[TeslaFleetError],
    reason: str,
) -> None:
    owner = Owner(stored(clock, 0))
    mock_api.post(TOKEN_URL, status=401, json=payload)
    keeper = make_keeper(session, owner, clock)
    with pytest.raises(kind) as err:
        await keeper.async_get_access_token()
    assert owner.lost == [err.value]
    assert keeper.stats.failures == 1
    assert keeper.stats.last_failure == reason
    # Nothing was saved: the stored token is untouched.
    assert owner.saved == []
    assert owner.token.refresh_token == "EU_refresh-1"
    # Within the minute: no second POST, no second word to the owner.
    with pytest.raises(TokenRefreshRateLimitedError):
        await keeper.async_get_access_token()
    assert len(owner.lost) == 1


async def test_the_keeper_raises_only_its_own_errors() -> None:
    """What a caller catches: no token now (transient), or a lost login."""
    assert issubclass(TokenRefreshFailedError, TokenUnavailableError)
    assert issubclass(TokenRefreshRateLimitedError, TokenUnavailableError)
    assert issubclass(TokenUnavailableError, TeslaFleetError)
    assert set(TOKEN_ERRORS) == {
        TokenUnavailableError,
        LoginRequiredError,
        InvalidClientError,
    }


async def test_a_401_then_success_on_a_data_call(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    owner = Owner(stored(clock, 3600))
    rotating(mock_api)
    url = f"{BASE}/api/1/vehicles/{VIN}"
    mock_api.get(url, status=401, json={"error": "token expired"})
    mock_api.get(url, json={"response": {"vin": VIN, "state": "asleep"}})
    keeper = make_keeper(session, owner, clock)
    client = TeslaFleetClient(session=session, token_provider=keeper, api_base_url=BASE)

    record = await client.vehicle(VIN)

    assert record.state == "asleep"
    assert posts(mock_api) == 1
    bearers = [
        s.kwargs["headers"]["Authorization"] for s in mock_api.sent_to("GET", url)
    ]
    assert bearers == ["Bearer access-1", "Bearer access-2"]


async def test_concurrent_401s_share_one_refresh(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    owner = Owner(stored(clock, 3600))
    rotating(mock_api, delay=0.01)
    keeper = make_keeper(session, owner, clock)
    results = await asyncio.gather(
        *(keeper.async_get_access_token(force_refresh=True) for _ in range(10))
    )
    assert posts(mock_api) == 1
    assert set(results) == {"access-2"}


async def test_a_keeper_built_during_a_refresh_joins_it(
    mock_api: FleetMock, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """One POST per used refresh token, across reloads and cancelled callers.

    The entry reloads while its refresh is in flight: the old caller is
    cancelled with it, and the new keeper (same shared state) needs a token.
    """
    answering, release = asyncio.Event(), asyncio.Event()

    async def held(
        method: str, url: URL, kwargs: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        answering.set()
        await release.wait()
        return answer(
            json={"access_token": "access-2", "refresh_token": "r2", "expires_in": 60}
        )

    mock_api.post(TOKEN_URL, side_effect=held)
    owner = Owner(stored(clock, 100))
    shared = SharedRefresh()
    started: list[str] = []

    def spawn(refresh: Coroutine[Any, Any, Token]) -> asyncio.Future[Token]:
        started.append("refresh")
        return asyncio.ensure_future(refresh)

    old = make_keeper(session, owner, clock, shared=shared, spawn=spawn)
    caller = asyncio.ensure_future(old.async_get_access_token())
    await answering.wait()
    caller.cancel()
    new = make_keeper(session, owner, clock, shared=shared, spawn=spawn)
    joined = asyncio.ensure_future(new.async_get_access_token())
    await asyncio.sleep(0)
    release.set()

    assert await joined == "access-2"
    assert caller.cancelled()
    assert posts(mock_api) == 1
    assert started == ["refresh"]
    assert [token.refresh_token for token in owner.saved] == ["r2"]
    # One attempt, one limit: the old keeper's try counts for the new one.
    assert new.next_attempt_at == old.next_attempt_at == clock() + 60


async def test_a_token_endpoint_outage_is_logged_once_down_and_once_back(
    mock_api: FleetMock,
    session: aiohttp.ClientSession,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = Owner(stored(clock, 250))
    keeper = make_keeper(session, owner, clock)
    for _ in range(3):
        mock_api.post(TOKEN_URL, status=503)
        assert await keeper.async_get_access_token() == "access-1"
        clock.tick(60)
    rotating(mock_api, times=1)
    assert await keeper.async_get_access_token() == "access-2"

    said = [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name.startswith("custom_components.tesla_scout_worker")
        and record.levelno >= logging.INFO
    ]
    assert said == [
        (
            logging.WARNING,
            "Tesla's token endpoint cannot be reached (ServerError); the token is "
            "refreshed at most once a minute until it answers",
        ),
        (logging.INFO, "Tesla's token endpoint can be reached again"),
    ]
    assert posts(mock_api) == 4
