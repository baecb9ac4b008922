"""Fixed off-peak windows: the Polish G11, G12 and G12w presets, or your own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, date, datetime, time
from itertools import pairwise
import re
from typing import Final
from zoneinfo import ZoneInfo

from .base import (
    _MIDNIGHT,
    _ONE_DAY,
    _SATURDAY,
    PriceSlot,
    TariffUnavailableError,
    _check_period,
    require_finite,
)
from .holidays import FIRST_YEAR, is_polish_public_holiday


@dataclass(frozen=True)
class OffPeakWindow:
    """A daily off-peak window in local wall-clock time.

    ``end`` at or before ``start`` means the window crosses midnight
    (``22:00–06:00``); ``end`` of ``00:00`` means midnight at the end of the day
    (``13:00–00:00``). A window whose start equals its end is ambiguous and
    rejected.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        """Reject zone-aware or zero-length windows."""
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("off-peak window times are local wall-clock times")
        if self.start == self.end:
            raise ValueError(
                f"off-peak window {self.start:%H:%M}–{self.end:%H:%M} is empty"
            )

    @property
    def crosses_midnight(self) -> bool:
        """The window ends on the next calendar day."""
        return self.end <= self.start

    def __str__(self) -> str:
        """Format as ``HH:MM-HH:MM``."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


_WINDOW_RE: Final = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


def _parse_clock(hours: str, minutes: str, text: str) -> time:
    """Turn ``HH``/``MM`` strings into a time; ``24:00`` is midnight."""
    hour, minute = int(hours), int(minutes)
    if hour == 24 and minute == 0:
        return _MIDNIGHT
    if hour > 23 or minute > 59:
        raise ValueError(f"invalid time in off-peak window {text!r}")
    return time(hour, minute)


def parse_windows(text: str) -> tuple[OffPeakWindow, ...]:
    """Parse off-peak windows written as ``"13:00-15:00, 22:00-06:00"``.

    Windows are separated by commas or semicolons; ``24:00`` may end a window.
    An empty string gives no windows. Raise ``ValueError`` on bad input.
    """
    windows: list[OffPeakWindow] = []
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        match = _WINDOW_RE.match(part)
        if match is None:
            raise ValueError(f"off-peak window {part.strip()!r} is not HH:MM-HH:MM")
        start = _parse_clock(match[1], match[2], part)
        end = _parse_clock(match[3], match[4], part)
        windows.append(OffPeakWindow(start, end))
    return tuple(windows)


@dataclass(frozen=True)
class FixedWindowTariff:
    """A two-price tariff with off-peak windows in local time.

    Windows repeat every day in ``tz``; with ``weekends_offpeak`` the whole of
    Saturday and Sunday (00:00 Saturday to 24:00 Sunday, local) is off-peak too.
    With ``holidays_offpeak`` so is every Polish public holiday (see
    :mod:`.holidays`), and every date in ``extra_offpeak_dates`` always is:
    each such day from 00:00 to 24:00 local (:meth:`is_offpeak_day`).
    Overlapping windows and days are merged. Wall-clock times are turned into
    instants with zoneinfo, so a 22:00–06:00 window lasts 9 real hours on the
    night the clocks go back and 7 on the night they go forward. A window edge that does
    not exist on a spring-forward day resolves as zoneinfo does (``fold=0``).

    Polish holidays are known from :data:`.holidays.FIRST_YEAR`; with
    ``holidays_offpeak``, pricing a period that covers an earlier day raises
    :class:`TariffUnavailableError`.
    """

    tz: ZoneInfo
    windows: tuple[OffPeakWindow, ...]
    peak_price: float
    offpeak_price: float
    weekends_offpeak: bool = False
    _: KW_ONLY
    holidays_offpeak: bool = False
    extra_offpeak_dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        """Validate prices and dates; freeze the window and date collections."""
        object.__setattr__(self, "windows", tuple(self.windows))
        dates = frozenset(self.extra_offpeak_dates)
        for day in dates:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"extra off-peak dates must be dates, got {day!r}")
        object.__setattr__(self, "extra_offpeak_dates", dates)
        require_finite(self.peak_price, "peak_price")
        require_finite(self.offpeak_price, "offpeak_price")

    def is_offpeak_day(self, day: date) -> bool:
        """Tell whether the whole local ``day`` is off-peak.

        A weekend day with ``weekends_offpeak``, a Polish public holiday with
        ``holidays_offpeak``, or one of ``extra_offpeak_dates``. Raise
        :class:`TariffUnavailableError` for a day before
        :data:`.holidays.FIRST_YEAR` that might be a holiday.
        """
        if day in self.extra_offpeak_dates:
            return True
        if self.weekends_offpeak and day.weekday() >= _SATURDAY:
            return True
        if not self.holidays_offpeak:
            return False
        if day.year < FIRST_YEAR:
            raise TariffUnavailableError(
                f"Polish public holidays are known from {FIRST_YEAR} on, "
                f"not for {day.isoformat()}"
            )
        return is_polish_public_holiday(day)

    def _instant(self, day: date, clock: time) -> datetime:
        """Return the UTC instant of a local wall-clock time on ``day``."""
        return datetime.combine(day, clock, tzinfo=self.tz).astimezone(UTC)

    def _offpeak_intervals(
        self, start_utc: datetime, end_utc: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Return merged, sorted UTC off-peak intervals overlapping the period."""
        intervals: list[tuple[datetime, datetime]] = []
        day = start_utc.astimezone(self.tz).date() - _ONE_DAY
        last = end_utc.astimezone(self.tz).date()
        while day <= last:
            day_start = self._instant(day, _MIDNIGHT)
            day_end = self._instant(day + _ONE_DAY, _MIDNIGHT)
            # Only a day that overlaps the period is asked about, so the day
            # before it (looked at for windows crossing midnight) never is.
            if day_end > start_utc and day_start < end_utc and self.is_offpeak_day(day):
                intervals.append((day_start, day_end))
            for window in self.windows:
                end_day = day + _ONE_DAY if window.crosses_midnight else day
                intervals.append(
                    (
                        self._instant(day, window.start),
                        self._instant(end_day, window.end),
                    )
                )
            day += _ONE_DAY
        intervals.sort()
        merged: list[tuple[datetime, datetime]] = []
        for lo, hi in intervals:
            if hi <= start_utc or lo >= end_utc:
                continue
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return merged

    def slots(self, start: datetime, end: datetime) -> list[PriceSlot]:
        """Return the peak/off-peak slots covering ``[start, end)``.

        Adjacent slots with equal prices are merged, so G11 yields one slot.
        """
        start_utc, end_utc = _check_period(start, end)
        out_tz = start.tzinfo
        points = {start_utc, end_utc}
        intervals = self._offpeak_intervals(start_utc, end_utc)
        for lo, hi in intervals:
            points.update(p for p in (lo, hi) if start_utc < p < end_utc)
        edges = sorted(points)
        pieces: list[tuple[datetime, datetime, float]] = []
        index = 0
        for lo, hi in pairwise(edges):
            while index < len(intervals) and intervals[index][1] <= lo:
                index += 1
            offpeak = index < len(intervals) and intervals[index][0] <= lo
            price = self.offpeak_price if offpeak else self.peak_price
            if pieces and pieces[-1][2] == price:
                pieces[-1] = (pieces[-1][0], hi, price)
            else:
                pieces.append((lo, hi, price))
        return [
            PriceSlot(start=lo.astimezone(out_tz), end=hi.astimezone(out_tz), price=p)
            for lo, hi, p in pieces
        ]


