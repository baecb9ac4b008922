"""Tests for the scout: request counts per cycle, sleep, errors and transitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import AsyncMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMockResponse,
)

from custom_components.tesla_scout_worker.const import (
    CONF_PRESENCE_ENTITY,
    CONF_SCOUT_INTERVAL,
    DOMAIN,
)
from custom_components.tesla_scout_worker.domain.car import (
    TransitionKind,
    VehicleStatus,
    WorkerTrigger,
)
from custom_components.tesla_scout_worker.scout import ScoutCoordinator

from . import setup_scout
from .conftest import API_BASE_URL, HOME, TOKEN_URL, VIN
from .fake_fleet import FakeCar, FakeFleet

AWAY = (52.1700, 20.9700)  # about 6 km from home
NEAR = (52.2000, 21.0000)  # about 3.4 km from home


@pytest.fixture(autouse=True)
def worker_runs() -> Iterator[AsyncMock]:
    """The worker is tested on its own: here only whether the scout asks for it."""
    with patch(
        "custom_components.tesla_scout_worker.worker.WorkerScheduler.async_request_run",
        new_callable=AsyncMock,
    ) as mock:
        yield mock


async def next_cycle(
    hass: HomeAssistant, scout: ScoutCoordinator, freezer: FrozenDateTimeFactory
) -> None:
    """Let exactly one scout interval pass."""
    assert scout.update_interval is not None
    freezer.tick(scout.update_interval)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


@pytest.fixture
def car(fleet: FakeFleet) -> FakeCar:
    return fleet.cars[VIN]


async def test_sleeping_car_gets_state_checks_only(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    scout = await setup_scout(hass, mock_config_entry)
    for _ in range(24):
        await next_cycle(hass, scout, freezer)

    assert fleet.count("list") == 25
    assert fleet.count("data") == 0
    assert fleet.count("wake") == 0
    state = hass.states.get("sensor.test_vehicle_state")
    assert state is not None
    assert state.state == "asleep"
    # Asleep at setup: no position yet, so at_home is unknown.
    at_home = hass.states.get("binary_sensor.test_at_home")
    assert at_home is not None
    assert at_home.state == "unknown"


async def test_parked_car_is_left_alone_to_fall_asleep(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    car.state = "online"
    scout = await setup_scout(hass, mock_config_entry)
    assert fleet.count("data") == 1  # seen parked at the first cycle

    # 15 minutes later the car is still online: state check only.
    await next_cycle(hass, scout, freezer)
    assert fleet.calls[-1] == ("list", "")
    assert fleet.count("data") == 1

    # 30 minutes after the observation the quiet window is over.
    await next_cycle(hass, scout, freezer)
    assert fleet.count("data") == 2
    assert fleet.count("wake") == 0
    assert fleet.count("list") == 3


async def test_quiet_window_gap_is_at_least_twenty_minutes(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    car.state = "online"
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_SCOUT_INTERVAL: 1}
    )
    scout = await setup_scout(hass, mock_config_entry)
    data_times: list[float] = []
    for minute in range(60):
        before = fleet.count("data")
        await next_cycle(hass, scout, freezer)
        if fleet.count("data") > before:
            data_times.append(minute)
    assert data_times
    gaps = [b - a for a, b in zip([-1.0, *data_times], data_times, strict=False)]
    assert min(gaps) >= 20


@pytest.mark.parametrize(
    ("charging_state", "every"),
    [("Charging", 60), ("Stopped", 30), ("Complete", 30)],
)
async def test_a_car_plugged_in_at_home_is_read_seldom(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    charging_state: str,
    every: int,
) -> None:
    """Plugged in: every half hour; charging, which it keeps doing: hourly."""
    car.state, car.charging_state = "online", charging_state
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_SCOUT_INTERVAL: 1}
    )
    scout = await setup_scout(hass, mock_config_entry)
    assert fleet.count("data") == 1
    data_times: list[int] = [0]
    for minute in range(1, 181):
        before = fleet.count("data")
        await next_cycle(hass, scout, freezer)
        if fleet.count("data") > before:
            data_times.append(minute)
    assert data_times == list(range(0, 181, every))


async def test_408_means_asleep_and_keeps_the_position(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
) -> None:
    car.state = "online"
    car.latitude, car.longitude = AWAY
    car.shift_state = "D"
    car.speed = 30
    scout = await setup_scout(hass, mock_config_entry)
    fleet.fail_next(
        "data", 408, {"error": "vehicle unavailable: vehicle is offline or asleep"}
    )
    await next_cycle(hass, scout, freezer)

    state = hass.states.get("sensor.test_vehicle_state")
    assert state is not None
    assert state.state == "asleep"
    tracker = hass.states.get("device_tracker.test_location")
    assert tracker is not None
    assert tracker.attributes["latitude"] == AWAY[0]
    assert hass.states.get("binary_sensor.test_at_home").state == "off"  # type: ignore[union-attr]
    assert scout.last_update_success
    assert events == [
        {
            "type": "state_changed",
            "config_entry_id": mock_config_entry.entry_id,
            "vin": VIN,
            "from_state": "online",
            "to_state": "asleep",
        }
    ]


async def test_arrival_and_departure_fire_events_and_trigger_the_worker(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
    worker_runs: AsyncMock,
) -> None:
    car.state = "online"
    car.latitude, car.longitude = NEAR
    car.shift_state = "D"
    car.speed = 30
    scout = await setup_scout(hass, mock_config_entry)
    assert events == []  # the first observation fires nothing

    car.latitude, car.longitude = HOME
    car.shift_state, car.speed = "P", 0
    await next_cycle(hass, scout, freezer)
    assert [e["type"] for e in events] == ["arrived_home"]
    assert events[0]["vin"] == VIN
    worker_runs.assert_awaited_once_with(VIN, "arrived_home", force=False)
    assert hass.states.get("binary_sensor.test_at_home").state == "on"  # type: ignore[union-attr]
    distance = hass.states.get("sensor.test_distance_to_home")
    assert distance is not None
    assert float(distance.state) == 0.0

    # Parked: quiet for 21 minutes; then it drives away.
    car.latitude, car.longitude = AWAY
    car.shift_state, car.speed = "D", 40
    for _ in range(3):
        await next_cycle(hass, scout, freezer)
    assert [e["type"] for e in events] == ["arrived_home", "left_home"]


async def test_first_sight_at_home_runs_the_init_worker(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
    worker_runs: AsyncMock,
) -> None:
    car.state = "online"
    await setup_scout(hass, mock_config_entry)
    worker_runs.assert_awaited_once_with(VIN, "init", force=False)
    assert events == []


async def test_state_changes_fire_events(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
) -> None:
    scout = await setup_scout(hass, mock_config_entry)
    car.state = "offline"
    await next_cycle(hass, scout, freezer)
    car.state = "weird"
    await next_cycle(hass, scout, freezer)
    assert [(e["from_state"], e["to_state"]) for e in events] == [("asleep", "offline")]


async def test_rate_limit_is_honoured(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scout = await setup_scout(hass, mock_config_entry)
    fleet.fail_next("list", 429, {"error": "rate limited"}, {"Retry-After": "3600"})
    await next_cycle(hass, scout, freezer)
    assert fleet.count("list") == 2
    assert scout.update_interval == timedelta(seconds=3600)

    for _ in range(3):
        freezer.tick(timedelta(minutes=15))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    # Nothing is sent before Retry-After passes; the data stays.
    assert fleet.count("list") == 2
    state = hass.states.get("sensor.test_vehicle_state")
    assert state is not None
    assert state.state == "asleep"
    freezer.tick(timedelta(minutes=20))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert fleet.count("list") == 3
    assert caplog.text.count("rate-limited the scout") == 1


async def test_rate_limit_on_vehicle_data(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    car.state = "online"
    car.shift_state = "D"
    scout = await setup_scout(hass, mock_config_entry)
    fleet.fail_next("data", 429, {"error": "rate limited"})
    await next_cycle(hass, scout, freezer)
    assert scout.tracker.retry_at is not None
    assert scout.update_interval is not None
    assert scout.update_interval >= timedelta(seconds=60)
    # No live data before the 60 s default back-off has passed.
    freezer.tick(30)
    await scout.async_refresh()
    assert fleet.count("data") == 2
    assert fleet.count("list") == 2


async def test_outage_keeps_cached_data_and_logs_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scout = await setup_scout(hass, mock_config_entry)
    for status in (503, 502, 500):
        fleet.fail_next("list", status, "<html>Bad gateway</html>")
        await next_cycle(hass, scout, freezer)
    state = hass.states.get("sensor.test_vehicle_state")
    assert state is not None
    assert state.state == "asleep"
    await next_cycle(hass, scout, freezer)
    assert caplog.text.count("Tesla cannot be reached") == 1
    assert caplog.text.count("Tesla can be reached again") == 1


async def test_long_outage_makes_entities_unavailable_after_an_hour(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The stated policy: last known values for an hour of outage, then unavailable."""
    scout = await setup_scout(hass, mock_config_entry)
    started = dt_util.utcnow()
    states = []
    while dt_util.utcnow() - started < timedelta(minutes=75):
        fleet.fail_next("list", 503, "<html>Service unavailable</html>")
        await next_cycle(hass, scout, freezer)
        state = hass.states.get("sensor.test_vehicle_state")
        assert state is not None
        states.append((dt_util.utcnow() - started, state.state))
    assert all(s == "asleep" for elapsed, s in states if elapsed < timedelta(hours=1))
    assert states[-1][1] == STATE_UNAVAILABLE
    # Tesla answers again: the entities come back at the next check.
    await next_cycle(hass, scout, freezer)
    state = hass.states.get("sensor.test_vehicle_state")
    assert state is not None
    assert state.state == "asleep"
    assert caplog.text.count("Tesla cannot be reached") == 1
    # The entities went unavailable: the coordinator's own line says they are
    # back, once; ours would say it twice.
    assert caplog.text.count("Fetching tesla_scout_worker data recovered") == 1
    assert caplog.text.count("Tesla can be reached again") == 0


