"""What watching a car costs: the reference week, every strategy, one run.

The integration's own scout (``VehicleTracker.async_cycle`` and the policy's
``next_interval``) and worker (``ChargingWorker``) run against the Fleet API
simulator over HTTP, on a simulated clock, through a scripted week:

* the car sleeps at home at night;
* weekdays: it leaves at 07:30 (± up to 10 minutes, seeded), drives 30 minutes
  to work 10 km away, sleeps there, leaves at 16:30 (± 10), is home at about
  17:00 and plugged in 5 minutes later when below its limit;
* Tuesday and Thursday: an errand 3 km away, 19:00-19:40;
* Saturday: a trip 30 km away, 10:00-12:30; Sunday at home;
* it falls asleep 15 minutes after its last drive, charge or live-data request
  (the simulator's rule); the tariff is G12.

Strategies, each in the same run:

* ``A`` naive: ``vehicle_data`` every 15 minutes, waking the car when asleep;
* ``B`` Home Assistant ``tesla_fleet`` style: a state check every 10 minutes and
  ``vehicle_data`` whenever the car is online;
* ``C`` this integration with a fixed 15-minute scout;
* ``D`` this integration's default policy, and ``D_presence`` with a presence
  entity (a phone that announces arrivals and departures);
* ``E`` the oracle: one ``vehicle_data`` at each true arrival, nothing else.

It writes ``benchmarks/results/reference_week.json`` (the shape below), a
Markdown table beside it and a PNG chart of requests and dollars per day::

    .venv/bin/python -m benchmarks.reference_week [--days 7] [--seed 1]

JSON: ``{"scenario": {...}, "strategies": {"A": {...}, ...}, "ratios": {...},
"scale": [...]}``; each strategy has ``usd_per_day``, ``usd_per_day_state_free``,
``state_requests_per_day``, ``vehicle_data_per_day``, ``wakes_per_day``,
``commands_per_day``, ``awake_hours_caused_per_day``, ``arrivals_total``,
``arrivals_detected``, ``arrival_latency_min_median``,
``arrival_latency_min_max`` and ``kwh_outside_offpeak``.

Which figures rest on an assumption: Tesla's own per-endpoint price label
could not be read. Home Assistant core ``tesla_fleet``, TeslaFi and Tesla's
best-practice page all treat the vehicle list and record as free, so the
headline figure is ``usd_per_day_state_free``; ``usd_per_day`` bills every
state check as a data request, the worst case.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
import json
import math
from pathlib import Path
import random
import statistics
import time as time_module
from typing import Any, Final
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp.test_utils import TestServer

from custom_components.tesla_scout_worker.domain.car import (
    Transition,
    TransitionKind,
    WorkerRun,
)
from custom_components.tesla_scout_worker.domain.geo import Home
from custom_components.tesla_scout_worker.domain.tariffs import (
    DEFAULT_PRICES,
    preset_tariff,
)
from custom_components.tesla_scout_worker.domain.tracker import VehicleTracker
from custom_components.tesla_scout_worker.domain.worker_run import (
    ChargeSettings,
    ChargingWorker,
)
from custom_components.tesla_scout_worker.fleet import TeslaFleetClient
from simulator import (
    HOME_WARSAW,
    Drive,
    FleetSimulator,
    ManualClock,
    PlugIn,
    create_app,
    default_vehicle,
)

TZ: Final = ZoneInfo("Europe/Warsaw")
MONDAY: Final = date(2026, 11, 30)
KM_PER_DEGREE_LAT: Final = 111.2
RESULTS: Final = Path(__file__).parent / "results"
SCOUT_INTERVAL_S: Final = 15 * 60.0
SAMPLE_S: Final = 60.0
"""The harness looks at the car (for free, in the simulator) every minute."""
G12 = preset_tariff("G12", TZ)
OFFPEAK_PRICE: Final = DEFAULT_PRICES["G12"][1]
FIRST_VIN: Final = "LRW3F7EK4NC000001"


def north_of_home(km: float) -> tuple[float, float]:
    """A place ``km`` north of home."""
    return HOME_WARSAW[0] + km / KM_PER_DEGREE_LAT, HOME_WARSAW[1]


WORK: Final = north_of_home(10.0)
SHOP: Final = north_of_home(3.0)
LAKE: Final = north_of_home(30.0)


def at(day: date, clock: time, jitter_s: float = 0.0) -> float:
    """Epoch of a local time on ``day``, shifted by ``jitter_s``."""
    return datetime.combine(day, clock, tzinfo=TZ).timestamp() + jitter_s


def reference_week(days: int, seed: int) -> list[Drive | PlugIn]:
    """The week's drives and plug-ins (from Monday), departures jittered."""
    rng = random.Random(seed)

    def jitter() -> float:
        return rng.uniform(-600.0, 600.0)

    events: list[Drive | PlugIn] = []
    for offset in range(days):
        day = MONDAY + timedelta(days=offset)
        weekday = day.weekday()
        if weekday < 5:
            leave = at(day, time(7, 30), jitter())
            events.append(Drive(leave, HOME_WARSAW, WORK, 1800.0, "Work"))
            back = at(day, time(16, 30), jitter())
            events.append(Drive(back, WORK, HOME_WARSAW, 1800.0, "Home"))
            events.append(PlugIn(back + 1800.0 + 300.0))
        if weekday in {1, 3}:
            leave = at(day, time(19, 0), jitter())
            events.append(Drive(leave, HOME_WARSAW, SHOP, 480.0, "Shop"))
            events.append(Drive(leave + 1920.0, SHOP, HOME_WARSAW, 480.0, "Home"))
        if weekday == 5:
            leave = at(day, time(10, 0), jitter())
            events.append(Drive(leave, HOME_WARSAW, LAKE, 2700.0, "Lake"))
            events.append(Drive(leave + 6300.0, LAKE, HOME_WARSAW, 2700.0, "Home"))
    return events


