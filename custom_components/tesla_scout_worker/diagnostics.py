"""Diagnostics: what support needs, with tokens, VINs and positions redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_VINS,
)
from .models import TeslaScoutWorkerConfigEntry
from .virtual_key import async_virtual_key

TO_REDACT = {
    "access_token",
    "refresh_token",
    "id_token",
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_VINS,
    "vin",
    "unique_id",
    "title",
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    "latitude",
    "longitude",
    "display_name",
    "distance_m",
    "previous_distance_m",
    "heading",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: TeslaScoutWorkerConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    data = entry.runtime_data
    token = data.tokens.token
    return {
        "entry": async_redact_data(
            {
                "title": entry.title,
                "unique_id": entry.unique_id,
                "version": entry.version,
                "minor_version": entry.minor_version,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            TO_REDACT,
        ),
        "scout": {
            "update_interval_s": (
                data.scout.update_interval.total_seconds()
                if data.scout.update_interval
                else None
            ),
            "last_update_success": data.scout.last_update_success,
            "last_scout": data.scout.last_scout,
            "retry_at": data.scout.tracker.retry_at,
        },
        "vehicles": [
            async_redact_data(car.status.as_dict(), TO_REDACT)
            for car in data.scout.tracker.cars.values()
        ],
        "worker": [
            {
                "smart_charging": car.settings.smart_charging,
                "departure": car.settings.departure.isoformat(),
                "schedule_known": car.schedule is not None,
                "last_run": car.last_run.as_dict() if car.last_run else None,
            }
            for car in data.scout.tracker.cars.values()
        ],
        "token": {
            "expires_at": token.expires_at,
            "expires_in": token.expires_in,
            "token_type": token.token_type,
            "manager": data.tokens.stats.as_dict(),
        },
        "usage": {
            "today": data.usage.today.as_dict(),
            "month": data.usage.month.as_dict(),
        },
        "signed_commands": await _signed_commands(hass, entry),
    }


async def _signed_commands(
    hass: HomeAssistant, entry: TeslaScoutWorkerConfigEntry
) -> dict[str, Any]:
    """How commands are signed, and whether the cars know the key (no key, no VIN)."""
    data = entry.runtime_data
    client = data.client
    key = await async_virtual_key(hass, create=False)
    return {
        "route": "proxy"
        if client.command_base_url
        else ("in_process" if client.signer is not None else "plain"),
        "cars_needing_signatures": len(client.signing_required),
        "cars_without_the_key": len(data.worker.pairing.unpaired_cars),
        # The domain names the owner: only whether one is set.
        "key_domain_set": key is not None and key.domain is not None,
        "key_served_here": key is not None and key.serve,
    }
