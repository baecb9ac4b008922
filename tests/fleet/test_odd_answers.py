"""Odd but real answers: unreadable records, odd fields, 429 headers, schedules.

Each shape here was seen from Tesla, its proxy or a car (FLEET_API.md, "Real
answers"): the parsers keep what can be read and drop only what cannot.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

import pytest

from custom_components.tesla_scout_worker.domain.geo import Home
from custom_components.tesla_scout_worker.domain.schedules import (
    KnownSchedule,
    own_schedules,
    schedule_id_for,
)
from custom_components.tesla_scout_worker.fleet import (
    ChargeSchedule,
    ChargeState,
    DriveState,
    RateLimitedError,
    TeslaFleetClient,
    VehicleData,
)
from custom_components.tesla_scout_worker.fleet.transport import (
    parse_rate_limit_reset,
    retry_after_of,
)

from .conftest import BASE, VIN, FleetMock

HOME = Home(latitude=52.2297, longitude=21.0122, radius_m=100.0)
NOW = 1_796_229_000.0


def record(vin: Any, name: str = "Car", **extra: Any) -> dict[str, Any]:
    return {"id": 1, "vin": vin, "display_name": name, "state": "online", **extra}


# --- the vehicle list ------------------------------------------------------------


async def test_unreadable_records_are_skipped_and_said_once(
    client: TeslaFleetClient,
    mock_api: FleetMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = {
        "response": [
            record(None, "Shared"),
            "text",
            record(VIN, "Mine"),
            {"display_name": "Ordered"},  # no VIN at all: on order
            record(17, "Numbered"),
        ]
    }
    for _ in range(3):
        mock_api.get(f"{BASE}/api/1/vehicles", json=body)
    caplog.set_level(logging.DEBUG)

    for _ in range(3):
        vehicles = await client.vehicles()
        assert [(v.vin, v.display_name) for v in vehicles] == [(VIN, "Mine")]

    said = [
        r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()
    ]
    assert len(said) == 4  # once per odd record, not per call
    assert all(name in caplog.text for name in ("Shared", "Ordered", "Numbered"))
    assert any("record 2 of page 1" in message for message in said)


async def test_a_record_without_its_vin_is_the_car_asked_about(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(
        f"{BASE}/api/1/vehicles/{VIN}", json={"response": {"id": 1, "state": "asleep"}}
    )
    vehicle = await client.vehicle(VIN)
    assert vehicle.vin == VIN
    assert vehicle.state == "asleep"


# --- odd fields in vehicle_data ---------------------------------------------------


def test_values_a_field_cannot_have_drop_that_field_only() -> None:
    data = VehicleData.from_dict(
        {
            "charge_state": {
                "battery_level": 250,
                "charge_limit_soc": -5,
                "charger_phases": 7,
                "charger_voltage": -230,
                "charger_power": -11,
                "charging_state": "Stopped",
            },
            "drive_state": {
                "latitude": 500.0,
                "longitude": -181,
                "heading": 720,
                "speed": -3,
                "active_route_latitude": -91,
                "active_route_minutes_to_arrival": -1,
                "gps_as_of": 0,
                "shift_state": "P",
            },
        },
        VIN,
    )
    assert data.charge == ChargeState(charging_state="Stopped")
    assert data.drive == DriveState(shift_state="P")


def test_schedule_flags_read_only_booleans() -> None:
    schedule = ChargeSchedule.from_dict(
        {
            "id": 5,
            "enabled": "false",
            "start_enabled": 1,
            "end_enabled": "true",
            "one_time": "no",
            "start_time": 1440,
            "end_time": -1,
        }
    )
    assert schedule == ChargeSchedule(id=5)


def test_the_age_of_a_position_fix() -> None:
    drive = DriveState.from_dict(
        {"timestamp": 1_705_707_520_649, "gps_as_of": 1_705_707_520 - 3 * 3600}
    )
    assert drive.fix_age_s == pytest.approx(3 * 3600 + 0.649)
    assert DriveState.from_dict({"timestamp": 1_705_707_520_649}).fix_age_s is None


# --- charging power (TeslaMate's determine_phases) -------------------------------


@pytest.mark.parametrize(
    ("volts", "amps", "phases", "power", "expected"),
    [
        (400, 16, 3, 11, 400 * 16 * 3**0.5 / 1000),
        (230, 16, 1, 11, 230 * 16 * 3 / 1000),
        (230, 16, 3, 4, 230 * 16 / 1000),
        (230, 16, 1, 50, 50.0),
        (400, 16, 3, None, 400 * 16 * 3**0.5 / 1000),
    ],
    ids=[
        "line-to-line-voltage",
        "one-phase-reported-three-used",
        "three-reported-one-used",
        "nothing-fits-charger-power",
        "line-to-line-without-charger-power",
    ],
)
def test_charging_power_is_checked_against_charger_power(
    volts: int, amps: int, phases: int, power: float | None, expected: float
) -> None:
    charge = ChargeState.from_dict(
        {
            "charging_state": "Charging",
            "charger_voltage": volts,
            "charger_actual_current": amps,
            "charger_phases": phases,
            "charger_power": power,
        }
    )
    assert charge.measured_power_kw == pytest.approx(expected)


# --- 429 without Retry-After --------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"RateLimit-Reset": "1800"}, 1800.0),
        ({"RateLimit-Reset": str(int(NOW) + 600)}, 600.0),
        ({"RateLimit-Reset": str(int(NOW) - 600)}, 0.0),
        ({"Retry-After": "30", "RateLimit-Reset": "1800"}, 30.0),
        ({"RateLimit-Reset": "soon"}, None),
    ],
    ids=["seconds", "epoch", "epoch-past", "retry-after-first", "garbage"],
)
def test_rate_limit_reset(headers: dict[str, str], wait: float | None) -> None:
    assert retry_after_of(headers, NOW) == wait


def test_rate_limit_reset_alone() -> None:
    assert parse_rate_limit_reset(None) is None
    assert parse_rate_limit_reset("12") == 12.0


async def test_a_429_with_only_rate_limit_reset_says_how_long(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(
        f"{BASE}/api/1/vehicles",
        status=429,
        headers={"RateLimit-Remaining": "0", "RateLimit-Reset": "45"},
    )
    with pytest.raises(RateLimitedError) as err:
        await client.vehicles()
    assert err.value.retry_after == 45.0


# --- our schedules under the car's own ids ----------------------------------------


def float32(value: float) -> float:
    stored: float = struct.unpack("f", struct.pack("f", value))[0]
    return stored


def schedule(schedule_id: int, start: int, end: int, **extra: Any) -> ChargeSchedule:
    fields: dict[str, Any] = {
        "id": schedule_id,
        "enabled": True,
        "start_enabled": True,
        "start_time": start,
        "end_enabled": True,
        "end_time": end,
        "days_of_week": 127,
        "one_time": False,
        "latitude": float32(HOME.latitude),
        "longitude": float32(HOME.longitude),
    }
    fields.update(extra)
    parsed = ChargeSchedule.from_dict(fields)
    assert parsed is not None
    return parsed


def test_renumbered_schedules_go_back_to_the_slot_of_their_window() -> None:
    known = KnownSchedule(windows=((1320, 60), (120, 180)), known_at=NOW)
    found = own_schedules(
        VIN,
        [
            schedule(1_700_000_002, 120, 180),
            schedule(1_700_000_001, 1320, 60, days_of_week="All"),
        ],
        HOME,
        known,
        NOW,
    )
    assert found.windows == ((1320, 60), (120, 180), None)
    assert found.ids == (1_700_000_001, 1_700_000_002, None)
    assert found.strays == ()
    assert not found.unconfirmed


def test_more_copies_than_slots_are_strays() -> None:
    copies = [schedule(1_700_000_000 + n, 60 * n, 60 * n + 30) for n in range(5)]
    found = own_schedules(
        VIN, [*copies, schedule(schedule_id_for(VIN), 0, 5)], HOME, None, NOW
    )
    assert found.ids == (schedule_id_for(VIN), 1_700_000_000, 1_700_000_001)
    assert found.strays == (1_700_000_002, 1_700_000_003, 1_700_000_004)


@pytest.mark.parametrize(
    "extra",
    [
        {"latitude": 52.2298},  # where the car stood: about 10 m away
        {"longitude": 21.01225},
        {"one_time": True},
        {"days_of_week": 62},  # weekdays
        {"days_of_week": "Weekdays"},
        {"latitude": None},
    ],
    ids=["lat", "lon", "one-time", "weekdays-mask", "weekdays-name", "no-position"],
)
def test_other_schedules_are_not_taken_for_ours(extra: dict[str, Any]) -> None:
    found = own_schedules(VIN, [schedule(42, 120, 180, **extra)], HOME, None, NOW)
    assert found.ids == (None, None, None)
    assert found.strays == ()


def test_a_coordinate_rounded_to_six_decimals_is_still_ours() -> None:
    stored = schedule(7, 0, 60, latitude=round(float32(HOME.latitude), 6))
    found = own_schedules(VIN, [stored], HOME, None, NOW)
    assert found.ids == (7, None, None)


def test_the_id_to_write_to() -> None:
    written = KnownSchedule(windows=((0, 60),), known_at=NOW)
    assert written.unconfirmed
    assert written.car_id(VIN, 0) == schedule_id_for(VIN)
    read = KnownSchedule(windows=((0, 60),), known_at=NOW, ids=(99,))
    assert not read.unconfirmed
    assert read.car_id(VIN, 0) == 99
