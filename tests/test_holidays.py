"""Tests for the Polish public holidays and their off-peak pricing in G12w."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.tesla_scout_worker.domain.tariffs import (
    DEFAULT_PRICES,
    FixedWindowTariff,
    PriceSlot,
    TariffUnavailableError,
    easter_sunday,
    is_polish_public_holiday,
    parse_windows,
    polish_public_holiday_name,
    polish_public_holidays,
    preset_tariff,
)
from custom_components.tesla_scout_worker.domain.tariffs.holidays import (
    CHRISTMAS_EVE_FROM,
    EPIPHANY_FROM,
    FIRST_YEAR,
)

# Hypothesis's own check of its global PRNG misfires on Python 3.14 (gc changes).
pytestmark = pytest.mark.filterwarnings(
    "ignore:It looks like `register_random` was passed"
    ":hypothesis.errors.HypothesisWarning"
)

WAW = ZoneInfo("Europe/Warsaw")
MINUTE = timedelta(minutes=1)
PEAK, OFFPEAK = DEFAULT_PRICES["G12w"]
G12_PEAK, G12_OFFPEAK = DEFAULT_PRICES["G12"]
G12W = preset_tariff("G12w", WAW)
G12 = preset_tariff("G12", WAW)
# No hypothesis database in the shared checkout; no deadline on slow CI.
SETTINGS = settings(
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Warsaw."""
    return datetime(year, month, day, hour, minute, tzinfo=WAW)


def price_at(tariff: FixedWindowTariff, moment: datetime) -> float:
    """The price of the minute starting at ``moment``."""
    (slot,) = tariff.slots(moment, moment + MINUTE)
    return slot.price


def simple(slots: list[PriceSlot]) -> list[tuple[str, str, float]]:
    """Slots as (start, end, price) with local ISO times."""
    return [(s.start.isoformat(), s.end.isoformat(), s.price) for s in slots]


# --- Easter ---------------------------------------------------------------------

KNOWN_EASTERS = [
    date(1583, 4, 10),
    date(1818, 3, 22),
    date(1886, 4, 25),
    date(1943, 4, 25),
    date(1961, 4, 2),
    date(1990, 4, 15),
    date(2000, 4, 23),
    date(2008, 3, 23),
    date(2010, 4, 4),
    date(2011, 4, 24),
    date(2013, 3, 31),
    date(2016, 3, 27),
    date(2018, 4, 1),
    date(2019, 4, 21),
    date(2020, 4, 12),
    date(2021, 4, 4),
    date(2022, 4, 17),
    date(2023, 4, 9),
    date(2024, 3, 31),
    date(2025, 4, 20),
    date(2026, 4, 5),
    date(2027, 3, 28),
    date(2028, 4, 16),
    date(2029, 4, 1),
    date(2030, 4, 21),
    date(2038, 4, 25),
    date(2285, 3, 22),
]


@pytest.mark.parametrize("easter", KNOWN_EASTERS, ids=lambda d: str(d.year))
def test_easter_sunday_known_dates(easter: date) -> None:
    assert easter_sunday(easter.year) == easter
    assert easter.weekday() == 6


def test_easter_sunday_matches_dateutil() -> None:
    """An independent implementation agrees on every year it supports."""
    dateutil_easter = pytest.importorskip("dateutil.easter")
    for year in range(1583, 4100):
        assert easter_sunday(year) == dateutil_easter.easter(year), year


@SETTINGS
@given(st.integers(min_value=1583, max_value=9999))
def test_easter_is_a_sunday_between_22_march_and_25_april(year: int) -> None:
    easter = easter_sunday(year)
    assert easter.year == year
    assert easter.weekday() == 6
    assert date(year, 3, 22) <= easter <= date(year, 4, 25)


@pytest.mark.parametrize("year", [1582, 0, -5, 10_000])
def test_easter_outside_the_gregorian_range(year: int) -> None:
    with pytest.raises(ValueError, match="Gregorian Easter"):
        easter_sunday(year)


