"""Every flow a user runs on a loaded entry: it reloads, and nothing is deprecated.

Home Assistant 2026.6 logs, and 2026.12 refuses, an entry that has update
listeners when a flow reloads it with ``async_update_reload_and_abort``. This
test runs the config, options, reauth and reconfigure flows on a loaded entry
and fails on any deprecation Home Assistant reports for this integration, on
every stack the test command runs.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.tesla_scout_worker.const import (
    CONF_API_BASE_URL,
    CONF_CLIENT_ID,
    CONF_SCOUT_INTERVAL,
    CONF_TOKEN,
    CONF_VINS,
    DOMAIN,
)

from .conftest import API_BASE_URL, CLIENT_ID, TOKEN_URL, VIN, access_token
from .fake_fleet import FakeFleet
from .test_config_flow import NEW_HOME, options_input

DEPRECATION_MARKERS = ("Detected that custom integration", "deprecated")


@pytest.fixture
def token_endpoint(aioclient_mock: AiohttpClientMocker) -> list[str]:
    """Tesla's token endpoint: each refresh rotates the refresh token."""
    sent: list[str] = []
    counter = itertools.count(2)

    async def rotate(method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        sent.append(data["refresh_token"])
        return AiohttpClientMockResponse(
            method,
            url,
            json={
                "access_token": access_token(),
                "refresh_token": f"EU_refresh-{next(counter)}",
                "expires_in": 28800,
                "token_type": "Bearer",
            },
        )

    aioclient_mock.post(TOKEN_URL, side_effect=rotate)
    return sent


def deprecations(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What Home Assistant reported as deprecated for this integration."""
    return [
        record.getMessage()
        for record in caplog.records
        if DOMAIN in record.getMessage()
        and any(marker in record.getMessage() for marker in DEPRECATION_MARKERS)
    ]


async def test_every_flow_on_a_loaded_entry_reloads_without_deprecations(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    fleet: FakeFleet,
    token_endpoint: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    entry = init_integration

    async def reloaded_since(runtime: Any) -> bool:
        await hass.async_block_till_done()
        return entry.state is ConfigEntryState.LOADED and entry.runtime_data is not (
            runtime
        )

    # A token rotation alone changes entry data but does not reload.
    runtime = entry.runtime_data
    await runtime.tokens.async_force_refresh()
    assert not await reloaded_since(runtime)
    assert entry.data[CONF_TOKEN]["refresh_token"] == "EU_refresh-2"

    # Options: stored and the entry reloaded with them.
    runtime = entry.runtime_data
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(**{CONF_SCOUT_INTERVAL: 30})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SCOUT_INTERVAL] == 30
    assert await reloaded_since(runtime)

    # The same options again: nothing changed, so no reload.
    runtime = entry.runtime_data
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(**{CONF_SCOUT_INTERVAL: 30})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert not await reloaded_since(runtime)

    # Config flow for the same account: the loaded entry gets the new login.
    runtime = entry.runtime_data
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "manual"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_CLIENT_ID: CLIENT_ID,
            "refresh_token": "EU_pasted-1",
            "advanced": {"token_url": TOKEN_URL},
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert await reloaded_since(runtime)
    assert entry.data[CONF_TOKEN]["refresh_token"] == "EU_refresh-3"

    # Reauth: the token replaced in place, the entry reloaded.
    runtime = entry.runtime_data
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_CLIENT_ID: CLIENT_ID, "refresh_token": "EU_pasted-2"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert await reloaded_since(runtime)
    assert entry.data[CONF_TOKEN]["refresh_token"] == "EU_refresh-4"

    # Reconfigure: the home moves, the entry reloads.
    runtime = entry.runtime_data
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: API_BASE_URL, "home": NEW_HOME},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert await reloaded_since(runtime)
    assert entry.options["home_latitude"] == NEW_HOME["latitude"]

    assert token_endpoint == ["EU_refresh-1", "EU_pasted-1", "EU_pasted-2"]
    assert deprecations(caplog) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
