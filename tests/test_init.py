"""Tests for setting up, unloading and reloading an entry."""

from __future__ import annotations

import ssl

import certifi
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.tesla_scout_worker.const import (
    CONF_COMMAND_PROXY_CA_FILE,
    CONF_COMMAND_PROXY_URL,
    CONF_COMMAND_PROXY_VERIFY_SSL,
    DOMAIN,
)

from .conftest import TOKEN_URL, token_data
from .fake_fleet import FakeFleet


async def test_load_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    assert init_integration.state is ConfigEntryState.LOADED
    assert hass.services.has_service(DOMAIN, "refresh_token")
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    entry = hass.config_entries.async_get_entry(init_integration.entry_id)
    assert entry is not None
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_token_service_down_retries_setup(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=-1)},
    )
    aioclient_mock.post(TOKEN_URL, status=502, text="<html>Bad gateway</html>")
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_login_required_at_setup_starts_reauth(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=-1)},
    )
    aioclient_mock.post(TOKEN_URL, status=401, json={"error": "login_required"})
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = list(mock_config_entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
    assert len(flows) == 1


async def test_command_proxy_tls_settings(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={
            **mock_config_entry.options,
            CONF_COMMAND_PROXY_URL: "https://proxy.local:4443",
            CONF_COMMAND_PROXY_VERIFY_SSL: False,
        },
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    client = mock_config_entry.runtime_data.client
    assert client.command_base_url == "https://proxy.local:4443"
    assert client.command_ssl is False

    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={
            **mock_config_entry.options,
            CONF_COMMAND_PROXY_VERIFY_SSL: True,
            CONF_COMMAND_PROXY_CA_FILE: certifi.where(),
        },
    )
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    client = mock_config_entry.runtime_data.client
    assert isinstance(client.command_ssl, ssl.SSLContext)
    assert client.command_ssl.cert_store_stats()["x509_ca"] > 0
