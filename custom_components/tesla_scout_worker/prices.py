"""Day-ahead prices from the core Nord Pool integration, fetched and cached.

The core ``nordpool`` integration (Home Assistant 2024.12+) gives its prices
only through the ``nordpool.get_prices_for_date`` action. The worker asks for
today and tomorrow before it plans, and keeps the answers: the day ahead is
published once a day (about 13:00 CET), so until tomorrow's prices are out it
asks again at most every :data:`REFETCH_S`, and once they are in, not before
the next local day.

Prices are asked for in Home Assistant's currency, so that the plan's costs are
in the money the user counts in even when the Nord Pool entry shows another
(its setup suggests EUR). A currency Nord Pool does not offer falls back to the
entry's own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import LOGGER

NORDPOOL_DOMAIN: Final = "nordpool"
SERVICE_GET_PRICES: Final = "get_prices_for_date"
REFETCH_S: Final = 30 * 60.0
"""While tomorrow's prices are not published yet, ask again this often."""


class NordPoolPrices:
    """The answers of ``nordpool.get_prices_for_date`` for today and tomorrow."""

    def __init__(
        self,
        hass: HomeAssistant,
        config_entry_id: str,
        area: str,
        currency: str | None = None,
    ) -> None:
        """Prices of one Nord Pool config entry and area, in ``currency``."""
        self.hass = hass
        self.config_entry_id = config_entry_id
        self.area = area
        self.currency = currency
        self.responses: list[dict[str, Any]] = []
        self._fetched_at: datetime | None = None
        self._has_tomorrow = False

    def _fresh(self, now: datetime) -> bool:
        if self._fetched_at is None:
            return False
        if dt_util.as_local(self._fetched_at).date() != dt_util.as_local(now).date():
            return False  # A new day: today's answer is yesterday's tomorrow.
        return self._has_tomorrow or now - self._fetched_at < timedelta(
            seconds=REFETCH_S
        )

    async def async_update(self) -> bool:
        """Fetch today's and tomorrow's prices unless the cached ones will do.

        Returns whether the prices changed (tomorrow's came out, say).
        """
        now = dt_util.utcnow()
        if self._fresh(now):
            return False
        today = dt_util.as_local(now).date()
        responses: list[dict[str, Any]] = []
        for day in (today, today + timedelta(days=1)):
            answer = await self._async_get(day.isoformat())
            if answer is not None:
                responses.append(answer)
        self._fetched_at = now
        self._has_tomorrow = len(responses) == 2
        if not responses or responses == self.responses:
            return False  # Nothing at all is no news: keep what was known.
        self.responses = responses
        return True

    async def _async_get(self, day: str) -> dict[str, Any] | None:
        data: dict[str, Any] = {
            "config_entry": self.config_entry_id,
            "date": day,
            "areas": [self.area],
        }
        if self.currency:
            data["currency"] = self.currency
        try:
            answer = await self.hass.services.async_call(
                NORDPOOL_DOMAIN,
                SERVICE_GET_PRICES,
                data,
                blocking=True,
                return_response=True,
            )
        except vol.Invalid as err:
            if not self.currency:
                LOGGER.debug("Nord Pool refused the request: %s", err)
                return None
            LOGGER.debug(
                "Nord Pool has no prices in %s; using its entry's currency",
                self.currency,
            )
            self.currency = None
            return await self._async_get(day)
        except HomeAssistantError as err:
            # Tomorrow before publication, the entry not loaded, Nord Pool down.
            LOGGER.debug("Nord Pool prices for %s unavailable: %s", day, err)
            return None
        return dict(answer) if isinstance(answer, dict) else None
