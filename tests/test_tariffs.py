"""Tests for the tariffs (fixed windows, presets, price forecasts)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.tesla_scout_worker.domain.tariffs import (
    DEFAULT_PRICES,
    PRESET_NAMES,
    FixedWindowTariff,
    ForecastHorizon,
    OffPeakWindow,
    PriceForecastTariff,
    PriceSlot,
    Tariff,
    TariffError,
    TariffUnavailableError,
    parse_windows,
    preset_tariff,
    tariff_from_price_attributes,
)

from . import load_json_fixture

WAW = ZoneInfo("Europe/Warsaw")
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock time in Warsaw."""
    return datetime(year, month, day, hour, minute, second, tzinfo=WAW)


def simple(slots: list[PriceSlot]) -> list[tuple[str, str, float]]:
    """Slots as (start, end, price) with local ISO times."""
    return [(s.start.isoformat(), s.end.isoformat(), s.price) for s in slots]


def assert_covers(slots: list[PriceSlot], start: datetime, end: datetime) -> None:
    """Slots are contiguous and cover [start, end) exactly."""
    assert slots, "expected slots"
    assert slots[0].start.astimezone(UTC) == start.astimezone(UTC)
    assert slots[-1].end.astimezone(UTC) == end.astimezone(UTC)
    for before, after in pairwise(slots):
        assert before.end.astimezone(UTC) == after.start.astimezone(UTC)
    total = sum((s.duration for s in slots), timedelta())
    assert total == end.astimezone(UTC) - start.astimezone(UTC)


# --- PriceSlot and windows ------------------------------------------------------


