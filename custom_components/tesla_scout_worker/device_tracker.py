"""Device tracker: the vehicle's last known GPS position."""

from __future__ import annotations

# Where newer Home Assistant wants it (the config_entry path is deprecated);
# 2025.4 has it there too, without declaring the export.
from homeassistant.components.device_tracker import (  # type: ignore[attr-defined,unused-ignore]
    TrackerEntity,
)
from homeassistant.components.device_tracker.const import SourceType
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import TeslaScoutWorkerVehicleEntity
from .models import TeslaScoutWorkerConfigEntry

PARALLEL_UPDATES = 0

LOCATION = EntityDescription(key="location", translation_key="location")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a tracker per vehicle."""
    scout = entry.runtime_data.scout
    async_add_entities(
        TeslaScoutWorkerTracker(scout, vin, LOCATION) for vin in scout.tracker.cars
    )


class TeslaScoutWorkerTracker(TeslaScoutWorkerVehicleEntity, TrackerEntity):
    """Where the car was last seen (a sleeping car does not move)."""

    _attr_source_type = SourceType.GPS

    @property
    def latitude(self) -> float | None:
        """Last known latitude."""
        return self.status.latitude

    @property
    def longitude(self) -> float | None:
        """Last known longitude."""
        return self.status.longitude
