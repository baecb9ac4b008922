"""Property-style tests for the geofence and the scout's scheduling policy."""

from __future__ import annotations

import random

import pytest

from custom_components.tesla_scout_worker.domain.geo import distance_m, is_at_home
from custom_components.tesla_scout_worker.domain.policy import (
    AWAY_DRIVING_INTERVAL_S,
    HOME_ASLEEP_PRESENCE_S,
    HOME_ASLEEP_S,
    HOME_CHARGING_RECHECK_S,
    HOME_IDLE_RECHECK_S,
    MAX_INTERVAL_S,
    MIN_INTERVAL_S,
    NAV_ARRIVAL_MARGIN_S,
    NAV_RECHECK_S,
    PARKED_QUIET_S,
    VehicleOutlook,
    may_fetch_live_data,
    next_interval,
)

WARSAW = (52.2297, 21.0122)
KRAKOW = (50.0647, 19.9450)
BASE = 15 * 60.0


def random_point(rng: random.Random) -> tuple[float, float]:
    return rng.uniform(-89.9, 89.9), rng.uniform(-180, 180)


def test_known_distance() -> None:
    assert distance_m(*WARSAW, *KRAKOW) == pytest.approx(252_000, rel=0.01)


def test_distance_properties() -> None:
    rng = random.Random(7)
    for _ in range(500):
        a, b, c = random_point(rng), random_point(rng), random_point(rng)
        ab = distance_m(*a, *b)
        assert distance_m(*a, *a) == pytest.approx(0, abs=1e-6)
        assert ab == pytest.approx(distance_m(*b, *a))
        assert 0 <= ab <= 20_038_000  # at most half the circumference
        assert ab <= distance_m(*a, *c) + distance_m(*c, *b) + 1e-6


def test_geofence_edge() -> None:
    assert is_at_home(100.0, 100.0)
    assert not is_at_home(100.01, 100.0)


def test_parked_quiet_window_is_at_least_twenty_minutes() -> None:
    assert may_fetch_live_data(None, 0)
    for seconds in (0, 60, 15 * 60, 20 * 60 - 1, 20 * 60):
        assert not may_fetch_live_data(1000.0, 1000.0 + seconds), seconds
    assert may_fetch_live_data(1000.0, 1000.0 + PARKED_QUIET_S)


def outlook(**kwargs: object) -> VehicleOutlook:
    values: dict[str, object] = {"online": False, "at_home": False, "driving": False}
    values.update(kwargs)
    return VehicleOutlook(**values)  # type: ignore[arg-type]


def test_parked_away_uses_the_base_interval() -> None:
    assert next_interval([outlook()], BASE) == BASE


def test_asleep_at_home_checks_less_often() -> None:
    assert next_interval([outlook(at_home=True)], BASE) == HOME_ASLEEP_S
    assert (
        next_interval([outlook(at_home=True)], BASE, presence_tracked=True)
        == HOME_ASLEEP_PRESENCE_S
    )
    assert next_interval([outlook(at_home=True)], 120 * 60.0) == MAX_INTERVAL_S
    # One car away keeps the base interval for all.
    assert next_interval([outlook(at_home=True), outlook()], BASE) == BASE
    # A trip keeps the car online for its drive plus ~15 min: never miss one
    # of five minutes or more.
    assert next_interval([outlook(at_home=True)], BASE) <= 5 * 60 + 15 * 60


def test_unknown_position_is_not_home() -> None:
    assert next_interval([outlook(at_home=None)], BASE) == BASE


def test_driving_home_checks_halfway_to_arrival() -> None:
    # 6 km at 36 mph (16.1 m/s): about 373 s to go, so check in ~186 s.
    car = outlook(
        online=True,
        driving=True,
        distance_m=6000.0,
        previous_distance_m=9000.0,
        speed_mph=36.0,
    )
    assert next_interval([car], BASE) == pytest.approx(6000 / (36 * 0.44704) / 2)


def test_navigation_home_uses_minutes_to_arrival() -> None:
    car = outlook(
        online=True,
        driving=True,
        distance_m=20_000.0,
        destination_is_home=True,
        minutes_to_arrival=10.0,
    )
    # One look just after the car's own ETA, not ever closer guesses.
    assert next_interval([car], BASE) == 600.0 + NAV_ARRIVAL_MARGIN_S


