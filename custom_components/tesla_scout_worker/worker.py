"""The worker in Home Assistant: where runs are decided, and what follows them.

A run's triggers all meet here: a car arriving home or first seen at home (the
tracker's transitions), plugged in at home after a run found it unplugged, the
daily failsafe, new prices (the :class:`TariffSource`), a retry after a
transient failure, and the user's button or action. The run itself is HA-free
(``domain/worker_run.py``); :class:`WorkerScheduler` decides *whether* it
happens (one per car at a time, ``worker_cooldown`` unless forced), feeds it the
user's settings and the tariff, and tells Home Assistant what came of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import time as time_module
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_VIN,
    CONF_BATTERY_CAPACITY,
    CONF_CHARGER_POWER,
    CONF_CHARGING_EFFICIENCY,
    CONF_FAILSAFE_TIME,
    CONF_MAX_CHARGE_WINDOWS,
    CONF_SPLIT_MIN_SAVING,
    CONF_WORKER_COOLDOWN,
    DEFAULT_BATTERY_CAPACITY,
    DEFAULT_CHARGER_POWER,
    DEFAULT_CHARGING_EFFICIENCY,
    DEFAULT_FAILSAFE_TIME,
    DEFAULT_MAX_CHARGE_WINDOWS,
    DEFAULT_SPLIT_MIN_SAVING,
    DEFAULT_WORKER_COOLDOWN,
    DOMAIN,
    EVENT_TYPE,
    EVENT_WORKER_FINISHED,
    LOGGER,
)
from .daily import async_track_daily, parse_hhmm
from .domain.car import (
    Transition,
    TransitionKind,
    WorkerResult,
    WorkerRun,
    WorkerTrigger,
)
from .domain.plan import ChargingPlan
from .domain.tariffs import Tariff
from .domain.tracker import VehicleTracker
from .domain.worker_run import ChargeSettings, ChargingWorker
from .fleet.models import vin_tail
from .issues import (
    ISSUE_COMMAND_PROTOCOL,
    async_update_command_protocol_issue,
)
from .pairing import KeyPairing
from .tariff_source import TariffSource

RETRY_DELAYS_S = (15 * 60.0, 60 * 60.0)
"""A run that failed on a transient error (Tesla unreachable, a 5xx, a car
that did not wake) is tried again this much later, then gives up until its
next trigger. Auth and signing errors are not retried: a user must act."""
NOT_RETRIED = frozenset(
    {
        "command_protocol_required",
        "InvalidClientError",
        "key_not_paired",
        "LoginRequiredError",
        "mobile_access_disabled",
        "usage_limit_exceeded",
    }
)


@dataclass
class _CarRuns:
    """The scheduler's book of one car's runs."""

    running: bool = False
    started: float | None = None
    """Start of its last run since setup: the cooldown's clock. A run restored
    from the store does not count, so a reload (new options) plans again at
    once."""
    waiting_for_tariff: str | None = None
    """Trigger of a run that found no tariff, to run again with prices."""
    retries: int = 0
    """Retries of a failed run so far (forgotten when a run succeeds)."""
    cancel_retry: CALLBACK_TYPE | None = None


class WorkerScheduler:
    """Decides when the worker runs for the cars of one config entry."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry[Any], tracker: VehicleTracker
    ) -> None:
        """Subscribe to the tracker's transitions and the tariff's news."""
        self.hass = hass
        self.entry = entry
        self.tracker = tracker
        self.charging = ChargingWorker(tracker.client, tracker)
        """Runs and the one wake path (HA-free)."""
        self._cars: dict[str, _CarRuns] = {vin: _CarRuns() for vin in tracker.cars}
        self.tariffs = TariffSource(
            hass,
            entry,
            waiting=lambda: any(c.waiting_for_tariff for c in self._cars.values()),
            replannable=lambda: bool(self._replannable()),
        )
        self.tariffs.news.add(self._async_plan_again)
        self.pairing = KeyPairing(hass, entry, tracker)
        """Which cars lack the application's key (a repair)."""
        self._unsubscribe = tracker.transitions.add(self._async_transition)

    @property
    def tz(self) -> ZoneInfo:
        """Home Assistant's time zone."""
        return self.tariffs.tz

    @property
    def last_run_at(self) -> float | None:
        """When the latest run of any car started."""
        starts = [
            car.last_run.started
            for car in self.tracker.cars.values()
            if car.last_run is not None
        ]
        return max(starts) if starts else None

    def last_run(self, vin: str) -> WorkerRun | None:
        """The last run of one car."""
        run: WorkerRun | None = self.tracker.car(vin).last_run
        return run

    def tariff(self) -> Tariff | None:
        """The configured tariff (see :meth:`TariffSource.tariff`)."""
        return self.tariffs.tariff()

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Run daily at ``failsafe_time`` and watch the tariff; returns the stop."""
        when = parse_hhmm(
            self.entry.options.get(CONF_FAILSAFE_TIME), DEFAULT_FAILSAFE_TIME
        )

        @callback
        def _failsafe(now: datetime) -> None:
            for vin in self.tracker.cars:
                self._async_run_in_background(vin, WorkerTrigger.FAILSAFE)

        # Once per local day, also when the DST night skips or repeats the time.
        unsubscribers = [
            async_track_daily(self.hass, _failsafe, when),
            self.tariffs.async_start(),
            self._unsubscribe,
        ]

        @callback
        def _stop() -> None:
            for unsubscribe in unsubscribers:
                unsubscribe()
            for car in self._cars.values():
                if car.cancel_retry is not None:
                    car.cancel_retry()
                    car.cancel_retry = None

        return _stop

    @callback
    def _async_transition(self, transition: Transition) -> None:
        """A car came home (or is home at first sight), or was plugged in there."""
        if transition.kind is TransitionKind.PLUGGED_IN_AT_HOME:
            self._async_plugged_in(transition.vin)
        elif (trigger := transition.kind.worker_trigger) is not None:
            self._async_run_in_background(transition.vin, trigger)

    @callback
    def _async_plugged_in(self, vin: str) -> None:
        """The car was plugged in at home: a run that found it unplugged runs again.

        An arrival's run plans but sends nothing while the cable is out; the
        scout sees the plug at its next look, and the same run (its trigger)
        runs once more, past the cooldown, to write the schedule.
        """
        last = self.last_run(vin)
        if last is not None and last.reason == "not_plugged_in_at_home":
            LOGGER.debug("Plugged in at home: planning again (%s)", last.trigger)
            self._async_run_in_background(vin, str(last.trigger), force=True)

    @callback
    def _async_schedule_retry(self, run: WorkerRun) -> None:
        """After a transient failure, try again later (a few times at most)."""
        vin = run.vin
        car = self._cars[vin]
        if car.cancel_retry is not None:
            car.cancel_retry()
            car.cancel_retry = None
        if run.result is not WorkerResult.ERROR or run.error in NOT_RETRIED:
            # Succeeded (or cannot succeed without the user): start over.
            car.retries = 0
            return
        fired = car.retries
        if fired >= len(RETRY_DELAYS_S):
            car.retries = 0
            LOGGER.debug(
                "Worker run for %s failed again; next at its trigger", vin_tail(vin)
            )
            return
        trigger = str(run.trigger)

        @callback
        def _retry(_now: datetime) -> None:
            car.cancel_retry = None
            car.retries = fired + 1
            self._async_run_in_background(vin, trigger, force=True)

        # Not before a Retry-After that Tesla gave (a 429 on a read or command):
        # a retry inside it would only be refused again, and billed.
        delay = RETRY_DELAYS_S[fired]
        if (retry_at := self.tracker.retry_at) is not None:
            delay = max(delay, retry_at - time_module.time())
        car.cancel_retry = async_call_later(self.hass, delay, _retry)

    def _replannable(self) -> list[str]:
        """Cars a new forecast could change the plan of."""
        return [
            vin
            for vin, car in self.tracker.cars.items()
            if car.settings.smart_charging
            and car.status.plugged_in
            and car.status.at_home
            and car.last_run is not None
        ]

    @callback
    def _async_plan_again(self, forecast_changed: bool) -> None:
        """Prices are here: runs that waited run now; a new forecast replans cars."""
        waiting = {
            vin: car.waiting_for_tariff
            for vin, car in self._cars.items()
            if car.waiting_for_tariff is not None
        }
        for vin, trigger in waiting.items():
            self._cars[vin].waiting_for_tariff = None
            LOGGER.debug("Prices are here: planning again (%s)", trigger)
            self._async_run_in_background(vin, trigger, force=True)
        if not forecast_changed:
            return
        for vin in self._replannable():
            if vin not in waiting and (last := self.last_run(vin)) is not None:
                LOGGER.debug("New price forecast: planning again")
                self._async_run_in_background(vin, last.trigger)

    @callback
    def _async_run_in_background(
        self, vin: str, trigger: str, *, force: bool = False
    ) -> None:
        self.entry.async_create_background_task(
            self.hass,
            self.async_request_run(vin, trigger, force=force),
            f"{DOMAIN} worker {trigger}",
        )

    def charge_settings(self, vin: str) -> ChargeSettings:
        """The settings a run of this car uses."""
        options = self.entry.options
        settings = self.tracker.car(vin).settings
        return ChargeSettings(
            smart_charging=settings.smart_charging,
            departure=settings.departure,
            tz=self.tz,
            capacity_kwh=float(
                options.get(CONF_BATTERY_CAPACITY, DEFAULT_BATTERY_CAPACITY)
            ),
            charger_power_kw=float(
                options.get(CONF_CHARGER_POWER, DEFAULT_CHARGER_POWER)
            ),
            efficiency=float(
                options.get(CONF_CHARGING_EFFICIENCY, DEFAULT_CHARGING_EFFICIENCY)
            ),
            max_windows=int(
                options.get(CONF_MAX_CHARGE_WINDOWS, DEFAULT_MAX_CHARGE_WINDOWS)
            ),
            min_split_saving=float(
                options.get(CONF_SPLIT_MIN_SAVING, DEFAULT_SPLIT_MIN_SAVING)
            ),
        )

    def current_plan(self, vin: str) -> ChargingPlan | None:
        """A plan from what is known now, without any request to Tesla."""
        return self.charging.plan(
            self.tracker.car(vin).status,
            self.charge_settings(vin),
            self.tariffs.tariff(),
            time_module.time(),
        )

    async def async_request_run(
        self, vin: str, trigger: str, *, force: bool = False
    ) -> WorkerRun | None:
        """Run for one car unless the cooldown (or a run under way) says no.

        A skipped run sends nothing and fires nothing.
        """
        if self.tracker.car(vin).gone:
            LOGGER.debug("Worker run (%s) skipped: the car left the account", trigger)
            return None
        car = self._cars[vin]
        now = time_module.time()
        cooldown_s = 60.0 * float(
            self.entry.options.get(CONF_WORKER_COOLDOWN, DEFAULT_WORKER_COOLDOWN)
        )
        if not force and car.started is not None and now - car.started < cooldown_s:
            LOGGER.debug("Worker run (%s) skipped: cooldown", trigger)
            return None
        if car.running:
            LOGGER.debug("Worker run (%s) skipped: one is under way", trigger)
            return None
        car.running = True
        try:
            await self.tariffs.async_refresh()
            run = await self.charging.async_run(
                vin, trigger, self.charge_settings(vin), self.tariffs.tariff()
            )
        finally:
            car.running = False
        if run.reason == "no_tariff":
            car.waiting_for_tariff = trigger
        car.started = run.started
        self.tracker.record_run(vin, run)
        if run.error == ISSUE_COMMAND_PROTOCOL or run.commands:
            # Refused, or sent and accepted; nothing sent: the issue stands.
            async_update_command_protocol_issue(
                self.hass, self.entry, refused=run.error == ISSUE_COMMAND_PROTOCOL
            )
        if run.error == "key_not_paired" or run.commands:
            self.pairing.async_note(vin, paired=run.error != "key_not_paired")
        self._async_schedule_retry(run)
        self.hass.bus.async_fire(
            EVENT_TYPE,
            {
                "type": EVENT_WORKER_FINISHED,
                ATTR_CONFIG_ENTRY_ID: self.entry.entry_id,
                ATTR_VIN: vin,
                "result": str(run.result),
                "trigger": str(trigger),
            },
        )
        return run
