"""The logbook: the integration's bus events in words.

"Model 3 arrived home", "Model 3 charging schedule written (arrived home)":
the events automations use (``tesla_scout_worker_event``) are shown in
Home Assistant's logbook too, named by the car (its device's name) or, for the
token, by the account. The event data stays what the SPEC says; the words are
made when the logbook is read, from that data only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.components.logbook.const import (
    LOGBOOK_ENTRY_DOMAIN,
    LOGBOOK_ENTRY_ICON,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_VIN,
    DOMAIN,
    EVENT_ARRIVED_HOME,
    EVENT_LEFT_HOME,
    EVENT_STATE_CHANGED,
    EVENT_TOKEN_REFRESHED,
    EVENT_TYPE,
    EVENT_WORKER_FINISHED,
)
from .domain.car import WorkerTrigger
from .fleet.models import vin_tail

WORKER_RESULTS = {
    "applied": "wrote the charging schedule to the car",
    "planned": "planned charging, nothing sent to the car",
    "no_action": "checked the charging schedule: nothing to change",
    "error": "could not plan or write the charging schedule",
}
TRIGGERS: dict[str, str] = {
    WorkerTrigger.ARRIVED_HOME: "arrived home",
    WorkerTrigger.INIT: "first seen",
    WorkerTrigger.FAILSAFE: "daily check",
    WorkerTrigger.ACTION: "action",
    WorkerTrigger.BUTTON: "button",
}


ICONS = {
    EVENT_ARRIVED_HOME: "mdi:home-import-outline",
    EVENT_LEFT_HOME: "mdi:home-export-outline",
    EVENT_STATE_CHANGED: "mdi:car-connected",
    EVENT_WORKER_FINISHED: "mdi:calendar-clock",
    EVENT_TOKEN_REFRESHED: "mdi:key-chain",
}


def describe(hass: HomeAssistant, data: dict[str, Any]) -> dict[str, str]:
    """The logbook's name and message of one event."""
    kind = data.get("type")
    name = _name(hass, data)
    if kind == EVENT_ARRIVED_HOME:
        message = "arrived home"
    elif kind == EVENT_LEFT_HOME:
        message = "left home"
    elif kind == EVENT_STATE_CHANGED:
        message = f"is {data.get('to_state')} (was {data.get('from_state')})"
    elif kind == EVENT_WORKER_FINISHED:
        result = str(data.get("result"))
        trigger = str(data.get("trigger"))
        message = WORKER_RESULTS.get(result, f"worker finished: {result}")
        message = f"{message} ({TRIGGERS.get(trigger, trigger)})"
    elif kind == EVENT_TOKEN_REFRESHED:
        message = "refreshed its Tesla token"
    else:
        message = str(kind)
    return {
        LOGBOOK_ENTRY_NAME: name,
        LOGBOOK_ENTRY_MESSAGE: message,
        LOGBOOK_ENTRY_DOMAIN: DOMAIN,
        LOGBOOK_ENTRY_ICON: ICONS.get(str(kind), "mdi:car-electric"),
    }


def _name(hass: HomeAssistant, data: dict[str, Any]) -> str:
    """The car as the user named it, else the account; never a whole VIN."""
    entry_id = data.get(ATTR_CONFIG_ENTRY_ID)
    if isinstance(vin := data.get(ATTR_VIN), str):
        # The entry's devices: identifiers are unique per entry only.
        registry = dr.async_get(hass)
        for device in dr.async_entries_for_config_entry(registry, str(entry_id)):
            if (DOMAIN, vin) in device.identifiers:
                return device.name_by_user or device.name or vin_tail(vin)
        return f"Tesla {vin_tail(vin)}"
    entry = hass.config_entries.async_get_entry(str(entry_id)) if entry_id else None
    return entry.title if entry is not None else "Tesla Scout & Worker"


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe the integration's bus events for the logbook."""

    @callback
    def async_describe(event: Event) -> dict[str, str]:
        return describe(hass, dict(event.data))

    async_describe_event(DOMAIN, EVENT_TYPE, async_describe)
