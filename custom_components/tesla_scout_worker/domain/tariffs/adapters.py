"""Other integrations' prices, read into a forecast: one place for all.

Price sensors of Nord Pool (custom, ``raw_today``/``raw_tomorrow``) and ENTSO-e
(``prices_today``/``prices_tomorrow``), hourly or 15-minute; any sensor with a
list of ``{start, end, price}`` or ``{time, price}`` in an attribute the user
names; and the answer of the core Nord Pool integration's
``nordpool.get_prices_for_date`` action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, datetime
import math
from typing import Any, Final
from zoneinfo import ZoneInfo

from .base import (
    _DEFAULT_INFERRED_SLOT,
    _MAX_INFERRED_SLOT,
    PriceSlot,
    TariffUnavailableError,
)
from .forecast import PriceForecastTariff

_NORDPOOL_KEYS: Final = ("raw_today", "raw_tomorrow")
_ENTSOE_KEYS: Final = ("prices_today", "prices_tomorrow", "prices")
FORECAST_ATTRIBUTES: Final = (*_NORDPOOL_KEYS, *_ENTSOE_KEYS)
"""The attributes that hold a forecast (a change there is worth a new plan)."""


def _parse_moment(value: Any, tz: ZoneInfo) -> datetime | None:
    """Parse an ISO string or datetime; naive values are local to ``tz``."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    try:
        moment = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    # Year 1 or 9999: no price of this world, and any shift to a local time
    # (the planner's) could overflow.
    return None if moment.year in (MINYEAR, MAXYEAR) else moment


def _parse_price(value: Any) -> float | None:
    """Return a finite float price, or ``None`` for null or junk."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        price = float(value)
    except (TypeError, ValueError):
        return None
    return price if math.isfinite(price) else None


@dataclass(frozen=True)
class _Entry:
    """One forecast entry before its end is known."""

    start: datetime
    end: datetime | None
    price: float | None


def _first(item: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` that ``item`` has."""
    return next((item[key] for key in keys if key in item), None)


def _entries(
    items: Any,
    tz: ZoneInfo,
    start_key: str | tuple[str, ...],
    end_key: str | None,
    price_key: str | tuple[str, ...],
) -> list[_Entry]:
    """Read one attribute list into entries, skipping malformed items.

    A key given as a tuple takes the first of those names an item has.
    """
    if not isinstance(items, Sequence) or isinstance(items, str):
        return []
    starts = (start_key,) if isinstance(start_key, str) else start_key
    prices = (price_key,) if isinstance(price_key, str) else price_key
    entries: list[_Entry] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        start = _parse_moment(_first(item, starts), tz)
        if start is None:
            continue
        end = _parse_moment(item.get(end_key), tz) if end_key else None
        if end is not None and end < start:
            continue  # Ends before it starts: which of the two is wrong?
        if end == start:
            end = None  # A point in time: the slot length is inferred.
        entries.append(_Entry(start, end, _parse_price(_first(item, prices))))
    return entries


def _to_slots(entries: list[_Entry]) -> list[PriceSlot]:
    """Give every priced entry an end and turn it into a slot.

    A missing end is the next entry's start when that is at most an hour away
    (the slot length follows the data: 15 or 60 minutes, DST-safe since all
    times are UTC); otherwise, and for the last entry, the last seen step.
    Entries with null prices still mark boundaries but yield no slot.
    """
    by_start: dict[datetime, _Entry] = {}
    for entry in entries:
        known = by_start.get(entry.start)
        if known is None or (known.price is None and entry.price is not None):
            by_start[entry.start] = entry
    ordered = sorted(by_start.values(), key=lambda e: e.start)
    slots: list[PriceSlot] = []
    step = _DEFAULT_INFERRED_SLOT
    for index, entry in enumerate(ordered):
        end = entry.end
        if end is not None:
            step = end - entry.start
        else:
            following = ordered[index + 1].start if index + 1 < len(ordered) else None
            if following is not None and following - entry.start <= _MAX_INFERRED_SLOT:
                end = following
                step = following - entry.start
            else:
                try:
                    end = entry.start + step
                except OverflowError:
                    continue  # At the end of time: nothing to charge in.
        if entry.price is not None:
            slots.append(PriceSlot(start=entry.start, end=end, price=entry.price))
    return slots


