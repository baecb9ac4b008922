"""What the scout costs: requests, dollars, awake hours and arrival latency.

Runs scouting strategies against the Fleet API simulator on a simulated clock
over a week of commuting (leave home 07:30, arrive home 17:00) and prints, per
strategy, the state checks and ``vehicle_data`` requests per day, wakes, the
estimated monthly bill, the hours the car was kept awake beyond its drives,
and how late arrival home was noticed.

    .venv/bin/python -m benchmarks.scout_cost [--days 7]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp.test_utils import TestServer

from custom_components.tesla_scout_worker.domain.tracker import (
    Home,
    VehicleTracker,
)
from custom_components.tesla_scout_worker.fleet import TeslaFleetClient
from simulator import (
    DEFAULT_VIN,
    HOME_WARSAW,
    Drive,
    FleetSimulator,
    ManualClock,
    commute,
    create_app,
)

TZ = ZoneInfo("Europe/Warsaw")
START = datetime(2026, 11, 30, 0, 0, tzinfo=TZ).timestamp()  # a Monday
SCOUT_PHASE_S = 7 * 60.0
"""The scout starts at 00:07, so its grid does not line up with the 17:00 arrival."""
FIFTEEN_MINUTES = 15 * 60.0
DAYS_PER_MONTH = 30.4


@dataclass
class Result:
    """One strategy's figures over the whole run."""

    name: str
    days: int
    state_checks: int
    data_requests: int
    wakes: int
    cost_usd: float
    cost_usd_state_free: float
    awake_hours: float
    driving_hours: float
    latencies_s: list[float]

    def row(self) -> str:
        per_day = self.days or 1
        latency = (
            f"{sum(self.latencies_s) / len(self.latencies_s) / 60:5.1f}"
            f" / {max(self.latencies_s) / 60:5.1f}"
            if self.latencies_s
            else "    — /     —"
        )
        return (
            f"{self.name:<22}{self.state_checks / per_day:8.1f}"
            f"{self.data_requests / per_day:8.1f}{self.wakes:6d}"
            f"{self.cost_usd / per_day * DAYS_PER_MONTH:9.2f}"
            f"{self.cost_usd_state_free / per_day * DAYS_PER_MONTH:9.2f}"
            f"{(self.awake_hours - self.driving_hours) / per_day:10.2f}"
            f"   {latency}   {len(self.latencies_s)}"
        )


def mean(values: list[float]) -> float:
    """The average, 0 for no values."""
    return sum(values) / len(values) if values else 0.0


type Strategy = Callable[[VehicleTracker, TeslaFleetClient, float], Awaitable[float]]


async def fixed_interval(
    tracker: VehicleTracker, client: TeslaFleetClient, now: float
) -> float:
    """The seed's scout: a cycle every 15 minutes (with the parked rule)."""
    await tracker.async_cycle(now)
    return FIFTEEN_MINUTES


async def smart_policy(
    tracker: VehicleTracker, client: TeslaFleetClient, now: float
) -> float:
    """This integration's scout: the policy picks the next interval."""
    await tracker.async_cycle(now)
    return tracker.next_interval(FIFTEEN_MINUTES, now)


async def smart_with_presence(
    tracker: VehicleTracker, client: TeslaFleetClient, now: float
) -> float:
    """The policy with a phone as presence entity (checks on its comings and goings)."""
    await tracker.async_cycle(now)
    return tracker.next_interval(FIFTEEN_MINUTES, now, presence_tracked=True)


async def naive_polling(
    tracker: VehicleTracker, client: TeslaFleetClient, now: float
) -> float:
    """What many integrations do: vehicle_data every 10 minutes while online."""
    for vehicle in await client.vehicles():
        if vehicle.is_online:
            data = await client.vehicle_data(
                vehicle.vin, ("charge_state", "drive_state", "location_data")
            )
            tracker.observe(vehicle.vin, data, now)
    return 10 * 60.0


