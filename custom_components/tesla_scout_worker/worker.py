"""The worker in Home Assistant: triggers, cooldown, settings, events, repairs.

The run itself is HA-free (``charging.py``). :class:`WorkerScheduler` decides
*whether* a run happens (one per car at a time, ``worker_cooldown`` unless
forced), feeds it the user's settings and tariff, and tells Home Assistant what
came of it. A run that found no tariff (a price sensor not there yet) is run
again as soon as the sensor has prices. User commands go through
:meth:`WorkerScheduler.async_command`: the same wake path as the runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
import time as time_module
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import (
    async_call_later,
    async_track_state_change_event,
    async_track_time_interval,
)

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_VIN,
    CONF_BATTERY_CAPACITY,
    CONF_CHARGER_POWER,
    CONF_CHARGING_EFFICIENCY,
    CONF_EXTRA_OFFPEAK_DATES,
    CONF_FAILSAFE_TIME,
    CONF_MAX_CHARGE_WINDOWS,
    CONF_NORDPOOL_AREA,
    CONF_NORDPOOL_ENTRY,
    CONF_OFFPEAK_PRICE,
    CONF_PEAK_PRICE,
    CONF_PRICE_ATTRIBUTE,
    CONF_PRICE_ENTITY,
    CONF_SPLIT_MIN_SAVING,
    CONF_TARIFF,
    CONF_WORKER_COOLDOWN,
    DEFAULT_BATTERY_CAPACITY,
    DEFAULT_CHARGER_POWER,
    DEFAULT_CHARGING_EFFICIENCY,
    DEFAULT_FAILSAFE_TIME,
    DEFAULT_MAX_CHARGE_WINDOWS,
    DEFAULT_NORDPOOL_AREA,
    DEFAULT_SPLIT_MIN_SAVING,
    DEFAULT_TARIFF,
    DEFAULT_WORKER_COOLDOWN,
    DOMAIN,
    EVENT_TYPE,
    EVENT_WORKER_FINISHED,
    LOGGER,
    TARIFF_NORDPOOL,
    TARIFF_PRICE_ENTITY,
)
from .daily import async_track_daily
from .domain.planner import ChargingPlan
from .domain.tariffs import (
    FORECAST_ATTRIBUTES,
    Tariff,
    TariffError,
    preset_tariff,
    tariff_from_nordpool_action,
    tariff_from_price_attributes,
)
from .domain.worker_run import (
    ChargeSettings,
    ChargingWorker,
    WorkerResult,
    WorkerRun,
    WorkerTrigger,
)
from .fleet import (
    CommandFailedError,
    CommandProtocolRequiredError,
    MobileAccessDisabledError,
    RateLimitedError,
    TeslaFleetError,
    UsageLimitExceededError,
    VehicleUnavailableError,
)
from .fleet.models import vin_tail
from .fleet.outage import OutageLog
from .fleet.tokens import TOKEN_ERRORS
from .issues import async_set_issue
from .prices import REFETCH_S as NORDPOOL_REFETCH_S, NordPoolPrices
from .scout import format_until
from .tokens import token_error_to_ha

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from .models import TeslaScoutWorkerConfigEntry
    from .scout import ScoutCoordinator

ISSUE_COMMAND_PROTOCOL = "command_protocol_required"
ISSUE_KEY_NOT_PAIRED = "key_not_paired"
VIRTUAL_KEY_URL = "https://github.com/teslamotors/vehicle-command"
RETRY_DELAYS_S = (15 * 60.0, 60 * 60.0)
"""A run that failed on a transient error (Tesla unreachable, a 5xx, a car
that did not wake) is tried again this much later, then gives up until its
next trigger. Auth and signing errors are not retried: a user must act."""
NOT_RETRIED = frozenset(
    {
        "command_protocol_required",
        "InvalidClientError",
        "LoginRequiredError",
        "mobile_access_disabled",
        "usage_limit_exceeded",
    }
)
KEY_PAIRING_URL = "https://tesla.com/_ak/"
"""Followed by the application's domain: Tesla's virtual-key pairing link."""


def parse_hhmm(value: str | None, default: str = DEFAULT_FAILSAFE_TIME) -> time:
    """``"HH:MM"`` (seconds tolerated) as a time; the default when unusable."""
    for candidate in (value, default):
        try:
            parts = [int(p) for p in str(candidate).split(":")[:2]]
            return time(parts[0], parts[1])
        except (ValueError, IndexError):
            continue
    return time(0, 0)


class WorkerScheduler:
    """Decides when the worker runs for the cars of one config entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: TeslaScoutWorkerConfigEntry,
        scout: ScoutCoordinator,
    ) -> None:
        """Share the scout's client and tracker."""
        self.hass = hass
        self.entry = entry
        self.scout = scout
        self.tracker = scout.tracker
        self.worker = ChargingWorker(scout.tracker.client, scout.tracker)
        self._running: set[str] = set()
        self._waiting_for_tariff: dict[str, str] = {}
        """VIN → trigger of a run that found no tariff, to run again."""
        self._ready = asyncio.Event()
        """Set once the entities restored the user's settings."""
        options = entry.options
        self.nordpool: NordPoolPrices | None = None
        """Prices of the core Nord Pool integration, for its tariff."""
        if options.get(CONF_TARIFF) == TARIFF_NORDPOOL and options.get(
            CONF_NORDPOOL_ENTRY
        ):
            self.nordpool = NordPoolPrices(
                hass,
                options[CONF_NORDPOOL_ENTRY],
                options.get(CONF_NORDPOOL_AREA, DEFAULT_NORDPOOL_AREA),
                hass.config.currency,
            )
        self._retries_fired: dict[str, int] = {}
        """VIN → retries of a failed run so far (forgotten when a run succeeds)."""
        self._tariff_log = OutageLog(
            "The tariff", "no charging command is sent until it can be read"
        )
        self._retry_timers: dict[str, CALLBACK_TYPE] = {}
        """VIN → cancel of the pending retry."""
        self._started: dict[str, float] = {}
        """VIN → start of its last run since setup: the cooldown's clock. A run
        restored from the store does not count, so a reload (new options)
        plans again at once, as before runs were stored."""

    @callback
    def async_set_ready(self) -> None:
        """Let runs start: the settings (smart charging, departure) are known."""
        self._ready.set()

    @property
    def tz(self) -> ZoneInfo:
        """Home Assistant's time zone."""
        return ZoneInfo(self.hass.config.time_zone)

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

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Run daily at ``failsafe_time``; run again when a missing price appears."""
        when = parse_hhmm(self.entry.options.get(CONF_FAILSAFE_TIME))

        @callback
        def _failsafe(now: datetime) -> None:
            for vin in self.tracker.cars:
                self._async_run_in_background(vin, WorkerTrigger.FAILSAFE)

        # Once per local day, also when the DST night skips or repeats the time.
        unsubscribers = [async_track_daily(self.hass, _failsafe, when)]
        if self.nordpool is not None:
            unsubscribers.append(
                async_track_time_interval(
                    self.hass,
                    self._async_nordpool_tick,
                    timedelta(seconds=NORDPOOL_REFETCH_S),
                    name=f"{DOMAIN} Nord Pool prices",
                )
            )
        if self.entry.options.get(CONF_TARIFF) == TARIFF_PRICE_ENTITY and (
            price_entity := self.entry.options.get(CONF_PRICE_ENTITY)
        ):
            unsubscribers.append(
                async_track_state_change_event(
                    self.hass, [price_entity], self._async_price_changed
                )
            )

        @callback
        def _stop() -> None:
            for unsubscribe in unsubscribers:
                unsubscribe()
            for cancel in self._retry_timers.values():
                cancel()
            self._retry_timers.clear()

        return _stop

    @callback
    def _async_schedule_retry(self, run: WorkerRun) -> None:
        """After a transient failure, try again later (a few times at most)."""
        vin = run.vin
        if (cancel := self._retry_timers.pop(vin, None)) is not None:
            cancel()
        if run.result is not WorkerResult.ERROR or run.error in NOT_RETRIED:
            # Succeeded (or cannot succeed without the user): start over.
            self._retries_fired.pop(vin, None)
            return
        fired = self._retries_fired.get(vin, 0)
        if fired >= len(RETRY_DELAYS_S):
            self._retries_fired.pop(vin)
            LOGGER.debug(
                "Worker run for %s failed again; next at its trigger", vin_tail(vin)
            )
            return
        trigger = str(run.trigger)

        @callback
        def _retry(_now: datetime) -> None:
            self._retry_timers.pop(vin, None)
            self._retries_fired[vin] = fired + 1
            self._async_run_in_background(vin, trigger, force=True)

        # Not before a Retry-After that Tesla gave (a 429 on a read or command):
        # a retry inside it would only be refused again, and billed.
        delay = RETRY_DELAYS_S[fired]
        if (retry_at := self.tracker.retry_at) is not None:
            delay = max(delay, retry_at - time_module.time())
        self._retry_timers[vin] = async_call_later(self.hass, delay, _retry)

    @callback
    def _async_price_changed(self, event: Event[EventStateChangedData]) -> None:
        """Prices appeared or the forecast changed: plan again.

        A run that waited for prices runs now. A car plugged in at home with
        smart charging on is planned again when the forecast changes (the day
        ahead is published once a day), within the cooldown.
        """
        old, new = event.data["old_state"], event.data["new_state"]
        forecast_changed = not (
            old is None
            or new is None
            or all(
                old.attributes.get(key) == new.attributes.get(key)
                for key in self._forecast_attributes()
            )
        )
        # Parse the forecast only when something could come of it.
        if not (self._waiting_for_tariff or forecast_changed) or self.tariff() is None:
            return
        self._async_plan_again(forecast_changed=forecast_changed)

    async def _async_nordpool_tick(self, _now: datetime) -> None:
        """Ask Nord Pool for news while a run waits for prices or a car could use it.

        The day ahead comes out once a day (about 13:00 CET): then the runs that
        found no prices run, and cars plugged in at home are planned again.
        """
        nordpool = self.nordpool
        if nordpool is None or not (self._waiting_for_tariff or self._replannable()):
            return
        if await nordpool.async_update() and self.tariff() is not None:
            self._async_plan_again(forecast_changed=True)

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
    def _async_plan_again(self, *, forecast_changed: bool) -> None:
        """Prices are here: runs that waited run now; a new forecast replans cars."""
        waiting, self._waiting_for_tariff = self._waiting_for_tariff, {}
        for vin, trigger in waiting.items():
            LOGGER.debug("Prices are here: planning again (%s)", trigger)
            self._async_run_in_background(vin, trigger, force=True)
        if not forecast_changed:
            return
        for vin in self._replannable():
            if vin not in waiting:
                LOGGER.debug("New price forecast: planning again")
                self._async_run_in_background(
                    vin, self.tracker.car(vin).last_run.trigger
                )

    @callback
    def async_plugged_in(self, vin: str) -> None:
        """The car was plugged in at home: a run that found it unplugged runs again.

        An arrival's run plans but sends nothing while the cable is out; the
        scout sees the plug at its next look, and the same run (its trigger)
        runs once more, past the cooldown, to write the schedule.
        """
        last = self.last_run(vin)
        if last is not None and last.reason == "not_plugged_in_at_home":
            LOGGER.debug("Plugged in at home: planning again (%s)", last.trigger)
            self._async_run_in_background(vin, str(last.trigger), force=True)

    def _forecast_attributes(self) -> tuple[str, ...]:
        """The price sensor's attributes that hold its forecast."""
        if attribute := self.entry.options.get(CONF_PRICE_ATTRIBUTE):
            return (attribute,)
        return FORECAST_ATTRIBUTES

    @callback
    def _async_run_in_background(
        self, vin: str, trigger: str, *, force: bool = False
    ) -> None:
        self.entry.async_create_background_task(
            self.hass,
            self.async_request_run(vin, trigger, force=force),
            f"{DOMAIN} worker {trigger}",
        )

    @callback
    def async_set_settings(self, vin: str, **changes: Any) -> None:
        """The user changed a setting (the switch or the time entity)."""
        self.tracker.set_settings(vin, **changes)
        self.scout.async_publish()

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

    def tariff(self) -> Tariff | None:
        """The configured tariff; ``None`` (no charging command) when unavailable.

        An unreadable tariff is logged once, and once when it can be read again:
        it is asked for at every run and every change of the price sensor.
        """
        try:
            tariff = self._tariff()
        except (TariffError, ValueError) as err:
            self._tariff_log.failed(str(err))
            return None
        if tariff is not None:
            self._tariff_log.answered()
        return tariff

    def _tariff(self) -> Tariff | None:
        options = self.entry.options
        name = options.get(CONF_TARIFF, DEFAULT_TARIFF)
        if name == TARIFF_NORDPOOL:
            if self.nordpool is None or not self.nordpool.responses:
                return None
            return tariff_from_nordpool_action(
                self.nordpool.responses, self.nordpool.area, self.tz
            )
        if name == TARIFF_PRICE_ENTITY:
            entity_id = options.get(CONF_PRICE_ENTITY)
            state = self.hass.states.get(entity_id) if entity_id else None
            if state is None:
                return None
            return tariff_from_price_attributes(
                state.attributes, self.tz, options.get(CONF_PRICE_ATTRIBUTE)
            )
        return preset_tariff(
            name,
            self.tz,
            peak_price=options.get(CONF_PEAK_PRICE),
            offpeak_price=options.get(CONF_OFFPEAK_PRICE),
            extra_offpeak_dates=[
                date.fromisoformat(day)
                for day in options.get(CONF_EXTRA_OFFPEAK_DATES, ())
            ],
        )

    def current_plan(self, vin: str) -> ChargingPlan | None:
        """A plan from what is known now, without any request to Tesla."""
        return self.worker.plan(
            self.tracker.car(vin).status,
            self.charge_settings(vin),
            self.tariff(),
            time_module.time(),
        )

    async def async_request_run(
        self, vin: str, trigger: str, *, force: bool = False
    ) -> WorkerRun | None:
        """Run for one car unless the cooldown (or a run under way) says no.

        A skipped run sends nothing and fires nothing.
        """
        await self._ready.wait()
        if self.tracker.car(vin).gone:
            LOGGER.debug("Worker run (%s) skipped: the car left the account", trigger)
            return None
        now = time_module.time()
        last_started = self._started.get(vin)
        cooldown_s = 60.0 * float(
            self.entry.options.get(CONF_WORKER_COOLDOWN, DEFAULT_WORKER_COOLDOWN)
        )
        if not force and last_started is not None and now - last_started < cooldown_s:
            LOGGER.debug("Worker run (%s) skipped: cooldown", trigger)
            return None
        if vin in self._running:
            LOGGER.debug("Worker run (%s) skipped: one is under way", trigger)
            return None
        self._running.add(vin)
        try:
            if self.nordpool is not None:
                await self.nordpool.async_update()
            run = await self.worker.async_run(
                vin, trigger, self.charge_settings(vin), self.tariff()
            )
        finally:
            self._running.discard(vin)
        if run.reason == "no_tariff":
            self._waiting_for_tariff[vin] = trigger
        self._started[vin] = run.started
        self.tracker.record_run(vin, run)
        self._update_repair(run)
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

    def _update_repair(self, run: WorkerRun) -> None:
        refused = run.error == ISSUE_COMMAND_PROTOCOL
        if not refused and not run.commands:
            return  # nothing was sent: the issue (if any) stands
        async_set_issue(
            self.hass,
            f"{ISSUE_COMMAND_PROTOCOL}_{self.entry.entry_id}",
            refused,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_COMMAND_PROTOCOL,
            translation_placeholders={
                "title": self.entry.title,
                "pairing_url": KEY_PAIRING_URL,
            },
            learn_more_url=VIRTUAL_KEY_URL,
        )

    async def async_check_key_pairing(self) -> None:
        """Once per start: warn when a car needs signed commands but lacks our key.

        One ``fleet_status`` request (billed as data); failures only log, the
        worker's own 403 handling still raises the repair issue.
        """
        client = self.tracker.client
        vins = list(self.tracker.cars)
        if self.tracker.usage_blocked(time_module.time()):
            return  # Billed, and Tesla refuses paid requests this month.
        try:
            status = await client.fleet_status(vins)
        except UsageLimitExceededError as err:
            self.tracker.note_usage_limit(err, time_module.time())
            return
        except TeslaFleetError as err:
            LOGGER.debug("fleet_status unavailable: %s", type(err).__name__)
            return
        unpaired = [
            vin
            for vin in vins
            if vin in status.unpaired_vins and status.protocol_required.get(vin, True)
        ]
        names = ", ".join(self.tracker.car(vin).status.name for vin in unpaired)
        async_set_issue(
            self.hass,
            f"{ISSUE_KEY_NOT_PAIRED}_{self.entry.entry_id}",
            bool(unpaired),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_KEY_NOT_PAIRED,
            translation_placeholders={
                "vehicles": names,
                "pairing_url": KEY_PAIRING_URL,
            },
            learn_more_url=VIRTUAL_KEY_URL,
        )

    async def async_command(
        self,
        vin: str,
        name: str,
        send: Callable[[], Awaitable[Any]],
        **status_changes: Any,
    ) -> None:
        """A command the user asked for: wake a sleeping car once, then send it.

        The wake goes through the worker's one wake path (a per-car lock), so a
        run and a command never wake the car twice. What the car accepted is
        taken into its status (``status_changes``). Nothing is sent while
        Tesla's monthly limit is reached (each refusal is billed too).
        """
        if self.tracker.usage_blocked(now := time_module.time()):
            raise self._usage_limit_error()
        try:
            try:
                await send()
            except VehicleUnavailableError:
                await self.worker.async_wake(vin)
                await send()
        except TOKEN_ERRORS as err:
            raise token_error_to_ha(err) from err
        except MobileAccessDisabledError as err:
            self.tracker.note_access_disabled(vin, now)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="mobile_access_disabled",
                translation_placeholders={"vehicle": self.tracker.car(vin).status.name},
            ) from err
        except UsageLimitExceededError as err:
            self.tracker.note_usage_limit(err, now)
            raise self._usage_limit_error() from err
        except CommandProtocolRequiredError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="command_protocol_required"
            ) from err
        except CommandFailedError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_failed",
                translation_placeholders={"command": name, "reason": err.reason},
            ) from err
        except VehicleUnavailableError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="vehicle_asleep"
            ) from err
        except TeslaFleetError as err:
            if isinstance(err, RateLimitedError):
                # Sent anyway (the user asked), but the limit holds for reads.
                self.tracker.note_rate_limit(err, time_module.time())
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="cannot_reach_tesla",
                translation_placeholders={"error": type(err).__name__},
            ) from err
        else:
            self.tracker.note_answered(vin)
            if status_changes:
                self.tracker.note_command(vin, **status_changes)
        finally:
            # Accepted or refused, what the car said shows at once: on the
            # entities, and in the repairs (mobile access off, the limit).
            self.scout.async_publish()

    def _usage_limit_error(self) -> HomeAssistantError:
        """Tesla disabled the application until the limit resets."""
        until = self.tracker.usage_blocked_until or time_module.time()
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="usage_limit_exceeded",
            translation_placeholders={"until": format_until(until)},
        )
