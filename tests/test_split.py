"""Split plans: the cheapest set of up to N windows, checked against brute force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations
import json
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.tesla_scout_worker.domain.plan import (
    MAX_WINDOWS,
    ChargingPlan,
    PlanRequest,
)
from custom_components.tesla_scout_worker.domain.planner import (
    plan_charging,
    plan_cheapest_window,
)
from custom_components.tesla_scout_worker.domain.split import (
    STEP_BUDGET,
    UnitWindows,
    cheapest_unit_windows,
    grid_unit_s,
)
from custom_components.tesla_scout_worker.domain.tariffs import (
    PriceForecastTariff,
    PriceSlot,
    preset_tariff,
)

WAW = ZoneInfo("Europe/Warsaw")
QUARTER = timedelta(minutes=15)
TOLERANCE = 1e-9


def runs_of(units: tuple[int, ...]) -> int:
    """How many runs of consecutive units a sorted choice has."""
    return sum(1 for i, u in enumerate(units) if i == 0 or units[i - 1] != u - 1)


def brute_force(
    costs: list[float], need: int, max_runs: int, fraction: float = 1.0
) -> float | None:
    """The least cost of ``need`` units in at most ``max_runs`` runs, by trying all.

    One unit is used for ``fraction`` of it: the first or the last of a run.
    """
    best = None
    for units in combinations(range(len(costs)), need):
        if runs_of(units) > max_runs:
            continue
        full = sum(costs[u] for u in units)
        # The first or the last unit of a run.
        partial = [
            u
            for i, u in enumerate(units)
            if i in {0, len(units) - 1}
            or units[i - 1] != u - 1
            or units[i + 1] != u + 1
        ]
        total = min(full - costs[u] * (1 - fraction) for u in partial)
        best = total if best is None else min(best, total)
    return best


def paid(costs: list[float], answer: UnitWindows, fraction: float) -> float:
    """What a choice costs, its partial unit counted in part."""
    units = [u for start, length in answer.runs for u in range(start, start + length)]
    first, length = answer.runs[answer.partial]
    partial = first if answer.partial_at_start else first + length - 1
    return sum(costs[u] for u in units) - costs[partial] * (1 - fraction)


# --- the search on the grid -------------------------------------------------------


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    costs=st.lists(
        st.floats(-1, 3, allow_nan=False).map(lambda c: round(c, 2)),
        min_size=1,
        max_size=12,
    ),
    data=st.data(),
)
def test_unit_windows_match_brute_force(
    costs: list[float], data: st.DataObject
) -> None:
    need = data.draw(st.integers(1, len(costs)))
    fraction = data.draw(st.sampled_from([1.0, 0.5, 0.07]))
    answers = cheapest_unit_windows(costs, need, MAX_WINDOWS, fraction)
    assert answers[0] is None
    for k in range(1, MAX_WINDOWS + 1):
        expected = brute_force(costs, need, k, fraction)
        answer = answers[k]
        if expected is None:
            assert answer is None
            continue
        assert answer is not None
        assert answer.cost == pytest.approx(expected, abs=1e-9)
        # The runs are real: in order, apart, inside, ``need`` units, cost as said.
        units = [
            u for start, length in answer.runs for u in range(start, start + length)
        ]
        assert len(units) == need == len(set(units))
        assert units == sorted(units)
        assert 1 <= len(answer.runs) <= k
        assert all(
            a + n < b
            for (a, n), (b, _) in zip(answer.runs, answer.runs[1:], strict=False)
        )
        assert paid(costs, answer, fraction) == pytest.approx(answer.cost, abs=1e-9)
        # More windows allowed never costs more; fewer are kept on a tie.
        if k > 1 and (before := answers[k - 1]) is not None:
            assert answer.cost <= before.cost + 1e-9
            if answer.cost >= before.cost - 1e-9:
                assert answer.runs == before.runs


def test_unit_windows_impossible_requests() -> None:
    assert cheapest_unit_windows([1.0, 2.0], 3, 2) == [None, None, None]
    assert cheapest_unit_windows([1.0, 2.0], 0, 2) == [None, None, None]
    # Two units apart need two windows.
    answers = cheapest_unit_windows([0.1, 5.0, 0.1], 2, 2)
    assert answers[1] is not None
    assert answers[1].cost == pytest.approx(5.1)
    assert answers[2] is not None
    assert answers[2].runs == ((0, 1), (2, 1))


def test_grid_follows_the_price_boundaries() -> None:
    hour = 1_796_198_400  # an o'clock instant
    assert grid_unit_s([hour, hour + 3600], 86_400, 3 * 3600, 3) == 3600
    assert grid_unit_s([hour, hour + 900, hour + 1800], 86_400, 3 * 3600, 3) == 900
    assert grid_unit_s([hour + 420], 3600, 3600, 3) == 60  # 7 minutes past
    assert grid_unit_s([hour + 17], 3600, 600, 3) == 60  # seconds: the finest grid
    assert grid_unit_s([], 86_400, 3600, 3) == 3600  # one price: any grid
    # Odd boundaries over two days and 20 hours of charging: coarser, in budget.
    unit = grid_unit_s([hour + 60], 2 * 86_400, 20 * 3600, 3)
    assert unit > 60
    assert (2 * 86_400 // unit + 1) * (20 * 3600 // unit + 1) * 4 <= STEP_BUDGET


# --- whole plans ------------------------------------------------------------------


def quarter_tariff(start: datetime, prices: list[float]) -> PriceForecastTariff:
    return PriceForecastTariff(
        tuple(
            PriceSlot(
                start=start + i * QUARTER, end=start + (i + 1) * QUARTER, price=price
            )
            for i, price in enumerate(prices)
        )
    )


def split_request(now: datetime, quarters: int, departure: datetime) -> PlanRequest:
    """A request needing exactly ``quarters`` × 15 minutes at 11 kW."""
    return PlanRequest(
        now=now,
        battery_level=0.0,
        target_level=quarters * 2.75,  # 11 kW × 15 min = 2.75 kWh = 2.75 % of 100
        capacity_kwh=100.0,
        charger_power_kw=11.0,
        efficiency=1.0,
        departure=departure,
    )


def check_windows(plan: ChargingPlan, req: PlanRequest, max_windows: int) -> None:
    """Windows in order, apart, inside now–departure, as long as the charge."""
    assert 1 <= len(plan.windows) <= max_windows
    assert plan.start == plan.windows[0].start
    assert plan.end == plan.windows[-1].end
    assert plan.windows[0].start.astimezone(UTC) >= req.now.astimezone(UTC)
    assert plan.windows[-1].end.astimezone(UTC) <= req.departure.astimezone(UTC)
    for before, after in zip(plan.windows, plan.windows[1:], strict=False):
        assert before.end < after.start
    total = sum((w.end - w.start for w in plan.windows), timedelta())
    assert abs(total - req.duration) <= timedelta(seconds=1)
    assert sum(w.energy_kwh for w in plan.windows) == pytest.approx(req.energy_kwh)
    assert sum(w.cost or 0 for w in plan.windows) == pytest.approx(plan.cost)
    json.dumps(plan.as_dict())


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    prices=st.lists(
        st.sampled_from([-0.05, 0.2, 0.31, 0.45, 0.6, 0.9, 1.4]),
        min_size=2,
        max_size=12,
    ),
    data=st.data(),
)
def test_split_plans_match_brute_force(
    prices: list[float], data: st.DataObject
) -> None:
    start = datetime(2026, 12, 3, 0, 0, tzinfo=WAW)
    quarters = data.draw(st.integers(1, len(prices)))
    max_windows = data.draw(st.integers(1, MAX_WINDOWS))
    threshold = data.draw(st.sampled_from([0.0, 0.3, 1.0]))
    # One dear quarter after the horizon absorbs the microsecond the duration
    # is rounded up by, so that a charge filling every quarter stays feasible.
    req = split_request(start, quarters, start + (len(prices) + 1) * QUARTER)
    tariff = quarter_tariff(start, [*prices, 100.0])
    plan = plan_charging(
        req, tariff, max_windows=max_windows, min_split_saving=threshold
    )
    single = plan_cheapest_window(req, tariff)
    assert single.cost is not None
    assert plan.cost is not None
    costs = [price * 11.0 / 4 for price in [*prices, 100.0]]
    best = brute_force(costs, quarters, max_windows)
    assert best is not None
    check_windows(plan, req, max_windows)
    if plan.reason == "cheapest_windows":
        # Split only when it beats the best single window by more than asked.
        assert len(plan.windows) >= 2
        assert plan.cost == pytest.approx(best, abs=1e-6)
        assert plan.cost_single_window == pytest.approx(single.cost)
        assert single.cost - plan.cost > threshold
    else:
        # Kept whole: no split saves more than the threshold.
        assert plan == single
        assert single.cost - best <= threshold + 1e-6


def test_two_cheap_blocks_around_a_dearer_one() -> None:
    """The issue's example: cheap at 01:00 and at 04:00, dearer between."""
    evening = datetime(2026, 12, 2, 17, 0, tzinfo=WAW)
    prices = []
    for i in range(14 * 4):
        hour = (evening + i * QUARTER).hour
        prices.append({1: 0.30, 4: 0.32, 2: 0.60, 3: 0.60}.get(hour, 0.90))
    tariff = quarter_tariff(evening, prices)
    req = split_request(evening, 7, datetime(2026, 12, 3, 7, 0, tzinfo=WAW))

    single = plan_charging(req, tariff)
    assert single.reason == "cheapest_window"
    assert [w.start.strftime("%H:%M") for w in single.windows] == ["01:00"]

    plan = plan_charging(req, tariff, max_windows=3, min_split_saving=0.5)
    assert plan.reason == "cheapest_windows"
    assert [
        (w.start.strftime("%H:%M"), w.end.strftime("%H:%M")) for w in plan.windows
    ] == [
        ("01:00", "02:00"),
        ("04:00", "04:45"),
    ]
    assert plan.cost == pytest.approx(11 * 0.30 + 8.25 * 0.32)
    assert plan.saving_vs_single_window == pytest.approx(single.cost - plan.cost)  # type: ignore[operator]
    assert plan.explanation == (
        "Cheapest 2 windows: 2026-12-03 01:00–02:00 (11.0 kWh at 0.300/kWh) and "
        "2026-12-03 04:00–04:45 (8.2 kWh at 0.320/kWh); 19.2 kWh in 1 h 45 min, "
        "cost 5.94, saving 11.38 against charging now (17.32) and 2.31 against the "
        "best single window (8.25)."
    )
    # A saving below the threshold keeps one window.
    assert plan_charging(req, tariff, max_windows=3, min_split_saving=2.5) == single