def test_price_slot_validation() -> None:
    start = local(2025, 5, 14, 22)
    slot = PriceSlot(start=start, end=local(2025, 5, 15, 6), price=0.6)
    assert slot.duration == timedelta(hours=8)
    with pytest.raises(ValueError, match="timezone-aware"):
        PriceSlot(start=datetime(2025, 5, 14), end=start, price=1.0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        PriceSlot(start=start, end=datetime(2025, 5, 15), price=1.0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="must be after"):
        PriceSlot(start=start, end=start, price=1.0)
    with pytest.raises(ValueError, match="finite"):
        PriceSlot(start=start, end=start + HOUR, price=float("nan"))


def test_price_slot_in_the_repeated_hour() -> None:
    """02:00 CEST to 02:00 CET is a real hour although the wall clocks agree."""
    first = local(2024, 10, 27, 2)
    second = first.astimezone(UTC).__add__(HOUR).astimezone(WAW)
    assert (second.hour, second.fold) == (2, 1)
    slot = PriceSlot(start=first, end=second, price=0.1)
    assert slot.duration == HOUR


def test_off_peak_window() -> None:
    assert OffPeakWindow(time(22), time(6)).crosses_midnight
    assert OffPeakWindow(time(13), time(0)).crosses_midnight
    assert not OffPeakWindow(time(13), time(15)).crosses_midnight
    assert str(OffPeakWindow(time(22), time(6))) == "22:00-06:00"
    with pytest.raises(ValueError, match="empty"):
        OffPeakWindow(time(6), time(6))
    with pytest.raises(ValueError, match="wall-clock"):
        OffPeakWindow(time(6, tzinfo=UTC), time(7))


def test_parse_windows() -> None:
    assert parse_windows("13:00-15:00, 22:00–06:00") == (
        OffPeakWindow(time(13), time(15)),
        OffPeakWindow(time(22), time(6)),
    )
    assert parse_windows(" 9:30-24:00 ;") == (OffPeakWindow(time(9, 30), time(0)),)
    assert parse_windows("") == ()
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_windows("22-06")
    with pytest.raises(ValueError, match="invalid time"):
        parse_windows("22:00-25:00")
    with pytest.raises(ValueError, match="invalid time"):
        parse_windows("22:60-23:00")


# --- presets ----------------------------------------------------------------------


def test_presets_and_defaults() -> None:
    assert PRESET_NAMES == ("G11", "G12", "G12w")
    g11 = preset_tariff("G11", WAW)
    assert (g11.peak_price, g11.offpeak_price, g11.windows) == (0.95, 0.95, ())
    g12 = preset_tariff("G12", WAW)
    assert (g12.peak_price, g12.offpeak_price) == DEFAULT_PRICES["G12"] == (1.1, 0.6)
    assert [str(w) for w in g12.windows] == ["13:00-15:00", "22:00-06:00"]
    assert not g12.weekends_offpeak
    g12w = preset_tariff(" g12W ", WAW)
    assert g12w.weekends_offpeak
    assert g12w.windows == g12.windows
    assert isinstance(g12w, FixedWindowTariff)
    with pytest.raises(ValueError, match="unknown tariff preset 'G13'"):
        preset_tariff("G13", WAW)


def test_preset_price_overrides() -> None:
    g12 = preset_tariff("G12", WAW, peak_price=1.2)
    assert (g12.peak_price, g12.offpeak_price) == (1.2, 0.6)
    g12 = preset_tariff("G12", WAW, offpeak_price=0.5)
    assert (g12.peak_price, g12.offpeak_price) == (1.1, 0.5)
    assert preset_tariff("G11", WAW, peak_price=1.0).offpeak_price == 1.0
    assert preset_tariff("G11", WAW, offpeak_price=0.9).peak_price == 0.9
    assert (
        preset_tariff("G11", WAW, peak_price=0.8, offpeak_price=0.8).peak_price == 0.8
    )
    with pytest.raises(ValueError, match="single price"):
        preset_tariff("G11", WAW, peak_price=1.0, offpeak_price=0.5)
    with pytest.raises(ValueError, match="finite"):
        preset_tariff("G12", WAW, peak_price=float("inf"))


def test_g11_is_one_slot() -> None:
    start, end = local(2025, 5, 14, 17, 3), local(2025, 5, 17, 9)
    slots = preset_tariff("G11", WAW).slots(start, end)
    assert simple(slots) == [(start.isoformat(), end.isoformat(), 0.95)]


def test_g12_weekday() -> None:
    tariff = preset_tariff("G12", WAW)
    slots = tariff.slots(local(2025, 5, 14, 0), local(2025, 5, 15, 0))
    assert simple(slots) == [
        ("2025-05-14T00:00:00+02:00", "2025-05-14T06:00:00+02:00", 0.6),
        ("2025-05-14T06:00:00+02:00", "2025-05-14T13:00:00+02:00", 1.1),
        ("2025-05-14T13:00:00+02:00", "2025-05-14T15:00:00+02:00", 0.6),
        ("2025-05-14T15:00:00+02:00", "2025-05-14T22:00:00+02:00", 1.1),
        ("2025-05-14T22:00:00+02:00", "2025-05-15T00:00:00+02:00", 0.6),
    ]


def test_g12_weekends_are_like_weekdays() -> None:
    slots = preset_tariff("G12", WAW).slots(
        local(2025, 5, 17, 12), local(2025, 5, 17, 16)
    )
    assert [s.price for s in slots] == [1.1, 0.6, 1.1]


def test_g12w_whole_weekend_off_peak() -> None:
    """From Friday 22:00 to Monday 06:00 it is one off-peak stretch."""
    tariff = preset_tariff("G12w", WAW)
    slots = tariff.slots(local(2025, 5, 16, 12), local(2025, 5, 19, 16))
    assert simple(slots) == [
        ("2025-05-16T12:00:00+02:00", "2025-05-16T13:00:00+02:00", 1.15),
        ("2025-05-16T13:00:00+02:00", "2025-05-16T15:00:00+02:00", 0.62),
        ("2025-05-16T15:00:00+02:00", "2025-05-16T22:00:00+02:00", 1.15),
        ("2025-05-16T22:00:00+02:00", "2025-05-19T06:00:00+02:00", 0.62),
        ("2025-05-19T06:00:00+02:00", "2025-05-19T13:00:00+02:00", 1.15),
        ("2025-05-19T13:00:00+02:00", "2025-05-19T15:00:00+02:00", 0.62),
        ("2025-05-19T15:00:00+02:00", "2025-05-19T16:00:00+02:00", 1.15),
    ]


def test_weekend_only_custom_tariff() -> None:
    """No windows, weekends off-peak: Saturday 00:00 to Monday 00:00."""
    tariff = FixedWindowTariff(WAW, (), 1.0, 0.5, weekends_offpeak=True)
    slots = tariff.slots(local(2025, 5, 16, 20), local(2025, 5, 19, 2))
    assert simple(slots) == [
        ("2025-05-16T20:00:00+02:00", "2025-05-17T00:00:00+02:00", 1.0),
        ("2025-05-17T00:00:00+02:00", "2025-05-19T00:00:00+02:00", 0.5),
        ("2025-05-19T00:00:00+02:00", "2025-05-19T02:00:00+02:00", 1.0),
    ]


def test_dst_autumn_night_is_nine_hours() -> None:
    """Night of 26→27 October 2024: clocks go back, 22:00–06:00 lasts 9 h."""
    slots = preset_tariff("G12", WAW).slots(
        local(2024, 10, 26, 20), local(2024, 10, 27, 8)
    )
    assert simple(slots) == [
        ("2024-10-26T20:00:00+02:00", "2024-10-26T22:00:00+02:00", 1.1),
        ("2024-10-26T22:00:00+02:00", "2024-10-27T06:00:00+01:00", 0.6),
        ("2024-10-27T06:00:00+01:00", "2024-10-27T08:00:00+01:00", 1.1),
    ]
    assert slots[1].duration == timedelta(hours=9)
    assert_covers(slots, local(2024, 10, 26, 20), local(2024, 10, 27, 8))


def test_dst_spring_night_is_seven_hours() -> None:
    """Night of 29→30 March 2025: clocks go forward, 22:00–06:00 lasts 7 h."""
    slots = preset_tariff("G12", WAW).slots(
        local(2025, 3, 29, 20), local(2025, 3, 30, 8)
    )
    assert simple(slots) == [
        ("2025-03-29T20:00:00+01:00", "2025-03-29T22:00:00+01:00", 1.1),
        ("2025-03-29T22:00:00+01:00", "2025-03-30T06:00:00+02:00", 0.6),
        ("2025-03-30T06:00:00+02:00", "2025-03-30T08:00:00+02:00", 1.1),
    ]
    assert slots[1].duration == timedelta(hours=7)
    # 11 wall-clock hours from 20:00 to 08:00 are 11 real hours on this night.
    assert_covers(slots, local(2025, 3, 29, 20), local(2025, 3, 30, 8))


def test_custom_window_across_midnight_and_to_midnight() -> None:
    tariff = FixedWindowTariff(
        WAW,
        parse_windows("23:00-01:30, 10:00-24:00"),
        peak_price=2.0,
        offpeak_price=1.0,
    )
    slots = tariff.slots(local(2025, 1, 8, 9), local(2025, 1, 9, 11))
    assert simple(slots) == [
        ("2025-01-08T09:00:00+01:00", "2025-01-08T10:00:00+01:00", 2.0),
        ("2025-01-08T10:00:00+01:00", "2025-01-09T01:30:00+01:00", 1.0),
        ("2025-01-09T01:30:00+01:00", "2025-01-09T10:00:00+01:00", 2.0),
        ("2025-01-09T10:00:00+01:00", "2025-01-09T11:00:00+01:00", 1.0),
    ]


def test_equal_prices_merge_into_one_slot() -> None:
    tariff = FixedWindowTariff(WAW, parse_windows("13:00-15:00, 22:00-06:00"), 1.0, 1.0)
    start, end = local(2025, 1, 8, 0), local(2025, 1, 10, 0)
    assert simple(tariff.slots(start, end)) == [
        (start.isoformat(), end.isoformat(), 1.0)
    ]


def test_overlapping_windows_merge() -> None:
    tariff = FixedWindowTariff(WAW, parse_windows("01:00-03:00, 02:00-04:00"), 2.0, 1.0)
    slots = tariff.slots(local(2025, 1, 8, 0), local(2025, 1, 8, 5))
    assert [s.price for s in slots] == [2.0, 1.0, 2.0]
    assert slots[1].duration == timedelta(hours=3)


def test_clipping_and_output_timezone() -> None:
    tariff = preset_tariff("G12", WAW)
    start, end = local(2025, 5, 14, 21, 17, 5), local(2025, 5, 14, 23, 45)
    slots = tariff.slots(start, end)
    assert simple(slots) == [
        ("2025-05-14T21:17:05+02:00", "2025-05-14T22:00:00+02:00", 1.1),
        ("2025-05-14T22:00:00+02:00", "2025-05-14T23:45:00+02:00", 0.6),
    ]
    in_utc = tariff.slots(start.astimezone(UTC), end.astimezone(UTC))
    assert [s.start.tzinfo for s in in_utc] == [UTC, UTC]
    assert in_utc[1].start == datetime(2025, 5, 14, 20, tzinfo=UTC)


def test_slots_period_validation() -> None:
    tariff = preset_tariff("G12", WAW)
    moment = local(2025, 5, 14, 12)
    assert tariff.slots(moment, moment) == []
    with pytest.raises(ValueError, match="before start"):
        tariff.slots(moment, moment - HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        tariff.slots(datetime(2025, 5, 14), moment)  # noqa: DTZ001


def _reference_price(tariff: FixedWindowTariff, moment: datetime) -> float:
    """Price from the wall clock alone: an independent oracle for DST handling."""
    wall = moment.astimezone(tariff.tz)
    clock = wall.time().replace(tzinfo=None)
    offpeak = tariff.weekends_offpeak and wall.weekday() >= 5
    for window in tariff.windows:
        if window.crosses_midnight:
            offpeak |= clock >= window.start or clock < window.end
        else:
            offpeak |= window.start <= clock < window.end
    return tariff.offpeak_price if offpeak else tariff.peak_price


def _random_window(rng: random.Random) -> OffPeakWindow:
    """A window whose edges avoid the 02:00–03:00 hour the DST changes touch."""
    hours = [h for h in range(24) if h != 2]
    while True:
        start = time(rng.choice(hours), rng.choice((0, 15, 30, 45)))
        end = time(rng.choice(hours), rng.choice((0, 15, 30, 45)))
        if start != end:
            return OffPeakWindow(start, end)


def test_fixed_tariff_matches_the_wall_clock_randomly() -> None:
    rng = random.Random(20250330)
    days = [
        date(2024, 10, 26),
        date(2025, 3, 29),
        date(2025, 10, 25),
        date(2026, 3, 28),
    ]
    for _ in range(300):
        tariff = FixedWindowTariff(
            WAW,
            tuple(_random_window(rng) for _ in range(rng.randint(0, 3))),
            peak_price=rng.choice((1.1, 0.9)),
            offpeak_price=rng.choice((0.6, 0.3)),
            weekends_offpeak=rng.random() < 0.3,
        )
        day = (
            rng.choice(days)
            if rng.random() < 0.6
            else date(2025, 1, 1) + timedelta(days=rng.randrange(365))
        )
        start = datetime.combine(day, time(12), tzinfo=WAW).astimezone(UTC) + timedelta(
            seconds=rng.randrange(86_400)
        )
        end = start + timedelta(seconds=rng.randrange(1, 3 * 86_400))
        slots = tariff.slots(start.astimezone(WAW), end.astimezone(WAW))
        assert_covers(slots, start, end)
        for before, after in pairwise(slots):
            assert before.price != after.price, "equal neighbours are merged"
        for slot in slots:
            for probe in (slot.start, slot.end - timedelta(seconds=1)):
                assert slot.price == _reference_price(tariff, probe)


# --- forecasts ------------------------------------------------------------------


def test_price_forecast_tariff_basics() -> None:
    a = PriceSlot(start=local(2025, 5, 14, 1), end=local(2025, 5, 14, 2), price=0.2)
    b = PriceSlot(start=local(2025, 5, 14, 0), end=local(2025, 5, 14, 1), price=0.1)
    c = PriceSlot(start=local(2025, 5, 14, 3), end=local(2025, 5, 14, 4), price=0.3)
    tariff = PriceForecastTariff((a, c, b))
    assert [s.price for s in tariff.forecast] == [0.1, 0.2, 0.3]
    assert all(s.start.tzinfo is UTC for s in tariff.forecast)
    assert tariff.first_start == local(2025, 5, 14, 0)
    assert tariff.last_end == local(2025, 5, 14, 4)
    assert "3 slots" in repr(tariff)
    assert isinstance(tariff, ForecastHorizon)
    assert not isinstance(preset_tariff("G12", WAW), ForecastHorizon)
    check: Tariff = tariff
    slots = check.slots(local(2025, 5, 14, 0, 30), local(2025, 5, 14, 1, 45))
    assert simple(slots) == [
        ("2025-05-14T00:30:00+02:00", "2025-05-14T01:00:00+02:00", 0.1),
        ("2025-05-14T01:00:00+02:00", "2025-05-14T01:45:00+02:00", 0.2),
    ]
    assert tariff.coverage_end(local(2025, 5, 14, 0, 30)) == local(2025, 5, 14, 2)
    assert tariff.coverage_end(local(2025, 5, 14, 3)) == local(2025, 5, 14, 4)
    assert tariff.coverage_end(local(2025, 5, 14, 2, 30)) is None
    assert tariff.coverage_end(local(2025, 5, 14, 4)) is None
    assert tariff.coverage_end(local(2025, 5, 13, 23)) is None
    moment = local(2025, 5, 14, 2, 30)
    assert tariff.slots(moment, moment) == []
    with pytest.raises(TariffUnavailableError, match="02:00:00"):
        tariff.slots(local(2025, 5, 14, 1), local(2025, 5, 14, 3, 30))
    with pytest.raises(TariffUnavailableError, match="04:00:00"):
        tariff.slots(local(2025, 5, 14, 3), local(2025, 5, 14, 5))
    with pytest.raises(TariffUnavailableError, match="23:00:00"):
        tariff.slots(local(2025, 5, 13, 23), local(2025, 5, 14, 1))
    with pytest.raises(ValueError, match="before start"):
        tariff.slots(moment, moment - HOUR)


def test_price_forecast_tariff_duplicates_and_overlaps() -> None:
    first = PriceSlot(start=local(2025, 5, 14, 0), end=local(2025, 5, 14, 1), price=0.1)
    same_start = PriceSlot(
        start=local(2025, 5, 14, 0), end=local(2025, 5, 14, 0, 15), price=9
    )
    overlapping = PriceSlot(
        start=local(2025, 5, 14, 0, 30), end=local(2025, 5, 14, 2), price=9
    )
    tariff = PriceForecastTariff([first, same_start, overlapping])
    assert [s.price for s in tariff.forecast] == [0.1]


def test_empty_forecast() -> None:
    tariff = PriceForecastTariff()
    assert tariff.first_start is None
    assert tariff.last_end is None
    assert tariff.coverage_end(local(2025, 5, 14)) is None
    with pytest.raises(TariffUnavailableError):
        tariff.slots(local(2025, 5, 14), local(2025, 5, 15))
    with pytest.raises(ValueError, match="timezone-aware"):
        tariff.coverage_end(datetime(2025, 5, 14))  # noqa: DTZ001
    assert issubclass(TariffUnavailableError, TariffError)


def test_nordpool_hourly_fixture_with_spring_dst_tomorrow() -> None:
    attributes = load_json_fixture("nordpool_hourly.json")
    tariff = tariff_from_price_attributes(attributes, WAW)
    assert len(tariff.forecast) == 24 + 23
    assert tariff.first_start == local(2025, 3, 29)
    assert tariff.last_end == local(2025, 3, 31)
    assert all(s.duration == HOUR for s in tariff.forecast)
    slots = tariff.slots(local(2025, 3, 29, 17), local(2025, 3, 31))
    assert_covers(slots, local(2025, 3, 29, 17), local(2025, 3, 31))
    values = [
        row["value"] for row in attributes["raw_today"] + attributes["raw_tomorrow"]
    ]
    assert [s.price for s in slots] == values[17:]
    # 01:00 CET is followed by 03:00 CEST: one real hour.
    night = tariff.slots(local(2025, 3, 30, 1), local(2025, 3, 30, 4))
    assert [s.start.hour for s in night] == [1, 3]


def test_nordpool_15min_fixture_before_tomorrow_is_published() -> None:
    attributes = load_json_fixture("nordpool_15min.json")
    assert attributes["raw_tomorrow"] == []
    tariff = tariff_from_price_attributes(attributes, WAW)
    assert len(tariff.forecast) == 96
    assert all(s.duration == QUARTER for s in tariff.forecast)
    assert tariff.coverage_end(local(2025, 11, 12, 10, 7)) == local(2025, 11, 13)
    slots = tariff.slots(local(2025, 11, 12, 10, 7), local(2025, 11, 12, 11))
    assert [s.duration for s in slots] == [
        timedelta(minutes=8),
        QUARTER,
        QUARTER,
        QUARTER,
    ]
    with pytest.raises(TariffUnavailableError, match="2025-11-13T00:00:00"):
        tariff.slots(local(2025, 11, 12, 22), local(2025, 11, 13, 7))
    del attributes["raw_tomorrow"]
    assert tariff_from_price_attributes(attributes, WAW).forecast == tariff.forecast


def test_entsoe_hourly_fixture_on_the_autumn_dst_day() -> None:
    attributes = load_json_fixture("entsoe_hourly.json")
    assert attributes["prices_today"][0]["time"] == "2024-10-27 00:00:00+02:00"
    tariff = tariff_from_price_attributes(attributes, WAW)
    assert len(tariff.forecast) == 25 + 24
    assert all(s.duration == HOUR for s in tariff.forecast)
    assert tariff.first_start == local(2024, 10, 27)
    assert tariff.last_end == local(2024, 10, 29)
    day = tariff.slots(local(2024, 10, 27), local(2024, 10, 28))
    assert len(day) == 25
    assert [s.price for s in day] == [
        row["price"] for row in attributes["prices_today"]
    ]
    repeated = [s for s in day if s.start.hour == 2]
    assert [s.start.utcoffset() for s in repeated] == [2 * HOUR, HOUR]


def test_entsoe_15min_fixture() -> None:
    attributes = load_json_fixture("entsoe_15min.json")
    tariff = tariff_from_price_attributes(attributes, WAW)
    assert len(tariff.forecast) == 192
    assert all(s.duration == QUARTER for s in tariff.forecast)
    assert tariff.first_start == local(2025, 11, 12)
    assert tariff.last_end == local(2025, 11, 14)
    # ``prices`` repeats today and tomorrow: de-duplicated, not doubled.
    only_split = {k: v for k, v in attributes.items() if k != "prices"}
    assert tariff_from_price_attributes(only_split, WAW).forecast == tariff.forecast


def _nordpool_row(start: datetime, end: datetime, value: Any) -> dict[str, Any]:
    return {"start": start.isoformat(), "end": end.isoformat(), "value": value}


def test_nordpool_nulls_make_gaps() -> None:
    attributes = load_json_fixture("nordpool_hourly.json")
    attributes["raw_tomorrow"][5]["value"] = None
    tariff = tariff_from_price_attributes(attributes, WAW)
    assert len(tariff.forecast) == 24 + 22
    gap = local(2025, 3, 30, 6)
    assert tariff.coverage_end(local(2025, 3, 29, 17)) == gap
    with pytest.raises(TariffUnavailableError, match="T06:00:00"):
        tariff.slots(local(2025, 3, 30, 5), local(2025, 3, 30, 8))
    # Tomorrow all null (as before publication in some versions): today only.
    attributes["raw_tomorrow"] = [
        dict(row, value=None) for row in attributes["raw_tomorrow"]
    ]
    assert tariff_from_price_attributes(attributes, WAW).last_end == local(2025, 3, 30)


def test_entsoe_null_keeps_its_boundary() -> None:
    attributes = load_json_fixture("entsoe_15min.json")
    del attributes["prices"]
    attributes["prices_today"][41]["price"] = None  # 10:15
    tariff = tariff_from_price_attributes(attributes, WAW)
    assert len(tariff.forecast) == 191
    assert tariff.coverage_end(local(2025, 11, 12, 9)) == local(2025, 11, 12, 10, 15)
    assert tariff.coverage_end(local(2025, 11, 12, 10, 30)) == local(2025, 11, 14)


def test_entsoe_slot_length_inference() -> None:
    rows = [
        {"time": "2025-05-14 03:00:00+02:00", "price": 0.3},  # unsorted input
        {"time": "2025-05-14 00:00:00+02:00", "price": 0.1},
        {"time": "2025-05-14 01:00:00+02:00", "price": 0.2},
        {"time": "2025-05-14 04:00:00+02:00", "price": 0.4},
        {"time": "2025-05-14 04:15:00+02:00", "price": 0.5},
    ]
    tariff = tariff_from_price_attributes({"prices_today": rows}, WAW)
    assert [
        (s.start.astimezone(WAW).strftime("%H:%M"), s.duration) for s in tariff.forecast
    ] == [
        ("00:00", HOUR),
        ("01:00", HOUR),  # 2 h to the next time: a hole, keeps the last step
        ("03:00", HOUR),
        ("04:00", QUARTER),
        ("04:15", QUARTER),  # the last entry keeps the last step
    ]
    single = tariff_from_price_attributes({"prices_today": rows[:1]}, WAW)
    assert single.forecast[0].duration == HOUR


def test_malformed_entries_are_skipped() -> None:
    start = local(2025, 5, 14, 0)
    rows: list[Any] = [
        "not a dict",
        {"start": "yesterday", "end": "today", "value": 1.0},
        {"start": 12, "end": None, "value": 1.0},
        {
            "start": start.isoformat(),
            "end": start.isoformat(),
            "value": 0.1,
        },  # end inferred
        _nordpool_row(start + HOUR, start + 2 * HOUR, "0.2"),  # numeric string
        _nordpool_row(start + 2 * HOUR, start + 3 * HOUR, True),
        _nordpool_row(start + 3 * HOUR, start + 4 * HOUR, "n/a"),
        _nordpool_row(start + 4 * HOUR, start + 5 * HOUR, "nan"),
        _nordpool_row(start + 5 * HOUR, start + 6 * HOUR, [1]),
    ]
    tariff = tariff_from_price_attributes(
        {"raw_today": rows, "raw_tomorrow": None}, WAW
    )
    assert [(s.price, s.duration) for s in tariff.forecast] == [
        (0.1, HOUR),
        (0.2, HOUR),
    ]


def test_datetime_objects_and_naive_times() -> None:
    """HA keeps attributes as Python objects; naive times are local."""
    attributes = {
        "raw_today": [
            {
                "start": datetime(2025, 5, 14, 22),  # noqa: DTZ001
                "end": datetime(2025, 5, 14, 23),  # noqa: DTZ001
                "value": 0.5,
            },
        ],
        "prices_today": [{"time": local(2025, 5, 14, 23), "price": 0.4}],
    }
    tariff = tariff_from_price_attributes(attributes, WAW)
    assert [(s.start, s.price) for s in tariff.forecast] == [
        (local(2025, 5, 14, 22), 0.5),
        (local(2025, 5, 14, 23), 0.4),
    ]


def test_first_source_wins_and_nulls_yield() -> None:
    start = local(2025, 5, 14, 0)
    attributes = {
        "raw_today": [
            _nordpool_row(start, start + HOUR, None),
            _nordpool_row(start + HOUR, start + 2 * HOUR, 0.2),
        ],
        "prices_today": [
            {"time": str(start), "price": 0.7},
            {"time": str(start + HOUR), "price": 0.8},
        ],
    }
    tariff = tariff_from_price_attributes(attributes, WAW)
    assert [s.price for s in tariff.forecast] == [0.7, 0.2]


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"raw_today": [], "raw_tomorrow": []},
        {"raw_today": "0.5"},
        {"prices_today": [{"time": "2025-05-14 00:00:00+02:00", "price": None}]},
        {"friendly_name": "Electricity price", "unit_of_measurement": "PLN/kWh"},
    ],
)
def test_no_usable_prices(attributes: dict[str, Any]) -> None:
    with pytest.raises(TariffUnavailableError, match="no usable forecast"):
        tariff_from_price_attributes(copy.deepcopy(attributes), WAW)


