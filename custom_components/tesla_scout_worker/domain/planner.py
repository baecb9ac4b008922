"""The charging planner: the cheapest single window before departure (HA-free, pure).

The car's own charge schedule holds one start and one end, so a plan is one
contiguous window. Its length is fixed by the energy needed and the charger
power; the planner slides it between now and the departure and picks the start
with the lowest cost.

Why checking a few candidates is exact: prices are piecewise constant, so the
cost of a window of fixed length ``d`` starting at ``t`` is piecewise linear in
``t`` with slope ``price(t + d) - price(t)``. Its minimum over ``[now,
departure - d]`` lies at an end of that interval or where the slope changes,
that is where the window's start or its end sits on a slot boundary. Those are
at most ``2n + 2`` candidates for ``n`` slots, each costed in ``O(log n)`` from
a prefix integral. Ties go to the earliest start.

All arithmetic on instants happens in UTC (adding hours to a ``ZoneInfo``
datetime adds wall-clock time, which is wrong across a DST change); results are
given back in the timezone of ``PlanRequest.now``.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
from typing import Any, Final, Literal

from .tariffs import (
    ForecastHorizon,
    PriceSlot,
    Tariff,
    TariffUnavailableError,
    require_aware,
    require_finite,
)

__all__ = [
    "ChargingPlan",
    "PlanReason",
    "PlanRequest",
    "plan_cheapest_window",
]

PlanReason = Literal[
    "already_at_target", "cheapest_window", "cannot_reach_target", "no_tariff"
]

_MICROS_PER_HOUR: Final = 3_600_000_000
_TIE_TOLERANCE: Final = 1e-9
"""Relative cost difference below which two windows count as equally cheap."""


@dataclass(frozen=True, kw_only=True)
class PlanRequest:
    """What the planner needs to know about the car and the user's wishes.

    Levels are state of charge in percent (0–100), ``capacity_kwh`` the usable
    battery capacity, ``charger_power_kw`` the power drawn from the grid while
    charging, ``efficiency`` the share of grid energy that reaches the battery
    (0 < e ≤ 1). ``now`` and ``departure`` are timezone-aware. Invalid values
    raise ``ValueError`` with a message naming the field.
    """

    now: datetime
    battery_level: float
    target_level: float
    capacity_kwh: float
    charger_power_kw: float
    efficiency: float = 0.9
    departure: datetime

    def __post_init__(self) -> None:
        """Validate the request."""
        require_aware(self.now, "now")
        require_aware(self.departure, "departure")
        for name in (
            "battery_level",
            "target_level",
            "capacity_kwh",
            "charger_power_kw",
            "efficiency",
        ):
            require_finite(getattr(self, name), name)
        for name in ("battery_level", "target_level"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(
                    f"{name} must be between 0 and 100 %, got {getattr(self, name)}"
                )
        if self.capacity_kwh <= 0:
            raise ValueError(f"capacity_kwh must be positive, got {self.capacity_kwh}")
        if self.charger_power_kw <= 0:
            raise ValueError(
                f"charger_power_kw must be positive, got {self.charger_power_kw}"
            )
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"efficiency must be in (0, 1], got {self.efficiency}")
        if self.departure.astimezone(UTC) < self.now.astimezone(UTC):
            raise ValueError(
                f"departure {self.departure.isoformat()} is before "
                f"now {self.now.isoformat()}"
            )

    @property
    def energy_kwh(self) -> float:
        """Energy drawn from the grid to reach the target (0 when at target)."""
        gap = max(0.0, self.target_level - self.battery_level)
        return gap / 100 * self.capacity_kwh / self.efficiency

    @property
    def duration(self) -> timedelta:
        """Charging time at full power, rounded up to the microsecond."""
        hours = self.energy_kwh / self.charger_power_kw
        return timedelta(microseconds=math.ceil(hours * _MICROS_PER_HOUR))


@dataclass(frozen=True, kw_only=True)
class ChargingPlan:
    """The planner's answer.

    ``start``/``end`` bound the single charging window (``None`` when no
    charging is needed). ``energy_kwh`` is drawn from the grid, ``cost`` is its
    price over the window (``None`` without prices), ``average_price`` the cost
    per kWh, ``cost_if_now`` the cost of charging at once from ``now``.
    ``feasible`` is false when the target cannot be reached by departure.
    ``reason`` is one of ``already_at_target``, ``cheapest_window``,
    ``cannot_reach_target`` or ``no_tariff``. ``departure`` echoes the request;
    ``prices_until`` is set when the forecast ended before departure and the
    window was chosen among the known prices only.
    """

    start: datetime | None
    end: datetime | None
    energy_kwh: float
    duration: timedelta
    cost: float | None
    average_price: float | None
    cost_if_now: float | None
    feasible: bool
    reason: PlanReason
    departure: datetime | None = None
    prices_until: datetime | None = None

    @property
    def saving(self) -> float | None:
        """What the plan saves against charging at once, when both are known."""
        if self.cost is None or self.cost_if_now is None:
            return None
        return self.cost_if_now - self.cost

    @property
    def explanation(self) -> str:
        """A short English sentence naming the window, energy and cost."""
        if self.start is None or self.end is None:
            return "The battery is already at or above the target; no charging needed."
        window = (
            f"{self.energy_kwh:.1f} kWh from {_clock(self.start)} "
            f"to {_clock(self.end)} ({_span(self.duration)})"
        )
        if self.reason == "no_tariff":
            return f"No price information; charging now: {window}."
        cost = "" if self.cost is None else f", cost {self.cost:.2f}"
        if self.reason == "cannot_reach_target":
            before = "" if self.departure is None else f" ({_clock(self.departure)})"
            return (
                f"The target cannot be reached before departure{before}; "
                f"charging as soon as possible: {window}{cost}."
            )
        text = f"Cheapest window: {window}"
        if self.average_price is not None:
            text += f" at {self.average_price:.3f}/kWh on average"
        text += f"{cost}"
        if self.saving is not None and self.cost_if_now is not None:
            text += (
                f", saving {self.saving:.2f} against charging now"
                f" ({self.cost_if_now:.2f})"
            )
        if self.prices_until is not None:
            text += f"; prices known only until {_clock(self.prices_until)}"
        return text + "."

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly summary (ISO times, rounded numbers)."""
        return {
            "reason": self.reason,
            "feasible": self.feasible,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "departure": _iso(self.departure),
            "energy_kwh": round(self.energy_kwh, 3),
            "duration_minutes": round(self.duration.total_seconds() / 60, 1),
            "cost": _round(self.cost, 2),
            "average_price": _round(self.average_price, 4),
            "cost_if_now": _round(self.cost_if_now, 2),
            "saving": _round(self.saving, 2),
            "prices_until": _iso(self.prices_until),
            "explanation": self.explanation,
        }


