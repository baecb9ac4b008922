"""The core Nord Pool integration's prices: ``nordpool.get_prices_for_date`` answers.

The fixture is the action's answer shape for area PL, a winter weekday in 15-minute
slots, prices in PLN per MWh.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.tesla_scout_worker.domain.tariffs import (
    TariffUnavailableError,
    tariff_from_nordpool_action,
)

from . import load_json_fixture

TZ = ZoneInfo("Europe/Warsaw")
DAY_START = datetime(2026, 12, 3, 0, 0, tzinfo=TZ)  # the fixture's delivery day


def shifted(answer: dict[str, Any], days: int) -> dict[str, Any]:
    """The same answer for another delivery day."""
    moved = copy.deepcopy(answer)
    for entry in moved["PL"]:
        for key in ("start", "end"):
            entry[key] = (
                datetime.fromisoformat(entry[key]) + timedelta(days=days)
            ).isoformat()
    return moved


def test_one_day_in_quarter_hours_per_kwh() -> None:
    answer = load_json_fixture("nordpool_core_action_15min.json")
    tariff = tariff_from_nordpool_action([answer], "PL", TZ)

    slots = tariff.slots(DAY_START, DAY_START + timedelta(days=1))
    assert len(slots) == 96
    assert all(s.end - s.start == timedelta(minutes=15) for s in slots)
    assert slots[0].start == DAY_START.astimezone(UTC)
    # Per MWh in the answer, per kWh in the tariff.
    assert slots[0].price == pytest.approx(answer["PL"][0]["price"] / 1000)
    assert tariff.coverage_end(DAY_START) == (DAY_START + timedelta(days=1)).astimezone(
        UTC
    )
    # The night is cheap, the evening peak dear.
    night = tariff.slots(DAY_START + timedelta(hours=1), DAY_START + timedelta(hours=2))
    evening = tariff.slots(
        DAY_START + timedelta(hours=18), DAY_START + timedelta(hours=19)
    )
    assert max(s.price for s in night) * 1.5 < min(s.price for s in evening)


def test_today_and_tomorrow_in_any_order_make_one_forecast() -> None:
    today = load_json_fixture("nordpool_core_action_15min.json")
    tomorrow = shifted(today, 1)
    tariff = tariff_from_nordpool_action([tomorrow, today], "PL", TZ)

    slots = tariff.slots(DAY_START, DAY_START + timedelta(days=2))
    assert len(slots) == 192
    assert [s.start for s in slots] == sorted(s.start for s in slots)
    assert tariff.coverage_end(DAY_START) == (DAY_START + timedelta(days=2)).astimezone(
        UTC
    )


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([], id="no-answer"),
        pytest.param(
            [{"SE3": [{"start": "x", "end": "y", "price": 1}]}], id="other-area"
        ),
        pytest.param([{"PL": []}], id="empty-day"),
        pytest.param([{"PL": "soon"}], id="not-a-list"),
        pytest.param(["PL"], id="not-an-object"),
        pytest.param(
            [{"PL": [{"start": "2026-12-03T00:00:00+01:00", "price": None}]}],
            id="null-price",
        ),
    ],
)
def test_no_usable_price_is_no_tariff(answers: list[Any]) -> None:
    with pytest.raises(TariffUnavailableError, match="area PL"):
        tariff_from_nordpool_action(answers, "PL", TZ)


def test_malformed_entries_are_skipped_not_guessed() -> None:
    answer = load_json_fixture("nordpool_core_action_15min.json")
    answer["PL"][5] = {"start": "yesterday", "end": None, "price": "lots"}
    answer["PL"][6]["price"] = float("nan")
    tariff = tariff_from_nordpool_action([answer], "PL", TZ)

    starts = {s.start for s in tariff.forecast}
    assert len(starts) == 94
    assert datetime.fromisoformat(answer["PL"][6]["start"]) not in starts
    # A hole is not filled in: that quarter hour has no price.
    hole = datetime.fromisoformat(answer["PL"][6]["start"])
    with pytest.raises(TariffUnavailableError, match="no price"):
        tariff.slots(hole, hole + timedelta(minutes=15))
