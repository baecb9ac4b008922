"""The tariff of one entry, assembled from its options: the one place it is read.

A preset (fixed windows and prices), the core Nord Pool integration's prices,
or another integration's price sensor. The worker asks :meth:`TariffSource.tariff`
at every run; this class also watches the sources for news (the Nord Pool day
ahead, a change of the price sensor) and tells its listeners, so that runs that
found no prices run again and plugged-in cars are planned again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_time_interval,
)

from .const import (
    CONF_EXTRA_OFFPEAK_DATES,
    CONF_NORDPOOL_AREA,
    CONF_NORDPOOL_ENTRY,
    CONF_OFFPEAK_PRICE,
    CONF_PEAK_PRICE,
    CONF_PRICE_ATTRIBUTE,
    CONF_PRICE_ENTITY,
    CONF_TARIFF,
    DEFAULT_NORDPOOL_AREA,
    DEFAULT_TARIFF,
    DOMAIN,
    TARIFF_NORDPOOL,
    TARIFF_PRICE_ENTITY,
)
from .domain.tariffs import (
    FORECAST_ATTRIBUTES,
    Tariff,
    TariffError,
    preset_tariff,
    tariff_from_nordpool_action,
    tariff_from_price_attributes,
)
from .fleet.listeners import Listeners
from .fleet.outage import OutageLog
from .prices import REFETCH_S as NORDPOOL_REFETCH_S, NordPoolPrices


class TariffSource:
    """Reads the configured tariff; tells when new prices may change a plan.

    News matters only when a run waits for prices (``waiting``) or a car could
    be planned again (``replannable``): only then is Nord Pool asked, or a
    changed price sensor parsed.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        *,
        waiting: Callable[[], bool],
        replannable: Callable[[], bool],
    ) -> None:
        """The tariff of ``entry``'s options, read at each use."""
        self._hass = hass
        self._entry = entry
        self._waiting = waiting
        self._replannable = replannable
        self.news: Listeners[[bool]] = Listeners()
        """Called with ``forecast_changed`` when prices came or changed."""
        self._log = OutageLog(
            "The tariff", "no charging command is sent until it can be read"
        )
        options = entry.options
        self.nordpool: NordPoolPrices | None = None
        """Prices of the core Nord Pool integration, for its tariff (a change
        of options reloads the entry)."""
        if options.get(CONF_TARIFF) == TARIFF_NORDPOOL and options.get(
            CONF_NORDPOOL_ENTRY
        ):
            self.nordpool = NordPoolPrices(
                hass,
                options[CONF_NORDPOOL_ENTRY],
                options.get(CONF_NORDPOOL_AREA, DEFAULT_NORDPOOL_AREA),
                hass.config.currency,
            )

    @property
    def tz(self) -> ZoneInfo:
        """Home Assistant's time zone: the tariff's days and hours."""
        return ZoneInfo(self._hass.config.time_zone)

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Watch the source for news; returns the stop."""
        unsubscribers: list[CALLBACK_TYPE] = []
        if self.nordpool is not None:
            unsubscribers.append(
                async_track_time_interval(
                    self._hass,
                    self._async_nordpool_tick,
                    timedelta(seconds=NORDPOOL_REFETCH_S),
                    name=f"{DOMAIN} Nord Pool prices",
                )
            )
        options = self._entry.options
        if options.get(CONF_TARIFF) == TARIFF_PRICE_ENTITY and (
            price_entity := options.get(CONF_PRICE_ENTITY)
        ):
            unsubscribers.append(
                async_track_state_change_event(
                    self._hass, [price_entity], self._async_price_changed
                )
            )

        @callback
        def _stop() -> None:
            for unsubscribe in unsubscribers:
                unsubscribe()

        return _stop

    async def async_refresh(self) -> None:
        """Before a run: fetch the Nord Pool prices unless the cached ones do."""
        if self.nordpool is not None:
            await self.nordpool.async_update()

    def tariff(self) -> Tariff | None:
        """The configured tariff; ``None`` (no charging command) when unavailable.

        An unreadable tariff is logged once, and once when it can be read again:
        it is asked for at every run and every change of the price sensor.
        """
        try:
            tariff = self._tariff()
        except (TariffError, ValueError) as err:
            self._log.failed(str(err))
            return None
        if tariff is not None:
            self._log.answered()
        return tariff

    def _tariff(self) -> Tariff | None:
        options = self._entry.options
        name = options.get(CONF_TARIFF, DEFAULT_TARIFF)
        if name == TARIFF_NORDPOOL:
            if self.nordpool is None or not self.nordpool.responses:
                return None
            return tariff_from_nordpool_action(
                self.nordpool.responses, self.nordpool.area, self.tz
            )
        if name == TARIFF_PRICE_ENTITY:
            entity_id = options.get(CONF_PRICE_ENTITY)
            state = self._hass.states.get(entity_id) if entity_id else None
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

    def _forecast_attributes(self) -> tuple[str, ...]:
        """The price sensor's attributes that hold its forecast."""
        if attribute := self._entry.options.get(CONF_PRICE_ATTRIBUTE):
            return (attribute,)
        return FORECAST_ATTRIBUTES

    @callback
    def _async_price_changed(self, event: Event[EventStateChangedData]) -> None:
        """The price sensor changed: news when prices appeared or the forecast moved.

        The day ahead is published once a day; other changes (the current
        price, every hour) are no news for a plan.
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
        if (self._waiting() or forecast_changed) and self.tariff() is not None:
            self.news.notify(forecast_changed)

    async def _async_nordpool_tick(self, _now: datetime) -> None:
        """Ask Nord Pool for news while someone could use it.

        The day ahead comes out once a day (about 13:00 CET).
        """
        nordpool = self.nordpool
        if nordpool is None or not (self._waiting() or self._replannable()):
            return
        if await nordpool.async_update() and self.tariff() is not None:
            self.news.notify(True)  # noqa: FBT003
