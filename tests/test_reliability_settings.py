"""Reliability of what the user set: outages, restarts, bad input, a moved home, DST.

Issue 19, items 1, 8, 9 and 10, as a user meets them at the Home Assistant level.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.tesla_scout_worker.const import (
    CONF_API_BASE_URL,
    CONF_FAILSAFE_TIME,
    CONF_VINS,
    DOMAIN,
    EVENT_TYPE,
)
from custom_components.tesla_scout_worker.domain.geo import Home

from . import async_store_settings, setup, state_of
from .conftest import API_BASE_URL, HOME, VIN, VIN_2
from .fake_fleet import FakeCar, FakeFleet

pytestmark = pytest.mark.usefixtures("warsaw_evening")


async def scout_cycles(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory, n: int
) -> None:
    """Let ``n`` scout intervals pass."""
    for _ in range(n):
        interval = entry.runtime_data.scout.update_interval
        assert interval is not None
        freezer.tick(interval)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()


# --- 1. Settings and the plan survive outages and restarts -----------------------

SETTINGS = ("switch.test_smart_charging", "time.test_departure_time")
PLAN_SENSORS = (
    "sensor.test_planned_charge_start",
    "sensor.test_planned_charge_end",
    "sensor.test_last_worker_run",
)


async def stop(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload the entry, as Home Assistant does when it stops."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def shown(hass: HomeAssistant, entity_id: str) -> tuple[str, dict[str, Any]]:
    """What the dashboard shows of an entity: its state and attributes."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state, dict(state.attributes)


