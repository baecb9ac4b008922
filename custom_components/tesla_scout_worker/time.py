"""Time: when the car must be charged by (restored on restart)."""

from __future__ import annotations

from datetime import time

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .entity import TeslaScoutWorkerVehicleEntity
from .models import TeslaScoutWorkerConfigEntry
from .scout import ScoutCoordinator
from .worker import WorkerCoordinator

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
    data = entry.runtime_data
    async_add_entities(
        DepartureTime(data.scout, vin, data.worker)
        for vin in data.scout.tracker.vehicles
    )


class DepartureTime(TeslaScoutWorkerVehicleEntity, TimeEntity, RestoreEntity):
    """The charging plan ends by this local time; 07:00 until changed."""

    def __init__(
        self, coordinator: ScoutCoordinator, vin: str, worker: WorkerCoordinator
    ) -> None:
        """Keep the worker, which holds the setting."""
        super().__init__(coordinator, vin, DEPARTURE_TIME)
        self.worker = worker

    async def async_added_to_hass(self) -> None:
        """Restore the user's departure time."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None:
            try:
                restored = time.fromisoformat(last.state)
            except ValueError:
                return
            self.worker.settings[self.vin].departure = restored

    @property
    def native_value(self) -> time:
        """The departure time."""
        return self.worker.settings[self.vin].departure

    async def async_set_value(self, value: time) -> None:
        """Change the departure time."""
        self.worker.settings[self.vin].departure = value.replace(second=0)
        self.async_write_ha_state()
