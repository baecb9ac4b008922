"""Commands signed in-process reach the simulated car, which checks them like Tesla.

Our client signs with ``tesla-fleet-api`` (``fleet/signing.py``); the simulator's
car side is written from Tesla's Go reference (``simulator/vcp.py``): two
independent ends. Every request goes through our client, so each one is counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
import pytest

from custom_components.tesla_scout_worker.fleet import (
    KeyNotPairedError,
    RequestCategory,
    TeslaFleetClient,
)
from custom_components.tesla_scout_worker.fleet.keys import new_private_key
from simulator import DEFAULT_VIN, FleetSimulator, ManualClock, create_app

VIN = DEFAULT_VIN
NOON = 1_750_068_000.0  # Monday 16 June 2025, 12:00 in Warsaw


class Counted:
    """What the client reports for billing."""

    def __init__(self) -> None:
        self.calls: list[tuple[RequestCategory, int | None]] = []

    def __call__(self, category: RequestCategory, status: int | None) -> None:
        self.calls.append((category, status))


@pytest.fixture
def sim() -> FleetSimulator:
    simulator = FleetSimulator(ManualClock(NOON))
    vehicle = simulator.vehicle(VIN)
    vehicle.command_signing = "required"
    return simulator


@pytest.fixture
async def base_url(sim: FleetSimulator, socket_enabled: None) -> AsyncIterator[str]:
    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def point(key: Any) -> bytes:
    """The 65-byte public point the car's keychain holds."""
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint,
        )
    )


async def signing_client(
    session: ClientSession, sim: FleetSimulator, base_url: str, key: Any
) -> tuple[TeslaFleetClient, Counted]:
    tokens = sim.issue_tokens()

    async def token(*, force_refresh: bool = False) -> str:
        return str(tokens["access_token"])

    counted = Counted()
    client = TeslaFleetClient(
        session=session,
        token_provider=token,
        api_base_url=base_url,
        signing_key=key,
        on_request=counted,
    )
    # The vehicle list tells the client which cars need signed commands.
    await client.vehicles()
    return client, counted


async def test_a_signed_schedule_is_accepted_applied_and_counted(
    sim: FleetSimulator, base_url: str
) -> None:
    key = new_private_key()
    sim.pair_key(VIN, point(key))
    async with ClientSession() as session:
        client, counted = await signing_client(session, sim, base_url, key)
        assert client.signs(VIN)
        counted.calls.clear()
        result = await client.add_charge_schedule(
            VIN,
            days_of_week="All",
            start_time=22 * 60,
            end_time=6 * 60,
            latitude=52.2297,
            longitude=21.0122,
            schedule_id=1_234,
        )
        assert result.result is True
        # A second command reuses the session: no second handshake.
        await client.charge_start(VIN)
    vehicle = sim.vehicle(VIN)
    schedules = {s.id: s for s in vehicle.charge_schedules}
    assert set(schedules) == {1_234}
    assert schedules[1_234].start_time == 22 * 60
    assert schedules[1_234].end_time == 6 * 60
    assert vehicle.charging_state in ("Charging", "Starting")
    # A handshake, then one request per command, each counted as a command.
    assert counted.calls == [(RequestCategory.COMMAND, 200)] * 3
    # Nothing went to the unsigned REST command endpoint.
    assert not any("/command/" in r.path for r in sim.requests)


async def test_an_unpaired_key_is_refused_as_not_paired(
    sim: FleetSimulator, base_url: str
) -> None:
    async with ClientSession() as session:
        client, _ = await signing_client(session, sim, base_url, new_private_key())
        with pytest.raises(KeyNotPairedError):
            await client.charge_start(VIN)
    assert sim.vehicle(VIN).charge_schedules == []


async def test_a_car_that_needs_no_signing_gets_plain_commands(
    sim: FleetSimulator, base_url: str
) -> None:
    sim.vehicle(VIN).command_signing = "allowed"
    async with ClientSession() as session:
        client, counted = await signing_client(
            session, sim, base_url, new_private_key()
        )
        assert not client.signs(VIN)
        counted.calls.clear()
        await client.charge_start(VIN)
    assert [r.path for r in sim.requests][-1].endswith("/command/charge_start")
    assert counted.calls == [(RequestCategory.COMMAND, 200)]


async def test_a_command_after_the_car_rebooted_resyncs_and_is_accepted(
    sim: FleetSimulator, base_url: str
) -> None:
    """The car's session is gone (a new epoch): the next command still lands.

    A car restarts its security domains after a software update or a deep
    sleep; a session cached from before is refused with the car's new session
    info, which the client takes to sign again.
    """
    key = new_private_key()
    sim.pair_key(VIN, point(key))
    async with ClientSession() as session:
        client, _ = await signing_client(session, sim, base_url, key)
        await client.charge_start(VIN)
        sim.command_car(sim.vehicle(VIN)).reboot()
        result = await client.charge_stop(VIN)
    assert result.result is True
    assert sim.vehicle(VIN).charging_state not in ("Charging", "Starting")


async def test_a_command_after_the_cars_clock_jumped_is_accepted(
    sim: FleetSimulator, base_url: str
) -> None:
    """The car's clock moved hours against ours while the session was cached.

    The car refuses the command as expired (by its clock) with its session
    info; a new session signs it again, once, and it is carried out.
    """
    key = new_private_key()
    sim.pair_key(VIN, point(key))
    async with ClientSession() as session:
        client, counted = await signing_client(session, sim, base_url, key)
        await client.charge_start(VIN)
        assert isinstance(sim.clock, ManualClock)
        sim.clock.advance(4 * 3600)
        sim.vehicle(VIN).forced_state = "online"  # woken for the next command
        counted.calls.clear()
        result = await client.set_charge_limit(VIN, 70)
    assert result.result is True
    assert sim.vehicle(VIN).charge_limit_soc == 70
    # Refused as expired, a handshake, the command again: each one billed.
    assert counted.calls == [(RequestCategory.COMMAND, 200)] * 3
