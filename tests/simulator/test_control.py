"""Scripted faults, billing counters and the /sim control endpoints."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from simulator import Fault, FleetSimulator, ManualClock, RequestRecord, SimStats

from .conftest import VIN, Client

DATA_PATH = f"/api/1/vehicles/{VIN}/vehicle_data"


async def test_fault_answers_next_matching_requests(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    sim.add_fault(Fault(r"/vehicle_data$", status=503, body={"error": "x"}, times=2))
    first = await client.get(DATA_PATH, headers=auth)
    assert (first.status, await first.json()) == (503, {"error": "x"})
    assert (await client.get(DATA_PATH, headers=auth)).status == 503
    assert (await client.get(DATA_PATH, headers=auth)).status == 200
    assert sim.faults == []
    # 5xx answers are counted but not billed.
    assert sim.stats.requests["data"] == 3
    assert sim.stats.billable["data"] == 1
    assert sim.stats.by_status[503] == 2


async def test_fault_with_html_body_headers_and_method(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    html = "<html><body>502 Bad Gateway</body></html>"
    sim.add_fault(
        Fault(r"^/api/1/vehicles$", method="get", status=502, body=html, times=None)
    )
    sim.add_fault(
        Fault(
            r"wake_up",
            method="POST",
            status=429,
            body=None,
            headers={"Retry-After": "7"},
        )
    )
    for _ in range(2):
        response = await client.get("/api/1/vehicles", headers=auth)
        assert response.status == 502
        assert response.content_type == "text/html"
        assert await response.text() == html
    response = await client.post(f"/api/1/vehicles/{VIN}/wake_up", headers=auth)
    assert response.status == 429
    assert response.headers["Retry-After"] == "7"
    assert await response.read() == b""
    # A scripted 429 is billed like a real one.
    assert sim.stats.billable["wake"] == 1
    assert len(sim.faults) == 1
    sim.add_fault(Fault(r"health", body="down"))
    response = await client.get("/proxy/health")
    assert (response.status, response.content_type) == (503, "text/plain")
    assert sim.clear_faults() == 1


async def test_fault_delay_lets_clients_time_out(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    sim.add_fault(Fault(r"vehicle_data", status=200, body={"response": {}}, delay=0.2))
    started = time.monotonic()
    response = await client.get(DATA_PATH, headers=auth)
    assert response.status == 200
    assert time.monotonic() - started >= 0.2
    sim.add_fault(Fault(r"vehicle_data", delay=5))
    with pytest.raises(asyncio.TimeoutError):
        await client.get(
            DATA_PATH, headers=auth, timeout=aiohttp.ClientTimeout(total=0.05)
        )


async def test_faults_over_http(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    response = await client.post(
        "/sim/faults",
        json={"path_regex": "vehicle_data", "status": 504, "times": 3, "delay": 0},
    )
    assert (response.status, await response.json()) == (201, {"faults": 1})
    assert (await client.get(DATA_PATH, headers=auth)).status == 504
    for bad in (
        {"path_regex": "("},
        {"path_regex": 1},
        {"path_regex": "x", "status": 42},
        {"path_regex": "x", "times": 0},
        {"path_regex": "x", "bogus": 1},
    ):
        response = await client.post("/sim/faults", json=bad)
        assert response.status == 400, bad
    response = await client.delete("/sim/faults")
    assert await response.json() == {"removed": 1}
    assert (await client.get(DATA_PATH, headers=auth)).status == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"path_regex": "x", "method": 1}, "method"),
        ({"path_regex": "x", "body": 1}, "body"),
        ({"path_regex": "x", "headers": {"a": 1}}, "headers"),
        ({"path_regex": "x", "status": "503"}, "status"),
        ({"path_regex": "x", "delay": "1"}, "delay"),
        ({"path_regex": "x", "delay": -1}, "negative"),
        ({"path_regex": "x", "times": True}, "times"),
    ],
)
def test_fault_validation(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fault.from_dict(data)


def test_fault_from_dict_defaults() -> None:
    fault = Fault.from_dict({"path_regex": "x", "times": None, "body": "<p>"})
    assert (fault.status, fault.times, fault.delay, fault.headers) == (
        503,
        None,
        0.0,
        {},
    )
    assert fault.matches("PUT", "/x")
    assert not fault.matches("GET", "/y")


# --- billing ------------------------------------------------------------------------


def _record(kind: str, category: str, status: int = 200) -> RequestRecord:
    return RequestRecord(
        time=0.0,
        method="GET",
        path="/",
        status=status,
        category=category,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        vin=VIN,
    )


def test_cost_uses_tesla_prices() -> None:
    stats = SimStats()
    for _ in range(500):
        stats.add(_record("vehicle_data", "data"))
    for _ in range(250):
        stats.add(_record("record", "data"))
    for _ in range(1000):
        stats.add(_record("command", "command"))
    for _ in range(50):
        stats.add(_record("wake_up", "wake"))
    for _ in range(10):
        stats.add(_record("vehicle_data", "data", status=503))
    stats.add(_record("token", "auth"))
    assert stats.billable_total == 1800
    assert stats.cost_usd() == pytest.approx(1 + 0.5 + 1 + 1)
    assert stats.cost_usd(state_checks_free=True) == pytest.approx(3)
    assert stats.vehicle_data[VIN] == 510
    assert stats.wakes[VIN] == 50
    data = stats.as_dict()
    assert data["by_status"] == {"200": 1801, "503": 10}
    assert data["cost_usd"] == pytest.approx(3.5)
    assert data["cost_usd_if_state_checks_free"] == pytest.approx(3.0)


async def test_stats_endpoints(
    client: Client, sim: FleetSimulator, clock: ManualClock, auth: dict[str, str]
) -> None:
    await client.get(DATA_PATH, headers=auth)
    await client.get("/api/1/vehicles", headers=auth)
    clock.advance(3600)
    stats = await (await client.get("/sim/stats")).json()
    assert stats["requests"] == {"data": 2}
    assert stats["billable"] == {"data": 2}
    assert stats["billable_state_checks"] == 1
    assert stats["vehicle_data"] == {VIN: 1}
    assert stats["cost_usd"] == pytest.approx(0.004)
    assert stats["cost_usd_if_state_checks_free"] == pytest.approx(0.002)
    assert stats["awake_seconds"] == {VIN: 900.0}
    assert stats["awake_hours"] == {VIN: 0.25}
    log = await (await client.get("/sim/requests?limit=1")).json()
    assert log == [
        {
            "time": clock() - 3600,
            "method": "GET",
            "path": "/api/1/vehicles",
            "status": 200,
            "category": "data",
            "kind": "list",
            "vin": None,
            "proxy": False,
            "command": None,
        }
    ]
    assert len(await (await client.get("/sim/requests")).json()) == 2
    assert (await client.get("/sim/requests?limit=x")).status == 400
    assert (await client.post("/sim/reset_stats")).status == 200
    stats = await (await client.get("/sim/stats")).json()
    assert stats["requests"] == {}
    assert stats["awake_seconds"] == {VIN: 0.0}
    assert sim.requests == []
    # The control endpoints themselves are never counted.
    assert sim.stats.requests == {}


async def test_sim_tokens_and_vehicles(
    client: Client, sim: FleetSimulator, clock: ManualClock
) -> None:
    response = await client.post("/sim/tokens", json={"scopes": ["openid"]})
    tokens = await response.json()
    grant = sim.authenticate(tokens["access_token"])
    assert grant is not None
    assert grant.scopes == {"openid"}
    assert (await client.post("/sim/tokens")).status == 200
    for bad in ({"scopes": "openid"}, {"region": 1}, {"region": "mars"}):
        assert (await client.post("/sim/tokens", json=bad)).status == 400
    vehicles = await (await client.get("/sim/vehicles")).json()
    assert [(v["vin"], v["state"], v["battery_level"]) for v in vehicles] == [
        (VIN, "online", 62.0)
    ]


async def test_update_vehicle_over_http(
    client: Client, sim: FleetSimulator, clock: ManualClock
) -> None:
    path = f"/sim/vehicles/{VIN}"
    response = await client.post(
        path,
        json={
            "battery_level": 40,
            "position": [52.0, 21.0],
            "plugged_in": False,
            "command_signing": "allowed",
            "key_paired": False,
        },
    )
    described = await response.json()
    assert described["battery_level"] == 40
    assert (described["latitude"], described["longitude"]) == (52.0, 21.0)
    assert described["charging_state"] == "Disconnected"
    assert described["command_signing"] == "allowed"
    assert described["key_paired"] is False
    described = await (await client.post(path, json={"plugged_in": True})).json()
    assert described["charging_state"] == "Charging"
    described = await (await client.post(path, json={"forced_state": "offline"})).json()
    assert described["state"] == "offline"
    described = await (await client.post(path, json={"forced_state": None})).json()
    assert described["state"] == "online"
    await client.post(path, json={"plugged_in": False, "asleep": True})
    assert sim.state(VIN) == "asleep"
    for bad in (
        {"forced_state": "dead"},
        {"battery_level": 101},
        {"command_signing": "maybe"},
        {"unknown": 1},
        {"position": [1]},
    ):
        assert (await client.post(path, json=bad)).status == 400, bad
    assert (await client.post("/sim/vehicles/NOPE", json={})).status == 404


async def test_drive_to_over_http(
    client: Client, sim: FleetSimulator, clock: ManualClock
) -> None:
    """A drive home with navigation, then the cable goes in."""
    path = f"/sim/vehicles/{VIN}"
    await client.post(path, json={"plugged_in": False, "position": [52.25, 21.0122]})
    home = [52.2297, 21.0122]
    drive = {"position": home, "minutes": 2, "destination_name": "Home"}
    described = await (
        await client.post(path, json={"drive_to": {**drive, "plug_in_after_s": 10}})
    ).json()
    assert described["state"] == "online"
    clock.advance(60)
    data = await (
        await client.get(
            f"/api/1/vehicles/{VIN}/vehicle_data",
            params={"endpoints": "drive_state;location_data"},
            headers={"Authorization": f"Bearer {sim.issue_tokens()['access_token']}"},
        )
    ).json()
    drive_state = data["response"]["drive_state"]
    assert drive_state["shift_state"] == "D"
    assert drive_state["active_route_destination"] == "Home"
    assert drive_state["active_route_minutes_to_arrival"] == pytest.approx(1, abs=0.1)
    # A second drive while driving is refused.
    assert (await client.post(path, json={"drive_to": drive})).status == 400
    clock.advance(60 + 10)
    vehicle = sim.vehicle(VIN)
    assert sim.position(vehicle) == tuple(home)
    assert vehicle.plugged_in
    assert vehicle.charging_state == "Charging"
    bad: dict[str, Any]
    for bad in (
        {"drive_to": []},
        {"drive_to": {**drive, "speed": 3}},
        {"drive_to": {**drive, "minutes": 0}},
        {"drive_to": {**drive, "destination_name": 3}},
        {"drive_to": {**drive, "plug_in_after_s": -1}},
        {"drive_to": {"minutes": 1}},
    ):
        assert (await client.post(path, json=bad)).status == 400, bad
