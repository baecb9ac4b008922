"""Electricity tariffs as piecewise-constant prices over time (HA-free, pure).

A tariff answers one question: what does a kWh cost at each moment of a period?
Two kinds exist:

* :class:`FixedWindowTariff` — a peak price and an off-peak price with off-peak
  windows given as local wall-clock times (the Polish G11, G12 and G12w tariffs
  through :func:`preset_tariff`, or any custom windows);
* :class:`PriceForecastTariff` — a day-ahead price forecast read from a price
  sensor's attributes (Nord Pool or ENTSO-e) by
  :func:`tariff_from_price_attributes`.

All arithmetic on instants happens in UTC. Python compares and subtracts two
datetimes that share one ``ZoneInfo`` by their wall-clock fields, which is wrong
across a DST change; converting to UTC first avoids that whole class of bugs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
import math
import re
from typing import Any, Final, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_PRICES",
    "PRESET_NAMES",
    "FixedWindowTariff",
    "ForecastHorizon",
    "OffPeakWindow",
    "PriceForecastTariff",
    "PriceSlot",
    "Tariff",
    "TariffError",
    "TariffUnavailableError",
    "parse_windows",
    "preset_tariff",
    "tariff_from_price_attributes",
]

_ONE_DAY: Final = timedelta(days=1)
_MIDNIGHT: Final = time(0)
_SATURDAY: Final = 5
_MAX_INFERRED_SLOT: Final = timedelta(hours=1)
"""Longest slot inferred from two consecutive forecast times (hourly data)."""
_DEFAULT_INFERRED_SLOT: Final = timedelta(hours=1)


class TariffError(Exception):
    """Base class of tariff errors."""


class TariffUnavailableError(TariffError):
    """The tariff has no price for (part of) the requested period."""


def require_aware(value: datetime, name: str) -> None:
    """Raise ValueError unless ``value`` is timezone-aware."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")


def require_finite(value: float, name: str) -> None:
    """Raise ValueError unless ``value`` is a finite number."""
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class PriceSlot:
    """One price over the half-open period ``[start, end)``.

    ``price`` is in the tariff's currency per kWh (it may be negative on spot
    markets). ``start`` and ``end`` are timezone-aware. Compare or subtract
    slot times only after ``astimezone(UTC)`` (or use :attr:`duration`): two
    times in one ``ZoneInfo`` compare by wall clock, which misorders the
    repeated hour when the clocks go back.
    """

    start: datetime
    end: datetime
    price: float

    def __post_init__(self) -> None:
        """Reject naive times, empty periods and non-finite prices."""
        require_aware(self.start, "start")
        require_aware(self.end, "end")
        # Compare in UTC: datetimes sharing one ZoneInfo compare by wall clock,
        # which is wrong in the repeated hour when the clocks go back.
        if self.end.astimezone(UTC) <= self.start.astimezone(UTC):
            raise ValueError(
                f"slot end {self.end.isoformat()} must be after "
                f"start {self.start.isoformat()}"
            )
        require_finite(self.price, "price")

    @property
    def duration(self) -> timedelta:
        """Real elapsed time of the slot (DST-safe)."""
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


class Tariff(Protocol):
    """Anything that prices a period."""

    def slots(self, start: datetime, end: datetime) -> list[PriceSlot]:
        """Return contiguous slots that cover ``[start, end)`` exactly.

        The first slot starts at ``start`` and the last ends at ``end`` (both
        clipped); slot times are expressed in ``start``'s timezone. An empty
        period gives an empty list. Raise :class:`TariffUnavailableError` when
        part of the period has no price, ``ValueError`` for naive times or
        ``end`` before ``start``.
        """


@runtime_checkable
class ForecastHorizon(Protocol):
    """A tariff whose prices are known only up to some moment."""

    def coverage_end(self, start: datetime) -> datetime | None:
        """Return the end of the gap-free priced period that contains ``start``.

        ``None`` when ``start`` itself has no price.
        """