# --- the holiday list -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pentecost", "corpus_christi"),
    [
        (date(1990, 6, 3), date(1990, 6, 14)),
        (date(2011, 6, 12), date(2011, 6, 23)),
        (date(2019, 6, 9), date(2019, 6, 20)),
        (date(2024, 5, 19), date(2024, 5, 30)),
        (date(2025, 6, 8), date(2025, 6, 19)),
        (date(2026, 5, 24), date(2026, 6, 4)),
        (date(2027, 5, 16), date(2027, 5, 27)),
        (date(2038, 6, 13), date(2038, 6, 24)),
    ],
    ids=lambda d: str(d),
)
def test_pentecost_and_corpus_christi(pentecost: date, corpus_christi: date) -> None:
    assert pentecost.weekday() == 6
    assert corpus_christi.weekday() == 3
    assert polish_public_holiday_name(pentecost) == "Zielone Świątki"
    assert polish_public_holiday_name(corpus_christi) == "Boże Ciało"
    holidays = polish_public_holidays(pentecost.year)
    assert {pentecost, corpus_christi} <= holidays


def test_full_list_for_2026() -> None:
    assert sorted(polish_public_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 4, 5),
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 5, 3),
        date(2026, 5, 24),
        date(2026, 6, 4),
        date(2026, 8, 15),
        date(2026, 11, 1),
        date(2026, 11, 11),
        date(2026, 12, 24),
        date(2026, 12, 25),
        date(2026, 12, 26),
    ]


def test_full_list_for_2024_has_no_christmas_eve() -> None:
    assert sorted(polish_public_holidays(2024)) == [
        date(2024, 1, 1),
        date(2024, 1, 6),
        date(2024, 3, 31),
        date(2024, 4, 1),
        date(2024, 5, 1),
        date(2024, 5, 3),
        date(2024, 5, 19),
        date(2024, 5, 30),
        date(2024, 8, 15),
        date(2024, 11, 1),
        date(2024, 11, 11),
        date(2024, 12, 25),
        date(2024, 12, 26),
    ]


def test_christmas_eve_only_from_2025() -> None:
    assert CHRISTMAS_EVE_FROM == 2025
    for year in range(FIRST_YEAR, 2120):
        eve = date(year, 12, 24)
        assert is_polish_public_holiday(eve) is (year >= 2025), year
    assert polish_public_holiday_name(date(2025, 12, 24)) == "Wigilia Bożego Narodzenia"
    assert polish_public_holiday_name(date(2024, 12, 24)) is None


def test_epiphany_only_from_2011() -> None:
    assert EPIPHANY_FROM == 2011
    for year in range(FIRST_YEAR, 2120):
        epiphany = date(year, 1, 6)
        assert is_polish_public_holiday(epiphany) is (year >= 2011), year
    assert polish_public_holiday_name(date(2011, 1, 6)) == "Święto Trzech Króli"


def test_holiday_counts_by_period() -> None:
    for year in range(FIRST_YEAR, 2200):
        expected = 12 + (year >= 2011) + (year >= 2025)
        assert len(polish_public_holidays(year)) == expected, year


def test_fixed_dates_every_year() -> None:
    fixed = [(1, 1), (5, 1), (5, 3), (8, 15), (11, 1), (11, 11), (12, 25), (12, 26)]
    for year in range(FIRST_YEAR, 2200):
        holidays = polish_public_holidays(year)
        assert {date(year, m, d) for m, d in fixed} <= holidays, year


@SETTINGS
@given(st.integers(min_value=FIRST_YEAR, max_value=9999))
def test_moveable_feasts_follow_easter(year: int) -> None:
    easter = easter_sunday(year)
    holidays = polish_public_holidays(year)
    moveable = {
        easter,
        easter + timedelta(days=1),
        easter + timedelta(days=49),
        easter + timedelta(days=60),
    }
    assert moveable <= holidays
    assert [d.weekday() for d in sorted(moveable)] == [6, 0, 6, 3]
    assert all(d.year == year for d in holidays)
    # No moveable feast ever lands on a fixed one (the count stays exact).
    assert len(holidays) == 12 + (year >= 2011) + (year >= 2025)


