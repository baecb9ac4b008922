"""Sensors: vehicle state, position and battery; account token and API cost."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfLength
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .domain.car import VehicleStatus, WorkerRun
from .entity import TeslaScoutWorkerAccountEntity, TeslaScoutWorkerVehicleEntity
from .fleet import BILLED_CATEGORIES, RequestCategory, UsageTotals, VehicleState
from .models import TeslaScoutWorkerConfigEntry, TeslaScoutWorkerData

CHARGING_STATES = {
    "Disconnected": "disconnected",
    "Stopped": "stopped",
    "Charging": "charging",
    "Complete": "complete",
    "NoPower": "no_power",
    "Starting": "starting",
}

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class AccountSensorEntityDescription(SensorEntityDescription):
    """An account sensor: its value and attributes from the runtime data."""

    value_fn: Callable[[TeslaScoutWorkerData], float | int | datetime | None]
    attributes_fn: Callable[[TeslaScoutWorkerData], Mapping[str, Any]] | None = None
    last_reset_fn: Callable[[TeslaScoutWorkerData], datetime] | None = None
    """For a ``total`` that starts again: when it last did (statistics)."""


ATTRIBUTE_NAMES = {
    RequestCategory.STATE: "state_checks",
    RequestCategory.DATA: "data_requests",
    RequestCategory.COMMAND: "commands",
    RequestCategory.WAKE: "wakes",
}


def _by_category(totals: UsageTotals) -> dict[str, int]:
    return {ATTRIBUTE_NAMES[c]: totals.requests.get(c, 0) for c in BILLED_CATEGORIES}


def _requests_attributes(data: TeslaScoutWorkerData) -> Mapping[str, Any]:
    return {
        **_by_category(data.usage.today),
        "billable": sum(data.usage.today.billable.values()),
        "requests_this_month": data.usage.month.total,
    }


def _cost_attributes(data: TeslaScoutWorkerData) -> Mapping[str, Any]:
    today, month = data.usage.today, data.usage.month
    # The state is the headline (state checks free, as three sources say);
    # the worst case beside it. The ``…_if_state_checks_free`` figures equal
    # the headline now, kept for automations written before the state changed.
    return {
        "usd_if_state_checks_billed": round(today.cost_usd(), 4),
        "usd_if_state_checks_free": round(today.cost_usd(state_checks_free=True), 4),
        "usd_this_month": round(month.cost_usd(state_checks_free=True), 4),
        "usd_this_month_if_state_checks_billed": round(month.cost_usd(), 4),
        "usd_this_month_if_state_checks_free": round(
            month.cost_usd(state_checks_free=True), 4
        ),
        **{
            f"usd_{ATTRIBUTE_NAMES[category]}": round(
                UsageTotals(
                    billable={category: today.billable.get(category, 0)}
                ).cost_usd(),
                4,
            )
            for category in BILLED_CATEGORIES
        },
    }


@dataclass(frozen=True, kw_only=True)
class VehicleSensorEntityDescription(SensorEntityDescription):
    """A vehicle sensor: its value from what the scout knows (last known)."""

    value_fn: Callable[[VehicleStatus], str | float | int | None]


VEHICLE_SENSORS: tuple[VehicleSensorEntityDescription, ...] = (
    VehicleSensorEntityDescription(
        key="vehicle_state",
        translation_key="vehicle_state",
        device_class=SensorDeviceClass.ENUM,
        options=[str(state) for state in VehicleState],
        value_fn=lambda status: status.state,
    ),
    VehicleSensorEntityDescription(
        key="distance_to_home",
        translation_key="distance_to_home",
        device_class=SensorDeviceClass.DISTANCE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfLength.METERS,
        suggested_unit_of_measurement=UnitOfLength.KILOMETERS,
        suggested_display_precision=1,
        value_fn=lambda status: (
            round(status.distance_m) if status.distance_m is not None else None
        ),
    ),
    VehicleSensorEntityDescription(
        key="battery_level",
        translation_key="battery_level",
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        value_fn=lambda status: status.battery_level,
    ),
    VehicleSensorEntityDescription(
        key="charging_state",
        translation_key="charging_state",
        device_class=SensorDeviceClass.ENUM,
        options=list(CHARGING_STATES.values()),
        value_fn=lambda status: CHARGING_STATES.get(status.charging_state or ""),
    ),
)


ACCOUNT_SENSORS: tuple[AccountSensorEntityDescription, ...] = (
    AccountSensorEntityDescription(
        key="token_expires",
        translation_key="token_expires",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: dt_util.utc_from_timestamp(data.tokens.token.expires_at),
    ),
    AccountSensorEntityDescription(
        key="api_requests_today",
        translation_key="api_requests_today",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda data: data.usage.today.total,
        attributes_fn=_requests_attributes,
    ),
    AccountSensorEntityDescription(
        key="api_cost_today",
        translation_key="api_cost_today",
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        native_unit_of_measurement="USD",
        suggested_display_precision=3,
        value_fn=lambda data: round(
            data.usage.today.cost_usd(state_checks_free=True), 4
        ),
        attributes_fn=_cost_attributes,
        last_reset_fn=lambda data: dt_util.start_of_local_day(data.usage.day),
    ),
)


@dataclass(frozen=True, kw_only=True)
class WorkerSensorEntityDescription(SensorEntityDescription):
    """A sensor of the car's last worker run."""

    value_fn: Callable[[WorkerRun], datetime | None]
    attributes_fn: Callable[[WorkerRun], Mapping[str, Any]] | None = None


