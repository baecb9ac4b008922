"""Recovering by itself: a token endpoint that blips at startup, reloads, outages.

Scenarios at the Home Assistant level: the entry is set up through
``hass.config_entries`` and time moves with the ``freezer`` from a fixed
instant, so Home Assistant's own setup retries and the scout's timers fire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import logging
import re
import time
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.tesla_scout_worker.const import CONF_COMMAND_PROXY_URL, DOMAIN

from .conftest import TOKEN_URL, access_token, token_calls, token_data
from .fake_fleet import FakeFleet

START = "2026-12-01 09:00:00+00:00"
"""A fixed instant (01:00 in US/Pacific, 10:00 in Warsaw): no daily run near."""

type Answer = Callable[[str, URL], AiohttpClientMockResponse]


def rotated(method: str, url: URL, number: int) -> AiohttpClientMockResponse:
    """Tesla's answer to a refresh: a new pair, distinct from every other."""
    return AiohttpClientMockResponse(
        method,
        url,
        json={
            "access_token": f"{access_token()}.{number}",
            "refresh_token": f"EU_refresh-{number}",
            "expires_in": 28800,
            "token_type": "Bearer",
        },
    )


def token_endpoint(
    aioclient_mock: AiohttpClientMocker, failures: list[Answer | BaseException]
) -> list[float]:
    """Tesla's token endpoint: ``failures`` first, then it rotates.

    Returns the time of each POST (epoch seconds).
    """
    posts: list[float] = []

    async def answer(
        method: str, url: URL, data: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        posts.append(time.time())
        if failures:
            failure = failures.pop(0)
            if isinstance(failure, BaseException):
                raise failure
            return failure(method, url)
        return rotated(method, url, len(posts) + 1)

    aioclient_mock.post(TOKEN_URL, side_effect=answer)
    return posts


def status(code: int, headers: dict[str, str] | None = None) -> Answer:
    """A failed answer of the token endpoint."""

    def answer(method: str, url: URL) -> AiohttpClientMockResponse:
        return AiohttpClientMockResponse(
            method,
            url,
            status=code,
            json={"error": "temporarily_unavailable"},
            headers=headers,
        )

    return answer


def with_expired_token(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Home Assistant was off longer than the access token lives."""
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "token": token_data(expires_in=-3600)}
    )


async def wait_for_state(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    wanted: ConfigEntryState,
    *,
    limit: timedelta = timedelta(minutes=10),
) -> ConfigEntryState:
    """Let time pass in 5 s steps (setup retries fire) until ``wanted``."""
    started = dt_util.utcnow()
    while entry.state is not wanted and dt_util.utcnow() - started < limit:
        freezer.tick(5)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    state: ConfigEntryState = entry.state
    return state


@pytest.mark.parametrize(
    ("failure", "earliest_retry_s"),
    [
        (status(503), 60),
        (status(429, {"Retry-After": "30"}), 60),
        (status(429, {"Retry-After": "150"}), 150),
        (TimeoutError(), 60),
    ],
    ids=["503", "429-retry-after-30", "429-retry-after-150", "timeout"],
)
async def test_a_token_endpoint_blip_at_startup_recovers_by_itself(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    failure: Answer | BaseException,
    earliest_retry_s: float,
) -> None:
    """Setup retries until the refresh limit (and Retry-After) allow a new POST.

    Home Assistant retries a setup 5, 15, 35… s after the first try, inside
    the one-minute limit: those retries wait (not ready) instead of failing
    for good, and the entry loads once the endpoint answers.
    """
    freezer.move_to(START)
    with_expired_token(hass, mock_config_entry)
    posts = token_endpoint(aioclient_mock, [failure])

    assert not await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY

    state = await wait_for_state(
        hass, mock_config_entry, freezer, ConfigEntryState.LOADED
    )

    assert state is ConfigEntryState.LOADED
    assert len(posts) == 2
    # Nothing was sent before the limit (and Tesla's Retry-After) allowed it.
    assert posts[1] - posts[0] >= earliest_retry_s
    token = mock_config_entry.data["token"]
    assert token["refresh_token"] == "EU_refresh-3"
    # The Fleet API got the new token, not the expired one.
    assert fleet.count("list") >= 1
    bearers = {
        call[3]["Authorization"]
        for call in aioclient_mock.mock_calls
        if str(call[1]).startswith(fleet.base_url)
    }
    assert bearers == {f"Bearer {token['access_token']}"}


async def test_a_blip_while_the_token_still_works_does_not_delay_setup(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Four minutes left and a 503: the entry loads with the token it has.

    The refresh is tried again when the limit allows and something needs it.
    """
    freezer.move_to(START)
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=240)},
    )
    current = mock_config_entry.data["token"]["access_token"]
    posts = token_endpoint(aioclient_mock, [status(503)])

    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert len(posts) == 1
    assert fleet.count("list") == 1
    assert aioclient_mock.mock_calls[-1][3]["Authorization"] == f"Bearer {current}"
    await let_time_pass(hass, freezer, timedelta(minutes=16))
    assert len(posts) == 2
    assert mock_config_entry.data["token"]["refresh_token"] == "EU_refresh-3"