def test_ordinary_days_are_not_holidays() -> None:
    for day in (
        date(2026, 1, 2),
        date(2026, 4, 3),  # Good Friday is a working day in Poland
        date(2026, 4, 7),
        date(2026, 6, 5),  # the Friday after Corpus Christi
        date(2026, 11, 2),
        date(2026, 12, 31),
    ):
        assert not is_polish_public_holiday(day), day
        assert polish_public_holiday_name(day) is None


def test_years_before_1990_are_refused() -> None:
    assert FIRST_YEAR == 1990
    with pytest.raises(ValueError, match="from 1990"):
        polish_public_holidays(1989)
    with pytest.raises(ValueError, match="from 1990"):
        is_polish_public_holiday(date(1989, 12, 31))
    assert date(1990, 1, 1) in polish_public_holidays(1990)


# --- G12w prices ----------------------------------------------------------------


def test_g12w_corpus_christi_2026_is_off_peak_all_day() -> None:
    """Thursday 4 June 2026: off-peak from Wednesday 22:00 to Friday 06:00."""
    assert date(2026, 6, 4).weekday() == 3
    slots = G12W.slots(local(2026, 6, 3), local(2026, 6, 6))
    assert simple(slots) == [
        ("2026-06-03T00:00:00+02:00", "2026-06-03T06:00:00+02:00", OFFPEAK),
        ("2026-06-03T06:00:00+02:00", "2026-06-03T13:00:00+02:00", PEAK),
        ("2026-06-03T13:00:00+02:00", "2026-06-03T15:00:00+02:00", OFFPEAK),
        ("2026-06-03T15:00:00+02:00", "2026-06-03T22:00:00+02:00", PEAK),
        ("2026-06-03T22:00:00+02:00", "2026-06-05T06:00:00+02:00", OFFPEAK),
        ("2026-06-05T06:00:00+02:00", "2026-06-05T13:00:00+02:00", PEAK),
        ("2026-06-05T13:00:00+02:00", "2026-06-05T15:00:00+02:00", OFFPEAK),
        ("2026-06-05T15:00:00+02:00", "2026-06-05T22:00:00+02:00", PEAK),
        # Friday night runs into the weekend.
        ("2026-06-05T22:00:00+02:00", "2026-06-06T00:00:00+02:00", OFFPEAK),
    ]


@pytest.mark.parametrize(
    "holiday",
    [
        date(2026, 6, 4),  # Boże Ciało, Thursday
        date(2027, 5, 3),  # 3 Maja, Monday
        date(2024, 5, 3),  # 3 Maja, Friday
        date(2026, 11, 11),  # Niepodległości, Wednesday
        date(2026, 12, 24),  # Wigilia, Thursday
        date(2025, 12, 24),  # the first free Wigilia, Wednesday
        date(2026, 1, 6),  # Trzech Króli, Tuesday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 8, 15),  # Saturday: off-peak either way
    ],
    ids=str,
)
def test_g12w_weekday_holiday_off_peak_g12_not(holiday: date) -> None:
    start = datetime.combine(holiday, time(0), tzinfo=WAW)
    end = start + timedelta(days=1)
    (slot,) = G12W.slots(start, end)
    assert slot.price == OFFPEAK
    assert G12W.is_offpeak_day(holiday)
    # Plain G12 keeps its weekday shape on the same holiday.
    assert price_at(G12, start.replace(hour=12)) == G12_PEAK
    assert price_at(G12, start.replace(hour=13)) == G12_OFFPEAK
    assert not G12.is_offpeak_day(holiday)
    # The day after (a working weekday) is peak during the day again.
    after = holiday + timedelta(days=1)
    if after.weekday() < 5 and not is_polish_public_holiday(after):
        noon = datetime.combine(after, time(12), tzinfo=WAW)
        assert price_at(G12W, noon) == PEAK
        assert price_at(G12W, noon.replace(hour=5, minute=59)) == OFFPEAK
        assert price_at(G12W, noon.replace(hour=6)) == PEAK