async def test_outage_without_data_retries_setup(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
) -> None:
    fleet.fail_next("list", 504, None)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_outage_later_without_any_data_makes_entities_unavailable(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    scout = await setup_scout(hass, mock_config_entry)
    scout.tracker.restore(VIN, VehicleStatus(vin=VIN), None)  # nothing known
    fleet.fail_next("list", 500, None)
    await next_cycle(hass, scout, freezer)
    state = hass.states.get("sensor.test_vehicle_state")
    assert state is not None
    assert state.state == STATE_UNAVAILABLE


async def test_wrong_region_switches_and_persists(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: Any,
    freezer: FrozenDateTimeFactory,
) -> None:
    scout = await setup_scout(hass, mock_config_entry)
    na = FakeFleet("https://fleet-api.prd.na.vn.cloud.tesla.com")
    na.add(FakeCar(vin=VIN))
    na.install(aioclient_mock)
    fleet.fail_next(
        "list",
        421,
        {
            "error": "user out of region, use base URL: https://fleet-api.prd.na.vn.cloud.tesla.com"
        },
    )
    await next_cycle(hass, scout, freezer)
    assert mock_config_entry.data["api_base_url"] == na.base_url
    assert na.count("list") == 1
    assert scout.last_update_success


async def test_wrong_region_without_url_is_an_outage(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: Any,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A 421 that names no host is a failed check, like a 5xx: never a reauth.

    The login is fine; the entry keeps its host and asks no other, the last
    known values stay, and the next check gets through.
    """
    scout = await setup_scout(hass, mock_config_entry)
    listed = fleet.count("list")
    fleet.fail_next("list", 421, {"error": "user out of region"})
    await next_cycle(hass, scout, freezer)
    assert fleet.count("list") == listed + 1
    assert mock_config_entry.data["api_base_url"] == API_BASE_URL
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    hosts = {str(call[1]).split("/api/")[0] for call in aioclient_mock.mock_calls}
    assert hosts == {API_BASE_URL}
    state = hass.states.get("sensor.test_vehicle_state")
    assert state is not None
    assert state.state == "asleep"

    await next_cycle(hass, scout, freezer)
    assert fleet.count("list") == listed + 2
    assert scout.last_update_success
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


async def test_revoked_login_during_scouting_starts_reauth(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    scout = await setup_scout(hass, mock_config_entry)
    fleet.fail_next("list", 401, {"error": "login_required"})
    await next_cycle(hass, scout, freezer)
    assert not scout.last_update_success
    flows = hass.config_entries.flow.async_progress_by_handler("tesla_scout_worker")
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_driving_home_is_checked_sooner(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    car.state = "online"
    car.latitude, car.longitude = AWAY
    car.shift_state, car.speed = "D", 30
    scout = await setup_scout(hass, mock_config_entry)
    assert scout.update_interval == timedelta(minutes=5)  # driving, direction unknown
    car.latitude, car.longitude = NEAR
    await next_cycle(hass, scout, freezer)
    assert scout.update_interval is not None
    assert scout.update_interval < timedelta(minutes=5)


@pytest.mark.parametrize(
    ("presence", "interval"),
    [(None, timedelta(minutes=20)), ("person.driver", timedelta(hours=1))],
)
async def test_asleep_at_home_is_checked_less_often(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
    presence: str | None,
    interval: timedelta,
) -> None:
    car.state = "online"
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_PRESENCE_ENTITY: presence},
    )
    scout = await setup_scout(hass, mock_config_entry)
    car.state = "asleep"
    await next_cycle(hass, scout, freezer)
    assert scout.update_interval == interval


async def test_presence_arrival_triggers_an_immediate_check(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.states.async_set("person.driver", "not_home")
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_PRESENCE_ENTITY: "person.driver"},
    )
    scout = await setup_scout(hass, mock_config_entry)
    assert fleet.count("list") == 1
    hass.states.async_set("person.driver", "home")
    await hass.async_block_till_done()
    assert fleet.count("list") == 2
    hass.states.async_set("person.driver", "home", {"changed": True})
    await hass.async_block_till_done()
    assert fleet.count("list") == 2
    # Leaving home: a check three minutes later, once the car is away.
    hass.states.async_set("person.driver", "work")
    await hass.async_block_till_done()
    assert fleet.count("list") == 2
    freezer.tick(timedelta(minutes=3))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert fleet.count("list") == 3
    assert scout.update_interval == timedelta(minutes=15)  # position unknown


async def test_a_401_inside_the_refresh_window_is_not_a_lost_login(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: Any,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Retried after the window; reauth only for a rejection after a refresh."""
    scout = await setup_scout(hass, mock_config_entry)
    issued = iter(range(2, 100))

    async def rotate(method: str, url: Any, data: Any) -> AiohttpClientMockResponse:
        number = next(issued)
        return AiohttpClientMockResponse(
            method,
            url,
            json={
                "access_token": f"a{number}",
                "refresh_token": f"EU_r{number}",
                "expires_in": 28800,
            },
        )

    aioclient_mock.post(TOKEN_URL, side_effect=rotate)
    # A forced refresh a moment ago: the next one is refused for a minute.
    await mock_config_entry.runtime_data.tokens.async_force_refresh()
    fleet.fail_next("list", 401, {"error": "token expired (401)"})
    await scout.async_refresh()
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert not list(mock_config_entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
    state = hass.states.get("sensor.test_vehicle_state")
    assert state is not None
    assert state.state == "asleep"  # the last known value stays

    # After the window the token is refreshed and the same check is retried.
    freezer.tick(timedelta(minutes=2))
    fleet.fail_next("list", 401, {"error": "token expired (401)"})
    lists = fleet.count("list")
    await scout.async_refresh()
    assert fleet.count("list") == lists + 2
    assert mock_config_entry.data["token"]["refresh_token"] == "EU_r3"
    assert scout.last_update_success
    assert not list(mock_config_entry.async_get_active_flows(hass, {SOURCE_REAUTH}))


async def test_a_failed_check_is_retried_soon_then_less_often(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> None:
    """State checks are free: after a failure the next comes within minutes."""
    scout = await setup_scout(hass, mock_config_entry)
    normal = scout.update_interval
    assert normal is not None
    assert normal >= timedelta(minutes=15)
    waits = []
    for _ in range(5):
        fleet.fail_next("list", 503, "<html>Service unavailable</html>")
        await next_cycle(hass, scout, freezer)
        assert scout.update_interval is not None
        waits.append(scout.update_interval.total_seconds())
    assert waits == [60, 120, 300, 600, 600]
    # Tesla answers again: back to the policy's interval.
    await next_cycle(hass, scout, freezer)
    assert scout.update_interval == normal
    # A 429 that asks for longer still wins over the quick retry.
    fleet.fail_next("list", 429, {"error": "rate limited"}, {"Retry-After": "900"})
    await next_cycle(hass, scout, freezer)
    assert scout.update_interval is not None
    assert scout.update_interval.total_seconds() >= 900


async def test_a_single_failed_check_is_not_an_outage(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One 502 that the next check (a minute later) gets past: no warning."""
    scout = await setup_scout(hass, mock_config_entry)
    fleet.fail_next("list", 502, "<html>Bad gateway</html>")
    await next_cycle(hass, scout, freezer)
    await next_cycle(hass, scout, freezer)
    assert "Tesla cannot be reached" not in caplog.text
    assert "Tesla can be reached again" not in caplog.text
    assert "Tesla check failed: ServerError" in caplog.text


def test_only_an_arrival_and_the_first_sight_at_home_start_a_run() -> None:
    """A transition's worker trigger: SPEC §5 names the two, §7 their strings."""
    triggers = {kind: kind.worker_trigger for kind in TransitionKind}
    assert triggers == {
        TransitionKind.STATE_CHANGED: None,
        TransitionKind.ARRIVED_HOME: WorkerTrigger.ARRIVED_HOME,
        TransitionKind.LEFT_HOME: None,
        TransitionKind.FIRST_SEEN_HOME: WorkerTrigger.INIT,
        TransitionKind.PLUGGED_IN_AT_HOME: None,
    }
    assert [str(t) for t in triggers.values() if t] == ["arrived_home", "init"]
