"""Tests for request accounting and Tesla's prices."""

from __future__ import annotations

import pytest

from custom_components.tesla_scout_worker.fleet import (
    RequestCategory,
    UsageTotals,
    is_billable,
)
from custom_components.tesla_scout_worker.fleet.transport import parse_retry_after


@pytest.mark.parametrize(
    ("status", "billable"),
    [
        (200, True),
        (401, True),
        (408, True),
        (429, True),
        (499, True),
        (500, False),
        (503, False),
        (None, False),
    ],
)
def test_tesla_bills_everything_below_500(status: int | None, billable: bool) -> None:
    assert is_billable(status) is billable


def test_usage_totals_prices() -> None:
    totals = UsageTotals()
    for _ in range(500):
        totals.add(RequestCategory.DATA, 200)
    for _ in range(250):
        totals.add(RequestCategory.STATE, 200)
    for _ in range(1000):
        totals.add(RequestCategory.COMMAND, 200)
    totals.add(RequestCategory.WAKE, 200)
    totals.add(RequestCategory.DATA, 503)
    totals.add(RequestCategory.AUTH, 200)

    assert totals.total == 1752
    assert totals.requests[RequestCategory.DATA] == 501
    assert totals.billable[RequestCategory.DATA] == 500
    assert RequestCategory.AUTH not in totals.requests
    assert totals.cost_usd() == pytest.approx(1 + 0.5 + 1 + 0.02)
    assert totals.cost_usd(state_checks_free=True) == pytest.approx(1 + 1 + 0.02)


def test_usage_totals_round_trip_and_bad_data() -> None:
    totals = UsageTotals()
    totals.add(RequestCategory.WAKE, 200)
    totals.add(RequestCategory.STATE, None)
    assert UsageTotals.from_dict(totals.as_dict()) == totals
    restored = UsageTotals.from_dict(
        {
            "requests": {"data": 3, "bogus": 1, "wake": "2", "command": True},
            "billable": [],
        }
    )
    assert restored.requests == {RequestCategory.DATA: 3}
    assert restored.billable == {}
    assert UsageTotals.from_dict({}) == UsageTotals()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("42", 42.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=60.0) == seconds
