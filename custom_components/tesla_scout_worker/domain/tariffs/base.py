"""What every tariff shares: price slots, the protocol, the errors (HA-free).

All arithmetic on instants happens in UTC. Python compares and subtracts two
datetimes that share one ``ZoneInfo`` by their wall-clock fields, which is wrong
across a DST change; converting to UTC first avoids that whole class of bugs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
import math
from typing import Final, Protocol, runtime_checkable

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
