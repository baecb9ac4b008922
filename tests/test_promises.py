"""The product's promises, each where it used to break (issue #9's ten findings).

Every arrival reaches automations; a car is woken only when it must be told
something new; charging never starts at the peak price by mistake; the last
known state is shown while the car sleeps. Black-box tests at the Home
Assistant level: entities, events, actions and the requests the car received.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant, State
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.tesla_scout_worker.const import (
    CONF_MAX_CHARGE_WINDOWS,
    CONF_PRESENCE_ENTITY,
    CONF_PRICE_ATTRIBUTE,
    CONF_PRICE_ENTITY,
    CONF_SPLIT_MIN_SAVING,
    CONF_TARIFF,
    DOMAIN,
)

from . import load_json_fixture, of_type, quarter_hour_forecast, start
from .conftest import HOME, VIN, VIN_2
from .fake_fleet import FakeCar, FakeFleet

WORK = (52.3000, 21.1000)  # about 9 km from home

pytestmark = pytest.mark.usefixtures("warsaw_evening")


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload and set the entry up again, as a Home Assistant restart does."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def daily_run_at(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, clock: str
) -> State:
    """Let the clock reach the failsafe time today; the last run's sensor then."""
    freezer.move_to(f"2026-12-02 {clock}:00+01:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    last_run = hass.states.get("sensor.test_last_worker_run")
    assert last_run is not None
    return last_run


async def next_scout_cycle(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.tick(timedelta(minutes=21))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def while_time_passes(freezer: FrozenDateTimeFactory, *calls: Any) -> None:
    """Run ``calls`` while the clock moves (a woken car is polled every 10 s)."""

    async def time_passes() -> None:
        for _ in range(100):
            freezer.tick(timedelta(seconds=5))
            await asyncio.sleep(0)

    await asyncio.gather(time_passes(), *calls)


async def press_run_worker(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory | None = None
) -> None:
    press = hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: "button.test_run_worker"}, blocking=True
    )
    if freezer is None:
        await press
    else:
        await while_time_passes(freezer, press)
    await hass.async_block_till_done()


# 1 ----------------------------------------------------------------------------------


