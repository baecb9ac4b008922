"""Tesla's per-car and per-application refusals (issue 19, items 11, 12 and 14).

Real answers captured by public projects: a car whose owner switched off mobile
access (401 ``mobile_access_disabled``), a token without the
``vehicle_location`` scope (403, and no ``drive_state`` since 2026), and an
application Tesla disabled past its monthly threshold (403 ``account disabled:
EXCEEDED_LIMIT``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.tesla_scout_worker.const import CONF_TOKEN, CONF_VINS, DOMAIN
from custom_components.tesla_scout_worker.scout import ScoutCoordinator

from . import issues_of, setup_scout, start_charging, state_of
from .conftest import SCOPES, TOKEN_URL, VIN, VIN_2, access_token, token_calls
from .fake_fleet import FakeCar, FakeFleet

COMPONENT = Path(__file__).parent.parent / "custom_components" / DOMAIN
MOBILE_ACCESS_DISABLED = {"response": None, "error": "mobile_access_disabled"}
EXCEEDED_LIMIT = {"response": None, "error": "account disabled: EXCEEDED_LIMIT"}

pytestmark = pytest.mark.usefixtures("warsaw_evening")


async def next_cycle(
    hass: HomeAssistant, scout: ScoutCoordinator, freezer: FrozenDateTimeFactory
) -> None:
    assert scout.update_interval is not None
    freezer.tick(scout.update_interval)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def reauth_flows(hass: HomeAssistant) -> list[Any]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress()
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


# --- 11. one car with mobile access switched off ---------------------------------


@pytest.fixture
def two_cars(fleet: FakeFleet) -> FakeFleet:
    """Two cars online at home in one account."""
    fleet.cars[VIN].state = "online"
    fleet.add(FakeCar(vin=VIN_2, display_name="Second", state="online"))
    return fleet


def with_data(entry: MockConfigEntry, **changes: Any) -> MockConfigEntry:
    """A copy of ``entry`` (not yet added) with other data."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=entry.title,
        unique_id=entry.unique_id,
        version=1,
        minor_version=1,
        data={**entry.data, **changes},
        options=dict(entry.options),
    )


