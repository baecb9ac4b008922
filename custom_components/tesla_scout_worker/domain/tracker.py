"""Every car's runtime and its one writer, HA-free; and one scout cycle.

:class:`VehicleTracker` keeps each car (frozen :class:`~.car.Car` snapshots)
and is the one place a car changes: every observation (the scout's, a worker
run's, a wake's, a user command's) and every setting goes through it, and it
tells its ``transitions`` and ``changes`` listeners. Long on purpose:
every change of a car is written here, so none is missed or published twice.

One scout cycle (:meth:`VehicleTracker.async_cycle`): **one** vehicle-list
request for all cars, then for each configured car that is ``online`` (and not
inside its parked quiet window) **one** ``vehicle_data`` with
``location_data`` (without it when the token lacks the ``vehicle_location``
scope). Never ``wake_up``, never a command, never live data for a car that is
not ``online``, nor for a car whose mobile access is off (hourly at most), nor
any paid request while Tesla's monthly limit holds. The Home Assistant
coordinator (``scout.py``) and the cost benchmark both drive this class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
import logging
from typing import Any

from ..fleet import (
    MissingScopeError,
    MobileAccessDisabledError,
    RateLimitedError,
    TeslaAuthenticationError,
    TeslaFleetClient,
    TeslaFleetError,
    TokenUnavailableError,
    UsageLimitExceededError,
    VehicleData,
    VehicleState,
    VehicleUnavailableError,
    WrongRegionError,
)
from ..fleet.listeners import Listeners
from .car import (
    Car,
    CycleReport,
    Transition,
    TransitionKind,
    VehicleSettings,
    VehicleStatus,
    WorkerRun,
)
from .geo import Home, distance_m, is_at_home
from .policy import failed_check_interval, may_fetch_live_data, next_interval
from .schedules import KnownSchedule, own_schedules

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
LOCATION_ENDPOINT = "location_data"
"""Needs the ``vehicle_location`` scope; without it Tesla refuses the whole
read (403) and, since 2026, leaves ``drive_state`` out entirely."""


def live_data_endpoints(*, location: bool = True) -> tuple[str, ...]:
    """What one live read asks for, with or without the car's position."""
    if location:
        return LIVE_DATA_ENDPOINTS
    return tuple(e for e in LIVE_DATA_ENDPOINTS if e != LOCATION_ENDPOINT)


ACCESS_DISABLED_RECHECK_S = 3600.0
"""A car whose mobile access is off is asked again at most this often (each
answer is billed) to see whether the owner switched it back on."""

DEFAULT_RETRY_AFTER_S = 300.0
"""Back-off after a 429 that said neither ``Retry-After`` nor ``RateLimit-Reset``.

Five minutes, not one: the scout sends a car one read per cycle at most, so a
429 means someone else (another app on the same car, Tesla's limits are
shared) is using up the per-minute windows, and a retry a minute later would
likely be refused again, billed, and count as the "faulty application logic"
Tesla says a 429 is. Five minutes is still well inside the scout's 15-minute
interval, so an arrival is seen at most a few minutes late."""

STALE_FIX_S = 600.0
"""A position fixed this much before its data (``gps_as_of`` against the
record's ``timestamp``) is old: the car may have moved since (no GPS in a
garage or tunnel), so it never makes the car arrive home."""

HOME_DESTINATION_M = 250.0
"""A navigation destination this close to home counts as "going home"."""


