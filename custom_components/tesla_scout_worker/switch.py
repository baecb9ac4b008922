"""Switches: charging now (a command) and smart charging (the worker's licence)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import STATE_OFF, STATE_ON
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

        await self.worker.async_command(self.vin, "charge_start", _start)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop charging."""
        tracker = self.coordinator.tracker

        async def _stop() -> None:
            await tracker.client.charge_stop(self.vin)
            tracker.note_charging_stopped(self.vin)

        await self.worker.async_command(self.vin, "charge_stop", _stop)


class SmartChargingSwitch(TeslaScoutWorkerSettingEntity, SwitchEntity):
    """Lets the worker apply its plans; off by default, restored on restart."""

    async def async_added_to_hass(self) -> None:
        """Restore the user's choice (from the entity only if not in the store).

        The store keeps it since settings are stored; before that, the entity's
        last state did. Only ``on``/``off`` are a choice: an ``unavailable``
        stored during an outage is not the user turning it off.
        """
        await super().async_added_to_hass()
        last = await self.async_get_setting_to_migrate()
        if last is not None and last.state in (STATE_ON, STATE_OFF):
            self.worker.async_set_settings(
                self.vin, smart_charging=last.state == STATE_ON
            )

    @property
    def is_on(self) -> bool:
        """Whether the worker may change the car's charging."""
        return self.car.settings.smart_charging

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Allow the worker to apply plans."""
        self.worker.async_set_settings(self.vin, smart_charging=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Plans are only shown, never applied."""
        self.worker.async_set_settings(self.vin, smart_charging=False)