async def test_an_arrival_seen_by_a_worker_run_reaches_automations(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    car: FakeCar,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    car.latitude, car.longitude = WORK
    await start(hass, mock_config_entry)
    assert hass.states.get("binary_sensor.test_at_home").state == "off"  # type: ignore[union-attr]

    # The car drives home; the user runs the worker before the scout looks.
    car.latitude, car.longitude = HOME
    freezer.tick(timedelta(minutes=5))
    await press_run_worker(hass)

    assert [e["vin"] for e in of_type(events, "arrived_home")] == [VIN]
    assert hass.states.get("binary_sensor.test_at_home").state == "on"  # type: ignore[union-attr]


# 2 ----------------------------------------------------------------------------------


async def test_one_cars_error_does_not_drop_another_cars_arrival(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    car.latitude, car.longitude = WORK
    car.shift_state = "D"  # driving: the scout reads it every cycle
    fleet.add(
        FakeCar(vin=VIN_2, display_name="Second", state="online", shift_state="D")
    )
    await start(hass, mock_config_entry, vins=[VIN, VIN_2])

    car.latitude, car.longitude = HOME
    fleet.fail_next("data", 503, "<html>Service unavailable</html>", vin=VIN_2)
    await next_scout_cycle(hass, freezer)

    assert [e["vin"] for e in of_type(events, "arrived_home")] == [VIN]
    assert hass.states.get("binary_sensor.test_at_home").state == "on"  # type: ignore[union-attr]
    # The second car keeps what was known; it is not unavailable.
    assert hass.states.get("binary_sensor.second_at_home").state == "on"  # type: ignore[union-attr]


# 3, 6, 7 -----------------------------------------------------------------------------


async def test_a_restart_with_a_sleeping_car_shows_it_and_does_not_wake_it(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    await start(hass, mock_config_entry, smart=True, options={"failsafe_time": "18:00"})
    assert fleet.count("add_charge_schedule") == 1  # the init run wrote it

    # Home Assistant restarts while the car sleeps in the garage.
    car.state = "asleep"
    freezer.tick(timedelta(minutes=30))
    await restart(hass, mock_config_entry)

    # The last known values are shown, not "unknown".
    assert hass.states.get("sensor.test_battery_level").state == "40"  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.test_at_home").state == "on"  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.test_plugged_in").state == "on"  # type: ignore[union-attr]
    tracker = hass.states.get("device_tracker.test_location")
    assert tracker is not None
    assert tracker.attributes["latitude"] == HOME[0]
    assert hass.states.get("sensor.test_vehicle_state").state == "asleep"  # type: ignore[union-attr]

    # The daily failsafe: the schedule is known to be right, so nothing is
    # read (no billed 408) and nobody is woken.
    data_before = fleet.count("data")
    last_run = await daily_run_at(hass, freezer, "18:00")
    assert last_run.attributes["trigger"] == "failsafe"
    assert fleet.count("wake") == 0
    assert fleet.count("data") == data_before
    assert fleet.count("add_charge_schedule") == 1


async def test_a_reload_with_an_online_car_and_a_right_schedule_wakes_nothing_later(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    await start(hass, mock_config_entry, smart=True)
    freezer.tick(timedelta(minutes=30))
    await restart(hass, mock_config_entry)  # the car is online: init reads it
    car.state = "asleep"
    freezer.tick(timedelta(minutes=30))
    # The same plan as the car's schedule: running the worker wakes nobody.
    await press_run_worker(hass, freezer)
    assert fleet.count("wake") == 0
    assert fleet.count("add_charge_schedule") == 1


# 4 ----------------------------------------------------------------------------------


async def test_a_price_sensor_that_is_not_there_yet_never_means_charge_now(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
) -> None:
    freezer.move_to("2025-03-29 17:00:00+01:00")  # the Nord Pool fixture's day
    await start(
        hass,
        mock_config_entry,
        smart=True,
        options={CONF_TARIFF: "price_entity", CONF_PRICE_ENTITY: "sensor.nord_pool"},
    )
    # Home Assistant started before the price integration: no prices yet.
    assert fleet.count("charge_start") == 0
    assert fleet.count("add_charge_schedule") == 0
    finished = of_type(events, "worker_finished")
    assert [e["result"] for e in finished] == ["no_action"]
    last_run = hass.states.get("sensor.test_last_worker_run")
    assert last_run is not None
    assert last_run.attributes["reason"] == "no_tariff"

    # The price sensor appears: the worker plans again and writes the schedule.
    attributes = load_json_fixture("nordpool_hourly.json")
    hass.states.async_set("sensor.nord_pool", "0.66", attributes)
    await hass.async_block_till_done()
    assert fleet.count("charge_start") == 0
    assert fleet.count("add_charge_schedule") == 1
    assert [e["result"] for e in of_type(events, "worker_finished")][-1] == "applied"

    # The hourly price moves: no new plan (only the forecast matters).
    runs = len(of_type(events, "worker_finished"))
    freezer.tick(timedelta(minutes=15))
    hass.states.async_set("sensor.nord_pool", "0.70", attributes)
    await hass.async_block_till_done()
    assert len(of_type(events, "worker_finished")) == runs
    # A new forecast: planned again, for the car plugged in at home.
    cheaper = {
        **attributes,
        "raw_tomorrow": [
            {
                **slot,
                "value": 0.05
                if slot["start"].startswith("2025-03-30T03")
                else slot["value"],
            }
            for slot in attributes["raw_tomorrow"]
        ],
    }
    hass.states.async_set("sensor.nord_pool", "0.70", cheaper)
    await hass.async_block_till_done()
    assert len(of_type(events, "worker_finished")) == runs + 1
    assert fleet.count("charge_start") == 0


# 5 ----------------------------------------------------------------------------------


async def test_a_worker_run_and_a_user_command_wake_the_car_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    await start(hass, mock_config_entry, smart=True)
    car.state = "asleep"
    car.wakes_after = 3
    freezer.tick(timedelta(minutes=30))
    # Leaving at 23:00 moves the window: the car must be told (a wake).
    await hass.services.async_call(
        "time",
        "set_value",
        {ATTR_ENTITY_ID: "time.test_departure_time", "time": "23:00:00"},
        blocking=True,
    )

    await while_time_passes(
        freezer,
        hass.services.async_call(
            DOMAIN,
            "run_worker",
            {"config_entry_id": mock_config_entry.entry_id, "force": True},
            blocking=True,
        ),
        hass.services.async_call(
            "switch", "turn_on", {ATTR_ENTITY_ID: "switch.test_charging"}, blocking=True
        ),
    )
    await hass.async_block_till_done()

    assert fleet.count("wake") == 1
    assert fleet.count("charge_start") >= 1


# 8 ----------------------------------------------------------------------------------


async def test_a_departure_in_the_repeated_autumn_hour(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    # 02:15 in the second pass of 02:00-03:00 (CET): the first 02:30 has passed.
    freezer.move_to("2026-10-25 01:15:00+00:00")
    car.battery_level = 78
    await start(hass, mock_config_entry, smart=True)
    await hass.services.async_call(
        "time",
        "set_value",
        {ATTR_ENTITY_ID: "time.test_departure_time", "time": "02:30:00"},
        blocking=True,
    )
    response = await hass.services.async_call(
        DOMAIN,
        "run_worker",
        {"config_entry_id": mock_config_entry.entry_id, "force": True},
        blocking=True,
        return_response=True,
    )
    results: Any = response
    assert results["results"][VIN] != "error"
    plan = await hass.services.async_call(
        DOMAIN,
        "get_charging_plan",
        {"config_entry_id": mock_config_entry.entry_id, "vin": VIN},
        blocking=True,
        return_response=True,
    )
    shown: Any = plan
    # The next 02:30 is the second one, in 15 minutes (CET, +01:00).
    assert shown["plan"]["departure"] == "2026-10-25T02:30:00+01:00"


# 9 ----------------------------------------------------------------------------------


async def test_repeated_presence_departures_leave_one_pending_check(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.states.async_set("person.driver", "home")
    await start(
        hass, mock_config_entry, options={CONF_PRESENCE_ENTITY: "person.driver"}
    )
    unload_callbacks = len(mock_config_entry._on_unload or [])

    # The phone's tracker flaps at the edge of the zone: ten departures.
    for _ in range(10):
        hass.states.async_set("person.driver", "not_home")
        await hass.async_block_till_done()
        freezer.tick(timedelta(seconds=15))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        hass.states.async_set("person.driver", "home")
        await hass.async_block_till_done()
    hass.states.async_set("person.driver", "not_home")
    await hass.async_block_till_done()
    checks = fleet.count("list")

    # 2 minutes after the last departure: no check yet (the earlier ones are gone).
    freezer.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert fleet.count("list") == checks
    # 3 minutes after it: one check.
    freezer.tick(timedelta(seconds=65))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert fleet.count("list") == checks + 1
    assert len(mock_config_entry._on_unload or []) == unload_callbacks


# 10 ---------------------------------------------------------------------------------


async def test_removing_the_entry_removes_what_it_stored(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    car: FakeCar,
    hass_storage: dict[str, Any],
) -> None:
    await start(hass, mock_config_entry)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    prefix = f"{DOMAIN}.{mock_config_entry.entry_id}."
    assert {key for key in hass_storage if key.startswith(prefix)} == {
        f"{prefix}usage",
        f"{prefix}vehicles",
    }
    # The private key for signed commands is Home Assistant's (every account
    # signs with the key its application's domain serves): the last entry
    # takes it along.
    assert f"{DOMAIN}.key" in hass_storage
    await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert not [key for key in hass_storage if key.startswith(prefix)]
    assert f"{DOMAIN}.key" not in hass_storage


# Split plans across restarts and upgrades -------------------------------------------


SPLIT_OPTIONS = {
    CONF_TARIFF: "price_entity",
    CONF_PRICE_ENTITY: "sensor.prices",
    CONF_PRICE_ATTRIBUTE: "forecast",
    CONF_MAX_CHARGE_WINDOWS: 3,
    CONF_SPLIT_MIN_SAVING: 0.5,
    "failsafe_time": "18:00",
}


async def test_a_split_plan_survives_a_restart_and_wakes_nothing(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    car.battery_level = 60  # 1 h 31 min: one cheap hour is not enough
    hass.states.async_set(
        "sensor.prices",
        "0.9",
        {
            "forecast": quarter_hour_forecast(
                {"2026-12-03T01": 0.2, "2026-12-03T04": 0.2}
            )
        },
    )
    await start(hass, mock_config_entry, smart=True, options=SPLIT_OPTIONS)
    assert fleet.count("add_charge_schedule") == 2
    assert len(car.charge_schedules) == 2

    car.state = "asleep"
    freezer.tick(timedelta(minutes=30))
    await restart(hass, mock_config_entry)
    saved = hass_storage[f"{DOMAIN}.{mock_config_entry.entry_id}.vehicles"]
    windows = saved["data"]["vehicles"][VIN]["schedule"]["windows"]
    assert [w is not None for w in windows] == [True, True, False]

    # The daily run: both schedules known right, nothing read, nobody woken.
    data_before = fleet.count("data")
    last_run = await daily_run_at(hass, freezer, "18:00")
    assert (last_run.attributes["trigger"], last_run.attributes["reason"]) == (
        "failsafe",
        "schedule_up_to_date",
    )
    assert fleet.count("wake") == 0
    assert fleet.count("data") == data_before
    assert fleet.count("add_charge_schedule") == 2


async def test_a_schedule_saved_before_split_plans_is_still_known(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    await start(hass, mock_config_entry, smart=True)
    assert fleet.count("add_charge_schedule") == 1
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    # What the version before split plans saved: one window, no slots.
    key = f"{DOMAIN}.{mock_config_entry.entry_id}.vehicles"
    saved = hass_storage[key]["data"]["vehicles"][VIN]["schedule"]
    hass_storage[key]["data"]["vehicles"][VIN]["schedule"] = {
        "window": saved["windows"][0],
        "known_at": saved["known_at"],
    }
    car.state = "asleep"
    freezer.tick(timedelta(minutes=30))
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    # The init run plans the same window: the car is not woken to be told.
    await press_run_worker(hass, freezer)
    assert fleet.count("wake") == 0
    assert fleet.count("add_charge_schedule") == 1
    last_run = hass.states.get("sensor.test_last_worker_run")
    assert last_run is not None
    assert last_run.attributes["reason"] == "schedule_up_to_date"


# Plugged in after the arrival; the daily run and a sleeping car ---------------------


async def test_a_car_plugged_in_after_arriving_gets_its_schedule(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
) -> None:
    """Home at 17:00 without the cable; plugged in a few minutes later."""
    car.charging_state = "Disconnected"
    await start(hass, mock_config_entry, smart=True)
    last_run = hass.states.get("sensor.test_last_worker_run")
    assert last_run is not None
    assert last_run.attributes["reason"] == "not_plugged_in_at_home"
    assert fleet.count("add_charge_schedule") == 0

    car.charging_state = "Stopped"  # the cable is in
    for _ in range(3):
        await next_scout_cycle(hass, freezer)
    # The arrival's run again, with its trigger: the schedule is written.
    assert fleet.count("add_charge_schedule") == 1
    finished = of_type(events, "worker_finished")
    assert [(e["trigger"], e["result"]) for e in finished][-1] == ("init", "applied")
    # No bus event of a type the SPEC does not list.
    assert {e["type"] for e in events} <= {
        "arrived_home",
        "left_home",
        "state_changed",
        "worker_finished",
        "token_refreshed",
    }


async def test_the_daily_run_never_wakes_a_sleeping_car_on_old_news(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    await start(hass, mock_config_entry, smart=True, options={"failsafe_time": "23:00"})
    assert fleet.count("add_charge_schedule") == 1
    car.state = "asleep"
    # A later departure would move the window, but the car sleeps and what is
    # known of it is hours old (its own schedule may have charged it).
    await hass.services.async_call(
        "time",
        "set_value",
        {ATTR_ENTITY_ID: "time.test_departure_time", "time": "09:00:00"},
        blocking=True,
    )
    last_run = await daily_run_at(hass, freezer, "23:00")
    assert (last_run.attributes["trigger"], last_run.attributes["reason"]) == (
        "failsafe",
        "asleep_not_woken",
    )
    assert fleet.count("wake") == 0
    assert fleet.count("add_charge_schedule") == 1