class VehicleTracker:
    """The one writer of every car's runtime, for the cars of one account.

    Every observation, from the scout, a worker run, a wake or a user command,
    goes through :meth:`observe` (live data) or :meth:`observe_state` (a state
    check). Transitions go to the :attr:`transitions` listeners as they
    happen, so none is lost whoever observed it; every change of a car (or of
    what the account may do) goes to the :attr:`changes` listeners.
    """

    def __init__(
        self,
        client: TeslaFleetClient,
        vins: list[str],
        home: Home,
        *,
        location_allowed: bool = True,
    ) -> None:
        """Start with nothing known: a car asleep at setup has no position yet.

        ``location_allowed``: the token has the ``vehicle_location`` scope (or
        says nothing of its scopes); without it reads leave the position out.
        """
        self.client = client
        self.location_allowed = location_allowed
        self.usage_blocked_until: float | None = None
        """Tesla disabled the application (monthly threshold) until then: no
        paid request (live data, command, wake) before it."""
        self.home = home
        self._cars: dict[str, Car] = {
            vin: Car(vin=vin, status=VehicleStatus(vin=vin)) for vin in vins
        }
        self.retry_at: float | None = None
        self._old_fix_held: set[str] = set()
        """Cars whose old position is held back (logged once until a current one)."""
        self.transitions: Listeners[[Transition]] = Listeners()
        """Told of every transition at once, whoever made the observation."""
        self.changes: Listeners[[]] = Listeners()
        """Told after every change of any car (to publish a new snapshot)."""
        self._holding = 0
        self._held: list[Transition] = []
        """Transitions seen during an observation, told at its end."""

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
            vehicles = await self.client.vehicles()
        except RateLimitedError as err:
            self._rate_limited(err, now, report)
            return report
        except UsageLimitExceededError as err:
            # Even the free list refused: the cars keep their last known state.
            self.note_usage_limit(err, now)
            report.skipped = True
            return report
        records = {vehicle.vin: vehicle for vehicle in vehicles}
        for vin in self._cars:
            record = records.get(vin)
            if record is not None or not vehicles.unreadable:
                # Missing from a list Tesla sent whole: gone from the account.
                # From a list with unreadable records, it may be among them.
                self._set_gone(vin, gone=record is None)
            if record is None:
                continue
            if record.display_name:
                self._update(vin, display_name=record.display_name)
            was_online = self._cars[vin].status.online
            self.observe_state(vin, record.state)
            status = self._cars[vin].status
            if (
                not status.online
                or self.usage_blocked(now)
                or self._access_disabled(vin, now)
                or not may_fetch_live_data(
                    status.parked_seen_at,
                    now,
                    last_data_at=status.last_data_at,
                    # Plugged in at home: nothing to learn but the battery level.
                    idle_at_home=bool(status.at_home and status.plugged_in)
                    and not status.driving,
                    charging_at_home=bool(status.at_home and status.charging),
                    woke_up=not was_online and status.last_data_at is not None,
                )
            ):
                continue
            report.data_requests += 1
            try:
                data = await self.async_live_data(vin, on_retry=report.count_data)
            except VehicleUnavailableError:
                # 408: it has just fallen asleep. It does not move while asleep,
                # so the last known position stays.
                self.observe_state(vin, VehicleState.ASLEEP)
                continue
            except RateLimitedError as err:
                self._rate_limited(err, now, report)
                break
            except MobileAccessDisabledError:
                self.note_access_disabled(vin, now)
                continue
            except UsageLimitExceededError as err:
                # The application's, not the car's: the other cars would get it too.
                self.note_usage_limit(err, now)
                break
            except (TeslaAuthenticationError, TokenUnavailableError, WrongRegionError):
                # The account's, not this car's: the other cars would get it too.
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

    async def async_live_data(
        self, vin: str, *, on_retry: Callable[[], None] | None = None
    ) -> VehicleData:
        """One live read of a car, with what the token allows.

        Asks for the position only with the ``vehicle_location`` scope. When
        Tesla refuses a read for that scope (a token that did not say), the
        position is left out from then on and the read is sent once more
        without it (``on_retry`` counts that request).
        """
        location = self.location_allowed
        try:
            return await self.client.vehicle_data(
                vin, live_data_endpoints(location=location)
            )
        except MissingScopeError as err:
            if not (location and err.location):
                raise
        self.note_location_refused()
        if on_retry is not None:
            on_retry()
        return await self.client.vehicle_data(vin, live_data_endpoints(location=False))

    def note_location_refused(self) -> None:
        """Tesla refused the position (no ``vehicle_location`` scope)."""
        if self.location_allowed:
            _LOGGER.warning(
                "The token lacks the vehicle_location scope: reading the cars "
                "without their position"
            )
            self.location_allowed = False
            self._changed()

    def observe(self, vin: str, data: VehicleData, now: float) -> None:
        """Take in live data (from the scout, a worker run or a wake).

        Its transitions are told once all of it is taken in: a listener that
        acts at once (a worker run on arrival) sees the car as the data left it,
        its charge schedules included.
        """
        self._holding += 1
        try:
            self._observe(vin, data, now)
        finally:
            self._holding -= 1
        if not self._holding:
            held, self._held = self._held, []
            for transition in held:
                self.transitions.notify(transition)

    def _observe(self, vin: str, data: VehicleData, now: float) -> None:
        self.note_answered(vin)
        self._set_state(vin, data.state or VehicleState.ONLINE)
        changes: dict[str, Any] = {"last_data_at": now}
        if data.charge is not None:
            charge = data.charge
            # A reading the car left out (or sent odd, so the parser dropped
            # it) keeps its last known value: one odd field is no reason to
            # forget the battery level.
            readings = {
                "battery_level": charge.battery_level,
                "battery_range": charge.battery_range,
                "charge_limit_soc": charge.charge_limit_soc,
                "charging_state": charge.charging_state,
                "plugged_in": charge.plugged_in,
            }
            changes.update({k: v for k, v in readings.items() if v is not None})
            if charge.charging_state is not None:
                changes["charger_power_kw"] = charge.measured_power_kw
        if (firmware := firmware_of(data)) is not None:
            changes["firmware"] = firmware
        parked = data.is_parked
        if parked is None and data.drive is None and not self.location_allowed:
            # No drive_state without the location scope (Tesla, 2026): no gear
            # either. Not charging counts as parked, so the car is left alone
            # to fall asleep rather than read every cycle.
            parked = data.charge is not None and not data.charge.is_charging
            changes.update(shift_state=None, speed_mph=None)
        if parked is True:
            changes["parked_seen_at"] = now
        elif parked is False:
            changes["parked_seen_at"] = None
        position: tuple[float, float] | None = None
        old_fix = False
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
                old_fix = (drive.fix_age_s or 0.0) > STALE_FIX_S
        was_plugged_in = self._cars[vin].status.plugged_in
        self._update(vin, **changes)
        if position is not None:
            self._set_position(vin, *position, old_fix=old_fix)
        status = self._cars[vin].status
        if was_plugged_in is False and status.plugged_in and status.at_home:
            self._emit(Transition(vin=vin, kind=TransitionKind.PLUGGED_IN_AT_HOME))
        if data.charge_schedules is not None:
            known = own_schedules(
                vin, data.charge_schedules, self.home, self._cars[vin].schedule, now
            )
            self._replace(vin, schedule=known)

    def observe_state(self, vin: str, state: str) -> None:
        """Take in a state check (the vehicle list, a record, a 408)."""
        self._set_state(vin, state)

    def _set_gone(self, vin: str, *, gone: bool) -> None:
        """The car is missing from the account's vehicle list, or back in it."""
        car = self._cars[vin]
        if gone and not car.gone:
            _LOGGER.warning(
                "%s is no longer in the Tesla account's vehicle list", car.status.name
            )
        elif car.gone and not gone:
            _LOGGER.info(
                "%s is in the Tesla account's vehicle list again", car.status.name
            )
        self._replace(vin, gone=gone)

    def note_answered(self, vin: str) -> None:
        """A paid request for the car worked: its access is on, the limit gone."""
        self._replace(vin, access_disabled_at=None)
        if self.usage_blocked_until is not None:
            self.usage_blocked_until = None
            _LOGGER.info("Tesla accepts paid requests again")
            self._changed()

    def note_access_disabled(self, vin: str, now: float) -> None:
        """The car answered that its owner switched off mobile access."""
        if self._cars[vin].access_disabled_at is None:
            _LOGGER.warning(
                "Mobile access is switched off for %s; the other cars go on",
                self._cars[vin].status.name,
            )
        self._replace(vin, access_disabled_at=now)

    def _access_disabled(self, vin: str, now: float) -> bool:
        """Mobile access is off and was asked about recently."""
        since = self._cars[vin].access_disabled_at
        return since is not None and now - since < ACCESS_DISABLED_RECHECK_S

    def usage_blocked(self, now: float) -> bool:
        """Whether Tesla's monthly threshold still forbids paid requests."""
        return self.usage_blocked_until is not None and now < self.usage_blocked_until

    def note_usage_limit(self, err: UsageLimitExceededError, now: float) -> None:
        """Tesla disabled the application: no paid request until the limit resets.

        That is the start of the next calendar month (UTC), unless Tesla said
        how long to wait.
        """
        until = (
            now + err.retry_after
            if err.retry_after is not None
            else start_of_next_month(now)
        )
        if self.usage_blocked_until is None:
            _LOGGER.warning(
                "Tesla disabled the application for exceeding its monthly limit; "
                "no paid requests until %s",
                datetime.fromtimestamp(until, UTC).isoformat(),
            )
        self.usage_blocked_until = until
        self._changed()

    # --- what the worker and the user change -------------------------------------

    def note_schedule(
        self,
        vin: str,
        windows: Sequence[tuple[int, int] | None],
        now: float,
        *,
        ids: Sequence[int | None] = (),
        strays: Sequence[int] = (),
    ) -> None:
        """The car's own schedules of ours, as read back (or just written)."""
        self._replace(
            vin,
            schedule=KnownSchedule(
                windows=tuple(windows),
                known_at=now,
                ids=tuple(ids),
                strays=tuple(strays),
            ),
        )

    def note_command(self, vin: str, **status_changes: Any) -> None:
        """What a command the car accepted changed (e.g. the charge limit)."""
        self._update(vin, **status_changes)

    def note_charging_started(self, vin: str) -> None:
        """The car accepted ``charge_start`` (the worker's or the user's)."""
        self.note_command(vin, charging_state="Starting")

    def note_charging_stopped(self, vin: str) -> None:
        """The car accepted ``charge_stop`` (the worker's or the user's)."""
        self.note_command(vin, charging_state="Stopped")

    def set_settings(self, vin: str, **changes: Any) -> None:
        """Change the user's settings of one car (smart charging, departure)."""
        car = self._cars[vin]
        self._replace(vin, settings=replace(car.settings, **changes))

    def record_run(self, vin: str, run: WorkerRun) -> None:
        """Keep a worker run's record."""
        self._replace(vin, last_run=run)

    def restore(
        self,
        vin: str,
        status: VehicleStatus,
        schedule: KnownSchedule | None,
        *,
        settings: VehicleSettings | None = None,
        last_run: WorkerRun | None = None,
    ) -> None:
        """Start from what was known before a restart (shown until the car talks).

        The user's settings and the last worker run (its plan) come back too,
        when they were saved.
        """
        if vin in self._cars:
            car = self._cars[vin]
            self._replace(
                vin,
                status=status,
                schedule=schedule,
                settings=car.settings if settings is None else settings,
                last_run=car.last_run if last_run is None else last_run,
            )
            # The home may have moved since (reconfigure reloads the entry).
            self._rejudge_position(vin)

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
        """Move the geofence and re-judge every known position at once."""
        self.home = home
        for vin in self._cars:
            self._rejudge_position(vin)

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
            self._changed()

    def _changed(self) -> None:
        self.changes.notify()

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

    def _set_position(
        self, vin: str, latitude: float, longitude: float, *, old_fix: bool = False
    ) -> None:
        car = self._cars[vin]
        status = car.status
        distance = distance_m(
            latitude, longitude, self.home.latitude, self.home.longitude
        )
        at_home = is_at_home(distance, self.home.radius_m)
        was_home = status.at_home
        if old_fix and at_home and was_home is False:
            # A fix older than the data may be from before the car left again
            # (no GPS in a garage or a tunnel): too little to say it came home.
            # The geofence waits for a current fix; it fires the arrival then.
            # At first sight (nothing known yet) it is taken: a car parked in
            # a garage at home keeps an old fix for as long as it stays.
            if vin not in self._old_fix_held:
                self._old_fix_held.add(vin)
                _LOGGER.debug(
                    "Vehicle %s: position is older than its data; not taken as"
                    " arrived home until a current one",
                    status.name,
                )
            return
        if not old_fix:
            self._old_fix_held.discard(vin)
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

    def _rejudge_position(self, vin: str) -> None:
        """Judge the last known position against the current home, silently.

        The car did not move, the home did: no arrival or departure happened,
        so no event. The next position is then judged against the new home, so
        a sleeping car that wakes where it was fires nothing either.
        """
        status = self._cars[vin].status
        if status.latitude is None or status.longitude is None:
            return
        distance = distance_m(
            status.latitude, status.longitude, self.home.latitude, self.home.longitude
        )
        at_home = is_at_home(distance, self.home.radius_m)
        if (distance, at_home) == (status.distance_m, status.at_home):
            return
        self._update(
            vin,
            distance_m=distance,
            at_home=at_home,
            # A distance to the old home says nothing about approaching this one.
            previous_distance_m=(
                status.previous_distance_m if distance == status.distance_m else None
            ),
        )

    def _emit(self, transition: Transition) -> None:
        if self._holding:
            self._held.append(transition)
        else:
            self.transitions.notify(transition)


def start_of_next_month(now: float) -> float:
    """The first instant of the next calendar month in UTC (epoch seconds)."""
    moment = datetime.fromtimestamp(now, UTC)
    year, month = divmod(moment.year * 12 + moment.month, 12)
    return datetime(year, month + 1, 1, tzinfo=UTC).timestamp()


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
