"""Time: when the car must be charged by (restored on restart)."""

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

    async def async_added_to_hass(self) -> None:
        """Restore the user's departure time (from the entity only if not stored).

        The store keeps it since settings are stored; before that, the entity's
        last state did (``unavailable`` or ``unknown`` there is no time).
        """
        await super().async_added_to_hass()
        last = await self.async_get_setting_to_migrate()
        if last is not None:
            try:
                restored = time.fromisoformat(last.state)
            except ValueError:
                return
            self.worker.async_set_settings(self.vin, departure=restored)

    @property
    def native_value(self) -> time:
        """The departure time."""
        return self.car.settings.departure

    async def async_set_value(self, value: time) -> None:
        """Change the departure time."""
        self.worker.async_set_settings(self.vin, departure=value.replace(second=0))
