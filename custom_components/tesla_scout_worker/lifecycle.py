"""What Home Assistant calls: setup, unload, and the removal of a car or an entry.

Re-exported by the package's ``__init__`` (see there why it is not that file).
"""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .http import async_register_views
from .models import TeslaScoutWorkerConfigEntry
from .runtime import (
    async_build_runtime,
    async_remove_vehicle,
    device_is_current,
    vehicle_is_gone,
    vehicle_of,
)
from .services import async_setup_services
from .storage import async_remove_vehicles
from .tokens import async_remove_saved_token
from .usage import async_remove_usage
from .virtual_key import async_remove_virtual_key, async_virtual_key

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.DEVICE_TRACKER,
    Platform.EVENT,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TIME,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions and the token-sharing views once."""
    async_setup_services(hass)
    async_register_views(hass)
    # The key Home Assistant serves, if there is one (none is made here).
    await async_virtual_key(hass, create=False)
    return True


async def async_setup_entry(
    hass: HomeAssistant, entry: TeslaScoutWorkerConfigEntry
) -> bool:
    """Set up one Tesla account."""
    entry.runtime_data = await async_build_runtime(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_create_background_task(
        hass,
        entry.runtime_data.worker.pairing.async_check(),
        f"{DOMAIN} key pairing check",
    )
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: TeslaScoutWorkerConfigEntry
) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_config_entry_device(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    device: dr.DeviceEntry,
) -> bool:
    """Let the user delete a vehicle that is no longer part of the entry or account.

    A car gone from the account's vehicle list (sold, or the share removed)
    leaves the entry with its device.
    """
    if not device_is_current(entry, device):
        return True
    vin = vehicle_of(entry, device)
    if vin is None or not vehicle_is_gone(entry, vin):
        return False
    async_remove_vehicle(hass, entry, vin)
    return True


async def async_remove_entry(
    hass: HomeAssistant, entry: TeslaScoutWorkerConfigEntry
) -> None:
    """The entry is deleted: so are its stored cars, request counts and token.

    And its repair issues, of every kind: each of their ids holds the entry id.
    """
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        if domain == DOMAIN and entry.entry_id in issue_id:
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    await async_remove_usage(hass, entry.entry_id)
    await async_remove_vehicles(hass, entry.entry_id)
    await async_remove_saved_token(hass, entry.entry_id)
    await async_remove_virtual_key(hass, entry.entry_id)
