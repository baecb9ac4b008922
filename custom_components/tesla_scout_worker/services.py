"""Actions of Tesla Scout & Worker."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import ATTR_CONFIG_ENTRY_ID, DOMAIN
from .models import TeslaScoutWorkerConfigEntry

SERVICE_REFRESH_TOKEN = "refresh_token"

REFRESH_TOKEN_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})


def async_get_loaded_entry(
    hass: HomeAssistant, entry_id: str
) -> TeslaScoutWorkerConfigEntry:
    """The loaded entry an action names, or a translated validation error."""
    entry: TeslaScoutWorkerConfigEntry | None = hass.config_entries.async_get_entry(
        entry_id
    )
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry


async def _async_refresh_token(call: ServiceCall) -> None:
    entry = async_get_loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    await entry.runtime_data.tokens.async_force_refresh()


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for all entries)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_REFRESH_TOKEN,
        _async_refresh_token,
        schema=REFRESH_TOKEN_SCHEMA,
    )