def test_navigation_elsewhere_and_long_trips() -> None:
    to_work = outlook(
        online=True, driving=True, distance_m=9000.0, minutes_to_arrival=25.0
    )
    assert next_interval([to_work], BASE) == 25 * 60 + NAV_ARRIVAL_MARGIN_S
    # Longer than the base interval is fine: state checks between would only
    # read a car whose arrival time is known.
    assert next_interval([to_work], BASE) > BASE
    long_trip = outlook(
        online=True, driving=True, distance_m=200_000.0, minutes_to_arrival=150.0
    )
    assert next_interval([long_trip], BASE) == NAV_RECHECK_S
    # Another car that needs a look sooner wins.
    assert next_interval([long_trip, to_work], BASE) == 25 * 60 + NAV_ARRIVAL_MARGIN_S


def test_approaching_without_speed_checks_often() -> None:
    car = outlook(
        online=True, driving=True, distance_m=5000.0, previous_distance_m=7000.0
    )
    assert next_interval([car], BASE) == AWAY_DRIVING_INTERVAL_S / 2


def test_driving_away_checks_every_five_minutes() -> None:
    car = outlook(
        online=True,
        driving=True,
        distance_m=9000.0,
        previous_distance_m=6000.0,
        speed_mph=30.0,
    )
    assert next_interval([car], BASE) == AWAY_DRIVING_INTERVAL_S
    assert next_interval([car], 2 * 60.0) == 2 * 60.0


def test_interval_bounds_and_retry_after() -> None:
    rng = random.Random(3)
    for _ in range(500):
        cars = [
            outlook(
                online=rng.random() < 0.5,
                at_home=rng.choice([True, False, None]),
                driving=rng.random() < 0.5,
                distance_m=rng.uniform(0, 50_000),
                previous_distance_m=rng.uniform(0, 50_000),
                speed_mph=rng.uniform(0, 80),
                minutes_to_arrival=rng.uniform(0, 60),
                destination_is_home=rng.random() < 0.3,
            )
            for _ in range(rng.randint(1, 3))
        ]
        base = rng.uniform(60, 120 * 60)
        interval = next_interval(cars, base)
        assert MIN_INTERVAL_S <= interval <= max(MAX_INTERVAL_S, base)
        if not all(c.at_home and not c.online for c in cars):
            navigating = any(c.driving and c.minutes_to_arrival for c in cars)
            assert interval <= (max(base, NAV_RECHECK_S) if navigating else base)
        retry = rng.uniform(0, 10_000)
        assert next_interval(cars, base, retry_after_s=retry) >= retry


def test_a_car_that_woke_up_or_is_plugged_in_at_home() -> None:
    # Woken by itself (a drive, its own schedule): one read, even when parked.
    assert may_fetch_live_data(1000.0, 1060.0, woke_up=True)
    # Plugged in at home: nothing to learn for half an hour after a read.
    assert not may_fetch_live_data(
        None, 1000.0 + 29 * 60, last_data_at=1000.0, idle_at_home=True
    )
    assert may_fetch_live_data(
        None, 1000.0 + HOME_IDLE_RECHECK_S, last_data_at=1000.0, idle_at_home=True
    )
    # Charging at home: an hour (whether or not the cable was known).
    for idle in (True, False):
        assert not may_fetch_live_data(
            None,
            1000.0 + HOME_CHARGING_RECHECK_S - 1,
            last_data_at=1000.0,
            idle_at_home=idle,
            charging_at_home=True,
        )
        assert may_fetch_live_data(
            None,
            1000.0 + HOME_CHARGING_RECHECK_S,
            last_data_at=1000.0,
            idle_at_home=idle,
            charging_at_home=True,
        )
    # Never read since setup: nothing to wait for.
    assert may_fetch_live_data(None, 1000.0, idle_at_home=True, charging_at_home=True)
    # Not at home (or not plugged in): the parked rule alone.
    assert may_fetch_live_data(None, 1000.0 + 60, last_data_at=1000.0)
