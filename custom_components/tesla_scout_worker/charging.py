"""One worker run, HA-free: read the car once, plan, and set the car's own schedule.

The car charges by itself from its schedule, so the integration does not need
to be awake at the start time, and nothing keeps the car awake meanwhile.
A run reads ``vehicle_data`` once; a sleeping car is woken at most once, and
only when a command is actually needed (smart charging on, plugged in, at home,
and the car's schedule differs from the plan). Repeated runs change the same
schedule (a stable id per car), so schedules never pile up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
import logging
import time as time_module
from typing import Any, TypeVar
import zlib
from zoneinfo import ZoneInfo

from .fleet import (
    CommandFailedError,
    CommandProtocolRequiredError,
    InvalidRequestError,
    RateLimitedError,
    TeslaFleetClient,
    TeslaFleetError,
    VehicleData,
    VehicleUnavailableError,
    vin_tail,
)
from .planner import ChargingPlan, PlanRequest, plan_cheapest_window
from .tariffs import Tariff
from .tracking import VehicleStatus, VehicleTracker

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

WORKER_ENDPOINTS = (
    "charge_state",
    "charge_schedule_data",
    "drive_state",
    "location_data",
    "vehicle_state",
)
SCHEDULE_DAYS = "All"
WAKE_TIMEOUT_S = 90.0
WAKE_POLL_S = 10.0
FIRST_ADD_CHARGE_SCHEDULE_FIRMWARE = (2024, 26)
"""``add_charge_schedule`` replaced ``set_scheduled_charging`` in 2024.26."""


class WorkerResult(StrEnum):
    """How a run ended (SPEC §7)."""

    APPLIED = "applied"
    PLANNED = "planned"
    NO_ACTION = "no_action"
    ERROR = "error"


class WorkerTrigger(StrEnum):
    """Why a run started (SPEC §7)."""

    ARRIVED_HOME = "arrived_home"
    INIT = "init"
    FAILSAFE = "failsafe"
    ACTION = "action"
    BUTTON = "button"


@dataclass(frozen=True, kw_only=True)
class ChargeSettings:
    """What the user set: entities (smart charging, departure) and options."""

    smart_charging: bool
    departure: time
    tz: ZoneInfo
    capacity_kwh: float = 75.0
    charger_power_kw: float = 11.0
    efficiency: float = 0.9


@dataclass(kw_only=True)
class WorkerRun:
    """The record of one run: trigger, timing, requests, plan, commands, result."""

    vin: str
    trigger: str
    started: float
    duration_s: float = 0.0
    requests: int = 0
    plan: ChargingPlan | None = None
    commands: list[str] = field(default_factory=list)
    woke: bool = False
    result: WorkerResult = WorkerResult.NO_ACTION
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly record (no VIN: callers know which car)."""
        return {
            "trigger": self.trigger,
            "started": self.started,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "plan": self.plan.as_dict() if self.plan is not None else None,
            "commands": list(self.commands),
            "woke": self.woke,
            "result": str(self.result),
            "error": self.error,
        }


def schedule_id_for(vin: str) -> int:
    """The stable id of this integration's charge schedule in one car."""
    return 1_000_000 + zlib.crc32(vin.encode()) % 1_000_000


def next_departure(now: datetime, departure: time) -> datetime:
    """The next local ``departure`` time after ``now`` (aware, in now's zone)."""
    candidate = datetime.combine(now.date(), departure, tzinfo=now.tzinfo)
    if candidate <= now:
        candidate = datetime.combine(
            now.date() + timedelta(days=1), departure, tzinfo=now.tzinfo
        )
    return candidate


def minutes_after_midnight(moment: datetime, *, round_up: bool = False) -> int:
    """Local minutes after midnight, as the car's schedule wants them.

    ``round_up`` for an end time, so the window never ends early.
    """
    minutes = moment.hour * 60 + moment.minute
    if round_up and (moment.second or moment.microsecond):
        minutes += 1
    return minutes % (24 * 60)


def _firmware(data: VehicleData) -> tuple[int, int] | None:
    version = (data.vehicle_state or {}).get("car_version")
    if not isinstance(version, str):
        return None
    parts = version.split(" ")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def _supports_schedules(data: VehicleData) -> bool:
    """Current firmware: charge schedules (else the older scheduled charging)."""
    firmware = _firmware(data)
    return firmware is None or firmware >= FIRST_ADD_CHARGE_SCHEDULE_FIRMWARE


