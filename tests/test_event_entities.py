"""Each car's event entities: home (arrived, left) and its charging schedule."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, State
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache_with_extra_data,
)

from custom_components.tesla_scout_worker.const import EVENT_TYPE

from . import setup
from .conftest import HOME, VIN
from .fake_fleet import FakeCar, FakeFleet

NEAR = (52.2000, 21.0000)  # about 3.4 km from home
HOME_EVENT = "event.test_home"
WORKER_EVENT = "event.test_charging_schedule"


async def next_cycle(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    scout = entry.runtime_data.scout
    assert scout.update_interval is not None
    freezer.tick(scout.update_interval)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def event_of(hass: HomeAssistant, entity_id: str) -> dict[str, Any]:
    state = hass.states.get(entity_id)
    assert state is not None
    return {"state": state.state, **state.attributes}


async def test_arrival_departure_and_the_workers_result(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    car = fleet.cars[VIN]
    car.state = "online"
    car.latitude, car.longitude = NEAR
    car.shift_state, car.speed = "D", 30
    await setup(hass, mock_config_entry)
    # Nothing has happened yet: no event, the types the entity can show.
    home = event_of(hass, HOME_EVENT)
    assert home["state"] == "unknown"
    assert home["event_types"] == ["arrived_home", "left_home"]
    assert event_of(hass, WORKER_EVENT)["event_types"] == [
        "applied",
        "planned",
        "no_action",
        "error",
    ]

    car.latitude, car.longitude = HOME
    car.shift_state, car.speed = "P", 0
    await next_cycle(hass, mock_config_entry, freezer)
    home = event_of(hass, HOME_EVENT)
    assert home["event_type"] == "arrived_home"
    arrived_at = home["state"]
    worker = event_of(hass, WORKER_EVENT)
    assert (worker["event_type"], worker["trigger"]) == ("planned", "arrived_home")

    car.latitude, car.longitude = NEAR
    car.shift_state, car.speed = "D", 30
    cycles = 0
    while event_of(hass, HOME_EVENT)["event_type"] == "arrived_home":
        cycles += 1
        assert cycles <= 6, "the departure was never seen"
        await next_cycle(hass, mock_config_entry, freezer)
    home = event_of(hass, HOME_EVENT)
    assert home["event_type"] == "left_home"
    assert home["state"] > arrived_at


async def test_another_cars_or_accounts_events_are_not_this_cars(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    await setup(hass, mock_config_entry)
    before = event_of(hass, HOME_EVENT)
    for data in (
        {"vin": "5YJ3E1EA1NF000002", "config_entry_id": mock_config_entry.entry_id},
        {"vin": VIN, "config_entry_id": "another-entry"},
    ):
        hass.bus.async_fire(EVENT_TYPE, {"type": "arrived_home", **data})
    await hass.async_block_till_done()
    assert event_of(hass, HOME_EVENT) == before


async def test_a_restart_keeps_the_last_arrival_on_the_event_entity(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    car: FakeCar,
) -> None:
    """An automation or a card still sees when the car last came home.

    On the newest stack this also holds ``scripts/ha_newest.py`` to account:
    Home Assistant 2026.11 finds stored states by entity-registry id.
    """
    arrived_at = "2026-12-02T17:42:10.000+00:00"
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(HOME_EVENT, arrived_at, {"event_type": "arrived_home"}),
                {
                    "last_event_type": "arrived_home",
                    "last_event_attributes": {"vin_tail": "000001"},
                },
            )
        ],
    )
    await setup(hass, mock_config_entry)
    home = event_of(hass, HOME_EVENT)
    assert home["state"] == arrived_at
    assert home["event_type"] == "arrived_home"
    # Nothing restored for the other entity: it waits for the worker's result.
    assert event_of(hass, WORKER_EVENT)["state"] == "unknown"
