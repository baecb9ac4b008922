"""A simulated Tesla: its settings, charge schedules and timeline events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
import math
from typing import Any, Final, Literal

type VehicleState = Literal["online", "asleep", "offline"]
type CommandSigning = Literal["off", "allowed", "required"]
type ChargingState = Literal[
    "Disconnected", "Stopped", "Starting", "Charging", "Complete", "NoPower"
]
type LatLon = tuple[float, float]
type ScheduleIds = Literal["kept", "car_assigned"]
type UnknownKeyAnswer = Literal["fault", "whitelist_status"]

DEFAULT_VIN: Final = "LRW3F7EK4NC000001"
HOME_WARSAW: Final[LatLon] = (52.2297, 21.0122)
WORK_WARSAW: Final[LatLon] = (52.1700, 20.9700)
EARTH_RADIUS_M: Final = 6_371_000.0
KM_PER_MILE: Final = 1.609344

# Tesla's days_of_week bitmask: Sunday 1, Monday 2, ... Saturday 64.
DAY_BITS: Final[dict[str, int]] = {
    "sunday": 1,
    "monday": 2,
    "tuesday": 4,
    "wednesday": 8,
    "thursday": 16,
    "friday": 32,
    "saturday": 64,
}
ALL_DAYS: Final = 127
WEEKDAYS: Final = 62
WEEKENDS: Final = 65
_DAY_NAMES: Final[dict[str, int]] = {
    **DAY_BITS,
    **{day[:3]: bit for day, bit in DAY_BITS.items()},
    "all": ALL_DAYS,
    "weekdays": WEEKDAYS,
    "weekends": WEEKENDS,
}


def distance_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance between two positions in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def bearing_deg(a: LatLon, b: LatLon) -> int:
    """Initial compass bearing from ``a`` to ``b`` in whole degrees."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(
        lon2 - lon1
    )
    return round(math.degrees(math.atan2(y, x))) % 360


def weekday_bit(python_weekday: int) -> int:
    """Tesla's day bit for a Python weekday (Monday 0 ... Sunday 6)."""
    return 1 << ((python_weekday + 1) % 7)


def parse_days_of_week(value: object) -> int:
    """Turn ``"All"``, ``"Weekdays"``, ``"Monday,Friday"`` or a bitmask into a mask."""
    if isinstance(value, bool):
        raise TypeError("days_of_week must be a string or a bitmask")
    if isinstance(value, int):
        if not 0 < value <= ALL_DAYS:
            raise ValueError(f"days_of_week bitmask {value} out of range")
        return value
    if not isinstance(value, str):
        raise TypeError("days_of_week must be a string or a bitmask")
    mask = 0
    for part in value.split(","):
        name = part.strip().lower()
        if name not in _DAY_NAMES:
            raise ValueError(f"unknown day {part!r}")
        mask |= _DAY_NAMES[name]
    return mask


