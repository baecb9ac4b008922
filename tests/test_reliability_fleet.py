"""Real Tesla answers the simulator never gave, met as a user meets them.

Odd records and fields, a car that reports line-to-line voltage, 429s
without ``Retry-After``, old position fixes, and a car that renumbers the
charge schedules it is sent (issue 19, items 6, 13, 15 and 16).
"""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)

from custom_components.tesla_scout_worker.const import (
    CONF_MAX_CHARGE_WINDOWS,
    CONF_SCOUT_INTERVAL,
)
from custom_components.tesla_scout_worker.domain.schedules import schedule_id_for

from . import issues_of, of_type, pass_time, setup, state_of
from .conftest import HOME, VIN
from .fake_fleet import FakeCar, FakeFleet

AWAY = (52.1700, 20.9700)  # about 6 km from home

pytestmark = pytest.mark.usefixtures("warsaw_evening")


# --- item 6: one odd record, one odd field ------------------------------------


async def test_an_unreadable_record_in_the_vehicle_list_hides_no_other_car(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A shared car's record without a VIN used to fail the whole list."""
    odd = {"id": 99, "vin": None, "display_name": "Shared car", "state": "online"}

    def answer_with_odd_record() -> None:
        body = {"response": [odd, car.record()], "count": 2}
        fleet.fail_next("list", 200, body)

    answer_with_odd_record()
    caplog.set_level(logging.DEBUG)
    await setup(hass, mock_config_entry)

    assert state_of(hass, "sensor.test_vehicle_state") == "online"
    assert state_of(hass, "binary_sensor.test_at_home") == "on"
    scout = mock_config_entry.runtime_data.scout
    for _ in range(4):
        car.state = "asleep" if car.state == "online" else "online"
        answer_with_odd_record()
        freezer.tick(timedelta(minutes=15))
        await scout.async_refresh()
        await hass.async_block_till_done()
        assert state_of(hass, "sensor.test_vehicle_state") == car.state
    assert fleet.count("list") == 5
    skipped = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(skipped) == 1, "said once, not every cycle"
    assert "Shared car" in skipped[0].getMessage()
    assert VIN not in caplog.text


async def test_a_car_in_an_unreadable_record_is_not_taken_as_gone(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Our own car's record with a null state is skipped: the car is not sold."""
    await setup(hass, mock_config_entry)
    scout = mock_config_entry.runtime_data.scout
    odd = {**car.record(), "state": None, "vin": None}
    fleet.fail_next("list", 200, {"response": [odd], "count": 1})
    freezer.tick(timedelta(minutes=15))
    await scout.async_refresh()
    await hass.async_block_till_done()

    assert issues_of(ir.async_get(hass), "vehicle_gone") == []
    assert state_of(hass, "sensor.test_battery_level") != "unavailable"
    assert not scout.tracker.car(VIN).gone

    # A whole list without it is news: the car left the account.
    fleet.fail_next("list", 200, {"response": [], "count": 0})
    freezer.tick(timedelta(minutes=15))
    await scout.async_refresh()
    await hass.async_block_till_done()
    assert scout.tracker.car(VIN).gone


async def test_odd_values_in_vehicle_data_drop_only_those_fields(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
) -> None:
    worker = await setup(hass, mock_config_entry)
    assert state_of(hass, "sensor.test_battery_level") == "40"
    assert state_of(hass, "number.test_charge_limit") == "80"
    assert state_of(hass, "binary_sensor.test_at_home") == "on"

    car.battery_level = 41
    car.overrides = {
        "charge_state": {"battery_level": None, "charge_limit_soc": "<invalid>"},
        "drive_state": {"latitude": 500.0},
    }
    freezer.tick(timedelta(minutes=31))
    run = await worker.async_request_run(VIN, "action", force=True)

    assert run is not None
    assert fleet.count("data") == 2  # the odd answer was read
    # Dropped fields keep what was known; the answer's other fields are taken.
    assert state_of(hass, "sensor.test_battery_level") == "40"
    assert state_of(hass, "number.test_charge_limit") == "80"
    assert state_of(hass, "binary_sensor.test_at_home") == "on"
    tracker = hass.states.get("device_tracker.test_location")
    assert tracker is not None
    assert tracker.attributes["latitude"] == HOME[0]
    assert of_type(events, "left_home") == []
    assert run.plan is not None  # planned from the known battery level


# --- item 13: charging power from line-to-line voltage ------------------------


async def test_line_to_line_voltage_does_not_shorten_the_planned_window(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    """400 V × 16 A × 3 says 19.2 kW; the car's ``charger_power`` says 11."""
    car.charging_state = "Charging"
    car.overrides = {
        "charge_state": {
            "charger_voltage": 400,
            "charger_actual_current": 16,
            "charger_phases": 3,
            "charger_power": 11,
        }
    }
    worker = await setup(hass, mock_config_entry)

    plan = worker.current_plan(VIN)
    assert plan is not None
    assert plan.start is not None
    assert plan.end is not None
    # 40 % → 80 % of 75 kWh at 90 %: 33.3 kWh, about 3 h at 11.1 kW from 22:00
    # (at 19.2 kW it would end at 23:44, and the car would not be full).
    assert plan.start.isoformat() == "2026-12-02T22:00:00+01:00"
    hours = (plan.end - plan.start).total_seconds() / 3600
    assert hours == pytest.approx(33.33 / 11.09, abs=0.05)
    end = dt_util.parse_datetime(state_of(hass, "sensor.test_planned_charge_end"))
    assert end is not None
    assert end.isoformat().startswith("2026-12-03T00:00")


# --- item 15: 429 without Retry-After, old position fixes ---------------------


async def test_rate_limit_reset_is_honoured_without_retry_after(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    await setup(hass, mock_config_entry)
    fleet.fail_next(
        "list",
        429,
        {"error": "rate limited"},
        {
            "RateLimit-Limit": "60",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": "1800",
        },
    )
    await pass_time(hass, freezer, timedelta(minutes=15))
    assert fleet.count("list") == 2  # the 429

    await pass_time(hass, freezer, timedelta(minutes=15))
    await pass_time(hass, freezer, timedelta(minutes=14))
    assert fleet.count("list") == 2, "nothing to Tesla before the reset"
    await pass_time(hass, freezer, timedelta(minutes=2))
    assert fleet.count("list") == 3


async def test_a_bare_429_waits_longer_than_a_minute(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    """No Retry-After, no RateLimit-Reset: five minutes, not another 429 in one."""
    await setup(hass, mock_config_entry, options={CONF_SCOUT_INTERVAL: 1})
    fleet.fail_next("list", 429, {"error": "rate limited"})
    await pass_time(hass, freezer, timedelta(minutes=1))
    assert fleet.count("list") == 2  # the 429

    for _ in range(4):
        await pass_time(hass, freezer, timedelta(minutes=1))
    assert fleet.count("list") == 2
    await pass_time(hass, freezer, timedelta(minutes=1))
    assert fleet.count("list") == 3


async def test_an_old_position_fix_never_fires_an_arrival(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    car.latitude, car.longitude = AWAY
    car.shift_state, car.speed = "D", 30
    worker = await setup(hass, mock_config_entry)
    assert state_of(hass, "binary_sensor.test_at_home") == "off"

    # The car reports home, from a fix three hours older than its data.
    car.latitude, car.longitude = HOME
    car.shift_state, car.speed = None, None
    car.gps_age_s = 3 * 3600
    caplog.set_level(logging.DEBUG)
    for _ in range(2):
        freezer.tick(timedelta(minutes=5))
        await worker.async_request_run(VIN, "action", force=True)
        await hass.async_block_till_done()
        assert state_of(hass, "binary_sensor.test_at_home") == "off"
    assert fleet.count("data") == 3
    assert of_type(events, "arrived_home") == []
    assert caplog.text.count("position is older than its data") == 1

    # A current fix at home: now it has arrived, once.
    car.gps_age_s = 30
    freezer.tick(timedelta(minutes=5))
    await worker.async_request_run(VIN, "action", force=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fleet.count("data") == 4
    assert state_of(hass, "binary_sensor.test_at_home") == "on"
    assert len(of_type(events, "arrived_home")) == 1

    # Only arriving needs a current fix: an old one away is still a departure.
    car.latitude, car.longitude = AWAY
    car.gps_age_s = 3 * 3600
    freezer.tick(timedelta(minutes=31))
    await worker.async_request_run(VIN, "action", force=True)
    await hass.async_block_till_done()
    assert state_of(hass, "binary_sensor.test_at_home") == "off"
    assert len(of_type(events, "left_home")) == 1


async def test_an_old_fix_at_home_at_first_sight_is_taken(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    """A car parked in a garage at home since before setup keeps an old fix.

    Nothing was known of it, so no arrival is made up: it is at home, and its
    first sight there starts the init run as for any car.
    """
    car.gps_age_s = 3 * 3600
    await setup(hass, mock_config_entry)
    assert state_of(hass, "binary_sensor.test_at_home") == "on"
    runs = mock_config_entry.runtime_data.worker
    assert runs.last_run(VIN) is not None
    assert str(runs.last_run(VIN).trigger) == "init"


# --- item 16: a car that renumbers its schedules -------------------------------


def ours_in(car: FakeCar) -> list[dict[str, Any]]:
    """The car's schedules at our home (the car's float32 of it)."""
    return [
        s
        for s in car.charge_schedules
        if abs(s["latitude"] - HOME[0]) < 1e-5 and abs(s["longitude"] - HOME[1]) < 1e-5
    ]


async def test_a_car_that_renumbers_schedules_never_collects_copies(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    car.renumbers_schedules = True
    user = {
        "id": 42,
        "enabled": True,
        "start_enabled": True,
        "start_time": 120,
        "end_enabled": False,
        "days_of_week": 127,
        "one_time": False,
        "latitude": 52.229712,  # where the car stood when the owner made it
        "longitude": 21.012188,
    }
    car.charge_schedules.append(dict(user))
    worker = await setup(hass, mock_config_entry, smart=True)
    (first,) = ours_in(car)
    assert first["id"] != schedule_id_for(VIN)  # the car chose its own id
    assert first["latitude"] != HOME[0]  # and kept a float32

    ends = set()
    for limit in (90, 70, 85, 60):
        # The owner changes the limit in the app: a longer or shorter window.
        car.charge_limit_soc = limit
        freezer.tick(timedelta(minutes=11))
        run = await worker.async_request_run(VIN, "action", force=True)
        assert run is not None
        assert run.result == "applied"
        assert len(ours_in(car)) == 1
        ends.add(ours_in(car)[0]["end_time"])
    assert len(ends) == 4
    # Every change went to the car's own id; the owner's schedule is untouched.
    assert [s["id"] for s in ours_in(car)] == [first["id"]]
    changed = [
        body["id"] for kind, body in fleet.bodies if kind == "add_charge_schedule"
    ]
    assert changed == [schedule_id_for(VIN)] + [first["id"]] * 4
    assert user in car.charge_schedules
    assert fleet.count("remove_charge_schedule") == 0


async def test_two_quick_changes_to_a_renumbering_car_make_no_copy(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A second write before the car was read again: read its ids first."""
    car.renumbers_schedules = True
    worker = await setup(hass, mock_config_entry, smart=True)
    reads = fleet.count("data")
    freezer.tick(timedelta(seconds=30))
    # The user raises the limit at once: a longer window, written at once.
    await hass.services.async_call(
        "number",
        "set_value",
        {ATTR_ENTITY_ID: "number.test_charge_limit", "value": 95},
        blocking=True,
    )
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.commands == ("add_charge_schedule",)
    (ours,) = ours_in(car)
    assert ours["end_time"] > 62
    assert fleet.count("data") == reads + 1  # one read, the car being awake
    assert fleet.count("wake") == 0


async def test_split_plans_on_a_renumbering_car_hold_the_planned_count(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Schedules of ours beyond the plan, under the car's ids, are removed."""
    car.renumbers_schedules = True
    leftovers = [
        {
            "id": 1_700_000_000 + n,
            "enabled": True,
            "start_enabled": True,
            "start_time": 60 * n,
            "end_enabled": True,
            "end_time": 60 * n + 30,
            "days_of_week": 127,
            "one_time": False,
            "latitude": HOME[0],
            "longitude": HOME[1],
        }
        for n in range(4)
    ]
    car.charge_schedules.extend(leftovers)
    worker = await setup(
        hass, mock_config_entry, smart=True, options={CONF_MAX_CHARGE_WINDOWS: 2}
    )
    plan = worker.current_plan(VIN)
    assert plan is not None
    assert len(ours_in(car)) == len(plan.windows) == 1
    assert fleet.count("add_charge_schedule") == 1
    assert fleet.count("remove_charge_schedule") == 3

    freezer.tick(timedelta(minutes=11))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.commands == ()
    assert len(ours_in(car)) == 1


async def test_a_renumbering_car_asleep_at_the_quick_rewrite_is_woken_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The read before a second write finds it asleep: one wake, still one copy."""
    car.renumbers_schedules = True
    worker = await setup(hass, mock_config_entry, smart=True)
    freezer.tick(timedelta(seconds=30))
    await hass.services.async_call(
        "number",
        "set_value",
        {ATTR_ENTITY_ID: "number.test_charge_limit", "value": 95},
        blocking=True,
    )
    car.state = "asleep"
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.woke is True
    assert fleet.count("wake") == 1
    assert run.commands == ("add_charge_schedule",)
    (ours,) = ours_in(car)
    assert ours["end_time"] > 62
