"""Typed models of the Fleet API answers this project reads.

Tesla's answers are loose: numbers come as strings, ``"<invalid>"`` stands in for
missing values, ``charger_phases`` is ``null`` while charging and timestamps are in
milliseconds. The parsers here accept all of that and never raise on an odd value;
an unusable value (wrong type, ``null``, or outside what the field can be, such as
a latitude of 500 or a battery at 250 %) becomes ``None``: that field is dropped,
never the whole answer. Long on purpose: every model here reads its fields
with the same lenient readers (``_int``, ``_float``, ``_str``…).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
import math
import time
from typing import Any, Self

CHARGING_STATES_ACTIVE = frozenset({"Charging", "Starting"})
"""Charging states in which energy flows or is about to."""

CHARGING_STATES_UNPLUGGED = frozenset({"Disconnected"})


class VehicleState(StrEnum):
    """What the vehicle list says about a car's connection."""

    ONLINE = "online"
    ASLEEP = "asleep"
    OFFLINE = "offline"


def vin_tail(vin: str) -> str:
    """Name a vehicle in logs without its VIN: its last four characters."""
    return f"…{vin[-4:]}"


MINUTES_PER_DAY = 24 * 60

_INT_LIMIT = 2**63
"""Beyond a 64-bit integer no reading is real (and arithmetic on it overflows)."""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        real = _float(value)
        if real is None:
            return None
        number = round(real)
    return number if -_INT_LIMIT < number < _INT_LIMIT else None


def _float(value: Any) -> float | None:
    # "NaN", "inf" and 1e999 parse as floats but are no usable reading.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _within(value: float | None, low: float, high: float) -> float | None:
    """``value`` when it lies in ``[low, high]``; a reading outside is no reading."""
    return value if value is not None and low <= value <= high else None


def _int_within(value: Any, low: int, high: int) -> int | None:
    number = _int(value)
    return number if number is not None and low <= number <= high else None


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value and value != "<invalid>":
        return value
    return None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _vins(value: Any) -> frozenset[str]:
    """The VINs of a list; anything else in it (``null``, objects) is dropped."""
    items = value if isinstance(value, list) else []
    return frozenset(item for item in items if isinstance(item, str) and item)


def _latitude(value: Any) -> float | None:
    return _within(_float(value), -90.0, 90.0)


def _longitude(value: Any) -> float | None:
    return _within(_float(value), -180.0, 180.0)


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    return value if isinstance(value, Mapping) else None


@dataclass(frozen=True, kw_only=True)
class Vehicle:
    """One record of ``GET /api/1/vehicles``: cheap, and never wakes the car."""

    id: int | None
    vehicle_id: int | None
    vin: str
    display_name: str | None
    state: str
    access_type: str | None = None
    command_signing: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], vin: str | None = None) -> Self:
        """Parse one record; the VIN is the only field that must be there.

        ``vin``: the car asked about, for a record that does not repeat it.
        """
        vin = _str(data.get("vin")) or vin
        if vin is None:
            msg = "vehicle record without a VIN"
            raise ValueError(msg)
        return cls(
            id=_int(data.get("id")),
            vehicle_id=_int(data.get("vehicle_id")),
            vin=vin,
            display_name=_str(data.get("display_name")),
            state=_str(data.get("state")) or VehicleState.OFFLINE,
            access_type=_str(data.get("access_type")),
            command_signing=_str(data.get("command_signing")),
        )

    @property
    def is_online(self) -> bool:
        """Only ``online`` counts as awake; sleeping cars may read ``offline``."""
        return self.state == VehicleState.ONLINE