GENERIC_START_KEYS: Final = ("start", "time")
GENERIC_PRICE_KEYS: Final = ("price", "value")


def tariff_from_price_attributes(
    attributes: Mapping[str, Any], tz: ZoneInfo, attribute: str | None = None
) -> PriceForecastTariff:
    """Build a forecast tariff from a price sensor's state attributes.

    With ``attribute`` named, only that attribute is read: a list of
    ``{"start", "end", "price"}`` or ``{"time", "price"}`` items (``value``
    for ``price`` works too; without an end the slot lasts until the next
    item), the shape of many template sensors and other price integrations.

    Otherwise the understood shapes are (hourly or 15-minute; both may be
    present):

    * Nord Pool custom integration: ``raw_today`` / ``raw_tomorrow``, lists of
      ``{"start", "end", "value"}``; ``raw_tomorrow`` is empty or missing until
      the next day's prices are published (about 13:00 CET);
    * ENTSO-e custom integration: ``prices_today`` / ``prices_tomorrow`` (and
      ``prices``), lists of ``{"time", "price"}``; slot lengths are inferred
      from consecutive times.

    Times may be ISO strings or datetimes; naive ones are taken as local to
    ``tz``. Null prices and malformed entries are skipped. Prices keep the
    sensor's unit (e.g. PLN/kWh or EUR/kWh). Raise
    :class:`TariffUnavailableError` when no usable price is present.
    """
    entries: list[_Entry] = []
    if attribute:
        entries = _entries(
            attributes.get(attribute),
            tz,
            GENERIC_START_KEYS,
            "end",
            GENERIC_PRICE_KEYS,
        )
        if not (slots := _to_slots(entries)):
            raise TariffUnavailableError(
                f"the price sensor's attribute {attribute!r} holds no usable "
                "list of {start, end, price} or {time, price}"
            )
        return PriceForecastTariff(tuple(slots))
    for key in _NORDPOOL_KEYS:
        entries += _entries(attributes.get(key), tz, "start", "end", "value")
    for key in _ENTSOE_KEYS:
        entries += _entries(attributes.get(key), tz, "time", None, "price")
    slots = _to_slots(entries)
    if not slots:
        raise TariffUnavailableError(
            "the price sensor has no usable forecast (expected Nord Pool "
            "raw_today/raw_tomorrow or ENTSO-e prices_today/prices_tomorrow)"
        )
    return PriceForecastTariff(tuple(slots))


MWH_PER_KWH: Final = 1000.0


def tariff_from_nordpool_action(
    responses: Sequence[Mapping[str, Any]], area: str, tz: ZoneInfo
) -> PriceForecastTariff:
    """Build a forecast tariff from answers of ``nordpool.get_prices_for_date``.

    The core Nord Pool integration (Home Assistant 2024.12+) exposes its prices
    only through that action: one answer per delivery day, shaped
    ``{"PL": [{"start": iso, "end": iso, "price": per MWh}, …]}`` (15-minute
    slots since October 2025). ``responses`` are the answers for today and
    tomorrow, in any order; prices are turned into the currency per kWh. Raise
    :class:`TariffUnavailableError` when ``area`` has no usable price.
    """
    entries: list[_Entry] = []
    for response in responses:
        items = response.get(area) if isinstance(response, Mapping) else None
        for entry in _entries(items, tz, "start", "end", "price"):
            price = None if entry.price is None else entry.price / MWH_PER_KWH
            entries.append(_Entry(entry.start, entry.end, price))
    entries.sort(key=lambda entry: entry.start)
    slots = _to_slots(entries)
    if not slots:
        raise TariffUnavailableError(
            f"the Nord Pool integration gave no usable prices for area {area}"
        )
    return PriceForecastTariff(tuple(slots))