def test_christmas_2026_runs_from_wednesday_night_to_monday_morning() -> None:
    """24–26 Dec 2026 (Thu–Sat) then Sunday: one off-peak block."""
    slots = G12W.slots(local(2026, 12, 23, 12), local(2026, 12, 28, 12))
    assert simple(slots) == [
        ("2026-12-23T12:00:00+01:00", "2026-12-23T13:00:00+01:00", PEAK),
        ("2026-12-23T13:00:00+01:00", "2026-12-23T15:00:00+01:00", OFFPEAK),
        ("2026-12-23T15:00:00+01:00", "2026-12-23T22:00:00+01:00", PEAK),
        ("2026-12-23T22:00:00+01:00", "2026-12-28T06:00:00+01:00", OFFPEAK),
        ("2026-12-28T06:00:00+01:00", "2026-12-28T12:00:00+01:00", PEAK),
    ]


def test_christmas_eve_2024_was_still_peak() -> None:
    assert price_at(G12W, local(2024, 12, 24, 12)) == PEAK
    assert price_at(G12W, local(2025, 12, 24, 12)) == OFFPEAK


def test_epiphany_2010_was_still_peak() -> None:
    assert price_at(G12W, local(2010, 1, 6, 12)) == PEAK
    assert price_at(G12W, local(2011, 1, 6, 12)) == OFFPEAK


def test_g11_ignores_holidays() -> None:
    g11 = preset_tariff("G11", WAW, extra_offpeak_dates=[date(2026, 11, 10)])
    assert not g11.holidays_offpeak
    assert g11.extra_offpeak_dates == frozenset()
    assert len(g11.slots(local(2026, 11, 9), local(2026, 11, 13))) == 1


def test_presets_flags() -> None:
    assert G12W.holidays_offpeak
    assert G12W.weekends_offpeak
    assert not G12.holidays_offpeak
    assert G12W.extra_offpeak_dates == frozenset()


# --- midnight edges and DST -------------------------------------------------------

HOLIDAYS_ONLY = FixedWindowTariff(WAW, (), 1.0, 0.5, holidays_offpeak=True)


def test_holiday_edges_at_local_midnight() -> None:
    """Without windows the holiday is exactly 00:00–24:00 local."""
    slots = HOLIDAYS_ONLY.slots(local(2026, 11, 10, 12), local(2026, 11, 12, 12))
    assert simple(slots) == [
        ("2026-11-10T12:00:00+01:00", "2026-11-11T00:00:00+01:00", 1.0),
        ("2026-11-11T00:00:00+01:00", "2026-11-12T00:00:00+01:00", 0.5),
        ("2026-11-12T00:00:00+01:00", "2026-11-12T12:00:00+01:00", 1.0),
    ]
    last_peak = local(2026, 11, 10, 23, 59)
    assert price_at(HOLIDAYS_ONLY, last_peak) == 1.0
    assert price_at(HOLIDAYS_ONLY, last_peak + MINUTE) == 0.5
    assert price_at(HOLIDAYS_ONLY, local(2026, 11, 11, 23, 59)) == 0.5
    assert price_at(HOLIDAYS_ONLY, local(2026, 11, 12)) == 1.0


def test_holiday_edges_in_utc_output() -> None:
    """Slots keep the caller's timezone; the edges are Warsaw midnights."""
    start = datetime(2026, 6, 3, 12, tzinfo=UTC)
    slots = HOLIDAYS_ONLY.slots(start, start + timedelta(days=2))
    assert simple(slots) == [
        ("2026-06-03T12:00:00+00:00", "2026-06-03T22:00:00+00:00", 1.0),
        ("2026-06-03T22:00:00+00:00", "2026-06-04T22:00:00+00:00", 0.5),
        ("2026-06-04T22:00:00+00:00", "2026-06-05T12:00:00+00:00", 1.0),
    ]


