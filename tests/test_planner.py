"""Tests for the charging planner: worked examples and randomised properties."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
import json
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.tesla_scout_worker.domain.plan import ChargingPlan, PlanRequest
from custom_components.tesla_scout_worker.domain.planner import plan_cheapest_window
from custom_components.tesla_scout_worker.domain.tariffs import (
    FixedWindowTariff,
    OffPeakWindow,
    PriceForecastTariff,
    PriceSlot,
    Tariff,
    TariffUnavailableError,
    parse_windows,
    preset_tariff,
    tariff_from_price_attributes,
)

from . import load_json_fixture

WAW = ZoneInfo("Europe/Warsaw")
HOUR = timedelta(hours=1)
G12 = preset_tariff("G12", WAW)


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock time in Warsaw."""
    return datetime(year, month, day, hour, minute, second, tzinfo=WAW)


def request(**overrides: Any) -> PlanRequest:
    """The worked example (Wednesday 17:00, 40 → 80 %, 75 kWh, 11 kW), adjusted."""
    values: dict[str, Any] = {
        "now": local(2025, 5, 14, 17),
        "battery_level": 40.0,
        "target_level": 80.0,
        "capacity_kwh": 75.0,
        "charger_power_kw": 11.0,
        "efficiency": 0.9,
        "departure": local(2025, 5, 15, 7),
    }
    values.update(overrides)
    return PlanRequest(**values)


def full_charge(kwh: float, **overrides: Any) -> PlanRequest:
    """A request drawing exactly ``kwh`` from the grid (0 → 100 %, e = 1)."""
    return request(
        battery_level=0.0,
        target_level=100.0,
        capacity_kwh=kwh,
        efficiency=1.0,
        **overrides,
    )


def real_hours(start: datetime | None, end: datetime | None) -> float:
    """Elapsed real hours between two aware datetimes."""
    assert start is not None
    assert end is not None
    return (end.astimezone(UTC) - start.astimezone(UTC)) / HOUR


def grid_costs(
    tariff: Tariff,
    now: datetime,
    departure: datetime,
    duration: timedelta,
    power: float,
) -> list[tuple[float, float]]:
    """(start offset in s, cost) of every window starting on a 1-minute grid."""

    def offset(moment: datetime) -> float:
        return (moment.astimezone(UTC) - now.astimezone(UTC)).total_seconds()

    slots = tariff.slots(now, departure)
    starts = [offset(s.start) for s in slots]
    rows = [(offset(s.start), offset(s.end), s.price) for s in slots]
    length = duration.total_seconds()
    latest = offset(departure) - length
    result = []
    lo = 0.0
    while lo <= latest + 1e-6:
        hi = lo + length
        cost = 0.0
        index = max(0, bisect_right(starts, lo) - 1)
        while index < len(rows) and rows[index][0] < hi:
            s, e, price = rows[index]
            cost += price * max(0.0, min(e, hi) - max(s, lo))
            index += 1
        result.append((lo, cost * power / 3600))
        lo += 60
    return result


def assert_window_ok(plan: ChargingPlan, req: PlanRequest) -> None:
    """Start not before now, end not after departure, energy met."""
    assert plan.start is not None
    assert plan.end is not None
    assert plan.start.astimezone(UTC) >= req.now.astimezone(UTC)
    assert plan.end.astimezone(UTC) <= req.departure.astimezone(UTC)
    assert real_hours(plan.start, plan.end) == pytest.approx(plan.duration / HOUR)
    assert plan.duration / HOUR * req.charger_power_kw >= plan.energy_kwh - 1e-9