@dataclass(frozen=True, kw_only=True)
class ChargeState:
    """The parts of ``charge_state`` this project uses."""

    battery_level: int | None = None
    battery_range: float | None = None
    charge_limit_soc: int | None = None
    charging_state: str | None = None
    charger_actual_current: int | None = None
    charger_voltage: int | None = None
    charger_phases: int | None = None
    charger_power: float | None = None
    charge_port_latch: str | None = None
    conn_charge_cable: str | None = None
    charge_energy_added: float | None = None
    scheduled_charging_mode: str | None = None
    scheduled_charging_pending: bool | None = None
    scheduled_charging_start_time: int | None = None
    minutes_to_full_charge: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Parse a ``charge_state`` section."""
        return cls(
            battery_level=_int_within(data.get("battery_level"), 0, 100),
            battery_range=_within(_float(data.get("battery_range")), 0, math.inf),
            charge_limit_soc=_int_within(data.get("charge_limit_soc"), 0, 100),
            charging_state=_str(data.get("charging_state")),
            charger_actual_current=_int_within(
                data.get("charger_actual_current"), 0, _INT_LIMIT - 1
            ),
            charger_voltage=_int_within(data.get("charger_voltage"), 0, _INT_LIMIT - 1),
            charger_phases=_int_within(data.get("charger_phases"), 1, 3),
            charger_power=_within(_float(data.get("charger_power")), 0, math.inf),
            charge_port_latch=_str(data.get("charge_port_latch")),
            conn_charge_cable=_str(data.get("conn_charge_cable")),
            charge_energy_added=_float(data.get("charge_energy_added")),
            scheduled_charging_mode=_str(data.get("scheduled_charging_mode")),
            scheduled_charging_pending=_bool(data.get("scheduled_charging_pending")),
            scheduled_charging_start_time=_int(
                data.get("scheduled_charging_start_time")
            ),
            minutes_to_full_charge=_int(data.get("minutes_to_full_charge")),
        )

    @property
    def is_charging(self) -> bool:
        """Energy flows, or the car is about to start."""
        return self.charging_state in CHARGING_STATES_ACTIVE

    @property
    def plugged_in(self) -> bool | None:
        """Whether a cable is connected; ``None`` when the car did not say."""
        if self.charging_state is None:
            return None
        return self.charging_state not in CHARGING_STATES_UNPLUGGED

    @property
    def measured_power_kw(self) -> float | None:
        """Charging power while the car charges, checked against ``charger_power``.

        Volts × amps × phases is more precise than ``charger_power`` (whole kW),
        but some cars report the ~400 V line-to-line voltage with three phases,
        or a wrong phase count: the product then says 19.2 kW where the car
        charges at 11. As TeslaMate does (``determine_phases``), the phase count
        is judged from ``charger_power`` / (volts × amps): the reported one when
        it fits, √3 for a line-to-line voltage, the nearest whole count when
        close; otherwise ``charger_power`` itself is the figure. A ``null`` phase
        count (a known quirk) is taken as one phase.
        """
        if not self.is_charging:
            return None
        power = self.charger_power or None
        volt_amps = (self.charger_voltage or 0) * (self.charger_actual_current or 0)
        if not volt_amps:
            return power
        reported = self.charger_phases or 1
        phases: float | None
        if power is not None:
            phases = _effective_phases(power * 1000 / volt_amps, reported)
        elif reported == 3 and (self.charger_voltage or 0) > LINE_TO_NEUTRAL_MAX_V:
            phases = THREE_PHASE_LINE_TO_LINE  # no phase carries 400 V
        else:
            phases = reported
        if phases is None:
            return power
        return volt_amps * phases / 1000


LINE_TO_NEUTRAL_MAX_V = 300
"""Above this a three-phase reading is line-to-line (no mains phase carries it)."""
THREE_PHASE_LINE_TO_LINE = math.sqrt(3)
"""Three phases counted from a line-to-line voltage: P = √3 × U × I."""


def _effective_phases(ratio: float, reported: int) -> float | None:
    """The phase count that ``charger_power`` / (volts × amps) supports.

    ``charger_power`` is rounded to whole kW, so the ratio is only near a count.
    """
    nearest = round(ratio)
    if nearest == reported:
        return reported
    if reported == 3 and abs(ratio / THREE_PHASE_LINE_TO_LINE - 1) <= 0.1:
        return THREE_PHASE_LINE_TO_LINE
    if 1 <= nearest <= 3 and abs(nearest - ratio) <= 0.3:
        return nearest
    return None


@dataclass(frozen=True, kw_only=True)
class DriveState:
    """The parts of ``drive_state`` used here; position needs ``location_data``."""

    latitude: float | None = None
    longitude: float | None = None
    heading: int | None = None
    speed: float | None = None
    shift_state: str | None = None
    power: float | None = None
    timestamp_ms: int | None = None
    gps_as_of: int | None = None
    """When the position was fixed (epoch seconds); may be hours before the data."""
    minutes_to_arrival: float | None = None
    destination_latitude: float | None = None
    destination_longitude: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Parse a ``drive_state`` section."""
        return cls(
            latitude=_latitude(data.get("latitude")),
            longitude=_longitude(data.get("longitude")),
            heading=_int_within(data.get("heading"), 0, 360),
            speed=_within(_float(data.get("speed")), 0, math.inf),
            shift_state=_str(data.get("shift_state")),
            power=_float(data.get("power")),
            timestamp_ms=_int_within(data.get("timestamp"), 1, _INT_LIMIT - 1),
            gps_as_of=_int_within(data.get("gps_as_of"), 1, _INT_LIMIT - 1),
            minutes_to_arrival=_within(
                _float(data.get("active_route_minutes_to_arrival")), 0, math.inf
            ),
            destination_latitude=_latitude(data.get("active_route_latitude")),
            destination_longitude=_longitude(data.get("active_route_longitude")),
        )

    @property
    def fix_age_s(self) -> float | None:
        """How much older the position is than the data (``None``: not said)."""
        if self.gps_as_of is None or self.timestamp_ms is None:
            return None
        return self.timestamp_ms / 1000 - self.gps_as_of

    @property
    def has_location(self) -> bool:
        """Whether the answer carried a position."""
        return self.latitude is not None and self.longitude is not None

    @property
    def in_park(self) -> bool:
        """``shift_state`` null or ``P``: the car is not being driven."""
        return self.shift_state in (None, "P")


