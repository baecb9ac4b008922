"""Polish public holidays, computed for any year from 1990 on (HA-free, pure).

Source: art. 1 pkt 1 of the *ustawa z dnia 18 stycznia 1951 r. o dniach
wolnych od pracy* (Dz.U. 1951 nr 4 poz. 28; consolidated text Dz.U. 2020
poz. 1920), as amended. Days free from work under it (Sundays aside, which
art. 1 pkt 2 adds as a class):

* 1 January — Nowy Rok;
* 6 January — Święto Trzech Króli, **from 2011** (added by art. 2 of the
  *ustawa z dnia 24 września 2010 r. o zmianie ustawy – Kodeks pracy oraz
  niektórych innych ustaw*, Dz.U. 2010 nr 224 poz. 1459, in force on
  1 January 2011);
* Easter Sunday and Easter Monday — pierwszy i drugi dzień Wielkiej Nocy;
* 1 May — Święto Państwowe;
* 3 May — Święto Narodowe Trzeciego Maja;
* Pentecost Sunday, Easter + 49 days — pierwszy dzień Zielonych Świątek;
* Corpus Christi, Easter + 60 days (a Thursday) — dzień Bożego Ciała;
* 15 August — Wniebowzięcie Najświętszej Maryi Panny;
* 1 November — Wszystkich Świętych;
* 11 November — Narodowe Święto Niepodległości;
* 24 December — Wigilia Bożego Narodzenia, **from 2025** (art. 1 pkt 1
  lit. ka, added by the *ustawa z dnia 6 grudnia 2024 r. o zmianie ustawy
  o dniach wolnych od pracy oraz niektórych innych ustaw*, in force on
  1 February 2025, so 24 December 2024 was still a working day);
* 25 and 26 December — pierwszy i drugi dzień Bożego Narodzenia.

The list has had this shape, apart from those two additions, since 1990
(3 May restored and 22 July dropped in April 1990; 15 August and 11 November
restored in 1989), so years before :data:`FIRST_YEAR` are refused rather than
answered wrongly. A one-off day off ordered under art. 1a (an epidemic) is not
predictable and is not modelled; pass such days as extra dates instead.

Easter is computed with the anonymous Gregorian algorithm (Meeus/Jones/
Butcher), which is exact for every Gregorian year.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Final

FIRST_YEAR: Final = 1990
"""The first year whose holidays :func:`polish_public_holidays` knows."""
EPIPHANY_FROM: Final = 2011
"""6 January (Trzech Króli) is a day free from work from this year on."""
CHRISTMAS_EVE_FROM: Final = 2025
"""24 December (Wigilia) is a day free from work from this year on."""

_FIRST_GREGORIAN_EASTER: Final = 1583
_PENTECOST: Final = timedelta(days=49)
_CORPUS_CHRISTI: Final = timedelta(days=60)
_ONE_DAY: Final = timedelta(days=1)


def easter_sunday(year: int) -> date:
    """Return Easter Sunday (Western, Gregorian) of ``year``.

    The anonymous Gregorian algorithm (Meeus, *Astronomical Algorithms*, after
    Jones 1876 and Butcher 1876). Raise ``ValueError`` before 1583, the first
    full Gregorian year, or past the last year :class:`datetime.date` holds.
    """
    if not _FIRST_GREGORIAN_EASTER <= year <= date.max.year:
        raise ValueError(
            f"Gregorian Easter is computed for {_FIRST_GREGORIAN_EASTER}–"
            f"{date.max.year}, not {year}"
        )
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def _named_holidays(year: int) -> MappingProxyType[date, str]:
    """The holidays of ``year`` by date, with their statutory names."""
    if not FIRST_YEAR <= year <= date.max.year:
        raise ValueError(
            f"Polish public holidays are known from {FIRST_YEAR} on, not {year}"
        )
    easter = easter_sunday(year)
    named: dict[date, str] = {
        date(year, 1, 1): "Nowy Rok",
        easter: "Wielkanoc",
        easter + _ONE_DAY: "Poniedziałek Wielkanocny",
        date(year, 5, 1): "Święto Państwowe",
        date(year, 5, 3): "Święto Narodowe Trzeciego Maja",
        easter + _PENTECOST: "Zielone Świątki",
        easter + _CORPUS_CHRISTI: "Boże Ciało",
        date(year, 8, 15): "Wniebowzięcie Najświętszej Maryi Panny",
        date(year, 11, 1): "Wszystkich Świętych",
        date(year, 11, 11): "Narodowe Święto Niepodległości",
        date(year, 12, 25): "Boże Narodzenie",
        date(year, 12, 26): "Drugi dzień Bożego Narodzenia",
    }
    if year >= EPIPHANY_FROM:
        named[date(year, 1, 6)] = "Święto Trzech Króli"
    if year >= CHRISTMAS_EVE_FROM:
        named[date(year, 12, 24)] = "Wigilia Bożego Narodzenia"
    return MappingProxyType(dict(sorted(named.items())))


@lru_cache(maxsize=256)
def polish_public_holidays(year: int) -> frozenset[date]:
    """Return the statutory days free from work in Poland in ``year``.

    Sundays as such are not included (only the holidays that are always a
    Sunday: Easter and Pentecost). 12 days up to 2010, 13 from 2011, 14 from
    2025. Raise ``ValueError`` for years before :data:`FIRST_YEAR`.
    """
    return frozenset(_named_holidays(year))


def polish_public_holiday_name(day: date) -> str | None:
    """Return the Polish name of the holiday on ``day``, or ``None``.

    Raise ``ValueError`` for years before :data:`FIRST_YEAR`.
    """
    return _named_holidays(day.year).get(day)


def is_polish_public_holiday(day: date) -> bool:
    """Tell whether ``day`` is a Polish statutory public holiday.

    Raise ``ValueError`` for years before :data:`FIRST_YEAR`.
    """
    return day in polish_public_holidays(day.year)
