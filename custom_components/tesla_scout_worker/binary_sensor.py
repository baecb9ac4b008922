"""Binary sensors: at home (the geofence) and plugged in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .domain.car import VehicleStatus
from .entity import TeslaScoutWorkerVehicleEntity
from .models import TeslaScoutWorkerConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class VehicleBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A vehicle binary sensor: ``None`` while unknown."""

    is_on_fn: Callable[[VehicleStatus], bool | None]


BINARY_SENSORS: tuple[VehicleBinarySensorEntityDescription, ...] = (
    VehicleBinarySensorEntityDescription(
        key="at_home",
        translation_key="at_home",
        device_class=BinarySensorDeviceClass.PRESENCE,
        is_on_fn=lambda status: status.at_home,
    ),
    VehicleBinarySensorEntityDescription(
        key="plugged_in",
        translation_key="plugged_in",
        device_class=BinarySensorDeviceClass.PLUG,
        is_on_fn=lambda status: status.plugged_in,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of each vehicle."""
    scout = entry.runtime_data.scout
    async_add_entities(
        TeslaScoutWorkerBinarySensor(scout, vin, description)
        for vin in scout.tracker.cars
        for description in BINARY_SENSORS
    )


class TeslaScoutWorkerBinarySensor(TeslaScoutWorkerVehicleEntity, BinarySensorEntity):
    """A vehicle binary sensor."""

    entity_description: VehicleBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """The value of the description's function."""
        return self.entity_description.is_on_fn(self.status)