async def run(
    name: str, strategy: Strategy, days: int, *, presence: bool = False
) -> Result:
    """Run one strategy over ``days`` days of commuting.

    With ``presence``, the phone's arrival home triggers a check at once and its
    departure one three minutes later, as the presence entity option does.
    """
    clock = ManualClock(START)
    sim = FleetSimulator(clock, access_token_lifetime=10**8)
    events = commute(sim, DEFAULT_VIN, START, days=days)
    arrivals = [
        e.start + e.duration
        for e in events
        if isinstance(e, Drive) and e.destination == HOME_WARSAW
    ]
    driving_s = sum(e.duration for e in events if isinstance(e, Drive))
    presence_checks = sorted(
        [*arrivals]
        + [
            e.start + 180.0
            for e in events
            if isinstance(e, Drive) and e.origin == HOME_WARSAW
        ]
    )
    token = sim.issue_tokens()["access_token"]

    async def provider(*, force_refresh: bool = False) -> str:
        return str(token)

    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            client = TeslaFleetClient(
                session=session,
                token_provider=provider,
                api_base_url=str(server.make_url("")).rstrip("/"),
            )
            home = Home(latitude=HOME_WARSAW[0], longitude=HOME_WARSAW[1], radius_m=100)
            tracker = VehicleTracker(client, [DEFAULT_VIN], home)
            latencies: list[float] = []
            now, end = START + SCOUT_PHASE_S, START + days * 86400
            previous_home: bool | None = None
            while now < end:
                clock.set(now)
                interval = await strategy(tracker, client, now)
                status = tracker.vehicles[DEFAULT_VIN]
                if status.at_home and previous_home is False:
                    arrived = max((a for a in arrivals if a <= now), default=now)
                    latencies.append(now - arrived)
                previous_home = status.at_home
                following = now + interval
                if presence:
                    following = min(
                        [following, *(t for t in presence_checks if now < t)]
                    )
                now = following
            clock.set(end)
            stats: dict[str, Any] = sim.stats_dict()
    finally:
        await server.close()
    requests = stats["requests"]
    return Result(
        name=name,
        days=days,
        state_checks=int(stats.get("billable_state_checks", 0)),
        data_requests=int(stats["vehicle_data"].get(DEFAULT_VIN, 0)),
        wakes=int(requests.get("wake", 0)),
        cost_usd=sim.stats.cost_usd(),
        cost_usd_state_free=sim.stats.cost_usd(state_checks_free=True),
        awake_hours=sim.awake_seconds(DEFAULT_VIN) / 3600,
        driving_hours=driving_s / 3600,
        latencies_s=latencies,
    )


async def main(days: int) -> list[Result]:
    """Run every strategy and print the table."""
    results = [
        await run("fixed 15 min scout", fixed_interval, days),
        await run("smart policy (ours)", smart_policy, days),
        await run("smart + presence", smart_with_presence, days, presence=True),
        await run("vehicle_data / 10 min", naive_polling, days),
    ]
    print(f"Commute week in the simulator, {days} days, Warsaw, geofence 100 m")
    print(
        f"{'strategy':<22}{'state/d':>8}{'data/d':>8}{'wakes':>6}"
        f"{'$/month':>9}{'$ free*':>9}{'awake h/d':>10}"
        "   arrival latency min (mean / max)   arrivals"
    )
    for result in results:
        print(result.row())
    print("* $ free: with vehicle list/record calls free (unverified whether billed)")
    print("awake h/d: hours a day the car was online beyond its drives")
    fixed = results[0]
    for other in results[1:3]:
        checks = other.state_checks / fixed.state_checks
        latency = mean(other.latencies_s) / max(mean(fixed.latencies_s), 1e-9)
        print(
            f"{other.name} / fixed: state checks x{checks:.2f},"
            f" mean arrival latency x{latency:.2f}"
        )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=7)
    asyncio.run(main(parser.parse_args().days))