async def test_mobile_access_off_in_one_car_is_a_repair_not_a_reauth(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    two_cars: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    two_cars.fail_next("data", 401, MOBILE_ACCESS_DISABLED, vin=VIN_2)
    entry = with_data(mock_config_entry, **{CONF_VINS: [VIN, VIN_2]})
    scout = await setup_scout(hass, entry)

    # The token is fine: no refresh, no new login, the entry stays loaded.
    assert token_calls(aioclient_mock) == 0
    assert entry.state is ConfigEntryState.LOADED
    assert reauth_flows(hass) == []
    # The other car keeps working.
    assert state_of(hass, "sensor.test_battery_level") == "62"
    [issue] = issues_of(issue_registry, "mobile_access_disabled")
    assert issue.translation_placeholders == {"vehicle": "Second"}
    assert VIN_2 not in issue.issue_id
    assert issue.is_fixable is False
    # The token has vehicle_location: positions are read, nothing else to repair.
    assert two_cars.endpoints[0].count("location_data") == 1
    assert state_of(hass, "binary_sensor.test_at_home") == "on"
    assert issues_of(issue_registry, "location_scope_missing") == []

    # The car is not asked again (each answer is billed) for an hour.
    asked = two_cars.count("data", VIN_2)
    while scout.update_interval is not None and two_cars.count("data", VIN_2) == asked:
        await next_cycle(hass, scout, freezer)
        if two_cars.count("list") > 12:
            break
    assert two_cars.count("data", VIN_2) == asked + 1
    # The owner switched it back on: the car answered, the issue is gone.
    assert issues_of(issue_registry, "mobile_access_disabled") == []
    assert state_of(hass, "sensor.second_battery_level") == "62"
    assert reauth_flows(hass) == []


async def test_deleting_the_entry_deletes_every_issue_of_it(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    two_cars: FakeFleet,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Mobile access off in one car, no location scope: both go with the entry."""
    two_cars.fail_next("data", 401, MOBILE_ACCESS_DISABLED, vin=VIN_2)
    token = {**mock_config_entry.data[CONF_TOKEN]}
    token["access_token"] = access_token(scopes=NO_LOCATION)
    entry = with_data(mock_config_entry, **{CONF_VINS: [VIN, VIN_2], CONF_TOKEN: token})
    await setup_scout(hass, entry)
    assert len(issues_of(issue_registry, "mobile_access_disabled")) == 1
    assert len(issues_of(issue_registry, "location_scope_missing")) == 1

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert [key for key in issue_registry.issues if key[0] == DOMAIN] == []


async def test_mobile_access_off_refuses_a_command_for_that_car_only(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
    issue_registry: ir.IssueRegistry,
) -> None:
    fleet.cars[VIN].state = "online"
    await setup_scout(hass, mock_config_entry)
    fleet.fail_next("charge_start", 401, MOBILE_ACCESS_DISABLED)

    with pytest.raises(HomeAssistantError) as raised:
        await start_charging(hass)

    assert raised.value.translation_key == "mobile_access_disabled"
    assert raised.value.translation_placeholders == {"vehicle": "Test"}
    assert token_calls(aioclient_mock) == 0
    assert fleet.count("charge_start") == 1
    assert reauth_flows(hass) == []
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert len(issues_of(issue_registry, "mobile_access_disabled")) == 1


# --- 12. a token without the vehicle_location scope --------------------------------

NO_LOCATION = [scope for scope in SCOPES if scope != "vehicle_location"]


def data_requests(fleet: FakeFleet) -> list[list[str]]:
    return fleet.endpoints


async def test_without_location_scope_the_cars_are_read_without_position(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    fleet.location_scope = False
    fleet.cars[VIN].state = "online"
    fleet.cars[VIN].battery_level = 57
    token = {**mock_config_entry.data[CONF_TOKEN]}
    token["access_token"] = access_token(scopes=NO_LOCATION)
    entry = with_data(mock_config_entry, **{CONF_TOKEN: token})
    scout = await setup_scout(hass, entry)

    # Decided from the token: one read, without location_data, and it answers.
    assert fleet.endpoints == [
        ["charge_state", "charge_schedule_data", "drive_state", "vehicle_state"]
    ]
    assert state_of(hass, "sensor.test_battery_level") == "57"
    assert state_of(hass, "binary_sensor.test_plugged_in") == "on"
    assert state_of(hass, "sensor.test_charging_state") == "stopped"
    assert state_of(hass, "binary_sensor.test_at_home") == "unknown"
    [issue] = issues_of(issue_registry, "location_scope_missing")
    assert issue.translation_placeholders == {"title": entry.title}

    # No drive_state means no gear: a car not charging is left alone to sleep,
    # not read every cycle (which would keep it awake).
    await next_cycle(hass, scout, freezer)
    assert len(fleet.endpoints) == 1
    assert fleet.count("list") == 2


async def test_a_location_refusal_falls_back_to_reads_without_position(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    # The token claims every scope, yet Tesla refuses the position.
    fleet.location_scope = False
    fleet.cars[VIN].state = "online"
    fleet.cars[VIN].battery_level = 57
    scout = await setup_scout(hass, mock_config_entry)

    assert [("location_data" in e) for e in fleet.endpoints] == [True, False]
    assert state_of(hass, "sensor.test_battery_level") == "57"
    assert len(issues_of(issue_registry, "location_scope_missing")) == 1

    # From then on the position is not asked for: no more billed 403s.
    freezer.tick(3600)
    await next_cycle(hass, scout, freezer)
    assert len(fleet.endpoints) == 3
    assert "location_data" not in fleet.endpoints[-1]


async def test_the_location_repair_signs_in_again(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    issue_registry: ir.IssueRegistry,
) -> None:
    token = {**mock_config_entry.data[CONF_TOKEN]}
    token["access_token"] = access_token(scopes=NO_LOCATION)
    entry = with_data(mock_config_entry, **{CONF_TOKEN: token})
    await setup_scout(hass, entry)
    assert await async_setup_component(hass, "repairs", {})
    [issue] = issues_of(issue_registry, "location_scope_missing")
    assert issue.is_fixable
    manager = repairs_flow_manager(hass)
    assert manager is not None

    result = await manager.async_init(DOMAIN, data={"issue_id": issue.issue_id})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {"title": entry.title}
    assert reauth_flows(hass) == []
    result = await manager.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()

    [flow] = reauth_flows(hass)
    assert flow["context"]["entry_id"] == entry.entry_id


def test_the_scope_step_says_what_still_works_and_what_is_lost() -> None:
    for name in ("strings.json", "translations/en.json"):
        strings = json.loads((COMPONENT / name).read_text(encoding="utf-8"))
        text = strings["config"]["step"]["location_scope"]["description"]
        # Before: "the scout cannot see where the car is", as if nothing worked.
        assert "battery" in text
        assert "charging state" in text
        assert "arriving home is never detected" in text
        assert "schedules" in text
    polish = json.loads((COMPONENT / "translations/pl.json").read_text("utf-8"))
    text = polish["config"]["step"]["location_scope"]["description"]
    assert "baterii" in text
    assert "harmonogram" in text


# --- 14. Tesla disables the application past its monthly threshold ----------------


@pytest.fixture
def token_endpoint(aioclient_mock: AiohttpClientMocker) -> None:
    """Tesla's token endpoint, for tests that span days (tokens last 8 hours)."""

    async def answer(
        method: str, url: URL, data: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        return AiohttpClientMockResponse(
            method,
            url,
            json={
                "access_token": access_token(),
                "refresh_token": f"EU_refresh-{token_calls(aioclient_mock)}",
                "expires_in": 28800,
                "token_type": "Bearer",
            },
        )

    aioclient_mock.post(TOKEN_URL, side_effect=answer)


@pytest.fixture
def car_at_home(fleet: FakeFleet) -> FakeCar:
    car = fleet.cars[VIN]
    car.state = "online"
    car.battery_level = 40
    return car


@pytest.mark.usefixtures("token_endpoint")
async def test_monthly_limit_stops_paid_requests_until_next_month(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car_at_home: FakeCar,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    fleet.fail_next("add_charge_schedule", 403, EXCEEDED_LIMIT)
    scout = await setup_scout(hass, mock_config_entry, smart=True)

    # No second billed command as a "fallback".
    assert fleet.count("add_charge_schedule") == 1
    assert fleet.count("set_scheduled_charging") == 0
    run = mock_config_entry.runtime_data.worker.last_run(VIN)
    assert run is not None
    assert (run.result, run.error) == ("error", "usage_limit_exceeded")
    [issue] = issues_of(issue_registry, "usage_limit_exceeded")
    # The start of the next calendar month (UTC), in local time.
    assert issue.translation_placeholders == {
        "title": mock_config_entry.title,
        "until": "2027-01-01 01:00",
    }

    # Days later: the free state checks go on, nothing paid is sent.
    paid_before = len(fleet.endpoints), fleet.count("wake")
    for _ in range(4):
        freezer.tick(6 * 3600)
        await next_cycle(hass, scout, freezer)
    assert fleet.count("list") >= 5
    assert (len(fleet.endpoints), fleet.count("wake")) == paid_before
    worker = mock_config_entry.runtime_data.worker
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.reason == "usage_limit_exceeded"
    assert fleet.count("add_charge_schedule") == 1
    with pytest.raises(HomeAssistantError) as raised:
        await start_charging(hass)
    assert raised.value.translation_key == "usage_limit_exceeded"
    assert raised.value.translation_placeholders == {"until": "2027-01-01 01:00"}
    assert fleet.count("charge_start") == 0
    assert len(issues_of(issue_registry, "usage_limit_exceeded")) == 1

    # The next month: paid requests work again and the issue goes.
    freezer.move_to("2027-01-01 00:30:00+00:00")
    await next_cycle(hass, scout, freezer)
    assert len(fleet.endpoints) > paid_before[0]
    assert issues_of(issue_registry, "usage_limit_exceeded") == []


async def test_monthly_limit_on_a_read_keeps_state_checks(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    fleet.cars[VIN].state = "online"
    fleet.fail_next(
        "data", 403, EXCEEDED_LIMIT, headers={"Retry-After": str(2 * 86400)}
    )
    scout = await setup_scout(hass, mock_config_entry)

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert state_of(hass, "sensor.test_vehicle_state") == "online"
    [issue] = issues_of(issue_registry, "usage_limit_exceeded")
    # Tesla said when: that, not the end of the month.
    assert (issue.translation_placeholders or {})["until"] == "2026-12-04 17:00"
    assert fleet.count("fleet_status") == 0

    freezer.tick(3600)
    await next_cycle(hass, scout, freezer)
    assert fleet.count("data") == 1
    assert fleet.count("list") == 2


async def test_mobile_access_off_ends_a_worker_run_without_retries(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car_at_home: FakeCar,
    aioclient_mock: AiohttpClientMocker,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    fleet.fail_next("add_charge_schedule", 401, MOBILE_ACCESS_DISABLED)
    await setup_scout(hass, mock_config_entry, smart=True)

    run = mock_config_entry.runtime_data.worker.last_run(VIN)
    assert run is not None
    assert (run.result, run.error) == ("error", "mobile_access_disabled")
    assert fleet.count("set_scheduled_charging") == 0
    assert token_calls(aioclient_mock) == 0
    assert reauth_flows(hass) == []
    [issue] = issues_of(issue_registry, "mobile_access_disabled")
    assert issue.translation_placeholders == {"vehicle": "Test"}

    # Only the owner can switch it back on: the run is not retried blindly.
    freezer.tick(20 * 60)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fleet.count("add_charge_schedule") == 1


async def test_a_worker_read_refused_for_the_position_is_read_again_without(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    issue_registry: ir.IssueRegistry,
) -> None:
    fleet.location_scope = False
    await setup_scout(hass, mock_config_entry)  # asleep: the scout reads nothing
    assert fleet.endpoints == []
    fleet.cars[VIN].state = "online"
    fleet.cars[VIN].battery_level = 48

    worker = mock_config_entry.runtime_data.worker
    run = await worker.async_request_run(VIN, "action", force=True)
    await hass.async_block_till_done()

    assert run is not None
    assert [("location_data" in e) for e in fleet.endpoints] == [True, False]
    assert run.requests == 3  # the free record, the refused read, the read
    assert state_of(hass, "sensor.test_battery_level") == "48"
    assert len(issues_of(issue_registry, "location_scope_missing")) == 1


async def test_monthly_limit_on_a_users_command(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    issue_registry: ir.IssueRegistry,
) -> None:
    fleet.cars[VIN].state = "online"
    await setup_scout(hass, mock_config_entry)
    fleet.fail_next("charge_start", 403, EXCEEDED_LIMIT)

    with pytest.raises(HomeAssistantError) as raised:
        await start_charging(hass)

    assert raised.value.translation_key == "usage_limit_exceeded"
    assert raised.value.translation_placeholders == {"until": "2027-01-01 01:00"}
    assert len(issues_of(issue_registry, "usage_limit_exceeded")) == 1
    # A second try sends nothing (it would be refused, and billed).
    with pytest.raises(HomeAssistantError):
        await start_charging(hass)
    assert fleet.count("charge_start") == 1


async def test_monthly_limit_on_the_vehicle_list_keeps_the_last_known_state(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fleet.cars[VIN].state = "online"
    scout = await setup_scout(hass, mock_config_entry)
    assert state_of(hass, "sensor.test_battery_level") == "62"

    for _ in range(6):
        fleet.fail_next("list", 403, EXCEEDED_LIMIT)
        freezer.tick(15 * 60)
        await next_cycle(hass, scout, freezer)

    # Not an outage: the values stay, with the reason in a repair issue.
    assert state_of(hass, "sensor.test_battery_level") == "62"
    assert state_of(hass, "sensor.test_vehicle_state") == "online"
    assert "cannot be reached" not in caplog.text
    assert len(issues_of(issue_registry, "usage_limit_exceeded")) == 1
    assert fleet.count("data") == 1


async def test_monthly_limit_on_the_key_pairing_check(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    issue_registry: ir.IssueRegistry,
) -> None:
    fleet.fail_next("fleet_status", 403, EXCEEDED_LIMIT)
    await setup_scout(hass, mock_config_entry)

    assert len(issues_of(issue_registry, "usage_limit_exceeded")) == 1
