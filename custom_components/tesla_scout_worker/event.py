"""Event entities per car: it came home or left; the worker's result.

Beside the bus events (which stay: automations use them), so a car's arrivals
and its charging schedule show on its device page and trigger automations
picked in the UI. They are fed by those same bus events, fired in one place
each (the scout's transitions, the worker's runs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_VIN,
    EVENT_ARRIVED_HOME,
    EVENT_LEFT_HOME,
    EVENT_TYPE,
    EVENT_WORKER_FINISHED,
)
from .entity import TeslaScoutWorkerVehicleEntity
from .models import TeslaScoutWorkerConfigEntry

PARALLEL_UPDATES = 0

WORKER_RESULTS = ["applied", "planned", "no_action", "error"]


@dataclass(frozen=True, kw_only=True)
class CarEventEntityDescription(EventEntityDescription):
    """Which bus events the entity shows, and as which of its event types."""

    event_type_fn: Callable[[dict[str, Any]], str | None]
    """``data`` of one of our bus events → this entity's event type, or None."""


def _presence(data: dict[str, Any]) -> str | None:
    kind = data.get("type")
    return str(kind) if kind in (EVENT_ARRIVED_HOME, EVENT_LEFT_HOME) else None


def _worker(data: dict[str, Any]) -> str | None:
    if data.get("type") != EVENT_WORKER_FINISHED:
        return None
    result = str(data.get("result"))
    return result if result in WORKER_RESULTS else None


EVENTS: tuple[CarEventEntityDescription, ...] = (
    CarEventEntityDescription(
        key="home",
        translation_key="home",
        event_types=[EVENT_ARRIVED_HOME, EVENT_LEFT_HOME],
        event_type_fn=_presence,
    ),
    CarEventEntityDescription(
        key="worker",
        translation_key="worker",
        event_types=WORKER_RESULTS,
        event_type_fn=_worker,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each car's event entities."""
    scout = entry.runtime_data.scout
    async_add_entities(
        CarEvent(scout, vin, description)
        for vin in scout.tracker.cars
        for description in EVENTS
    )


class CarEvent(TeslaScoutWorkerVehicleEntity, EventEntity):
    """One car's events of one kind."""

    entity_description: CarEventEntityDescription

    async def async_added_to_hass(self) -> None:
        """Listen to this car's bus events."""
        await super().async_added_to_hass()
        entry_id = self.coordinator.config_entry.entry_id

        @callback
        def mine(data: dict[str, Any]) -> bool:
            return data.get(ATTR_VIN) == self.vin and (
                data.get(ATTR_CONFIG_ENTRY_ID) == entry_id
            )

        self.async_on_remove(
            self.hass.bus.async_listen(
                EVENT_TYPE, self._async_handle, event_filter=mine
            )
        )

    @callback
    def _async_handle(self, event: Event[dict[str, Any]]) -> None:
        event_type = self.entity_description.event_type_fn(dict(event.data))
        if event_type is None:
            return
        attributes = (
            {"trigger": event.data["trigger"]} if "trigger" in event.data else None
        )
        self._trigger_event(event_type, attributes)
        self.async_write_ha_state()
