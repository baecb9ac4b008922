"""Tests for the Fleet API client: requests, parsing, errors and accounting."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.tesla_scout_worker.fleet import (
    CommandFailedError,
    CommandProtocolRequiredError,
    InvalidRequestError,
    LoginRequiredError,
    MalformedResponseError,
    MissingScopeError,
    NotRegisteredError,
    RateLimitedError,
    RequestCategory,
    ServerError,
    TeslaAuthenticationError,
    TeslaConnectionError,
    TeslaFleetClient,
    TokenExpiredError,
    TokenNotRefreshedError,
    VehicleUnavailableError,
    WrongRegionError,
)
from tests import load_json_fixture

from .conftest import BASE, PROXY, VIN, FakeTokens, FleetMock, Ledger, answer

VEHICLE_DATA_URL = re.compile(rf"^{re.escape(BASE)}/api/1/vehicles/{VIN}/vehicle_data")
UNAVAILABLE = {
    "response": None,
    "error": "vehicle unavailable: vehicle is offline or asleep",
    "error_description": "",
}


async def test_vehicles_parses_records_and_counts_a_state_check(
    client: TeslaFleetClient, mock_api: FleetMock, ledger: Ledger
) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles", json=load_json_fixture("vehicles.json"))

    vehicles = await client.vehicles()

    assert [v.vin for v in vehicles] == ["LRWXF7EK4KC700000", "5YJ3E1EA1NF000002"]
    assert [v.is_online for v in vehicles] == [True, False]
    assert vehicles[0].display_name == "Test"
    assert vehicles[0].command_signing == "required"
    assert ledger.calls == [(RequestCategory.STATE, 200)]
    (call,) = mock_api.sent_to("GET", f"{BASE}/api/1/vehicles")
    assert call.kwargs["headers"] == {"Authorization": "Bearer access-1"}


async def test_vehicles_follows_pagination(
    client: TeslaFleetClient, mock_api: FleetMock, ledger: Ledger
) -> None:
    first = load_json_fixture("vehicles.json")
    first["response"] = first["response"][:1]
    first["pagination"]["next"] = 2
    second = load_json_fixture("vehicles.json")
    second["response"] = second["response"][1:]
    mock_api.get(f"{BASE}/api/1/vehicles", json=first)
    mock_api.get(f"{BASE}/api/1/vehicles?page=2", json=second)

    vehicles = await client.vehicles()

    assert len(vehicles) == 2
    assert ledger.calls == [(RequestCategory.STATE, 200)] * 2


async def test_vehicles_rejects_a_list_that_is_not_a_list(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles", json={"response": None})
    with pytest.raises(MalformedResponseError):
        await client.vehicles()


async def test_vehicle_record(client: TeslaFleetClient, mock_api: FleetMock) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles/{VIN}", json=load_json_fixture("vehicle.json"))
    vehicle = await client.vehicle(VIN)
    assert vehicle.vin == VIN
    assert vehicle.state == "online"
    assert vehicle.id == 1234


async def test_vehicle_data_asks_for_the_endpoints_once_each(
    client: TeslaFleetClient, mock_api: FleetMock, ledger: Ledger
) -> None:
    mock_api.get(VEHICLE_DATA_URL, json=load_json_fixture("vehicle_data.json"))

    data = await client.vehicle_data(
        VIN, ["location_data", "drive_state", "location_data", "charge_state"]
    )

    (call,) = mock_api.sent_to("GET", f"{BASE}/api/1/vehicles/{VIN}/vehicle_data")
    assert call.kwargs["params"] == {
        "endpoints": "location_data;drive_state;charge_state"
    }
    assert ledger.calls == [(RequestCategory.DATA, 200)]
    assert data.vin == VIN
    assert data.charge is not None
    assert data.charge.battery_level == 77
    assert data.charge.charging_state == "Stopped"
    assert data.drive is not None
    assert data.drive.in_park
    assert data.drive.latitude == -30.222626
    assert data.is_parked is True


async def test_vehicle_data_asleep_raises_unavailable_and_is_billed(
    client: TeslaFleetClient, mock_api: FleetMock, ledger: Ledger
) -> None:
    mock_api.get(VEHICLE_DATA_URL, status=408, json=UNAVAILABLE)
    with pytest.raises(VehicleUnavailableError) as err:
        await client.vehicle_data(VIN, ["location_data"])
    assert err.value.status == 408
    assert ledger.calls == [(RequestCategory.DATA, 408)]


async def test_vehicle_data_without_response_object(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(VEHICLE_DATA_URL, json={"response": "nope"})
    with pytest.raises(MalformedResponseError):
        await client.vehicle_data(VIN, ["location_data"])


async def test_vehicle_data_without_endpoints_sends_no_query(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(VEHICLE_DATA_URL, json=load_json_fixture("vehicle_data.json"))
    await client.vehicle_data(VIN, [])
    (call,) = mock_api.sent_to("GET", f"{BASE}/api/1/vehicles/{VIN}/vehicle_data")
    assert call.kwargs["params"] is None


async def test_wake_up_never_goes_through_the_proxy(
    proxy_client: TeslaFleetClient, mock_api: FleetMock, ledger: Ledger
) -> None:
    mock_api.post(
        f"{BASE}/api/1/vehicles/{VIN}/wake_up",
        json=load_json_fixture("vehicle.json"),
    )
    vehicle = await proxy_client.wake_up(VIN)
    assert vehicle.vin == VIN
    assert ledger.calls == [(RequestCategory.WAKE, 200)]
    assert not [r for r in mock_api.sent if str(r.url).startswith(PROXY)]


async def test_commands_go_to_the_proxy_with_its_tls_setting(
    proxy_client: TeslaFleetClient, mock_api: FleetMock, ledger: Ledger
) -> None:
    url = f"{PROXY}/api/1/vehicles/{VIN}/command/set_charge_limit"
    mock_api.post(url, json={"response": {"result": True, "reason": ""}})

    result = await proxy_client.set_charge_limit(VIN, 80)

    assert result.result is True
    (call,) = mock_api.sent_to("POST", url)
    assert call.kwargs["json"] == {"percent": 80}
    assert call.kwargs["ssl"] is False
    assert ledger.calls == [(RequestCategory.COMMAND, 200)]


async def test_commands_without_proxy_go_to_the_api_and_verify_tls(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    url = f"{BASE}/api/1/vehicles/{VIN}/command/charge_start"
    mock_api.post(url, json={"response": {"result": True, "reason": ""}})
    await client.charge_start(VIN)
    (call,) = mock_api.sent_to("POST", url)
    assert call.kwargs["ssl"] is True
    assert call.kwargs["json"] == {}


@pytest.mark.parametrize(
    ("method", "args", "name", "body"),
    [
        ("charge_stop", {}, "charge_stop", {}),
        ("set_charging_amps", {"amps": 16}, "set_charging_amps", {"charging_amps": 16}),
        (
            "set_scheduled_charging",
            {"enable": True, "minutes_after_midnight": 1320},
            "set_scheduled_charging",
            {"enable": True, "time": 1320},
        ),
        (
            "remove_charge_schedule",
            {"schedule_id": 7},
            "remove_charge_schedule",
            {"id": 7},
        ),
        (
            "add_charge_schedule",
            {
                "days_of_week": "All",
                "start_time": 1320,
                "end_time": 360,
                "latitude": 52.0,
                "longitude": 21.0,
                "schedule_id": 42,
            },
            "add_charge_schedule",
            {
                "days_of_week": "All",
                "enabled": True,
                "start_enabled": True,
                "end_enabled": True,
                "start_time": 1320,
                "end_time": 360,
                "lat": 52.0,
                "lon": 21.0,
                "one_time": False,
                "id": 42,
            },
        ),
        (
            "add_charge_schedule",
            {
                "days_of_week": "Weekdays",
                "start_time": 60,
                "end_time": None,
                "latitude": 52.0,
                "longitude": 21.0,
                "one_time": True,
            },
            "add_charge_schedule",
            {
                "days_of_week": "Weekdays",
                "enabled": True,
                "start_enabled": True,
                "end_enabled": False,
                "start_time": 60,
                "lat": 52.0,
                "lon": 21.0,
                "one_time": True,
            },
        ),
    ],
    ids=["stop", "amps", "scheduled", "remove", "add-with-id", "add-start-only"],
)
async def test_command_bodies(
    client: TeslaFleetClient,
    mock_api: FleetMock,
    method: str,
    args: dict[str, Any],
    name: str,
    body: dict[str, Any],
) -> None:
    url = f"{BASE}/api/1/vehicles/{VIN}/command/{name}"
    mock_api.post(url, json={"response": {"result": True, "reason": ""}})
    await getattr(client, method)(VIN, **args)
    (call,) = mock_api.sent_to("POST", url)
    assert call.kwargs["json"] == body


@pytest.mark.parametrize(
    "reason", ["already_set", "not_charging", "is_charging", "complete", "requested"]
)
async def test_command_refusals_that_mean_success(
    client: TeslaFleetClient, mock_api: FleetMock, reason: str
) -> None:
    mock_api.post(
        f"{BASE}/api/1/vehicles/{VIN}/command/charge_stop",
        json={"response": {"result": False, "reason": reason}},
    )
    result = await client.charge_stop(VIN)
    assert result.result is False
    assert result.reason == reason


async def test_command_refused_raises_with_reason(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.post(
        f"{BASE}/api/1/vehicles/{VIN}/command/charge_start",
        json={"response": {"result": False, "reason": "disconnected"}},
    )
    with pytest.raises(CommandFailedError) as err:
        await client.charge_start(VIN)
    assert err.value.reason == "disconnected"
    assert err.value.command == "charge_start"


@pytest.mark.parametrize(
    "payload",
    [
        {"response": None},
        {"response": {"reason": "x"}},
        {"response": {"result": "yes"}},
    ],
)
async def test_command_answer_without_result_is_malformed(
    client: TeslaFleetClient, mock_api: FleetMock, payload: dict[str, Any]
) -> None:
    mock_api.post(f"{BASE}/api/1/vehicles/{VIN}/command/charge_start", json=payload)
    with pytest.raises(MalformedResponseError):
        await client.charge_start(VIN)


async def test_fleet_status(
    client: TeslaFleetClient, mock_api: FleetMock, ledger: Ledger
) -> None:
    url = f"{BASE}/api/1/vehicles/fleet_status"
    mock_api.post(url, json=load_json_fixture("fleet_status.json"))

    status = await client.fleet_status([VIN, "5YJ3E1EA1NF000002"])

    (call,) = mock_api.sent_to("POST", url)
    assert call.kwargs["json"] == {"vins": [VIN, "5YJ3E1EA1NF000002"]}
    assert status.key_paired_vins == {VIN}
    assert status.unpaired_vins == {"5YJ3E1EA1NF000002"}
    assert status.protocol_required == {VIN: True, "5YJ3E1EA1NF000002": False}
    assert ledger.calls == [(RequestCategory.DATA, 200)]


async def test_fleet_status_without_response(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.post(f"{BASE}/api/1/vehicles/fleet_status", json={"response": []})
    with pytest.raises(MalformedResponseError):
        await client.fleet_status([VIN])


async def test_expired_token_is_refreshed_once_and_the_request_retried(
    client: TeslaFleetClient, mock_api: FleetMock, tokens: FakeTokens, ledger: Ledger
) -> None:
    url = f"{BASE}/api/1/vehicles/{VIN}"
    mock_api.get(url, status=401, text="")
    mock_api.get(url, json=load_json_fixture("vehicle.json"))

    vehicle = await client.vehicle(VIN)

    assert vehicle.vin == VIN
    assert tokens.forced == 1
    calls = mock_api.sent_to("GET", url)
    assert [c.kwargs["headers"]["Authorization"] for c in calls] == [
        "Bearer access-1",
        "Bearer access-2",
    ]
    assert ledger.calls == [(RequestCategory.STATE, 401), (RequestCategory.STATE, 200)]


async def test_second_401_is_raised(
    client: TeslaFleetClient, mock_api: FleetMock, tokens: FakeTokens
) -> None:
    url = f"{BASE}/api/1/vehicles/{VIN}"
    mock_api.get(url, status=401, text="")
    mock_api.get(url, status=401, json={"error": "token expired (401)"})
    with pytest.raises(TokenExpiredError):
        await client.vehicle(VIN)
    assert tokens.forced == 1


async def test_a_401_no_fresh_token_answered_is_transient(
    session: aiohttp.ClientSession, mock_api: FleetMock
) -> None:
    """The refresh was refused (rate limit): the same token is not sent again."""

    async def same_token(*, force_refresh: bool = False) -> str:
        return "access-1"

    client = TeslaFleetClient(
        session=session, token_provider=same_token, api_base_url=BASE
    )
    mock_api.get(f"{BASE}/api/1/vehicles/{VIN}", status=401, text="")
    with pytest.raises(TokenNotRefreshedError) as err:
        await client.vehicle(VIN)
    assert not isinstance(err.value, TeslaAuthenticationError)
    assert len(mock_api.sent_to("GET", f"{BASE}/api/1/vehicles/{VIN}")) == 1


async def test_login_required_from_the_api_is_not_retried(
    client: TeslaFleetClient, mock_api: FleetMock, tokens: FakeTokens
) -> None:
    mock_api.get(
        f"{BASE}/api/1/vehicles",
        status=401,
        json={"error": "login_required", "error_description": "Login required"},
    )
    with pytest.raises(LoginRequiredError):
        await client.vehicles()
    assert tokens.forced == 0


@pytest.mark.parametrize(
    ("status", "payload", "headers", "error_type"),
    [
        (403, {"error": "Unauthorized missing scopes"}, None, MissingScopeError),
        (
            403,
            {
                "error": "Tesla Vehicle Command Protocol required, please refer to "
                "the documentation"
            },
            None,
            CommandProtocolRequiredError,
        ),
        (403, {"error": "forbidden"}, None, InvalidRequestError),
        (404, {"error": "not_found"}, None, InvalidRequestError),
        (412, {"error": "not registered in region"}, None, NotRegisteredError),
        (500, {"error": "internal error"}, None, ServerError),
        (503, None, None, ServerError),
        (
            500,
            {"error": "vehicle unavailable: vehicle is offline or asleep"},
            None,
            VehicleUnavailableError,
        ),
        (429, {"error": "rate limited"}, {"Retry-After": "42"}, RateLimitedError),
    ],
    ids=[
        "missing-scope",
        "protocol-required",
        "forbidden",
        "not-found",
        "not-registered",
        "server-error",
        "unavailable-503",
        "proxy-asleep-500",
        "rate-limited",
    ],
)
async def test_error_statuses_map_to_typed_errors(
    client: TeslaFleetClient,
    mock_api: FleetMock,
    ledger: Ledger,
    status: int,
    payload: dict[str, Any] | None,
    headers: dict[str, str] | None,
    error_type: type[Exception],
) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles", status=status, json=payload, headers=headers)
    with pytest.raises(error_type):
        await client.vehicles()
    assert ledger.calls == [(RequestCategory.STATE, status)]


async def test_rate_limited_carries_retry_after(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles", status=429, headers={"Retry-After": "42"})
    with pytest.raises(RateLimitedError) as err:
        await client.vehicles()
    assert err.value.retry_after == 42.0


async def test_rate_limited_without_retry_after(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles", status=429, text="Too Many Requests")
    with pytest.raises(RateLimitedError) as err:
        await client.vehicles()
    assert err.value.retry_after is None
    assert "Too Many Requests" in str(err.value)


async def test_wrong_region_carries_the_suggested_url(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(
        f"{BASE}/api/1/vehicles",
        status=421,
        json={
            "error": "user out of region, use base URL: https://fleet-api.prd.na.vn.cloud.tesla.com"
        },
    )
    with pytest.raises(WrongRegionError) as err:
        await client.vehicles()
    assert err.value.suggested_url == "https://fleet-api.prd.na.vn.cloud.tesla.com"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com",
        "https://fleet-api.prd.eu.vn.cloud.tesla.com.evil.example",
        "http://fleet-api.prd.na.vn.cloud.tesla.com",
    ],
)
async def test_wrong_region_believes_only_teslas_hosts(
    client: TeslaFleetClient, mock_api: FleetMock, url: str
) -> None:
    """Following any URL from the error text would send the token there."""
    mock_api.get(
        f"{BASE}/api/1/vehicles",
        status=421,
        json={"error": f"user out of region, use base URL: {url}"},
    )
    with pytest.raises(WrongRegionError) as err:
        await client.vehicles()
    assert err.value.suggested_url is None


async def test_wrong_region_without_url(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles", status=421, text="")
    with pytest.raises(WrongRegionError) as err:
        await client.vehicles()
    assert err.value.suggested_url is None


@pytest.mark.parametrize(
    "body",
    ["", "<html><body>Bad gateway</body></html>", "[1, 2]", "not json"],
    ids=["empty", "html", "json-list", "text"],
)
async def test_odd_success_bodies_are_malformed(
    client: TeslaFleetClient, mock_api: FleetMock, body: str
) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles", status=200, text=body)
    with pytest.raises(MalformedResponseError):
        await client.vehicles()


async def test_html_error_page_gives_a_short_message(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    page = (
        "<html>\n<head><title>502 Bad Gateway</title></head>\n" + "x" * 500 + "</html>"
    )
    mock_api.get(f"{BASE}/api/1/vehicles", status=502, text=page)
    with pytest.raises(ServerError) as err:
        await client.vehicles()
    assert err.value.status == 502
    assert "\n" not in str(err.value)
    assert len(str(err.value)) <= 120


async def test_connection_error_is_not_billed(
    client: TeslaFleetClient, mock_api: FleetMock, ledger: Ledger
) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles", exc=aiohttp.ClientConnectionError())
    with pytest.raises(TeslaConnectionError):
        await client.vehicles()
    assert ledger.calls == [(RequestCategory.STATE, None)]


async def test_timeout_becomes_connection_error(
    session: aiohttp.ClientSession, tokens: FakeTokens, mock_api: FleetMock
) -> None:
    async def slow(method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        await asyncio.sleep(1)
        return answer(json={"response": []})

    quick = TeslaFleetClient(
        session=session, token_provider=tokens, api_base_url=BASE, request_timeout=0.01
    )
    mock_api.get(f"{BASE}/api/1/vehicles", side_effect=slow)
    with pytest.raises(TeslaConnectionError, match="timeout"):
        await quick.vehicles()


async def test_no_listener_is_fine(
    session: aiohttp.ClientSession, tokens: FakeTokens, mock_api: FleetMock
) -> None:
    quiet = TeslaFleetClient(
        session=session, token_provider=tokens, api_base_url=BASE + "/"
    )
    mock_api.get(f"{BASE}/api/1/vehicles", json=load_json_fixture("vehicles.json"))
    assert len(await quiet.vehicles()) == 2
