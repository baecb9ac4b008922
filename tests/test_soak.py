"""The fault soak, short: four simulated days with faults of every kind, then none.

``scripts/soak`` runs the same soak for a simulated month and prints the figures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from simulator import FAULT_KINDS, FaultMix

from .soak import MIN_INTERVAL_S, run_soak

DAYS = int(os.environ.get("TSW_SOAK_DAYS", "4"))
FAULT_RATE = float(os.environ.get("TSW_SOAK_FAULT_RATE", "0.15"))
REPORT = os.environ.get("TSW_SOAK_REPORT")


@pytest.mark.usefixtures("socket_enabled")
async def test_soak_with_faults_of_every_kind(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    mix = FaultMix.uniform(FAULT_RATE, seed=int(os.environ.get("TSW_SOAK_SEED", "1")))
    report = await run_soak(hass, freezer, days=DAYS, mix=mix)
    print("\n".join(["", "fault soak:", *report.lines()]))  # noqa: T201
    if REPORT:
        Path(REPORT).write_text(json.dumps(report.as_dict(), indent=2) + "\n")

    # Every kind of fault was met.
    assert set(report.faults) == set(FAULT_KINDS)
    # Expected faults are handled: nothing unhandled, no ERROR log.
    assert report.errors_logged == []
    # No storm: the scout checks at most once a minute; the worker adds a
    # handful of requests per run and runs at most once per cooldown.
    assert report.requests_max_per_hour <= 3600 / MIN_INTERVAL_S * 2
    assert report.retry_after_violations == 0
    # Entities recover once the faults stop; no token is lost.
    assert report.unavailable_after_recovery == []
    assert report.tokens_lost == 0
    # The scout never wakes the car; a worker run wakes it at most once.
    assert report.max_wakes_per_worker_run <= 1
    # The bearer token never followed a 421 to a foreign host.
    assert len(report.base_urls_used) == 1
    assert report.refreshes >= DAYS * 24 / 8 - 1
