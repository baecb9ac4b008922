"""Tests for the actions and the refresh button."""

from __future__ import annotations

import asyncio
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.button.const import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.tesla_scout_worker.const import DOMAIN

from .conftest import TOKEN_URL, token_calls

NEW_TOKEN = {"access_token": "a2", "refresh_token": "EU_r2", "expires_in": 28800}
BUTTON = "button.test_account_refresh_token"


async def test_refresh_token_action(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    aioclient_mock.post(TOKEN_URL, json=NEW_TOKEN)
    data = {"config_entry_id": init_integration.entry_id}
    await hass.services.async_call(DOMAIN, "refresh_token", data, blocking=True)
    assert init_integration.data["token"]["refresh_token"] == "EU_r2"

    freezer.tick(10)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(DOMAIN, "refresh_token", data, blocking=True)
    assert err.value.translation_key == "token_refresh_rate_limited"
    assert err.value.translation_placeholders is not None
    assert "next_attempt" in err.value.translation_placeholders
    assert token_calls(aioclient_mock) == 1


async def test_refresh_button(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    aioclient_mock.post(TOKEN_URL, json=NEW_TOKEN)
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: BUTTON}, blocking=True
    )
    assert init_integration.data["token"]["refresh_token"] == "EU_r2"
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: BUTTON}, blocking=True
        )
    assert err.value.translation_key == "token_refresh_rate_limited"
    assert token_calls(aioclient_mock) == 1


async def test_action_with_unknown_entry(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "refresh_token", {"config_entry_id": "nope"}, blocking=True
        )
    assert err.value.translation_key == "entry_not_found"


async def test_action_with_unloaded_entry(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await hass.config_entries.async_unload(init_integration.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "refresh_token",
            {"config_entry_id": init_integration.entry_id},
            blocking=True,
        )
    assert err.value.translation_key == "entry_not_loaded"


async def test_refresh_actions_during_a_refresh_join_it(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """20 refresh actions while the token endpoint is still answering: one POST,
    and every one of them gets the new token (none is refused)."""
    answering = asyncio.Event()
    release = asyncio.Event()

    async def slow(method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        answering.set()
        await release.wait()
        return AiohttpClientMockResponse(method, url, json=NEW_TOKEN)

    aioclient_mock.post(TOKEN_URL, side_effect=slow)
    data = {"config_entry_id": init_integration.entry_id}
    first = hass.async_create_task(
        hass.services.async_call(DOMAIN, "refresh_token", data, blocking=True)
    )
    await answering.wait()
    joiners = [
        hass.async_create_task(
            hass.services.async_call(DOMAIN, "refresh_token", data, blocking=True)
        )
        for _ in range(20)
    ]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(first, *joiners, return_exceptions=True)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert token_calls(aioclient_mock) == 1
    assert init_integration.data["token"]["refresh_token"] == "EU_r2"
