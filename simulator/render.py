"""JSON shapes of Tesla's answers, filled with a simulated vehicle's live values.

The ``vehicle_data`` sections start from real answers (``data/vehicle_data.json``,
assembled from public captures listed in ``data/SOURCES.md``) so that every
field a client might read exists with Tesla's type and quirks; the simulator
overwrites the values it models.
"""

from __future__ import annotations

from collections.abc import Collection
import copy
from functools import cache
import hashlib
from importlib import resources
import json
import re
from typing import Any, Final

from .model import FleetSimulator
from .vehicle import KM_PER_MILE, SimVehicle

API_VERSION: Final = 71
ALL_ENDPOINTS: Final = frozenset(
    {
        "charge_state",
        "climate_state",
        "closures_state",
        "drive_state",
        "gui_settings",
        "location_data",
        "charge_schedule_data",
        "preconditioning_schedule_data",
        "vehicle_config",
        "vehicle_state",
    }
)
DEFAULT_ENDPOINTS: Final = (
    "charge_state",
    "climate_state",
    "drive_state",
    "gui_settings",
    "vehicle_config",
    "vehicle_state",
)
"""What ``vehicle_data`` returns without ``endpoints`` (no location)."""

_CLOSURE_FIELDS: Final = (
    "df",
    "dr",
    "pf",
    "pr",
    "ft",
    "rt",
    "fd_window",
    "fp_window",
    "rd_window",
    "rp_window",
    "locked",
    "sun_roof_state",
    "vehicle_state_sun_roof_percent_open",
    "center_display_state",
    "remote_start",
    "valet_mode",
    "sentry_mode",
    "sentry_mode_available",
    "is_user_present",
)


@cache
def _template() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data", "vehicle_data.json")
    data: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return data


def _section(name: str) -> dict[str, Any]:
    section: dict[str, Any] = copy.deepcopy(_template()[name])
    return section


def parse_endpoints(raw: str | None) -> list[str]:
    """Split ``endpoints=a;b`` (also ``,``) into names; empty means the default."""
    if not raw:
        return list(DEFAULT_ENDPOINTS)
    names = [part.strip() for part in re.split(r"[;,]", raw)]
    wanted = [name for name in names if name]
    return wanted or list(DEFAULT_ENDPOINTS)


def vehicle_record(sim: FleetSimulator, v: SimVehicle) -> dict[str, Any]:
    """The vehicle as ``GET /api/1/vehicles`` lists it (state as of now).

    The vehicle's ``record_overrides`` and ``record_missing`` make it odd.
    """
    record = _plain_record(sim, v)
    record.update(v.record_overrides)
    for key in v.record_missing:
        record.pop(key, None)
    return record


def _plain_record(sim: FleetSimulator, v: SimVehicle) -> dict[str, Any]:
    digest = hashlib.sha256(v.vin.encode()).hexdigest()
    tokens = None if v.mobile_access_disabled else [digest[:16], digest[16:32]]
    return {
        "id": v.id,
        "user_id": sim.user_id,
        "vehicle_id": v.vehicle_id,
        "vin": v.vin,
        "color": None,
        "access_type": "OWNER",
        "display_name": v.display_name,
        "option_codes": None,
        "granular_access": {"hide_private": False},
        "tokens": tokens,
        "state": sim.state(v.vin),
        "in_service": False,
        "id_s": str(v.id),
        "calendar_enabled": True,
        "api_version": API_VERSION,
        "backseat_token": None,
        "backseat_token_updated_at": None,
        "ble_autopair_enrolled": False,
        "command_signing": v.command_signing,
        # As a 2024 list shows a car whose owner switched mobile access off:
        # the flag set and no tokens (teslatte testdata/products_ulr_2024_08_14).
        "mobile_access_disabled": v.mobile_access_disabled,
    }


