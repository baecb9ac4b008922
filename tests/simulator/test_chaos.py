"""Random faults at configurable rates: each kind as Tesla's edge answers it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from simulator import (
    FAULT_KINDS,
    FOREIGN_REGION_URL,
    NO_ANSWER,
    FaultKind,
    FaultMix,
    FleetSimulator,
)

from .conftest import VIN, Client


def only(kind: FaultKind, **kwargs: Any) -> FaultMix:
    return FaultMix(rates={kind: 1.0}, **kwargs)


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "fragment"),
    [
        ("408", 408, "application/json", "vehicle unavailable"),
        ("429", 429, "application/json", "rate limit"),
        ("429_no_retry_after", 429, "application/json", "Too Many Requests"),
        ("500", 500, "application/json", "internal server error"),
        ("503", 503, "text/plain", "upstream connect error"),
        ("504", 504, "application/json", "upstream timeout"),
        ("html", 502, "text/html", "<h1>502 Bad Gateway</h1>"),
        ("empty", 200, "application/octet-stream", ""),
        ("truncated", 200, "application/json", '{"response": {"id": 1, "vin": "LRW'),
        ("421", 421, "application/json", FOREIGN_REGION_URL),
    ],
)
async def test_each_kind_answers_like_tesla(
    sim: FleetSimulator,
    client: Client,
    auth: dict[str, str],
    kind: FaultKind,
    status: int,
    content_type: str,
    fragment: str,
) -> None:
    sim.chaos = only(kind)
    response = await client.get(f"/api/1/vehicles/{VIN}/vehicle_data", headers=auth)
    text = await response.text()

    assert response.status == status
    assert response.content_type == content_type
    assert fragment in text
    assert (response.headers.get("Retry-After") == "120") is (kind == "429")
    assert sim.chaos.injected == {kind: 1}
    # Counted once, in the one place requests are counted.
    assert [r.status for r in sim.requests] == [status]


async def test_reset_drops_the_connection_and_is_not_billed(
    sim: FleetSimulator, client: Client, auth: dict[str, str]
) -> None:
    sim.chaos = only("reset")
    with pytest.raises(aiohttp.ClientError):
        await client.get(f"/api/1/vehicles/{VIN}/vehicle_data", headers=auth)

    assert [r.status for r in sim.requests] == [NO_ANSWER]
    assert sim.stats.billable_total == 0


async def test_timeout_keeps_the_client_waiting(
    sim: FleetSimulator, client: Client, auth: dict[str, str]
) -> None:
    sim.chaos = only("timeout", timeout_delay=30)
    request = client.get(f"/api/1/vehicles/{VIN}/vehicle_data", headers=auth)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await request


async def test_control_api_and_disabled_mix_never_fail(
    sim: FleetSimulator, client: Client, auth: dict[str, str]
) -> None:
    sim.chaos = only("500")
    assert (await client.get("/sim/stats")).status == 200

    sim.chaos.enabled = False
    response = await client.get(f"/api/1/vehicles/{VIN}/vehicle_data", headers=auth)
    assert response.status == 200
    assert sim.chaos.injected == {}


def test_rates_are_honoured_with_a_seed() -> None:
    mix = FaultMix.uniform(0.24, seed=7)
    draws = [mix.draw("/api/1/vehicles") for _ in range(12_000)]
    failed = [d for d in draws if d is not None]

    # 24 % of 12 000 requests, each kind about 2 %.
    assert 2600 < len(failed) < 3160
    assert set(mix.injected) == set(FAULT_KINDS)
    assert all(150 < n < 330 for n in mix.injected.values())
    # The same seed draws the same faults.
    again = FaultMix.uniform(0.24, seed=7)
    assert [again.draw("/api/1/vehicles") for _ in range(12_000)] == draws
    # The token endpoint is in the default paths; other paths never fail.
    assert mix.draw("/sim/stats") is None


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ({"teapot": 0.1}, "unknown fault kinds"),
        ({"500": -0.1}, "negative"),
        ({"500": 0.6, "503": 0.6}, "more than 1"),
    ],
)
def test_bad_rates_are_refused(rates: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultMix(rates=rates)  # type: ignore[arg-type]