def test_g12_needs_both_off_peak_windows_for_a_long_charge() -> None:
    """10 hours from noon: 13:00-15:00 and 22:00-06:00 are both off-peak."""
    g12 = preset_tariff("G12", WAW)
    now = datetime(2026, 12, 2, 12, 0, tzinfo=WAW)
    req = PlanRequest(
        now=now,
        battery_level=0.0,
        target_level=100.0,
        capacity_kwh=110.0,
        charger_power_kw=11.0,
        efficiency=1.0,
        departure=datetime(2026, 12, 3, 7, 0, tzinfo=WAW),
    )
    plan = plan_charging(req, g12, max_windows=2, min_split_saving=1.0)
    assert plan.reason == "cheapest_windows"
    assert [
        (w.start.strftime("%H:%M"), w.end.strftime("%H:%M")) for w in plan.windows
    ] == [
        ("13:00", "15:00"),
        ("22:00", "06:00"),
    ]
    assert all(w.average_price == pytest.approx(0.6) for w in plan.windows)


def test_off_grid_now_and_a_partial_last_window() -> None:
    """Now at 17:07:30, 50 minutes needed: windows on the 15-minute grid, trimmed."""
    evening = datetime(2026, 12, 2, 17, 0, tzinfo=WAW)
    prices = [0.9] * 56
    prices[8] = prices[9] = 0.1  # 19:00-19:30
    prices[20] = prices[21] = 0.2  # 22:00-22:30
    tariff = quarter_tariff(evening, prices)
    req = PlanRequest(
        now=evening + timedelta(minutes=7, seconds=30),
        battery_level=0.0,
        target_level=11 * 50 / 60,
        capacity_kwh=100.0,
        charger_power_kw=11.0,
        efficiency=1.0,
        departure=datetime(2026, 12, 3, 7, 0, tzinfo=WAW),
    )
    plan = plan_charging(req, tariff, max_windows=2)
    assert plan.reason == "cheapest_windows"
    check_windows(plan, req, 2)
    assert [
        (w.start.strftime("%H:%M"), w.end.strftime("%H:%M")) for w in plan.windows
    ] == [
        ("19:00", "19:30"),
        ("22:00", "22:20"),
    ]


