"""The scout: a cheap coordinator that watches where the cars are.

Every cycle is one :meth:`VehicleTracker.async_cycle` (HA-free, in
``tracking.py``). This class maps its outcome onto Home Assistant: events for
transitions, worker runs on arrival and at first sight at home, the next
interval from the policy, and what an outage means for the entities (nothing,
while there is data to show).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
import time
from typing import TYPE_CHECKING, Any

from homeassistant.const import STATE_HOME
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import (
    async_call_later,
    async_track_state_change_event,
)
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_VIN,
    CONF_API_BASE_URL,
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_HOME_RADIUS,
    CONF_PRESENCE_ENTITY,
    CONF_SCOUT_INTERVAL,
    DEFAULT_HOME_RADIUS,
    DEFAULT_SCOUT_INTERVAL,
    DOMAIN,
    EVENT_TYPE,
    LOGGER,
)
from .domain.tracker import Car, Home, Transition, TransitionKind, VehicleTracker
from .fleet import (
    TeslaAuthenticationError,
    TeslaFleetError,
    TokenUnavailableError,
    WrongRegionError,
)
from .issues import async_set_car_issues, async_set_issue, car_issue_id
from .storage import VehicleStore

if TYPE_CHECKING:
    from .models import TeslaScoutWorkerConfigEntry

PRESENCE_LEFT_DELAY_S = 180.0
"""After the presence entity leaves home, check this much later."""

OUTAGE_AFTER_FAILURES = 2
"""Failed checks in a row that make an outage (logged once, and its end)."""

OUTAGE_GRACE_S = 3600.0
"""How long the vehicle entities keep their last known values while Tesla
cannot be reached (5xx, timeouts, no network). A parked car does not change
while Tesla's servers are down, so a short outage should not blank the
dashboard; after an hour the values are too old to trust and the entities read
unavailable until Tesla answers again. A sleeping car is not an outage: it
keeps its last known values for as long as it sleeps."""

ISSUE_LOCATION_SCOPE = "location_scope_missing"
ISSUE_MOBILE_ACCESS = "mobile_access_disabled"
ISSUE_USAGE_LIMIT = "usage_limit_exceeded"
ISSUE_VEHICLE_GONE = "vehicle_gone"


def vehicle_gone_issue_id(entry_id: str, vin: str) -> str:
    """The repair issue of a car that left the account (its id holds no VIN)."""
    return car_issue_id(ISSUE_VEHICLE_GONE, entry_id, vin)


type WorkerTrigger = Callable[[str, str], Coroutine[Any, Any, Any]]
"""Asks the worker for a run: ``(vin, trigger)``."""


def format_until(timestamp: float) -> str:
    """A moment for a repair text: local date and time, to the minute."""
    return dt_util.as_local(datetime.fromtimestamp(timestamp, UTC)).strftime(
        "%Y-%m-%d %H:%M"
    )


def home_from_options(hass: HomeAssistant, options: Mapping[str, Any]) -> Home:
    """The geofence from the options, else Home Assistant's home and zone.home.

    The radius of ``zone.home`` counts only when it is a positive number;
    otherwise 100 m.
    """
    radius = options.get(CONF_HOME_RADIUS)
    if radius is None:
        zone = hass.states.get("zone.home")
        radius = zone.attributes.get("radius") if zone is not None else None
        if not isinstance(radius, int | float) or radius <= 0:
            radius = DEFAULT_HOME_RADIUS
    return Home(
        latitude=float(options.get(CONF_HOME_LATITUDE, hass.config.latitude)),
        longitude=float(options.get(CONF_HOME_LONGITUDE, hass.config.longitude)),
        radius_m=float(radius),
    )


class ScoutCoordinator(DataUpdateCoordinator[dict[str, Car]]):
    """Checks the cars every few minutes with calls that never wake them.

    Its data is a snapshot of every car (frozen :class:`Car` objects), new
    after every change the tracker makes, whoever made it: entities only read.
    """

    config_entry: TeslaScoutWorkerConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: TeslaScoutWorkerConfigEntry,
        tracker: VehicleTracker,
        worker_trigger: WorkerTrigger | None = None,
    ) -> None:
        """Prepare the scout of one account."""
        self.base_interval_s = 60.0 * float(
            entry.options.get(CONF_SCOUT_INTERVAL, DEFAULT_SCOUT_INTERVAL)
        )
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=timedelta(seconds=self.base_interval_s),
            always_update=False,
        )
        self.tracker = tracker
        self.worker_trigger = worker_trigger
        self.plugged_in_trigger: Callable[[str], None] | None = None
        """Tells the worker a car was plugged in at home."""
        self.last_scout: float | None = None
        self._outage_since: float | None = None
        self._failures = 0
        """Failed cycles in a row: the next check comes sooner."""
        self._outage_logged = False
        self._rate_limit_logged = False
        self._publish_scheduled = False
        self._presence_timer: CALLBACK_TYPE | None = None
        self.store = VehicleStore(hass, entry.entry_id)
        self.settings_restored: set[str] = set()
        """Cars whose settings came from the store (see :meth:`async_restore`)."""
        tracker.on_transition = self._fire
        tracker.on_change = self._async_changed

    async def async_restore(self) -> None:
        """Start from what was saved of each car (before the first check).

        Settings found in the store are the truth; the entities restore their
        own last state only for a car saved before settings were stored.
        """
        saved = await self.store.async_load(dt_util.get_default_time_zone())
        for vin, car in saved.items():
            self.tracker.restore(
                vin,
                car.status,
                car.schedule,
                settings=car.settings,
                last_run=car.last_run,
            )
            if car.settings is not None:
                self.settings_restored.add(vin)
        self.data = self.tracker.cars

    @callback
    def _async_changed(self) -> None:
        """A car changed: publish one new snapshot soon, and save it."""
        self.store.async_schedule_save(self.tracker.cars)
        if not self._publish_scheduled:
            self._publish_scheduled = True
            self.hass.loop.call_soon(self.async_publish)

    @callback
    def async_publish(self) -> None:
        """Hand the entities the current snapshot now (after a user's action).

        Changes during a cycle or a run are published together, once, soon,
        and so are the repair issues they open or close.
        """
        self._publish_scheduled = False
        self.async_update_repairs()
        if self.data != (cars := self.tracker.cars):
            # Not async_set_updated_data: that would move the next scout check.
            self.data = cars
            self.async_update_listeners()

    @callback
    def async_track_presence(self) -> Callable[[], None] | None:
        """Follow the presence entity (optional), a phone or a person.

        Arriving home: check the cars at once. Leaving home: check a few
        minutes later, when a car driven away is out of the geofence.
        """
        entity_id = self.config_entry.options.get(CONF_PRESENCE_ENTITY)
        if not entity_id:
            return None

        async def _check_later(_: Any) -> None:
            self._presence_timer = None
            await self.async_request_refresh()

        @callback
        def _changed(event: Event[EventStateChangedData]) -> None:
            old, new = event.data["old_state"], event.data["new_state"]
            was_home = old is not None and old.state == STATE_HOME
            is_home = new is not None and new.state == STATE_HOME
            if is_home and not was_home:
                LOGGER.debug("Presence entity arrived home: checking the cars now")
                self._async_cancel_presence_timer()
                self.config_entry.async_create_background_task(
                    self.hass, self.async_request_refresh(), f"{DOMAIN} presence"
                )
            elif was_home and not is_home and new is not None:
                LOGGER.debug("Presence entity left home: checking the cars soon")
                # One timer: a new departure replaces the pending check.
                self._async_cancel_presence_timer()
                self._presence_timer = async_call_later(
                    self.hass, PRESENCE_LEFT_DELAY_S, _check_later
                )

        unsubscribe = async_track_state_change_event(self.hass, [entity_id], _changed)

        @callback
        def _stop() -> None:
            unsubscribe()
            self._async_cancel_presence_timer()

        return _stop

    @callback
    def _async_cancel_presence_timer(self) -> None:
        if self._presence_timer is not None:
            self._presence_timer()
            self._presence_timer = None

    async def _async_update_data(self) -> dict[str, Car]:
        now = time.time()
        try:
            try:
                report = await self.tracker.async_cycle(now)
            except WrongRegionError as err:
                if not err.suggested_url:
                    raise
                self._switch_region(err.suggested_url)
                report = await self.tracker.async_cycle(now)
        except TeslaAuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="login_required"
            ) from err
        except TeslaFleetError as err:
            return self._cached_or_fail(err, now)
        finally:
            self.async_update_repairs()
        self._recovered()
        if report.rate_limited and not self._rate_limit_logged:
            LOGGER.warning(
                "Tesla rate-limited the scout; no checks for %s s",
                int((self.tracker.retry_at or now) - now),
            )
            self._rate_limit_logged = True
        elif not report.rate_limited and not report.skipped:
            self._rate_limit_logged = False
        if not report.skipped:
            self.last_scout = now
        self.update_interval = timedelta(
            seconds=self.tracker.next_interval(
                self.base_interval_s, now, presence_tracked=self._presence_tracked
            )
        )
        # The transitions were fired as they were seen (tracker.on_transition).
        return self.tracker.cars

    @property
    def _presence_tracked(self) -> bool:
        return bool(self.config_entry.options.get(CONF_PRESENCE_ENTITY))

    def _switch_region(self, url: str) -> None:
        LOGGER.warning("Tesla says the account lives in another region; switching")
        self.tracker.client.api_base_url = url
        self.hass.config_entries.async_update_entry(
            self.config_entry,
            data={**self.config_entry.data, CONF_API_BASE_URL: url},
        )

    def _cached_or_fail(self, err: Exception, now: float) -> dict[str, Car]:
        """Keep showing the last known values, for the first hour of an outage.

        Logged once when Tesla goes away (the second failed check in a row)
        and once when it is back. No token: the token manager says so, once.
        """
        if self._outage_since is None:
            self._outage_since = now
        self._failures += 1
        token_error = isinstance(err, TokenUnavailableError)
        # A blip that the next check (a minute later) gets past is not worth a
        # warning; a second failure in a row is an outage.
        if (
            self._failures >= OUTAGE_AFTER_FAILURES
            and not token_error
            and not self._outage_logged
        ):
            LOGGER.warning("Tesla cannot be reached: %s", type(err).__name__)
            self._outage_logged = True
        else:
            LOGGER.debug("Tesla check failed: %s", type(err).__name__)
        self.update_interval = timedelta(
            seconds=self.tracker.next_interval_after_failure(
                self._failures,
                self.base_interval_s,
                now,
                presence_tracked=self._presence_tracked,
            )
        )
        has_data = any(s.state is not None for s in self.tracker.vehicles.values())
        if not has_data:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_reach_tesla",
                translation_placeholders={"error": type(err).__name__},
            ) from err
        if now - self._outage_since >= OUTAGE_GRACE_S:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="no_token_for_an_hour"
                if token_error
                else "tesla_unreachable_for_an_hour",
                translation_placeholders={"error": type(err).__name__},
            ) from err
        return self.tracker.cars

    def _recovered(self) -> None:
        # Once the entities went unavailable, the coordinator itself says
        # that the data is back ("Fetching … data recovered"): once is enough.
        if self._outage_logged and self.last_update_success:
            LOGGER.info("Tesla can be reached again")
        self._outage_logged = False
        self._failures = 0
        self._outage_since = None

    @callback
    def async_update_repairs(self) -> None:
        """Repair issues for what only the user can change, and their end.

        The token without the location scope, Tesla's monthly limit (with
        its end), and per car (named by display name) mobile access off and
        a car gone from the account's vehicle list.
        """
        entry_id = self.config_entry.entry_id
        title = self.config_entry.title
        async_set_issue(
            self.hass,
            f"{ISSUE_LOCATION_SCOPE}_{entry_id}",
            not self.tracker.location_allowed,
            is_fixable=True,
            data={"entry_id": entry_id},
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_LOCATION_SCOPE,
            translation_placeholders={"title": title},
        )
        until = self.tracker.usage_blocked_until
        async_set_issue(
            self.hass,
            f"{ISSUE_USAGE_LIMIT}_{entry_id}",
            until is not None,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_USAGE_LIMIT,
            translation_placeholders={
                "title": title,
                "until": "" if until is None else format_until(until),
            },
        )
        cars = self.tracker.cars
        async_set_car_issues(
            self.hass,
            entry_id,
            {
                vin: {"vehicle": car.status.name}
                if car.access_disabled_at is not None
                else None
                for vin, car in cars.items()
            },
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_MOBILE_ACCESS,
        )
        # Sold, or the share removed: the user is offered removing it.
        async_set_car_issues(
            self.hass,
            entry_id,
            {
                vin: {"vehicle": car.status.name, "title": title} if car.gone else None
                for vin, car in cars.items()
            },
            data={"entry_id": entry_id},
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_VEHICLE_GONE,
        )

    @callback
    def _fire(self, transition: Transition) -> None:
        """Events and worker runs for a transition, whoever observed it."""
        data: dict[str, Any] = {
            "type": str(transition.kind),
            ATTR_CONFIG_ENTRY_ID: self.config_entry.entry_id,
            ATTR_VIN: transition.vin,
        }
        if transition.kind is TransitionKind.STATE_CHANGED:
            data["from_state"] = transition.from_state
            data["to_state"] = transition.to_state
        if transition.kind not in (
            TransitionKind.FIRST_SEEN_HOME,
            TransitionKind.PLUGGED_IN_AT_HOME,
        ):
            self.hass.bus.async_fire(EVENT_TYPE, data)
        if (
            transition.kind is TransitionKind.PLUGGED_IN_AT_HOME
            and self.plugged_in_trigger is not None
        ):
            self.plugged_in_trigger(transition.vin)
        if (
            transition.kind
            in (TransitionKind.ARRIVED_HOME, TransitionKind.FIRST_SEEN_HOME)
            and self.worker_trigger is not None
        ):
            self.config_entry.async_create_background_task(
                self.hass,
                self.worker_trigger(transition.vin, str(transition.kind)),
                f"{DOMAIN} worker {transition.kind}",
            )
