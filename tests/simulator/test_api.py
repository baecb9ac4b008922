"""The Fleet API endpoints: shapes, sleep, scopes, regions, limits."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import (
    DEFAULT_VIN,
    FleetSimulator,
    ManualClock,
    RateLimits,
    SimVehicle,
)

from .conftest import VIN, Client, bearer, serve

RECORD_KEYS = {
    "id",
    "user_id",
    "vehicle_id",
    "vin",
    "color",
    "access_type",
    "display_name",
    "option_codes",
    "granular_access",
    "tokens",
    "state",
    "in_service",
    "id_s",
    "calendar_enabled",
    "api_version",
    "backseat_token",
    "backseat_token_updated_at",
    "ble_autopair_enrolled",
    "command_signing",
    "mobile_access_disabled",
}
POSITION_KEYS = {
    "latitude",
    "longitude",
    "heading",
    "speed",
    "native_latitude",
    "native_longitude",
    "native_location_supported",
    "native_type",
    "gps_as_of",
}
ASLEEP = {
    "response": None,
    "error": "vehicle unavailable: vehicle is offline or asleep",
    "error_description": "",
}


async def _data(
    client: Client, auth: dict[str, str], query: str = "", vin: str = VIN
) -> tuple[int, Any]:
    response = await client.get(
        f"/api/1/vehicles/{vin}/vehicle_data{query}", headers=auth
    )
    return response.status, await response.json()


async def _state(client: Client, auth: dict[str, str], vin: str = VIN) -> str:
    response = await client.get(f"/api/1/vehicles/{vin}", headers=auth)
    assert response.status == 200
    state: str = (await response.json())["response"]["state"]
    return state


# --- vehicle list and record ----------------------------------------------


async def test_vehicle_list_shape(client: Client, auth: dict[str, str]) -> None:
    response = await client.get("/api/1/vehicles", headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body["count"] == 1
    assert body["pagination"] == {
        "previous": None,
        "next": None,
        "current": 1,
        "per_page": 100,
        "count": 1,
        "pages": 1,
    }
    (record,) = body["response"]
    assert set(record) == RECORD_KEYS
    assert record["vin"] == DEFAULT_VIN
    assert record["display_name"] == "Sim Model 3"
    assert record["state"] == "online"
    assert record["command_signing"] == "required"
    assert record["id_s"] == str(record["id"])
    assert record["access_type"] == "OWNER"


async def test_vehicle_list_pagination(
    sim: FleetSimulator, auth: dict[str, str], socket_enabled: None
) -> None:
    for number in range(2, 6):
        sim.add_vehicle(SimVehicle(vin=f"5YJ3E1EA1NF00000{number}"), asleep=True)
    async with serve(sim) as client:
        response = await client.get("/api/1/vehicles?page=2&per_page=2", headers=auth)
        body = await response.json()
        assert [v["vin"] for v in body["response"]] == [
            "5YJ3E1EA1NF000003",
            "5YJ3E1EA1NF000004",
        ]
        assert {v["state"] for v in body["response"]} == {"asleep"}
        assert body["pagination"] == {
            "previous": 1,
            "next": 3,
            "current": 2,
            "per_page": 2,
            "count": 5,
            "pages": 3,
        }
        for query in ("?page=0", "?per_page=x"):
            response = await client.get(f"/api/1/vehicles{query}", headers=auth)
            assert response.status == 400


async def test_vehicle_record_by_vin_or_id(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    by_vin = await (await client.get(f"/api/1/vehicles/{VIN}", headers=auth)).json()
    vehicle_id = by_vin["response"]["id"]
    by_id = await (
        await client.get(f"/api/1/vehicles/{vehicle_id}", headers=auth)
    ).json()
    assert by_id == by_vin
    assert set(by_vin["response"]) == RECORD_KEYS
    missing = await client.get("/api/1/vehicles/NOPE", headers=auth)
    assert missing.status == 404
    assert (await missing.json())["error"] == "not_found"
    assert sim.stats.billable_state_checks == 3


# --- sleep model --------------------------------------------------------------


async def test_state_checks_do_not_keep_the_car_awake(
    client: Client, clock: ManualClock, auth: dict[str, str]
) -> None:
    for _ in range(3):
        assert await _state(client, auth) == "online"
        assert (await client.get("/api/1/vehicles", headers=auth)).status == 200
        clock.advance(299)
    clock.advance(3)  # 900 s after the last live request
    assert await _state(client, auth) == "asleep"


async def test_vehicle_data_keeps_the_car_awake(
    client: Client, sim: FleetSimulator, clock: ManualClock, auth: dict[str, str]
) -> None:
    for _ in range(4):
        clock.advance(600)
        assert (await _data(client, auth))[0] == 200
    clock.advance(899)
    assert await _state(client, auth) == "online"
    clock.advance(1)
    assert await _state(client, auth) == "asleep"
    assert sim.awake_seconds(VIN) == pytest.approx(4 * 600 + 900)


async def test_sleeping_car_answers_408_and_stays_asleep(
    client: Client, sim: FleetSimulator, clock: ManualClock, auth: dict[str, str]
) -> None:
    clock.advance(900)
    status, body = await _data(client, auth)
    assert (status, body) == (408, ASLEEP)
    clock.advance(60)
    assert await _state(client, auth) == "asleep"
    response = await client.post(
        f"/api/1/vehicles/{VIN}/command/charge_start", headers=auth
    )
    # The default car needs signed commands: that is checked before sleep.
    assert response.status == 403
    sim.vehicles[VIN].command_signing = "allowed"
    response = await client.post(
        f"/api/1/vehicles/{VIN}/command/charge_start", headers=auth
    )
    assert (response.status, await response.json()) == (408, ASLEEP)
    assert await _state(client, auth) == "asleep"
    assert sim.stats.vehicle_data[VIN] == 1
    assert sim.stats.by_status[408] == 2


async def test_wake_up_returns_at_once_and_car_comes_online_later(
    client: Client, sim: FleetSimulator, clock: ManualClock, auth: dict[str, str]
) -> None:
    sim.put_to_sleep(VIN)
    response = await client.post(f"/api/1/vehicles/{VIN}/wake_up", headers=auth)
    assert response.status == 200
    record = (await response.json())["response"]
    assert set(record) == RECORD_KEYS
    assert record["state"] == "asleep"
    clock.advance(19)
    assert await _state(client, auth) == "asleep"
    assert (await _data(client, auth))[0] == 408
    # A second wake while waking does not restart the delay.
    await client.post(f"/api/1/vehicles/{VIN}/wake_up", headers=auth)
    clock.advance(1)
    assert await _state(client, auth) == "online"
    assert (await _data(client, auth))[0] == 200
    # Waking an online car answers online.
    response = await client.post(f"/api/1/vehicles/{VIN}/wake_up", headers=auth)
    assert (await response.json())["response"]["state"] == "online"
    assert sim.stats.wakes[VIN] == 3
    assert sim.stats.billable["wake"] == 3
    assert sim.stats.proxy_wakes == 0


async def test_offline_car_does_not_wake(
    client: Client, sim: FleetSimulator, clock: ManualClock, auth: dict[str, str]
) -> None:
    sim.vehicles[VIN].forced_state = "offline"
    response = await client.post(f"/api/1/vehicles/{VIN}/wake_up", headers=auth)
    assert (await response.json())["response"]["state"] == "offline"
    clock.advance(60)
    assert await _state(client, auth) == "offline"
    assert await _data(client, auth) == (408, ASLEEP)


# --- vehicle_data sections -----------------------------------------------------


async def test_vehicle_data_default_sections(
    client: Client, clock: ManualClock, auth: dict[str, str]
) -> None:
    status, body = await _data(client, auth)
    assert status == 200
    data = body["response"]
    assert set(data) >= RECORD_KEYS
    sections = set(data) - RECORD_KEYS
    assert sections == {
        "charge_state",
        "climate_state",
        "drive_state",
        "gui_settings",
        "vehicle_config",
        "vehicle_state",
    }
    assert not POSITION_KEYS & set(data["drive_state"])
    assert data["drive_state"]["shift_state"] is None
    ms = int(clock() * 1000)
    for section in sections:
        assert data[section]["timestamp"] == ms
    charge = data["charge_state"]
    assert charge["battery_level"] == 62
    assert charge["charging_state"] == "Stopped"
    assert charge["charge_limit_soc"] == 80
    assert charge["charge_port_latch"] == "Engaged"
    assert charge["charger_phases"] is None
    assert data["vehicle_state"]["car_version"].startswith("2024.44.25.3 ")
    assert data["vehicle_config"]["utc_offset"] == 7200
    assert data["vehicle_config"]["car_type"] == "model3"


@pytest.mark.parametrize(
    "query",
    [
        "?endpoints=charge_state;location_data",
        "?endpoints=charge_state%3Blocation_data",
        "?endpoints=charge_state,location_data",
        "?endpoints=charge_state%3B%3Blocation_data",
    ],
)
async def test_vehicle_data_separators(
    client: Client, auth: dict[str, str], query: str
) -> None:
    status, body = await _data(client, auth, query)
    assert status == 200
    assert set(body["response"]) - RECORD_KEYS == {"charge_state", "drive_state"}
    assert set(body["response"]["drive_state"]) >= POSITION_KEYS


async def test_location_data_alone_gives_position(
    client: Client, clock: ManualClock, auth: dict[str, str]
) -> None:
    status, body = await _data(client, auth, "?endpoints=location_data")
    assert status == 200
    drive = body["response"]["drive_state"]
    assert set(body["response"]) - RECORD_KEYS == {"drive_state"}
    assert (drive["latitude"], drive["longitude"]) == (52.2297, 21.0122)
    assert drive["gps_as_of"] == int(clock())
    assert drive["speed"] is None
    assert drive["shift_state"] is None
    assert drive["native_type"] == "wgs"


async def test_other_sections(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    query = (
        "?endpoints=closures_state;charge_schedule_data;"
        "preconditioning_schedule_data;unknown_thing"
    )
    status, body = await _data(client, auth, query)
    assert status == 200
    data = body["response"]
    assert set(data) - RECORD_KEYS == {
        "closures_state",
        "charge_schedule_data",
        "preconditioning_schedule_data",
    }
    # A parked car, locked, as in the capture the template comes from.
    assert data["closures_state"]["locked"] is True
    assert data["charge_schedule_data"]["charge_schedules"] == []
    assert data["charge_schedule_data"]["max_num_charge_schedules"] == 10
    assert data["preconditioning_schedule_data"]["precondition_schedules"] == []
    # An empty endpoints value means the default sections.
    status, body = await _data(client, auth, "?endpoints=")
    assert "charge_state" in body["response"]


async def test_missing_scopes(client: Client, sim: FleetSimulator) -> None:
    no_location = bearer(sim.issue_tokens(scopes=["openid", "vehicle_device_data"]))
    status, body = await _data(client, no_location, "?endpoints=location_data")
    assert (status, body["error"]) == (
        403,
        "Unauthorized missing scopes vehicle_location for vehicle data access",
    )
    assert (await _data(client, no_location, "?endpoints=charge_state"))[0] == 200
    no_data = bearer(sim.issue_tokens(scopes=["openid"]))
    assert (await _data(client, no_data))[0] == 403
    response = await client.post(
        f"/proxy/api/1/vehicles/{VIN}/command/charge_start", headers=no_data
    )
    assert response.status == 403
    response = await client.get("/api/1/users/region", headers=no_data)
    assert response.status == 403


async def test_wrong_region_is_421(client: Client, sim: FleetSimulator) -> None:
    na = bearer(sim.issue_tokens(region="NA"))
    response = await client.get("/api/1/vehicles", headers=na)
    assert response.status == 421
    assert (await response.json())["error"] == (
        "user out of region, use base URL: https://fleet-api.prd.na.vn.cloud.tesla.com"
    )
    # /users/region answers in any region and tells where to go.
    response = await client.get("/api/1/users/region", headers=na)
    assert (await response.json())["response"] == {
        "region": "na",
        "fleet_api_base_url": "https://fleet-api.prd.na.vn.cloud.tesla.com",
    }


async def test_nonexistent_api_path(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    response = await client.get("/api/1/nothing", headers=auth)
    assert response.status == 404
    assert sim.requests[-1].kind == "other"
    response = await client.get("/not-tesla")
    assert response.status == 404
    assert len(sim.requests) == 1


# --- fleet_status ------------------------------------------------------------------


async def test_fleet_status(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    sim.add_vehicle(
        SimVehicle(
            vin="5YJ3E1EA1NF000002",
            command_signing="allowed",
            key_paired=False,
            firmware_version="2024.26.7.1",
        )
    )
    response = await client.post(
        "/api/1/vehicles/fleet_status",
        headers=auth,
        json={"vins": [VIN, "5YJ3E1EA1NF000002", "UNKNOWN"]},
    )
    assert response.status == 200
    body = (await response.json())["response"]
    assert body["key_paired_vins"] == [VIN]
    assert body["unpaired_vins"] == ["5YJ3E1EA1NF000002", "UNKNOWN"]
    assert set(body["vehicle_info"]) == {VIN, "5YJ3E1EA1NF000002"}
    assert body["vehicle_info"][VIN]["vehicle_command_protocol_required"] is True
    assert body["vehicle_info"][VIN]["firmware_version"] == "2024.44.25"
    second = body["vehicle_info"]["5YJ3E1EA1NF000002"]
    assert second["vehicle_command_protocol_required"] is False
    assert sim.stats.billable["data"] == 1
    for bad in ({"vins": "x"}, {}):
        response = await client.post(
            "/api/1/vehicles/fleet_status", headers=auth, json=bad
        )
        assert response.status == 400
    response = await client.post(
        "/api/1/vehicles/fleet_status", headers=auth, data=b"{not json"
    )
    assert response.status == 400
    response = await client.post(
        "/api/1/vehicles/fleet_status", headers=auth, json=[VIN]
    )
    assert response.status == 400


# --- rate limits -----------------------------------------------------------------


async def test_vehicle_data_rate_limit(
    client: Client, sim: FleetSimulator, clock: ManualClock, auth: dict[str, str]
) -> None:
    for _ in range(60):
        assert (await _data(client, auth, "?endpoints=charge_state"))[0] == 200
        clock.advance(0.5)
    response = await client.get(f"/api/1/vehicles/{VIN}/vehicle_data", headers=auth)
    assert response.status == 429
    assert response.headers["Retry-After"] == "30"
    assert response.headers["RateLimit-Limit"] == "60"
    assert (await response.json())["error"] == "rate limit exceeded"
    clock.advance(30)
    assert (await _data(client, auth))[0] == 200
    # The 429 is billed too.
    assert sim.stats.billable["data"] == 62


async def test_wake_and_command_rate_limits(
    sim: FleetSimulator, auth: dict[str, str], socket_enabled: None
) -> None:
    sim.rate_limits = RateLimits(data=60, wake=3, command=2)
    async with serve(sim) as client:
        wake = f"/api/1/vehicles/{VIN}/wake_up"
        statuses = [(await client.post(wake, headers=auth)).status for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        command = f"/proxy/api/1/vehicles/{VIN}/command/charge_stop"
        statuses = [(await client.post(command, headers=auth)).status for _ in range(3)]
        assert statuses == [200, 200, 429]
    assert sim.stats.proxy_wakes == 0


# --- commands and the proxy ---------------------------------------------------------


async def _command(
    client: Client,
    auth: dict[str, str],
    name: str,
    body: dict[str, Any] | None = None,
    *,
    proxy: bool = True,
) -> tuple[int, Any]:
    prefix = "/proxy" if proxy else ""
    response = await client.post(
        f"{prefix}/api/1/vehicles/{VIN}/command/{name}", headers=auth, json=body
    )
    return response.status, await response.json()


async def test_signed_commands_need_the_proxy(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    status, body = await _command(client, auth, "charge_start", proxy=False)
    assert status == 403
    assert body["error"].startswith("Tesla Vehicle Command Protocol required")
    assert "2023-10-09-rest-api-vehicle-commands" in body["error"]
    assert await _command(client, auth, "charge_start") == (
        200,
        {"response": {"result": True, "reason": ""}},
    )
    sim.vehicles[VIN].command_signing = "allowed"
    assert await _command(client, auth, "charge_stop", proxy=False) == (
        200,
        {"response": {"result": True, "reason": ""}},
    )
    assert sim.stats.commands == {"charge_start": 2, "charge_stop": 1}
    assert sim.stats.billable["command"] == 3


async def test_proxy_without_paired_key(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    sim.vehicles[VIN].key_paired = False
    status, body = await _command(client, auth, "charge_start")
    assert status == 403
    assert "not been paired" in body["error"]


async def test_proxy_asleep_is_500_and_wake_is_recorded(
    client: Client, sim: FleetSimulator, clock: ManualClock, auth: dict[str, str]
) -> None:
    clock.advance(900)
    assert await _command(client, auth, "charge_start") == (500, ASLEEP)
    # Data requests are forwarded unchanged by the proxy: 408 like Tesla.
    response = await client.get(
        f"/proxy/api/1/vehicles/{VIN}/vehicle_data", headers=auth
    )
    assert response.status == 408
    response = await client.post(f"/proxy/api/1/vehicles/{VIN}/wake_up", headers=auth)
    assert response.status == 200
    assert sim.stats.proxy_wakes == 1
    assert sim.stats.wakes[VIN] == 1
    health = await client.get("/proxy/health")
    assert (health.status, await health.json()) == (200, {"status": "ok"})
    # 500 is not billed; the proxy's 408 is.
    assert sim.stats.by_status[500] == 1
    assert sim.stats.billable["command"] == 0
    assert sim.stats.billable["data"] == 1


async def test_charging_commands(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    results = [
        await _command(client, auth, "charge_stop"),
        await _command(client, auth, "charge_start"),
        await _command(client, auth, "charge_start"),
        await _command(client, auth, "set_charge_limit", {"percent": 49}),
        await _command(client, auth, "set_charge_limit", {"percent": 101}),
        await _command(client, auth, "set_charge_limit", {"percent": 90}),
        await _command(client, auth, "set_charge_limit", {"percent": 90}),
        await _command(client, auth, "set_charging_amps", {"charging_amps": 8}),
        await _command(client, auth, "set_charging_amps", {"charging_amps": 99}),
    ]
    assert [
        (s, b["response"]["result"], b["response"]["reason"]) for s, b in results
    ] == [
        (200, False, "not_charging"),
        (200, True, ""),
        (200, False, "is_charging"),
        (200, False, "invalid_percent"),
        (200, False, "invalid_percent"),
        (200, True, ""),
        (200, False, "already_set"),
        (200, True, ""),
        (200, False, "invalid_charging_amps"),
    ]
    status, body = await _data(client, auth, "?endpoints=charge_state")
    charge = body["response"]["charge_state"]
    assert charge["charge_limit_soc"] == 90
    assert charge["charging_state"] == "Charging"
    assert charge["charge_current_request"] == 8
    assert charge["charger_actual_current"] == 8
    assert charge["charger_power"] == 6  # 8 A x 230 V x 3 phases
    assert charge["charger_phases"] == 3
    sim.unplug(VIN)
    assert (await _command(client, auth, "charge_start"))[1]["response"] == {
        "result": False,
        "reason": "disconnected",
    }


async def test_schedule_commands_round_trip(
    client: Client, auth: dict[str, str]
) -> None:
    body = {
        "days_of_week": "Weekdays",
        "enabled": True,
        "start_enabled": True,
        "end_enabled": True,
        "start_time": 1320,
        "end_time": 360,
        "lat": 52.2297,
        "lon": 21.0122,
        "one_time": False,
    }
    assert (await _command(client, auth, "add_charge_schedule", body))[0] == 200
    status, data = await _data(client, auth, "?endpoints=charge_schedule_data")
    (schedule,) = data["response"]["charge_schedule_data"]["charge_schedules"]
    assert schedule == {
        "id": schedule["id"],
        "name": "",
        "days_of_week": 62,
        "enabled": True,
        "start_enabled": True,
        "start_time": 1320,
        "end_enabled": True,
        "end_time": 360,
        "one_time": False,
        "latitude": 52.2297,
        "longitude": 21.0122,
    }
    changed = {**body, "id": schedule["id"], "start_time": 1380}
    assert (await _command(client, auth, "add_charge_schedule", changed))[0] == 200
    status, data = await _data(client, auth, "?endpoints=charge_schedule_data")
    schedules = data["response"]["charge_schedule_data"]["charge_schedules"]
    assert [(s["id"], s["start_time"]) for s in schedules] == [(schedule["id"], 1380)]
    removed = await _command(
        client, auth, "remove_charge_schedule", {"id": schedule["id"]}
    )
    assert removed[1]["response"]["result"] is True
    again = await _command(client, auth, "remove_charge_schedule", {"id": 1})
    assert again[1]["response"] == {"result": False, "reason": "not_found"}
    scheduled = await _command(
        client, auth, "set_scheduled_charging", {"enable": True, "time": 1380}
    )
    assert scheduled[1]["response"]["result"] is True
    status, data = await _data(client, auth, "?endpoints=charge_state")
    charge = data["response"]["charge_state"]
    assert charge["scheduled_charging_mode"] == "StartAt"
    assert charge["scheduled_charging_start_time_app"] == 1380
    assert charge["scheduled_charging_pending"] is True


async def test_bad_commands(client: Client, auth: dict[str, str]) -> None:
    status, body = await _command(client, auth, "self_destruct")
    assert status == 404
    assert "unknown command" in body["error"]
    status, body = await _command(client, auth, "set_charge_limit", {"percent": "x"})
    assert (status, body["error"]) == (400, "invalid_field")
    status, body = await _command(client, auth, "add_charge_schedule", {"lat": 1})
    assert status == 400
    response = await client.post(
        f"/proxy/api/1/vehicles/{VIN}/command/charge_start",
        headers=auth,
        data=b"not json",
    )
    assert response.status == 400


async def test_commands_do_not_wake_but_keep_awake(
    client: Client, sim: FleetSimulator, clock: ManualClock, auth: dict[str, str]
) -> None:
    clock.advance(800)
    assert (await _command(client, auth, "charge_stop"))[0] == 200
    clock.advance(800)
    assert await _state(client, auth) == "online"
    clock.advance(100)
    assert await _state(client, auth) == "asleep"
    assert (await _command(client, auth, "charge_stop"))[0] == 500
    assert sim.state(VIN) == "asleep"
