"""Reliability of one account's cars: rate-limited commands, cars that leave it,
cars shared with a second account (issue 19, items 4, 5 and 7)."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.tesla_scout_worker.const import (
    CONF_API_BASE_URL,
    CONF_CLIENT_ID,
    CONF_REFRESH_TOKEN,
    CONF_TOKEN_URL,
    CONF_VINS,
    DOMAIN,
)
from custom_components.tesla_scout_worker.domain.schedules import schedule_id_for
from custom_components.tesla_scout_worker.flow_schemas import CONF_HOME

from . import finish_key_steps, issues_of, pass_time, setup, start_charging, state_of
from .conftest import (
    ACCOUNT_SUB,
    API_BASE_URL,
    CLIENT_ID,
    HOME,
    TOKEN_URL,
    VIN,
    VIN_2,
    access_token,
)
from .fake_fleet import FakeCar, FakeFleet

RATE_LIMITED = {"error": "rate limited"}

pytestmark = pytest.mark.usefixtures("warsaw_evening")


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
    await pass_time(hass, freezer, timedelta(minutes=15))
    await pass_time(hass, freezer, timedelta(minutes=30))
    await pass_time(hass, freezer, timedelta(minutes=14))
    assert fleet.calls[calls:] == []
    assert car.charge_schedules == []

    # Once the hour has passed, the retry writes the schedule.
    await pass_time(hass, freezer, timedelta(minutes=1, seconds=1))
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
        await start_charging(hass)
    calls = len(fleet.calls)
    # Inside the ten minutes the worker does not read the car.
    freezer.tick(timedelta(minutes=5))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.requests == 0
    assert fleet.calls[calls:] == []


# --- item 5: a car gone from the account --------------------------------------

SECOND = "Second"


@pytest.fixture
def two_car_entry(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, fleet: FakeFleet
) -> FakeCar:
    """The entry looks after two cars; the second one is awake at home."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, CONF_VINS: [VIN, VIN_2]},
    )
    return fleet.add(FakeCar(vin=VIN_2, display_name=SECOND, state="online"))


def devices_of(hass: HomeAssistant, identifier: str) -> list[dr.DeviceEntry]:
    """The devices of this integration with ``identifier`` (any entry's)."""
    registry = dr.async_get(hass)
    return [
        device
        for entry in hass.config_entries.async_entries(DOMAIN)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if (DOMAIN, identifier) in device.identifiers
    ]


def device_of(hass: HomeAssistant, identifier: str) -> dr.DeviceEntry | None:
    """The one device with ``identifier``, if any."""
    found = devices_of(hass, identifier)
    assert len(found) <= 1
    return found[0] if found else None


async def scout_check(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """One scout cycle now (its timer is not what these tests are about)."""
    await entry.runtime_data.scout.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)


def gone_issues(hass: HomeAssistant) -> list[ir.IssueEntry]:
    return issues_of(ir.async_get(hass), "vehicle_gone")


