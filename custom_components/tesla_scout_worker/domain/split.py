"""The cheapest set of up to N charging windows (HA-free, pure).

With dynamic prices the cheapest hours are often apart: two cheap blocks at
01:00 and 04:00 around a dearer one. The car keeps several charge schedules,
so a plan may use several windows. This module finds, for a total charging
time, the cheapest choice of at most ``max_windows`` disjoint windows.

The search runs on a grid of equal units (``unit_s`` seconds) that all price
boundaries fall on, usually 15 or 60 minutes, by dynamic programming over the
units: for each unit, each count of windows opened so far, whether the unit is
charged, and how many units are charged so far, the least cost to get there.
That is ``O(units × windows × needed units)`` steps, exact on the grid. The
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
STEP_BUDGET: Final = 250_000
"""At most this many DP states (units × windows × needed units)."""
_TOLERANCE: Final = 1e-9


@dataclass(frozen=True)
class UnitWindows:
    """A choice of windows on the grid: ``(first unit, units)`` pairs, in order."""

    runs: tuple[tuple[int, int], ...]
    cost: float


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


def cheapest_unit_windows(
    unit_costs: Sequence[float], need: int, max_windows: int
) -> list[UnitWindows | None]:
    """The cheapest choice of exactly ``need`` units in ``k`` runs, for each ``k``.

    ``unit_costs[t]`` is what charging through unit ``t`` costs. The answer is
    indexed by ``k`` (0 to ``max_windows``): the cheapest choice with at most
    ``k`` runs, or ``None`` when none exists. Ties go to the choice found
    first (charging earlier).
    """
    units = len(unit_costs)
    if need <= 0 or need > units or max_windows < 1:
        return [None] * (max_windows + 1)
    # cost[k][charged][used]: after the current unit, k runs opened, the unit
    # charged or not, ``used`` units charged in all. ``took[t]`` remembers,
    # per state, whether the unit before was charged (for the way back).
    width = need + 1
    states = max_windows + 1

    def empty() -> list[list[list[float]]]:
        return [[[inf] * width for _ in range(2)] for _ in range(states)]

    cost = empty()
    cost[0][0][0] = 0.0
    came_from: list[list[list[bytearray]]] = []
    for price in unit_costs:
        new = empty()
        back = [[bytearray(width) for _ in range(2)] for _ in range(states)]
        for k in range(states):
            idle, charged = cost[k]
            # Not charged: from either state, same k and used.
            target, from_charged = new[k][0], back[k][0]
            for used in range(width):
                a, b = idle[used], charged[used]
                if b < a:
                    target[used], from_charged[used] = b, 1
                else:
                    target[used] = a
            # Charged: continue a run (same k) or open one (from k - 1, idle).
            target, from_charged = new[k][1], back[k][1]
            opened = cost[k - 1][0] if k else None
            for used in range(1, width):
                go_on = charged[used - 1]
                start = opened[used - 1] if opened is not None else inf
                if go_on <= start:
                    if go_on < inf:
                        target[used], from_charged[used] = go_on + price, 1
                elif start < inf:
                    target[used] = start + price
        cost = new
        came_from.append(back)

    answers: list[UnitWindows | None] = [None]
    best: UnitWindows | None = None
    for k in range(1, states):
        total = min(cost[k][0][need], cost[k][1][need])
        if total < inf:
            limit = total + _TOLERANCE * max(1.0, abs(total))
            if best is None or best.cost > limit:
                best = UnitWindows(_runs(came_from, cost, k, need), total)
        answers.append(best)
    return answers


def _runs(
    came_from: list[list[list[bytearray]]],
    cost: list[list[list[float]]],
    k: int,
    need: int,
) -> tuple[tuple[int, int], ...]:
    """Walk back from the end: the runs of charged units."""
    charged = 1 if cost[k][1][need] <= cost[k][0][need] else 0
    used = need
    taken: list[int] = []
    for t in range(len(came_from) - 1, -1, -1):
        before = came_from[t][k][charged][used]
        if charged:
            taken.append(t)
            used -= 1
            if not before:
                k -= 1
        charged = before
    taken.reverse()
    runs: list[tuple[int, int]] = []
    for t in taken:
        if runs and runs[-1][0] + runs[-1][1] == t:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((t, 1))
    return tuple(runs)