@dataclass(frozen=True, kw_only=True)
class ChargeSchedule:
    """One entry of ``charge_schedule_data.charge_schedules``."""

    id: int
    name: str | None = None
    days_of_week: int | str | None = None
    enabled: bool = False
    start_enabled: bool = False
    start_time: int | None = None
    end_enabled: bool = False
    end_time: int | None = None
    one_time: bool = False
    latitude: float | None = None
    longitude: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self | None:
        """Parse one schedule; ``None`` when it has no id."""
        schedule_id = _int(data.get("id"))
        if schedule_id is None:
            return None
        days = data.get("days_of_week")
        return cls(
            id=schedule_id,
            name=_str(data.get("name")),
            days_of_week=(
                days
                if isinstance(days, int | str) and not isinstance(days, bool)
                else None
            ),
            enabled=_bool(data.get("enabled")) or False,
            start_enabled=_bool(data.get("start_enabled")) or False,
            start_time=_int_within(data.get("start_time"), 0, MINUTES_PER_DAY - 1),
            end_enabled=_bool(data.get("end_enabled")) or False,
            end_time=_int_within(data.get("end_time"), 0, MINUTES_PER_DAY - 1),
            one_time=_bool(data.get("one_time")) or False,
            latitude=_latitude(data.get("latitude")),
            longitude=_longitude(data.get("longitude")),
        )


