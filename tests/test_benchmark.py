"""The cost benchmark end to end against the simulator (behaviour, not timing)."""

from __future__ import annotations

import pytest

from benchmarks.scout_cost import fixed_interval, run, smart_policy


@pytest.mark.usefixtures("socket_enabled")
async def test_smart_scout_never_wakes_and_sees_every_arrival() -> None:
    fixed = await run("fixed", fixed_interval, 2)
    smart = await run("smart", smart_policy, 2)

    assert fixed.wakes == smart.wakes == 0
    assert len(smart.latencies_s) == len(fixed.latencies_s) == 2
    assert max(smart.latencies_s) < 120
    assert max(fixed.latencies_s) <= 15 * 60
    assert smart.state_checks < fixed.state_checks
    # The scout leaves the car asleep: awake time is the drives, the quarter
    # hour after each and the charging, never the whole day.
    assert smart.awake_hours - smart.driving_hours < 4