def test_easter_on_the_spring_dst_day() -> None:
    """Easter 2024 was 31 March, the 23-hour day: 47 real off-peak hours."""
    slots = HOLIDAYS_ONLY.slots(local(2024, 3, 30, 12), local(2024, 4, 2, 12))
    assert simple(slots) == [
        ("2024-03-30T12:00:00+01:00", "2024-03-31T00:00:00+01:00", 1.0),
        ("2024-03-31T00:00:00+01:00", "2024-04-02T00:00:00+02:00", 0.5),
        ("2024-04-02T00:00:00+02:00", "2024-04-02T12:00:00+02:00", 1.0),
    ]
    assert slots[1].duration == timedelta(hours=47)


def test_holiday_starting_the_period() -> None:
    """A period from New Year's midnight 1990 never asks about 1989."""
    (slot,) = HOLIDAYS_ONLY.slots(local(1990, 1, 1), local(1990, 1, 2))
    assert slot.price == 0.5
    assert price_at(G12W, local(1990, 1, 1, 12)) == OFFPEAK


def test_periods_before_1990_are_unavailable() -> None:
    with pytest.raises(TariffUnavailableError, match="from 1990"):
        G12W.slots(local(1989, 12, 29, 12), local(1990, 1, 1, 12))
    # A weekend day is off-peak whatever the holidays: no need to know them.
    assert price_at(G12W, local(1989, 12, 31, 12)) == OFFPEAK
    with pytest.raises(TariffUnavailableError, match="from 1990"):
        HOLIDAYS_ONLY.is_offpeak_day(date(1989, 5, 3))
    # Tariffs that do not price holidays still price any year.
    assert price_at(G12, local(1989, 5, 3, 12)) == G12_PEAK


# --- extra user dates -------------------------------------------------------------


def test_extra_user_date_is_off_peak() -> None:
    """12 Nov 2018 was a one-off day off (its own act): a user-listed date."""
    one_off = date(2018, 11, 12)
    assert one_off.weekday() == 0
    assert not is_polish_public_holiday(one_off)
    assert price_at(G12W, local(2018, 11, 12, 12)) == PEAK
    tariff = preset_tariff("g12w", WAW, extra_offpeak_dates={one_off})
    assert tariff.extra_offpeak_dates == frozenset({one_off})
    # Saturday 10th to Tuesday 13th 06:00: weekend, 11 Nov (Sunday), the 12th.
    slots = tariff.slots(local(2018, 11, 9, 12), local(2018, 11, 13, 12))
    assert simple(slots) == [
        ("2018-11-09T12:00:00+01:00", "2018-11-09T13:00:00+01:00", PEAK),
        ("2018-11-09T13:00:00+01:00", "2018-11-09T15:00:00+01:00", OFFPEAK),
        ("2018-11-09T15:00:00+01:00", "2018-11-09T22:00:00+01:00", PEAK),
        ("2018-11-09T22:00:00+01:00", "2018-11-13T06:00:00+01:00", OFFPEAK),
        ("2018-11-13T06:00:00+01:00", "2018-11-13T12:00:00+01:00", PEAK),
    ]
    # G12 has no whole off-peak days and ignores the list.
    g12 = preset_tariff("G12", WAW, extra_offpeak_dates={one_off})
    assert g12.extra_offpeak_dates == frozenset()
    assert price_at(g12, local(2018, 11, 12, 12)) == G12_PEAK