@dataclass(frozen=True, kw_only=True)
class VehicleData:
    """A ``vehicle_data`` answer: typed sections plus the raw dict for diagnostics."""

    vin: str
    state: str | None
    charge: ChargeState | None = None
    drive: DriveState | None = None
    vehicle_state: Mapping[str, Any] | None = None
    charge_schedules: tuple[ChargeSchedule, ...] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], vin: str) -> Self:
        """Parse the ``response`` of a ``vehicle_data`` answer."""
        charge = _section(data, "charge_state")
        drive = _section(data, "drive_state")
        schedule_data = _section(data, "charge_schedule_data")
        schedules: tuple[ChargeSchedule, ...] | None = None
        if schedule_data is not None:
            items = schedule_data.get("charge_schedules")
            parsed = (
                ChargeSchedule.from_dict(item)
                for item in (items if isinstance(items, list) else [])
                if isinstance(item, Mapping)
            )
            schedules = tuple(item for item in parsed if item is not None)
        return cls(
            vin=_str(data.get("vin")) or vin,
            state=_str(data.get("state")),
            charge=ChargeState.from_dict(charge) if charge is not None else None,
            drive=DriveState.from_dict(drive) if drive is not None else None,
            vehicle_state=_section(data, "vehicle_state"),
            charge_schedules=schedules,
            raw=data,
        )

    @property
    def is_parked(self) -> bool | None:
        """In park and not charging; ``None`` without ``drive_state``."""
        if self.drive is None:
            return None
        charging = self.charge is not None and self.charge.is_charging
        return self.drive.in_park and not charging


@dataclass(frozen=True, kw_only=True)
class FleetStatus:
    """``POST /api/1/vehicles/fleet_status``: key pairing and signing needs."""

    key_paired_vins: frozenset[str]
    unpaired_vins: frozenset[str]
    protocol_required: Mapping[str, bool]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Parse the ``response`` of a ``fleet_status`` answer."""
        info = _section(data, "vehicle_info") or {}
        required: dict[str, bool] = {}
        for vin, details in info.items():
            if isinstance(details, Mapping):
                flag = _bool(details.get("vehicle_command_protocol_required"))
                if flag is not None:
                    required[vin] = flag
        return cls(
            key_paired_vins=_vins(data.get("key_paired_vins")),
            unpaired_vins=_vins(data.get("unpaired_vins")),
            protocol_required=required,
        )

    def knows_key(self, vin: str) -> bool:
        """Whether the car takes our commands: it has the key, or needs none.

        A car Tesla did not list either way is not taken to have it.
        """
        return vin in self.key_paired_vins or self.protocol_required.get(vin) is False


@dataclass(frozen=True, kw_only=True)
class CommandResult:
    """What the car answered to a command."""

    result: bool
    reason: str


@dataclass(frozen=True, kw_only=True)
class Token:
    """A Fleet API token pair in Home Assistant's OAuth2 shape."""

    access_token: str
    refresh_token: str
    expires_in: int
    expires_at: float
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret

    @classmethod
    def from_response(cls, data: Mapping[str, Any], now: float | None = None) -> Self:
        """Parse a token endpoint answer; ``expires_at`` comes from ``expires_in``."""
        access = data.get("access_token")
        refresh = data.get("refresh_token")
        expires_in = _int(data.get("expires_in"))
        if not isinstance(access, str) or not access:
            msg = "token answer without an access token"
            raise ValueError(msg)
        if not isinstance(refresh, str) or not refresh:
            msg = "token answer without a refresh token"
            raise ValueError(msg)
        if expires_in is None or expires_in <= 0:
            msg = "token answer without a usable expires_in"
            raise ValueError(msg)
        issued = time.time() if now is None else now
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_in=expires_in,
            expires_at=issued + expires_in,
            token_type=_str(data.get("token_type")) or "Bearer",
        )

    @classmethod
    def from_entry_data(cls, data: Mapping[str, Any]) -> Self:
        """Read the token stored in a config entry (``entry.data["token"]``)."""
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            expires_in=_int(data.get("expires_in")) or 0,
            expires_at=_float(data.get("expires_at")) or 0.0,
            token_type=_str(data.get("token_type")) or "Bearer",
        )

    def as_dict(self) -> dict[str, Any]:
        """The shape stored in ``entry.data["token"]``."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "expires_at": self.expires_at,
            "token_type": self.token_type,
        }

    def seconds_left(self, now: float | None = None) -> float:
        """Seconds until the access token expires (negative once it has)."""
        return self.expires_at - (time.time() if now is None else now)
