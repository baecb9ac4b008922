"""Switches: charging now (a command) and smart charging (the worker's licence)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import TeslaScoutWorkerSettingEntity, TeslaScoutWorkerVehicleEntity
from .models import TeslaScoutWorkerConfigEntry

PARALLEL_UPDATES = 1

CHARGING = SwitchEntityDescription(key="charging", translation_key="charging")
SMART_CHARGING = SwitchEntityDescription(
    key="smart_charging", translation_key="smart_charging"
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches of each vehicle."""
    scout = entry.runtime_data.scout
    async_add_entities(
        entity
        for vin in scout.tracker.cars
        for entity in (
            ChargingSwitch(scout, vin, CHARGING),
            SmartChargingSwitch(scout, vin, SMART_CHARGING),
        )
    )


class ChargingSwitch(TeslaScoutWorkerVehicleEntity, SwitchEntity):
    """Charging now: on sends ``charge_start``, off ``charge_stop``."""

    @property
    def is_on(self) -> bool | None:
        """Whether the car charges (last known)."""
        if self.status.charging_state is None:
            return None
        return self.status.charging

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Start charging (wakes a sleeping car once)."""
        tracker = self.coordinator.tracker

        async def _start() -> None:
            await tracker.client.charge_start(self.vin)
            tracker.note_charging_started(self.vin)

        await self.async_send_command("charge_start", _start)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop charging."""
        tracker = self.coordinator.tracker

        async def _stop() -> None:
            await tracker.client.charge_stop(self.vin)
            tracker.note_charging_stopped(self.vin)

        await self.async_send_command("charge_stop", _stop)


class SmartChargingSwitch(TeslaScoutWorkerSettingEntity, SwitchEntity):
    """Lets the worker apply its plans; off by default, kept over restarts."""

    @property
    def is_on(self) -> bool:
        """Whether the worker may change the car's charging."""
        return self.car.settings.smart_charging

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Allow the worker to apply plans."""
        self.set_setting(smart_charging=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Plans are only shown, never applied."""
        self.set_setting(smart_charging=False)
