"""The cheapest set of up to N charging windows (HA-free, pure).

With dynamic prices the cheapest hours are often apart: two cheap blocks at
01:00 and 04:00 around a dearer one. The car keeps several charge schedules,
so a plan may use several windows. This module finds, for a total charging
time, the cheapest choice of at most ``max_windows`` disjoint windows.

The search runs on a grid of equal units (``unit_s`` seconds) that all price
boundaries fall on, usually 15 or 60 minutes, by dynamic programming over the
units: for each unit, each count of windows opened so far, whether the unit is
charged, whether the one partly used unit is placed yet, and how many units are
charged so far, the least cost to get there. That is ``O(units × windows ×
needed units)`` steps, exact on the grid.

The charging time is rarely a whole number of units, so one unit is used in
part: the first unit of some window (it starts late) or the last (it ends
early). Which one, and of which window, is part of the search. Windows are
apart by at least one unit. The
grid is coarsened only when a forecast with odd boundaries would make that
count too large (a budget of :data:`STEP_BUDGET`); the costs reported are
always computed on the real prices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import gcd, inf
from typing import Final

GRID_UNITS_S: Final = (60, 300, 900, 1800, 3600)
"""Grids tried, finest first (all divide an hour)."""
STEP_BUDGET: Final = 60_000
"""At most this many DP states (units × windows × needed units)."""
_TOLERANCE: Final = 1e-9
_EPSILON: Final = 1e-9
"""Costs closer than this are a tie (sums in another order differ a little)."""


@dataclass(frozen=True)
class UnitWindows:
    """A choice of windows on the grid: ``(first unit, units)`` pairs, in order.

    The run at index ``partial`` uses only part of one unit: its first one
    (``partial_at_start``, it starts late) or its last one (it ends early).
    """

    runs: tuple[tuple[int, int], ...]
    cost: float
    partial: int = 0
    partial_at_start: bool = False


def grid_unit_s(bounds_s: Sequence[int], span_s: int, need_s: int, windows: int) -> int:
    """The grid unit (seconds) for price boundaries ``bounds_s`` (epoch seconds).

    The largest unit of :data:`GRID_UNITS_S` that divides every boundary's
    distance to the hour, unless the DP would then exceed the budget.
    """
    common = 3600
    for bound in bounds_s:
        common = gcd(common, bound % 3600)
    unit = max((u for u in GRID_UNITS_S if common % u == 0), default=GRID_UNITS_S[0])
    for candidate in (u for u in GRID_UNITS_S if u >= unit):
        unit = candidate
        if (span_s // unit + 1) * (need_s // unit + 1) * (windows + 1) <= STEP_BUDGET:
            break
    return unit


# The states of a unit, and how a charged one was reached (for the way back).
_IDLE: Final = 0
_CHARGED: Final = 1
_ENDS_EARLY: Final = 2
"""Charged, and the window ends inside this unit (so the next one is idle)."""
_OPENED: Final = 0
_CONTINUED: Final = 1
_OPENED_LATE: Final = 2
_IDLE_AFTER: Final = (_IDLE, _ENDS_EARLY, _CHARGED)

type _Table = list[list[list[list[float]]]]
"""cost[k][state][placed][used]: k windows opened, this unit's state, the
partial unit placed yet, ``used`` units charged in all."""


def cheapest_unit_windows(
    unit_costs: Sequence[float],
    need: int,
    max_windows: int,
    fraction: float = 1.0,
) -> list[UnitWindows | None]:
    """The cheapest ``need`` units (one used for ``fraction``) in ``k`` runs.

    ``unit_costs[t]`` is what charging through unit ``t`` costs; the unit
    used in part (the first or the last of a run) costs ``fraction`` of it.
    The answer is indexed by ``k`` (0 to ``max_windows``): the cheapest
    choice with at most ``k`` runs, or ``None`` when none exists. Fewer runs
    win ties, then a last window that ends early.
    """
    units = len(unit_costs)
    if need <= 0 or need > units or max_windows < 1:
        return [None] * (max_windows + 1)
    width = need + 1
    windows = max_windows + 1

    def table() -> _Table:
        return [
            [[[inf] * width for _ in range(2)] for _ in range(3)]
            for _ in range(windows)
        ]

    def marks() -> list[list[list[bytearray]]]:
        return [
            [[bytearray(width) for _ in range(2)] for _ in range(3)]
            for _ in range(windows)
        ]

    cost = table()
    cost[0][_IDLE][0][0] = 0.0
    trail: list[list[list[list[bytearray]]]] = []
    for price in unit_costs:
        new, back = table(), marks()
        part = price * fraction
        for k in range(windows):
            here, before = cost[k], cost[k - 1] if k else None
            for placed in range(2):
                # Idle: after any state. On a tie the earlier end wins, then
                # a window that ends early.
                _choose(
                    new[k][_IDLE][placed],
                    back[k][_IDLE][placed],
                    [(here[state][placed], 0.0, state) for state in _IDLE_AFTER],
                    shift=0,
                )
                # Charged in full: go on with a window, or open one (from k - 1),
                # maybe late inside this unit (which places the partial unit).
                _choose(
                    new[k][_CHARGED][placed],
                    back[k][_CHARGED][placed],
                    [
                        (here[_CHARGED][placed], price, _CONTINUED),
                        (before[_IDLE][placed] if before else None, price, _OPENED),
                        (
                            before[_IDLE][0] if before and placed else None,
                            part,
                            _OPENED_LATE,
                        ),
                    ],
                    shift=1,
                )
            # Charged in part, the window ending here: places the partial unit.
            _choose(
                new[k][_ENDS_EARLY][1],
                back[k][_ENDS_EARLY][1],
                [
                    (here[_CHARGED][0], part, _CONTINUED),
                    (before[_IDLE][0] if before else None, part, _OPENED),
                ],
                shift=1,
            )
        cost = new
        trail.append(back)

    answers: list[UnitWindows | None] = [None]
    best: UnitWindows | None = None
    for k in range(1, windows):
        # Exactly one unit is the partial one (with a fraction of 1, any is).
        ends = [(cost[k][state][1][need], state) for state in (2, 0, 1)]
        total = min(end[0] for end in ends)
        if total == inf:
            answers.append(best)
            continue
        limit = total + _TOLERANCE * max(1.0, abs(total))
        total, state = next(end for end in ends if end[0] <= limit)
        if best is None or best.cost > limit:
            best = _walk_back(trail, k, state, need, total)
        answers.append(best)
    return answers


def _choose(
    target: list[float],
    mark: bytearray,
    options: list[tuple[list[float] | None, float, int]],
    *,
    shift: int,
) -> None:
    """``target[used]``: the cheapest option's ``source[used - shift] + add``.

    Options come in order of preference: a later one must be cheaper by more
    than :data:`_EPSILON`. ``mark`` keeps which one won.
    """
    for used in range(shift, len(target)):
        low, how = inf, 0
        for source, add, kind in options:
            if source is not None and source[used - shift] + add < low - _EPSILON:
                low, how = source[used - shift] + add, kind
        target[used], mark[used] = low, how


def _walk_back(
    trail: list[list[list[list[bytearray]]]],
    k: int,
    state: int,
    need: int,
    total: float,
) -> UnitWindows:
    """Follow the marks from the end: the windows' units, and the partial one."""
    used, placed = need, 1
    starts: list[int] = []  # the first unit of each window, from the last
    taken: list[int] = []
    partial_unit, partial_at_start = -1, False
    for t in range(len(trail) - 1, -1, -1):
        how = trail[t][k][state][placed][used]
        if state == _IDLE:
            state = how
            continue
        taken.append(t)
        used -= 1
        if state == _ENDS_EARLY:
            partial_unit, placed = t, 0
        if how == _CONTINUED:
            state = _CHARGED
            continue
        starts.append(t)
        k, state = k - 1, _IDLE
        if how == _OPENED_LATE:
            partial_unit, partial_at_start, placed = t, True, 0
    runs: list[tuple[int, int]] = []
    for t in reversed(taken):
        if t in starts:
            runs.append((t, 1))
        else:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
    partial = next(
        i
        for i, (first, length) in enumerate(runs)
        if first <= partial_unit < first + length
    )
    return UnitWindows(tuple(runs), total, partial, partial_at_start)