def arrivals_home(events: list[Drive | PlugIn]) -> list[float]:
    """When the car truly arrives home."""
    return [
        e.start + e.duration
        for e in events
        if isinstance(e, Drive) and e.destination == HOME_WARSAW
    ]


# --- one run ----------------------------------------------------------------------


@dataclass
class Rig:
    """The simulator, a client on it and the integration's scout and worker."""

    sim: FleetSimulator
    clock: ManualClock
    client: TeslaFleetClient
    tracker: VehicleTracker
    worker: ChargingWorker
    vins: list[str]
    uses_worker: bool
    transitions: list[Transition] = field(default_factory=list)
    """Waiting for the worker."""
    last_runs: dict[str, WorkerRun] = field(default_factory=dict)
    arrivals_seen: list[tuple[float, str]] = field(default_factory=list)
    """(time, VIN) of every arrival the tracker reported."""

    def on_transition(self, transition: Transition) -> None:
        """The tracker's listener: arrivals noted, the worker told."""
        self.transitions.append(transition)
        if transition.kind in {
            TransitionKind.ARRIVED_HOME,
            TransitionKind.FIRST_SEEN_HOME,
        }:
            self.arrivals_seen.append((self.clock(), transition.vin))

    cycle_cpu_s: list[float] = field(default_factory=list)

    def settings(self) -> ChargeSettings:
        return ChargeSettings(smart_charging=True, departure=time(7, 0), tz=TZ)

    async def cycle(self) -> None:
        """One scout cycle, then the worker for every arrival it saw."""
        began = time_module.process_time()
        await self.tracker.async_cycle(self.clock())
        self.cycle_cpu_s.append(time_module.process_time() - began)
        await self.run_workers()

    async def run_workers(self) -> None:
        """The worker for every arrival seen (strategies with our worker only)."""
        seen, self.transitions = self.transitions, []
        if not self.uses_worker:
            return
        for transition in seen:
            vin = transition.vin
            if transition.kind is TransitionKind.PLUGGED_IN_AT_HOME:
                # As WorkerScheduler._async_plugged_in: the waiting run again.
                last = self.last_runs.get(vin)
                if last is None or last.reason != "not_plugged_in_at_home":
                    continue
                trigger = last.trigger
            elif (run_trigger := transition.kind.worker_trigger) is not None:
                trigger = str(run_trigger)  # as the scout passes it
            else:
                continue
            await self.run_worker(vin, trigger)

    async def run_worker(self, vin: str, trigger: str) -> None:
        run = await self.worker.async_run(vin, trigger, self.settings(), G12)
        self.last_runs[vin] = run