def held_token_endpoint(
    aioclient_mock: AiohttpClientMocker,
) -> tuple[asyncio.Event, asyncio.Event, list[str]]:
    """A token endpoint that answers only when released; the tokens sent."""
    answering, release = asyncio.Event(), asyncio.Event()
    sent: list[str] = []

    async def answer(
        method: str, url: URL, data: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        sent.append(data["refresh_token"])
        answering.set()
        await release.wait()
        return rotated(method, url, len(sent) + 1)

    aioclient_mock.post(TOKEN_URL, side_effect=answer)
    return answering, release, sent


async def test_a_reload_while_a_refresh_is_in_flight_joins_it(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The token ran out; the scout's refresh is slow; the user reloads meanwhile.

    The reloaded entry waits for that refresh and loads with its token: one
    POST, no refusal by the one-minute limit.
    """
    freezer.move_to(START)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    answering, release, sent = held_token_endpoint(aioclient_mock)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=-1)},
    )
    scout = mock_config_entry.runtime_data.scout
    cycle = hass.async_create_task(scout.async_refresh())
    await answering.wait()

    reload = hass.async_create_task(
        hass.config_entries.async_reload(mock_config_entry.entry_id)
    )
    for _ in range(50):
        await asyncio.sleep(0)
    assert not reload.done(), "the reload waits for the refresh in flight"
    release.set()
    assert await reload
    await cycle
    await hass.async_block_till_done(wait_background_tasks=True)

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert sent == ["EU_refresh-1"]
    token = mock_config_entry.data["token"]
    assert token["refresh_token"] == "EU_refresh-2"
    assert token_calls(aioclient_mock) == 1
    bearer = [
        call[3]["Authorization"]
        for call in aioclient_mock.mock_calls
        if str(call[1]).startswith(fleet.base_url)
    ][-1]
    assert bearer == f"Bearer {token['access_token']}"


def said(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    """What this integration's loggers said at INFO or above, in order."""
    package = f"custom_components.{DOMAIN}"
    return [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name.startswith(package) and record.levelno >= logging.INFO
    ]


async def let_time_pass(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    duration: timedelta,
    *,
    every: Callable[[], Any] | None = None,
    step: timedelta = timedelta(minutes=1),
) -> None:
    """Move the clock minute by minute; timers (scout checks, retries) fire."""
    end = dt_util.utcnow() + duration
    while dt_util.utcnow() < end:
        if every is not None:
            await every()
        freezer.tick(step)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()


async def test_a_token_endpoint_down_for_hours_is_logged_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Four hours of 503s: one warning when it starts, one line when it ends."""
    freezer.move_to(START)
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=600)},
    )
    down: list[Answer | BaseException] = [status(503)] * 10_000
    posts = token_endpoint(aioclient_mock, down)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    caplog.clear()

    await let_time_pass(hass, freezer, timedelta(hours=4))
    attempts = len(posts)
    down.clear()
    await let_time_pass(hass, freezer, timedelta(minutes=30))

    assert attempts >= 10, "the refresh was tried all along"
    assert len(posts) == attempts + 1
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert said(caplog) == [
        (
            logging.WARNING,
            "Tesla's token endpoint cannot be reached (ServerError); the token is "
            "refreshed at most once a minute until it answers",
        ),
        # An hour after the token ran out the entities went unavailable: Home
        # Assistant's coordinator says so once, with our reason, and once
        # that the data is back.
        (
            logging.ERROR,
            "Error fetching tesla_scout_worker data: No valid access token for an "
            "hour (TokenRefreshFailedError): Tesla's token service has not "
            "refreshed it; the vehicle entities are unavailable until it does",
        ),
        (logging.INFO, "Tesla's token endpoint can be reached again"),
        (logging.INFO, "Fetching tesla_scout_worker data recovered"),
    ]


async def test_a_fleet_api_down_for_hours_is_logged_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Four hours of 503s from the Fleet API, then it answers."""
    freezer.move_to(START)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    caplog.clear()

    async def keep_failing() -> None:
        while len(fleet.faults) < 3:
            fleet.fail_next("list", 503, "<html>Service unavailable</html>")

    await let_time_pass(hass, freezer, timedelta(hours=4), every=keep_failing)
    checks = fleet.count("list")
    fleet.faults.clear()
    await let_time_pass(hass, freezer, timedelta(minutes=30))

    assert checks >= 10
    state = hass.states.get("sensor.test_vehicle_state")
    assert state is not None
    assert state.state == "asleep"
    assert said(caplog) == [
        (logging.WARNING, "Tesla cannot be reached: ServerError"),
        # After an hour the entities went unavailable: the coordinator says so
        # once, and once that the data is back (not a second line of ours).
        (
            logging.ERROR,
            "Error fetching tesla_scout_worker data: Tesla's Fleet API has not "
            "answered for an hour (ServerError); the vehicle entities are "
            "unavailable until it does",
        ),
        (logging.INFO, "Fetching tesla_scout_worker data recovered"),
    ]


PROXY_URL = "https://proxy.local:4443"


async def test_a_command_proxy_down_for_hours_is_logged_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The proxy is off for four hours; the user tries a command every half hour."""
    freezer.move_to(START)
    fleet.cars[next(iter(fleet.cars))].state = "online"
    proxy_down = True
    sent: list[str] = []

    async def proxy(
        method: str, url: URL, data: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        sent.append(url.path)
        if proxy_down:
            raise aiohttp.ClientConnectionError("Connection refused")
        return AiohttpClientMockResponse(
            method, url, json={"response": {"result": True, "reason": ""}}
        )

    aioclient_mock.post(re.compile(rf"^{re.escape(PROXY_URL)}/.*$"), side_effect=proxy)
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_COMMAND_PROXY_URL: PROXY_URL},
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    caplog.clear()
    failures: list[str | None] = []

    async def start_charging() -> None:
        if dt_util.utcnow().minute % 30:
            return
        try:
            await hass.services.async_call(
                "switch",
                "turn_on",
                {"entity_id": "switch.test_charging"},
                blocking=True,
            )
        except HomeAssistantError as err:
            failures.append(err.translation_key)

    await let_time_pass(hass, freezer, timedelta(hours=4), every=start_charging)
    proxy_down = False
    await let_time_pass(hass, freezer, timedelta(minutes=30), every=start_charging)

    assert len(sent) == 9
    assert failures == ["cannot_reach_tesla"] * 8
    assert said(caplog) == [
        (
            logging.WARNING,
            "The command proxy cannot be reached (no answer); commands are not "
            "sent until it answers",
        ),
        (logging.INFO, "The command proxy can be reached again"),
    ]