def vehicle_data(
    sim: FleetSimulator,
    v: SimVehicle,
    endpoints: Collection[str],
    *,
    drive_state: bool = True,
) -> dict[str, Any]:
    """``vehicle_data`` for the requested sections of an online vehicle.

    Without ``drive_state`` (a token without ``vehicle_location`` since
    2026) there is no ``drive_state`` whatever was asked. The vehicle's
    ``data_overrides`` and ``data_missing`` make values odd or absent.
    """
    sim.sync(v)
    ms = int(sim.clock() * 1000)
    wanted = set(endpoints)
    data = vehicle_record(sim, v)
    builders = {
        "charge_state": _charge_state,
        "climate_state": _climate_state,
        "closures_state": _closures_state,
        "gui_settings": _gui_settings,
        "vehicle_config": _vehicle_config,
        "vehicle_state": _vehicle_state,
        "charge_schedule_data": _charge_schedule_data,
        "preconditioning_schedule_data": _preconditioning_schedule_data,
    }
    for name, build in builders.items():
        if name in wanted:
            data[name] = build(sim, v, ms)
    if drive_state and wanted & {"drive_state", "location_data"}:
        data["drive_state"] = _drive_state(
            sim, v, ms, with_location="location_data" in wanted
        )
    _make_odd(data, v)
    return data


def _make_odd(data: dict[str, Any], v: SimVehicle) -> None:
    """Apply a vehicle's ``data_overrides`` and ``data_missing`` (sections sent)."""
    for path, value in v.data_overrides.items():
        section, _, key = path.partition(".")
        if isinstance(data.get(section), dict) and key:
            data[section][key] = value
    for path in v.data_missing:
        section, _, key = path.partition(".")
        if not key:
            data.pop(section, None)
        elif isinstance(data.get(section), dict):
            data[section].pop(key, None)


def _charge_state(sim: FleetSimulator, v: SimVehicle, ms: int) -> dict[str, Any]:
    cs = _section("charge_state")
    charging = v.charging
    power = v.charge_power_kw
    range_mi = v.range_km / KM_PER_MILE
    seconds_left = v.seconds_to_limit() if charging and power > 0 else 0.0
    scheduled_start = sim.next_scheduled_charging_start(v)
    cs.update(
        {
            "battery_level": round(v.battery_level),
            "usable_battery_level": int(v.battery_level),
            "battery_range": round(range_mi, 2),
            "est_battery_range": round(range_mi * 0.95, 2),
            "ideal_battery_range": round(range_mi, 2),
            "energy_remaining": round(
                v.battery_capacity_kwh * v.battery_level / 100, 2
            ),
            "charge_limit_soc": v.charge_limit_soc,
            "charging_state": v.charging_state,
            "charge_amps": v.charge_amps,
            "charge_current_request": v.charge_amps,
            "charge_current_request_max": v.charge_current_max,
            "charger_pilot_current": v.charge_current_max if v.plugged_in else 0,
            "charger_actual_current": v.effective_amps if charging else 0,
            "charger_voltage": (
                (v.reported_charger_voltage or v.charger_voltage)
                if charging
                else (2 if v.plugged_in else 0)
            ),
            "charger_phases": (
                (v.reported_charger_phases or v.charger_phases) if charging else None
            ),
            "charger_power": round(power),
            "charge_rate": round(
                power / v.consumption_kwh_per_km / KM_PER_MILE if charging else 0.0, 1
            ),
            "charge_energy_added": round(v.charge_energy_added, 2),
            "charge_port_door_open": v.plugged_in,
            "charge_port_latch": "Engaged" if v.plugged_in else "Disengaged",
            "conn_charge_cable": "IEC" if v.plugged_in else "<invalid>",
            "fast_charger_type": "ACSingleWireCAN" if v.plugged_in else "<invalid>",
            "minutes_to_full_charge": round(seconds_left / 60),
            "time_to_full_charge": round(seconds_left / 3600, 2),
            "scheduled_charging_mode": (
                "StartAt" if v.scheduled_charging_enabled else "Off"
            ),
            "scheduled_charging_pending": (
                v.scheduled_charging_enabled and v.charging_state == "Stopped"
            ),
            "scheduled_charging_start_time": (
                int(scheduled_start) if scheduled_start is not None else None
            ),
            "scheduled_charging_start_time_app": v.scheduled_charging_start_time,
            "timestamp": ms,
        }
    )
    return cs


