"""Tests for parsing Tesla's loose answers into typed models."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.tesla_scout_worker.fleet import (
    ChargeSchedule,
    ChargeState,
    DriveState,
    Token,
    Vehicle,
    VehicleData,
    vin_tail,
)
from tests import load_json_fixture


def test_vin_tail_hides_the_vin() -> None:
    assert vin_tail("LRWXF7EK4KC700000") == "…0000"


def test_real_vehicle_data_quirks() -> None:
    data = VehicleData.from_dict(
        load_json_fixture("vehicle_data.json")["response"], "X"
    )
    assert data.vin == "LRWXF7EK4KC700000"
    assert data.state == "online"
    assert data.charge is not None
    # charger_phases is null and charger_voltage 2 while not charging.
    assert data.charge.charger_phases is None
    assert data.charge.charger_voltage == 2
    assert data.charge.plugged_in is True
    assert data.charge.is_charging is False
    assert data.charge.measured_power_kw is None
    assert data.drive is not None
    assert data.drive.shift_state is None
    assert data.drive.timestamp_ms == 1705707520649
    assert data.drive.minutes_to_arrival == pytest.approx(0.103577)
    assert data.drive.has_location
    assert data.vehicle_state is not None
    assert data.charge_schedules is None


def test_charge_schedules_skip_entries_without_id() -> None:
    data = VehicleData.from_dict(
        load_json_fixture("charge_schedule_data.json")["response"], "X"
    )
    assert data.charge_schedules == (
        ChargeSchedule(
            id=1700000000,
            name="Tesla Scout & Worker",
            days_of_week=127,
            enabled=True,
            start_enabled=True,
            start_time=1320,
            end_enabled=True,
            end_time=360,
            one_time=False,
            latitude=52.2297,
            longitude=21.0122,
        ),
    )
    assert data.drive is None
    assert data.is_parked is None


def test_charge_schedule_data_with_odd_list() -> None:
    data = VehicleData.from_dict(
        {"charge_schedule_data": {"charge_schedules": "x"}}, "VIN1"
    )
    assert data.charge_schedules == ()
    assert data.vin == "VIN1"


@pytest.mark.parametrize(
    ("charge", "plugged", "charging"),
    [
        ({"charging_state": "Disconnected"}, False, False),
        ({"charging_state": "Charging"}, True, True),
        ({"charging_state": "Starting"}, True, True),
        ({"charging_state": "Complete"}, True, False),
        ({}, None, False),
        ({"charging_state": "<invalid>"}, None, False),
    ],
)
def test_charge_state_flags(
    charge: dict[str, Any], plugged: bool | None, charging: bool
) -> None:
    state = ChargeState.from_dict(charge)
    assert state.plugged_in is plugged
    assert state.is_charging is charging


@pytest.mark.parametrize(
    ("charge", "power"),
    [
        (
            {
                "charging_state": "Charging",
                "charger_voltage": 230,
                "charger_actual_current": 16,
                "charger_phases": 3,
            },
            11.04,
        ),
        (
            {
                "charging_state": "Charging",
                "charger_voltage": 230,
                "charger_actual_current": 16,
                "charger_phases": None,
            },
            3.68,
        ),
        ({"charging_state": "Charging", "charger_power": 7}, 7.0),
        ({"charging_state": "Charging", "charger_power": 0}, None),
        ({"charging_state": "Stopped", "charger_power": 7}, None),
    ],
    ids=["three-phase", "null-phases", "rounded-power", "zero", "not-charging"],
)
def test_measured_power(charge: dict[str, Any], power: float | None) -> None:
    assert ChargeState.from_dict(charge).measured_power_kw == (
        pytest.approx(power) if power is not None else None
    )


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        (77, 77),
        (76.6, 77),
        ("80", 80),
        ("<invalid>", None),
        (True, None),
        (None, None),
        ([], None),
    ],
)
def test_loose_integers(raw: Any, level: int | None) -> None:
    assert ChargeState.from_dict({"battery_level": raw}).battery_level == level


@pytest.mark.parametrize(
    ("raw", "value"),
    [(1.5, 1.5), (2, 2.0), ("3.5", 3.5), ("x", None), (False, None), ({}, None)],
)
def test_loose_floats(raw: Any, value: float | None) -> None:
    assert DriveState.from_dict({"latitude": raw}).latitude == value


@pytest.mark.parametrize(
    ("drive", "charge", "parked"),
    [
        ({"shift_state": None}, {"charging_state": "Stopped"}, True),
        ({"shift_state": "P"}, None, True),
        ({"shift_state": "D"}, None, False),
        ({"shift_state": "P"}, {"charging_state": "Charging"}, False),
    ],
)
def test_is_parked(
    drive: dict[str, Any], charge: dict[str, Any] | None, parked: bool
) -> None:
    raw: dict[str, Any] = {"drive_state": drive}
    if charge is not None:
        raw["charge_state"] = charge
    assert VehicleData.from_dict(raw, "X").is_parked is parked


def test_drive_state_without_location() -> None:
    drive = DriveState.from_dict({"shift_state": "D", "speed": 50})
    assert not drive.has_location
    assert not drive.in_park


def test_vehicle_defaults_and_validation() -> None:
    vehicle = Vehicle.from_dict({"vin": "V1"})
    assert vehicle.state == "offline"
    assert not vehicle.is_online
    with pytest.raises(ValueError, match="VIN"):
        Vehicle.from_dict({"id": 1})


def test_token_round_trip_through_entry_data() -> None:
    token = Token.from_response(load_json_fixture("token.json"), now=1000.0)
    assert token.expires_at == 29800.0
    assert token.seconds_left(now=29500.0) == 300.0
    assert Token.from_entry_data(token.as_dict()) == token


def test_token_from_entry_data_tolerates_missing_fields() -> None:
    token = Token.from_entry_data({"access_token": "a", "refresh_token": "r"})
    assert token.expires_at == 0.0
    assert token.token_type == "Bearer"
    assert token.seconds_left() < 0


@pytest.mark.parametrize("expires_in", [None, 0, -5, "soon"])
def test_token_needs_a_lifetime(expires_in: Any) -> None:
    with pytest.raises(ValueError, match="expires_in"):
        Token.from_response(
            {"access_token": "a", "refresh_token": "r", "expires_in": expires_in}
        )