type Strategy = Callable[[Rig], Awaitable[float]]
"""One step of a strategy at the rig's time; returns seconds until the next."""


async def naive(rig: Rig) -> float:
    """A: ``vehicle_data`` every 15 minutes, waking the car when asleep."""
    for vin in rig.vins:
        record = await rig.client.vehicle(vin)
        if not record.is_online:
            await rig.client.wake_up(vin)
            await rig.worker._sleep(30.0)  # noqa: SLF001 - the simulator's clock
        data = await rig.client.vehicle_data(
            vin, ("charge_state", "drive_state", "location_data")
        )
        rig.tracker.observe(vin, data, rig.clock())
    return SCOUT_INTERVAL_S


async def core_style(rig: Rig) -> float:
    """B: a state check every 10 minutes, ``vehicle_data`` when online."""
    for vehicle in await rig.client.vehicles():
        if vehicle.is_online and vehicle.vin in rig.vins:
            data = await rig.client.vehicle_data(
                vehicle.vin, ("charge_state", "drive_state", "location_data")
            )
            rig.tracker.observe(vehicle.vin, data, rig.clock())
    return 600.0


async def fixed_scout(rig: Rig) -> float:
    """C: this integration's scout every 15 minutes (with its parked rule)."""
    await rig.cycle()
    return SCOUT_INTERVAL_S


async def default_policy(rig: Rig) -> float:
    """D: this integration's scout; its policy picks the next interval."""
    await rig.cycle()
    return rig.tracker.next_interval(SCOUT_INTERVAL_S, rig.clock())


async def default_with_presence(rig: Rig) -> float:
    """D with a presence entity: checks on the phone's comings and goings."""
    await rig.cycle()
    return rig.tracker.next_interval(
        SCOUT_INTERVAL_S, rig.clock(), presence_tracked=True
    )


async def oracle(rig: Rig) -> float:
    """E: nothing but one read at each true arrival (scheduled by the harness)."""
    return math.inf


STRATEGIES: Final[dict[str, tuple[str, Strategy]]] = {
    "A": ("vehicle_data every 15 min, waking", naive),
    "B": ("state check every 10 min + vehicle_data when online", core_style),
    "C": ("this integration, fixed 15-min scout", fixed_scout),
    "D": ("this integration, default policy", default_policy),
    "D_presence": ("default policy + presence entity", default_with_presence),
    "E": ("oracle: one read per true arrival", oracle),
}
GEOFENCE_EARLY_S: Final = 120.0
"""An arrival reported this much before the drive's end is that arrival."""
BASELINE: Final = "none"
"""No requests at all: the car's own awake time (reported in the scenario)."""


@dataclass
class Measured:
    """One strategy's raw figures over the run."""

    days: int
    cars: int
    state_requests: int
    vehicle_data: int
    wakes: int
    commands: int
    usd: float
    usd_state_free: float
    awake_hours: float
    awake_hours_caused: float
    """Awake only because of requests: parked, not charging, past its own
    15 minutes after a drive, a plug-in or a charge (the simulator's count)."""
    arrivals_total: int
    latencies_s: list[float]
    kwh_outside_offpeak: float
    cycles: int
    cycle_cpu_s: list[float]


