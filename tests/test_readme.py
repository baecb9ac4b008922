"""The README's worked examples are what the planner says today."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from custom_components.tesla_scout_worker.domain.plan import PlanRequest
from custom_components.tesla_scout_worker.domain.planner import plan_charging
from custom_components.tesla_scout_worker.domain.tariffs import (
    preset_tariff,
    tariff_from_nordpool_action,
)

from . import load_json_fixture
from .test_nordpool_core import shifted

TZ = ZoneInfo("Europe/Warsaw")
README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def quoted(text: str) -> str:
    """How the README quotes a plan's explanation."""
    return f"> {text}\n"


def test_the_g12_worked_example() -> None:
    plan = plan_charging(
        PlanRequest(
            now=datetime(2026, 12, 2, 17, 0, tzinfo=TZ),
            battery_level=40,
            target_level=80,
            capacity_kwh=75,
            charger_power_kw=11,
            departure=datetime(2026, 12, 3, 7, 0, tzinfo=TZ),
        ),
        preset_tariff("G12", TZ),
    )
    assert plan.start is not None
    assert plan.end is not None
    # The car's schedule ends at the next whole minute.
    end = plan.end + timedelta(seconds=59, microseconds=999_999)
    window = f"**{plan.start:%H:%M}–{end:%H:%M}**"
    assert f"schedule for {window} (off-peak): **{plan.cost:.2f} PLN**" in README
    assert plan.saving is not None
    assert f"{plan.saving:.2f} PLN saved" in README


@pytest.mark.parametrize(
    ("max_windows", "min_split_saving", "reason"),
    [(1, 1.0, "cheapest_window"), (3, 0.25, "cheapest_windows"), (3, 1.0, None)],
)
def test_the_15_minute_price_day(
    max_windows: int, min_split_saving: float, reason: str | None
) -> None:
    day_ahead = load_json_fixture("nordpool_core_action_15min.json")
    tariff = tariff_from_nordpool_action([shifted(day_ahead, -1), day_ahead], "PL", TZ)
    request = PlanRequest(
        now=datetime(2026, 12, 2, 17, 0, tzinfo=TZ),
        battery_level=50,
        target_level=80,
        capacity_kwh=75,
        charger_power_kw=11,
        departure=datetime(2026, 12, 3, 7, 0, tzinfo=TZ),
    )
    plan = plan_charging(
        request, tariff, max_windows=max_windows, min_split_saving=min_split_saving
    )
    if reason is None:
        # The default threshold keeps the single window of the first example.
        assert plan == plan_charging(request, tariff)
        return
    assert plan.reason == reason
    assert quoted(plan.explanation) in README
    # The quarter-hour table shows the fixture's prices.
    quarters = tariff.slots(
        datetime(2026, 12, 3, 2, 0, tzinfo=TZ), datetime(2026, 12, 3, 3, 0, tzinfo=TZ)
    )
    row = " | ".join(f"{s.price:.3f}" for s in quarters).replace("0.344", "**0.344**")
    assert f"| 02 | {row} |" in README
