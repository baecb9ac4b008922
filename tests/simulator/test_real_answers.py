"""Real Tesla answers the simulator gives when told to (issue 19).

Each shape is switched on through the control API (``POST /sim/vehicles/{vin}``
or ``POST /sim/account``) or a fault mix, and each test asserts the status,
body and headers a client then gets. Sources: ``simulator/data/SOURCES.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from simulator import (
    FAULT_KINDS,
    FaultMix,
    FleetSimulator,
    ManualClock,
    RateLimits,
    SimVehicle,
)
from simulator.commands import float32

from .conftest import VIN, Client, bearer, serve

pytestmark = pytest.mark.usefixtures("socket_enabled")

SECOND_VIN = "5YJ3E1EA1NF000002"
LOCATION_SCOPE_ERROR = (
    "Unauthorized missing scopes vehicle_location for vehicle data access"
)
ALL_SECTIONS = (
    "?endpoints=charge_state;climate_state;drive_state;location_data;"
    "gui_settings;vehicle_config;vehicle_state"
)


async def _control(client: Client, vin: str, body: dict[str, Any]) -> Any:
    response = await client.post(f"/sim/vehicles/{vin}", json=body)
    assert response.status == 200, await response.text()
    return await response.json()


async def _get(client: Client, auth: dict[str, str], path: str) -> tuple[int, Any]:
    response = await client.get(path, headers=auth)
    return response.status, await response.json()


async def _post(
    client: Client, auth: dict[str, str], path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    response = await client.post(path, headers=auth, json=body)
    return response.status, await response.json()


def _two_cars(clock: ManualClock) -> FleetSimulator:
    return FleetSimulator(
        clock,
        vehicles=[
            SimVehicle(VIN, display_name="Sim Model 3"),
            SimVehicle(SECOND_VIN, display_name="Shared Model Y"),
        ],
    )


# --- item 5: a car gone from the account -----------------------------------


async def test_removed_car_leaves_the_list_and_answers_not_found(
    clock: ManualClock,
) -> None:
    sim = _two_cars(clock)
    auth = bearer(sim.issue_tokens())
    async with serve(sim) as client:
        described = await _control(client, SECOND_VIN, {"removed": True})
        assert described["removed"] is True

        status, body = await _get(client, auth, "/api/1/vehicles")
        assert status == 200
        assert [v["vin"] for v in body["response"]] == [VIN]
        assert body["count"] == body["pagination"]["count"] == 1
        gone = {"response": None, "error": "not_found", "error_description": ""}
        for path in ("", "/vehicle_data"):
            assert await _get(client, auth, f"/api/1/vehicles/{SECOND_VIN}{path}") == (
                404,
                gone,
            )
        status, fleet = await _post(
            client, auth, "/api/1/vehicles/fleet_status", {"vins": [VIN, SECOND_VIN]}
        )
        assert fleet["response"]["unpaired_vins"] == [SECOND_VIN]
        assert set(fleet["response"]["vehicle_info"]) == {VIN}

        # Shared again: it is back.
        await _control(client, SECOND_VIN, {"removed": False})
        status, body = await _get(client, auth, "/api/1/vehicles")
        assert [v["vin"] for v in body["response"]] == [VIN, SECOND_VIN]


# --- item 6: odd records and odd values --------------------------------------


async def test_one_odd_record_in_the_vehicle_list(clock: ManualClock) -> None:
    sim = _two_cars(clock)
    auth = bearer(sim.issue_tokens())
    async with serve(sim) as client:
        await _control(
            client,
            SECOND_VIN,
            {"record_overrides": {"display_name": None}, "record_missing": ["state"]},
        )
        status, body = await _get(client, auth, "/api/1/vehicles")
        first, odd = body["response"]

    assert status == 200
    assert first["display_name"] == "Sim Model 3"
    assert first["state"] == "online"
    assert odd["vin"] == SECOND_VIN
    assert odd["display_name"] is None
    assert "state" not in odd


async def test_odd_values_inside_vehicle_data(
    client: Client, auth: dict[str, str]
) -> None:
    await _control(
        client,
        VIN,
        {
            "data_overrides": {
                "charge_state.battery_level": None,
                "charge_state.charge_limit_soc": "<invalid>",
                "drive_state.latitude": None,
            },
            "data_missing": ["charge_state.charging_state", "climate_state"],
        },
    )
    status, body = await _get(
        client, auth, f"/api/1/vehicles/{VIN}/vehicle_data{ALL_SECTIONS}"
    )
    data = body["response"]

    assert status == 200
    assert data["charge_state"]["battery_level"] is None
    assert data["charge_state"]["charge_limit_soc"] == "<invalid>"
    assert "charging_state" not in data["charge_state"]
    assert "climate_state" not in data
    assert data["drive_state"]["latitude"] is None
    assert data["drive_state"]["longitude"] == 21.0122
    # A section that was not asked for is not made up.
    status, body = await _get(
        client, auth, f"/api/1/vehicles/{VIN}/vehicle_data?endpoints=gui_settings"
    )
    assert set(body["response"]) & {"charge_state", "drive_state"} == set()


# --- item 11: mobile access switched off for one car ---------------------------


async def test_mobile_access_disabled_is_one_cars_401(clock: ManualClock) -> None:
    sim = _two_cars(clock)
    sim.vehicle(SECOND_VIN).command_signing = "allowed"
    auth = bearer(sim.issue_tokens())
    async with serve(sim) as client:
        await _control(client, SECOND_VIN, {"mobile_access_disabled": True})
        base = f"/api/1/vehicles/{SECOND_VIN}"
        answers = [
            await _get(client, auth, f"{base}/vehicle_data"),
            await _post(client, auth, f"{base}/wake_up"),
            await _post(client, auth, f"{base}/command/charge_start"),
            await _post(client, auth, f"/proxy{base}/command/charge_start"),
        ]
        # The account and the other car are fine.
        other = await _get(client, auth, f"/api/1/vehicles/{VIN}/vehicle_data")
        listed = await _get(client, auth, "/api/1/vehicles")
        record = await _get(client, auth, base)

    refused = {
        "response": None,
        "error": "mobile_access_disabled",
        "error_description": "",
    }
    assert answers == [(401, refused)] * 4
    assert other[0] == listed[0] == record[0] == 200
    mine, shared = listed[1]["response"]
    assert [mine["vin"], shared["vin"]] == [VIN, SECOND_VIN]
    # The record says so, and has no tokens (a 2024 capture of such a car).
    assert (shared["mobile_access_disabled"], shared["tokens"]) == (True, None)
    assert mine["mobile_access_disabled"] is False
    assert len(mine["tokens"]) == 2
    # Answers below 500 are billed.
    assert sim.stats.billable_total == 7


# --- item 12: a token without the vehicle_location scope ----------------------


async def test_without_the_location_scope(client: Client, sim: FleetSimulator) -> None:
    no_location = bearer(
        sim.issue_tokens(scopes=["openid", "offline_access", "vehicle_device_data"])
    )
    path = f"/api/1/vehicles/{VIN}/vehicle_data"

    status, body = await _get(client, no_location, f"{path}?endpoints=location_data")
    assert (status, body) == (
        403,
        {
            "response": None,
            "error": LOCATION_SCOPE_ERROR,
            "error_description": "",
        },
    )
    # Since 2026 Tesla leaves drive_state out entirely without the scope.
    status, body = await _get(
        client, no_location, f"{path}?endpoints=charge_state;drive_state"
    )
    assert status == 200
    assert "drive_state" not in body["response"]
    assert body["response"]["charge_state"]["battery_level"] == 62

    # Before 2026: drive_state without the position.
    response = await client.post(
        "/sim/account", json={"drive_state_needs_location": False}
    )
    assert (await response.json())["drive_state_needs_location"] is False
    status, body = await _get(client, no_location, f"{path}?endpoints=drive_state")
    assert set(body["response"]["drive_state"]) == {"power", "shift_state", "timestamp"}

    # With the scope nothing changes.
    status, body = await _get(
        client, bearer(sim.issue_tokens()), f"{path}?endpoints=drive_state"
    )
    assert "drive_state" in body["response"]


# --- item 13: line-to-line voltage, wrong phase count ----------------------------


@pytest.mark.parametrize(
    ("report", "voltage", "phases"),
    [
        ({"voltage": 400, "phases": 3}, 400, 3),  # 19.2 kW by the product
        ({"phases": 2}, 230, 2),  # three phases reported as 2 (TeslaPy #77)
        (None, 230, 3),  # switched off again
    ],
)
async def test_charger_reports_a_misleading_voltage_or_phase_count(
    client: Client,
    auth: dict[str, str],
    report: dict[str, int] | None,
    voltage: int,
    phases: int,
) -> None:
    await _control(client, VIN, {"charger_report": {"voltage": 400, "phases": 3}})
    await _control(client, VIN, {"charger_report": report})
    await _control(client, VIN, {"plugged_in": False})
    await _control(client, VIN, {"plugged_in": True})
    status, body = await _get(
        client, auth, f"/api/1/vehicles/{VIN}/vehicle_data?endpoints=charge_state"
    )
    charge = body["response"]["charge_state"]

    assert charge["charging_state"] == "Charging"
    assert charge["charger_actual_current"] == 16
    assert (charge["charger_voltage"], charge["charger_phases"]) == (voltage, phases)
    # What the car really draws: 230 V x 16 A x 3 phases = 11 kW.
    assert charge["charger_power"] == 11


async def test_reported_voltage_only_while_charging(
    client: Client, auth: dict[str, str]
) -> None:
    await _control(client, VIN, {"charger_report": {"voltage": 400, "phases": 3}})
    status, body = await _get(
        client, auth, f"/api/1/vehicles/{VIN}/vehicle_data?endpoints=charge_state"
    )
    charge = body["response"]["charge_state"]
    assert charge["charging_state"] == "Stopped"
    assert (charge["charger_voltage"], charge["charger_phases"]) == (2, None)


# --- item 14: the application past its monthly threshold -------------------------


async def test_exceeded_limit_stops_paid_requests_until_next_month(
    clock: ManualClock,
) -> None:
    sim = FleetSimulator(clock)
    sim.vehicle(VIN).command_signing = "allowed"
    auth = bearer(sim.issue_tokens())
    data = f"/api/1/vehicles/{VIN}/vehicle_data"
    async with serve(sim) as client:
        response = await client.post("/sim/account", json={"monthly_limit_usd": 0.0039})
        assert (await response.json())["disabled_until"] is None
        # The vehicle list and record are state checks: they do not add up.
        for _ in range(3):
            assert (await _get(client, auth, "/api/1/vehicles"))[0] == 200
        assert (await _get(client, auth, data))[0] == 200
        assert (await _get(client, auth, data))[0] == 200  # $0.004: past it

        refused = [
            await client.get(data, headers=auth),
            await client.post(f"/api/1/vehicles/{VIN}/wake_up", headers=auth),
            await client.post(
                f"/api/1/vehicles/{VIN}/command/charge_start", headers=auth
            ),
            await client.post(
                "/api/1/vehicles/fleet_status", headers=auth, json={"vins": [VIN]}
            ),
        ]
        for response in refused:
            assert response.status == 403
            assert await response.json() == {
                "error": "account disabled: EXCEEDED_LIMIT"
            }
            assert "Retry-After" not in response.headers
        # State checks still answer.
        assert (await _get(client, auth, "/api/1/vehicles"))[0] == 200
        assert (await _get(client, auth, f"/api/1/vehicles/{VIN}"))[0] == 200
        account = await (await client.get("/sim/account")).json()
        assert account["disabled_until"] == datetime(2025, 7, 1, tzinfo=UTC).timestamp()

        clock.set(datetime(2025, 7, 1, 0, 0, 1, tzinfo=UTC).timestamp())
        auth = bearer(sim.issue_tokens())
        await _control(client, VIN, {"forced_state": "online"})
        assert (await _get(client, auth, data))[0] == 200
        account = await (await client.get("/sim/account")).json()
        assert account["paid_usd_this_month"] == 0.002

        # Or disabled outright, whatever the bill.
        await client.post(
            "/sim/account", json={"monthly_limit_usd": None, "account_disabled": True}
        )
        assert (await _get(client, auth, data))[0] == 403


# --- item 15: 429 without Retry-After; a stale position fix ----------------------


async def test_rate_limit_without_retry_after(clock: ManualClock) -> None:
    sim = FleetSimulator(clock, rate_limits=RateLimits(data=1))
    auth = bearer(sim.issue_tokens())
    async with serve(sim) as client:
        await client.post("/sim/account", json={"retry_after_header": False})
        assert (await _get(client, auth, f"/api/1/vehicles/{VIN}/vehicle_data"))[
            0
        ] == 200
        clock.advance(15)
        response = await client.get(f"/api/1/vehicles/{VIN}/vehicle_data", headers=auth)

    assert response.status == 429
    assert "Retry-After" not in response.headers
    assert response.headers["RateLimit-Reset"] == "45"
    assert response.headers["RateLimit-Remaining"] == "0"


async def test_chaos_429_with_only_ratelimit_reset(
    sim: FleetSimulator, client: Client, auth: dict[str, str]
) -> None:
    sim.chaos = FaultMix(rates={"429_ratelimit_reset": 1.0}, retry_after=3600)
    response = await client.get(f"/api/1/vehicles/{VIN}/vehicle_data", headers=auth)

    assert response.status == 429
    assert "Retry-After" not in response.headers
    assert response.headers["RateLimit-Reset"] == "3600"
    assert response.headers["RateLimit-Limit"] == "200"
    assert await response.text() == "Retry in 3600 seconds\n"
    # The soak test's uniform mix never draws it: its month stays the same.
    assert "429_ratelimit_reset" not in FAULT_KINDS
    assert "429_ratelimit_reset" not in FaultMix.uniform(0.5).rates


async def test_position_fix_hours_older_than_the_record(
    clock: ManualClock, client: Client, auth: dict[str, str]
) -> None:
    work, home = (52.17, 20.97), (52.2297, 21.0122)
    await _control(client, VIN, {"position": list(work)})
    await _control(client, VIN, {"drive_to": {"position": list(home), "minutes": 30}})
    clock.advance(4 * 3600)
    # Parked at home since, awake (a fix this old comes from a waking car).
    await _control(
        client, VIN, {"gps_lag_s": 3 * 3600 + 45 * 60, "forced_state": "online"}
    )
    status, body = await _get(
        client, auth, f"/api/1/vehicles/{VIN}/vehicle_data?endpoints=location_data"
    )
    drive = body["response"]["drive_state"]

    assert drive["timestamp"] == int(clock() * 1000)
    assert drive["gps_as_of"] == int(clock()) - 13500
    # The fix is from half-way home: 15 minutes into the 30-minute drive.
    assert drive["latitude"] == pytest.approx((work[0] + home[0]) / 2, abs=1e-6)
    assert drive["longitude"] == pytest.approx((work[1] + home[1]) / 2, abs=1e-6)

    await _control(client, VIN, {"gps_lag_s": 0})
    status, body = await _get(
        client, auth, f"/api/1/vehicles/{VIN}/vehicle_data?endpoints=location_data"
    )
    drive = body["response"]["drive_state"]
    assert (drive["latitude"], drive["gps_as_of"]) == (home[0], int(clock()))


# --- item 16: schedule identity ------------------------------------------------


SCHEDULE = {
    "days_of_week": "All",
    "enabled": True,
    "start_enabled": True,
    "end_enabled": True,
    "start_time": 1320,
    "end_time": 360,
    "lat": 52.2297,
    "lon": 21.0122,
}


async def _schedules(client: Client, auth: dict[str, str]) -> list[dict[str, Any]]:
    status, body = await _get(
        client,
        auth,
        f"/api/1/vehicles/{VIN}/vehicle_data?endpoints=charge_schedule_data",
    )
    schedules: list[dict[str, Any]] = body["response"]["charge_schedule_data"][
        "charge_schedules"
    ]
    return schedules


async def test_a_car_that_numbers_schedules_itself(
    client: Client, auth: dict[str, str]
) -> None:
    await _control(
        client, VIN, {"schedule_ids": "car_assigned", "float32_positions": True}
    )
    path = f"/proxy/api/1/vehicles/{VIN}/command/add_charge_schedule"
    for _ in range(2):
        status, body = await _post(client, auth, path, {**SCHEDULE, "id": 1_000_123})
        assert (status, body["response"]["result"]) == (200, True)
    schedules = await _schedules(client, auth)

    # The id sent is not kept: the same write twice makes two schedules.
    assert [s["id"] for s in schedules] == [1, 2]
    # Stored as float32, as the car does.
    assert schedules[0]["latitude"] == float32(52.2297) == 52.229698181152344
    assert schedules[0]["longitude"] == float32(21.0122) != 21.0122
    # A schedule the car knows keeps its id when changed.
    await _post(client, auth, path, {**SCHEDULE, "id": 2, "start_time": 1380})
    assert [(s["id"], s["start_time"]) for s in await _schedules(client, auth)] == [
        (1, 1320),
        (2, 1380),
    ]

    # After a software update the car may renumber what it holds.
    sim_car = await _control(client, VIN, {"renumber_schedules": True})
    assert [s["id"] for s in sim_car["charge_schedules"]] == [1, 2]


async def test_renumbered_schedules_get_the_cars_ids(
    client: Client, auth: dict[str, str], sim: FleetSimulator
) -> None:
    path = f"/proxy/api/1/vehicles/{VIN}/command/add_charge_schedule"
    await _post(client, auth, path, {**SCHEDULE, "id": 1_000_123})
    await _post(client, auth, path, {**SCHEDULE, "id": 1_000_124})
    assert [s["id"] for s in await _schedules(client, auth)] == [1_000_123, 1_000_124]

    await _control(client, VIN, {"renumber_schedules": True})
    assert [s["id"] for s in await _schedules(client, auth)] == [1, 2]
    # Kept mode stores what was sent, exactly.
    assert sim.vehicle(VIN).charge_schedules[0].latitude == 52.2297


async def test_proxy_gives_an_id_less_schedule_the_unix_time(
    clock: ManualClock, client: Client, auth: dict[str, str]
) -> None:
    path = f"/proxy/api/1/vehicles/{VIN}/command/add_charge_schedule"
    await _post(client, auth, path, {**SCHEDULE, "id": 0})
    # A second add in the same second gets the same id: it replaces the first.
    await _post(client, auth, path, {**SCHEDULE, "start_time": 60})
    assert [(s["id"], s["start_time"]) for s in await _schedules(client, auth)] == [
        (int(clock()), 60)
    ]
    clock.advance(1)
    await _post(client, auth, path, SCHEDULE)
    assert [s["id"] for s in await _schedules(client, auth)] == [
        int(clock()) - 1,
        int(clock()),
    ]


# --- the control API checks what it is told ----------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"removed": "yes"},
        {"mobile_access_disabled": 1},
        {"record_overrides": ["display_name"]},
        {"record_missing": "state"},
        {"data_missing": [1]},
        {"charger_report": {"volts": 400}},
        {"charger_report": {"voltage": -1}},
        {"charger_report": {"phases": True}},
        {"gps_lag_s": -5},
        {"gps_lag_s": "1h"},
        {"schedule_ids": "random"},
        {"renumber_schedules": "now"},
        {"float32_positions": None},
    ],
)
async def test_bad_quirks_are_refused_and_change_nothing(
    client: Client, sim: FleetSimulator, body: dict[str, Any]
) -> None:
    before = await (await client.get("/sim/vehicles")).json()
    response = await client.post(f"/sim/vehicles/{VIN}", json={"removed": True, **body})
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_field"
    assert await (await client.get("/sim/vehicles")).json() == before
    assert sim.vehicle(VIN).removed is False


@pytest.mark.parametrize(
    "body",
    [
        {"monthly_limit_usd": -1},
        {"monthly_limit_usd": "10"},
        {"account_disabled": "true"},
        {"retry_after_header": None},
        {"billing": 10},
    ],
)
async def test_bad_account_settings_are_refused(
    client: Client, body: dict[str, Any]
) -> None:
    before = await (await client.get("/sim/account")).json()
    response = await client.post("/sim/account", json=body)
    assert response.status == 400
    assert await (await client.get("/sim/account")).json() == before


def test_a_disabled_account_comes_back_with_the_new_year() -> None:
    clock = ManualClock(datetime(2025, 12, 31, 23, 0, tzinfo=UTC).timestamp())
    sim = FleetSimulator(clock)
    assert sim.account_disabled_until() is None
    sim.account_disabled = True
    assert sim.account_disabled_until() == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