def _drive_state(
    sim: FleetSimulator, v: SimVehicle, ms: int, *, with_location: bool
) -> dict[str, Any]:
    drive = v.drive
    power = 15 if drive is not None else -round(v.charge_power_kw)
    ds: dict[str, Any] = {
        "power": power,
        "shift_state": "D" if drive is not None else None,
        "timestamp": ms,
    }
    if not with_location:
        return ds
    lat, lon = sim.position(v)
    fix_at = ms // 1000
    if v.gps_lag_s > 0:
        # A stale fix: the position of gps_lag_s ago, with its own time.
        fix_at = int(sim.clock() - v.gps_lag_s)
        lat, lon = v.fix_at(fix_at)
    ds.update(
        {
            "gps_as_of": fix_at,
            "heading": v.heading,
            "latitude": round(lat, 6),
            "longitude": round(lon, 6),
            "native_latitude": round(lat, 6),
            "native_location_supported": 1,
            "native_longitude": round(lon, 6),
            "native_type": "wgs",
            "speed": round(drive.speed_kmh / KM_PER_MILE) if drive else None,
        }
    )
    if drive is not None:
        remaining = 1.0 - drive.fraction_at(sim.clock())
        ds.update(
            {
                "active_route_destination": drive.destination_name or "Destination",
                "active_route_latitude": drive.destination[0],
                "active_route_longitude": drive.destination[1],
                "active_route_miles_to_arrival": round(
                    drive.distance_km * remaining / KM_PER_MILE, 3
                ),
                "active_route_minutes_to_arrival": round(
                    drive.duration * remaining / 60, 3
                ),
                "active_route_traffic_minutes_delay": 0,
            }
        )
    return ds


def _climate_state(_sim: FleetSimulator, v: SimVehicle, ms: int) -> dict[str, Any]:
    cl = _section("climate_state")
    cl.update({"is_climate_on": v.driving, "timestamp": ms})
    return cl


def _vehicle_state(_sim: FleetSimulator, v: SimVehicle, ms: int) -> dict[str, Any]:
    vs = _section("vehicle_state")
    vs.update(
        {
            "api_version": API_VERSION,
            "car_version": f"{v.firmware_version} {v.vin.lower()[-12:]}",
            "is_user_present": v.driving,
            "odometer": round(v.odometer_km / KM_PER_MILE, 6),
            "vehicle_name": v.display_name,
            "timestamp": ms,
        }
    )
    return vs


def _closures_state(sim: FleetSimulator, v: SimVehicle, ms: int) -> dict[str, Any]:
    vs = _vehicle_state(sim, v, ms)
    closures = {key: vs[key] for key in _CLOSURE_FIELDS if key in vs}
    closures["timestamp"] = ms
    return closures


def _vehicle_config(sim: FleetSimulator, _v: SimVehicle, ms: int) -> dict[str, Any]:
    vc = _section("vehicle_config")
    vc.update({"utc_offset": sim.utc_offset(), "timestamp": ms})
    return vc


def _gui_settings(_sim: FleetSimulator, _v: SimVehicle, ms: int) -> dict[str, Any]:
    gui = _section("gui_settings")
    gui["timestamp"] = ms
    return gui


def _charge_schedule_data(
    _sim: FleetSimulator, v: SimVehicle, ms: int
) -> dict[str, Any]:
    return {
        "charge_schedules": [s.as_dict() for s in v.charge_schedules],
        "charge_schedule_window": None,
        "charge_buffer": 0,
        "max_num_charge_schedules": 10,
        "next_schedule": False,
        "show_schedule_complete_state": False,
        "timestamp": ms,
    }


def _preconditioning_schedule_data(
    _sim: FleetSimulator, _v: SimVehicle, ms: int
) -> dict[str, Any]:
    return {
        "precondition_schedules": [],
        "preconditioning_schedule_window": None,
        "max_num_precondition_schedules": 10,
        "next_schedule": False,
        "timestamp": ms,
    }