class ChargingWorker:
    """Runs the worker for the cars of one account."""

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
        self._written: dict[str, tuple[int, int]] = {}
        """The schedule (start, end minutes) last written to each car."""

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
        return plan_cheapest_window(
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
        )

    async def async_run(
        self,
        vin: str,
        trigger: str,
        settings: ChargeSettings,
        tariff: Tariff | None,
    ) -> WorkerRun:
        """Run once for one car; never raises for Fleet errors (they are the result)."""
        run = WorkerRun(vin=vin, trigger=trigger, started=self._clock())
        try:
            await self._run(run, settings, tariff)
        except CommandProtocolRequiredError:
            run.result, run.error = WorkerResult.ERROR, "command_protocol_required"
        except TeslaFleetError as err:
            run.result, run.error = WorkerResult.ERROR, type(err).__name__
        run.duration_s = self._clock() - run.started
        _LOGGER.debug(
            "Worker for %s (%s): %s after %s requests",
            self.tracker.vehicles[vin].name,
            trigger,
            run.result,
            run.requests,
        )
        return run

    async def _call(self, run: WorkerRun, request: Awaitable[_T]) -> _T:
        run.requests += 1
        return await request

    async def _run(
        self, run: WorkerRun, settings: ChargeSettings, tariff: Tariff | None
    ) -> None:
        vin = run.vin
        status = self.tracker.vehicles[vin]
        data: VehicleData | None = None
        # After a 429 no reads until Retry-After: plan from what is known.
        may_read = not self.tracker.rate_limited(self._clock())
        if may_read:
            try:
                data = await self._call(
                    run, self.client.vehicle_data(vin, WORKER_ENDPOINTS)
                )
            except VehicleUnavailableError:
                pass
            except RateLimitedError as err:
                self.tracker.note_rate_limit(err, self._clock())
                may_read = False
        if data is not None:
            self.tracker.observe(vin, data, self._clock())
        run.plan = self.plan(status, settings, tariff, self._clock())
        if run.plan is None:
            return
        run.result = WorkerResult.PLANNED
        if not (settings.smart_charging and status.plugged_in and status.at_home):
            return
        if data is None:
            if not may_read or not self._needs_command(run.plan, status, None, vin):
                return
            data = await self._wake_and_read(run)
            run.plan = self.plan(status, settings, tariff, self._clock()) or run.plan
        await self._apply(run, data, status)
        if run.commands:
            run.result = WorkerResult.APPLIED

    def _desired_schedule(self, plan: ChargingPlan) -> tuple[int, int] | None:
        if plan.reason != "cheapest_window" or plan.start is None or plan.end is None:
            return None
        return (
            minutes_after_midnight(plan.start),
            minutes_after_midnight(plan.end, round_up=True),
        )

    def _needs_command(
        self,
        plan: ChargingPlan,
        status: VehicleStatus,
        data: VehicleData | None,
        vin: str,
    ) -> bool:
        """Whether the car must be told anything to follow ``plan``.

        Without fresh data (the car sleeps) the schedule this worker wrote last
        stands for the car's: unchanged, nothing is sent and nobody is woken.
        """
        if plan.reason == "already_at_target":
            return False
        desired = self._desired_schedule(plan)
        if desired is None:
            return not status.charging  # charge as soon as possible
        return self._charging_too_early(plan, status) or self._schedule_differs(
            desired, data, vin
        )

    def _schedule_differs(
        self, desired: tuple[int, int], data: VehicleData | None, vin: str
    ) -> bool:
        if data is None or not _supports_schedules(data):
            return self._written.get(vin) != desired
        ours = next(
            (s for s in data.charge_schedules or () if s.id == schedule_id_for(vin)),
            None,
        )
        return (
            ours is None
            or not ours.enabled
            or (ours.start_time, ours.end_time) != desired
        )

    def _charging_too_early(self, plan: ChargingPlan, status: VehicleStatus) -> bool:
        if not status.charging or plan.start is None:
            return False
        # Compared as instants: wall clocks repeat an hour in autumn.
        return self._clock() < plan.start.timestamp()

    async def async_wake(self, vin: str) -> None:
        """Wake a car for a command the user asked for; wait until it is online."""
        await self._wake(WorkerRun(vin=vin, trigger="command", started=self._clock()))

    async def _wake_and_read(self, run: WorkerRun) -> VehicleData:
        """Wake the car once (never through the proxy), then read it."""
        await self._wake(run)
        data = await self._call(
            run, self.client.vehicle_data(run.vin, WORKER_ENDPOINTS)
        )
        self.tracker.observe(run.vin, data, self._clock())
        return data

    async def _wake(self, run: WorkerRun) -> None:
        vin = run.vin
        record = await self._call(run, self.client.vehicle(vin))
        if not record.is_online:
            _LOGGER.debug("Waking %s to apply a charging plan", vin_tail(vin))
            await self._call(run, self.client.wake_up(vin))
            run.woke = True
            waited = 0.0
            while True:
                await self._sleep(WAKE_POLL_S)
                waited += WAKE_POLL_S
                record = await self._call(run, self.client.vehicle(vin))
                if record.is_online:
                    break
                if waited >= self._wake_timeout_s:
                    msg = "the car did not wake up"
                    raise VehicleUnavailableError(msg)

    async def _apply(
        self, run: WorkerRun, data: VehicleData, status: VehicleStatus
    ) -> None:
        vin = run.vin
        plan = run.plan
        if plan is None or not self._needs_command(plan, status, data, vin):
            return
        desired = self._desired_schedule(plan)
        if desired is None:
            await self._command(run, "charge_start", self.client.charge_start(vin))
            return
        if self._schedule_differs(desired, data, vin):
            await self._write_schedule(run, data, desired)
            self._written[vin] = desired
        if self._charging_too_early(plan, status):
            await self._command(run, "charge_stop", self.client.charge_stop(vin))

    async def _write_schedule(
        self, run: WorkerRun, data: VehicleData, desired: tuple[int, int]
    ) -> None:
        vin = run.vin
        start, end = desired
        if _supports_schedules(data):
            home = self.tracker.home
            try:
                await self._command(
                    run,
                    "add_charge_schedule",
                    self.client.add_charge_schedule(
                        vin,
                        days_of_week=SCHEDULE_DAYS,
                        start_time=start,
                        end_time=end,
                        latitude=home.latitude,
                        longitude=home.longitude,
                        schedule_id=schedule_id_for(vin),
                    ),
                )
            except (CommandFailedError, InvalidRequestError) as err:
                _LOGGER.debug(
                    "add_charge_schedule refused (%s); using scheduled charging",
                    type(err).__name__,
                )
            else:
                return
        await self._command(
            run,
            "set_scheduled_charging",
            self.client.set_scheduled_charging(
                vin, enable=True, minutes_after_midnight=start
            ),
        )

    async def _command(
        self, run: WorkerRun, name: str, request: Awaitable[Any]
    ) -> None:
        await self._call(run, request)
        run.commands.append(name)
