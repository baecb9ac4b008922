"""The charging planner: the cheapest window(s) before departure (HA-free, pure).

A car's charge schedule holds one start and one end, so a plan is one
contiguous window, or (:func:`plan_charging` with ``max_windows`` > 1) up to
that many windows, each its own schedule, when splitting saves more than a
threshold against the best single window (see :mod:`.split`). The single
window's length is fixed by the energy needed and the charger power; the
planner slides it between now and the departure and picks the start with the
lowest cost.

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

from .split import cheapest_unit_windows, grid_unit_s
from .tariffs import (
    ForecastHorizon,
    PriceSlot,
    Tariff,
    TariffUnavailableError,
    require_aware,
    require_finite,
)

__all__ = [
    "MAX_WINDOWS",
    "ChargeWindow",
    "ChargingPlan",
    "PlanReason",
    "PlanRequest",
    "plan_charging",
    "plan_cheapest_window",
]

PlanReason = Literal[
    "already_at_target",
    "cheapest_window",
    "cheapest_windows",
    "cannot_reach_target",
    "no_tariff",
]
MAX_WINDOWS: Final = 3
"""At most this many windows (charge schedules) in one plan."""

_MICROS_PER_HOUR: Final = 3_600_000_000
_GRID_SLACK_S: Final = 1.0
"""A split plan may charge this much less than the exact duration (the car's
schedule has whole minutes anyway)."""
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
class ChargeWindow:
    """One window of a plan: when, how much energy, at what cost."""

    start: datetime
    end: datetime
    energy_kwh: float
    cost: float | None

    @property
    def average_price(self) -> float | None:
        """Cost per kWh over the window."""
        if self.cost is None or self.energy_kwh <= 0:
            return None
        return self.cost / self.energy_kwh

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "energy_kwh": round(self.energy_kwh, 3),
            "cost": _round(self.cost, 2),
            "average_price": _round(self.average_price, 4),
        }


@dataclass(frozen=True, kw_only=True)
class ChargingPlan:
    """The planner's answer.

    ``start``/``end`` bound the single charging window (``None`` when no
    charging is needed). ``energy_kwh`` is drawn from the grid, ``cost`` is its
    price over the window (``None`` without prices), ``average_price`` the cost
    per kWh, ``cost_if_now`` the cost of charging at once from ``now``.
    ``feasible`` is false when the target cannot be reached by departure.
    ``reason`` is one of ``already_at_target``, ``cheapest_window``,
    ``cheapest_windows`` (several windows), ``cannot_reach_target`` or
    ``no_tariff``. ``departure`` echoes the request; ``prices_until`` is set
    when the forecast ended before departure and the window was chosen among
    the known prices only. ``windows`` lists the charging windows in time
    order (one unless split; none without charging): ``start`` is the first
    one's start, ``end`` the last one's end. ``cost_single_window`` is the
    best single window's cost, kept when a split plan beat it.
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
    windows: tuple[ChargeWindow, ...] = ()
    cost_single_window: float | None = None

    def __post_init__(self) -> None:
        """A plan with a start has at least its one window."""
        if not self.windows and self.start is not None and self.end is not None:
            window = ChargeWindow(
                start=self.start,
                end=self.end,
                energy_kwh=self.energy_kwh,
                cost=self.cost,
            )
            object.__setattr__(self, "windows", (window,))

    @property
    def saving(self) -> float | None:
        """What the plan saves against charging at once, when both are known."""
        if self.cost is None or self.cost_if_now is None:
            return None
        return self.cost_if_now - self.cost

    @property
    def saving_vs_single_window(self) -> float | None:
        """What splitting saves against the best single window."""
        if self.cost is None or self.cost_single_window is None:
            return None
        return self.cost_single_window - self.cost

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
        if self.reason == "cheapest_windows":
            return self._split_explanation()
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
        return f"{text}{cost}{self._against_now()}{self._known_until()}."

    def _against_now(self) -> str:
        """``, saving … against charging now (…)`` when both costs are known."""
        if self.saving is None or self.cost_if_now is None:
            return ""
        return (
            f", saving {self.saving:.2f} against charging now ({self.cost_if_now:.2f})"
        )

    def _known_until(self) -> str:
        """``; prices known only until …`` when the forecast ended early."""
        if self.prices_until is None:
            return ""
        return f"; prices known only until {_clock(self.prices_until)}"

    def _split_explanation(self) -> str:
        parts = []
        for window in self.windows:
            text = (
                f"{_clock(window.start)}–{_clock(window.end)[-5:]} "
                f"({window.energy_kwh:.1f} kWh"
            )
            if window.average_price is not None:
                text += f" at {window.average_price:.3f}/kWh"
            parts.append(text + ")")
        text = (
            f"Cheapest {len(self.windows)} windows: {', '.join(parts[:-1])} and "
            f"{parts[-1]}; {self.energy_kwh:.1f} kWh in "
            f"{_span(self.duration)}"
        )
        if self.cost is not None:
            text += f", cost {self.cost:.2f}"
        text += self._against_now()
        if (
            self.saving_vs_single_window is not None
            and self.cost_single_window is not None
        ):
            text += (
                f" and {self.saving_vs_single_window:.2f} against the best single"
                f" window ({self.cost_single_window:.2f})"
            )
        return f"{text}{self._known_until()}."

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
            "windows": [window.as_dict() for window in self.windows],
            "cost_single_window": _round(self.cost_single_window, 2),
            "saving_vs_single_window": _round(self.saving_vs_single_window, 2),
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


