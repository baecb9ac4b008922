"""Tests for the token keeper in Home Assistant: storage, reauth, events, errors.

The keeper's own logic (single flight, rate limit, persist-before-use) is
tested HA-free in ``tests/fleet/test_tokens.py``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.tesla_scout_worker.const import EVENT_TYPE
from custom_components.tesla_scout_worker.fleet import (
    InvalidClientError,
    LoginRequiredError,
    TokenRefreshFailedError,
    TokenRefreshRateLimitedError,
)
from custom_components.tesla_scout_worker.fleet.tokens import TOKEN_ERRORS, TokenKeeper
from custom_components.tesla_scout_worker.tokens import (
    async_token_keeper,
    token_error_to_ha,
)

from .conftest import (
    TOKEN_URL,
    access_token,
    token_calls,
    token_data,
)
from .fake_fleet import FakeFleet

PACKAGE = "custom_components.tesla_scout_worker"


def rotating_token_endpoint(
    aioclient_mock: AiohttpClientMocker, *, delay: float = 0.01
) -> list[dict[str, Any]]:
    """Mock Tesla's token endpoint: each call rotates; returns the forms sent."""
    forms: list[dict[str, Any]] = []

    async def answer(
        method: str, url: URL, data: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        forms.append(dict(data))
        await asyncio.sleep(delay)
        number = len(forms) + 1
        return AiohttpClientMockResponse(
            method,
            url,
            json={
                "access_token": access_token() + f".{number}",
                "refresh_token": f"EU_refresh-{number}",
                "expires_in": 28800,
                "token_type": "Bearer",
            },
        )

    aioclient_mock.post(TOKEN_URL, side_effect=answer)
    return forms


def manager(hass: HomeAssistant, entry: MockConfigEntry) -> TokenKeeper:
    return async_token_keeper(hass, entry, async_get_clientsession(hass))


def expiring_entry(hass: HomeAssistant, entry: MockConfigEntry, seconds: float) -> None:
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "token": token_data(expires_in=seconds)}
    )


async def test_fifty_concurrent_callers_cause_one_refresh(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    expiring_entry(hass, mock_config_entry, 299)
    forms = rotating_token_endpoint(aioclient_mock)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_TYPE, events.append)
    tokens = manager(hass, mock_config_entry)

    async def caller() -> str:
        token = await tokens.async_get_access_token()
        # Persist before use: whoever receives a token finds it stored.
        assert mock_config_entry.data["token"]["access_token"] == token
        return token

    results = await asyncio.gather(*(caller() for _ in range(50)))
    await hass.async_block_till_done()

    assert len(forms) == 1
    assert forms[0] == {
        "grant_type": "refresh_token",
        "client_id": "client-id-123",
        "refresh_token": "EU_refresh-1",
    }
    assert len(set(results)) == 1
    assert results[0].endswith(".2")
    assert mock_config_entry.data["token"]["refresh_token"] == "EU_refresh-2"
    assert [e.data for e in events] == [
        {"type": "token_refreshed", "config_entry_id": mock_config_entry.entry_id}
    ]
    assert tokens.stats.refreshes == 1


