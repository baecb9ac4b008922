"""One scout cycle, HA-free: where the cars are, without ever waking them.

Per cycle: **one** vehicle-list request for all cars, then for each configured
car that is ``online`` (and not inside its parked quiet window) **one**
``vehicle_data`` with ``location_data``. Never ``wake_up``, never a command,
never live data for a car that is not ``online``. The Home Assistant
coordinator (``scout.py``) and the cost benchmark both drive this class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import time
from enum import StrEnum
import logging
from typing import Any
import zlib

from ..fleet import (
    CHARGING_STATES_ACTIVE,
    RateLimitedError,
    TeslaAuthenticationError,
    TeslaFleetClient,
    TeslaFleetError,
    VehicleData,
    VehicleState,
    VehicleUnavailableError,
    WrongRegionError,
    vin_tail,
)
from .geo import distance_m, is_at_home
from .planner import MAX_WINDOWS
from .policy import (
    VehicleOutlook,
    failed_check_interval,
    may_fetch_live_data,
    next_interval,
)

_LOGGER = logging.getLogger(__name__)

LIVE_DATA_ENDPOINTS = (
    "charge_state",
    "charge_schedule_data",
    "drive_state",
    "location_data",
    "vehicle_state",
)
"""One request gives position, gear, plug, schedule and firmware: what the
scout needs and what a worker run right after it needs too (so it need not
read again). Tesla bills a request, not its size."""
SCOUT_ENDPOINTS = LIVE_DATA_ENDPOINTS

DEFAULT_RETRY_AFTER_S = 60.0
"""Back-off after a 429 that did not say how long to wait."""

DRIVING_GEARS = frozenset({"D", "R", "N"})
HOME_DESTINATION_M = 250.0
"""A navigation destination this close to home counts as "going home"."""
DEFAULT_DEPARTURE = time(7, 0)


class TransitionKind(StrEnum):
    """What changed for a vehicle in a cycle."""

    STATE_CHANGED = "state_changed"
    ARRIVED_HOME = "arrived_home"
    LEFT_HOME = "left_home"
    FIRST_SEEN_HOME = "init"
    PLUGGED_IN_AT_HOME = "plugged_in_at_home"
    """The cable went in at home (no bus event: a run waiting for it runs)."""


@dataclass(frozen=True, kw_only=True)
class Transition:
    """One change worth an event (or a worker run)."""

    vin: str
    kind: TransitionKind
    from_state: str | None = None
    to_state: str | None = None


@dataclass(frozen=True, kw_only=True)
class VehicleStatus:
    """What is known about one vehicle; positions are the last known ones.

    Frozen: the tracker replaces it on every change, so a snapshot handed to
    Home Assistant never changes under its readers.
    """

    vin: str
    display_name: str | None = None
    state: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    heading: int | None = None
    speed_mph: float | None = None
    shift_state: str | None = None
    distance_m: float | None = None
    previous_distance_m: float | None = None
    at_home: bool | None = None
    battery_level: int | None = None
    battery_range: float | None = None
    charge_limit_soc: int | None = None
    charging_state: str | None = None
    plugged_in: bool | None = None
    charger_power_kw: float | None = None
    minutes_to_arrival: float | None = None
    destination_is_home: bool = False
    firmware: tuple[int, int] | None = None
    """The car's software version (year, release), from ``vehicle_state``."""
    last_data_at: float | None = None
    """When live data last came from the car (epoch seconds)."""
    parked_seen_at: float | None = None
    """When the car was last seen parked (no live data for a while after)."""

    @property
    def name(self) -> str:
        """How logs name the car: its display name, or the last VIN characters."""
        return self.display_name or vin_tail(self.vin)

    @property
    def online(self) -> bool:
        """Awake, as far as the last state check knows."""
        return self.state == VehicleState.ONLINE

    @property
    def charging(self) -> bool:
        """Charging (or starting to), as far as the last live data knows."""
        return self.charging_state in CHARGING_STATES_ACTIVE

    @property
    def driving(self) -> bool:
        """Online and in gear."""
        return self.online and self.shift_state in DRIVING_GEARS

    def outlook(self) -> VehicleOutlook:
        """What the scheduling policy needs from this status."""
        return VehicleOutlook(
            online=self.online,
            at_home=self.at_home,
            driving=self.driving,
            distance_m=self.distance_m,
            previous_distance_m=self.previous_distance_m,
            speed_mph=self.speed_mph,
            minutes_to_arrival=self.minutes_to_arrival,
            destination_is_home=self.destination_is_home,
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy (for the store and diagnostics)."""
        data = asdict(self)
        data["firmware"] = list(self.firmware) if self.firmware else None
        return data

    @classmethod
    def from_dict(cls, vin: str, data: Mapping[str, Any]) -> VehicleStatus:
        """The status saved by :meth:`as_dict`; unknown keys are ignored."""
        known = {f.name for f in fields(cls)} - {"vin"}
        values = {key: data[key] for key in known if key in data}
        firmware = values.get("firmware")
        values["firmware"] = (
            (int(firmware[0]), int(firmware[1]))
            if isinstance(firmware, list | tuple) and len(firmware) == 2
            else None
        )
        return cls(vin=vin, **values)


@dataclass(frozen=True)
class VehicleSettings:
    """The user's daily settings of one car (its switch and time entities)."""

    smart_charging: bool = False
    departure: time = DEFAULT_DEPARTURE


OWN_SCHEDULES = MAX_WINDOWS
"""Charge schedules of this integration in one car, at most."""
type ScheduleWindows = tuple[tuple[int, int] | None, ...]
"""This integration's schedules in one car, by slot: (start, end) in local
minutes after midnight, or ``None`` for a slot without an enabled schedule.
Slot ``i`` is the schedule with id :func:`schedule_id_for` ``(vin, i)``."""


def schedule_slots(windows: Sequence[tuple[int, int] | None]) -> ScheduleWindows:
    """``windows`` as exactly :data:`OWN_SCHEDULES` slots (padded with ``None``)."""
    slots = tuple(windows)[:OWN_SCHEDULES]
    return slots + (None,) * (OWN_SCHEDULES - len(slots))


@dataclass(frozen=True)
class KnownSchedule:
    """This integration's charge schedules in the car, as the car last said.

    ``windows`` holds one entry per slot (see :data:`ScheduleWindows`); a
    plan of one window uses slot 0. Taken from what the car accepted, then
    from ``charge_schedule_data`` at each read, and saved across restarts:
    "must the car be told anything?" is answered from it.
    """

    windows: ScheduleWindows
    known_at: float

    def __post_init__(self) -> None:
        """Always :data:`OWN_SCHEDULES` slots."""
        object.__setattr__(self, "windows", schedule_slots(self.windows))


@dataclass(frozen=True, kw_only=True)
class Car:
    """One car's runtime: status, settings, known schedule, last run, lock.

    Frozen; :class:`VehicleTracker` is its one writer and replaces it on each
    change. The lock (shared by every copy) serialises wakes and commands.
    """

    vin: str
    status: VehicleStatus
    settings: VehicleSettings = field(default_factory=VehicleSettings)
    schedule: KnownSchedule | None = None
    last_run: Any = None
    """The last :class:`charging.WorkerRun` (kept untyped here to avoid a cycle)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, compare=False, repr=False)
    observed: bool = False
    """Seen (state or position) since setup: the first observation fires nothing."""
    positioned: bool = False
    """A position seen since setup: the first one at home starts the init run."""
    gone: bool = False
    """Missing from the account's vehicle list at the last check (sold, or
    the share removed): what is known of it is no longer news."""


@dataclass
class CycleReport:
    """What one cycle did: its requests, a rate limit, a skip.

    Transitions are not collected here: they go to ``on_transition`` as seen.
    """

    state_requests: int = 0
    data_requests: int = 0
    rate_limited: bool = False
    skipped: bool = False


@dataclass(kw_only=True)
class Home:
    """The geofence."""

    latitude: float
    longitude: float
    radius_m: float


type TransitionListener = Callable[[Transition], None]
"""Told of every transition at once, whoever made the observation."""
type ChangeListener = Callable[[], None]
"""Told after every change of any car (to publish a new snapshot)."""


class VehicleTracker:
    """The one writer of every car's runtime, for the cars of one account.

    Every observation, from the scout, a worker run, a wake or a user command,
    goes through :meth:`observe` (live data) or :meth:`observe_state` (a state
    check). Transitions go to ``on_transition`` as they happen, so none is
    lost whoever observed it.
    """

    def __init__(
        self,
        client: TeslaFleetClient,
        vins: list[str],
        home: Home,
        *,
        on_transition: TransitionListener | None = None,
        on_change: ChangeListener | None = None,
    ) -> None:
        """Start with nothing known: a car asleep at setup has no position yet."""
        self.client = client
        self.home = home
        self._cars: dict[str, Car] = {
            vin: Car(vin=vin, status=VehicleStatus(vin=vin)) for vin in vins
        }
        self.retry_at: float | None = None
        self.on_transition = on_transition
        self.on_change = on_change

    # --- reading -----------------------------------------------------------------

    @property
    def cars(self) -> dict[str, Car]:
        """A snapshot of every car (a new dict; the cars themselves are frozen)."""
        return dict(self._cars)

    @property
    def vehicles(self) -> dict[str, VehicleStatus]:
        """A snapshot of every car's status."""
        return {vin: car.status for vin, car in self._cars.items()}

    def car(self, vin: str) -> Car:
        """One car's current runtime."""
        return self._cars[vin]

    # --- the scout cycle ---------------------------------------------------------

    async def async_cycle(self, now: float) -> CycleReport:
        """Run one scout cycle at time ``now`` (epoch seconds).

        A failure of the vehicle list propagates: the caller decides what an
        outage means (cached data stays here). A failure of one car's live
        data is that car's alone: the other cars and every transition seen
        so far go on.
        """
        report = CycleReport()
        if self.rate_limited(now):
            report.skipped = True
            return report
        self.retry_at = None
        report.state_requests += 1
        try:
            records = {vehicle.vin: vehicle for vehicle in await self.client.vehicles()}
        except RateLimitedError as err:
            self._rate_limited(err, now, report)
            return report
        for vin in self._cars:
            record = records.get(vin)
            self._replace(vin, gone=record is None)
            if record is None:
                continue
            if record.display_name:
                self._update(vin, display_name=record.display_name)
            was_online = self._cars[vin].status.online
            self.observe_state(vin, record.state)
            status = self._cars[vin].status
            if not status.online or not may_fetch_live_data(
                status.parked_seen_at,
                now,
                last_data_at=status.last_data_at,
                # Plugged in at home: nothing to learn but the battery level.
                idle_at_home=bool(status.at_home and status.plugged_in)
                and not status.driving,
                charging_at_home=bool(status.at_home and status.charging),
                woke_up=not was_online and status.last_data_at is not None,
            ):
                continue
            report.data_requests += 1
            try:
                data = await self.client.vehicle_data(vin, LIVE_DATA_ENDPOINTS)
            except VehicleUnavailableError:
                # 408: it has just fallen asleep. It does not move while asleep,
                # so the last known position stays.
                self.observe_state(vin, VehicleState.ASLEEP)
                continue
            except RateLimitedError as err:
                self._rate_limited(err, now, report)
                break
            except (TeslaAuthenticationError, WrongRegionError):
                raise
            except TeslaFleetError as err:
                _LOGGER.debug(
                    "Live data of %s failed (%s); the other cars go on",
                    status.name,
                    type(err).__name__,
                )
                continue
            self.observe(vin, data, now)
        return report

    # --- the one observation path ------------------------------------------------

    def observe(self, vin: str, data: VehicleData, now: float) -> None:
        """Take in live data (from the scout, a worker run or a wake)."""
        self._set_state(vin, data.state or VehicleState.ONLINE)
        changes: dict[str, Any] = {"last_data_at": now}
        if data.charge is not None:
            charge = data.charge
            changes.update(
                battery_level=charge.battery_level,
                battery_range=charge.battery_range,
                charge_limit_soc=charge.charge_limit_soc,
                charging_state=charge.charging_state,
                plugged_in=charge.plugged_in,
                charger_power_kw=charge.measured_power_kw,
            )
        if (firmware := firmware_of(data)) is not None:
            changes["firmware"] = firmware
        parked = data.is_parked
        if parked is True:
            changes["parked_seen_at"] = now
        elif parked is False:
            changes["parked_seen_at"] = None
        position: tuple[float, float] | None = None
        if data.drive is not None:
            drive = data.drive
            changes.update(
                shift_state=drive.shift_state,
                speed_mph=drive.speed,
                minutes_to_arrival=drive.minutes_to_arrival,
                destination_is_home=(
                    drive.destination_latitude is not None
                    and drive.destination_longitude is not None
                    and distance_m(
                        drive.destination_latitude,
                        drive.destination_longitude,
                        self.home.latitude,
                        self.home.longitude,
                    )
                    <= max(HOME_DESTINATION_M, self.home.radius_m)
                ),
            )
            if drive.latitude is not None and drive.longitude is not None:
                changes["heading"] = drive.heading
                position = drive.latitude, drive.longitude
        was_plugged_in = self._cars[vin].status.plugged_in
        self._update(vin, **changes)
        if position is not None:
            self._set_position(vin, *position)
        status = self._cars[vin].status
        if was_plugged_in is False and status.plugged_in and status.at_home:
            self._emit(Transition(vin=vin, kind=TransitionKind.PLUGGED_IN_AT_HOME))
        if data.charge_schedules is not None:
            self.note_schedule(vin, own_schedule_windows(vin, data), now)

    def observe_state(self, vin: str, state: str) -> None:
        """Take in a state check (the vehicle list, a record, a 408)."""
        self._set_state(vin, state)

    # --- what the worker and the user change -------------------------------------

    def note_schedule(
        self, vin: str, windows: Sequence[tuple[int, int] | None], now: float
    ) -> None:
        """The car's own schedules of ours, as read back (or just written)."""
        self._replace(vin, schedule=KnownSchedule(windows=tuple(windows), known_at=now))

    def note_command(self, vin: str, **status_changes: Any) -> None:
        """What a command the car accepted changed (e.g. the charge limit)."""
        self._update(vin, **status_changes)

    def set_settings(self, vin: str, **changes: Any) -> None:
        """Change the user's settings of one car (smart charging, departure)."""
        car = self._cars[vin]
        self._replace(vin, settings=replace(car.settings, **changes))

    def record_run(self, vin: str, run: Any) -> None:
        """Keep a worker run's record."""
        self._replace(vin, last_run=run)

    def restore(
        self,
        vin: str,
        status: VehicleStatus,
        schedule: KnownSchedule | None,
    ) -> None:
        """Start from what was known before a restart (shown until the car talks)."""
        if vin in self._cars:
            self._replace(vin, status=status, schedule=schedule)

    # --- scheduling --------------------------------------------------------------

    def next_interval(
        self, base_interval_s: float, now: float, *, presence_tracked: bool = False
    ) -> float:
        """Seconds until the next cycle, by :func:`policy.next_interval`."""
        return next_interval(
            (car.status.outlook() for car in self._cars.values()),
            base_interval_s,
            retry_after_s=self._retry_after_s(now),
            presence_tracked=presence_tracked,
        )

    def next_interval_after_failure(
        self,
        failures: int,
        base_interval_s: float,
        now: float,
        *,
        presence_tracked: bool = False,
    ) -> float:
        """Seconds until the next cycle after ``failures`` failed ones in a row."""
        return failed_check_interval(
            failures,
            self.next_interval(base_interval_s, now, presence_tracked=presence_tracked),
            self._retry_after_s(now),
        )

    def _retry_after_s(self, now: float) -> float | None:
        """What is left of Tesla's ``Retry-After`` (negative once it passed)."""
        return self.retry_at - now if self.retry_at is not None else None

    def update_home(self, home: Home) -> None:
        """Move the geofence; positions are re-judged at the next observation."""
        self.home = home

    def rate_limited(self, now: float) -> bool:
        """Whether Tesla's ``Retry-After`` still forbids reads (scout and worker)."""
        return self.retry_at is not None and now < self.retry_at

    def note_rate_limit(self, err: RateLimitedError, now: float) -> None:
        """Remember a 429: no reads to this host until ``Retry-After`` passes."""
        wait = err.retry_after if err.retry_after is not None else DEFAULT_RETRY_AFTER_S
        self.retry_at = max(self.retry_at or 0.0, now + wait)

    # --- the writer ----------------------------------------------------------------

    def _replace(self, vin: str, **changes: Any) -> None:
        car = self._cars[vin]
        new = replace(car, **changes)
        if new != car:
            self._cars[vin] = new
            if self.on_change is not None:
                self.on_change()

    def _update(self, vin: str, **status_changes: Any) -> None:
        car = self._cars[vin]
        self._replace(vin, status=replace(car.status, **status_changes))

    def _rate_limited(
        self, err: RateLimitedError, now: float, report: CycleReport
    ) -> None:
        self.note_rate_limit(err, now)
        report.rate_limited = True

    def _set_state(self, vin: str, state: str) -> None:
        car = self._cars[vin]
        previous = car.status.state
        if state not in (VehicleState.ONLINE, VehicleState.ASLEEP):
            state = VehicleState.OFFLINE
        changes: dict[str, Any] = {"state": state}
        if previous is not None and state not in (previous, VehicleState.ONLINE):
            changes.update(shift_state=None, speed_mph=None)
        self._replace(vin, status=replace(car.status, **changes), observed=True)
        if not car.observed or previous == state:
            return  # The first observation after setup fires nothing.
        _LOGGER.debug("Vehicle %s is now %s (was %s)", car.status.name, state, previous)
        self._emit(
            Transition(
                vin=vin,
                kind=TransitionKind.STATE_CHANGED,
                from_state=previous,
                to_state=state,
            )
        )

    def _set_position(self, vin: str, latitude: float, longitude: float) -> None:
        car = self._cars[vin]
        status = car.status
        distance = distance_m(
            latitude, longitude, self.home.latitude, self.home.longitude
        )
        at_home = is_at_home(distance, self.home.radius_m)
        was_home = status.at_home
        self._replace(
            vin,
            status=replace(
                status,
                latitude=latitude,
                longitude=longitude,
                previous_distance_m=status.distance_m,
                distance_m=distance,
                at_home=at_home,
            ),
            positioned=True,
        )
        kind: TransitionKind | None = None
        if was_home is not None and was_home != at_home:
            # Also after a restart: the car came home (or left) meanwhile.
            kind = TransitionKind.ARRIVED_HOME if at_home else TransitionKind.LEFT_HOME
        elif not car.positioned and at_home:
            kind = TransitionKind.FIRST_SEEN_HOME
        if kind is None:
            return
        _LOGGER.debug("Vehicle %s: %s", status.name, kind)
        self._emit(Transition(vin=vin, kind=kind))

    def _emit(self, transition: Transition) -> None:
        if self.on_transition is not None:
            self.on_transition(transition)


def firmware_of(data: VehicleData) -> tuple[int, int] | None:
    """The car's software version (year, release) from ``vehicle_state``."""
    version = (data.vehicle_state or {}).get("car_version")
    if not isinstance(version, str):
        return None
    parts = version.split(" ")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def schedule_id_for(vin: str, slot: int = 0) -> int:
    """The stable id of this integration's charge schedule ``slot`` in one car.

    Slot 0 is the one schedule of a single-window plan (the id it always had);
    a split plan adds slots 1 and 2.
    """
    return 1_000_000 + zlib.crc32(vin.encode()) % 1_000_000 + slot


def own_schedule_windows(vin: str, data: VehicleData) -> ScheduleWindows:
    """Our enabled schedules in ``data``, by slot."""
    by_id = {s.id: s for s in data.charge_schedules or ()}
    windows: list[tuple[int, int] | None] = []
    for slot in range(OWN_SCHEDULES):
        ours = by_id.get(schedule_id_for(vin, slot))
        if ours is None or not ours.enabled or ours.start_time is None:
            windows.append(None)
        else:
            end = ours.end_time if ours.end_time is not None else -1
            windows.append((ours.start_time, end))
    return tuple(windows)
