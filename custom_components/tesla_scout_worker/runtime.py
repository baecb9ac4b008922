"""Wiring of one config entry: token manager, Fleet client, accounting."""

from __future__ import annotations

import ssl
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util.ssl import client_context

from .const import (
    CONF_API_BASE_URL,
    CONF_COMMAND_PROXY_CA_FILE,
    CONF_COMMAND_PROXY_URL,
    CONF_COMMAND_PROXY_VERIFY_SSL,
    CONF_VINS,
    DOMAIN,
)
from .fleet import TeslaFleetClient
from .models import TeslaScoutWorkerConfigEntry, TeslaScoutWorkerData
from .scout import ScoutCoordinator, home_from_options
from .tokens import TokenManager, TokenRefreshFailedError
from .tracking import VehicleTracker
from .usage import UsageTracker
from .worker import WorkerCoordinator


async def async_build_runtime(
    hass: HomeAssistant, entry: TeslaScoutWorkerConfigEntry
) -> TeslaScoutWorkerData:
    """Build what a loaded entry needs; raise if the account is not usable now."""
    session = async_get_clientsession(hass)
    usage = UsageTracker(hass, entry.entry_id)
    await usage.async_load()
    tokens = TokenManager(hass, entry, session, on_request=usage.record)
    try:
        await tokens.async_get_access_token()
    except TokenRefreshFailedError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="token_refresh_unavailable"
        ) from err
    client = TeslaFleetClient(
        session=session,
        token_provider=tokens,
        api_base_url=entry.data[CONF_API_BASE_URL],
        command_base_url=entry.options.get(CONF_COMMAND_PROXY_URL) or None,
        command_ssl=await async_command_ssl(hass, entry.options),
        on_request=usage.record,
    )
    tracker = VehicleTracker(
        client, list(entry.data[CONF_VINS]), home_from_options(hass, entry.options)
    )
    scout = ScoutCoordinator(hass, entry, tracker)
    worker = WorkerCoordinator(hass, entry, scout)
    scout.worker_trigger = worker.async_request_run
    await scout.async_config_entry_first_refresh()
    # Only once setup can no longer fail: listeners are cleaned up on unload.
    entry.async_on_unload(usage.async_start())
    entry.async_on_unload(usage.async_save)
    entry.async_on_unload(worker.async_start())
    if (unsubscribe := scout.async_track_presence()) is not None:
        entry.async_on_unload(unsubscribe)
    return TeslaScoutWorkerData(
        client=client,
        tokens=tokens,
        usage=usage,
        scout=scout,
        worker=worker,
    )


async def async_command_ssl(
    hass: HomeAssistant, options: dict[str, Any] | Any
) -> ssl.SSLContext | bool:
    """TLS for the signed-command proxy: verify, skip, or trust a CA file."""
    if not options.get(CONF_COMMAND_PROXY_VERIFY_SSL, True):
        return False
    ca_file = options.get(CONF_COMMAND_PROXY_CA_FILE)
    if not ca_file:
        return True

    def load() -> ssl.SSLContext:
        context = client_context()
        context.load_verify_locations(cafile=ca_file)
        return context

    return await hass.async_add_executor_job(load)
