"""Reliability of one account's cars: rate-limited commands, cars that leave it,
cars shared with a second account (issue 19, items 4, 5 and 7)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import AsyncMock

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache,
)

from custom_components.tesla_scout_worker.const import DOMAIN
from custom_components.tesla_scout_worker.domain.tracker import schedule_id_for
from custom_components.tesla_scout_worker.worker import WorkerScheduler

from .conftest import VIN
from .fake_fleet import FakeCar, FakeFleet

RATE_LIMITED = {"error": "rate limited"}


@pytest.fixture(autouse=True)
async def warsaw(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """17:00 on a Wednesday in Warsaw."""
    await hass.config.async_set_time_zone("Europe/Warsaw")
    freezer.move_to("2026-12-02 17:00:00+01:00")


@pytest.fixture
def car(fleet: FakeFleet) -> FakeCar:
    """The car is awake at home, 40 %, and wants charging to 80 %."""
    car = fleet.cars[VIN]
    car.state = "online"
    car.battery_level = 40
    return car


async def setup(
    hass: HomeAssistant, entry: MockConfigEntry, *, smart: bool = False
) -> WorkerScheduler:
    entry.add_to_hass(hass)
    if smart:
        mock_restore_cache(hass, [State("switch.test_smart_charging", "on")])
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    worker: WorkerScheduler = entry.runtime_data.worker
    worker.worker._sleep = AsyncMock()  # waiting for a wake takes no time
    return worker


async def later(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta
) -> None:
    """Let ``delta`` pass and what is due run."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


# --- item 4: a 429 on a command is honoured by the retry ----------------------


async def test_a_rate_limited_schedule_write_is_retried_after_retry_after(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    fleet.fail_next(
        "add_charge_schedule", 429, RATE_LIMITED, {"Retry-After": "3600"}, vin=VIN
    )
    worker = await setup(hass, mock_config_entry, smart=True)
    run = worker.last_run(VIN)
    assert run is not None
    assert (run.result, run.error) == ("error", "RateLimitedError")
    assert car.charge_schedules == []
    calls = len(fleet.calls)

    # The old retry (15 minutes later) and every scout check inside the hour:
    # Tesla said an hour, so nothing goes to it, neither a read nor a command.
    await later(hass, freezer, timedelta(minutes=15))
    await later(hass, freezer, timedelta(minutes=30))
    await later(hass, freezer, timedelta(minutes=14))
    assert fleet.calls[calls:] == []
    assert car.charge_schedules == []

    # Once the hour has passed, the retry writes the schedule.
    await later(hass, freezer, timedelta(minutes=1, seconds=1))
    run = worker.last_run(VIN)
    assert run is not None
    assert run.result == "applied"
    (schedule,) = car.charge_schedules
    assert schedule["id"] == schedule_id_for(VIN)
    assert fleet.count("add_charge_schedule") == 2


async def test_a_rate_limited_user_command_holds_back_the_reads(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    worker = await setup(hass, mock_config_entry)
    fleet.fail_next("charge_start", 429, RATE_LIMITED, {"Retry-After": "600"})
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            "switch",
            "turn_on",
            {ATTR_ENTITY_ID: "switch.test_charging"},
            blocking=True,
        )
    calls = len(fleet.calls)
    # Inside the ten minutes the worker does not read the car.
    freezer.tick(timedelta(minutes=5))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.requests == 0
    assert fleet.calls[calls:] == []