def test_extra_dates_on_a_custom_tariff() -> None:
    """Extra dates work without holidays or weekends; any iterable is frozen."""
    extra = date(2026, 7, 7)
    tariff = FixedWindowTariff(
        WAW,
        parse_windows("22:00-06:00"),
        1.0,
        0.5,
        extra_offpeak_dates=[extra],  # type: ignore[arg-type]
    )
    assert isinstance(tariff.extra_offpeak_dates, frozenset)
    assert tariff.is_offpeak_day(extra)
    assert not tariff.is_offpeak_day(date(2026, 6, 4))  # holidays not asked for
    assert price_at(tariff, local(2026, 6, 4, 12)) == 1.0
    slots = tariff.slots(local(2026, 7, 6, 12), local(2026, 7, 8, 12))
    assert simple(slots) == [
        ("2026-07-06T12:00:00+02:00", "2026-07-06T22:00:00+02:00", 1.0),
        ("2026-07-06T22:00:00+02:00", "2026-07-08T06:00:00+02:00", 0.5),
        ("2026-07-08T06:00:00+02:00", "2026-07-08T12:00:00+02:00", 1.0),
    ]
    # Equal tariffs compare and hash equal (the set is part of the value).
    same = FixedWindowTariff(
        WAW,
        parse_windows("22:00-06:00"),
        1.0,
        0.5,
        extra_offpeak_dates=frozenset({extra}),
    )
    assert same == tariff
    assert hash(same) == hash(tariff)


def test_extra_dates_must_be_dates() -> None:
    with pytest.raises(TypeError, match="must be dates"):
        FixedWindowTariff(
            WAW,
            (),
            1.0,
            0.5,
            extra_offpeak_dates=frozenset({datetime(2026, 7, 7, tzinfo=WAW)}),
        )
    with pytest.raises(TypeError, match="must be dates"):
        preset_tariff("G12w", WAW, extra_offpeak_dates=["2026-07-07"])  # type: ignore[list-item]


# --- properties across years ------------------------------------------------------


def test_every_holiday_is_off_peak_at_noon_1990_to_2100() -> None:
    """Exhaustive: each of the ~1,500 holidays, at local noon, in G12w."""
    checked = 0
    for year in range(1990, 2101):
        for holiday in polish_public_holidays(year):
            noon = datetime.combine(holiday, time(12), tzinfo=WAW)
            assert price_at(G12W, noon) == OFFPEAK, holiday
            checked += 1
    assert checked == 111 * 12 + 90 * 1 + 76 * 1


def _reference_g12w_price(moment: datetime) -> float:
    """G12w from the wall clock alone: weekend, holiday, or a G12 window."""
    wall = moment.astimezone(WAW)
    clock = wall.time()
    offpeak = (
        wall.weekday() >= 5
        or wall.date() in polish_public_holidays(wall.year)
        or time(13) <= clock < time(15)
        or clock >= time(22)
        or clock < time(6)
    )
    return OFFPEAK if offpeak else PEAK


@SETTINGS
@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    seconds=st.integers(min_value=0, max_value=86_399),
    length=st.integers(min_value=1, max_value=4 * 86_400),
)
def test_g12w_matches_the_wall_clock(day: date, seconds: int, length: int) -> None:
    """Every slot's price agrees with a wall-clock oracle at both its ends."""
    start = datetime.combine(day, time(0), tzinfo=WAW).astimezone(UTC) + timedelta(
        seconds=seconds
    )
    end = start + timedelta(seconds=length)
    slots = G12W.slots(start.astimezone(WAW), end.astimezone(WAW))
    # In UTC: an ambiguous local time never equals a time in another zone.
    assert slots[0].start.astimezone(UTC) == start
    assert slots[-1].end.astimezone(UTC) == end
    assert sum((s.duration for s in slots), timedelta()) == end - start
    for slot in slots:
        for probe in (slot.start, slot.end - timedelta(seconds=1)):
            assert slot.price == _reference_g12w_price(probe)


@SETTINGS
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_g12w_whole_days(day: date) -> None:
    """A weekday that is no holiday has peak hours; a holiday has none."""
    start = datetime.combine(day, time(0), tzinfo=WAW)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=WAW)
    prices = {s.price for s in G12W.slots(start, end)}
    whole = day.weekday() >= 5 or is_polish_public_holiday(day)
    assert G12W.is_offpeak_day(day) is whole
    assert prices == ({OFFPEAK} if whole else {OFFPEAK, PEAK})
