"""Number: the car's charge limit (the plan's target)."""

from __future__ import annotations

import math

from homeassistant.components.number import NumberEntity, NumberEntityDescription
from homeassistant.const import PERCENTAGE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import TeslaScoutWorkerVehicleEntity
from .models import TeslaScoutWorkerConfigEntry

PARALLEL_UPDATES = 1

CHARGE_LIMIT = NumberEntityDescription(
    key="charge_limit",
    translation_key="charge_limit",
    native_min_value=50,
    native_max_value=100,
    native_step=1,
    native_unit_of_measurement=PERCENTAGE,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the charge limit of each vehicle."""
    scout = entry.runtime_data.scout
    async_add_entities(
        ChargeLimitNumber(scout, vin, CHARGE_LIMIT) for vin in scout.tracker.cars
    )


class ChargeLimitNumber(TeslaScoutWorkerVehicleEntity, NumberEntity):
    """The car's charge limit; setting it sends ``set_charge_limit``."""

    @property
    def native_value(self) -> float | None:
        """The limit last read from the car."""
        return self.status.charge_limit_soc

    async def async_set_native_value(self, value: float) -> None:
        """Set the limit (wakes a sleeping car once); nothing is sent for a bad value.

        Home Assistant refuses values out of range, but ``NaN`` (what a broken
        template gives) compares false with both bounds and passes.
        """
        low, high = self.native_min_value, self.native_max_value
        if not (math.isfinite(value) and low <= value <= high):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="value_out_of_range",
                translation_placeholders={
                    "value": str(value),
                    "min": f"{low:g}",
                    "max": f"{high:g}",
                },
            )
        percent = round(value)
        client = self.coordinator.tracker.client
        await self.async_send_command(
            "set_charge_limit",
            lambda: client.set_charge_limit(self.vin, percent),
            charge_limit_soc=percent,
        )
