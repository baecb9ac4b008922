"""Time: when the car must be charged by (kept over restarts)."""

from __future__ import annotations

from datetime import time

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import TeslaScoutWorkerSettingEntity
from .models import TeslaScoutWorkerConfigEntry

PARALLEL_UPDATES = 0

DEPARTURE_TIME = TimeEntityDescription(
    key="departure_time", translation_key="departure_time"
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the departure time of each vehicle."""
    scout = entry.runtime_data.scout
    async_add_entities(
        DepartureTime(scout, vin, DEPARTURE_TIME) for vin in scout.tracker.cars
    )


class DepartureTime(TeslaScoutWorkerSettingEntity, TimeEntity):
    """The charging plan ends by this local time; 07:00 until changed."""

    @property
    def native_value(self) -> time:
        """The departure time."""
        return self.car.settings.departure

    async def async_set_value(self, value: time) -> None:
        """Change the departure time."""
        self.set_setting(departure=value.replace(second=0))
