"""Base entities: one device per vehicle, one service device per account."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .commands import async_send_command
from .const import DOMAIN
from .domain.car import Car, VehicleStatus
from .models import TeslaScoutWorkerConfigEntry
from .scout import ScoutCoordinator

if TYPE_CHECKING:
    from .worker import WorkerScheduler


class TeslaScoutWorkerAccountEntity(Entity):
    """An entity of the account (tokens, request accounting)."""

    _attr_has_entity_name = True

    def __init__(
        self, entry: TeslaScoutWorkerConfigEntry, description: EntityDescription
    ) -> None:
        """Key the entity by the account's unique id."""
        self.entity_description = description
        self.entry = entry
        account_id = entry.unique_id or entry.entry_id
        self._attr_unique_id = f"{account_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, account_id)},
            name=f"{entry.title} account",
            manufacturer="Tesla",
            model="Fleet API account",
            entry_type=DeviceEntryType.SERVICE,
        )


MODELS = {"3": "Model 3", "Y": "Model Y", "S": "Model S", "X": "Model X"}


class TeslaScoutWorkerVehicleEntity(CoordinatorEntity[ScoutCoordinator]):
    """An entity of one vehicle, fed by the scout; keyed by the VIN."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: ScoutCoordinator,
        vin: str,
        description: EntityDescription,
    ) -> None:
        """Key the entity by the VIN (SPEC: ``f"{vin}_{key}"``)."""
        super().__init__(coordinator)
        self.entity_description = description
        self.vin = vin
        self._attr_unique_id = f"{vin}_{description.key}"
        car = coordinator.data.get(vin) if coordinator.data else None
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, vin)},
            name=(car.status.display_name if car else None) or f"Tesla {vin[-4:]}",
            manufacturer="Tesla",
            model=MODELS.get(vin[3:4], "Tesla"),
            serial_number=vin,
        )

    @property
    def available(self) -> bool:
        """Not while the car is gone from the account (sold, share removed)."""
        return super().available and not self.car.gone

    @property
    def car(self) -> Car:
        """This car in the coordinator's snapshot (read only)."""
        return self.coordinator.data[self.vin]

    @property
    def status(self) -> VehicleStatus:
        """What is known about this vehicle (last known while it sleeps)."""
        return self.car.status

    @property
    def worker(self) -> WorkerScheduler:
        """The worker of this car's entry (runs on request)."""
        worker: WorkerScheduler = self.coordinator.config_entry.runtime_data.worker
        return worker

    async def async_send_command(
        self, name: str, send: Callable[[], Awaitable[Any]], **status_changes: Any
    ) -> None:
        """Send the user's command to this car (the one path: ``commands.py``)."""
        await async_send_command(
            self.coordinator.config_entry.runtime_data,
            self.vin,
            name,
            send,
            **status_changes,
        )


class TeslaScoutWorkerSettingEntity(TeslaScoutWorkerVehicleEntity):
    """A user's setting of one car (smart charging, departure).

    Always available: a setting, not a reading, usable while Tesla is away.
    It lives in the car's runtime, written by the tracker and saved in the
    vehicle store (the one place, read back before the first check).
    """

    @property
    def available(self) -> bool:
        """Always (see the class)."""
        return True

    def set_setting(self, **changes: Any) -> None:
        """The user changed it: the tracker takes it, the scout saves and shows it.

        Shown now, not at the next loop turn: the action's caller reads it next.
        """
        self.coordinator.tracker.set_settings(self.vin, **changes)
        self.coordinator.async_publish()
