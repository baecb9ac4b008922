"""One worker run, HA-free: read the car once, plan, and set the car's own schedule.

The car charges by itself from its schedule, so the integration does not need
to be awake at the start time, and nothing keeps the car awake meanwhile.
A run first asks the free vehicle record whether the car is awake. An awake
car is read once (or not at all when the scout read it moments ago); a sleeping
car is not read (that would be a billed 408) and is planned from what is known.
It is woken at most once, and only when a command is actually needed: smart
charging on, plugged in, at home, a tariff known, and the car's own schedule
(read back after every write, kept across restarts) differs from the plan.
Nothing known means no wake. Repeated runs change the same schedules (stable
ids per car and slot, or the car's own ids where it renumbered them), so
schedules never pile up: a plan split into several windows writes one schedule
per window and removes the ones it no longer needs.

Which schedules are ours and what they should be is in :mod:`.schedules`; the
run's record (:class:`~.car.WorkerRun`) in :mod:`.car`. Long on purpose:
the rest is one module, since reading, waking and writing share one run under way
(:class:`RunProgress`: whether it woke the car or sent a command already
decides what a refusal means) and the one wake path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
import logging
import time as time_module
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from ..fleet import (
    CommandFailedError,
    CommandProtocolRequiredError,
    InvalidRequestError,
    KeyNotPairedError,
    MobileAccessDisabledError,
    RateLimitedError,
    TeslaFleetClient,
    TeslaFleetError,
    UsageLimitExceededError,
    VehicleState,
    VehicleUnavailableError,
    vin_tail,
)
from .car import VehicleStatus, WorkerResult, WorkerRun, WorkerTrigger
from .plan import ChargingPlan, PlanRequest
from .planner import plan_charging
from .schedules import (
    SCHEDULE_DAYS,
    KnownSchedule,
    ScheduleWindows,
    schedule_windows_for,
    supports_charge_schedules,
)
from .tariffs import Tariff
from .tracker import VehicleTracker

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

FRESH_DATA_S = 120.0
"""Live data younger than this (the scout's, usually) is not read again."""
EARLY_TOLERANCE_S = 60.0
"""A charge is stopped as too early only when the plan starts later than this."""
WAKE_TIMEOUT_S = 90.0
WAKE_POLL_S = 10.0


@dataclass(frozen=True, kw_only=True)
class ChargeSettings:
    """What the user set: entities (smart charging, departure) and options."""

    smart_charging: bool
    departure: time
    tz: ZoneInfo
    capacity_kwh: float = 75.0
    charger_power_kw: float = 11.0
    efficiency: float = 0.9
    max_windows: int = 1
    """Charging windows (charge schedules) a plan may use."""
    min_split_saving: float = 1.0
    """What more than one window must save against the best single one."""


@dataclass(kw_only=True)
class RunProgress:
    """A run under way: what it has done so far (mutable while it goes).

    Its end makes the frozen :class:`~.car.WorkerRun` the car keeps
    (:meth:`record`). A wake for a user's command counts its requests in one
    that is never recorded.
    """

    vin: str
    trigger: str
    started: float
    requests: int = 0
    plan: ChargingPlan | None = None
    commands: list[str] = field(default_factory=list)
    woke: bool = False
    result: WorkerResult = WorkerResult.NO_ACTION
    reason: str | None = None
    error: str | None = None

    def record(self, duration_s: float) -> WorkerRun:
        """The run's record, complete."""
        return WorkerRun(
            vin=self.vin,
            trigger=self.trigger,
            started=self.started,
            duration_s=duration_s,
            requests=self.requests,
            plan=self.plan,
            commands=tuple(self.commands),
            woke=self.woke,
            result=self.result,
            reason=self.reason,
            error=self.error,
        )


def next_departure(now: datetime, departure: time) -> datetime:
    """The next local ``departure`` after ``now``, compared as instants.

    Wall clocks repeat an hour in autumn: at 02:15 in the second pass of
    02:00–03:00, the first 02:30 is already past and the second is next.
    """
    for days in range(3):
        day = now.date() + timedelta(days=days)
        for fold in (0, 1):
            candidate = datetime.combine(day, departure, tzinfo=now.tzinfo).replace(
                fold=fold
            )
            if candidate.astimezone(UTC) > now.astimezone(UTC):
                return candidate
    msg = "no departure within three days"  # pragma: no cover - unreachable
    raise ValueError(msg)  # pragma: no cover


class ChargingWorker:
    """Runs the worker for the cars of one account; the one wake path."""

    def __init__(
        self,
        client: TeslaFleetClient,
        tracker: VehicleTracker,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wake_timeout_s: float = WAKE_TIMEOUT_S,
    ) -> None:
        """Share the scout's tracker: what one learns, the other knows."""
        self.client = client
        self.tracker = tracker
        self._clock = clock or (lambda: time_module.time())
        self._sleep = sleep
        self._wake_timeout_s = wake_timeout_s

    def plan(
        self,
        status: VehicleStatus,
        settings: ChargeSettings,
        tariff: Tariff | None,
        now: float,
    ) -> ChargingPlan | None:
        """Plan from what is known about the car; ``None`` without a battery level."""
        if status.battery_level is None:
            return None
        local_now = datetime.fromtimestamp(now, settings.tz)
        target = status.charge_limit_soc or 80
        return plan_charging(
            PlanRequest(
                now=local_now,
                battery_level=float(status.battery_level),
                target_level=float(target),
                capacity_kwh=settings.capacity_kwh,
                charger_power_kw=status.charger_power_kw or settings.charger_power_kw,
                efficiency=settings.efficiency,
                departure=next_departure(local_now, settings.departure),
            ),
            tariff,
            # Older firmware keeps one scheduled start, not several schedules.
            max_windows=(
                settings.max_windows
                if supports_charge_schedules(status.firmware)
                else 1
            ),
            min_split_saving=settings.min_split_saving,
        )

    async def async_run(
        self,
        vin: str,
        trigger: str,
        settings: ChargeSettings,
        tariff: Tariff | None,
    ) -> WorkerRun:
        """Run once for one car; never raises for Fleet errors (they are the result)."""
        run = RunProgress(vin=vin, trigger=trigger, started=self._clock())
        try:
            await self._run(run, settings, tariff)
        except KeyNotPairedError:
            run.result, run.error = WorkerResult.ERROR, "key_not_paired"
        except CommandProtocolRequiredError:
            run.result, run.error = WorkerResult.ERROR, "command_protocol_required"
        except MobileAccessDisabledError:
            self.tracker.note_access_disabled(vin, self._clock())
            run.result, run.error = WorkerResult.ERROR, "mobile_access_disabled"
        except UsageLimitExceededError as err:
            self.tracker.note_usage_limit(err, self._clock())
            run.result, run.error = WorkerResult.ERROR, "usage_limit_exceeded"
        except RateLimitedError as err:
            # A command refused with 429: like a read's, no request to Tesla
            # (read, retry) until its Retry-After passes.
            self.tracker.note_rate_limit(err, self._clock())
            run.result, run.error = WorkerResult.ERROR, type(err).__name__
        except TeslaFleetError as err:
            run.result, run.error = WorkerResult.ERROR, type(err).__name__
        record = run.record(duration_s=self._clock() - run.started)
        _LOGGER.debug(
            "Worker for %s (%s): %s (%s) after %s requests",
            self.tracker.car(vin).status.name,
            trigger,
            record.result,
            record.reason or record.error or "",
            record.requests,
        )
        return record

    async def _call(self, run: RunProgress, request: Awaitable[_T]) -> _T:
        run.requests += 1
        return await request

    async def _run(
        self, run: RunProgress, settings: ChargeSettings, tariff: Tariff | None
    ) -> None:
        vin = run.vin
        fresh = await self._async_read_if_awake(run)
        status = self.tracker.car(vin).status
        run.plan = self.plan(status, settings, tariff, self._clock())
        if run.plan is None:
            run.reason = "nothing_known"
            return
        run.result = WorkerResult.PLANNED
        if not settings.smart_charging:
            run.reason = "smart_charging_off"
            return
        if not (status.plugged_in and status.at_home):
            run.reason = "not_plugged_in_at_home"
            return
        if tariff is None or run.plan.reason == "no_tariff":
            # No price known (a price sensor not there yet, or holding only old
            # prices): charging now could mean the peak price. Do nothing; the
            # run is retried when prices come.
            run.result, run.reason = WorkerResult.NO_ACTION, "no_tariff"
            return
        if not self._needs_command(run.plan, vin, fresh=fresh):
            run.reason = "schedule_up_to_date"
            return
        if self.tracker.usage_blocked(self._clock()):
            # Tesla disabled the application for the month: no paid wake or
            # command (each refusal is billed too); the plan is kept.
            run.reason = "usage_limit_exceeded"
            return
        if fresh and self._schedule_unconfirmed(vin):
            # Written since the car last showed its schedules: a car that
            # renumbers what it is sent would take another write as a new
            # copy. Awake, so one read (no wake) tells its ids first; what
            # it shows is compared again before anything is written.
            fresh = await self._async_reread(run)
            if fresh:
                status = self.tracker.car(vin).status
                run.plan = (
                    self.plan(status, settings, tariff, self._clock()) or run.plan
                )
        if not fresh:
            if run.trigger == WorkerTrigger.FAILSAFE:
                # What is known of a sleeping car may be hours old (its own
                # schedule may have charged it since): the daily run does not
                # wake it on a guess; the car follows the schedule it has.
                run.reason = "asleep_not_woken"
                return
            if self.tracker.rate_limited(self._clock()):
                run.reason = "rate_limited"
                return
            await self.async_wake(vin, run)
            await self._async_read(run)
            status = self.tracker.car(vin).status
            run.plan = self.plan(status, settings, tariff, self._clock()) or run.plan
        await self._apply(run)
        if run.commands:
            run.result = WorkerResult.APPLIED
        elif run.reason is None:
            run.reason = "schedule_up_to_date"

    async def _async_read_if_awake(self, run: RunProgress) -> bool:
        """Make sure what is known is current when that costs no wake.

        Returns whether live data is fresh (so commands can follow at once).
        """
        vin = run.vin
        status = self.tracker.car(vin).status
        now = self._clock()
        if status.last_data_at is not None and now - status.last_data_at < FRESH_DATA_S:
            return True  # The scout read it moments ago.
        if self.tracker.rate_limited(now):
            return False
        try:
            record = await self._call(run, self.client.vehicle(vin))
        except RateLimitedError as err:
            self.tracker.note_rate_limit(err, self._clock())
            return False
        self.tracker.observe_state(vin, record.state)
        if not record.is_online:
            return False  # Asleep: a read would be a billed 408.
        if self.tracker.usage_blocked(self._clock()):
            return False  # The month's limit: what is known is all there is.
        try:
            await self._async_read(run)
        except VehicleUnavailableError:
            self.tracker.observe_state(vin, VehicleState.ASLEEP)
            return False
        except RateLimitedError as err:
            self.tracker.note_rate_limit(err, self._clock())
            return False
        return True

    def _schedule_unconfirmed(self, vin: str) -> bool:
        car = self.tracker.car(vin)
        return (
            car.schedule is not None
            and car.schedule.unconfirmed
            and supports_charge_schedules(car.status.firmware)
        )

    async def _async_reread(self, run: RunProgress) -> bool:
        """Read an awake car again; ``False`` when it has fallen asleep meanwhile."""
        try:
            await self._async_read(run)
        except VehicleUnavailableError:
            self.tracker.observe_state(run.vin, VehicleState.ASLEEP)
            return False
        return True

    async def _async_read(self, run: RunProgress) -> None:
        def _retried() -> None:
            run.requests += 1

        data = await self._call(
            run, self.tracker.async_live_data(run.vin, on_retry=_retried)
        )
        self.tracker.observe(run.vin, data, self._clock())

    def _needs_command(self, plan: ChargingPlan, vin: str, *, fresh: bool) -> bool:
        """Whether the car must be told anything to follow ``plan``.

        Judged from the car's own schedule as last read back. When nothing is
        known about it, an awake car is told (it costs no wake) and a sleeping
        one is not (so it is not woken).
        """
        if plan.reason == "already_at_target":
            return False
        car = self.tracker.car(vin)
        desired = schedule_windows_for(plan)
        if desired is None:
            return not car.status.charging  # charge as soon as possible
        if self._charging_too_early(plan, car.status):
            return True
        if car.schedule is None:
            return fresh
        # Stray copies of ours are removed while the car is awake anyway:
        # never worth a wake on their own.
        return car.schedule.windows != desired or bool(fresh and car.schedule.strays)

    def _charging_too_early(self, plan: ChargingPlan, status: VehicleStatus) -> bool:
        """Charging now, though the plan (made from now) starts later."""
        if not status.charging or plan.start is None:
            return False
        # Compared as instants: wall clocks repeat an hour in autumn. A plan
        # starting now (to the second) is no reason to stop.
        return self._clock() < plan.start.timestamp() - EARLY_TOLERANCE_S

    async def async_wake(self, vin: str, run: RunProgress | None = None) -> None:
        """The one wake path: wake a car (never through the proxy) and wait.

        Per-car lock: a worker run and a user command that both need the car
        awake send one ``wake_up``; the second finds the car online (a free
        state check) and sends none.
        """
        run = run or RunProgress(vin=vin, trigger="command", started=self._clock())
        async with self.tracker.car(vin).lock:
            record = await self._call(run, self.client.vehicle(vin))
            self.tracker.observe_state(vin, record.state)
            if record.is_online:
                return
            _LOGGER.debug("Waking %s", vin_tail(vin))
            await self._call(run, self.client.wake_up(vin))
            run.woke = True
            waited = 0.0
            while True:
                await self._sleep(WAKE_POLL_S)
                waited += WAKE_POLL_S
                record = await self._call(run, self.client.vehicle(vin))
                if record.is_online:
                    self.tracker.observe_state(vin, record.state)
                    return
                if waited >= self._wake_timeout_s:
                    msg = "the car did not wake up"
                    raise VehicleUnavailableError(msg)

    async def _apply(self, run: RunProgress) -> None:
        vin = run.vin
        plan = run.plan
        car = self.tracker.car(vin)
        if plan is None:
            return
        desired = schedule_windows_for(plan)
        if desired is None:
            if not car.status.charging:
                await self._command(run, "charge_start", self.client.charge_start)
                self.tracker.note_charging_started(vin)
            return
        if (
            car.schedule is None
            or car.schedule.windows != desired
            or car.schedule.strays
        ):
            await self._write_schedules(run, desired, car.schedule)
        if self._charging_too_early(plan, self.tracker.car(vin).status):
            await self._command(run, "charge_stop", self.client.charge_stop)
            self.tracker.note_charging_stopped(vin)

    async def _write_schedules(
        self, run: RunProgress, desired: ScheduleWindows, known: KnownSchedule | None
    ) -> None:
        """Make the car's schedules of ours ``desired``, slot by slot.

        A slot already right is left alone; one no longer needed is removed
        (only when the car said it has it: nothing is removed blindly).
        """
        vin = run.vin
        if supports_charge_schedules(self.tracker.car(vin).status.firmware):
            known = known or KnownSchedule(windows=(), known_at=0.0)
            ids: list[int | None] = list(known.ids)
            try:
                for slot, window in enumerate(desired):
                    if window == known.windows[slot]:  # right, or nothing to remove
                        continue
                    car_id = known.car_id(vin, slot)
                    if window is None:
                        await self._remove_schedule(run, car_id)
                        ids[slot] = None
                        continue
                    # The car keeps the id of a schedule it showed us; one we
                    # added it may renumber: its id stays unknown until a read.
                    await self._add_schedule(run, car_id, window)
                for stray in known.strays:
                    await self._remove_schedule(run, stray)
            except (CommandFailedError, InvalidRequestError) as err:
                if run.commands:
                    raise
                _LOGGER.debug(
                    "add_charge_schedule refused (%s); using scheduled charging",
                    type(err).__name__,
                )
            else:
                # Accepted is what the car has: no paid read-back. The next
                # read (the scout's, at the car's next wake) reports the
                # car's list, and a run corrects any difference.
                self.tracker.note_schedule(vin, desired, self._clock(), ids=ids)
                return
        first = next(window for window in desired if window is not None)
        await self._command(
            run,
            "set_scheduled_charging",
            lambda vin: self.client.set_scheduled_charging(
                vin, enable=True, minutes_after_midnight=first[0]
            ),
        )
        # Older firmware reports no schedule list: what it accepted is what it has.
        self.tracker.note_schedule(vin, (first,), self._clock())

    async def _add_schedule(
        self, run: RunProgress, schedule_id: int, window: tuple[int, int]
    ) -> None:
        """Write our schedule ``schedule_id`` (a new one, or a change of it)."""
        home = self.tracker.home
        start, end = window
        await self._command(
            run,
            "add_charge_schedule",
            lambda vin: self.client.add_charge_schedule(
                vin,
                days_of_week=SCHEDULE_DAYS,
                start_time=start,
                end_time=end,
                latitude=home.latitude,
                longitude=home.longitude,
                schedule_id=schedule_id,
            ),
        )

    async def _remove_schedule(self, run: RunProgress, schedule_id: int) -> None:
        """Remove our schedule ``schedule_id``; one the car no longer has is fine."""
        try:
            await self._command(
                run,
                "remove_charge_schedule",
                lambda vin: self.client.remove_charge_schedule(vin, schedule_id),
            )
        except CommandFailedError as err:
            _LOGGER.debug("remove_charge_schedule refused: %s", err.reason)

    async def _command(
        self, run: RunProgress, name: str, send: Callable[[str], Awaitable[Any]]
    ) -> None:
        """Send one command; a car that fell asleep meanwhile is woken once."""
        try:
            await self._call(run, send(run.vin))
        except VehicleUnavailableError:
            if run.woke:
                raise
            await self.async_wake(run.vin, run)
            await self._call(run, send(run.vin))
        run.commands.append(name)
        self.tracker.note_answered(run.vin)