PRESET_NAMES: Final = ("G11", "G12", "G12w")
"""Polish tariff presets understood by :func:`preset_tariff`."""

DEFAULT_PRICES: Final[Mapping[str, tuple[float, float]]] = {
    "G11": (0.95, 0.95),
    "G12": (1.10, 0.60),
    "G12w": (1.15, 0.62),
}
"""Example gross prices (PLN/kWh, energy + distribution) as ``(peak, off-peak)``.

They are only plausible defaults for 2025; real prices differ between
suppliers, distribution operators and years, so users should override them.
"""

_G12_WINDOWS: Final = (
    OffPeakWindow(time(13), time(15)),
    OffPeakWindow(time(22), time(6)),
)


def preset_tariff(
    name: str,
    tz: ZoneInfo,
    *,
    peak_price: float | None = None,
    offpeak_price: float | None = None,
    extra_offpeak_dates: Iterable[date] = (),
) -> FixedWindowTariff:
    """Build a Polish preset tariff: ``"G11"``, ``"G12"`` or ``"G12w"``.

    The name is case-insensitive (``"g12w"`` works). G11 has one price all day:
    ``peak_price`` or ``offpeak_price`` sets it (both must agree when both are
    given). G12 is off-peak 13:00–15:00 and 22:00–06:00 every day; G12w adds the
    whole of Saturday and Sunday and of every Polish public holiday (as the
    distribution operators count them; see :mod:`.holidays`), and of every date
    in ``extra_offpeak_dates`` (days the user's operator adds). G11 and G12
    have no whole off-peak days and ignore ``extra_offpeak_dates``. Raise
    ``ValueError`` for an unknown name.
    """
    canonical = {preset.lower(): preset for preset in PRESET_NAMES}.get(
        name.strip().lower()
    )
    if canonical is None:
        raise ValueError(
            f"unknown tariff preset {name!r}; expected one of {', '.join(PRESET_NAMES)}"
        )
    default_peak, default_offpeak = DEFAULT_PRICES[canonical]
    if canonical == "G11":
        if (
            peak_price is not None
            and offpeak_price is not None
            and peak_price != offpeak_price
        ):
            raise ValueError("G11 has a single price; peak and off-peak must agree")
        price = next(
            (p for p in (peak_price, offpeak_price) if p is not None), default_peak
        )
        return FixedWindowTariff(tz, (), price, price)
    g12w = canonical == "G12w"
    return FixedWindowTariff(
        tz,
        _G12_WINDOWS,
        default_peak if peak_price is None else peak_price,
        default_offpeak if offpeak_price is None else offpeak_price,
        weekends_offpeak=g12w,
        holidays_offpeak=g12w,
        extra_offpeak_dates=frozenset(extra_offpeak_dates) if g12w else frozenset(),
    )
