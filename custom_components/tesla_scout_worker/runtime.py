"""Wiring of one config entry, once, at setup: each part is handed what it needs.

Token keeper → Fleet client → tracker (the one writer of the cars) → the scout
and the worker, which subscribe to the tracker; then the stored cars, the first
check, and what the entry's unload stops.
"""

from __future__ import annotations

import ssl
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import (
    CONF_API_BASE_URL,
    CONF_COMMAND_PROXY_CA_FILE,
    CONF_COMMAND_PROXY_URL,
    CONF_COMMAND_PROXY_VERIFY_SSL,
    CONF_VINS,
    DOMAIN,
)
from .domain.tracker import VehicleTracker
from .fleet import (
    InvalidClientError,
    LoginRequiredError,
    TeslaFleetClient,
    TokenRefreshFailedError,
    TokenRefreshRateLimitedError,
)
from .fleet.auth import location_scope_granted
from .fleet.outage import watch_command_proxy
from .issues import vehicle_gone_issue_id
from .models import TeslaScoutWorkerConfigEntry, TeslaScoutWorkerData
from .scout import ScoutCoordinator, home_from_options
from .tokens import async_adopt_saved_token, async_token_keeper, token_error_to_ha
from .usage import UsageTracker
from .virtual_key import async_require_virtual_key
from .worker import WorkerScheduler


async def async_build_runtime(
    hass: HomeAssistant, entry: TeslaScoutWorkerConfigEntry
) -> TeslaScoutWorkerData:
    """Build what a loaded entry needs; raise if the account is not usable now."""
    session = async_get_clientsession(hass)
    usage = UsageTracker(hass, entry.entry_id)
    await usage.async_load()
    await async_adopt_saved_token(hass, entry)
    tokens = async_token_keeper(hass, entry, session, on_request=usage.record)
    try:
        access_token = await tokens.async_get_access_token()
    except TokenRefreshFailedError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="token_refresh_unavailable"
        ) from err
    except TokenRefreshRateLimitedError as err:
        # A setup retry (Home Assistant's come 5, 15, 35… s after the first
        # try) inside the one-minute limit or Tesla's Retry-After: not ready
        # yet, never a setup error that waits for the user.
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="token_refresh_waiting",
            translation_placeholders=token_error_to_ha(err).translation_placeholders,
        ) from err
    except (LoginRequiredError, InvalidClientError) as err:
        # Only a new login helps: the reauth flow is under way.
        raise token_error_to_ha(err) from err
    proxy_url = entry.options.get(CONF_COMMAND_PROXY_URL) or None
    # Without the user's proxy, commands to the cars that need it are signed
    # here, with Home Assistant's one key (made at the first need).
    signing_key = (
        (await async_require_virtual_key(hass)).key if proxy_url is None else None
    )
    client = TeslaFleetClient(
        session=session,
        token_provider=tokens,
        api_base_url=entry.data[CONF_API_BASE_URL],
        command_base_url=proxy_url,
        command_ssl=await async_command_ssl(hass, entry.options),
        signing_key=signing_key,
        on_request=usage.record
        if proxy_url is None
        else watch_command_proxy(usage.record),
    )
    tracker = VehicleTracker(
        client,
        list(entry.data[CONF_VINS]),
        home_from_options(hass, entry.options),
        location_allowed=location_scope_granted(access_token),
    )
    async_remove_stale_devices(hass, entry)
    # Each subscribes to the tracker's transitions and changes: the scout for
    # events and snapshots, the worker for runs.
    scout = ScoutCoordinator(hass, entry, tracker)
    worker = WorkerScheduler(hass, entry, tracker)
    await scout.async_restore()
    await scout.async_config_entry_first_refresh()
    # Only once setup can no longer fail: listeners are cleaned up on unload.
    entry.async_on_unload(usage.async_start())
    entry.async_on_unload(usage.async_save)
    entry.async_on_unload(scout.store.async_save)
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
        # A context of its own that trusts the proxy's CA only. Never Home
        # Assistant's shared client context: a CA loaded there would be
        # trusted by every integration's HTTPS, and stay after unload.
        return ssl.create_default_context(cafile=ca_file)

    return await hass.async_add_executor_job(load)


def device_is_current(
    entry: TeslaScoutWorkerConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Whether a device of the entry is its account or one of its vehicles now."""
    current = {entry.unique_id or entry.entry_id, *entry.data[CONF_VINS]}
    return any(
        domain == DOMAIN and identifier in current
        for domain, identifier in device.identifiers
    )


def vehicle_of(
    entry: TeslaScoutWorkerConfigEntry, device: dr.DeviceEntry
) -> str | None:
    """The VIN of the entry's vehicle that ``device`` is (``None``: another)."""
    vins = set(entry.data[CONF_VINS])
    return next(
        (
            identifier
            for domain, identifier in device.identifiers
            if domain == DOMAIN and identifier in vins
        ),
        None,
    )


def vehicle_is_gone(entry: TeslaScoutWorkerConfigEntry, vin: str) -> bool:
    """Whether the loaded entry found ``vin`` missing from the account's list."""
    if entry.state is not ConfigEntryState.LOADED:
        return False
    cars = entry.runtime_data.scout.tracker.cars
    return vin in cars and cars[vin].gone


@callback
def async_remove_vehicle(
    hass: HomeAssistant, entry: TeslaScoutWorkerConfigEntry, vin: str
) -> None:
    """Drop a vehicle from the entry; the reload removes its device."""
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            CONF_VINS: [other for other in entry.data[CONF_VINS] if other != vin],
        },
    )
    ir.async_delete_issue(hass, DOMAIN, vehicle_gone_issue_id(entry.entry_id, vin))
    hass.config_entries.async_schedule_reload(entry.entry_id)


@callback
def async_remove_stale_devices(
    hass: HomeAssistant, entry: TeslaScoutWorkerConfigEntry
) -> None:
    """Remove the devices of vehicles that left the entry (reconfigure, repair)."""
    registry = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not device_is_current(entry, device):
            # A vehicle's device is this entry's alone (entity unique ids
            # hold the VIN, so a second entry never adds its entities to it).
            # Newer Home Assistant deprecates taking an entry off a device.
            registry.async_remove_device(device.id)