def build_sim(
    clock: ManualClock, vins: list[str], seed: int, days: int
) -> FleetSimulator:
    """The simulator with ``vins`` asleep at home, each with its own week."""
    cars = []
    for index, vin in enumerate(vins):
        car = default_vehicle()
        car.vin, car.display_name = vin, f"Car {index + 1}"
        car.battery_level, car.charge_limit_soc = 55.0, 80
        cars.append(car)
    sim = FleetSimulator(
        clock, vehicles=cars, start_asleep=True, access_token_lifetime=10**8
    )
    for index, vin in enumerate(vins):
        sim.schedule(vin, *reference_week(days, seed + index))
    return sim


async def measure(
    strategy_key: str, *, days: int, seed: int, cars: int = 1
) -> Measured:
    """Run one strategy (or the baseline) over ``days`` of the reference week."""
    start = datetime.combine(MONDAY, time(0), tzinfo=TZ).timestamp()
    end = start + days * 86400.0
    clock = ManualClock(start)
    vins = [FIRST_VIN[:-3] + f"{i + 1:03d}" for i in range(cars)]
    sim = build_sim(clock, vins, seed, days)
    events = {vin: reference_week(days, seed + i) for i, vin in enumerate(vins)}
    token = sim.issue_tokens()["access_token"]

    async def provider(*, force_refresh: bool = False) -> str:
        return str(token)

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            base = str(server.make_url("")).rstrip("/")
            client = TeslaFleetClient(
                session=session,
                token_provider=provider,
                api_base_url=base,
                command_base_url=f"{base}/proxy",  # signed, as a Tesla needs
            )
            home = Home(latitude=HOME_WARSAW[0], longitude=HOME_WARSAW[1], radius_m=100)
            tracker = VehicleTracker(client, vins, home)
            worker = ChargingWorker(client, tracker, clock=clock, sleep=sleep)
            rig = Rig(
                sim,
                clock,
                client,
                tracker,
                worker,
                vins,
                uses_worker=strategy_key in {"C", "D", "D_presence"},
            )
            tracker.transitions.add(rig.on_transition)
            latencies, kwh_outside = await _drive(rig, strategy_key, events, start, end)
            clock.set(end)
            stats: dict[str, Any] = sim.stats_dict()
    finally:
        await server.close()
    requests = stats["requests"]
    return Measured(
        days=days,
        cars=cars,
        state_requests=int(stats["billable_state_checks"]),
        vehicle_data=sum(stats["vehicle_data"].values()),
        wakes=int(requests.get("wake", 0)),
        commands=int(requests.get("command", 0)),
        usd=sim.stats.cost_usd(),
        usd_state_free=sim.stats.cost_usd(state_checks_free=True),
        awake_hours=sum(sim.awake_seconds(vin) for vin in vins) / 3600,
        awake_hours_caused=sum(stats["awake_seconds_caused"].values()) / 3600,
        arrivals_total=sum(len(arrivals_home(e)) for e in events.values()),
        latencies_s=latencies,
        kwh_outside_offpeak=kwh_outside,
        cycles=len(rig.cycle_cpu_s),
        cycle_cpu_s=rig.cycle_cpu_s,
    )


