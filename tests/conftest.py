"""Shared fixtures for Tesla Scout & Worker tests."""

from __future__ import annotations

# Import our package first: Home Assistant's loader would otherwise resolve the
# top-level ``custom_components`` package from the test plugin's config dir.
import custom_components.tesla_scout_worker  # noqa: F401  # isort: skip

from collections.abc import Iterator
import time
from typing import Any

import freezegun.api
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component import common as ha_common
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.tesla_scout_worker.const import (
    CONF_API_BASE_URL,
    CONF_CLIENT_ID,
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_HOME_RADIUS,
    CONF_SHARE_TOKEN,
    CONF_TOKEN,
    CONF_TOKEN_URL,
    CONF_VINS,
    DOMAIN,
    EVENT_TYPE,
)

from . import make_jwt
from .fake_fleet import FakeCar, FakeFleet

ACCOUNT_SUB = "0f6b7a3c-3d5e-4a8b-9c1d-2e3f4a5b6c7d"
VIN = "LRWXF7EK4KC700000"
VIN_2 = "5YJ3E1EA1NF000002"
API_BASE_URL = "https://fleet-api.prd.eu.vn.cloud.tesla.com"
TOKEN_URL = "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token"
CLIENT_ID = "client-id-123"
HOME = (52.2297, 21.0122)
SCOPES = [
    "openid",
    "offline_access",
    "vehicle_device_data",
    "vehicle_location",
    "vehicle_cmds",
    "vehicle_charging_cmds",
]


def access_token(
    *, sub: str = ACCOUNT_SUB, region: str = "EU", scopes: list[str] | None = None
) -> str:
    """A Tesla-shaped access token for tests."""
    now = int(time.time())
    return make_jwt(
        {
            "iss": "https://fleet-auth.tesla.com/oauth2/v3/nts",
            "sub": sub,
            "aud": [API_BASE_URL],
            "ou_code": region,
            "scp": SCOPES if scopes is None else scopes,
            "iat": now,
            "exp": now + 28800,
        }
    )


def token_data(
    *, expires_in: float = 28800, refresh_token: str = "EU_refresh-1"
) -> dict[str, Any]:
    """``entry.data["token"]`` for a token that expires in ``expires_in`` seconds."""
    return {
        "access_token": access_token(),
        "refresh_token": refresh_token,
        "expires_in": 28800,
        "expires_at": time.time() + expires_in,
        "token_type": "Bearer",
    }


@pytest.fixture
def mock_config_entry() -> MockConfigEntry:
    """A config entry made by the manual (refresh token) path, one vehicle."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Test",
        unique_id=ACCOUNT_SUB,
        version=1,
        minor_version=1,
        data={
            CONF_TOKEN: token_data(),
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_API_BASE_URL: API_BASE_URL,
            CONF_TOKEN_URL: TOKEN_URL,
            CONF_VINS: [VIN],
        },
        options={
            CONF_HOME_LATITUDE: HOME[0],
            CONF_HOME_LONGITUDE: HOME[1],
            CONF_HOME_RADIUS: 100.0,
        },
    )


FIXED_START = "2026-12-02 12:00:00+00:00"
"""Where the clock of every Home Assistant-level test starts.

A Wednesday in December: 04:00 in US/Pacific (the test harness's time zone),
13:00 in Europe/Warsaw; far from midnight, the default ``failsafe_time``, and
from any DST night in either, so a test that lets hours pass crosses none.
"""


@pytest.fixture(autouse=True)
def fixed_start(request: pytest.FixtureRequest) -> None:
    """Start each test with a frozen clock at ``FIXED_START``, never the wall clock.

    A test that lets simulated time pass from "now" runs into whatever the day
    brings at that hour (the daily failsafe at local midnight). A test that
    sets its own start (``freezer.move_to`` or ``@pytest.mark.freeze_time``)
    still does. Tests without ``freezer`` keep the real clock (real servers
    and timeouts need it); ``time_passes_only_on_a_frozen_clock`` sees that
    they let no simulated time pass.
    """
    if "freezer" not in request.fixturenames:
        return
    freezer: FrozenDateTimeFactory = request.getfixturevalue("freezer")
    if request.node.get_closest_marker("freeze_time") is None:
        freezer.move_to(FIXED_START)


WARSAW_EVENING = "2026-12-02 17:00:00+01:00"
"""17:00 on a Wednesday in Warsaw, December 2026: the car has just come home."""


@pytest.fixture
async def warsaw_evening(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Home Assistant in Europe/Warsaw, the clock at ``WARSAW_EVENING``.

    A module opts in with ``pytestmark = pytest.mark.usefixtures("warsaw_evening")``.
    """
    await hass.config.async_set_time_zone("Europe/Warsaw")
    freezer.move_to(WARSAW_EVENING)


@pytest.fixture(autouse=True)
def time_passes_only_on_a_frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test that fires Home Assistant's timers on the wall clock.

    ``async_fire_time_changed`` (and its ``_exact`` variant) without a frozen
    clock runs the timers due between the real "now" and a later time: which
    daily timers that includes depends on the hour the suite runs.
    """
    fire = getattr(ha_common, "_async_fire_time_changed", None)
    if fire is None:  # A plugin release without it: nothing to guard.
        return

    def guarded(*args: Any, **kwargs: Any) -> None:
        if not freezegun.api.freeze_factories:
            pytest.fail(
                "time passes from the wall clock: request the `freezer` fixture "
                f"(the suite starts it at {FIXED_START})"
            )
        fire(*args, **kwargs)

    monkeypatch.setattr(ha_common, "_async_fire_time_changed", guarded)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load this custom integration in every test."""


@pytest.fixture(autouse=True)
def no_deprecation_reported(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail any test in which Home Assistant reports a deprecated use by us."""
    yield
    reported = [
        message
        for record in caplog.records
        if DOMAIN in (message := record.getMessage())
        and ("Detected that custom integration" in message or "deprecated" in message)
    ]
    assert reported == []


@pytest.fixture
def events(hass: HomeAssistant) -> list[dict[str, Any]]:
    """Every event of this integration on the bus, as its data."""
    seen: list[dict[str, Any]] = []

    @callback
    def listener(event: Event) -> None:
        seen.append(dict(event.data))

    hass.bus.async_listen(EVENT_TYPE, listener)
    return seen


@pytest.fixture
def fleet(aioclient_mock: AiohttpClientMocker) -> FakeFleet:
    """The fake Fleet API with one car, asleep at home."""
    fake = FakeFleet(API_BASE_URL)
    fake.add(FakeCar(vin=VIN))
    fake.install(aioclient_mock)
    return fake


@pytest.fixture
def car(fleet: FakeFleet) -> FakeCar:
    """The car online, parked and plugged in at home, 40 % of an 80 % limit."""
    car = fleet.cars[VIN]
    car.state = "online"
    car.battery_level = 40
    car.charge_limit_soc = 80
    return car


def token_calls(aioclient_mock: AiohttpClientMocker) -> int:
    """How many requests went to Tesla's token endpoint."""
    return sum(1 for call in aioclient_mock.mock_calls if str(call[1]) == TOKEN_URL)


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, fleet: FakeFleet
) -> MockConfigEntry:
    """Set up the integration with a valid token (no Tesla request needed)."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return mock_config_entry


@pytest.fixture
async def shared_entry(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, fleet: FakeFleet
) -> MockConfigEntry:
    """The loaded entry with token sharing switched on."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_SHARE_TOKEN: True}
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return mock_config_entry
