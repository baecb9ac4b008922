"""One scout cycle, HA-free: where the cars are, without ever waking them.

Per cycle: **one** vehicle-list request for all cars, then for each configured
car that is ``online`` (and not inside its parked quiet window) **one**
``vehicle_data`` with ``location_data``. Never ``wake_up``, never a command,
never live data for a car that is not ``online``. The Home Assistant
coordinator (``scout.py``) and the cost benchmark both drive this class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
import logging

from .fleet import (
    CHARGING_STATES_ACTIVE,
    RateLimitedError,
    TeslaFleetClient,
    VehicleData,
    VehicleState,
    VehicleUnavailableError,
    vin_tail,
)
from .geo import distance_m, is_at_home
from .policy import VehicleOutlook, may_fetch_live_data, next_interval

_LOGGER = logging.getLogger(__name__)

SCOUT_ENDPOINTS = ("charge_state", "drive_state", "location_data")
"""One request gives position, gear and plug: all the scout needs."""

DEFAULT_RETRY_AFTER_S = 60.0
"""Back-off after a 429 that did not say how long to wait."""

DRIVING_GEARS = frozenset({"D", "R", "N"})
HOME_DESTINATION_M = 250.0
"""A navigation destination this close to home counts as "going home"."""


class TransitionKind(StrEnum):
    """What changed for a vehicle in a cycle."""

    STATE_CHANGED = "state_changed"
    ARRIVED_HOME = "arrived_home"
    LEFT_HOME = "left_home"
    FIRST_SEEN_HOME = "init"


@dataclass(frozen=True, kw_only=True)
class Transition:
    """One change worth an event (or a worker run)."""

    vin: str
    kind: TransitionKind
    from_state: str | None = None
    to_state: str | None = None


@dataclass
class VehicleStatus:
    """Everything known about one vehicle; positions are the last known ones."""

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


@dataclass
class CycleReport:
    """What one cycle did: its requests and the transitions it saw."""

    state_requests: int = 0
    data_requests: int = 0
    rate_limited: bool = False
    skipped: bool = False
    transitions: list[Transition] = field(default_factory=list)


@dataclass(kw_only=True)
class Home:
    """The geofence."""

    latitude: float
    longitude: float
    radius_m: float


class VehicleTracker:
    """Tracks the configured vehicles of one account across scout cycles."""

    def __init__(self, client: TeslaFleetClient, vins: list[str], home: Home) -> None:
        """Start with nothing known: a car asleep at setup has no position yet."""
        self.client = client
        self.home = home
        self.vehicles: dict[str, VehicleStatus] = {
            vin: VehicleStatus(vin=vin) for vin in vins
        }
        self.retry_at: float | None = None

    async def async_cycle(self, now: float) -> CycleReport:
        """Run one scout cycle at time ``now`` (epoch seconds).

        Fleet errors other than "asleep" and "rate limited" propagate: the
        caller decides what an outage means (cached data stays here).
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
        for vin, status in self.vehicles.items():
            record = records.get(vin)
            if record is None:
                continue
            status.display_name = record.display_name or status.display_name
            self._set_state(status, record.state, report)
            if not status.online or not may_fetch_live_data(status.parked_seen_at, now):
                continue
            report.data_requests += 1
            try:
                data = await self.client.vehicle_data(vin, SCOUT_ENDPOINTS)
            except VehicleUnavailableError:
                # 408: it has just fallen asleep. It does not move while asleep,
                # so the last known position stays.
                self._set_state(status, VehicleState.ASLEEP, report)
                continue
            except RateLimitedError as err:
                self._rate_limited(err, now, report)
                break
            self.observe(vin, data, now, report)
        return report

    def observe(
        self,
        vin: str,
        data: VehicleData,
        now: float,
        report: CycleReport | None = None,
    ) -> list[Transition]:
        """Take in live data (from the scout or the worker)."""
        status = self.vehicles[vin]
        transitions: list[Transition] = []
        status.last_data_at = now
        if data.state is not None:
            self._set_state(status, data.state, report, transitions)
        else:
            self._set_state(status, VehicleState.ONLINE, report, transitions)
        if data.charge is not None:
            charge = data.charge
            status.battery_level = charge.battery_level
            status.battery_range = charge.battery_range
            status.charge_limit_soc = charge.charge_limit_soc
            status.charging_state = charge.charging_state
            status.plugged_in = charge.plugged_in
            status.charger_power_kw = charge.measured_power_kw
        if data.drive is not None:
            drive = data.drive
            status.shift_state = drive.shift_state
            status.speed_mph = drive.speed
            status.minutes_to_arrival = drive.minutes_to_arrival
            status.destination_is_home = (
                drive.destination_latitude is not None
                and drive.destination_longitude is not None
                and distance_m(
                    drive.destination_latitude,
                    drive.destination_longitude,
                    self.home.latitude,
                    self.home.longitude,
                )
                <= max(HOME_DESTINATION_M, self.home.radius_m)
            )
            if drive.latitude is not None and drive.longitude is not None:
                status.heading = drive.heading
                self._set_position(
                    status, drive.latitude, drive.longitude, report, transitions
                )
        parked = data.is_parked
        if parked is True:
            status.parked_seen_at = now
        elif parked is False:
            status.parked_seen_at = None
        return transitions

    def next_interval(
        self, base_interval_s: float, now: float, *, presence_tracked: bool = False
    ) -> float:
        """Seconds until the next cycle, by :func:`policy.next_interval`."""
        retry = self.retry_at - now if self.retry_at is not None else None
        return next_interval(
            (status.outlook() for status in self.vehicles.values()),
            base_interval_s,
            retry_after_s=retry,
            presence_tracked=presence_tracked,
        )

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

    def _rate_limited(
        self, err: RateLimitedError, now: float, report: CycleReport
    ) -> None:
        self.note_rate_limit(err, now)
        report.rate_limited = True

    def _set_state(
        self,
        status: VehicleStatus,
        state: str,
        report: CycleReport | None,
        transitions: list[Transition] | None = None,
    ) -> None:
        previous = status.state
        if state not in (VehicleState.ONLINE, VehicleState.ASLEEP):
            state = VehicleState.OFFLINE
        status.state = state
        if previous is None or previous == state:
            return  # The first observation fires nothing.
        if state != VehicleState.ONLINE:
            status.shift_state = None
            status.speed_mph = None
        _LOGGER.debug("Vehicle %s is now %s (was %s)", status.name, state, previous)
        self._emit(
            Transition(
                vin=status.vin,
                kind=TransitionKind.STATE_CHANGED,
                from_state=previous,
                to_state=state,
            ),
            report,
            transitions,
        )

    def _set_position(
        self,
        status: VehicleStatus,
        latitude: float,
        longitude: float,
        report: CycleReport | None,
        transitions: list[Transition],
    ) -> None:
        status.latitude, status.longitude = latitude, longitude
        status.previous_distance_m = status.distance_m
        status.distance_m = distance_m(
            latitude, longitude, self.home.latitude, self.home.longitude
        )
        was_home = status.at_home
        status.at_home = is_at_home(status.distance_m, self.home.radius_m)
        if was_home is None:
            if status.at_home:
                _LOGGER.debug("Vehicle %s first seen at home", status.name)
                self._emit(
                    Transition(vin=status.vin, kind=TransitionKind.FIRST_SEEN_HOME),
                    report,
                    transitions,
                )
            return
        if was_home == status.at_home:
            return
        kind = (
            TransitionKind.ARRIVED_HOME if status.at_home else TransitionKind.LEFT_HOME
        )
        _LOGGER.debug("Vehicle %s %s", status.name, kind.replace("_", " "))
        self._emit(Transition(vin=status.vin, kind=kind), report, transitions)

    @staticmethod
    def _emit(
        transition: Transition,
        report: CycleReport | None,
        transitions: list[Transition] | None,
    ) -> None:
        if report is not None:
            report.transitions.append(transition)
        if transitions is not None:
            transitions.append(transition)