@dataclass(slots=True)
class ChargeSchedule:
    """One entry of the car's charge schedules (``add_charge_schedule``)."""

    id: int
    name: str = ""
    days_of_week: int = ALL_DAYS
    enabled: bool = True
    start_enabled: bool = False
    start_time: int = 0
    end_enabled: bool = False
    end_time: int = 0
    one_time: bool = False
    latitude: float = 0.0
    longitude: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The schedule as ``charge_schedule_data`` reports it."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PairedKey:
    """A third-party key on the car's keychain, as the owner approved it.

    The owner pairs a key by opening ``https://tesla.com/_ak/<domain>`` in the
    Tesla app; the key then works with both the VCSEC and INFOTAINMENT
    domains (the infotainment keychain follows VCSEC's).
    """

    public_key: bytes
    """The 65-byte uncompressed P-256 point (``04 || X || Y``)."""
    domain: str = ""
    """The partner domain the car shows next to the key."""
    paired_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the key as hex)."""
        return {
            "public_key": self.public_key.hex(),
            "domain": self.domain,
            "paired_at": self.paired_at,
        }


@dataclass(frozen=True, slots=True)
class Drive:
    """A trip from ``origin`` to ``destination`` starting at epoch ``start``."""

    start: float
    origin: LatLon
    destination: LatLon
    duration: float
    destination_name: str | None = None

    def __post_init__(self) -> None:
        """Refuse a drive that takes no time."""
        if self.duration <= 0:
            raise ValueError("a drive needs a positive duration")

    @property
    def at(self) -> float:
        """When the event happens (the start of the drive)."""
        return self.start

    @property
    def end(self) -> float:
        """Arrival time."""
        return self.start + self.duration

    @property
    def distance_km(self) -> float:
        """Length of the trip (great circle)."""
        return distance_m(self.origin, self.destination) / 1000

    @property
    def speed_kmh(self) -> float:
        """Average speed."""
        return self.distance_km / (self.duration / 3600)

    def fraction_at(self, t: float) -> float:
        """Share of the trip done at time ``t``, 0..1."""
        return min(1.0, max(0.0, (t - self.start) / self.duration))

    def position_at(self, t: float) -> LatLon:
        """Interpolated position at time ``t``."""
        f = self.fraction_at(t)
        return (
            self.origin[0] + (self.destination[0] - self.origin[0]) * f,
            self.origin[1] + (self.destination[1] - self.origin[1]) * f,
        )


@dataclass(frozen=True, slots=True)
class PlugIn:
    """The cable goes in at ``at``.

    With ``auto_start`` the car behaves like a real one: it starts charging at
    once unless a schedule at this location (or scheduled charging) makes it wait.
    """

    at: float
    auto_start: bool = True


@dataclass(frozen=True, slots=True)
class Unplug:
    """The cable comes out at ``at``."""

    at: float


type TimelineEvent = Drive | PlugIn | Unplug


@dataclass
class SimVehicle:
    """A simulated vehicle; live values are advanced by the simulator's clock."""

    vin: str
    display_name: str = "Sim Model 3"
    id: int = 0
    vehicle_id: int = 0
    latitude: float = HOME_WARSAW[0]
    longitude: float = HOME_WARSAW[1]
    heading: int = 0
    battery_level: float = 62.0
    battery_capacity_kwh: float = 75.0
    rated_range_km: float = 500.0
    consumption_kwh_per_km: float = 0.16
    charge_limit_soc: int = 80
    plugged_in: bool = True
    charging_state: ChargingState = "Stopped"
    charger_power_kw: float = 11.0
    charger_voltage: int = 230
    charger_phases: int = 3
    charge_amps: int = 16
    charge_current_max: int = 16
    scheduled_charging_enabled: bool = False
    scheduled_charging_start_time: int = 0
    charge_schedules: list[ChargeSchedule] = field(default_factory=list)
    command_signing: CommandSigning = "required"
    key_paired: bool = True
    """The key of the app's command proxy (``/proxy``, whose key the simulator
    never sees) is paired. ``fleet_status`` counts it as paired, as it does
    any key on ``paired_keys``."""
    paired_keys: dict[bytes, PairedKey] = field(default_factory=dict)
    """The keychain ``signed_command`` checks: public key to its pairing."""
    firmware_version: str = "2024.44.25.3"
    forced_state: VehicleState | None = None
    odometer_km: float = 12_000.0
    charge_energy_added: float = 0.0
    awake_seconds: float = 0.0
    awake_seconds_caused: float = 0.0
    """Of those, the seconds it was awake only because of requests (live data,
    wakes, commands): parked, not charging, and past its own sleep time."""
    last_activity: float = -math.inf
    own_activity: float = -math.inf
    """The car's own last activity (a drive, plugging, charging, a schedule)."""
    wake_at: float | None = None
    # --- real-world quirks (issue 19); all off by default ---------------
    removed: bool = False
    """Gone from the account (sold, or the share removed): not listed, 404."""
    mobile_access_disabled: bool = False
    """The owner switched off mobile access: the car's calls answer 401."""
    record_overrides: dict[str, Any] = field(default_factory=dict)
    """Values that replace fields of the vehicle's record (null allowed)."""
    record_missing: list[str] = field(default_factory=list)
    """Fields left out of the vehicle's record."""
    data_overrides: dict[str, Any] = field(default_factory=dict)
    """``"section.field"`` to a value that replaces it in ``vehicle_data``."""
    data_missing: list[str] = field(default_factory=list)
    """``"section.field"`` (or a whole ``"section"``) left out of ``vehicle_data``."""
    reported_charger_voltage: int | None = None
    """While charging, the voltage the car reports instead of the real one
    (e.g. 400, the line-to-line value of a three-phase supply)."""
    reported_charger_phases: int | None = None
    """While charging, the phase count the car reports instead of the real one."""
    gps_lag_s: float = 0.0
    """How much older than the record the reported position fix is."""
    schedule_ids: ScheduleIds = "kept"
    """``car_assigned``: the car ignores the id of a new charge schedule and
    numbers it itself."""
    float32_positions: bool = False
    unknown_key_answer: UnknownKeyAnswer = "fault"
    """How ``signed_command`` refuses a key that is not paired: the fault
    ``UNKNOWN_KEY_ID``, or (``whitelist_status``) a session info whose status
    is ``KEY_NOT_ON_WHITELIST``. Tesla's Go client reads both as "not paired"."""
    """Store charge schedules' latitude/longitude as float32, as the car does."""
    drive: Drive | None = field(default=None, repr=False)
    last_drive: Drive | None = field(default=None, repr=False)
    drive_fraction: float = field(default=0.0, repr=False)
    pending: list[TimelineEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        """Keep the charging state consistent with the plug."""
        if not self.plugged_in:
            self.charging_state = "Disconnected"

    @property
    def position(self) -> LatLon:
        """Last stored position (the simulator interpolates while driving)."""
        return (self.latitude, self.longitude)

    @property
    def driving(self) -> bool:
        """Whether a drive is under way."""
        return self.drive is not None

    @property
    def charging(self) -> bool:
        """Whether energy flows into the battery."""
        return self.charging_state == "Charging" and self.plugged_in

    @property
    def effective_amps(self) -> int:
        """Current the car draws while charging."""
        return max(0, min(self.charge_amps, self.charge_current_max))

    @property
    def charge_power_kw(self) -> float:
        """Charging power now (0 when not charging)."""
        if not self.charging:
            return 0.0
        ac_kw = self.effective_amps * self.charger_voltage * self.charger_phases / 1000
        return max(0.0, min(self.charger_power_kw, ac_kw))

    @property
    def range_km(self) -> float:
        """Rated range left."""
        return self.rated_range_km * self.battery_level / 100

    def fix_at(self, t: float) -> LatLon:
        """Where the car was at ``t``, as far as its last two drives tell.

        A stale position fix (``gps_lag_s``) reports this place.
        """
        for drive in (self.drive, self.last_drive):
            if drive is not None and t >= drive.start:
                return drive.position_at(t)
        earliest = self.last_drive or self.drive
        return earliest.origin if earliest is not None else self.position

    def seconds_to_limit(self) -> float:
        """Seconds of charging left until the limit, ``inf`` if it never ends."""
        power = self.charge_power_kw
        missing_kwh = (
            (self.charge_limit_soc - self.battery_level)
            / 100
            * self.battery_capacity_kwh
        )
        if missing_kwh <= 0:
            return 0.0
        if power <= 0:
            return math.inf
        return missing_kwh / power * 3600

    def add_pending(self, events: Iterable[TimelineEvent]) -> None:
        """Insert timeline events, keeping them ordered by time."""
        self.pending.extend(events)
        self.pending.sort(key=lambda event: event.at)
