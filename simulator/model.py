"""The simulator's state: vehicles, clock, sleep model, tokens, limits, faults.

Nothing here runs in the background. Every question ("is the car awake?",
"where is it?", "is the token valid?") is answered from the injected clock at
the moment it is asked: a vehicle is advanced lazily from the last time it was
looked at, event by event (drive start/end, plug, wake, charge complete,
schedule start/end, falling asleep), so a test can jump a ``ManualClock``
by a week and read consistent battery levels and awake hours.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
import math
import re
import time
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from .billing import (
    PRICE_USD,
    STATE_CHECK_KINDS,
    RequestRecord,
    SimStats,
    is_billable,
)
from .chaos import FaultMix
from .commands import COMMANDS, CommandResult
from .partner import PartnerRegistry
from .tokens import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    AccessGrant,
    TokenStore,
    normalize_region,
)
from .vcp import VehicleCommandCar
from .vcp_crypto import load_public_key
from .vehicle import (
    DEFAULT_VIN,
    ChargeSchedule,
    Drive,
    LatLon,
    PairedKey,
    PlugIn,
    SimVehicle,
    TimelineEvent,
    Unplug,
    VehicleState,
    bearing_deg,
    distance_m,
    weekday_bit,
)

type RateKind = Literal["data", "wake", "command"]

DAY: Final = 86400.0
_EPSILON: Final = 1e-6


class ManualClock:
    """A clock for tests: time only moves when told to."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        """Start at epoch ``start`` (default: a Sunday afternoon in June 2025)."""
        self._now = float(start)

    def __call__(self) -> float:
        """Return the current epoch time."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go back; use set()")
        self._now += seconds
        return self._now

    def set(self, t: float) -> None:
        """Jump to epoch ``t``."""
        self._now = float(t)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests allowed per vehicle in a rolling window (Tesla's defaults)."""

    data: int = 60
    wake: int = 3
    command: int = 30
    window: float = 60.0


@dataclass
class Fault:
    """A scripted answer for the next ``times`` requests matching ``path_regex``.

    ``body`` may be a JSON object, text (HTML is sent as ``text/html``) or
    None for an empty body; ``delay`` seconds pass before the answer, so a
    client's timeout can be tested. ``times=None`` never runs out.
    """

    path_regex: str
    method: str | None = None
    status: int = 503
    body: str | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = 1
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Compile the pattern and check the numbers."""
        self._pattern = re.compile(self.path_regex)
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        if self.delay < 0:
            raise ValueError("delay cannot be negative")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault answers a request."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._pattern.search(path) is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from JSON (``POST /sim/faults``); ValueError if malformed."""
        known = {"path_regex", "method", "status", "body", "headers", "delay", "times"}
        if unknown := set(data) - known:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        path = data.get("path_regex")
        if not isinstance(path, str):
            raise ValueError("path_regex must be a string")  # noqa: TRY004
        method = data.get("method")
        if method is not None and not isinstance(method, str):
            raise ValueError("method must be a string")
        body = data.get("body")
        if body is not None and not isinstance(body, str | dict):
            raise ValueError("body must be a string, an object or null")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError("headers must map strings to strings")
        status, delay, times = (
            data.get("status", 503),
            data.get("delay", 0.0),
            data.get("times", 1),
        )
        if not isinstance(status, int) or isinstance(status, bool):
            raise ValueError("status must be an integer")  # noqa: TRY004
        if not isinstance(delay, int | float) or isinstance(delay, bool):
            raise ValueError("delay must be a number")  # noqa: TRY004
        if times is not None and (
            not isinstance(times, int) or isinstance(times, bool)
        ):
            raise ValueError("times must be an integer or null")
        try:
            return cls(path, method, status, body, dict(headers), float(delay), times)
        except re.error as err:
            raise ValueError(f"bad path_regex: {err}") from err


@dataclass(frozen=True, slots=True)
class _Trigger:
    """A charge schedule (or scheduled charging, ``schedule=None``) firing."""

    at: float
    kind: Literal["start", "end"]
    schedule: ChargeSchedule | None


def default_vehicle() -> SimVehicle:
    """The vehicle a bare simulator has: a Model 3 at home in Warsaw, 62 %, plugged."""
    return SimVehicle(vin=DEFAULT_VIN, display_name="Sim Model 3")


class FleetSimulator:
    """State of a simulated Tesla account: vehicles, tokens, limits and bills."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        vehicles: Iterable[SimVehicle] | None = None,
        start_asleep: bool = False,
        region: str = "EU",
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        allowed_origins: Iterable[str] | None = None,
        key_origin: str | None = None,
        sleep_after: float = 900.0,
        wake_delay: float = 20.0,
        access_token_lifetime: float = 28800.0,
        refresh_grace: float = 86400.0,
        rate_limits: RateLimits | None = None,
        tz: str = "Europe/Warsaw",
        schedule_radius_m: float = 100.0,
        user_id: int = 1001,
    ) -> None:
        """Create the simulator; without ``vehicles`` it has :func:`default_vehicle`.

        ``client_secret``: the application's secret for partner tokens.
        ``allowed_origins``: the application's allowed origins, which a
        registered partner domain must match (None: any domain).
        ``key_origin``: download partner keys from this origin instead of
        ``https://<domain>`` (e.g. ``http://127.0.0.1:8123``).
        """
        self.clock = clock
        self.region = normalize_region(region)
        self.sleep_after = sleep_after
        self.wake_delay = wake_delay
        self.rate_limits = rate_limits or RateLimits()
        self.tz = ZoneInfo(tz)
        self.schedule_radius_m = schedule_radius_m
        self.user_id = user_id
        self.tokens = TokenStore(
            clock,
            client_id=client_id,
            client_secret=client_secret,
            region=self.region,
            access_token_lifetime=access_token_lifetime,
            refresh_grace=refresh_grace,
        )
        self.partners = PartnerRegistry(
            clock, allowed_origins=allowed_origins, key_origin=key_origin
        )
        """The applications' partner accounts (``/api/1/partner_accounts``)."""
        self.vehicles: dict[str, SimVehicle] = {}
        self.stats = SimStats()
        self.requests: list[RequestRecord] = []
        self.faults: list[Fault] = []
        # Random faults at configurable rates (soak tests); None: none.
        self.chaos: FaultMix | None = None
        # Account-level answers Tesla has been seen to give (issue 19).
        self.monthly_limit_usd: float | None = None
        """Past this many dollars of paid requests in a calendar month (UTC),
        paid requests answer 403 ``account disabled: EXCEEDED_LIMIT`` until
        the next month; None: no limit."""
        self.account_disabled = False
        """Answer paid requests with ``EXCEEDED_LIMIT`` now, whatever the bill."""
        self.retry_after_header = True
        """False: a 429 of the rate limiter carries ``RateLimit-*`` headers only."""
        self.drive_state_needs_location = True
        """Tesla's 2026 behaviour: without the ``vehicle_location`` scope,
        ``vehicle_data`` has no ``drive_state`` at all."""
        self._month: tuple[int, int] | None = None
        self._month_usd = 0.0
        self._synced: dict[str, float] = {}
        self._schedules_checked: dict[str, float] = {}
        self._rate_windows: dict[tuple[str, RateKind], deque[float]] = {}
        self._command_cars: dict[str, VehicleCommandCar] = {}
        for vehicle in [default_vehicle()] if vehicles is None else vehicles:
            self.add_vehicle(vehicle, asleep=start_asleep)

    # --- vehicles -------------------------------------------------------

    def add_vehicle(self, vehicle: SimVehicle, *, asleep: bool = False) -> SimVehicle:
        """Add a vehicle, online (idle from now) unless ``asleep``."""
        if vehicle.vin in self.vehicles:
            raise ValueError(f"vehicle {vehicle.vin} already exists")
        number = len(self.vehicles) + 1
        vehicle.id = vehicle.id or 100_000 + number
        vehicle.vehicle_id = vehicle.vehicle_id or 200_000 + number
        now = self.clock()
        if not asleep:
            self._own_activity(vehicle, now)
        self.vehicles[vehicle.vin] = vehicle
        self._synced[vehicle.vin] = now
        self._schedules_checked[vehicle.vin] = now
        return vehicle

    def find_vehicle(self, ref: str) -> SimVehicle | None:
        """The vehicle with this VIN or numeric id (not advanced), or None."""
        if ref in self.vehicles:
            return self.vehicles[ref]
        return next((v for v in self.vehicles.values() if str(v.id) == ref), None)

    def account_vehicle(self, ref: str) -> SimVehicle | None:
        """Like :meth:`find_vehicle`, but None for a car gone from the account."""
        vehicle = self.find_vehicle(ref)
        return None if vehicle is None or vehicle.removed else vehicle

    def listed_vehicles(self) -> list[SimVehicle]:
        """The vehicles the account still has, in the order they were added."""
        return [v for v in self.vehicles.values() if not v.removed]

    def renumber_schedules(self, vin: str) -> None:
        """The car gives its charge schedules new ids of its own (1, 2, ...)."""
        vehicle = self.vehicle(vin)
        for number, schedule in enumerate(vehicle.charge_schedules, start=1):
            schedule.id = number

    def vehicle(self, ref: str) -> SimVehicle:
        """The vehicle with this VIN or id, advanced to now; KeyError if unknown."""
        vehicle = self.find_vehicle(ref)
        if vehicle is None:
            raise KeyError(ref)
        self.sync(vehicle)
        return vehicle

    def sync(self, vehicle: SimVehicle | None = None) -> None:
        """Advance one vehicle (or all) to the clock's time."""
        now = self.clock()
        for v in [vehicle] if vehicle is not None else list(self.vehicles.values()):
            self._advance(v, now)

    def state(self, ref: str) -> VehicleState:
        """``online``, ``asleep`` or ``offline`` now."""
        vehicle = self.vehicle(ref)
        return self._state_at(vehicle, self.clock())

    def position(self, vehicle: SimVehicle) -> LatLon:
        """Where the vehicle is now (interpolated while driving)."""
        self.sync(vehicle)
        if vehicle.drive is not None:
            return vehicle.drive.position_at(self.clock())
        return vehicle.position

    def awake_seconds(self, ref: str) -> float:
        """Seconds the vehicle spent online since it was added or stats were reset."""
        return self.vehicle(ref).awake_seconds

    def schedule(self, vin: str, *events: TimelineEvent) -> None:
        """Add timeline events (drives, plug in/out) for a vehicle.

        Events dated before the vehicle's current time are applied, in order,
        at the next look (their end state counts, charging time does not).
        """
        vehicle = self.vehicle(vin)
        vehicle.add_pending(events)

    def plug_in(self, vin: str, *, auto_start: bool = True) -> None:
        """Plug the cable in now."""
        self.schedule(vin, PlugIn(self.clock(), auto_start=auto_start))
        self.sync(self.vehicles[vin])

    def unplug(self, vin: str) -> None:
        """Pull the cable out now."""
        self.schedule(vin, Unplug(self.clock()))
        self.sync(self.vehicles[vin])

    def move_to(self, vin: str, latitude: float, longitude: float) -> None:
        """Put a parked vehicle somewhere else at once."""
        vehicle = self.vehicle(vin)
        if vehicle.driving:
            raise ValueError("the vehicle is driving")
        vehicle.latitude, vehicle.longitude = latitude, longitude

    def drive_to(
        self,
        vin: str,
        destination: LatLon,
        seconds: float,
        *,
        destination_name: str | None = None,
        plug_in_after: float | None = None,
    ) -> Drive:
        """Start a drive from where the vehicle is now (navigating when named).

        ``plug_in_after``: the cable goes in that many seconds after arrival.
        """
        vehicle = self.vehicle(vin)
        if vehicle.driving:
            raise ValueError("the vehicle is driving")
        now = self.clock()
        drive = Drive(
            now,
            vehicle.position,
            destination,
            seconds,
            destination_name=destination_name,
        )
        events: list[TimelineEvent] = [drive]
        if plug_in_after is not None:
            events.append(PlugIn(drive.end + plug_in_after))
        self.schedule(vin, *events)
        self.sync(vehicle)
        return drive

    def put_to_sleep(self, vin: str) -> None:
        """Let an idle vehicle fall asleep now (as if ``sleep_after`` had passed)."""
        vehicle = self.vehicle(vin)
        vehicle.last_activity = vehicle.own_activity = -math.inf
        vehicle.wake_at = None

    def touch(self, vehicle: SimVehicle) -> None:
        """Live data or a command reached the car: it stays awake longer."""
        vehicle.last_activity = max(vehicle.last_activity, self.clock())

    def request_wake(self, vehicle: SimVehicle) -> VehicleState:
        """Handle ``wake_up``: return the state now; a sleeping car wakes later."""
        self.sync(vehicle)
        now = self.clock()
        state = self._state_at(vehicle, now)
        if state == "online":
            self.touch(vehicle)
        elif state == "asleep" and vehicle.forced_state is None:
            if vehicle.wake_at is None:
                vehicle.wake_at = now + self.wake_delay
            if self.wake_delay <= 0:
                self.sync(vehicle)
        return state

    def execute_command(
        self, vehicle: SimVehicle, name: str, params: Mapping[str, Any]
    ) -> CommandResult:
        """Run a command on an online vehicle; KeyError for unknown commands."""
        handler = COMMANDS[name]
        self.sync(vehicle)
        result = handler(vehicle, params, self.clock())
        self.touch(vehicle)
        return result

    # --- the Vehicle Command Protocol and the keychain ----------------------

    def command_car(self, vehicle: SimVehicle) -> VehicleCommandCar:
        """The car's end of ``signed_command`` (booted on first use)."""
        car = self._command_cars.get(vehicle.vin)
        if car is None:
            car = self._command_cars[vehicle.vin] = VehicleCommandCar(
                vehicle, self.clock
            )
        return car

    def pair_key(self, vin: str, public_key: bytes, domain: str = "") -> PairedKey:
        """The owner approves a key (``tesla.com/_ak/<domain>``): it is paired."""
        if load_public_key(public_key) is None:
            raise ValueError("public_key must be a 65-byte uncompressed P-256 point")
        vehicle = self.vehicle(vin)
        paired = PairedKey(public_key, domain, self.clock())
        vehicle.paired_keys[public_key] = paired
        return paired

    def unpair_key(self, vin: str, public_key: bytes | None = None) -> int:
        """Remove a key (None: every key) from the keychain; return how many."""
        keys = self.vehicle(vin).paired_keys
        if public_key is None:
            count = len(keys)
            keys.clear()
            return count
        return 1 if keys.pop(public_key, None) is not None else 0

    def key_paired(self, vehicle: SimVehicle, client_id: str | None = None) -> bool:
        """What ``fleet_status`` tells the application ``client_id``.

        An application with a partner account: its registered key is on the
        keychain. Otherwise (or with no application named): the proxy's key
        (``key_paired``) or any key on the keychain.
        """
        account = None if client_id is None else self.partners.by_client(client_id)
        if account is not None:
            return account.public_key in vehicle.paired_keys
        return vehicle.key_paired or bool(vehicle.paired_keys)

    def next_scheduled_charging_start(self, vehicle: SimVehicle) -> float | None:
        """Epoch of the next scheduled-charging start, None when it is off."""
        if not vehicle.scheduled_charging_enabled:
            return None
        now = self.clock()
        today = datetime.fromtimestamp(now, self.tz).date()
        for offset in range(3):
            at = self._local(
                today + timedelta(days=offset), vehicle.scheduled_charging_start_time
            )
            if at > now:
                return at
        return None  # pragma: no cover - a day always has the next start

    def utc_offset(self) -> int:
        """Seconds the vehicles' local time is ahead of UTC now."""
        offset = datetime.fromtimestamp(self.clock(), self.tz).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    # --- tokens -----------------------------------------------------------

    def issue_tokens(
        self, scopes: Iterable[str] | None = None, region: str | None = None
    ) -> dict[str, Any]:
        """A fresh token pair, as the token endpoint would answer it."""
        return self.tokens.issue(scopes, region)

    def create_auth_code(
        self, scopes: Iterable[str] | None = None, region: str | None = None
    ) -> str:
        """Register a single-use authorization code for ``authorization_code``."""
        return self.tokens.create_auth_code(scopes, region)

    def authenticate(self, access_token: str) -> AccessGrant | None:
        """The grant of a valid access token, else None."""
        return self.tokens.authenticate(access_token)

    # --- rate limits, faults, stats ----------------------------------------

    def check_rate_limit(self, vin: str, kind: RateKind) -> int | None:
        """Count a request; return Retry-After seconds if it is over the limit."""
        now = self.clock()
        limits = self.rate_limits
        window = self._rate_windows.setdefault((vin, kind), deque())
        while window and window[0] <= now - limits.window:
            window.popleft()
        allowed: int = getattr(limits, kind)
        if len(window) >= allowed:
            return max(1, math.ceil(window[0] + limits.window - now))
        window.append(now)
        return None

    def add_fault(self, fault: Fault) -> Fault:
        """Answer the next matching requests with ``fault``."""
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> int:
        """Remove all scripted faults; return how many there were."""
        count = len(self.faults)
        self.faults.clear()
        return count

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first fault matching a request, using up one of its ``times``."""
        for fault in self.faults:
            if fault.matches(method, path):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                return fault
        return None

    def record_request(self, record: RequestRecord) -> None:
        """Log and count one answered request (the single place requests count)."""
        self.requests.append(record)
        self.stats.add(record)
        if (
            is_billable(record.category, record.status)
            and record.kind not in STATE_CHECK_KINDS
        ):
            self._roll_month()
            self._month_usd += PRICE_USD.get(record.category, 0.0)

    def _roll_month(self) -> tuple[int, int]:
        now = datetime.fromtimestamp(self.clock(), UTC)
        month = (now.year, now.month)
        if month != self._month:
            self._month, self._month_usd = month, 0.0
        return month

    def paid_usd_this_month(self) -> float:
        """Dollars of paid requests (not state checks) this calendar month."""
        self._roll_month()
        return self._month_usd

    def account_disabled_until(self) -> float | None:
        """Epoch when paid requests work again, None if they work now.

        A disabled account (``account_disabled`` or past ``monthly_limit_usd``)
        comes back at the start of the next calendar month (UTC).
        """
        year, month = self._roll_month()
        over = (
            self.monthly_limit_usd is not None
            and self._month_usd >= self.monthly_limit_usd
        )
        if not (over or self.account_disabled):
            return None
        following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return following.timestamp()

    def reset_stats(self) -> None:
        """Zero the counters, the request log and the awake time."""
        self.sync()
        for vehicle in self.vehicles.values():
            vehicle.awake_seconds = 0.0
            vehicle.awake_seconds_caused = 0.0
        self.stats = SimStats()
        self.requests.clear()

    def stats_dict(self) -> dict[str, Any]:
        """Counters, cost and awake time as JSON (``GET /sim/stats``)."""
        self.sync()
        data = self.stats.as_dict()
        data["awake_seconds"] = {
            vin: round(v.awake_seconds, 3) for vin, v in self.vehicles.items()
        }
        data["awake_hours"] = {
            vin: round(v.awake_seconds / 3600, 4) for vin, v in self.vehicles.items()
        }
        data["awake_seconds_caused"] = {
            vin: round(v.awake_seconds_caused, 3) for vin, v in self.vehicles.items()
        }
        return data

    # --- the lazy time engine ---------------------------------------------

    def _state_at(self, vehicle: SimVehicle, t: float) -> VehicleState:
        if vehicle.forced_state is not None:
            return vehicle.forced_state
        return "online" if self._online_at(vehicle, t) else "asleep"

    def _online_at(self, vehicle: SimVehicle, t: float) -> bool:
        if vehicle.forced_state is not None:
            return vehicle.forced_state == "online"
        if vehicle.driving or vehicle.charging:
            return True
        return t < vehicle.last_activity + self.sleep_after

    def _advance(self, vehicle: SimVehicle, now: float) -> None:
        t = self._synced[vehicle.vin]
        if now < t:
            return  # the clock went back: keep the state
        self._apply_due(vehicle, t)
        while t < now:
            step_end = min(now, self._next_boundary(vehicle, t))
            self._integrate(vehicle, t, step_end)
            t = step_end
            self._synced[vehicle.vin] = t
            self._apply_due(vehicle, t)

    def _next_boundary(self, v: SimVehicle, t: float) -> float:
        candidates = [
            v.last_activity + self.sleep_after,
            v.own_activity + self.sleep_after,
        ]
        if v.pending:
            candidates.append(v.pending[0].at)
        if v.drive is not None:
            candidates.append(v.drive.end)
        if v.wake_at is not None:
            candidates.append(v.wake_at)
        if v.charging:
            candidates.append(t + v.seconds_to_limit())
        if v.plugged_in and (trigger := self._triggers(v, t, t + 8 * DAY)):
            candidates.append(trigger[0].at)
        return min((c for c in candidates if c > t), default=math.inf)

    @staticmethod
    def _own_activity(v: SimVehicle, t: float) -> None:
        """The car itself did something at ``t``: it stays awake from there."""
        v.last_activity = max(v.last_activity, t)
        v.own_activity = max(v.own_activity, t)

    def _integrate(self, v: SimVehicle, start: float, end: float) -> None:
        """Advance continuous quantities over a span where nothing changes."""
        if self._online_at(v, start):
            v.awake_seconds += end - start
            if (
                v.forced_state is None
                and not (v.driving or v.charging)
                and start >= v.own_activity + self.sleep_after
            ):
                v.awake_seconds_caused += end - start
        if v.drive is not None:
            fraction = v.drive.fraction_at(end)
            self._drain(v, v.drive, fraction - v.drive_fraction)
            v.drive_fraction = fraction
        if v.charging:
            missing = (v.charge_limit_soc - v.battery_level) / 100
            kwh = min(
                v.charge_power_kw * (end - start) / 3600,
                max(0.0, missing * v.battery_capacity_kwh),
            )
            v.battery_level += kwh / v.battery_capacity_kwh * 100
            v.charge_energy_added += kwh

    @staticmethod
    def _drain(v: SimVehicle, drive: Drive, fraction: float) -> None:
        km = drive.distance_km * fraction
        v.odometer_km += km
        used = km * v.consumption_kwh_per_km / v.battery_capacity_kwh * 100
        v.battery_level = max(0.0, v.battery_level - used)

    def _apply_due(self, v: SimVehicle, t: float) -> None:
        """Apply every discrete change due at or before ``t``."""
        while v.pending and v.pending[0].at <= t:
            event = v.pending.pop(0)
            if v.drive is not None and v.drive.end <= event.at:
                self._finish_drive(v)
            self._apply_event(v, event)
        if v.drive is not None and v.drive.end <= t:
            self._finish_drive(v)
        if v.wake_at is not None and v.wake_at <= t:
            v.last_activity = max(v.last_activity, v.wake_at)
            v.wake_at = None
        self._check_complete(v, t)
        checked = self._schedules_checked[v.vin]
        if t > checked:
            if v.plugged_in:
                for trigger in self._triggers(v, checked, t):
                    self._fire(v, trigger)
            self._schedules_checked[v.vin] = t

    def _check_complete(self, v: SimVehicle, t: float) -> None:
        if v.charging and v.battery_level >= v.charge_limit_soc - _EPSILON:
            v.battery_level = max(v.battery_level, float(v.charge_limit_soc))
            v.charging_state = "Complete"
            self._own_activity(v, t)

    def _apply_event(self, v: SimVehicle, event: TimelineEvent) -> None:
        if isinstance(event, Drive):
            if v.drive is not None:
                self._finish_drive(v)
            if v.plugged_in:
                v.plugged_in = False
                v.charging_state = "Disconnected"
            v.drive = event
            v.drive_fraction = 0.0
            v.latitude, v.longitude = event.origin
            v.heading = bearing_deg(event.origin, event.destination)
        elif isinstance(event, PlugIn):
            if v.drive is not None:
                return  # nobody plugs in a moving car
            v.plugged_in = True
            v.charge_energy_added = 0.0
            if v.battery_level >= v.charge_limit_soc:
                v.charging_state = "Complete"
            elif event.auto_start and not self._waits_for_schedule(v, event.at):
                v.charging_state = "Charging"
            else:
                v.charging_state = "Stopped"
        else:
            v.plugged_in = False
            v.charging_state = "Disconnected"
        # Driving, plugging and unplugging all wake the car.
        self._own_activity(v, event.at)

    def _finish_drive(self, v: SimVehicle) -> None:
        drive = v.drive
        if drive is None:  # pragma: no cover - callers check
            return
        self._drain(v, drive, 1.0 - v.drive_fraction)
        v.latitude, v.longitude = drive.destination
        v.last_drive = drive
        v.drive = None
        v.drive_fraction = 0.0
        self._own_activity(v, drive.end)

    # --- charge schedules ---------------------------------------------------

    def _local(self, day: date, minutes: int) -> float:
        hour, minute = divmod(minutes, 60)
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)
        return local.timestamp()

    def _schedule_here(self, v: SimVehicle, schedule: ChargeSchedule) -> bool:
        here = (schedule.latitude, schedule.longitude)
        return distance_m(v.position, here) <= self.schedule_radius_m

    def _triggers(self, v: SimVehicle, after: float, until: float) -> list[_Trigger]:
        """Schedule starts and ends with ``after < at <= until``, in order."""
        if not v.scheduled_charging_enabled and not v.charge_schedules:
            return []
        first = datetime.fromtimestamp(after, self.tz).date()
        days = int((until - after) // DAY) + 2
        found: list[_Trigger] = []
        for offset in range(-1, days + 1):
            day = first + timedelta(days=offset)
            if v.scheduled_charging_enabled:
                start = self._local(day, v.scheduled_charging_start_time)
                found.append(_Trigger(start, "start", None))
            for schedule in v.charge_schedules:
                found.extend(self._schedule_triggers(v, schedule, day))
        return sorted((t for t in found if after < t.at <= until), key=lambda t: t.at)

    def _schedule_triggers(
        self, v: SimVehicle, schedule: ChargeSchedule, day: date
    ) -> list[_Trigger]:
        if (
            not schedule.enabled
            or not schedule.days_of_week & weekday_bit(day.weekday())
            or not self._schedule_here(v, schedule)
        ):
            return []
        found = []
        if schedule.start_enabled:
            start = self._local(day, schedule.start_time)
            found.append(_Trigger(start, "start", schedule))
        if schedule.end_enabled:
            overnight = (
                schedule.start_enabled and schedule.end_time <= schedule.start_time
            )
            end_day = day + timedelta(days=1) if overnight else day
            end = self._local(end_day, schedule.end_time)
            found.append(_Trigger(end, "end", schedule))
        return found

    def _inside_window(self, v: SimVehicle, schedule: ChargeSchedule, t: float) -> bool:
        if not (schedule.start_enabled and schedule.end_enabled):
            return False
        today = datetime.fromtimestamp(t, self.tz).date()
        for day in (today - timedelta(days=1), today):
            triggers = self._schedule_triggers(v, schedule, day)
            if len(triggers) == 2 and triggers[0].at <= t < triggers[1].at:
                return True
        return False

    def _waits_for_schedule(self, v: SimVehicle, t: float) -> bool:
        """Whether a car plugged in at ``t`` waits for a schedule to start."""
        schedules = [
            s
            for s in v.charge_schedules
            if s.enabled and s.start_enabled and self._schedule_here(v, s)
        ]
        if not schedules and not v.scheduled_charging_enabled:
            return False
        return not any(self._inside_window(v, s, t) for s in schedules)

    def _fire(self, v: SimVehicle, trigger: _Trigger) -> None:
        if trigger.kind == "start":
            if v.charging_state == "Stopped" and not v.driving:
                if v.battery_level < v.charge_limit_soc:
                    v.charging_state = "Charging"
                else:
                    v.charging_state = "Complete"
        elif v.charging_state == "Charging":
            v.charging_state = "Stopped"
            self._own_activity(v, trigger.at)
        schedule = trigger.schedule
        if (
            schedule is not None
            and schedule.one_time
            and (trigger.kind == "end" or not schedule.end_enabled)
        ):
            schedule.enabled = False