async def _drive(
    rig: Rig,
    key: str,
    events: dict[str, list[Drive | PlugIn]],
    start: float,
    end: float,
) -> tuple[list[float], float]:
    """Step the clock: the strategy's own times, the failsafe, the oracle's reads.

    Every minute the harness also looks at the simulated cars (not through the
    API, so nothing is billed) for the energy charged outside off-peak hours.
    An arrival counts as noticed when the tracker reports it (its
    ``arrived_home`` transition) after the true arrival.
    """
    strategy = STRATEGIES[key][1] if key in STRATEGIES else None
    arrivals = {vin: arrivals_home(e) for vin, e in events.items()}
    # The oracle and the baseline have no steps of their own.
    next_step = math.inf if key in {"E", BASELINE} else start + 7 * 60.0
    uses_worker = rig.uses_worker
    failsafes = [start + d * 86400.0 for d in range(1, round((end - start) / 86400))]
    oracle_reads = (
        sorted({t for times in arrivals.values() for t in times}) if key == "E" else []
    )
    # A presence entity announces arrivals at once and departures (a check
    # three minutes later, as the option does).
    presence = (
        sorted(
            {
                e.start + (e.duration if e.destination == HOME_WARSAW else 180.0)
                for times in events.values()
                for e in times
                if isinstance(e, Drive)
            }
        )
        if key == "D_presence"
        else []
    )
    pending = {vin: list(times) for vin, times in arrivals.items()}
    latencies: list[float] = []
    kwh_outside = 0.0
    levels = {vin: rig.sim.vehicle(vin).battery_level for vin in rig.vins}
    sample = start
    while True:
        now = min(
            next_step,
            sample,
            failsafes[0] if failsafes and uses_worker else math.inf,
            oracle_reads[0] if oracle_reads else math.inf,
            presence[0] if presence else math.inf,
        )
        if now >= end:
            break
        rig.clock.set(now)
        if now == sample:
            kwh_outside += _sample(rig, levels, now)
            sample += SAMPLE_S
        if oracle_reads and now == oracle_reads[0]:
            oracle_reads.pop(0)
            for vin in rig.vins:
                if now in arrivals[vin]:
                    data = await rig.client.vehicle_data(vin, ("drive_state",))
                    rig.tracker.observe(vin, data, now)
                    pending[vin].remove(now)
                    latencies.append(0.0)
        if failsafes and uses_worker and now == failsafes[0]:
            failsafes.pop(0)
            for vin in rig.vins:
                await rig.run_worker(vin, "failsafe")
        if presence and now == presence[0]:
            presence.pop(0)
            next_step = now
        if strategy is not None and now == next_step:
            next_step = now + await strategy(rig)
        seen, rig.arrivals_seen = rig.arrivals_seen, []
        for when, vin in seen:
            # The latest true arrival before the report is the one seen; an
            # earlier one still waiting was missed (the car left again unseen).
            # The geofence is entered a little before the drive ends.
            horizon = when + GEOFENCE_EARLY_S
            if due := [t for t in pending[vin] if t <= horizon]:
                pending[vin] = [t for t in pending[vin] if t > horizon]
                latencies.append(max(0.0, when - due[-1]))
        await rig.run_workers()
    return latencies, kwh_outside


def _sample(rig: Rig, levels: dict[str, float], now: float) -> float:
    """kWh added since the last sample at G12's peak price."""
    outside = 0.0
    moment = datetime.fromtimestamp(now - SAMPLE_S / 2, TZ)
    peak = G12.slots(moment, moment + timedelta(seconds=1))[0].price > OFFPEAK_PRICE
    for vin in rig.vins:
        car = rig.sim.vehicle(vin)
        rig.sim.sync(car)
        gained = max(0.0, car.battery_level - levels[vin]) / 100
        levels[vin] = car.battery_level
        if peak:
            outside += gained * car.battery_capacity_kwh
    return outside


# --- the report -------------------------------------------------------------------


def summary(run: Measured) -> dict[str, Any]:
    """One strategy's figures per vehicle-day, in the JSON shape."""
    per_day = run.days * run.cars
    latencies = [s / 60 for s in run.latencies_s]
    return {
        "usd_per_day": round(run.usd / per_day, 4),
        "usd_per_day_state_free": round(run.usd_state_free / per_day, 4),
        "state_requests_per_day": round(run.state_requests / per_day, 2),
        "vehicle_data_per_day": round(run.vehicle_data / per_day, 2),
        "wakes_per_day": round(run.wakes / per_day, 2),
        "commands_per_day": round(run.commands / per_day, 2),
        "awake_hours_caused_per_day": round(run.awake_hours_caused / per_day, 3),
        "arrivals_total": run.arrivals_total,
        "arrivals_detected": len(run.latencies_s),
        "arrival_latency_min_median": (
            round(statistics.median(latencies), 2) if latencies else None
        ),
        "arrival_latency_min_max": round(max(latencies), 2) if latencies else None,
        "kwh_outside_offpeak": round(run.kwh_outside_offpeak, 2),
    }


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