async def test_settings_stay_through_a_long_outage_and_a_restart(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Tesla away for hours: the readings go unavailable, the user's settings never."""
    await setup(hass, mock_config_entry)
    await hass.services.async_call(
        "switch", "turn_on", {ATTR_ENTITY_ID: SETTINGS[0]}, blocking=True
    )
    await hass.services.async_call(
        "time",
        "set_value",
        {ATTR_ENTITY_ID: SETTINGS[1], "time": "06:15"},
        blocking=True,
    )
    car.state = "asleep"

    started = dt_util.utcnow()
    while dt_util.utcnow() - started < timedelta(hours=2, minutes=15):
        fleet.fail_next("list", 503, "<html>Service unavailable</html>")
        await scout_cycles(hass, mock_config_entry, freezer, 1)
        assert state_of(hass, SETTINGS[0]) == "on"
        assert state_of(hass, SETTINGS[1]) == "06:15:00"
    # The outage is long enough to make the readings unavailable.
    assert state_of(hass, "sensor.test_battery_level") == STATE_UNAVAILABLE
    # A setting can still be changed while Tesla is away.
    await hass.services.async_call(
        "time",
        "set_value",
        {ATTR_ENTITY_ID: SETTINGS[1], "time": "06:20"},
        blocking=True,
    )

    # Home Assistant restarts, Tesla still away.
    await stop(hass, mock_config_entry)
    fleet.fail_next("list", 503, "<html>Service unavailable</html>")
    await setup(hass, mock_config_entry)
    assert state_of(hass, SETTINGS[0]) == "on"
    assert state_of(hass, SETTINGS[1]) == "06:20:00"
    settings = mock_config_entry.runtime_data.scout.tracker.car(VIN).settings
    assert settings.smart_charging is True
    assert settings.departure == time(6, 20)


async def test_stored_settings_are_shown_from_the_start(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    hass_storage: dict[str, Any],
) -> None:
    """The store holds the settings: the entities show them, nothing else decides."""
    key = f"{DOMAIN}.{mock_config_entry.entry_id}.vehicles"
    hass_storage[key] = {
        "version": 1,
        "key": key,
        "data": {
            "vehicles": {
                VIN: {
                    "status": {"state": "asleep", "battery_level": 55},
                    "settings": {"smart_charging": True, "departure": "05:45:00"},
                }
            }
        },
    }
    await setup(hass, mock_config_entry)
    assert state_of(hass, SETTINGS[0]) == "on"
    assert state_of(hass, SETTINGS[1]) == "05:45:00"


@pytest.mark.parametrize(
    "settings",
    [
        {"smart_charging": "yes", "departure": "25:99"},
        {"departure": 7},
    ],
)
async def test_damaged_stored_settings_keep_the_defaults(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    hass_storage: dict[str, Any],
    settings: dict[str, Any],
) -> None:
    """A damaged field keeps its default."""
    key = f"{DOMAIN}.{mock_config_entry.entry_id}.vehicles"
    hass_storage[key] = {
        "version": 1,
        "key": key,
        "data": {"vehicles": {VIN: {"status": {}, "settings": settings}}},
    }
    await setup(hass, mock_config_entry)
    assert state_of(hass, SETTINGS[0]) == "off"
    assert state_of(hass, SETTINGS[1]) == "07:00:00"


async def test_the_last_plan_is_shown_after_a_reload_and_a_restart(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The car holds its schedule; the dashboard keeps showing the plan behind it."""
    await async_store_settings(hass, mock_config_entry.entry_id, [VIN])
    await setup(hass, mock_config_entry)
    assert fleet.count("add_charge_schedule") == 1
    before = {entity_id: shown(hass, entity_id) for entity_id in PLAN_SENSORS}
    assert before["sensor.test_planned_charge_start"][0] not in ("unknown", "")
    assert "explanation" in before["sensor.test_planned_charge_start"][1]
    assert before["sensor.test_last_worker_run"][1]["result"] == "applied"

    car.state = "asleep"  # it sleeps; nothing new is planned
    freezer.tick(timedelta(minutes=1))
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert {entity_id: shown(hass, entity_id) for entity_id in PLAN_SENSORS} == before

    await stop(hass, mock_config_entry)
    freezer.tick(timedelta(minutes=1))
    await setup(hass, mock_config_entry)
    assert {entity_id: shown(hass, entity_id) for entity_id in PLAN_SENSORS} == before
    assert mock_config_entry.runtime_data.worker.last_run(VIN) is not None
    runs = [e for e in events if e["type"] == "worker_finished"]
    assert len(runs) == 1  # the first start's init run, nothing since

    # A restored run does not hold the next start's init run back (cooldown).
    car.state = "online"
    await stop(hass, mock_config_entry)
    await setup(hass, mock_config_entry)
    runs = [e for e in events if e["type"] == "worker_finished"]
    assert [e["trigger"] for e in runs] == ["init", "init"]
    assert fleet.count("add_charge_schedule") == 1  # the car already has it


SAVED_PLAN: dict[str, Any] = {
    "start": "2026-12-02T22:00:00+01:00",
    "end": "2026-12-03T01:00:00+01:00",
    "energy_kwh": 33.0,
    "duration_us": 3 * 3600 * 10**6,
    "cost": 4.95,
    "average_price": 0.15,
    "cost_if_now": 9.9,
    "feasible": True,
    "reason": "cheapest_window",
    "departure": "2026-12-03T07:00:00+01:00",
    "prices_until": None,
    "windows": [
        {
            "start": "2026-12-02T22:00:00+01:00",
            "end": "2026-12-03T01:00:00+01:00",
            "energy_kwh": 33.0,
            "cost": 4.95,
        }
    ],
    "cost_single_window": None,
}
SAVED_RUN: dict[str, Any] = {
    "trigger": "arrived_home",
    "started": 1796227200.0,  # 2026-12-02 17:00 in Warsaw
    "duration_s": 1.5,
    "requests": 3,
    "plan": SAVED_PLAN,
    "commands": ["add_charge_schedule"],
    "woke": False,
    "result": "applied",
    "reason": None,
    "error": None,
}


@pytest.mark.parametrize(
    "damaged",
    [
        "not a run",
        {"trigger": "init"},
        {**SAVED_RUN, "result": "exploded"},
        {**SAVED_RUN, "plan": None, "commands": 5},
        {**SAVED_RUN, "plan": {**SAVED_PLAN, "reason": "whim"}},
        {**SAVED_RUN, "plan": {**SAVED_PLAN, "start": "2026-12-02T22:00:00"}},
        {
            **SAVED_RUN,
            "plan": {
                **SAVED_PLAN,
                "windows": [{**SAVED_PLAN["windows"][0], "end": None}],
            },
        },
    ],
)
async def test_a_saved_run_is_shown_and_a_damaged_one_is_skipped(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    hass_storage: dict[str, Any],
    damaged: Any,
) -> None:
    """The plan of the last run comes back; an unreadable run is left out, alone."""
    fleet.add(FakeCar(vin=VIN_2, display_name="Second"))
    key = f"{DOMAIN}.{mock_config_entry.entry_id}.vehicles"
    hass_storage[key] = {
        "version": 1,
        "key": key,
        "data": {
            "vehicles": {
                VIN: {"status": {"battery_level": 40}, "last_run": SAVED_RUN},
                VIN_2: {"status": {"battery_level": 55}, "last_run": damaged},
            }
        },
    }
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_VINS: [VIN, VIN_2]}
    )
    await setup(hass, mock_config_entry)
    worker = mock_config_entry.runtime_data.worker
    assert worker.last_run(VIN_2) is None
    assert worker.tracker.car(VIN_2).status.battery_level == 55
    run = worker.last_run(VIN)
    assert run is not None
    assert run.plan is not None
    assert run.plan.as_dict()["explanation"] == (
        "Cheapest window: 33.0 kWh from 2026-12-02 22:00 to 2026-12-03 01:00"
        " (3 h 00 min) at 0.150/kWh on average, cost 4.95, saving 4.95 against"
        " charging now (9.90)."
    )
    assert state_of(hass, "sensor.test_planned_charge_start") == (
        "2026-12-02T21:00:00+00:00"
    )
    assert state_of(hass, "sensor.test_planned_charge_end") == (
        "2026-12-03T00:00:00+00:00"
    )
    last = hass.states.get("sensor.test_last_worker_run")
    assert last is not None
    assert last.state == "2026-12-02T16:00:00+00:00"
    assert (last.attributes["trigger"], last.attributes["result"]) == (
        "arrived_home",
        "applied",
    )


# --- 8. Non-finite input ---------------------------------------------------------


async def test_nan_reaching_the_charge_limit_is_refused_with_our_message(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    """NaN passes Home Assistant's range check (it compares false): ours stops it."""
    await setup(hass, mock_config_entry)
    sent_before = len(fleet.calls)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "number",
            "set_value",
            {ATTR_ENTITY_ID: "number.test_charge_limit", "value": float("nan")},
            blocking=True,
        )
    assert err.value.translation_domain == "tesla_scout_worker"
    assert err.value.translation_key == "value_out_of_range"
    assert err.value.translation_placeholders == {
        "value": "nan",
        "min": "50",
        "max": "100",
    }
    assert len(fleet.calls) == sent_before


# --- 9. Moving the home ----------------------------------------------------------

FIVE_KM_NORTH = {"latitude": HOME[0] + 0.045, "longitude": HOME[1], "radius": 100.0}


async def test_moving_the_home_rejudges_a_sleeping_car_at_once_without_events(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Reconfigure moves the home 5 km away while the car sleeps in the old garage."""
    await setup(hass, mock_config_entry)
    assert state_of(hass, "binary_sensor.test_at_home") == "on"
    car.state = "asleep"
    await scout_cycles(hass, mock_config_entry, freezer, 1)
    assert state_of(hass, "sensor.test_vehicle_state") == "asleep"
    events.clear()

    result = await mock_config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: API_BASE_URL, "home": FIVE_KM_NORTH},
    )
    assert result["type"] is FlowResultType.ABORT
    await hass.async_block_till_done(wait_background_tasks=True)
    assert mock_config_entry.state is ConfigEntryState.LOADED

    # At once, before the car says anything: it is not at the new home.
    assert state_of(hass, "binary_sensor.test_at_home") == "off"
    distance = float(state_of(hass, "sensor.test_distance_to_home"))
    assert 4.9 < distance < 5.1  # km
    assert events == []

    # It wakes where it slept: no departure from a home it never was at.
    freezer.tick(timedelta(minutes=30))
    car.state = "online"
    reads = fleet.count("data")
    await scout_cycles(hass, mock_config_entry, freezer, 2)
    assert fleet.count("data") > reads  # its position was read
    assert state_of(hass, "binary_sensor.test_at_home") == "off"
    assert [e["type"] for e in events] == ["state_changed"]


async def test_update_home_rejudges_known_positions_without_events(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
) -> None:
    """The tracker's own geofence move: positions judged again, silently."""
    await setup(hass, mock_config_entry)
    tracker = mock_config_entry.runtime_data.scout.tracker
    events.clear()
    away = Home(
        latitude=FIVE_KM_NORTH["latitude"],
        longitude=FIVE_KM_NORTH["longitude"],
        radius_m=100.0,
    )
    tracker.update_home(away)
    status = tracker.car(VIN).status
    assert status.at_home is False
    assert status.distance_m is not None
    assert 4900 < status.distance_m < 5100
    assert status.previous_distance_m is None
    # The same home again changes nothing.
    tracker.update_home(away)
    assert tracker.car(VIN).status == status
    # A radius that takes the car in: at home, the distance kept.
    tracker.update_home(
        Home(latitude=away.latitude, longitude=away.longitude, radius_m=6000.0)
    )
    assert tracker.car(VIN).status.at_home is True
    assert tracker.car(VIN).status.distance_m == status.distance_m
    await hass.async_block_till_done()
    assert events == []


# --- 10. Local times that do not exist (or exist twice) ----------------------------


def failsafe_runs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The daily runs' finished events."""
    return [
        e
        for e in events
        if e["type"] == "worker_finished" and e["trigger"] == "failsafe"
    ]


async def walk(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    until: str,
    step: timedelta = timedelta(minutes=5),
) -> list[datetime]:
    """Let the clock run to ``until`` in steps; when each step was (UTC)."""
    end = datetime.fromisoformat(until)
    seen = []
    while dt_util.utcnow() < end:
        freezer.tick(step)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        seen.append(dt_util.utcnow())
    return seen


@pytest.mark.parametrize(
    ("night", "start_at", "until", "expected_utc"),
    [
        pytest.param(
            "spring",
            "2026-03-29 00:00:00+01:00",
            "2026-03-30 05:00:00+02:00",
            # 02:30 does not exist on 29 March: it runs when the clock has
            # jumped (03:30 CEST), then at 02:30 the next day.
            ["2026-03-29T01:30:00+00:00", "2026-03-30T00:30:00+00:00"],
            id="spring_forward_gap",
        ),
        pytest.param(
            "autumn",
            "2026-10-25 00:00:00+02:00",
            "2026-10-26 05:00:00+01:00",
            # 02:30 happens twice on 25 October: the first one only.
            ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"],
            id="autumn_repeated_hour",
        ),
    ],
)
async def test_the_daily_run_runs_once_per_local_day_over_dst_nights(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
    night: str,
    start_at: str,
    until: str,
    expected_utc: list[str],
) -> None:
    """``failsafe_time`` 02:30 in Warsaw over the DST nights of 2026."""
    freezer.move_to(start_at)
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_FAILSAFE_TIME: "02:30"},
    )
    await setup(hass, mock_config_entry)
    ran_at: list[str] = []

    @callback
    def note(event: Event) -> None:
        if event.data.get("trigger") == "failsafe":
            ran_at.append(dt_util.utcnow().isoformat())

    hass.bus.async_listen(EVENT_TYPE, note)
    await walk(hass, freezer, until)
    assert len(failsafe_runs(events)) == 2, night
    assert ran_at == expected_utc


async def test_the_daily_counters_start_again_on_a_day_without_midnight(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Havana springs forward at midnight: 8 March 2026 starts at 01:00 CDT."""
    await hass.config.async_set_time_zone("America/Havana")
    freezer.move_to("2026-03-07 23:50:00-05:00")
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_FAILSAFE_TIME: "12:00"},
    )
    await setup(hass, mock_config_entry)
    requests = "sensor.test_account_api_requests_today"
    assert int(state_of(hass, requests)) > 0
    # The first instant of the new day, before the next scout check.
    freezer.move_to("2026-03-08 01:00:00-04:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state_of(hass, requests) == "0"
