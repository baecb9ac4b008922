"""A day-ahead price forecast as a tariff (whatever integration it came from)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime

from .base import (
    PriceSlot,
    TariffUnavailableError,
    _check_period,
    require_aware,
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
