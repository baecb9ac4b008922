"""Once a day at a local time, whatever the daylight-saving night does.

Home Assistant's ``async_track_time_change`` matches wall-clock fields, so a
time the clocks skip in spring (02:30 in Europe/Warsaw on the last Sunday of
March) never matches that day. Here the next run is an instant computed from
the local date: a skipped time runs as much later as the clocks jumped (02:30
becomes 03:30, as PEP 495 reads it and as the departure time is read), and a
time the clocks repeat in autumn runs at its first pass only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util


def next_daily_run(after: datetime, at: time, tz: tzinfo) -> datetime:
    """The first local ``at`` strictly after ``after``, at most one per local day.

    One candidate per local date (``fold=0``: the first of a repeated time,
    a skipped time shifted by the gap), so a day never runs twice.
    """
    after_utc = after.astimezone(UTC)
    day = after_utc.astimezone(tz).date()
    while True:
        candidate = datetime.combine(day, at, tzinfo=tz)
        # Compared in UTC: aware datetimes of one zone compare by wall clock.
        if candidate.astimezone(UTC) > after_utc:
            return candidate.astimezone(UTC)
        day += timedelta(days=1)


@callback
def async_track_daily(
    hass: HomeAssistant, action: Callable[[datetime], None], at: time
) -> CALLBACK_TYPE:
    """Call ``action`` (a callback, given the UTC instant) daily at local ``at``.

    Returns the function that stops it.
    """
    cancel: CALLBACK_TYPE

    @callback
    def _schedule(after: datetime) -> CALLBACK_TYPE:
        when = next_daily_run(after, at, dt_util.get_default_time_zone())
        return async_track_point_in_utc_time(hass, _fire, when)

    @callback
    def _fire(when: datetime) -> None:
        nonlocal cancel
        # Home Assistant passes the instant it was asked for: the next run is
        # on a later local day even when the clock repeats this hour.
        cancel = _schedule(when)
        action(when)

    cancel = _schedule(dt_util.utcnow())
    return lambda: cancel()


def parse_hhmm(value: str | None, default: str) -> time:
    """``"HH:MM"`` (seconds tolerated) as a time; the default when unusable."""
    for candidate in (value, default):
        try:
            parts = [int(p) for p in str(candidate).split(":")[:2]]
            return time(parts[0], parts[1])
        except (ValueError, IndexError):
            continue
    return time(0, 0)