async def scale(
    days: int, seed: int, fleet_sizes: tuple[int, ...]
) -> list[dict[str, Any]]:
    """The default policy with 1, 10 and 50 cars on one account."""
    rows = []
    for cars in fleet_sizes:
        run = await measure("D", days=days, seed=seed, cars=cars)
        cpu = sorted(run.cycle_cpu_s)
        rows.append(
            {
                "cars": cars,
                "days": days,
                "scout_cycles": run.cycles,
                "state_requests_per_cycle": ratio(run.state_requests, run.cycles),
                "vehicle_data_per_car_day": round(run.vehicle_data / (cars * days), 2),
                "cpu_ms_per_cycle_per_car_median": round(
                    statistics.median(cpu) / cars * 1000, 3
                )
                if cpu
                else None,
            }
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    """The table the README shows."""
    lines = [
        "| | strategy | `vehicle_data`/day | state checks/day | wakes/day | "
        "$/day (state free) | $/day (state billed) | awake h/day caused | "
        "arrivals seen | latency median / max (min) | kWh at peak price |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, row in report["strategies"].items():
        median, worst = (
            row["arrival_latency_min_median"],
            row["arrival_latency_min_max"],
        )
        latency = "—" if median is None else f"{median:.1f} / {worst:.1f}"
        lines.append(
            f"| {key} | {STRATEGIES[key][0]} | {row['vehicle_data_per_day']:.2f} | "
            f"{row['state_requests_per_day']:.1f} | {row['wakes_per_day']:.2f} | "
            f"{row['usd_per_day_state_free']:.4f} | {row['usd_per_day']:.4f} | "
            f"{row['awake_hours_caused_per_day']:.2f} | "
            f"{row['arrivals_detected']}/{row['arrivals_total']} | {latency} | "
            f"{row['kwh_outside_offpeak']:.1f} |"
        )
    lines.append("")
    ratios = report["ratios"]
    lines.append(
        "D's `vehicle_data` against the others: "
        + ", ".join(f"D/{k} {v}" for k, v in ratios["vehicle_data"].items())
        + "; in dollars with state checks free: "
        + ", ".join(f"D/{k} {v}" for k, v in ratios["usd_state_free"].items())
        + "."
    )
    if seeds := report.get("seeds"):
        lines += [
            "",
            "Other draws of the departure jitter (D / D_presence):",
            "",
            "| seed | `vehicle_data`/day | awake h/day caused | "
            "latency median / max (min) | arrivals seen |",
            "|---|---|---|---|---|",
        ]
        for row in seeds:
            d, p = row["D"], row["D_presence"]
            lines.append(
                f"| {row['seed']} | {d['vehicle_data_per_day']:.2f} / "
                f"{p['vehicle_data_per_day']:.2f} | "
                f"{d['awake_hours_caused_per_day']:.2f} / "
                f"{p['awake_hours_caused_per_day']:.2f} | "
                f"{d['arrival_latency_min_median']:.1f} / "
                f"{d['arrival_latency_min_max']:.1f} and "
                f"{p['arrival_latency_min_median']:.1f} / "
                f"{p['arrival_latency_min_max']:.1f} | "
                f"{d['arrivals_detected']} / {p['arrivals_detected']} |"
            )
    return "\n".join(lines) + "\n"


def chart(report: dict[str, Any], path: Path) -> None:
    """Bars per strategy: requests per day (left) and dollars per day (right)."""
    from PIL import Image, ImageDraw

    rows = report["strategies"]
    width, height, margin = 960, 420, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    panels = (
        (
            "requests per day (log scale)",
            ("state_requests_per_day", "vehicle_data_per_day"),
            True,
        ),
        ("USD per day", ("usd_per_day", "usd_per_day_state_free"), False),
    )
    colours = ("#9ecae1", "#08519c")
    panel_width = (width - 3 * margin) // 2
    for index, (title, keys, log) in enumerate(panels):
        left = margin + index * (panel_width + margin)
        top, bottom = margin, height - margin
        draw.text((left, 20), title, fill="black")
        draw.line((left, bottom, left + panel_width, bottom), fill="black")
        values = [rows[k][key] for k in rows for key in keys]
        top_value = max(values) or 1.0

        def scaled(
            value: float, log: bool = log, top_value: float = top_value
        ) -> float:
            if log:
                return math.log10(1 + value) / math.log10(1 + top_value)
            return value / top_value

        slot = panel_width / len(rows)
        for position, (key, row) in enumerate(rows.items()):
            x = left + position * slot
            for bar, (name, colour) in enumerate(zip(keys, colours, strict=True)):
                bar_left = x + 6 + bar * (slot - 12) / 2
                bar_top = bottom - scaled(row[name]) * (bottom - top)
                draw.rectangle(
                    (bar_left, bar_top, bar_left + (slot - 12) / 2 - 2, bottom),
                    fill=colour,
                )
                draw.text((bar_left, bar_top - 12), f"{row[name]:.3g}", fill="black")
            draw.text((x + slot / 2 - 12, bottom + 8), key, fill="black")
        legend = " / ".join(
            f"{'dark' if i else 'light'}: {name}" for i, name in enumerate(keys)
        )
        draw.text((left, height - 22), legend, fill="black")
    image.save(path)


SEED_KEYS = (
    "vehicle_data_per_day",
    "awake_hours_caused_per_day",
    "arrival_latency_min_median",
    "arrival_latency_min_max",
    "arrivals_detected",
)


async def other_seeds(days: int, seed: int, count: int) -> list[dict[str, Any]]:
    """D and D_presence on other draws of the departure jitter (the same week)."""
    rows = []
    for other in range(seed + 1, seed + 1 + count):
        row: dict[str, Any] = {"seed": other}
        for key in ("D", "D_presence"):
            figures = summary(await measure(key, days=days, seed=other))
            row[key] = {name: figures[name] for name in SEED_KEYS}
        rows.append(row)
    return rows


async def main(
    days: int, seed: int, fleet_sizes: tuple[int, ...], other_seed_count: int = 4
) -> dict[str, Any]:
    """Run everything and write the results."""
    began = time_module.perf_counter()
    baseline = await measure(BASELINE, days=days, seed=seed)
    runs = {key: await measure(key, days=days, seed=seed) for key in STRATEGIES}
    strategies = {key: summary(run) for key, run in runs.items()}
    d = strategies["D"]
    report: dict[str, Any] = {
        "scenario": {
            "days": days,
            "start": MONDAY.isoformat(),
            "seed": seed,
            "timezone": str(TZ),
            "tariff": "G12",
            "departure_jitter_min": 10,
            "state_checks": "free (headline); usd_per_day bills them as data",
            "car_awake_hours_per_day_without_requests": round(
                baseline.awake_hours / days, 3
            ),
        },
        "strategies": strategies,
        "ratios": {
            "vehicle_data": {
                k: ratio(
                    d["vehicle_data_per_day"], strategies[k]["vehicle_data_per_day"]
                )
                for k in ("A", "B", "C", "E")
            },
            "usd_state_free": {
                k: ratio(
                    d["usd_per_day_state_free"], strategies[k]["usd_per_day_state_free"]
                )
                for k in ("A", "B", "C", "E")
            },
        },
        "scale": await scale(1, seed, fleet_sizes),
        "seeds": await other_seeds(days, seed, other_seed_count),
    }
    report["scenario"]["run_seconds"] = round(time_module.perf_counter() - began, 1)
    return report


def write(report: dict[str, Any], folder: Path = RESULTS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reference_week.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "reference_week.md").write_text(markdown(report))
    chart(report, folder / "reference_week.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument(
        "--other-seeds", type=int, default=4, help="D and D_presence on more seeds"
    )
    arguments = parser.parse_args()
    result = asyncio.run(
        main(
            arguments.days,
            arguments.seed,
            () if arguments.no_scale else (1, 10, 50),
            arguments.other_seeds,
        )
    )
    write(result)
    print(markdown(result))
    print(json.dumps(result["scale"], indent=2))
    print(f"{result['scenario']['run_seconds']} s")