async def test_a_car_gone_from_the_account_raises_a_repair_and_stops_pretending(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    two_car_entry: FakeCar,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup(hass, mock_config_entry)
    assert state_of(hass, "sensor.second_battery_level") == "62"
    assert gone_issues(hass) == []

    # Sold: the account's vehicle list no longer has it.
    del fleet.cars[VIN_2]
    await scout_check(hass, mock_config_entry)

    (issue,) = gone_issues(hass)
    assert issue.is_fixable
    assert issue.translation_placeholders == {"vehicle": SECOND, "title": "Test"}
    assert VIN_2 not in issue.issue_id
    assert VIN_2 not in caplog.text
    assert state_of(hass, "sensor.second_battery_level") == "unavailable"
    assert state_of(hass, "binary_sensor.second_at_home") == "unavailable"
    # The other car goes on as before.
    assert state_of(hass, "sensor.test_battery_level") != "unavailable"

    # No worker run for a car that is not there (a billed 404 at best).
    calls = len(fleet.calls)
    worker = mock_config_entry.runtime_data.worker
    assert await worker.async_request_run(VIN_2, "action", force=True) is None
    assert fleet.calls[calls:] == []

    # The share comes back: so does the car, and the issue goes.
    fleet.add(two_car_entry)
    await scout_check(hass, mock_config_entry)
    assert gone_issues(hass) == []
    assert state_of(hass, "sensor.second_battery_level") == "62"


async def test_each_gone_car_has_its_own_issue_raised_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    two_car_entry: FakeCar,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup(hass, mock_config_entry)
    first = fleet.cars.pop(VIN)
    await scout_check(hass, mock_config_entry)
    del fleet.cars[VIN_2]
    await scout_check(hass, mock_config_entry)
    await scout_check(hass, mock_config_entry)
    issues = gone_issues(hass)
    assert sorted((i.translation_placeholders or {})["vehicle"] for i in issues) == [
        SECOND,
        "Test",
    ]
    assert caplog.text.count("is no longer in the Tesla account") == 2
    fleet.add(first)
    await scout_check(hass, mock_config_entry)
    (issue,) = gone_issues(hass)
    assert issue.translation_placeholders == {"vehicle": SECOND, "title": "Test"}


async def test_the_repair_removes_the_gone_car_from_the_entry(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    two_car_entry: FakeCar,
    hass_client: ClientSessionGenerator,
) -> None:
    await setup(hass, mock_config_entry)
    assert await async_setup_component(hass, "repairs", {})
    del fleet.cars[VIN_2]
    await scout_check(hass, mock_config_entry)
    (issue,) = gone_issues(hass)

    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": issue.issue_id},
    )
    assert response.status == HTTPStatus.OK
    flow = await response.json()
    assert flow["step_id"] == "confirm"
    assert flow["description_placeholders"] == {"vehicle": SECOND, "title": "Test"}
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert response.status == HTTPStatus.OK
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done(wait_background_tasks=True)

    assert mock_config_entry.data[CONF_VINS] == [VIN]
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert device_of(hass, VIN_2) is None
    assert device_of(hass, VIN) is not None
    assert hass.states.get("sensor.second_battery_level") is None
    assert gone_issues(hass) == []


async def test_the_device_of_a_gone_car_can_be_deleted(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    two_car_entry: FakeCar,
    hass_ws_client: WebSocketGenerator,
) -> None:
    await setup(hass, mock_config_entry)
    assert await async_setup_component(hass, "config", {})
    second = device_of(hass, VIN_2)
    assert second is not None
    device = second
    client = await hass_ws_client(hass)

    async def remove() -> dict[str, Any]:
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": mock_config_entry.entry_id,
                "device_id": device.id,
            }
        )
        answer: dict[str, Any] = await client.receive_json()
        await hass.async_block_till_done(wait_background_tasks=True)
        return answer

    # A car the account still has: its device stays.
    assert (await remove())["success"] is False
    assert mock_config_entry.data[CONF_VINS] == [VIN, VIN_2]

    del fleet.cars[VIN_2]
    await scout_check(hass, mock_config_entry)
    assert (await remove())["success"] is True
    assert mock_config_entry.data[CONF_VINS] == [VIN]
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert device_of(hass, VIN_2) is None
    assert gone_issues(hass) == []
    # The account's own device is never deletable.
    account = device_of(hass, ACCOUNT_SUB)
    assert account is not None
    device = account
    assert (await remove())["success"] is False
    # Nor is a car's while the entry is not loaded (nothing says it is gone).
    first = device_of(hass, VIN)
    assert first is not None
    device = first
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    assert (await remove())["success"] is False
    assert mock_config_entry.data[CONF_VINS] == [VIN]