def _plan_time(run: WorkerRun, which: str) -> datetime | None:
    plan = run.plan
    if plan is None or plan.reason == "already_at_target":
        return None
    value: datetime | None = getattr(plan, which)
    return value


WORKER_SENSORS: tuple[WorkerSensorEntityDescription, ...] = (
    WorkerSensorEntityDescription(
        key="planned_charge_start",
        translation_key="planned_charge_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda run: _plan_time(run, "start"),
        attributes_fn=lambda run: run.plan.as_dict() if run.plan else {},
    ),
    WorkerSensorEntityDescription(
        key="planned_charge_end",
        translation_key="planned_charge_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda run: _plan_time(run, "end"),
    ),
    WorkerSensorEntityDescription(
        key="last_worker_run",
        translation_key="last_worker_run",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda run: dt_util.utc_from_timestamp(run.started),
        # The run's record without what the state and the plan sensors show.
        attributes_fn=lambda run: {
            key: value
            for key, value in run.as_dict().items()
            if key not in ("started", "plan")
        },
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of an account and its vehicles."""
    scout = entry.runtime_data.scout
    async_add_entities(
        TeslaScoutWorkerVehicleSensor(scout, vin, description)
        for vin in scout.tracker.cars
        for description in VEHICLE_SENSORS
    )
    async_add_entities(
        TeslaScoutWorkerRunSensor(scout, vin, description)
        for vin in scout.tracker.cars
        for description in WORKER_SENSORS
    )
    async_add_entities(
        TeslaScoutWorkerAccountSensor(entry, description)
        for description in ACCOUNT_SENSORS
    )


class TeslaScoutWorkerRunSensor(TeslaScoutWorkerVehicleEntity, SensorEntity):
    """A sensor of the last worker run (unknown until the first run)."""

    entity_description: WorkerSensorEntityDescription

    @property
    def _run(self) -> WorkerRun | None:
        run: WorkerRun | None = self.car.last_run
        return run

    @property
    def native_value(self) -> datetime | None:
        """The value of the description's function."""
        run = self._run
        return self.entity_description.value_fn(run) if run else None

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """The plan or the run's record."""
        run = self._run
        if run is None or self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(run)


class TeslaScoutWorkerVehicleSensor(TeslaScoutWorkerVehicleEntity, SensorEntity):
    """A vehicle sensor; keeps its last known value while the car sleeps."""

    entity_description: VehicleSensorEntityDescription

    @property
    def native_value(self) -> str | float | int | None:
        """The value of the description's function."""
        return self.entity_description.value_fn(self.status)


class TeslaScoutWorkerAccountSensor(TeslaScoutWorkerAccountEntity, SensorEntity):
    """A sensor of the account, updated when the tokens or the counts change."""

    entity_description: AccountSensorEntityDescription
    _attr_should_poll = False

    async def async_added_to_hass(self) -> None:
        """Follow the accounting and the token rotation."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.entry.runtime_data.usage.async_add_listener(self.async_write_ha_state)
        )
        self.async_on_remove(
            self.entry.runtime_data.tokens.async_add_listener(self.async_write_ha_state)
        )

    @property
    def native_value(self) -> float | int | datetime | None:
        """The value of the description's function."""
        return self.entity_description.value_fn(self.entry.runtime_data)

    @property
    def last_reset(self) -> datetime | None:
        """Local midnight of the day counted, for a daily total."""
        if self.entity_description.last_reset_fn is None:
            return None
        return self.entity_description.last_reset_fn(self.entry.runtime_data)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Per-category figures, where the description has them."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.entry.runtime_data)