# --- validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"capacity_kwh": -75.0}, "capacity_kwh must be positive"),
        ({"capacity_kwh": 0.0}, "capacity_kwh must be positive"),
        ({"charger_power_kw": 0.0}, "charger_power_kw must be positive"),
        ({"charger_power_kw": -11.0}, "charger_power_kw must be positive"),
        ({"efficiency": 0.0}, r"efficiency must be in \(0, 1\]"),
        ({"efficiency": 1.01}, r"efficiency must be in \(0, 1\]"),
        ({"battery_level": -1.0}, "battery_level must be between 0 and 100"),
        ({"target_level": 100.5}, "target_level must be between 0 and 100"),
        ({"target_level": float("nan")}, "target_level must be a finite number"),
        ({"departure": local(2025, 5, 14, 16)}, "departure .* is before now"),
        ({"now": datetime(2025, 5, 14, 17)}, "now must be timezone-aware"),  # noqa: DTZ001
        ({"departure": datetime(2025, 5, 15, 7)}, "departure must be timezone-aware"),  # noqa: DTZ001
    ],
)
def test_invalid_requests(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        request(**overrides)


# --- worked examples --------------------------------------------------------------


def test_worked_example_g12_wednesday_evening() -> None:
    """Arrive 17:00 Wednesday, 40 → 80 % of 75 kWh at 11 kW, leave 07:00."""
    req = request()
    plan = plan_cheapest_window(req, G12)
    energy = 0.4 * 75 / 0.9  # 33.33 kWh from the grid
    hours = energy / 11  # 3.03 h
    assert plan.reason == "cheapest_window"
    assert plan.feasible
    assert plan.energy_kwh == pytest.approx(energy)
    assert plan.duration / HOUR == pytest.approx(hours)
    assert plan.start == local(2025, 5, 14, 22)
    assert plan.end == local(2025, 5, 14, 22) + plan.duration
    assert plan.end is not None
    assert plan.end.strftime("%H:%M:%S") == "01:01:49"
    assert plan.cost == pytest.approx(energy * 0.60)  # 20.00 PLN
    assert plan.average_price == pytest.approx(0.60)
    assert plan.cost_if_now == pytest.approx(energy * 1.10)  # 36.67 PLN
    assert plan.saving == pytest.approx(energy * 0.50)  # 16.67 PLN
    assert plan.departure == req.departure
    assert plan.prices_until is None
    summary = plan.as_dict()
    assert summary == {
        "reason": "cheapest_window",
        "feasible": True,
        "start": "2025-05-14T22:00:00+02:00",
        "end": "2025-05-15T01:01:49+02:00",
        "departure": "2025-05-15T07:00:00+02:00",
        "energy_kwh": 33.333,
        "duration_minutes": 181.8,
        "cost": 20.0,
        "average_price": 0.6,
        "cost_if_now": 36.67,
        "saving": 16.67,
        "prices_until": None,
        "windows": [
            {
                "start": "2025-05-14T22:00:00+02:00",
                "end": "2025-05-15T01:01:49+02:00",
                "energy_kwh": 33.333,
                "cost": 20.0,
                "average_price": 0.6,
            }
        ],
        "cost_single_window": None,
        "saving_vs_single_window": None,
        "explanation": (
            "Cheapest window: 33.3 kWh from 2025-05-14 22:00 to 2025-05-15 01:02 "
            "(3 h 02 min) at 0.600/kWh on average, cost 20.00, saving 16.67 "
            "against charging now (36.67)."
        ),
    }
    assert json.loads(json.dumps(summary)) == summary


def test_window_across_midnight_ties_go_to_the_earliest_start() -> None:
    """9 h needed, 8 h off-peak: 21:00–06:00 and 22:00–07:00 cost the same."""
    req = full_charge(99.0, now=local(2025, 5, 14, 20))
    plan = plan_cheapest_window(req, G12)
    assert (plan.start, plan.end) == (local(2025, 5, 14, 21), local(2025, 5, 15, 6))
    assert plan.cost == pytest.approx(8 * 11 * 0.6 + 11 * 1.1)
    assert_window_ok(plan, req)


def test_off_peak_tie_takes_22_not_later() -> None:
    """Any start 22:00–02:58 costs the same for 3 h 2 min; the earliest wins."""
    plan = plan_cheapest_window(request(), G12)
    assert plan.start == local(2025, 5, 14, 22)


def test_custom_window_crossing_midnight() -> None:
    tariff = FixedWindowTariff(WAW, parse_windows("23:30-02:00"), 1.0, 0.2)
    req = full_charge(22.0, now=local(2025, 5, 14, 18))  # 2 h at 11 kW
    plan = plan_cheapest_window(req, tariff)
    assert (plan.start, plan.end) == (
        local(2025, 5, 14, 23, 30),
        local(2025, 5, 15, 1, 30),
    )
    assert plan.cost == pytest.approx(22 * 0.2)


def test_dst_autumn_night_g12_fits_nine_hours() -> None:
    """Saturday 25 → Sunday 26 October 2025: 22:00–06:00 is 9 real hours."""
    req = full_charge(
        99.0, now=local(2025, 10, 25, 17), departure=local(2025, 10, 26, 7)
    )
    plan = plan_cheapest_window(req, G12)
    assert plan.duration == timedelta(hours=9)
    assert (plan.start, plan.end) == (local(2025, 10, 25, 22), local(2025, 10, 26, 6))
    assert plan.end is not None
    assert plan.end.utcoffset() == HOUR  # CET after the change
    assert plan.cost == pytest.approx(99 * 0.6)  # entirely off-peak
    assert plan.cost_if_now == pytest.approx(5 * 11 * 1.1 + 4 * 11 * 0.6)
    assert_window_ok(plan, req)


def test_dst_spring_night_g12_has_only_seven_hours() -> None:
    """Saturday 29 → Sunday 30 March 2025: 22:00–06:00 is 7 real hours."""
    req = full_charge(82.5, now=local(2025, 3, 29, 17), departure=local(2025, 3, 30, 7))
    plan = plan_cheapest_window(req, G12)
    assert plan.duration == timedelta(hours=7.5)
    # 21:30 CET + 7.5 h = 06:00 CEST; starting at 22:00 would cost the same.
    assert (plan.start, plan.end) == (local(2025, 3, 29, 21, 30), local(2025, 3, 30, 6))
    assert real_hours(plan.start, plan.end) == 7.5
    assert plan.cost == pytest.approx(7 * 11 * 0.6 + 0.5 * 11 * 1.1)
    assert_window_ok(plan, req)


def test_g12w_weekend() -> None:
    """Friday evening to Monday morning is all off-peak with G12w."""
    g12w = preset_tariff("G12w", WAW)
    req = full_charge(
        110.0, now=local(2025, 5, 16, 17), departure=local(2025, 5, 19, 7)
    )
    plan = plan_cheapest_window(req, g12w)
    assert (plan.start, plan.end) == (local(2025, 5, 16, 22), local(2025, 5, 17, 8))
    assert plan.cost == pytest.approx(110 * 0.62)
    # Plain G12 would have to pay peak prices for part of the 10 h.
    assert (plan_cheapest_window(req, G12).cost or 0) > 110 * 0.6
    # Arriving on Saturday noon, charging at once is already the cheapest.
    saturday = replace(req, now=local(2025, 5, 17, 12))
    plan = plan_cheapest_window(saturday, g12w)
    assert plan.start == saturday.now
    assert plan.cost == plan.cost_if_now == pytest.approx(110 * 0.62)


def test_already_at_target() -> None:
    for level in (80.0, 95.0):
        plan = plan_cheapest_window(request(battery_level=level), G12)
        assert plan.reason == "already_at_target"
        assert plan.feasible
        assert (plan.start, plan.end, plan.energy_kwh) == (None, None, 0.0)
        assert plan.duration == timedelta(0)
        assert (plan.cost, plan.cost_if_now, plan.average_price) == (0.0, 0.0, None)
    summary = plan.as_dict()
    assert summary["start"] is None
    assert summary["saving"] == 0.0
    assert summary["explanation"] == (
        "The battery is already at or above the target; no charging needed."
    )
    assert plan_cheapest_window(request(target_level=40.0), None).reason == (
        "already_at_target"
    )


def test_cannot_reach_target_charges_now() -> None:
    req = request(
        battery_level=10.0, target_level=100.0, departure=local(2025, 5, 14, 21)
    )
    plan = plan_cheapest_window(req, G12)
    assert plan.reason == "cannot_reach_target"
    assert not plan.feasible
    assert plan.start == req.now
    assert plan.end is not None
    assert plan.end.astimezone(UTC) > req.departure.astimezone(UTC)
    assert plan.cost == plan.cost_if_now
    assert plan.cost is not None
    assert plan.average_price == pytest.approx(plan.cost / plan.energy_kwh)
    text = plan.as_dict()["explanation"]
    assert text.startswith(
        "The target cannot be reached before departure (2025-05-14 21:00); "
        "charging as soon as possible: 75.0 kWh from 2025-05-14 17:00"
    )
    assert text.endswith(f"cost {plan.cost:.2f}.")
    # Without prices it still says so, without a cost.
    plan = plan_cheapest_window(req, None)
    assert (plan.reason, plan.cost, plan.average_price) == (
        "cannot_reach_target",
        None,
        None,
    )
    assert "cost" not in plan.as_dict()["explanation"]
    # Departing right now: nothing fits.
    plan = plan_cheapest_window(replace(req, departure=req.now), G12)
    assert plan.reason == "cannot_reach_target"


def test_cannot_reach_target_with_a_short_forecast_has_no_cost() -> None:
    attributes = load_json_fixture("nordpool_15min.json")
    tariff = tariff_from_price_attributes(attributes, WAW)
    req = request(
        now=local(2025, 11, 12, 22),
        battery_level=0.0,
        target_level=100.0,
        departure=local(2025, 11, 13, 5),
    )
    plan = plan_cheapest_window(req, tariff)
    assert (plan.reason, plan.cost, plan.cost_if_now) == (
        "cannot_reach_target",
        None,
        None,
    )
    assert plan.explanation.endswith("(7 h 35 min).")
    plan = replace(plan, departure=None)
    assert "departure;" in plan.explanation


def test_explanation_without_comparison() -> None:
    """A hand-made plan without the optional numbers still explains itself."""
    plan = replace(
        plan_cheapest_window(request(), G12), average_price=None, cost_if_now=None
    )
    assert plan.saving is None
    assert plan.explanation == (
        "Cheapest window: 33.3 kWh from 2025-05-14 22:00 to 2025-05-15 01:02 "
        "(3 h 02 min), cost 20.00."
    )


def test_no_tariff() -> None:
    req = request()
    plan = plan_cheapest_window(req, None)
    assert plan.reason == "no_tariff"
    assert plan.feasible
    assert plan.start == req.now
    assert plan.end == req.now + plan.duration
    assert (plan.cost, plan.average_price, plan.cost_if_now, plan.saving) == (
        None,
        None,
        None,
        None,
    )
    assert plan.as_dict()["explanation"] == (
        "No price information; charging now: 33.3 kWh from 2025-05-14 17:00 "
        "to 2025-05-14 20:02 (3 h 02 min)."
    )


class _Unavailable:
    """A tariff that has no prices at all (e.g. its sensor is unavailable)."""

    def slots(self, start: datetime, end: datetime) -> list[PriceSlot]:
        raise TariffUnavailableError("sensor unavailable")


def test_unavailable_tariff_means_no_tariff() -> None:
    plan = plan_cheapest_window(request(), _Unavailable())
    assert (plan.reason, plan.cost, plan.feasible) == ("no_tariff", None, True)
    # A forecast that does not cover now, or not a whole window from now.
    stale = tariff_from_price_attributes(load_json_fixture("nordpool_15min.json"), WAW)
    tomorrow = request(now=local(2025, 11, 13, 17), departure=local(2025, 11, 14, 7))
    assert plan_cheapest_window(tomorrow, stale).reason == "no_tariff"
    late = request(now=local(2025, 11, 12, 22), departure=local(2025, 11, 13, 7))
    assert plan_cheapest_window(late, stale).reason == "no_tariff"
    plan = plan_cheapest_window(late, stale)
    assert (plan.start, plan.cost) == (late.now, None)


# --- forecasts from the fixtures ------------------------------------------------


def check_against_brute_force(
    plan: ChargingPlan, req: PlanRequest, tariff: Tariff
) -> None:
    """The plan is valid and no 1-minute-grid window is cheaper."""
    assert plan.reason == "cheapest_window"
    assert_window_ok(plan, req)
    horizon = plan.prices_until or req.departure
    assert plan.end is not None
    assert plan.end.astimezone(UTC) <= horizon.astimezone(UTC)
    assert plan.cost is not None
    assert plan.cost_if_now is not None
    costs = grid_costs(tariff, req.now, horizon, plan.duration, req.charger_power_kw)
    best = min(cost for _, cost in costs)
    assert plan.cost <= best + 1e-6 * max(1.0, abs(best))
    # Ties go to the earliest start: no grid window as cheap starts before it.
    tie = plan.cost + 1e-10 * max(1.0, abs(plan.cost))
    earliest = next((lo for lo, cost in costs if cost <= tie), None)
    assert plan.start is not None
    started = (plan.start.astimezone(UTC) - req.now.astimezone(UTC)).total_seconds()
    assert earliest is None or started <= earliest + 1e-6
    assert plan.cost <= plan.cost_if_now + 1e-9 * max(1.0, abs(plan.cost_if_now))
    assert plan.average_price == pytest.approx(plan.cost / plan.energy_kwh)


def test_nordpool_hourly_across_the_spring_dst_night() -> None:
    tariff = tariff_from_price_attributes(
        load_json_fixture("nordpool_hourly.json"), WAW
    )
    req = request(now=local(2025, 3, 29, 17), departure=local(2025, 3, 30, 7))
    plan = plan_cheapest_window(req, tariff)
    check_against_brute_force(plan, req, tariff)
    # The cheap hours are 01:00 CET and 03:00–06:00 CEST; the window ends at
    # 06:00 CEST and starts 3 h 02 min of real time earlier, at 01:58 CET.
    assert plan.end == local(2025, 3, 30, 6)
    assert plan.start is not None
    assert (
        plan.start.astimezone(UTC)
        == datetime(2025, 3, 30, 4, tzinfo=UTC) - plan.duration
    )
    assert (plan.start.hour, plan.start.minute) == (1, 58)
    assert plan.saving is not None
    assert plan.saving > 18


def test_nordpool_15min_before_tomorrow_is_published() -> None:
    """At 10:00 only today's prices exist: plan among them, say so."""
    tariff = tariff_from_price_attributes(load_json_fixture("nordpool_15min.json"), WAW)
    req = request(now=local(2025, 11, 12, 10), departure=local(2025, 11, 13, 7))
    plan = plan_cheapest_window(req, tariff)
    assert plan.prices_until == local(2025, 11, 13)
    check_against_brute_force(plan, req, tariff)
    summary = plan.as_dict()
    assert summary["prices_until"] == "2025-11-13T00:00:00+01:00"
    assert summary["explanation"].endswith(
        "; prices known only until 2025-11-13 00:00."
    )
    # A departure within today needs no truncation.
    today = replace(req, departure=local(2025, 11, 12, 20))
    plan = plan_cheapest_window(today, tariff)
    assert plan.prices_until is None
    check_against_brute_force(plan, today, tariff)


def test_entsoe_hourly_through_the_repeated_hour() -> None:
    """27 October 2024 00:30 to 07:00 is 7.5 real hours (02:00 happens twice)."""
    tariff = tariff_from_price_attributes(load_json_fixture("entsoe_hourly.json"), WAW)
    req = full_charge(
        44.0, now=local(2024, 10, 27, 0, 30), departure=local(2024, 10, 27, 7)
    )
    plan = plan_cheapest_window(req, tariff)
    assert plan.duration == timedelta(hours=4)
    check_against_brute_force(plan, req, tariff)
    assert real_hours(req.now, req.departure) == 7.5
    # The cheapest four hours of that night start at the first 02:00 (CEST).
    assert plan.start is not None
    assert plan.start.astimezone(UTC) == datetime(2024, 10, 27, 0, tzinfo=UTC)
    assert plan.start.utcoffset() == 2 * HOUR
    assert plan.end is not None
    assert plan.end.astimezone(UTC) == datetime(2024, 10, 27, 4, tzinfo=UTC)


def test_entsoe_15min_evening_to_morning() -> None:
    tariff = tariff_from_price_attributes(load_json_fixture("entsoe_15min.json"), WAW)
    req = request(now=local(2025, 11, 12, 17, 4, 31), departure=local(2025, 11, 13, 7))
    plan = plan_cheapest_window(req, tariff)
    check_against_brute_force(plan, req, tariff)
    assert plan.cost is not None
    assert plan.cost_if_now is not None
    assert plan.cost < plan.cost_if_now


# --- randomised properties ------------------------------------------------------


def random_forecast(
    rng: random.Random, now: datetime, departure: datetime, step: timedelta
) -> PriceForecastTariff:
    """Random prices (with repeats, negatives) from before now to past departure."""
    origin = datetime.combine(
        now.astimezone(WAW).date(), time(0), tzinfo=WAW
    ).astimezone(UTC)
    end = departure.astimezone(UTC) + step
    if rng.random() < 0.15:  # a forecast that stops before departure
        span = departure.astimezone(UTC) - now.astimezone(UTC)
        end = now.astimezone(UTC) + span * rng.random() + step
    palette = [round(rng.uniform(-0.1, 1.5), 3) for _ in range(rng.randint(1, 6))]
    slots = []
    moment = origin
    while moment < end:
        price = rng.choice(palette) if rng.random() < 0.7 else rng.uniform(-0.1, 1.5)
        slots.append(
            PriceSlot(
                start=moment.astimezone(WAW),
                end=(moment + step).astimezone(WAW),
                price=price,
            )
        )
        moment += step
    return PriceForecastTariff(slots)


def random_fixed(rng: random.Random) -> FixedWindowTariff:
    """A random two-price tariff with up to three windows."""
    windows = []
    for _ in range(rng.randint(0, 3)):
        start = time(rng.randrange(24), rng.choice((0, 15, 30, 45)))
        end = time(rng.randrange(24), rng.choice((0, 15, 30, 45)))
        if start != end:
            windows.append(OffPeakWindow(start, end))
    return FixedWindowTariff(
        WAW,
        tuple(windows),
        peak_price=rng.uniform(0.5, 1.5),
        offpeak_price=rng.uniform(0.1, 0.9),
        weekends_offpeak=rng.random() < 0.3,
    )


def random_request(rng: random.Random) -> PlanRequest:
    """Random levels, powers, times (DST nights included) and departures."""
    days = [date(2025, 3, 29), date(2025, 10, 25), date(2024, 10, 26)]
    day = (
        rng.choice(days)
        if rng.random() < 0.4
        else date(2025, 1, 1) + timedelta(days=rng.randrange(365))
    )
    start = datetime.combine(day, time(0), tzinfo=WAW).astimezone(UTC)
    now = start + timedelta(
        seconds=rng.randrange(86_400), microseconds=rng.randrange(10**6)
    )
    departure = now + timedelta(seconds=rng.randrange(0, 16 * 3600))
    level = rng.uniform(0, 100)
    target = rng.uniform(level, 100) if rng.random() < 0.85 else rng.uniform(0, 100)
    return PlanRequest(
        now=now.astimezone(WAW),
        battery_level=level,
        target_level=target,
        capacity_kwh=rng.uniform(20, 100),
        charger_power_kw=rng.choice((2.3, 3.7, 7.4, 11.0, 22.0, rng.uniform(1, 22))),
        efficiency=rng.uniform(0.75, 1.0),
        departure=departure.astimezone(WAW),
    )


def test_random_plans_are_optimal_and_valid() -> None:
    rng = random.Random(1234)
    reasons: dict[str, int] = {}
    for _ in range(500):
        req = random_request(rng)
        kind = rng.choice(("hourly", "quarter", "fixed"))
        tariff: Tariff
        if kind == "fixed":
            tariff = random_fixed(rng)
        else:
            step = HOUR if kind == "hourly" else timedelta(minutes=15)
            tariff = random_forecast(rng, req.now, req.departure, step)
        plan = plan_cheapest_window(req, tariff)
        reasons[plan.reason] = reasons.get(plan.reason, 0) + 1
        expected_energy = max(0.0, req.target_level - req.battery_level) / 100
        expected_energy *= req.capacity_kwh / req.efficiency
        assert plan.energy_kwh == pytest.approx(expected_energy)
        json.dumps(plan.as_dict())
        if plan.reason == "already_at_target":
            assert req.target_level <= req.battery_level
            continue
        assert plan.duration / HOUR * req.charger_power_kw >= plan.energy_kwh - 1e-9
        if plan.feasible:
            assert plan.reason in ("cheapest_window", "no_tariff")
            if plan.reason == "cheapest_window":
                check_against_brute_force(plan, req, tariff)
            else:
                assert plan.start == req.now
        else:
            assert plan.reason == "cannot_reach_target"
            assert plan.start == req.now
            assert req.now.astimezone(UTC) + plan.duration > req.departure.astimezone(
                UTC
            )
    assert set(reasons) == {
        "already_at_target",
        "cheapest_window",
        "cannot_reach_target",
        "no_tariff",
    }, reasons
    assert reasons["cheapest_window"] >= 250, reasons


def test_random_plans_without_tariff() -> None:
    rng = random.Random(99)
    for _ in range(200):
        req = random_request(rng)
        plan = plan_cheapest_window(req, None)
        assert plan.cost is None or plan.reason == "already_at_target"
        if plan.reason != "already_at_target":
            assert plan.start == req.now
            assert plan.feasible == (plan.reason == "no_tariff")
            end = plan.end
            assert end is not None
            assert (
                end.astimezone(UTC) <= req.departure.astimezone(UTC)
            ) == plan.feasible