async def test_a_repair_that_is_no_longer_needed_changes_nothing(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    two_car_entry: FakeCar,
    hass_client: ClientSessionGenerator,
) -> None:
    await setup(hass, mock_config_entry)
    assert await async_setup_component(hass, "repairs", {})
    del fleet.cars[VIN_2]
    await scout_check(hass, mock_config_entry)
    (issue,) = gone_issues(hass)
    client = await hass_client()

    async def start() -> str:
        response = await client.post(
            "/api/repairs/issues/fix",
            json={"handler": DOMAIN, "issue_id": issue.issue_id},
        )
        assert response.status == HTTPStatus.OK
        flow_id: str = (await response.json())["flow_id"]
        return flow_id

    async def submit(flow_id: str) -> None:
        response = await client.post(f"/api/repairs/issues/fix/{flow_id}", json={})
        assert response.status == HTTPStatus.OK
        assert (await response.json())["type"] == "create_entry"
        await hass.async_block_till_done(wait_background_tasks=True)

    first, second = await start(), await start()
    # Meanwhile the car left the entry another way (Reconfigure).
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_VINS: [VIN]}
    )
    await submit(first)
    assert mock_config_entry.data[CONF_VINS] == [VIN]
    # And the entry itself is deleted.
    assert await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await submit(second)
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_deleting_the_entry_deletes_its_gone_car_issues(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    two_car_entry: FakeCar,
) -> None:
    await setup(hass, mock_config_entry)
    del fleet.cars[VIN_2]
    await scout_check(hass, mock_config_entry)
    assert len(gone_issues(hass)) == 1
    assert await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert gone_issues(hass) == []


# --- item 7: a car shared by two Tesla accounts is set up once ----------------

SECOND_ACCOUNT = "7a1c2e3f-0000-4b5c-8d9e-0a1b2c3d4e5f"
VIN_3 = "7SAYGDEE5PF000003"


@pytest.fixture
def second_account_token(aioclient_mock: AiohttpClientMocker) -> None:
    """Tesla's token endpoint trades the pasted refresh token for the second
    account's token."""
    aioclient_mock.post(
        TOKEN_URL,
        json={
            "access_token": access_token(sub=SECOND_ACCOUNT),
            "refresh_token": "EU_rotated",
            "expires_in": 28800,
            "token_type": "Bearer",
        },
    )