def _check_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Validate a requested period and return it in UTC."""
    require_aware(start, "start")
    require_aware(end, "end")
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    if end_utc < start_utc:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return start_utc, end_utc


# --- fixed off-peak windows -----------------------------------------------------


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
    Overlapping windows are merged. Wall-clock times are turned into instants
    with zoneinfo, so a 22:00–06:00 window lasts 9 real hours on the night the
    clocks go back and 7 on the night they go forward. A window edge that does
    not exist on a spring-forward day resolves as zoneinfo does (``fold=0``).
    """

    tz: ZoneInfo
    windows: tuple[OffPeakWindow, ...]
    peak_price: float
    offpeak_price: float
    weekends_offpeak: bool = False

    def __post_init__(self) -> None:
        """Validate prices and freeze the window sequence."""
        object.__setattr__(self, "windows", tuple(self.windows))
        require_finite(self.peak_price, "peak_price")
        require_finite(self.offpeak_price, "offpeak_price")

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
            if self.weekends_offpeak and day.weekday() >= _SATURDAY:
                intervals.append(
                    (
                        self._instant(day, _MIDNIGHT),
                        self._instant(day + _ONE_DAY, _MIDNIGHT),
                    )
                )
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
) -> FixedWindowTariff:
    """Build a Polish preset tariff: ``"G11"``, ``"G12"`` or ``"G12w"``.

    The name is case-insensitive (``"g12w"`` works). G11 has one price all day:
    ``peak_price`` or ``offpeak_price`` sets it (both must agree when both are
    given). G12 is off-peak 13:00–15:00 and 22:00–06:00 every day; G12w adds the
    whole of Saturday and Sunday. Public holidays are not modelled. Raise
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
    return FixedWindowTariff(
        tz,
        _G12_WINDOWS,
        default_peak if peak_price is None else peak_price,
        default_offpeak if offpeak_price is None else offpeak_price,
        weekends_offpeak=canonical == "G12w",
    )


# --- price forecasts ----------------------------------------------------------


def _normalise(slots: Iterable[PriceSlot]) -> tuple[PriceSlot, ...]:
    """Sort slots by start in UTC; the first slot of a start wins, overlaps drop."""
    ordered = sorted(
        (
            PriceSlot(
                start=s.start.astimezone(UTC), end=s.end.astimezone(UTC), price=s.price
            )
            for s in slots
        ),
        key=lambda s: s.start,
    )
    kept: list[PriceSlot] = []
    for slot in ordered:
        if kept and slot.start < kept[-1].end:
            continue
        kept.append(slot)
    return tuple(kept)


class PriceForecastTariff:
    """A tariff from a price forecast (day-ahead spot prices).

    The slots are normalised on construction: converted to UTC, sorted, and
    de-duplicated (of two slots with the same start, or overlapping ones, the
    first given wins). Gaps are allowed; asking for a period that crosses one
    raises :class:`TariffUnavailableError`. Instances are immutable.
    """

    __slots__ = ("_slots", "_starts")

    def __init__(self, slots: Iterable[PriceSlot] = ()) -> None:
        """Normalise the slots and index their starts."""
        self._slots = _normalise(slots)
        self._starts = tuple(s.start for s in self._slots)

    def __repr__(self) -> str:
        """Show the covered period and the number of slots."""
        return (
            f"PriceForecastTariff({len(self._slots)} slots, "
            f"{self.first_start} – {self.last_end})"
        )

    @property
    def forecast(self) -> tuple[PriceSlot, ...]:
        """The normalised slots (UTC, sorted, non-overlapping)."""
        return self._slots

    @property
    def first_start(self) -> datetime | None:
        """Start of the earliest priced slot (UTC), if any."""
        return self._slots[0].start if self._slots else None

    @property
    def last_end(self) -> datetime | None:
        """End of the latest priced slot (UTC), if any."""
        return self._slots[-1].end if self._slots else None

    def _index_at(self, moment_utc: datetime) -> int | None:
        """Return the index of the slot containing ``moment_utc``, if any."""
        index = bisect_right(self._starts, moment_utc) - 1
        if index >= 0 and moment_utc < self._slots[index].end:
            return index
        return None

    def coverage_end(self, start: datetime) -> datetime | None:
        """Return the end of the gap-free run of slots containing ``start``."""
        require_aware(start, "start")
        index = self._index_at(start.astimezone(UTC))
        if index is None:
            return None
        end = self._slots[index].end
        for slot in self._slots[index + 1 :]:
            if slot.start != end:
                break
            end = slot.end
        return end.astimezone(start.tzinfo)

    def slots(self, start: datetime, end: datetime) -> list[PriceSlot]:
        """Return the forecast slots covering ``[start, end)``, clipped."""
        start_utc, end_utc = _check_period(start, end)
        if start_utc == end_utc:
            return []
        index = self._index_at(start_utc)
        if index is None:
            raise TariffUnavailableError(f"no price for {start.isoformat()}")
        out_tz = start.tzinfo
        result: list[PriceSlot] = []
        cursor = start_utc
        while cursor < end_utc:
            if index >= len(self._slots) or self._slots[index].start > cursor:
                raise TariffUnavailableError(
                    f"no price for {cursor.astimezone(out_tz).isoformat()}"
                )
            slot = self._slots[index]
            hi = min(slot.end, end_utc)
            result.append(
                PriceSlot(
                    start=cursor.astimezone(out_tz),
                    end=hi.astimezone(out_tz),
                    price=slot.price,
                )
            )
            cursor = slot.end
            index += 1
        return result


_NORDPOOL_KEYS: Final = ("raw_today", "raw_tomorrow")
_ENTSOE_KEYS: Final = ("prices_today", "prices_tomorrow", "prices")


def _parse_moment(value: Any, tz: ZoneInfo) -> datetime | None:
    """Parse an ISO string or datetime; naive values are local to ``tz``."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _parse_price(value: Any) -> float | None:
    """Return a finite float price, or ``None`` for null or junk."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        price = float(value)
    except (TypeError, ValueError):
        return None
    return price if math.isfinite(price) else None


@dataclass(frozen=True)
class _Entry:
    """One forecast entry before its end is known."""

    start: datetime
    end: datetime | None
    price: float | None


def _entries(
    items: Any, tz: ZoneInfo, start_key: str, end_key: str | None, price_key: str
) -> list[_Entry]:
    """Read one attribute list into entries, skipping malformed items."""
    if not isinstance(items, Sequence) or isinstance(items, str):
        return []
    entries: list[_Entry] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        start = _parse_moment(item.get(start_key), tz)
        if start is None:
            continue
        end = _parse_moment(item.get(end_key), tz) if end_key else None
        if end is not None and end <= start:
            end = None
        entries.append(_Entry(start, end, _parse_price(item.get(price_key))))
    return entries


def _to_slots(entries: list[_Entry]) -> list[PriceSlot]:
    """Give every priced entry an end and turn it into a slot.

    A missing end is the next entry's start when that is at most an hour away
    (the slot length follows the data: 15 or 60 minutes, DST-safe since all
    times are UTC); otherwise, and for the last entry, the last seen step.
    Entries with null prices still mark boundaries but yield no slot.
    """
    by_start: dict[datetime, _Entry] = {}
    for entry in entries:
        known = by_start.get(entry.start)
        if known is None or (known.price is None and entry.price is not None):
            by_start[entry.start] = entry
    ordered = sorted(by_start.values(), key=lambda e: e.start)
    slots: list[PriceSlot] = []
    step = _DEFAULT_INFERRED_SLOT
    for index, entry in enumerate(ordered):
        end = entry.end
        if end is not None:
            step = end - entry.start
        else:
            following = ordered[index + 1].start if index + 1 < len(ordered) else None
            if following is not None and following - entry.start <= _MAX_INFERRED_SLOT:
                end = following
                step = following - entry.start
            else:
                end = entry.start + step
        if entry.price is not None:
            slots.append(PriceSlot(start=entry.start, end=end, price=entry.price))
    return slots


def tariff_from_price_attributes(
    attributes: Mapping[str, Any], tz: ZoneInfo
) -> PriceForecastTariff:
    """Build a forecast tariff from a price sensor's state attributes.

    Understood shapes (hourly or 15-minute; both may be present):

    * Nord Pool custom integration: ``raw_today`` / ``raw_tomorrow``, lists of
      ``{"start", "end", "value"}``; ``raw_tomorrow`` is empty or missing until
      the next day's prices are published (about 13:00 CET);
    * ENTSO-e custom integration: ``prices_today`` / ``prices_tomorrow`` (and
      ``prices``), lists of ``{"time", "price"}``; slot lengths are inferred
      from consecutive times.

    Times may be ISO strings or datetimes; naive ones are taken as local to
    ``tz``. Null prices and malformed entries are skipped. Prices keep the
    sensor's unit (e.g. PLN/kWh or EUR/kWh). Raise
    :class:`TariffUnavailableError` when no usable price is present.
    """
    entries: list[_Entry] = []
    for key in _NORDPOOL_KEYS:
        entries += _entries(attributes.get(key), tz, "start", "end", "value")
    for key in _ENTSOE_KEYS:
        entries += _entries(attributes.get(key), tz, "time", None, "price")
    slots = _to_slots(entries)
    if not slots:
        raise TariffUnavailableError(
            "the price sensor has no usable forecast (expected Nord Pool "
            "raw_today/raw_tomorrow or ENTSO-e prices_today/prices_tomorrow)"
        )
    return PriceForecastTariff(tuple(slots))
