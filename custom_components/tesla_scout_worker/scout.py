"""The scout: a cheap coordinator that watches where the cars are.

Every cycle is one :meth:`VehicleTracker.async_cycle` (HA-free, in
``domain/tracker.py``). This class maps its outcome onto Home Assistant: the
next interval from the policy, what an outage means for the entities (nothing,
while there is data to show), bus events for the tracker's transitions, and one
new snapshot (saved, published, its repairs updated) after the tracker's
changes, whoever made them. Worker runs on arrival are the worker's business:
it subscribes to the same transitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_HOME
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.exceptions import ConfigEntryAuthFailed
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
from .domain.car import Car, Transition, TransitionKind
from .domain.geo import Home
from .domain.tracker import VehicleTracker
from .fleet import (
    TeslaAuthenticationError,
    TeslaFleetError,
    TokenUnavailableError,
    WrongRegionError,
)
from .issues import async_update_account_issues
from .storage import VehicleStore

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

    config_entry: ConfigEntry[Any]

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry[Any], tracker: VehicleTracker
    ) -> None:
        """Prepare the scout of one account; subscribe to the tracker's news."""
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
        self.last_scout: float | None = None
        self._outage_since: float | None = None
        self._failures = 0
        """Failed cycles in a row: the next check comes sooner."""
        self._outage_logged = False
        self._rate_limit_logged = False
        self._publish_scheduled = False
        self._presence_timer: CALLBACK_TYPE | None = None
        self.store = VehicleStore(hass, entry.entry_id)
        # For the entry's life: the tracker is built and dropped with it.
        tracker.transitions.add(self._async_fire_event)
        tracker.changes.add(self._async_changed)

    async def async_restore(self) -> None:
        """Start from what was saved of each car (before the first check).

        The store is where a car's settings live (smart charging, departure):
        they are known before any run.
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
        # The transitions were told as they were seen (tracker.transitions).
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
        and once when it is back. No token: the token keeper says so, once.
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
        """The account's and the cars' repair issues, as the tracker has them."""
        async_update_account_issues(self.hass, self.config_entry, self.tracker)

    @callback
    def _async_fire_event(self, transition: Transition) -> None:
        """A transition's bus event (SPEC §7), whoever observed it."""
        if transition.kind in (
            TransitionKind.FIRST_SEEN_HOME,
            TransitionKind.PLUGGED_IN_AT_HOME,
        ):
            return  # No event: the worker's business (a run), not the user's.
        data: dict[str, Any] = {
            "type": str(transition.kind),
            ATTR_CONFIG_ENTRY_ID: self.config_entry.entry_id,
            ATTR_VIN: transition.vin,
        }
        if transition.kind is TransitionKind.STATE_CHANGED:
            data["from_state"] = transition.from_state
            data["to_state"] = transition.to_state
        self.hass.bus.async_fire(EVENT_TYPE, data)
