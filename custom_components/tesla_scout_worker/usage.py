"""Fleet API request accounting per account: today, this month, restored on restart.

The client reports each request once (see ``fleet.client``); this tracker keeps
the day's and the month's totals for the cost sensors, rolls them over at local
midnight and the first of the month, and stores them so a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .daily import async_track_daily
from .fleet import RequestCategory, UsageTotals
from .fleet.listeners import Listeners
from .storage import async_remove_entry_store, entry_store

STORAGE_VERSION = 1
SAVE_DELAY = 30.0


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return entry_store(hass, entry_id, "usage", STORAGE_VERSION)


async def async_remove_usage(hass: HomeAssistant, entry_id: str) -> None:
    """Delete an entry's stored counts (the entry is being deleted)."""
    await async_remove_entry_store(hass, _store(hass, entry_id))


class UsageTracker:
    """Counts the requests of one account by billing category."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare an empty tracker; call :meth:`async_load` before use."""
        self._hass = hass
        self._store = _store(hass, entry_id)
        self.day: date = dt_util.now().date()
        self.today = UsageTotals()
        self.month = UsageTotals()
        self._listeners: Listeners[[]] = Listeners()

    async def async_load(self) -> None:
        """Restore today's and this month's totals saved before a restart."""
        stored = await self._store.async_load()
        if not stored:
            return
        try:
            saved_day = date.fromisoformat(str(stored.get("day")))
        except ValueError:
            return
        if (saved_day.year, saved_day.month) == (self.day.year, self.day.month):
            self.month = UsageTotals.from_dict(stored.get("month") or {})
            if saved_day == self.day:
                self.today = UsageTotals.from_dict(stored.get("today") or {})

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Roll over at local midnight even when no request is made."""
        return async_track_daily(self._hass, self._async_midnight, time(0, 0))

    @callback
    def _async_midnight(self, now: datetime) -> None:
        if self._roll_over(dt_util.as_local(now).date()):
            self._listeners.notify()

    def _roll_over(self, today: date) -> bool:
        if today == self.day:
            return False
        if (today.year, today.month) != (self.day.year, self.day.month):
            self.month = UsageTotals()
        self.today = UsageTotals()
        self.day = today
        self._store.async_delay_save(self._data, SAVE_DELAY)
        return True

    @callback
    def record(self, category: RequestCategory, status: int | None) -> None:
        """Count one request (the client's listener)."""
        if category is RequestCategory.AUTH:
            return
        self._roll_over(dt_util.now().date())
        self.today.add(category, status)
        self.month.add(category, status)
        self._store.async_delay_save(self._data, SAVE_DELAY)
        self._listeners.notify()

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` after every change; returns the remover."""
        return self._listeners.add(listener)

    async def async_save(self) -> None:
        """Write the totals now (on unload)."""
        await self._store.async_save(self._data())

    def _data(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "today": self.today.as_dict(),
            "month": self.month.as_dict(),
        }