# --- a named attribute with a generic list ----------------------------------------


def test_named_attribute_start_end_price() -> None:
    items: list[dict[str, Any]] = [
        {
            "start": "2026-12-03T00:00:00+01:00",
            "end": "2026-12-03T00:15:00+01:00",
            "price": 0.41,
        },
        {
            "start": "2026-12-03T00:15:00+01:00",
            "end": "2026-12-03T00:30:00+01:00",
            "price": "0.39",
        },
    ]
    tariff = tariff_from_price_attributes(
        # raw_today would win without the name; with it, only "forecast" counts.
        {
            "forecast": items,
            "raw_today": [
                {"start": items[0]["start"], "end": items[0]["end"], "value": 9.0}
            ],
        },
        WAW,
        "forecast",
    )
    assert simple(tariff.slots(local(2026, 12, 3), local(2026, 12, 3, 0, 30))) == [
        ("2026-12-03T00:00:00+01:00", "2026-12-03T00:15:00+01:00", 0.41),
        ("2026-12-03T00:15:00+01:00", "2026-12-03T00:30:00+01:00", 0.39),
    ]


def test_named_attribute_time_price_and_value() -> None:
    """``time`` items last until the next one; ``value`` stands for ``price``."""
    items = [
        {"time": "2026-12-03T22:00:00+01:00", "price": 0.30},
        {"time": "2026-12-03T23:00:00+01:00", "value": 0.20},
        {"time": "2026-12-04T00:00:00+01:00", "price": 0.25},
    ]
    tariff = tariff_from_price_attributes({"prices": items}, WAW, "prices")
    assert simple(tariff.slots(local(2026, 12, 3, 22), local(2026, 12, 4, 1))) == [
        ("2026-12-03T22:00:00+01:00", "2026-12-03T23:00:00+01:00", 0.30),
        ("2026-12-03T23:00:00+01:00", "2026-12-04T00:00:00+01:00", 0.20),
        ("2026-12-04T00:00:00+01:00", "2026-12-04T01:00:00+01:00", 0.25),
    ]


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"forecast": None},
        {"forecast": "0.41"},
        {"forecast": [{"from": "2026-12-03T00:00:00+01:00", "price": 0.4}]},
        {"forecast": [{"start": "2026-12-03T00:00:00+01:00", "cost": 0.4}]},
        # The known shapes are not read when another attribute is named.
        {
            "raw_today": [
                {
                    "start": "2026-12-03T00:00:00+01:00",
                    "end": "2026-12-03T01:00:00+01:00",
                    "value": 0.4,
                }
            ]
        },
    ],
)
def test_named_attribute_without_usable_prices(attributes: dict[str, Any]) -> None:
    with pytest.raises(TariffUnavailableError, match="'forecast'"):
        tariff_from_price_attributes(attributes, WAW, "forecast")