async def sign_in_second_account(hass: HomeAssistant) -> ConfigFlowResult:
    """The manual path up to the vehicle selection of the second account."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "manual"}
    )
    return await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_REFRESH_TOKEN: "EU_second-account",
            "advanced": {CONF_TOKEN_URL: TOKEN_URL},
        },
    )


def offered(result: ConfigFlowResult) -> list[str]:
    """The VINs the vehicle selection offers."""
    schema = result["data_schema"]
    assert schema is not None
    (selector,) = (v for k, v in schema.schema.items() if k == CONF_VINS)
    return [option["value"] for option in selector.config["options"]]


HOME_INPUT = {"latitude": HOME[0], "longitude": HOME[1], "radius": 100.0}


async def test_a_shared_car_is_not_set_up_by_the_second_account(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    second_account_token: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The first account has the shared car; the second has it and one more.
    fleet.add(FakeCar(vin=VIN_3, display_name="Third"))
    await setup(hass, mock_config_entry)

    result = await sign_in_second_account(hass)
    assert result["step_id"] == "vehicles"
    assert offered(result) == [VIN_3]
    result = await finish_key_steps(
        hass,
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_VINS: [VIN_3], CONF_HOME: HOME_INPUT}
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VINS] == [VIN_3]
    await hass.async_block_till_done(wait_background_tasks=True)

    # One device per car, each of one entry; no duplicate unique ids.
    second = result["result"]
    assert second.state is ConfigEntryState.LOADED
    registry = dr.async_get(hass)
    assert [
        device
        for device in dr.async_entries_for_config_entry(registry, second.entry_id)
        if (DOMAIN, VIN) in device.identifiers
    ] == []
    assert len(devices_of(hass, VIN)) == 1
    assert "already exists" not in caplog.text
    assert "does not generate unique IDs" not in caplog.text


async def test_an_account_whose_cars_are_all_set_up_is_not_added(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    second_account_token: None,
) -> None:
    await setup(hass, mock_config_entry)
    result = await sign_in_second_account(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "all_vehicles_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_a_car_set_up_elsewhere_while_the_form_was_open_is_refused(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    second_account_token: None,
) -> None:
    fleet.add(FakeCar(vin=VIN_2, display_name=SECOND))
    fleet.add(FakeCar(vin=VIN_3, display_name="Third"))
    mock_config_entry.add_to_hass(hass)
    result = await sign_in_second_account(hass)
    assert offered(result) == [VIN_2, VIN_3]

    # Meanwhile the first account's entry takes the second car too.
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_VINS: [VIN, VIN_2]}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_VINS: [VIN_2, VIN_3], CONF_HOME: HOME_INPUT}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_VINS: "vehicle_configured_elsewhere"}
    assert offered(result) == [VIN_3]


async def test_reconfigure_does_not_offer_a_car_of_another_entry(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
) -> None:
    fleet.add(FakeCar(vin=VIN_2, display_name=SECOND))
    mock_config_entry.add_to_hass(hass)
    other = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SECOND_ACCOUNT,
        data={**mock_config_entry.data, CONF_VINS: [VIN_3]},
    )
    other.add_to_hass(hass)
    fleet.add(FakeCar(vin=VIN_3, display_name="Third"))

    result = await mock_config_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert offered(result) == [VIN, VIN_2]
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_VINS: [VIN, VIN_3],
                CONF_API_BASE_URL: API_BASE_URL,
                CONF_HOME: HOME_INPUT,
            },
        )

    # The other entry takes the second car while this form is open.
    hass.config_entries.async_update_entry(
        other, data={**other.data, CONF_VINS: [VIN_2, VIN_3]}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_VINS: [VIN, VIN_2],
            CONF_API_BASE_URL: API_BASE_URL,
            CONF_HOME: HOME_INPUT,
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_VINS: "vehicle_configured_elsewhere"}
    assert offered(result) == [VIN]
    assert mock_config_entry.data[CONF_VINS] == [VIN]


async def test_an_opaque_token_offers_an_entrys_cars_but_refuses_them_for_a_new_one(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
) -> None:
    """A token that is not a JWT names its account by its cars only."""
    existing = MockConfigEntry(
        domain=DOMAIN,
        unique_id=VIN,
        data={CONF_VINS: [VIN], CONF_CLIENT_ID: CLIENT_ID},
    )
    existing.add_to_hass(hass)
    fleet.add(FakeCar(vin=VIN_3, display_name="Third"))
    aioclient_mock.post(
        TOKEN_URL,
        json={
            "access_token": "opaque",
            "refresh_token": "EU_rotated",
            "expires_in": 28800,
            "token_type": "Bearer",
        },
    )
    result = await sign_in_second_account(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "eu"}
    )
    assert result["step_id"] == "vehicles"
    # The entry's car is offered (the same account may be signing in again),
    # not selected.
    assert offered(result) == [VIN, VIN_3]
    schema = result["data_schema"]
    assert schema is not None
    assert schema({CONF_HOME: HOME_INPUT})[CONF_VINS] == [VIN_3]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_VINS: [VIN, VIN_3], CONF_HOME: HOME_INPUT}
    )
    assert result["errors"] == {CONF_VINS: "vehicle_configured_elsewhere"}
    result = await finish_key_steps(
        hass,
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_VINS: [VIN_3], CONF_HOME: HOME_INPUT}
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VINS] == [VIN_3]


async def test_the_only_car_gone_leaves_an_entry_that_still_owns_the_token(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Sold the only car: the entry stays (its token may be shared), carless."""
    await setup(hass, mock_config_entry)
    assert await async_setup_component(hass, "config", {})
    del fleet.cars[VIN]
    await scout_check(hass, mock_config_entry)
    (issue,) = gone_issues(hass)
    assert issue.translation_placeholders == {"vehicle": "Test", "title": "Test"}
    device = device_of(hass, VIN)
    assert device is not None
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": mock_config_entry.entry_id,
            "device_id": device.id,
        }
    )
    assert (await client.receive_json())["success"] is True
    await hass.async_block_till_done(wait_background_tasks=True)
    assert mock_config_entry.data[CONF_VINS] == []
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert device_of(hass, VIN) is None
    assert state_of(hass, "sensor.test_account_api_requests_today") != "unavailable"
    # The scout still looks (one free list request), for no car.
    calls = len(fleet.calls)
    await scout_check(hass, mock_config_entry)
    assert fleet.calls[calls:] == [("list", "")]
