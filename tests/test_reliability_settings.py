"""Reliability of what the user set: outages, restarts, bad input, a moved home, DST.

Issue 19, items 1, 8, 9 and 10, as a user meets them at the Home Assistant level.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from unittest.mock import AsyncMock

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID
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
    EVENT_TYPE,
)
from custom_components.tesla_scout_worker.domain.tracker import Home

from .conftest import API_BASE_URL, HOME, VIN
from .fake_fleet import FakeCar, FakeFleet


@pytest.fixture(autouse=True)
async def warsaw(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """17:00 on a Wednesday in Warsaw."""
    await hass.config.async_set_time_zone("Europe/Warsaw")
    freezer.move_to("2026-12-02 17:00:00+01:00")


@pytest.fixture
def car(fleet: FakeFleet) -> FakeCar:
    """The one car, awake at home."""
    car = fleet.cars[VIN]
    car.state = "online"
    car.battery_level = 40
    return car


async def start(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up (again, after :func:`stop`) as Home Assistant starts it."""
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Waiting for a woken car takes no real time here.
    entry.runtime_data.worker.worker._sleep = AsyncMock()


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


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """An entity's state; it must exist."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


# --- 8. Non-finite input ---------------------------------------------------------


async def test_nan_reaching_the_charge_limit_is_refused_with_our_message(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    """NaN passes Home Assistant's range check (it compares false): ours stops it."""
    await start(hass, mock_config_entry)
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
    await start(hass, mock_config_entry)
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
    await start(hass, mock_config_entry)
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
    await start(hass, mock_config_entry)
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
    await start(hass, mock_config_entry)
    requests = "sensor.test_account_api_requests_today"
    assert int(state_of(hass, requests)) > 0
    # The first instant of the new day, before the next scout check.
    freezer.move_to("2026-03-08 01:00:00-04:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state_of(hass, requests) == "0"