async def test_expires_at_comes_from_expires_in(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to("2026-11-28 12:00:00+00:00")
    expiring_entry(hass, mock_config_entry, 10)
    aioclient_mock.post(
        TOKEN_URL,
        json={"access_token": "new", "refresh_token": "EU_r2", "expires_in": 3600},
    )
    await manager(hass, mock_config_entry).async_get_access_token()
    stored = mock_config_entry.data["token"]
    assert stored["expires_in"] == 3600
    assert stored["expires_at"] == pytest.approx(1795867200.0 + 3600)


async def test_login_required_starts_reauth(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    expiring_entry(hass, mock_config_entry, 0)
    aioclient_mock.post(
        TOKEN_URL,
        status=401,
        json={"error": "login_required", "error_description": "Login required"},
    )
    tokens = manager(hass, mock_config_entry)
    with pytest.raises(LoginRequiredError):
        await tokens.async_get_access_token()
    await hass.async_block_till_done()
    flows = mock_config_entry.async_get_active_flows(hass, {SOURCE_REAUTH})
    assert len(list(flows)) == 1
    assert tokens.stats.last_failure == "login_required"
    # The stored token is untouched: nothing was lost.
    assert mock_config_entry.data["token"]["refresh_token"] == "EU_refresh-1"
    assert [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(PACKAGE) and record.levelno == logging.WARNING
    ] == [
        "Tesla no longer accepts the refresh token of Test; reauthentication is needed"
    ]


async def test_rotated_token_survives_a_reload_and_is_used_next(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    fleet: FakeFleet,
) -> None:
    mock_config_entry.add_to_hass(hass)
    forms = rotating_token_endpoint(aioclient_mock, delay=0)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await mock_config_entry.runtime_data.tokens.async_force_refresh()
    assert mock_config_entry.data["token"]["refresh_token"] == "EU_refresh-2"

    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    freezer.tick(61)
    await mock_config_entry.runtime_data.tokens.async_force_refresh()

    assert [form["refresh_token"] for form in forms] == ["EU_refresh-1", "EU_refresh-2"]
    assert mock_config_entry.data["token"]["refresh_token"] == "EU_refresh-3"


async def test_invalid_client_starts_reauth_instead_of_a_silent_outage(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The developer application was revoked: reauth, where a new id goes in."""
    expiring_entry(hass, mock_config_entry, 0)
    aioclient_mock.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    tokens = manager(hass, mock_config_entry)
    with pytest.raises(InvalidClientError) as err:
        await tokens.async_get_access_token()
    assert token_error_to_ha(err.value).translation_key == "invalid_client"
    await hass.async_block_till_done()
    flows = mock_config_entry.async_get_active_flows(hass, {SOURCE_REAUTH})
    assert len(list(flows)) == 1
    assert tokens.stats.last_failure == "invalid_client"
    assert [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(PACKAGE) and record.levelno == logging.WARNING
    ] == ["Tesla no longer knows the application of Test; reauthentication is needed"]


async def test_a_change_made_during_a_refresh_is_not_reverted(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """The rotated token is written on top of the entry's data as it is then."""
    expiring_entry(hass, mock_config_entry, 0)
    na = "https://fleet-api.prd.na.vn.cloud.tesla.com"

    async def answer(
        method: str, url: URL, data: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        # Meanwhile the scout learns that the account lives in another region.
        hass.config_entries.async_update_entry(
            mock_config_entry, data={**mock_config_entry.data, "api_base_url": na}
        )
        return AiohttpClientMockResponse(
            method,
            url,
            json={
                "access_token": access_token(),
                "refresh_token": "EU_refresh-2",
                "expires_in": 28800,
            },
        )

    aioclient_mock.post(TOKEN_URL, side_effect=answer)
    await manager(hass, mock_config_entry).async_get_access_token()
    assert mock_config_entry.data["token"]["refresh_token"] == "EU_refresh-2"
    assert mock_config_entry.data["api_base_url"] == na


def held_token_endpoint(
    aioclient_mock: AiohttpClientMocker,
) -> tuple[asyncio.Event, asyncio.Event, list[str]]:
    """A token endpoint that answers only when released; returns the tokens sent."""
    answering, release = asyncio.Event(), asyncio.Event()
    sent: list[str] = []

    async def answer(
        method: str, url: URL, data: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        sent.append(data["refresh_token"])
        answering.set()
        await release.wait()
        return AiohttpClientMockResponse(
            method,
            url,
            json={
                "access_token": access_token(),
                "refresh_token": f"EU_refresh-{len(sent) + 1}",
                "expires_in": 28800,
            },
        )

    aioclient_mock.post(TOKEN_URL, side_effect=answer)
    return answering, release, sent


async def test_the_rotated_token_is_on_disk_before_anyone_uses_it(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    hass_storage: dict[str, Any],
) -> None:
    expiring_entry(hass, mock_config_entry, 0)
    rotating_token_endpoint(aioclient_mock)
    await manager(hass, mock_config_entry).async_get_access_token()
    # Written at once, not after Home Assistant's delayed config-entry save.
    saved = hass_storage[f"tesla_scout_worker.{mock_config_entry.entry_id}.token"]
    assert saved["data"]["token"]["refresh_token"] == "EU_refresh-2"


async def test_a_restart_right_after_a_refresh_uses_the_rotated_token(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
    hass_storage: dict[str, Any],
) -> None:
    """Home Assistant stopped before it wrote the entry: the token store has it."""
    expiring_entry(hass, mock_config_entry, 3600)
    rotated = token_data(expires_in=28800, refresh_token="EU_rotated-2")
    hass_storage[f"tesla_scout_worker.{mock_config_entry.entry_id}.token"] = {
        "version": 1,
        "key": f"tesla_scout_worker.{mock_config_entry.entry_id}.token",
        "data": {"token": rotated},
    }
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert mock_config_entry.data["token"]["refresh_token"] == "EU_rotated-2"
    assert token_calls(aioclient_mock) == 0


async def test_a_reload_during_a_refresh_joins_it_and_keeps_its_token(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """One POST per used refresh token, across reloads and cancelled callers."""
    expiring_entry(hass, mock_config_entry, 400)  # valid, refreshed soon
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    answering, release, sent = held_token_endpoint(aioclient_mock)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=100)},
    )
    old = mock_config_entry.runtime_data.tokens
    caller = hass.async_create_task(old.async_get_access_token())
    await answering.wait()
    # The POST runs in a background task of Home Assistant's, the caller's
    # cancellation cannot stop it.
    assert "tesla_scout_worker token refresh" in {
        task.get_name() for task in asyncio.all_tasks()
    }

    # The entry reloads meanwhile (options, a new login…): the old caller is
    # cancelled with it, and the new token keeper needs a token too.
    caller.cancel()
    new = async_token_keeper(hass, mock_config_entry, async_get_clientsession(hass))
    joined = hass.async_create_task(new.async_get_access_token())
    await asyncio.sleep(0)
    release.set()
    token = await joined
    await hass.async_block_till_done()

    assert sent == ["EU_refresh-1"]
    assert mock_config_entry.data["token"]["refresh_token"] == "EU_refresh-2"
    assert mock_config_entry.data["token"]["access_token"] == token


@pytest.mark.parametrize(
    ("err", "kind", "key", "placeholders"),
    [
        (
            LoginRequiredError(status=401, error="login_required"),
            ConfigEntryAuthFailed,
            "login_required",
            None,
        ),
        (
            LoginRequiredError(status=400, error="invalid_grant"),
            ConfigEntryAuthFailed,
            "login_required",
            None,
        ),
        (
            InvalidClientError(status=401, error="invalid_client"),
            ConfigEntryAuthFailed,
            "invalid_client",
            None,
        ),
        (
            TokenRefreshFailedError("ServerError"),
            HomeAssistantError,
            "token_refresh_failed",
            {"reason": "ServerError"},
        ),
        (
            # 2026-12-02 12:00:05 UTC: 13:00:05 in Warsaw.
            TokenRefreshRateLimitedError(1796212805.0),
            HomeAssistantError,
            "token_refresh_rate_limited",
            {"next_attempt": "13:00:05"},
        ),
    ],
    ids=["login_required", "invalid_grant", "invalid_client", "failed", "waiting"],
)
async def test_each_refusal_of_the_keeper_is_told_in_the_users_words(
    hass: HomeAssistant,
    err: Exception,
    kind: type[HomeAssistantError],
    key: str,
    placeholders: dict[str, str] | None,
) -> None:
    """One mapping: the keeper's errors to Home Assistant's, translated."""
    await hass.config.async_set_time_zone("Europe/Warsaw")
    assert isinstance(err, TOKEN_ERRORS)
    told = token_error_to_ha(err)
    assert type(told) is kind
    assert told.translation_domain == "tesla_scout_worker"
    assert told.translation_key == key
    assert told.translation_placeholders == placeholders
