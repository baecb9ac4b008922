"""The Fleet client's typed errors for Tesla's per-car and per-application refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
import pytest

from custom_components.tesla_scout_worker.domain.geo import Home
from custom_components.tesla_scout_worker.domain.tracker import (
    VehicleTracker,
    live_data_endpoints,
    start_of_next_month,
)
from custom_components.tesla_scout_worker.fleet import (
    InvalidRequestError,
    MissingScopeError,
    MobileAccessDisabledError,
    TeslaAuthenticationError,
    TeslaFleetClient,
    TokenRefreshFailedError,
    UsageLimitExceededError,
)
from custom_components.tesla_scout_worker.fleet.auth import location_scope_granted
from simulator import FleetSimulator, ManualClock, SimVehicle, create_app
from tests import make_jwt

from .conftest import BASE, VIN, FakeTokens, FleetMock


async def test_mobile_access_disabled_is_the_cars_not_the_tokens(
    client: TeslaFleetClient, mock_api: FleetMock, tokens: FakeTokens
) -> None:
    mock_api.get(
        f"{BASE}/api/1/vehicles/{VIN}/vehicle_data",
        status=401,
        json={"response": None, "error": "mobile_access_disabled"},
    )
    with pytest.raises(MobileAccessDisabledError) as raised:
        await client.vehicle_data(VIN, ["charge_state"])

    assert not isinstance(raised.value, TeslaAuthenticationError)
    assert raised.value.status == 401
    # No refresh, no second (billed) request.
    assert tokens.forced == 0
    assert len(mock_api.sent) == 1


async def test_mobile_access_disabled_on_a_command(
    client: TeslaFleetClient, mock_api: FleetMock, tokens: FakeTokens
) -> None:
    mock_api.post(
        f"{BASE}/api/1/vehicles/{VIN}/command/charge_start",
        status=401,
        json={"error": "mobile_access_disabled"},
    )
    with pytest.raises(MobileAccessDisabledError):
        await client.charge_start(VIN)
    assert tokens.forced == 0


@pytest.mark.parametrize(
    ("body", "headers", "retry_after"),
    [
        ({"response": None, "error": "account disabled: EXCEEDED_LIMIT"}, {}, None),
        ({"error": "Account disabled: exceeded limit"}, {"Retry-After": "3600"}, 3600),
    ],
)
async def test_monthly_limit_is_its_own_error(
    client: TeslaFleetClient,
    mock_api: FleetMock,
    body: dict[str, str],
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    mock_api.post(
        f"{BASE}/api/1/vehicles/{VIN}/command/add_charge_schedule",
        status=403,
        json=body,
        headers=headers,
    )
    with pytest.raises(UsageLimitExceededError) as raised:
        await client.command(VIN, "add_charge_schedule", {"id": 1})

    # Not an invalid request: the worker's fallback command must not follow.
    assert not isinstance(raised.value, InvalidRequestError)
    assert raised.value.retry_after == retry_after


async def test_missing_location_scope_is_recognised(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(
        f"{BASE}/api/1/vehicles/{VIN}/vehicle_data",
        status=403,
        json={
            "response": None,
            "error": "Unauthorized missing scopes vehicle_location for vehicle "
            "data access",
        },
    )
    with pytest.raises(MissingScopeError) as raised:
        await client.vehicle_data(VIN, live_data_endpoints())
    assert raised.value.location
    assert not MissingScopeError("Unauthorized missing scopes vehicle_cmds").location


def test_live_reads_leave_the_position_out_without_the_scope() -> None:
    assert "location_data" in live_data_endpoints()
    assert "location_data" not in live_data_endpoints(location=False)
    assert "charge_state" in live_data_endpoints(location=False)


@pytest.mark.parametrize(
    ("scopes", "granted"),
    [
        (["openid", "vehicle_device_data", "vehicle_location"], True),
        (["openid", "vehicle_device_data"], False),
        ("openid vehicle_device_data vehicle_location", True),
        ([], False),
    ],
)
def test_location_scope_from_the_token(scopes: list[str] | str, granted: bool) -> None:
    assert location_scope_granted(make_jwt({"sub": "x", "scp": scopes})) is granted


def test_a_token_without_scopes_is_trusted_until_tesla_refuses() -> None:
    assert location_scope_granted("not-a-jwt")
    assert location_scope_granted(make_jwt({"sub": "x"}))


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        ("2026-12-02T17:00:00+00:00", "2027-01-01T00:00:00+00:00"),
        ("2026-01-31T23:59:59+00:00", "2026-02-01T00:00:00+00:00"),
        ("2026-11-30T23:30:00-05:00", "2027-01-01T00:00:00+00:00"),
    ],
)
def test_the_monthly_limit_resets_at_the_start_of_the_next_utc_month(
    now: str, reset: str
) -> None:
    moment = datetime.fromisoformat(now).timestamp()
    assert start_of_next_month(moment) == datetime.fromisoformat(reset).timestamp()
    assert datetime.fromtimestamp(start_of_next_month(moment), UTC).day == 1


class RefusingClient:
    """A client whose live reads Tesla refuses for a scope."""

    def __init__(self, error: str) -> None:
        self.error = error
        self.asked: list[list[str]] = []

    async def vehicle_data(self, vin: str, endpoints: Any) -> Any:
        self.asked.append(list(endpoints))
        raise MissingScopeError(self.error, status=403)


def location_allowed(tracker: VehicleTracker) -> bool:
    return tracker.location_allowed


async def test_only_the_location_scope_makes_reads_go_on_without_position() -> None:
    client = RefusingClient("Unauthorized missing scopes vehicle_device_data")
    tracker = VehicleTracker(
        client,  # type: ignore[arg-type]
        [VIN],
        Home(latitude=52.0, longitude=21.0, radius_m=100.0),
    )
    with pytest.raises(MissingScopeError):
        await tracker.async_live_data(VIN)
    assert len(client.asked) == 1
    assert location_allowed(tracker)

    client.error = "Unauthorized missing scopes vehicle_location for vehicle data"
    with pytest.raises(MissingScopeError):
        await tracker.async_live_data(VIN)
    assert not location_allowed(tracker)
    assert "location_data" not in client.asked[-1]
    # Already without the position: a refusal is passed on, not retried.
    with pytest.raises(MissingScopeError):
        await tracker.async_live_data(VIN)
    assert len(client.asked) == 4


# --- against the simulator, which gives Tesla's captured answers ------------------


@asynccontextmanager
async def simulated(
    sim: FleetSimulator, *, scopes: list[str] | None = None
) -> AsyncIterator[tuple[VehicleTracker, FakeTokens]]:
    """A tracker whose client talks to ``sim`` over loopback."""
    access = sim.issue_tokens(scopes=scopes)["access_token"]
    tokens = FakeTokens()

    async def provider(*, force_refresh: bool = False) -> str:
        await tokens(force_refresh=force_refresh)
        return str(access)

    async with TestClient(TestServer(create_app(sim), host="127.0.0.1")) as http:
        client = TeslaFleetClient(
            session=http.session,
            token_provider=provider,
            api_base_url=str(http.make_url("")).rstrip("/"),
        )
        tracker = VehicleTracker(
            client,
            list(sim.vehicles),
            Home(latitude=52.2297, longitude=21.0122, radius_m=100.0),
            location_allowed=location_scope_granted(access),
        )
        yield tracker, tokens


SIM_NOW = datetime(2025, 6, 16, 10, 0, tzinfo=UTC).timestamp()
SECOND_VIN = "5YJ3E1EA1NF000002"


@pytest.mark.usefixtures("socket_enabled")
async def test_simulated_car_with_mobile_access_off() -> None:
    sim = FleetSimulator(
        ManualClock(SIM_NOW),
        vehicles=[
            SimVehicle(VIN, display_name="Mine", forced_state="online"),
            SimVehicle(SECOND_VIN, display_name="Shared", forced_state="online"),
        ],
    )
    sim.vehicle(SECOND_VIN).mobile_access_disabled = True
    async with simulated(sim) as (tracker, tokens):
        await tracker.async_cycle(SIM_NOW)

    assert tokens.forced == 0
    assert tracker.car(VIN).status.battery_level is not None
    assert tracker.car(VIN).access_disabled_at is None
    assert tracker.car(SECOND_VIN).access_disabled_at == SIM_NOW


@pytest.mark.usefixtures("socket_enabled")
async def test_no_token_for_a_live_read_is_the_accounts_not_the_cars() -> None:
    """The token keeper cannot refresh: the cycle fails, no car is read without it."""
    sim = FleetSimulator(
        ManualClock(SIM_NOW),
        vehicles=[
            SimVehicle(VIN, display_name="Mine", forced_state="online"),
            SimVehicle(SECOND_VIN, display_name="Shared", forced_state="online"),
        ],
    )
    access = sim.issue_tokens()["access_token"]
    asked = 0

    async def provider(*, force_refresh: bool = False) -> str:
        nonlocal asked
        asked += 1
        if asked > 1:  # the list got it; the token ran out right after
            raise TokenRefreshFailedError("ServerError")
        return str(access)

    async with TestClient(TestServer(create_app(sim), host="127.0.0.1")) as http:
        client = TeslaFleetClient(
            session=http.session,
            token_provider=provider,
            api_base_url=str(http.make_url("")).rstrip("/"),
        )
        tracker = VehicleTracker(
            client,
            list(sim.vehicles),
            Home(latitude=52.2297, longitude=21.0122, radius_m=100.0),
        )
        with pytest.raises(TokenRefreshFailedError):
            await tracker.async_cycle(SIM_NOW)

    assert asked == 2
    assert tracker.car(SECOND_VIN).status.battery_level is None


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("token_says", [True, False])
async def test_simulated_token_without_location_scope(*, token_says: bool) -> None:
    sim = FleetSimulator(
        ManualClock(SIM_NOW), vehicles=[SimVehicle(VIN, forced_state="online")]
    )
    scopes = ["openid", "offline_access", "vehicle_device_data"]
    async with simulated(sim, scopes=scopes) as (tracker, _):
        if not token_says:
            tracker.location_allowed = True  # as if the token named no scopes
        await tracker.async_cycle(SIM_NOW)

    status = tracker.car(VIN).status
    assert not location_allowed(tracker)
    assert status.battery_level is not None
    assert status.plugged_in is not None
    assert (status.latitude, status.at_home, status.shift_state) == (None, None, None)
    assert status.parked_seen_at == SIM_NOW


@pytest.mark.usefixtures("socket_enabled")
async def test_simulated_disabled_account() -> None:
    sim = FleetSimulator(
        ManualClock(SIM_NOW), vehicles=[SimVehicle(VIN, forced_state="online")]
    )
    sim.account_disabled = True
    async with simulated(sim) as (tracker, _):
        report = await tracker.async_cycle(SIM_NOW)
        assert tracker.usage_blocked_until == sim.account_disabled_until()
        # The next cycle checks the free list only.
        again = await tracker.async_cycle(SIM_NOW + 3600)

    assert (report.state_requests, report.data_requests) == (1, 1)
    assert (again.state_requests, again.data_requests) == (1, 0)
    assert tracker.car(VIN).status.state == "online"
