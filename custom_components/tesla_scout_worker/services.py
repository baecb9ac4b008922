"""Actions of Tesla Scout & Worker.

``run_worker`` and ``get_charging_plan`` name their cars as Home Assistant's
own actions do, by device (the car, chosen in the UI), or as the SPEC has it,
by ``config_entry_id`` and ``vin`` (automations written before keep working).
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
import voluptuous as vol

from .const import ATTR_CONFIG_ENTRY_ID, ATTR_FORCE, ATTR_VIN, DOMAIN
from .domain.car import WorkerTrigger
from .fleet.tokens import TOKEN_ERRORS
from .models import TeslaScoutWorkerConfigEntry
from .tokens import token_error_to_ha

SERVICE_REFRESH_TOKEN = "refresh_token"
SERVICE_RUN_WORKER = "run_worker"
SERVICE_GET_CHARGING_PLAN = "get_charging_plan"

REFRESH_TOKEN_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
ATTR_DEVICE_ID = "device_id"
RUN_WORKER_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional(ATTR_DEVICE_ID): vol.All(cv.ensure_list, [cv.string]),
            vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
            vol.Optional(ATTR_VIN): cv.string,
            vol.Optional(ATTR_FORCE, default=False): cv.boolean,
        }
    ),
    cv.has_at_least_one_key(ATTR_DEVICE_ID, ATTR_CONFIG_ENTRY_ID),
)
GET_CHARGING_PLAN_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional(ATTR_DEVICE_ID): cv.string,
            vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
            vol.Optional(ATTR_VIN): cv.string,
        }
    ),
    cv.has_at_least_one_key(ATTR_DEVICE_ID, ATTR_CONFIG_ENTRY_ID),
    vol.Any(
        vol.Schema({vol.Required(ATTR_DEVICE_ID): object}, extra=vol.ALLOW_EXTRA),
        vol.Schema({vol.Required(ATTR_VIN): object}, extra=vol.ALLOW_EXTRA),
    ),
)


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


def _vins(entry: TeslaScoutWorkerConfigEntry, vin: str | None) -> list[str]:
    vins = list(entry.runtime_data.scout.tracker.cars)
    if vin is None:
        return vins
    if vin not in vins:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="vehicle_not_in_entry",
            translation_placeholders={"vin_tail": vin[-4:], "title": entry.title},
        )
    return [vin]


def _device_car(
    hass: HomeAssistant, device_id: str
) -> tuple[TeslaScoutWorkerConfigEntry, str]:
    """The loaded entry and VIN of a car's device, or a translated error."""
    device = dr.async_get(hass).async_get(device_id)
    if device is not None:
        vins = [vin for domain, vin in device.identifiers if domain == DOMAIN]
        ours = [
            entry
            for entry_id in device.config_entries
            if (entry := hass.config_entries.async_get_entry(entry_id)) is not None
            and entry.domain == DOMAIN
        ]
        for entry in ours:
            if entry.state is not ConfigEntryState.LOADED:
                continue
            cars = entry.runtime_data.scout.tracker.cars
            if (vin := next((v for v in vins if v in cars), None)) is not None:
                return entry, vin
        if ours and vins:
            # The car's entry is there, not loaded: say that, by its name.
            async_get_loaded_entry(hass, ours[0].entry_id)
    name = (device.name_by_user or device.name) if device is not None else None
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="device_not_a_vehicle",
        translation_placeholders={"device": name or device_id},
    )


def _cars(call: ServiceCall) -> list[tuple[TeslaScoutWorkerConfigEntry, str]]:
    """The cars an action names: by device, or by entry (and VIN)."""
    if ATTR_DEVICE_ID in call.data:
        devices = call.data[ATTR_DEVICE_ID]
        ids = [devices] if isinstance(devices, str) else list(devices)
        return [_device_car(call.hass, device_id) for device_id in ids]
    entry = async_get_loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    return [(entry, vin) for vin in _vins(entry, call.data.get(ATTR_VIN))]


async def _async_run_worker(call: ServiceCall) -> ServiceResponse:
    results: dict[str, Any] = {}
    for entry, vin in _cars(call):
        run = await entry.runtime_data.worker.async_request_run(
            vin, WorkerTrigger.ACTION, force=call.data[ATTR_FORCE]
        )
        results[vin] = str(run.result) if run is not None else "skipped"
    return {"results": results} if call.return_response else None


async def _async_get_charging_plan(call: ServiceCall) -> ServiceResponse:
    (entry, vin), *_ = _cars(call)
    worker = entry.runtime_data.worker
    plan = worker.current_plan(vin)
    last = worker.last_run(vin)
    settings = worker.tracker.car(vin).settings
    return {
        "plan": plan.as_dict() if plan is not None else None,
        "smart_charging": settings.smart_charging,
        "departure_time": settings.departure.isoformat(),
        "last_run": last.as_dict() if last is not None else None,
    }


async def _async_refresh_token(call: ServiceCall) -> None:
    entry = async_get_loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    try:
        await entry.runtime_data.tokens.async_force_refresh()
    except TOKEN_ERRORS as err:
        raise token_error_to_ha(err) from err


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for all entries)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_REFRESH_TOKEN,
        _async_refresh_token,
        schema=REFRESH_TOKEN_SCHEMA,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_RUN_WORKER,
        _async_run_worker,
        schema=RUN_WORKER_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_CHARGING_PLAN,
        _async_get_charging_plan,
        schema=GET_CHARGING_PLAN_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
