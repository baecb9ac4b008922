"""The vehicle commands the simulator understands, as pure functions.

Each takes the (already advanced) vehicle, the JSON body and the time, changes
the vehicle and returns Tesla's ``(result, reason)``. A body that is not what
the command needs raises :class:`CommandArgumentError` (HTTP 400).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import struct
from typing import Any, Final

from .vehicle import ChargeSchedule, SimVehicle, parse_days_of_week

type CommandResult = tuple[bool, str]
type CommandHandler = Callable[[SimVehicle, Mapping[str, Any], float], CommandResult]

MAX_CHARGE_SCHEDULES: Final = 10
MINUTES_PER_DAY: Final = 1440
CHARGE_LIMIT_MIN: Final = 50
CHARGE_LIMIT_MAX: Final = 100
CHARGING_AMPS_MAX: Final = 48


def float32(value: float) -> float:
    """``value`` as the car stores it: the nearest IEEE 754 single."""
    stored: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return stored


class CommandArgumentError(ValueError):
    """The command body lacks a field or has one of the wrong type."""


def _int(params: Mapping[str, Any], key: str) -> int:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandArgumentError(f"{key} must be a number")
    if isinstance(value, float) and not value.is_integer():
        raise CommandArgumentError(f"{key} must be a whole number")
    return int(value)


def _float(params: Mapping[str, Any], key: str) -> float:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandArgumentError(f"{key} must be a number")
    return float(value)


def _bool(params: Mapping[str, Any], key: str, default: bool | None = None) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise CommandArgumentError(f"{key} must be true or false")
    return value


def _minutes(params: Mapping[str, Any], key: str) -> int:
    value = _int(params, key)
    if not 0 <= value < MINUTES_PER_DAY:
        raise CommandArgumentError(f"{key} must be minutes after midnight")
    return value


def charge_start(
    v: SimVehicle, _params: Mapping[str, Any], _now: float
) -> CommandResult:
    """Start charging now, overriding any schedule."""
    if not v.plugged_in:
        return False, "disconnected"
    if v.charging_state == "Charging":
        return False, "is_charging"
    if v.battery_level >= v.charge_limit_soc:
        v.charging_state = "Complete"
        return False, "complete"
    v.charging_state = "Charging"
    return True, ""


def charge_stop(
    v: SimVehicle, _params: Mapping[str, Any], _now: float
) -> CommandResult:
    """Stop a running charge."""
    if v.charging_state != "Charging":
        return False, "not_charging"
    v.charging_state = "Stopped"
    return True, ""


def set_charge_limit(
    v: SimVehicle, params: Mapping[str, Any], _now: float
) -> CommandResult:
    """Change the charge limit (50-100 %)."""
    percent = _int(params, "percent")
    if not CHARGE_LIMIT_MIN <= percent <= CHARGE_LIMIT_MAX:
        return False, "invalid_percent"
    if percent == v.charge_limit_soc:
        return False, "already_set"
    v.charge_limit_soc = percent
    if v.charging_state == "Charging" and v.battery_level >= percent:
        v.charging_state = "Complete"
    elif v.charging_state == "Complete" and v.battery_level < percent:
        # A car that finished charging resumes when the limit goes up.
        v.charging_state = "Charging"
    return True, ""


def set_charging_amps(
    v: SimVehicle, params: Mapping[str, Any], _now: float
) -> CommandResult:
    """Change the requested charging current."""
    amps = _int(params, "charging_amps")
    if not 0 <= amps <= CHARGING_AMPS_MAX:
        return False, "invalid_charging_amps"
    v.charge_amps = amps
    return True, ""


def set_scheduled_charging(
    v: SimVehicle, params: Mapping[str, Any], _now: float
) -> CommandResult:
    """The older single daily start time."""
    enable = _bool(params, "enable")
    if enable or "time" in params:
        v.scheduled_charging_start_time = _minutes(params, "time")
    v.scheduled_charging_enabled = enable
    return True, ""


def add_charge_schedule(
    v: SimVehicle, params: Mapping[str, Any], now: float
) -> CommandResult:
    """Add a charge schedule, or change the one whose ``id`` is given."""
    try:
        days = parse_days_of_week(params.get("days_of_week"))
    except (TypeError, ValueError) as err:
        raise CommandArgumentError(str(err)) from err
    start_enabled = _bool(params, "start_enabled", "start_time" in params)
    end_enabled = _bool(params, "end_enabled", "end_time" in params)
    fields: dict[str, Any] = {
        "days_of_week": days,
        "enabled": _bool(params, "enabled"),
        "start_enabled": start_enabled,
        "start_time": _minutes(params, "start_time") if start_enabled else 0,
        "end_enabled": end_enabled,
        "end_time": _minutes(params, "end_time") if end_enabled else 0,
        "one_time": _bool(params, "one_time", default=False),
        "latitude": _float(params, "lat"),
        "longitude": _float(params, "lon"),
    }
    if v.float32_positions:
        fields["latitude"] = float32(fields["latitude"])
        fields["longitude"] = float32(fields["longitude"])
    name = params.get("name", "")
    if not isinstance(name, str):
        raise CommandArgumentError("name must be a string")
    fields["name"] = name
    schedule_id = _int(params, "id") if params.get("id") is not None else None
    existing = next((s for s in v.charge_schedules if s.id == schedule_id), None)
    if existing is not None:
        for key, value in fields.items():
            setattr(existing, key, value)
        return True, ""
    if len(v.charge_schedules) >= MAX_CHARGE_SCHEDULES:
        return False, "max_schedules_reached"
    if v.schedule_ids == "car_assigned":
        # The car numbers a new schedule itself, whatever id it was sent.
        taken = {s.id for s in v.charge_schedules}
        schedule_id = next(i for i in range(1, len(taken) + 2) if i not in taken)
    elif schedule_id is None:
        used = [s.id for s in v.charge_schedules]
        schedule_id = max([int(now), *(i + 1 for i in used)])
    v.charge_schedules.append(ChargeSchedule(id=schedule_id, **fields))
    return True, ""


def remove_charge_schedule(
    v: SimVehicle, params: Mapping[str, Any], _now: float
) -> CommandResult:
    """Remove the schedule with ``id``."""
    schedule_id = _int(params, "id")
    for schedule in v.charge_schedules:
        if schedule.id == schedule_id:
            v.charge_schedules.remove(schedule)
            return True, ""
    return False, "not_found"


COMMANDS: Final[dict[str, CommandHandler]] = {
    "charge_start": charge_start,
    "charge_stop": charge_stop,
    "set_charge_limit": set_charge_limit,
    "set_charging_amps": set_charging_amps,
    "set_scheduled_charging": set_scheduled_charging,
    "add_charge_schedule": add_charge_schedule,
    "remove_charge_schedule": remove_charge_schedule,
}
"""Command name to handler; anything else is answered 404."""

CHARGING_COMMANDS: Final = frozenset(COMMANDS)
"""Commands the ``vehicle_charging_cmds`` scope allows (all of ours)."""