def test_plan_charging_validates_its_settings() -> None:
    req = split_request(
        datetime(2026, 12, 3, tzinfo=WAW), 1, datetime(2026, 12, 3, 1, tzinfo=WAW)
    )
    with pytest.raises(ValueError, match="max_windows"):
        plan_charging(req, None, max_windows=0)
    with pytest.raises(ValueError, match="max_windows"):
        plan_charging(req, None, max_windows=MAX_WINDOWS + 1)
    with pytest.raises(ValueError, match="min_split_saving"):
        plan_charging(req, None, max_windows=2, min_split_saving=float("nan"))
    # Nothing to split without prices.
    assert plan_charging(req, None, max_windows=3).reason == "no_tariff"


def test_prices_ending_before_departure_and_a_grid_too_short() -> None:
    evening = datetime(2026, 12, 2, 17, 0, tzinfo=WAW)
    # Tomorrow is not published: prices end at midnight, departure is at 07:00.
    prices = [0.9] * 28
    prices[8:12] = [0.1] * 4  # 19:00-20:00
    prices[20:24] = [0.2] * 4  # 22:00-23:00
    tariff = quarter_tariff(evening, prices)
    req = split_request(evening, 6, datetime(2026, 12, 3, 7, 0, tzinfo=WAW))
    plan = plan_charging(req, tariff, max_windows=2)
    assert plan.reason == "cheapest_windows"
    assert plan.prices_until == datetime(2026, 12, 3, 0, 0, tzinfo=WAW)
    assert plan.explanation.endswith("; prices known only until 2026-12-03 00:00.")

    # 50 minutes fit between 17:07:30 and 18:00, but not three whole quarters
    # and a bit from 17:15: one window it is.
    short = quarter_tariff(evening, [0.5, 0.1, 0.9, 0.1])
    req = PlanRequest(
        now=evening + timedelta(minutes=7, seconds=30),
        battery_level=0.0,
        target_level=11 * 50 / 60,
        capacity_kwh=100.0,
        charger_power_kw=11.0,
        efficiency=1.0,
        departure=evening + timedelta(hours=1),
    )
    assert plan_charging(req, short, max_windows=3).reason == "cheapest_window"