def _iso(value: datetime | None) -> str | None:
    """Format an optional datetime as ISO 8601 to the second."""
    return None if value is None else value.isoformat(timespec="seconds")


def _round(value: float | None, digits: int) -> float | None:
    """Round an optional number (and turn ``-0.0`` into ``0.0``)."""
    return None if value is None else round(value, digits) + 0.0


def _clock(value: datetime) -> str:
    """Format a datetime for people, to the nearest minute: ``2025-05-14 22:00``."""
    rounded = (value.astimezone(UTC) + timedelta(seconds=30)).astimezone(value.tzinfo)
    return rounded.strftime("%Y-%m-%d %H:%M")


def _span(value: timedelta) -> str:
    """Format a duration as ``3 h 02 min`` (rounded to the minute)."""
    minutes = round(value.total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


# --- cost arithmetic ------------------------------------------------------------


class _PriceCurve:
    """Prefix integral of a contiguous price series, in UTC microseconds."""

    def __init__(self, origin: datetime, slots: list[PriceSlot]) -> None:
        """Index ``slots`` (contiguous from ``origin``) for O(log n) integrals."""
        self.origin = origin
        self.bounds: list[int] = [0]
        self.prices: list[float] = []
        self.integral: list[float] = [0.0]  # price × hours up to each bound
        for slot in slots:
            end = self._offset(slot.end)
            self.integral.append(
                self.integral[-1]
                + slot.price * (end - self.bounds[-1]) / _MICROS_PER_HOUR
            )
            self.bounds.append(end)
            self.prices.append(slot.price)

    def _offset(self, moment: datetime) -> int:
        """Microseconds from the origin."""
        return (moment.astimezone(UTC) - self.origin) // timedelta(microseconds=1)

    @property
    def length(self) -> int:
        """Covered span in microseconds."""
        return self.bounds[-1]

    def at(self, offset: int) -> float:
        """∫ price dt (price × hours) from the origin to ``offset``."""
        index = min(bisect_right(self.bounds, offset) - 1, len(self.prices) - 1)
        return (
            self.integral[index]
            + self.prices[index] * (offset - self.bounds[index]) / _MICROS_PER_HOUR
        )

    def window(self, start: int, length: int) -> float:
        """∫ price dt over ``[start, start + length)``."""
        return self.at(start + length) - self.at(start)


def _window_cost(
    tariff: Tariff, start: datetime, end: datetime, power_kw: float
) -> float:
    """Cost of drawing ``power_kw`` over ``[start, end)``."""
    return sum(
        slot.price * power_kw * slot.duration.total_seconds() / 3600
        for slot in tariff.slots(start, end)
    )


def _cheapest_start(curve: _PriceCurve, length: int) -> int:
    """Return the offset of the cheapest window of ``length`` (earliest on ties)."""
    latest = curve.length - length
    candidates: set[int] = set()  # the bounds include now (0) and the horizon
    for bound in curve.bounds:
        for offset in (bound, bound - length):
            if 0 <= offset <= latest:
                candidates.add(offset)
    ordered = sorted(candidates)
    costs = [curve.window(offset, length) for offset in ordered]
    best = min(costs)
    tolerance = _TIE_TOLERANCE * max(1.0, *(abs(c) for c in costs))
    return next(o for o, c in zip(ordered, costs, strict=True) if c <= best + tolerance)


def _try_cost(
    tariff: Tariff | None, start: datetime, end: datetime, power_kw: float
) -> float | None:
    """Cost of a window, or ``None`` without (complete) prices."""
    if tariff is None:
        return None
    try:
        return _window_cost(tariff, start, end, power_kw)
    except TariffUnavailableError:
        return None


def _known_slots(
    tariff: Tariff, now: datetime, departure: datetime, duration: timedelta
) -> tuple[list[PriceSlot], datetime | None] | None:
    """Return the priced slots to choose from and where the prices stop early.

    When a forecast ends before departure but still holds a whole window from
    now, the choice is limited to the known prices (the worker plans again
    once tomorrow's prices are out). ``None`` when no window can be priced.
    """
    try:
        return tariff.slots(now, departure), None
    except TariffUnavailableError:
        if not isinstance(tariff, ForecastHorizon):
            return None
        horizon = tariff.coverage_end(now)
        if horizon is None or horizon.astimezone(UTC) - now.astimezone(UTC) < duration:
            return None
        horizon = horizon.astimezone(now.tzinfo)
        return tariff.slots(now, horizon), horizon


def plan_cheapest_window(request: PlanRequest, tariff: Tariff | None) -> ChargingPlan:
    """Plan one contiguous charging window that costs the least.

    The window lasts ``energy / power`` hours and is chosen among those with
    ``now ≤ start`` and ``start + duration ≤ departure``. Without a (usable)
    tariff the car charges now; when the target cannot be reached in time it
    charges now too and the plan says so. The precedence of reasons is
    ``already_at_target``, ``cannot_reach_target``, ``no_tariff``,
    ``cheapest_window``.
    """
    tz = request.now.tzinfo
    now = request.now.astimezone(UTC)
    departure = request.departure.astimezone(UTC)
    energy = request.energy_kwh
    power = request.charger_power_kw
    echo = request.departure.astimezone(tz)

    if energy <= 0:
        return ChargingPlan(
            start=None,
            end=None,
            energy_kwh=0.0,
            duration=timedelta(0),
            cost=0.0,
            average_price=None,
            cost_if_now=0.0,
            feasible=True,
            reason="already_at_target",
            departure=echo,
        )

    duration = request.duration
    local_now = now.astimezone(tz)
    end_if_now = (now + duration).astimezone(tz)

    def plan_now(reason: PlanReason, *, feasible: bool) -> ChargingPlan:
        """Charge at once; price it when the reason allows and prices exist."""
        cost = (
            None
            if reason == "no_tariff"
            else _try_cost(tariff, local_now, end_if_now, power)
        )
        return ChargingPlan(
            start=local_now,
            end=end_if_now,
            energy_kwh=energy,
            duration=duration,
            cost=cost,
            average_price=None if cost is None else cost / energy,
            cost_if_now=cost,
            feasible=feasible,
            reason=reason,
            departure=echo,
        )

    if now + duration > departure:
        return plan_now("cannot_reach_target", feasible=False)
    if tariff is None:
        return plan_now("no_tariff", feasible=True)
    known = _known_slots(tariff, local_now, departure.astimezone(tz), duration)
    if known is None:
        return plan_now("no_tariff", feasible=True)
    slots, prices_until = known

    curve = _PriceCurve(now, slots)
    length = duration // timedelta(microseconds=1)
    start = now + timedelta(microseconds=_cheapest_start(curve, length))
    end = start + duration
    cost = _window_cost(tariff, start.astimezone(tz), end.astimezone(tz), power)
    cost_if_now = _window_cost(tariff, local_now, end_if_now, power)
    return ChargingPlan(
        start=start.astimezone(tz),
        end=end.astimezone(tz),
        energy_kwh=energy,
        duration=duration,
        cost=cost,
        average_price=cost / energy,
        cost_if_now=cost_if_now,
        feasible=True,
        reason="cheapest_window",
        departure=echo,
        prices_until=prices_until,
    )
