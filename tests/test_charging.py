"""The worker against the Fleet API simulator: schedules, idempotence, waking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp.test_utils import TestServer
import pytest

from custom_components.tesla_scout_worker.domain.geo import Home
from custom_components.tesla_scout_worker.domain.schedules import schedule_id_for
from custom_components.tesla_scout_worker.domain.tariffs import (
    PriceForecastTariff,
    PriceSlot,
    preset_tariff,
)
from custom_components.tesla_scout_worker.domain.tracker import VehicleTracker
from custom_components.tesla_scout_worker.domain.worker_run import (
    ChargeSettings,
    ChargingWorker,
)
from custom_components.tesla_scout_worker.fleet import TeslaFleetClient
from simulator import (
    DEFAULT_VIN,
    HOME_WARSAW,
    Fault,
    FleetSimulator,
    ManualClock,
    create_app,
)
from simulator.commands import MAX_CHARGE_SCHEDULES
from simulator.vehicle import ChargeSchedule

TZ = ZoneInfo("Europe/Warsaw")
ARRIVAL = datetime(2026, 12, 2, 17, 0, tzinfo=TZ).timestamp()  # a Wednesday
G12 = preset_tariff("G12", TZ)


@dataclass
class Rig:
    """A simulator, a client on it and a worker with a simulated clock."""

    sim: FleetSimulator
    clock: ManualClock
    worker: ChargingWorker
    base_url: str

    def settings(
        self, *, smart: bool = True, departure: time = time(7)
    ) -> ChargeSettings:
        return ChargeSettings(smart_charging=smart, departure=departure, tz=TZ)


async def make_rig(
    session: aiohttp.ClientSession,
    server: TestServer,
    sim: FleetSimulator,
    clock: ManualClock,
    *,
    proxy: bool,
) -> Rig:
    base = str(server.make_url("")).rstrip("/")
    token = sim.issue_tokens()["access_token"]

    async def provider(*, force_refresh: bool = False) -> str:
        return str(token)

    client = TeslaFleetClient(
        session=session,
        token_provider=provider,
        api_base_url=base,
        command_base_url=f"{base}/proxy" if proxy else None,
    )
    tracker = VehicleTracker(
        client,
        [DEFAULT_VIN],
        Home(latitude=HOME_WARSAW[0], longitude=HOME_WARSAW[1], radius_m=100),
    )

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    worker = ChargingWorker(client, tracker, clock=clock, sleep=sleep)
    return Rig(sim=sim, clock=clock, worker=worker, base_url=base)


@pytest.fixture
async def served(
    socket_enabled: None,
) -> AsyncIterator[tuple[FleetSimulator, ManualClock, TestServer]]:
    clock = ManualClock(ARRIVAL)
    sim = FleetSimulator(clock, access_token_lifetime=10**8)
    car = sim.vehicle(DEFAULT_VIN)
    car.battery_level = 40.0
    car.charge_limit_soc = 80
    sim.touch(car)  # just arrived: awake
    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    yield sim, clock, server
    await server.close()


@pytest.fixture
async def rig(
    served: tuple[FleetSimulator, ManualClock, TestServer],
) -> AsyncIterator[Rig]:
    sim, clock, server = served
    async with aiohttp.ClientSession() as session:
        yield await make_rig(session, server, sim, clock, proxy=True)


async def test_schedule_is_written_once_and_then_left_alone(rig: Rig) -> None:
    first = await rig.worker.async_run(DEFAULT_VIN, "arrived_home", rig.settings(), G12)
    assert first.result == "applied"
    assert first.commands == ("add_charge_schedule",)
    (schedule,) = rig.sim.vehicle(DEFAULT_VIN).charge_schedules
    assert schedule.id == schedule_id_for(DEFAULT_VIN)
    assert (schedule.start_time, schedule.end_time) == (22 * 60, 62)
    assert schedule.enabled

    second = await rig.worker.async_run(DEFAULT_VIN, "action", rig.settings(), G12)
    assert second.commands == ()
    assert second.result == "planned"
    assert len(rig.sim.vehicle(DEFAULT_VIN).charge_schedules) == 1

    # A lower battery moves the end: the same schedule changes, none is added.
    rig.sim.vehicle(DEFAULT_VIN).battery_level = 20.0
    rig.clock.advance(300)  # past the freshness of the last read
    third = await rig.worker.async_run(DEFAULT_VIN, "action", rig.settings(), G12)
    assert third.commands == ("add_charge_schedule",)
    (schedule,) = rig.sim.vehicle(DEFAULT_VIN).charge_schedules
    assert schedule.end_time > 62
    assert rig.sim.stats.wakes.get(DEFAULT_VIN, 0) == 0


async def test_sleeping_car_is_woken_only_for_a_new_plan_and_never_via_proxy(
    rig: Rig,
) -> None:
    await rig.worker.async_run(DEFAULT_VIN, "arrived_home", rig.settings(), G12)
    rig.sim.put_to_sleep(DEFAULT_VIN)
    rig.clock.advance(3600)
    data_before = rig.sim.stats.vehicle_data[DEFAULT_VIN]

    same = await rig.worker.async_run(DEFAULT_VIN, "failsafe", rig.settings(), G12)
    assert same.woke is False
    # One free state check says "asleep": no billed 408, the schedule is known.
    assert same.requests == 1
    assert rig.sim.stats.vehicle_data[DEFAULT_VIN] == data_before

    earlier = await rig.worker.async_run(
        DEFAULT_VIN, "action", rig.settings(departure=time(23)), G12
    )
    assert earlier.woke is True
    assert earlier.result == "applied"
    assert rig.sim.stats.wakes.get(DEFAULT_VIN, 0) == 1
    assert rig.sim.stats.proxy_wakes == 0


async def test_smart_charging_off_sends_nothing(rig: Rig) -> None:
    run = await rig.worker.async_run(
        DEFAULT_VIN, "arrived_home", rig.settings(smart=False), G12
    )
    assert run.result == "planned"
    assert run.plan is not None
    assert run.plan.start is not None
    assert run.plan.start.hour == 22
    assert rig.sim.vehicle(DEFAULT_VIN).charge_schedules == []


async def test_unsigned_command_to_a_car_that_needs_signing(
    served: tuple[FleetSimulator, ManualClock, TestServer],
) -> None:
    sim, clock, server = served
    async with aiohttp.ClientSession() as session:
        rig = await make_rig(session, server, sim, clock, proxy=False)
        run = await rig.worker.async_run(
            DEFAULT_VIN, "arrived_home", rig.settings(), G12
        )
    assert run.result == "error"
    assert run.error == "command_protocol_required"
    assert sim.vehicle(DEFAULT_VIN).charge_schedules == []


def evening_prices() -> PriceForecastTariff:
    """15-minute prices from 17:00: cheap 01:00-02:00 and 04:00-05:00, dear between."""
    evening = datetime(2026, 12, 2, 17, 0, tzinfo=TZ)
    slots = []
    for index in range(16 * 4):
        start = evening + index * timedelta(minutes=15)
        price = {1: 0.30, 2: 0.60, 3: 0.60, 4: 0.32}.get(start.hour, 0.90)
        slots.append(
            PriceSlot(start=start, end=start + timedelta(minutes=15), price=price)
        )
    return PriceForecastTariff(tuple(slots))


def ours(rig: Rig) -> list[tuple[int, int, int]]:
    """Our schedules in the simulated car: (slot, start, end)."""
    ids = {schedule_id_for(DEFAULT_VIN, slot): slot for slot in range(3)}
    return sorted(
        (ids[s.id], s.start_time, s.end_time)
        for s in rig.sim.vehicle(DEFAULT_VIN).charge_schedules
        if s.id in ids
    )


async def test_split_plans_are_written_removed_and_left_alone(rig: Rig) -> None:
    prices = evening_prices()
    split = replace(rig.settings(), max_windows=3, min_split_saving=0.5)
    car = rig.sim.vehicle(DEFAULT_VIN)
    car.battery_level = 60.0  # 20 % of 75 kWh: 1 h 31 min at 11 kW
    # The owner's own schedule (made in the Tesla app) is never touched.
    car.charge_schedules.append(
        ChargeSchedule(id=42, start_enabled=True, start_time=12 * 60, enabled=False)
    )

    first = await rig.worker.async_run(DEFAULT_VIN, "arrived_home", split, prices)
    assert first.plan is not None
    assert first.plan.reason == "cheapest_windows"
    assert first.commands == ("add_charge_schedule", "add_charge_schedule")
    assert ours(rig) == [(0, 60, 120), (1, 240, 271)]  # 01:00-02:00, 04:00-04:31

    # Asked again: the car already has both, nothing is sent.
    again = await rig.worker.async_run(DEFAULT_VIN, "action", split, prices)
    assert again.commands == ()
    assert again.reason == "schedule_up_to_date"

    # Less to charge: one window will do; slot 0 changes, slot 1 goes.
    car.battery_level = 72.0
    rig.clock.advance(300)  # past the freshness of the last read
    single = await rig.worker.async_run(DEFAULT_VIN, "action", split, prices)
    assert single.plan is not None
    assert single.plan.reason == "cheapest_window"
    assert single.commands == ("add_charge_schedule", "remove_charge_schedule")
    assert ours(rig) == [(0, 60, 97)]
    rig.clock.advance(300)
    still = await rig.worker.async_run(DEFAULT_VIN, "action", split, prices)
    assert still.commands == ()

    # A worker that knows nothing (a new install) reads the car and agrees.
    fresh = ChargingWorker(
        rig.worker.client,
        VehicleTracker(rig.worker.client, [DEFAULT_VIN], rig.worker.tracker.home),
        clock=rig.clock,
    )
    rig.clock.advance(300)
    unknown = await fresh.async_run(DEFAULT_VIN, "init", split, prices)
    assert unknown.commands == ()
    assert {s.id for s in car.charge_schedules} == {42, schedule_id_for(DEFAULT_VIN)}
    assert rig.sim.stats.wakes.get(DEFAULT_VIN, 0) == 0


async def test_the_car_charges_in_both_windows_and_not_between(rig: Rig) -> None:
    prices = evening_prices()
    split = replace(rig.settings(), max_windows=3, min_split_saving=0.5)
    car = rig.sim.vehicle(DEFAULT_VIN)
    car.battery_level = 60.0
    run = await rig.worker.async_run(DEFAULT_VIN, "arrived_home", split, prices)
    assert run.commands == ("add_charge_schedule", "add_charge_schedule")

    def at(hour: int, minute: int) -> str:
        moment = datetime(2026, 12, 3, hour, minute, tzinfo=TZ).timestamp()
        rig.clock.advance(moment - rig.clock())
        rig.sim.sync(car)
        return car.charging_state

    assert at(0, 59) == "Stopped"
    assert at(1, 30) == "Charging"
    assert at(3, 0) == "Stopped"
    assert at(4, 15) == "Charging"
    assert at(5, 0) in {"Complete", "Stopped"}
    assert car.battery_level == pytest.approx(80.0, abs=0.5)


async def test_a_refused_removal_or_a_refused_second_schedule(rig: Rig) -> None:
    """A schedule already gone is fine; a car refusing the second one is an error."""
    prices = evening_prices()
    split = replace(rig.settings(), max_windows=3, min_split_saving=0.5)
    car = rig.sim.vehicle(DEFAULT_VIN)
    car.battery_level = 60.0
    # The owner's own schedules leave room for one more: the second is refused.
    car.charge_schedules.extend(
        ChargeSchedule(id=100 + i, enabled=False)
        for i in range(MAX_CHARGE_SCHEDULES - 1)
    )
    run = await rig.worker.async_run(DEFAULT_VIN, "arrived_home", split, prices)
    assert (run.result, run.error) == ("error", "CommandFailedError")
    assert run.commands == ("add_charge_schedule",)
    # The owner makes room; our first schedule stays and is left alone.
    car.charge_schedules[:] = [s for s in car.charge_schedules if s.id >= 1_000_000]
    assert ours(rig) == [(0, 60, 120)]

    rig.clock.advance(300)
    run = await rig.worker.async_run(DEFAULT_VIN, "action", split, prices)
    assert run.result == "applied"
    assert run.commands == ("add_charge_schedule",)  # only the missing one
    assert ours(rig) == [(0, 60, 120), (1, 240, 271)]

    # Less to charge: slot 1 must go, but the car answers that it has none.
    car.battery_level = 72.0
    rig.clock.advance(300)
    rig.sim.add_fault(
        Fault(
            r"remove_charge_schedule",
            status=200,
            body={"response": {"result": False, "reason": "not_found"}},
        )
    )
    run = await rig.worker.async_run(DEFAULT_VIN, "action", split, prices)
    assert run.result == "applied"
    assert run.commands == ("add_charge_schedule",)
    # Accepted (or "not found") is taken as done: no paid read-back.
    known = rig.worker.tracker.car(DEFAULT_VIN).schedule
    assert known is not None
    assert known.windows == ((60, 97), None, None)
    # The next read shows slot 1 still there (the fault lied); the next run
    # removes it.
    rig.clock.advance(300)
    run = await rig.worker.async_run(DEFAULT_VIN, "action", split, prices)
    assert run.commands == ("remove_charge_schedule",)
    assert ours(rig) == [(0, 60, 97)]
