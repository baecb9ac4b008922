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
given back in the timezone of ``PlanRequest.now``. What goes in and comes out
(the request, the plan and its windows) is in :mod:`.plan`.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
import math
from typing import Final

from .plan import (
    MAX_WINDOWS,
    MICROS_PER_HOUR,
    ChargeWindow,
    ChargingPlan,
    PlanReason,
    PlanRequest,
)
from .split import cheapest_unit_windows, grid_unit_s
from .tariffs import (
    ForecastHorizon,
    PriceSlot,
    Tariff,
    TariffUnavailableError,
    require_finite,
)

__all__ = [
    "plan_charging",
    "plan_cheapest_window",
]

_GRID_SLACK_S: Final = 1.0
"""A split plan may charge this much less than the exact duration (the car's
schedule has whole minutes anyway)."""
_TIE_TOLERANCE: Final = 1e-9
"""Relative cost difference below which two windows count as equally cheap."""


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
                + slot.price * (end - self.bounds[-1]) / MICROS_PER_HOUR
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
            + self.prices[index] * (offset - self.bounds[index]) / MICROS_PER_HOUR
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
