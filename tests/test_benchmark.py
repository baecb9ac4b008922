"""The reference-week benchmark, one day of it: invariants, never timings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.reference_week import BASELINE, STRATEGIES, measure, summary, write

KEYS = {
    "usd_per_day",
    "usd_per_day_state_free",
    "state_requests_per_day",
    "vehicle_data_per_day",
    "wakes_per_day",
    "commands_per_day",
    "awake_hours_caused_per_day",
    "arrivals_total",
    "arrivals_detected",
    "arrival_latency_min_median",
    "arrival_latency_min_max",
    "kwh_outside_offpeak",
}


@pytest.mark.usefixtures("socket_enabled")
async def test_one_day_of_the_reference_week(tmp_path: Path) -> None:
    """Monday and Tuesday: to work and back twice, one errand (three arrivals)."""
    baseline = await measure(BASELINE, days=2, seed=1)
    runs = {key: await measure(key, days=2, seed=1) for key in STRATEGIES}
    rows = {key: summary(run) for key, run in runs.items()}

    # The default policy never wakes the car and sees every arrival.
    for key in ("C", "D", "D_presence"):
        assert runs[key].wakes == 0, key
        assert rows[key]["arrivals_detected"] == rows[key]["arrivals_total"] == 3, key
    # The naive strategy wakes; the baseline sent nothing at all.
    assert runs["A"].wakes > 0
    assert baseline.vehicle_data == baseline.state_requests == 0
    # Awake time caused: none without requests, none by reads at the moment of
    # arrival, a lot by waking; never more than the time awake.
    assert baseline.awake_hours_caused == runs["E"].awake_hours_caused == 0
    assert runs["A"].awake_hours_caused > 1
    for run in runs.values():
        assert 0 <= run.awake_hours_caused <= run.awake_hours
    # The oracle reads once per true arrival and nothing else.
    assert runs["E"].vehicle_data == runs["E"].arrivals_total == 3
    assert runs["E"].state_requests == 0

    # The counts add up: per-day figures are the totals over the days.
    for key, run in runs.items():
        row = rows[key]
        assert set(row) == KEYS
        assert row["vehicle_data_per_day"] * run.days == pytest.approx(
            run.vehicle_data, abs=0.01
        )
        assert row["state_requests_per_day"] * run.days == pytest.approx(
            run.state_requests, abs=0.01
        )
        billed = run.state_requests + run.vehicle_data
        assert run.usd == pytest.approx(
            billed / 500 + run.wakes / 50 + run.commands / 1000
        )
        assert run.usd_state_free == pytest.approx(
            run.vehicle_data / 500 + run.wakes / 50 + run.commands / 1000
        )
        assert len(run.latencies_s) <= run.arrivals_total

    report = {
        "scenario": {"days": 2},
        "strategies": rows,
        "ratios": {"vehicle_data": {}, "usd_state_free": {}},
        "scale": [],
    }
    write(report, tmp_path)
    assert json.loads((tmp_path / "reference_week.json").read_text()) == report
    assert (tmp_path / "reference_week.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| D |" in (tmp_path / "reference_week.md").read_text()