def plan_charging(
    request: PlanRequest,
    tariff: Tariff | None,
    *,
    max_windows: int = 1,
    min_split_saving: float = 0.0,
) -> ChargingPlan:
    """Plan the cheapest charging in up to ``max_windows`` windows.

    Starts from :func:`plan_cheapest_window`. With ``max_windows`` > 1 and
    prices known, the cheapest choice of up to that many windows is searched
    (:mod:`.split`); it is taken only when it saves more than
    ``min_split_saving`` against the best single window, so a plan is split
    only when that is worth a second schedule. Without ``max_windows`` > 1
    this is :func:`plan_cheapest_window`.
    """
    if not 1 <= max_windows <= MAX_WINDOWS:
        raise ValueError(f"max_windows must be 1 to {MAX_WINDOWS}, got {max_windows}")
    require_finite(min_split_saving, "min_split_saving")
    single = plan_cheapest_window(request, tariff)
    if max_windows == 1 or single.reason != "cheapest_window" or tariff is None:
        return single
    split = _split_plan(request, tariff, single, max_windows)
    if split is None or split.cost is None or single.cost is None:
        return single
    if single.cost - split.cost <= max(min_split_saving, 0.0) + _TIE_TOLERANCE * max(
        1.0, abs(single.cost)
    ):
        return single
    return split


def _split_plan(
    request: PlanRequest, tariff: Tariff, single: ChargingPlan, max_windows: int
) -> ChargingPlan | None:
    """The cheapest plan of 2 to ``max_windows`` windows, or ``None``."""
    tz = request.now.tzinfo
    now = request.now.astimezone(UTC)
    known = _known_slots(
        tariff,
        request.now,
        request.departure.astimezone(tz),
        request.duration,
    )
    if known is None:  # pragma: no cover - the single plan found prices
        return None
    slots, prices_until = known
    horizon = slots[-1].end.astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    duration_s = request.duration.total_seconds()
    unit_s = grid_unit_s(
        [
            int((slot.start.astimezone(UTC) - epoch).total_seconds())
            for slot in slots[1:]
        ],
        int((horizon - now).total_seconds()),
        math.ceil(duration_s),
        max_windows,
    )
    unit = timedelta(seconds=unit_s)
    first = math.ceil((now - epoch) / unit)
    origin = epoch + first * unit
    units = int((horizon - origin) // unit)
    # The duration is rounded up to the microsecond: a second less is the grid's.
    need = max(1, math.ceil((duration_s - _GRID_SLACK_S) / unit_s))
    if units < need:
        return None
    curve = _PriceCurve(now, slots)
    unit_us = unit // timedelta(microseconds=1)
    start_us = (origin - now) // timedelta(microseconds=1)
    power = request.charger_power_kw
    costs = [
        power * curve.window(start_us + index * unit_us, unit_us)
        for index in range(units)
    ]
    # The grid's extra time: one window starts late or ends early.
    excess = max(timedelta(0), need * unit - request.duration)
    choice = cheapest_unit_windows(costs, need, max_windows, 1 - excess / unit)[
        max_windows
    ]
    if choice is None or len(choice.runs) < 2:
        return None
    windows = []
    for index, (begin, length) in enumerate(choice.runs):
        start = origin + begin * unit
        end = start + length * unit
        if index == choice.partial and choice.partial_at_start:
            start += excess
        elif index == choice.partial:
            end -= excess
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        windows.append(
            ChargeWindow(
                start=local_start,
                end=local_end,
                energy_kwh=power * (end - start) / timedelta(hours=1),
                cost=_window_cost(tariff, local_start, local_end, power),
            )
        )
    cost = sum(window.cost or 0.0 for window in windows)
    return ChargingPlan(
        start=windows[0].start,
        end=windows[-1].end,
        energy_kwh=request.energy_kwh,
        duration=request.duration,
        cost=cost,
        average_price=cost / request.energy_kwh,
        cost_if_now=single.cost_if_now,
        feasible=True,
        reason="cheapest_windows",
        departure=single.departure,
        prices_until=prices_until,
        windows=tuple(windows),
        cost_single_window=single.cost,
    )
