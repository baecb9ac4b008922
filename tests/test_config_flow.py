"""Tests of the config, reauth, reconfigure and options flows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from http import HTTPStatus
import json
from pathlib import Path
import re
import time
from typing import Any
from unittest.mock import AsyncMock, MagicMock, patch
from urllib.parse import parse_qs, urlparse

import homeassistant
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData, section
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import voluptuous as vol

from custom_components.tesla_scout_worker import config_flow
from custom_components.tesla_scout_worker.const import (
    CONF_API_BASE_URL,
    CONF_AUTH_IMPLEMENTATION,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_COMMAND_PROXY_CA_FILE,
    CONF_COMMAND_PROXY_URL,
    CONF_COMMAND_PROXY_VERIFY_SSL,
    CONF_FAILSAFE_TIME,
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_HOME_RADIUS,
    CONF_REFRESH_TOKEN,
    CONF_SCOUT_INTERVAL,
    CONF_SHARE_TOKEN,
    CONF_TOKEN,
    CONF_TOKEN_URL,
    CONF_VINS,
    CONF_WORKER_COOLDOWN,
    DOMAIN,
)
from custom_components.tesla_scout_worker.fleet.auth import (
    AUTHORIZE_URL,
    SCOPES,
)
from custom_components.tesla_scout_worker.fleet.errors import (
    InvalidClientError,
    LoginRequiredError,
    MalformedResponseError,
    MissingScopeError,
    NotRegisteredError,
    RateLimitedError,
    ServerError,
    TeslaConnectionError,
    TokenExpiredError,
    TokenRefreshFailedError,
    TokenRefreshRateLimitedError,
    WrongRegionError,
)
from custom_components.tesla_scout_worker.fleet.keys import (
    new_private_key,
    private_key_pem,
)
from custom_components.tesla_scout_worker.fleet.models import (
    FleetStatus,
    Token,
    Vehicle,
)
from custom_components.tesla_scout_worker.fleet.regions import REGION_BASE_URLS
from custom_components.tesla_scout_worker.options_flow import OptionsFlowHandler
from custom_components.tesla_scout_worker.virtual_key import (
    async_require_virtual_key,
    async_virtual_key,
)

from . import field_errors, load_json_fixture, make_jwt
from .conftest import (
    ACCOUNT_SUB,
    API_BASE_URL,
    CLIENT_ID,
    HOME,
    TOKEN_URL,
    VIN,
    VIN_2,
    access_token,
    token_data,
)

COMPONENT = Path(__file__).parent.parent / "custom_components" / DOMAIN
HA_STRINGS = Path(homeassistant.__file__).parent / "strings.json"
CLIENT_SECRET = "client-secret-456"
OLD_REFRESH_TOKEN = "EU_old-refresh-token"
ROTATED_REFRESH_TOKEN = "EU_rotated-refresh-token"
NA_URL = REGION_BASE_URLS["na"]
SIMULATOR_URL = "http://127.0.0.1:8080"
REDIRECT = "https://example.com/auth/external/callback"
NEW_HOME = {"latitude": 50.0647, "longitude": 19.945, "radius": 250.0}
VEHICLES = [
    Vehicle.from_dict(item) for item in load_json_fixture("vehicles.json")["response"]
]


def make_token(access: str | None = None) -> Token:
    """The rotated token the token endpoint hands back."""
    return Token(
        access_token=access_token() if access is None else access,
        refresh_token=ROTATED_REFRESH_TOKEN,
        expires_in=28800,
        expires_at=time.time() + 28800,
        token_type="Bearer",
    )


def manual_input(**overrides: Any) -> dict[str, Any]:
    """What the user types in the manual step."""
    return {
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_REFRESH_TOKEN: OLD_REFRESH_TOKEN,
        "advanced": {CONF_TOKEN_URL: TOKEN_URL},
    } | overrides


def suggested(result: ConfigFlowResult, key: str) -> Any:
    """The suggested value (or default) a form shows for ``key``."""
    schema = result["data_schema"]
    assert schema is not None
    for marker, value in schema.schema.items():
        if isinstance(value, section):
            try:
                return suggested({"data_schema": value.schema}, key)  # type: ignore[typeddict-item]
            except KeyError:
                continue
        if marker == key:
            description = marker.description or {}
            if "suggested_value" in description:
                return description["suggested_value"]
            if marker.default is not vol.UNDEFINED:
                return marker.default()
            return None
    raise KeyError(key)


def select_options(result: ConfigFlowResult, key: str) -> list[Any]:
    """The options of a select field."""
    schema = result["data_schema"]
    assert schema is not None
    for marker, value in schema.schema.items():
        if marker == key:
            return list(value.config["options"])
    raise KeyError(key)


@pytest.fixture(autouse=True)
async def mock_setup_entry(hass: HomeAssistant) -> AsyncIterator[AsyncMock]:
    """Keep the integration itself (and its HTTP views) out of these tests.

    A flow that ends in a reload schedules it; it runs before the patch ends,
    or the real integration would start after the test.
    """
    with (
        patch(
            "custom_components.tesla_scout_worker.async_setup",
            return_value=True,
            create=True,
        ),
        patch(
            "custom_components.tesla_scout_worker.async_setup_entry",
            return_value=True,
            create=True,
        ) as mock,
    ):
        yield mock
        await hass.async_block_till_done()


@pytest.fixture
def mock_refresh() -> Iterator[AsyncMock]:
    """The token endpoint, as the config flow calls it."""
    with patch.object(config_flow, "refresh_token", autospec=True) as mock:
        mock.return_value = make_token()
        yield mock


@pytest.fixture
def mock_fleet() -> Iterator[MagicMock]:
    """The Fleet API client class, as the config flow uses it."""
    with patch.object(config_flow, "TeslaFleetClient", autospec=True) as mock:
        mock.return_value.vehicles.return_value = list(VEHICLES)
        # Every car knows the key already (the key steps have their own tests).
        mock.return_value.fleet_status.return_value = FleetStatus(
            key_paired_vins=frozenset(v.vin for v in VEHICLES),
            unpaired_vins=frozenset(),
            protocol_required={},
        )
        yield mock


async def start_manual(hass: HomeAssistant) -> ConfigFlowResult:
    """Open the manual step from the menu."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "manual"}
    )


async def finish_vehicles(
    hass: HomeAssistant,
    result: ConfigFlowResult,
    vins: list[str] | None = None,
    home: dict[str, float] | None = None,
) -> ConfigFlowResult:
    """Pick vehicles and the home position (and name the key's domain).

    The first car accepts only signed commands (Tesla's real record): the key
    step follows, here answered without registering; the cars know the key.
    """
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vehicles"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN] if vins is None else vins, "home": home or NEW_HOME},
    )
    if result.get("step_id") != "virtual_key":
        return result
    return await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"key_domain": KEY_DOMAIN, "serve_key": False, "register_domain": False},
    )


KEY_DOMAIN = "home.example.com"


def expected_options() -> dict[str, float]:
    return {
        CONF_HOME_LATITUDE: NEW_HOME["latitude"],
        CONF_HOME_LONGITUDE: NEW_HOME["longitude"],
        CONF_HOME_RADIUS: NEW_HOME["radius"],
    }


# --- the menu and the manual path ------------------------------------------


async def test_user_step_is_a_menu(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "user"
    assert result["menu_options"] == ["pick_implementation", "manual"]


async def test_manual_full_flow(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    mock_setup_entry: AsyncMock,
) -> None:
    result = await start_manual(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"
    assert field_errors(result) == {}
    assert suggested(result, CONF_TOKEN_URL) == TOKEN_URL

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    mock_refresh.assert_awaited_once()
    assert mock_refresh.await_args is not None
    assert mock_refresh.await_args.kwargs == {
        "client_id": CLIENT_ID,
        "refresh_token": OLD_REFRESH_TOKEN,
        "client_secret": CLIENT_SECRET,
        "token_url": TOKEN_URL,
    }
    # The region comes from the token; the new access token lists the vehicles.
    assert mock_fleet.call_args.kwargs["api_base_url"] == API_BASE_URL
    provider = mock_fleet.call_args.kwargs["token_provider"]
    token = mock_refresh.return_value
    assert await provider() == token.access_token
    assert await provider(force_refresh=True) == token.access_token

    assert result["step_id"] == "vehicles"
    assert select_options(result, CONF_VINS) == [
        {"value": VIN, "label": "Test (…0000)"},
        {"value": VIN_2, "label": "Second (…0002)"},
    ]
    assert suggested(result, CONF_VINS) == [VIN, VIN_2]

    result = await finish_vehicles(hass, result, [VIN_2, VIN])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Test, Second"
    entry = result["result"]
    assert entry.unique_id == ACCOUNT_SUB
    assert entry.version == 1
    assert entry.minor_version == 1
    assert entry.data == {
        CONF_TOKEN: {
            "access_token": token.access_token,
            "refresh_token": ROTATED_REFRESH_TOKEN,
            "expires_in": 28800,
            "expires_at": token.expires_at,
            "token_type": "Bearer",
        },
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_TOKEN_URL: TOKEN_URL,
        CONF_API_BASE_URL: API_BASE_URL,
        CONF_VINS: [VIN, VIN_2],
    }
    assert entry.options == expected_options()
    assert OLD_REFRESH_TOKEN not in json.dumps(dict(entry.data))
    assert len(mock_setup_entry.mock_calls) == 1


async def test_manual_without_secret_custom_token_url(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """No secret is stored unless typed; a simulator's token URL is kept."""
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        manual_input(
            **{
                CONF_CLIENT_SECRET: "  ",
                "advanced": {CONF_TOKEN_URL: f"{SIMULATOR_URL}/oauth2/v3/token/"},
            }
        ),
    )
    assert mock_refresh.await_args is not None
    assert mock_refresh.await_args.kwargs["client_secret"] is None
    result = await finish_vehicles(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Test"
    assert CONF_CLIENT_SECRET not in result["data"]
    assert CONF_AUTH_IMPLEMENTATION not in result["data"]
    assert result["data"][CONF_TOKEN_URL] == f"{SIMULATOR_URL}/oauth2/v3/token"
    assert result["data"][CONF_VINS] == [VIN]


@pytest.mark.parametrize(
    ("error", "field", "key"),
    [
        (
            LoginRequiredError(status=401, error="login_required"),
            CONF_REFRESH_TOKEN,
            "invalid_auth",
        ),
        (
            InvalidClientError(status=401, error="invalid_client"),
            CONF_CLIENT_ID,
            "invalid_client",
        ),
        (TeslaConnectionError("timeout"), "base", "cannot_connect"),
        (ServerError(status=503), "base", "cannot_connect"),
        (RateLimitedError(retry_after=30), "base", "cannot_connect"),
        (MalformedResponseError("not json"), "base", "unknown"),
        (RuntimeError("boom"), "base", "unknown"),
    ],
)
async def test_manual_errors_and_recovery(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    error: Exception,
    field: str,
    key: str,
) -> None:
    result = await start_manual(hass)
    mock_refresh.side_effect = error
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"
    assert field_errors(result) == {field: key}
    # What the user typed is kept, but tokens and secrets are not sent back.
    assert suggested(result, CONF_CLIENT_ID) == CLIENT_ID
    assert suggested(result, CONF_TOKEN_URL) == TOKEN_URL
    assert suggested(result, CONF_REFRESH_TOKEN) is None
    assert suggested(result, CONF_CLIENT_SECRET) is None
    mock_fleet.assert_not_called()

    mock_refresh.side_effect = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    result = await finish_vehicles(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_TOKEN]["refresh_token"] == ROTATED_REFRESH_TOKEN


async def test_manual_unknown_error_is_logged(
    hass: HomeAssistant, mock_refresh: AsyncMock, caplog: pytest.LogCaptureFixture
) -> None:
    result = await start_manual(hass)
    mock_refresh.side_effect = RuntimeError("boom")
    await hass.config_entries.flow.async_configure(result["flow_id"], manual_input())
    assert "Unexpected error while refreshing the Tesla token" in caplog.text
    assert OLD_REFRESH_TOKEN not in caplog.text
    assert CLIENT_SECRET not in caplog.text


async def test_manual_invalid_token_url(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        manual_input(advanced={CONF_TOKEN_URL: "ftp://tesla.example/token"}),
    )
    assert field_errors(result) == {CONF_TOKEN_URL: "invalid_url"}
    # The folded "advanced" section opens and carries the error where it shows.
    assert (result["errors"] or {})["advanced"] == "invalid_url"
    schema = result["data_schema"]
    assert schema is not None
    assert schema.schema["advanced"].options["collapsed"] is False
    mock_refresh.assert_not_called()

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(advanced={CONF_TOKEN_URL: "not a url"})
    )
    assert field_errors(result) == {CONF_TOKEN_URL: "invalid_url"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(advanced={CONF_TOKEN_URL: "http://[::1"})
    )
    assert field_errors(result) == {CONF_TOKEN_URL: "invalid_url"}
    mock_refresh.assert_not_called()

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(advanced={})
    )
    assert result["step_id"] == "vehicles"
    assert mock_refresh.await_args is not None
    assert mock_refresh.await_args.kwargs["token_url"] == TOKEN_URL


async def test_manual_already_configured_keeps_rotated_token(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
) -> None:
    """The same account aborts, but the token used up here is not lost."""
    mock_config_entry.add_to_hass(hass)
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(**{CONF_CLIENT_ID: "other-client"})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    mock_fleet.assert_not_called()
    assert mock_config_entry.data[CONF_TOKEN] == mock_refresh.return_value.as_dict()
    assert mock_config_entry.data[CONF_CLIENT_ID] == "other-client"
    assert mock_config_entry.data[CONF_CLIENT_SECRET] == CLIENT_SECRET
    assert mock_config_entry.data[CONF_VINS] == [VIN]
    assert mock_config_entry.data[CONF_API_BASE_URL] == API_BASE_URL
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_already_configured_reloads_loaded_entry(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_refresh: AsyncMock,
    mock_setup_entry: AsyncMock,
) -> None:
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(mock_setup_entry.mock_calls) == 1

    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    await hass.async_block_till_done()
    assert result["reason"] == "already_configured"
    assert len(mock_setup_entry.mock_calls) == 2


# --- shared steps: account, region, vehicles ---------------------------------


async def test_opaque_token_region_step_and_vin_unique_id(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """A token that is not a JWT: choose the API URL; VINs name the account."""
    mock_refresh.return_value = make_token("opaque-simulator-token")
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "region"
    assert field_errors(result) == {}
    assert select_options(result, "region") == ["na", "eu", "cn", "custom"]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "custom"}
    )
    assert field_errors(result) == {CONF_API_BASE_URL: "invalid_url"}
    mock_fleet.assert_not_called()

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "custom", CONF_API_BASE_URL: f"{SIMULATOR_URL}/"}
    )
    assert mock_fleet.call_args.kwargs["api_base_url"] == SIMULATOR_URL
    result = await finish_vehicles(hass, result, [VIN, VIN_2])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == f"{VIN_2},{VIN}"
    assert result["data"][CONF_API_BASE_URL] == SIMULATOR_URL
    assert result["data"][CONF_TOKEN]["access_token"] == "opaque-simulator-token"


async def test_opaque_token_already_configured(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    existing = MockConfigEntry(
        domain=DOMAIN,
        unique_id=VIN,
        data={CONF_TOKEN: token_data(), CONF_VINS: [VIN], CONF_CLIENT_ID: "old"},
    )
    existing.add_to_hass(hass)
    mock_refresh.return_value = make_token("opaque-simulator-token")
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "eu"}
    )
    result = await finish_vehicles(hass, result, [VIN])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert existing.data[CONF_TOKEN]["access_token"] == "opaque-simulator-token"
    assert existing.data[CONF_CLIENT_ID] == CLIENT_ID


async def test_token_without_region_asks_for_it(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    mock_refresh.return_value = make_token(access_token(region="mars"))
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["step_id"] == "region"
    mock_fleet.assert_not_called()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "na"}
    )
    assert mock_fleet.call_args.kwargs["api_base_url"] == NA_URL
    result = await finish_vehicles(hass, result)
    assert result["data"][CONF_API_BASE_URL] == NA_URL
    assert result["result"].unique_id == ACCOUNT_SUB


async def test_wrong_region_switches_once(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """A 421 naming the right region is followed without asking."""
    mock_fleet.return_value.vehicles.side_effect = [
        WrongRegionError(suggested_url=f"{NA_URL}/"),
        list(VEHICLES),
    ]
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert [c.kwargs["api_base_url"] for c in mock_fleet.call_args_list] == [
        API_BASE_URL,
        NA_URL,
    ]
    result = await finish_vehicles(hass, result)
    assert result["data"][CONF_API_BASE_URL] == NA_URL


@pytest.mark.parametrize(
    "error",
    [
        WrongRegionError(),
        WrongRegionError(suggested_url=API_BASE_URL),
        WrongRegionError(suggested_url="nonsense"),
    ],
)
async def test_wrong_region_without_usable_suggestion(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    error: WrongRegionError,
) -> None:
    mock_fleet.return_value.vehicles.side_effect = [error, list(VEHICLES)]
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["step_id"] == "region"
    assert field_errors(result) == {"base": "wrong_region"}
    assert suggested(result, "region") == "eu"
    assert mock_fleet.call_count == 1

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "na"}
    )
    result = await finish_vehicles(hass, result)
    assert result["data"][CONF_API_BASE_URL] == NA_URL


async def test_second_wrong_region_is_an_error(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """The automatic switch happens once, never in a loop."""
    mock_fleet.return_value.vehicles.side_effect = [
        WrongRegionError(suggested_url=NA_URL),
        WrongRegionError(suggested_url=API_BASE_URL),
    ]
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert field_errors(result) == {"base": "wrong_region"}
    assert mock_fleet.call_count == 2


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (TeslaConnectionError("timeout"), "cannot_connect"),
        (ServerError(status=503), "cannot_connect"),
        (RateLimitedError(retry_after=10), "cannot_connect"),
        (NotRegisteredError(status=412), "not_registered"),
        (MissingScopeError(status=403), "missing_scope"),
        (TokenExpiredError(status=401), "invalid_auth"),
        (MalformedResponseError("html"), "unknown"),
        (RuntimeError("boom"), "unknown"),
        ([], "no_vehicles"),
    ],
)
async def test_vehicle_list_errors_and_recovery(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    error: Exception | list[Vehicle],
    key: str,
) -> None:
    vehicles = mock_fleet.return_value.vehicles
    if isinstance(error, list):
        vehicles.return_value = error
    else:
        vehicles.side_effect = error
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "region"
    assert field_errors(result) == {"base": key}
    assert suggested(result, "region") == "eu"

    vehicles.side_effect = None
    vehicles.return_value = list(VEHICLES)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "eu"}
    )
    result = await finish_vehicles(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # The token was refreshed once, not again for the retry.
    mock_refresh.assert_awaited_once()


async def test_custom_url_error_keeps_the_url(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    mock_refresh.return_value = make_token("opaque")
    mock_fleet.return_value.vehicles.side_effect = TeslaConnectionError("refused")
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "custom", CONF_API_BASE_URL: SIMULATOR_URL}
    )
    assert field_errors(result) == {"base": "cannot_connect"}
    assert suggested(result, "region") == "custom"
    assert suggested(result, CONF_API_BASE_URL) == SIMULATOR_URL


async def test_missing_location_scope_warns(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    scopes = [scope for scope in SCOPES if scope != "vehicle_location"]
    mock_refresh.return_value = make_token(access_token(scopes=scopes))
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "location_scope"
    mock_fleet.assert_not_called()

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await finish_vehicles(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_empty_scope_list_warns(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    mock_refresh.return_value = make_token(access_token(scopes=[]))
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["step_id"] == "location_scope"


async def test_scope_string_with_location_needs_no_warning(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """``scp`` may be a space-separated string."""
    claims = {"sub": ACCOUNT_SUB, "ou_code": "EU", "scp": "openid vehicle_location"}
    mock_refresh.return_value = make_token(make_jwt(claims))
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["step_id"] == "vehicles"


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({CONF_VINS: [], "home": NEW_HOME}, {CONF_VINS: "no_vehicle_selected"}),
        (
            {CONF_VINS: [VIN], "home": NEW_HOME | {"radius": 0}},
            {"home": "invalid_radius"},
        ),
        (
            {CONF_VINS: [], "home": NEW_HOME | {"latitude": 91}},
            {CONF_VINS: "no_vehicle_selected", "home": "invalid_location"},
        ),
        (
            {CONF_VINS: [VIN], "home": NEW_HOME | {"longitude": -181}},
            {"home": "invalid_location"},
        ),
    ],
)
async def test_vehicles_step_errors(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    user_input: dict[str, Any],
    errors: dict[str, str],
) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input
    )
    assert result["step_id"] == "vehicles"
    assert field_errors(result) == errors
    assert suggested(result, "home") == user_input["home"]

    result = await finish_vehicles(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_vehicles_home_defaults(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """Home defaults to Home Assistant's home and the radius of zone.home."""
    hass.states.async_set("zone.home", "0", {"radius": 250, "latitude": 1.0})
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert suggested(result, "home") == {
        "latitude": hass.config.latitude,
        "longitude": hass.config.longitude,
        "radius": 250.0,
    }
    # Without a radius, the selector's value falls back to 100 m.
    result = await finish_vehicles(
        hass, result, home={"latitude": HOME[0], "longitude": HOME[1]}
    )
    assert result["options"] == {
        CONF_HOME_LATITUDE: HOME[0],
        CONF_HOME_LONGITUDE: HOME[1],
        CONF_HOME_RADIUS: 100.0,
    }


async def test_vehicles_home_default_radius_without_zone(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert suggested(result, "home")["radius"] == 100.0


async def test_vehicle_without_name(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    mock_fleet.return_value.vehicles.return_value = [
        Vehicle.from_dict({"vin": VIN, "state": "asleep"})
    ]
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert select_options(result, CONF_VINS) == [
        {"value": VIN, "label": "Tesla (…0000)"}
    ]
    result = await finish_vehicles(hass, result)
    assert result["title"] == "Tesla"


# --- the OAuth2 path -----------------------------------------------------------


@pytest.fixture
async def credentials(hass: HomeAssistant) -> None:
    """Application credentials for this integration."""
    assert await async_setup_component(hass, "application_credentials", {})
    await async_import_client_credential(
        hass, DOMAIN, ClientCredential(CLIENT_ID, CLIENT_SECRET), DOMAIN
    )


async def oauth_callback(
    hass: HomeAssistant,
    result: ConfigFlowResult,
    hass_client_no_auth: ClientSessionGenerator,
) -> dict[str, list[str]]:
    """Follow Tesla's redirect back to Home Assistant; the authorize query."""
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    state = config_entry_oauth2_flow._encode_jwt(
        hass, {"flow_id": result["flow_id"], "redirect_uri": REDIRECT}
    )
    query = parse_qs(urlparse(result["url"]).query)
    assert query["state"][0] == state
    client = await hass_client_no_auth()
    response = await client.get(f"/auth/external/callback?code=abcd&state={state}")
    assert response.status == 200
    return query


def mock_token_endpoint(
    aioclient_mock: AiohttpClientMocker, access: str | None = None, **extra: Any
) -> None:
    aioclient_mock.clear_requests()
    aioclient_mock.post(
        TOKEN_URL,
        json={
            "access_token": access_token() if access is None else access,
            "refresh_token": ROTATED_REFRESH_TOKEN,
            "id_token": "id-token",
            "expires_in": 28800,
            "token_type": "Bearer",
            "state": "x",
        }
        | extra,
    )


@pytest.mark.usefixtures("current_request_with_host", "credentials")
async def test_oauth_full_flow(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_setup_entry: AsyncMock,
) -> None:
    """Sign in with Tesla; the real client lists the vehicles."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "pick_implementation"}
    )
    assert result["url"].startswith(AUTHORIZE_URL)
    query = await oauth_callback(hass, result, hass_client_no_auth)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT]
    assert query["response_type"] == ["code"]
    assert query["scope"] == [" ".join(SCOPES)]
    assert query["prompt_missing_scopes"] == ["true"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0]

    # The token Tesla gives (its times are of this second: compared as given).
    token = access_token()
    mock_token_endpoint(aioclient_mock, token)
    aioclient_mock.get(
        f"{API_BASE_URL}/api/1/vehicles", json=load_json_fixture("vehicles.json")
    )
    aioclient_mock.post(
        f"{API_BASE_URL}/api/1/vehicles/fleet_status",
        json=load_json_fixture("fleet_status.json"),
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"])

    method, url, form, headers = aioclient_mock.mock_calls[0][:4]
    assert (method, str(url)) == ("POST", TOKEN_URL)
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "abcd"
    assert form["code_verifier"]
    assert "audience" not in form
    _, url, _, headers = aioclient_mock.mock_calls[1][:4]
    assert str(url) == f"{API_BASE_URL}/api/1/vehicles"
    assert headers["Authorization"] == f"Bearer {token}"

    result = await finish_vehicles(hass, result, [VIN])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Test"
    assert result["result"].unique_id == ACCOUNT_SUB
    data = result["data"]
    assert data[CONF_TOKEN]["expires_at"] == pytest.approx(time.time() + 28800, abs=30)
    assert data == {
        CONF_AUTH_IMPLEMENTATION: DOMAIN,
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_TOKEN_URL: TOKEN_URL,
        CONF_TOKEN: {
            "access_token": token,
            "refresh_token": ROTATED_REFRESH_TOKEN,
            "expires_in": 28800,
            "expires_at": data[CONF_TOKEN]["expires_at"],
            "token_type": "Bearer",
        },
        CONF_API_BASE_URL: API_BASE_URL,
        CONF_VINS: [VIN],
    }
    assert result["options"] == expected_options()
    assert len(mock_setup_entry.mock_calls) == 1


@pytest.mark.usefixtures("current_request_with_host", "credentials")
async def test_oauth_already_configured(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A second login of the account updates the entry's login in place."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "pick_implementation"}
    )
    await oauth_callback(hass, result, hass_client_no_auth)
    mock_token_endpoint(aioclient_mock)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert mock_config_entry.data[CONF_AUTH_IMPLEMENTATION] == DOMAIN
    assert mock_config_entry.data[CONF_TOKEN]["refresh_token"] == ROTATED_REFRESH_TOKEN


@pytest.mark.usefixtures("current_request_with_host", "credentials")
async def test_oauth_token_without_refresh_token(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "pick_implementation"}
    )
    await oauth_callback(hass, result, hass_client_no_auth)
    mock_token_endpoint(aioclient_mock, refresh_token="")
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "oauth_error"


@pytest.mark.usefixtures("current_request_with_host")
async def test_oauth_without_credentials(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "pick_implementation"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "missing_credentials"


class ForeignImplementation(config_entry_oauth2_flow.AbstractOAuth2Implementation):
    """An implementation that is not a local OAuth2 client (no client id)."""

    @property
    def name(self) -> str:
        return "Foreign"

    @property
    def domain(self) -> str:
        return "foreign"

    async def async_generate_authorize_url(self, flow_id: str) -> str:
        return "https://example.com/authorize"

    async def async_resolve_external_data(self, external_data: Any) -> dict[str, Any]:
        return {"access_token": access_token(), "refresh_token": "r", "expires_in": 60}

    async def _async_refresh_token(self, token: dict[str, Any]) -> dict[str, Any]:
        return token


@pytest.mark.usefixtures("current_request_with_host")
async def test_oauth_foreign_implementation_is_refused(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """Without a client id the entry could never refresh its token."""
    config_entry_oauth2_flow.async_register_implementation(
        hass, DOMAIN, ForeignImplementation()
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "pick_implementation"}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    state = config_entry_oauth2_flow._encode_jwt(
        hass, {"flow_id": result["flow_id"], "redirect_uri": REDIRECT}
    )
    client = await hass_client_no_auth()
    await client.get(f"/auth/external/callback?code=abcd&state={state}")
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "oauth_error"


# --- reauth -------------------------------------------------------------------


async def test_reauth_manual(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    mock_setup_entry: AsyncMock,
) -> None:
    mock_config_entry.add_to_hass(hass)
    entry_id = mock_config_entry.entry_id
    result = await mock_config_entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] == {"name": "Test"}
    assert suggested(result, CONF_CLIENT_ID) == CLIENT_ID

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_CLIENT_ID: CLIENT_ID, CONF_REFRESH_TOKEN: f" {OLD_REFRESH_TOKEN} "},
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert mock_refresh.await_args is not None
    assert mock_refresh.await_args.kwargs == {
        "client_id": CLIENT_ID,
        "refresh_token": OLD_REFRESH_TOKEN,
        "client_secret": None,
        "token_url": TOKEN_URL,
    }
    # Replaced in place: same entry, rotated token, everything else kept.
    assert [e.entry_id for e in hass.config_entries.async_entries(DOMAIN)] == [entry_id]
    assert mock_config_entry.data == {
        CONF_TOKEN: mock_refresh.return_value.as_dict(),
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_TOKEN_URL: TOKEN_URL,
        CONF_API_BASE_URL: API_BASE_URL,
        CONF_VINS: [VIN],
    }
    assert mock_config_entry.unique_id == ACCOUNT_SUB
    mock_fleet.assert_not_called()
    assert len(mock_setup_entry.mock_calls) == 1


@pytest.mark.parametrize(
    ("user_input", "expected_client", "expected_secret"),
    [
        # Same client, no secret typed: the stored secret stays.
        ({CONF_CLIENT_ID: CLIENT_ID}, CLIENT_ID, "stored-secret"),
        # A new secret replaces it.
        ({CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: "new"}, CLIENT_ID, "new"),
        # Another client: the old client's secret means nothing to it.
        ({CONF_CLIENT_ID: "other-client"}, "other-client", None),
    ],
)
@pytest.mark.usefixtures("fleet")  # the reload after reauth talks to Tesla
async def test_reauth_manual_client_secret(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    user_input: dict[str, str],
    expected_client: str,
    expected_secret: str | None,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Test",
        unique_id=ACCOUNT_SUB,
        data={
            CONF_TOKEN: token_data(),
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_CLIENT_SECRET: "stored-secret",
            CONF_API_BASE_URL: API_BASE_URL,
            CONF_VINS: [VIN],
        },
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input | {CONF_REFRESH_TOKEN: OLD_REFRESH_TOKEN}
    )
    assert result["reason"] == "reauth_successful"
    assert mock_refresh.await_args is not None
    assert mock_refresh.await_args.kwargs["client_secret"] == expected_secret
    assert entry.data[CONF_CLIENT_ID] == expected_client
    assert entry.data.get(CONF_CLIENT_SECRET) == expected_secret
    # An entry made before token_url was stored gets Tesla's default.
    assert mock_refresh.await_args.kwargs["token_url"] == TOKEN_URL
    assert entry.data[CONF_TOKEN_URL] == TOKEN_URL
    # The entry is set up again with the new credentials.
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_manual_wrong_account(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_refresh: AsyncMock
) -> None:
    mock_config_entry.add_to_hass(hass)
    before = dict(mock_config_entry.data)
    mock_refresh.return_value = make_token(access_token(sub="someone-else"))
    result = await mock_config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_CLIENT_ID: CLIENT_ID, CONF_REFRESH_TOKEN: OLD_REFRESH_TOKEN},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert dict(mock_config_entry.data) == before


async def test_reauth_manual_invalid_token_then_recovery(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_refresh: AsyncMock
) -> None:
    mock_config_entry.add_to_hass(hass)
    mock_refresh.side_effect = LoginRequiredError(status=401, error="login_required")
    result = await mock_config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_CLIENT_ID: "typo-client", CONF_REFRESH_TOKEN: "used-token"},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert field_errors(result) == {CONF_REFRESH_TOKEN: "invalid_auth"}
    assert suggested(result, CONF_CLIENT_ID) == "typo-client"
    assert suggested(result, CONF_REFRESH_TOKEN) is None
    assert mock_config_entry.data[CONF_TOKEN]["refresh_token"] == "EU_refresh-1"

    mock_refresh.side_effect = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_CLIENT_ID: CLIENT_ID, CONF_REFRESH_TOKEN: OLD_REFRESH_TOKEN},
    )
    assert result["reason"] == "reauth_successful"
    assert mock_config_entry.data[CONF_TOKEN]["refresh_token"] == ROTATED_REFRESH_TOKEN


async def test_reauth_opaque_tokens_cannot_be_compared(
    hass: HomeAssistant, mock_refresh: AsyncMock
) -> None:
    """Without a ``sub`` in the tokens the account cannot be checked: accept."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=VIN,
        data={
            CONF_TOKEN: token_data() | {"access_token": "opaque-old"},
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_API_BASE_URL: SIMULATOR_URL,
            CONF_TOKEN_URL: f"{SIMULATOR_URL}/token",
            CONF_VINS: [VIN],
        },
    )
    entry.add_to_hass(hass)
    mock_refresh.return_value = make_token(access_token(sub="a-real-account"))
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_CLIENT_ID: CLIENT_ID, CONF_REFRESH_TOKEN: OLD_REFRESH_TOKEN},
    )
    assert result["reason"] == "reauth_successful"
    assert mock_refresh.await_args is not None
    assert mock_refresh.await_args.kwargs["token_url"] == f"{SIMULATOR_URL}/token"
    assert entry.data[CONF_TOKEN_URL] == f"{SIMULATOR_URL}/token"


def oauth_entry(auth_implementation: str = DOMAIN) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Test",
        unique_id=ACCOUNT_SUB,
        data={
            CONF_AUTH_IMPLEMENTATION: auth_implementation,
            CONF_TOKEN: token_data(),
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_TOKEN_URL: TOKEN_URL,
            CONF_API_BASE_URL: API_BASE_URL,
            CONF_VINS: [VIN],
        },
        options={CONF_HOME_RADIUS: 80.0},
    )


@pytest.mark.usefixtures("current_request_with_host", "credentials")
@pytest.mark.parametrize("auth_implementation", [DOMAIN, "replaced-credentials"])
async def test_reauth_oauth(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_setup_entry: AsyncMock,
    auth_implementation: str,
) -> None:
    """Sign in again; deleted credentials fall back to picking another set."""
    entry = oauth_entry(auth_implementation)
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["data_schema"] is None

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await oauth_callback(hass, result, hass_client_no_auth)
    mock_token_endpoint(aioclient_mock)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_AUTH_IMPLEMENTATION] == DOMAIN
    assert entry.data[CONF_TOKEN]["refresh_token"] == ROTATED_REFRESH_TOKEN
    assert "id_token" not in entry.data[CONF_TOKEN]
    assert entry.data[CONF_VINS] == [VIN]
    assert entry.options == {CONF_HOME_RADIUS: 80.0}
    assert len(mock_setup_entry.mock_calls) == 1


@pytest.mark.usefixtures("current_request_with_host", "credentials")
async def test_reauth_oauth_wrong_account(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    entry = oauth_entry()
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await oauth_callback(hass, result, hass_client_no_auth)
    mock_token_endpoint(aioclient_mock, access_token(sub="someone-else"))
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert entry.data[CONF_TOKEN]["refresh_token"] == "EU_refresh-1"


# --- reconfigure --------------------------------------------------------------


async def test_reconfigure(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    mock_setup_entry: AsyncMock,
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, "tariff": "g12w"}
    )
    token_before = dict(mock_config_entry.data[CONF_TOKEN])
    result = await mock_config_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert field_errors(result) == {}
    assert suggested(result, CONF_VINS) == [VIN]
    assert suggested(result, CONF_API_BASE_URL) == API_BASE_URL
    assert suggested(result, "home") == {
        "latitude": HOME[0],
        "longitude": HOME[1],
        "radius": 100.0,
    }
    assert [o["value"] for o in select_options(result, CONF_VINS)] == [VIN, VIN_2]
    kwargs = mock_fleet.call_args.kwargs
    assert kwargs["api_base_url"] == API_BASE_URL
    assert await kwargs["token_provider"]() == token_before["access_token"]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN_2, VIN], CONF_API_BASE_URL: f"{NA_URL}/", "home": NEW_HOME},
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert mock_fleet.call_args.kwargs["api_base_url"] == NA_URL
    assert mock_config_entry.data[CONF_VINS] == [VIN, VIN_2]
    assert mock_config_entry.data[CONF_API_BASE_URL] == NA_URL
    assert mock_config_entry.data[CONF_TOKEN] == token_before
    assert mock_config_entry.unique_id == ACCOUNT_SUB
    assert mock_config_entry.options == {**expected_options(), "tariff": "g12w"}
    mock_refresh.assert_not_called()
    assert len(mock_setup_entry.mock_calls) == 1


async def test_reconfigure_refuses_a_token_of_another_account(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_fleet: MagicMock,
    mock_setup_entry: AsyncMock,
) -> None:
    """The stored token's subject must still be the entry's account."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, unique_id="another-sub")
    result = await mock_config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: API_BASE_URL, "home": NEW_HOME},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert mock_config_entry.options[CONF_HOME_LATITUDE] == HOME[0]
    assert mock_setup_entry.mock_calls == []


async def test_reconfigure_errors_and_recovery(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_fleet: MagicMock,
) -> None:
    mock_config_entry.add_to_hass(hass)
    vehicles = mock_fleet.return_value.vehicles
    vehicles.side_effect = TeslaConnectionError("down")
    result = await mock_config_entry.start_reconfigure_flow(hass)
    assert field_errors(result) == {"base": "cannot_connect"}
    # The stored vehicles can still be kept.
    assert select_options(result, CONF_VINS) == [{"value": VIN, "label": "…0000"}]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_VINS: [],
            CONF_API_BASE_URL: "nonsense",
            "home": NEW_HOME | {"radius": -5},
        },
    )
    assert field_errors(result) == {
        CONF_VINS: "no_vehicle_selected",
        CONF_API_BASE_URL: "invalid_url",
        "home": "invalid_radius",
    }
    assert suggested(result, CONF_API_BASE_URL) == "nonsense"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_VINS: [VIN],
            CONF_API_BASE_URL: API_BASE_URL,
            "home": NEW_HOME | {"latitude": 99},
        },
    )
    assert field_errors(result) == {"home": "invalid_location"}
    assert mock_fleet.call_count == 1

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: API_BASE_URL, "home": NEW_HOME},
    )
    assert field_errors(result) == {"base": "cannot_connect"}

    vehicles.side_effect = None
    vehicles.return_value = [VEHICLES[1]]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: API_BASE_URL, "home": NEW_HOME},
    )
    assert field_errors(result) == {CONF_VINS: "vehicle_not_found"}

    vehicles.return_value = list(VEHICLES)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: API_BASE_URL, "home": NEW_HOME},
    )
    assert result["reason"] == "reconfigure_successful"


async def test_reconfigure_follows_wrong_region(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_fleet: MagicMock
) -> None:
    mock_config_entry.add_to_hass(hass)
    result = await mock_config_entry.start_reconfigure_flow(hass)
    mock_fleet.return_value.vehicles.side_effect = [
        WrongRegionError(suggested_url=NA_URL),
        list(VEHICLES),
    ]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: API_BASE_URL, "home": NEW_HOME},
    )
    assert result["reason"] == "reconfigure_successful"
    assert mock_config_entry.data[CONF_API_BASE_URL] == NA_URL


def opaque_entry(unique_id: str, vins: list[str]) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=unique_id,
        data={
            CONF_TOKEN: token_data() | {"access_token": "opaque"},
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_API_BASE_URL: SIMULATOR_URL,
            CONF_VINS: vins,
        },
    )


async def test_reconfigure_opaque_token_updates_unique_id(
    hass: HomeAssistant, mock_fleet: MagicMock
) -> None:
    entry = opaque_entry(VIN, [VIN])
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN, VIN_2], CONF_API_BASE_URL: SIMULATOR_URL, "home": NEW_HOME},
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == f"{VIN_2},{VIN}"


async def test_reconfigure_opaque_token_keeps_own_unique_id(
    hass: HomeAssistant, mock_fleet: MagicMock
) -> None:
    entry = opaque_entry(VIN, [VIN])
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: SIMULATOR_URL, "home": NEW_HOME},
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == VIN


async def test_reconfigure_opaque_token_conflict(
    hass: HomeAssistant, mock_fleet: MagicMock
) -> None:
    entry = opaque_entry(VIN, [VIN])
    entry.add_to_hass(hass)
    # Known by VIN_2, whose car has since left it (a gone car removed): the
    # car may be chosen, but the account it names is another entry.
    other = opaque_entry(VIN_2, [])
    other.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN_2], CONF_API_BASE_URL: SIMULATOR_URL, "home": NEW_HOME},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_VINS] == [VIN]
    assert entry.unique_id == VIN


# --- options ------------------------------------------------------------------


CHARGING_G12 = {
    "tariff": "g12",
    "battery_capacity": 75,
    "charger_power": 11,
    "charging_efficiency": 90,
}


def options_input(**overrides: Any) -> dict[str, Any]:
    return {
        "home": NEW_HOME,
        CONF_SCOUT_INTERVAL: 20,
        CONF_WORKER_COOLDOWN: 0,
        CONF_FAILSAFE_TIME: "07:30:00",
        "command_proxy": {
            CONF_COMMAND_PROXY_URL: "https://192.168.1.10:4443/",
            CONF_COMMAND_PROXY_VERIFY_SSL: False,
        },
        CONF_SHARE_TOKEN: True,
        "charging": {
            "tariff": "g12",
            "battery_capacity": 75,
            "charger_power": 11,
            "charging_efficiency": 90,
        },
    } | overrides


@pytest.fixture
async def options_entry(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, "future_option": "kept"},
    )
    return mock_config_entry


async def test_options_defaults_and_success(
    hass: HomeAssistant, options_entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert suggested(result, "home") == {
        "latitude": HOME[0],
        "longitude": HOME[1],
        "radius": 100.0,
    }
    assert suggested(result, CONF_SCOUT_INTERVAL) == 15
    assert suggested(result, CONF_WORKER_COOLDOWN) == 10
    assert suggested(result, CONF_FAILSAFE_TIME) == "00:00:00"
    assert suggested(result, CONF_COMMAND_PROXY_URL) is None
    assert suggested(result, CONF_COMMAND_PROXY_VERIFY_SSL) is True
    assert suggested(result, CONF_SHARE_TOKEN) is False

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input()
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert options_entry.options == {
        **expected_options(),
        CONF_SCOUT_INTERVAL: 20,
        CONF_WORKER_COOLDOWN: 0,
        CONF_FAILSAFE_TIME: "07:30",
        CONF_COMMAND_PROXY_URL: "https://192.168.1.10:4443",
        CONF_COMMAND_PROXY_VERIFY_SSL: False,
        CONF_SHARE_TOKEN: True,
        "tariff": "g12",
        "battery_capacity": 75.0,
        "charger_power": 11.0,
        "charging_efficiency": 0.9,
        "max_charge_windows": 1,
        "split_min_saving": 1.0,
        # Options the form does not know survive.
        "future_option": "kept",
    }


async def test_options_split_plans_price_attribute_and_extra_days_round_trip(
    hass: HomeAssistant, options_entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    assert suggested(result, "max_charge_windows") == 1
    assert suggested(result, "split_min_saving") == 1.0
    charging = CHARGING_G12 | {
        "tariff": "g12w",
        "extra_offpeak_dates": "2026-12-31\n2026-12-24, 2026-12-31 ;2027-01-02",
        "max_charge_windows": 3,
        "split_min_saving": 0.5,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(charging=charging)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    options = options_entry.options
    # Sorted, unique, ISO: what the tariff is built from.
    assert options["extra_offpeak_dates"] == ["2026-12-24", "2026-12-31", "2027-01-02"]
    assert (options["max_charge_windows"], options["split_min_saving"]) == (3, 0.5)

    # Shown again as the user would type them; cleared by emptying the field.
    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    assert suggested(result, "extra_offpeak_dates") == (
        "2026-12-24\n2026-12-31\n2027-01-02"
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        options_input(
            charging=CHARGING_G12
            | {
                "tariff": "price_entity",
                "price_entity": "sensor.prices",
                "price_attribute": " forecast ",
            }
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "extra_offpeak_dates" not in options_entry.options
    assert options_entry.options["price_attribute"] == "forecast"


async def test_options_stored_values_are_shown_and_can_be_cleared(
    hass: HomeAssistant, options_entry: MockConfigEntry, tmp_path: Path
) -> None:
    ca_file = tmp_path / "proxy-ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        options_input(
            command_proxy={
                CONF_COMMAND_PROXY_URL: "https://proxy.local:4443",
                CONF_COMMAND_PROXY_CA_FILE: str(ca_file),
            }
        ),
    )
    assert options_entry.options[CONF_COMMAND_PROXY_CA_FILE] == str(ca_file)
    assert options_entry.options[CONF_COMMAND_PROXY_VERIFY_SSL] is True

    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    assert suggested(result, CONF_COMMAND_PROXY_URL) == "https://proxy.local:4443"
    assert suggested(result, CONF_COMMAND_PROXY_CA_FILE) == str(ca_file)
    assert suggested(result, CONF_FAILSAFE_TIME) == "07:30:00"
    assert suggested(result, CONF_SCOUT_INTERVAL) == 20
    assert suggested(result, CONF_SHARE_TOKEN) is True

    # Emptied fields are removed, not kept.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(command_proxy={})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_COMMAND_PROXY_URL not in options_entry.options
    assert CONF_COMMAND_PROXY_CA_FILE not in options_entry.options
    assert options_entry.options["future_option"] == "kept"


async def test_options_relative_ca_file(
    hass: HomeAssistant, options_entry: MockConfigEntry
) -> None:
    """A relative CA path is resolved against the configuration folder."""
    relative = "tesla-proxy-ca.pem"
    absolute = Path(hass.config.path(relative))
    await hass.async_add_executor_job(absolute.write_text, "cert")
    try:
        result = await hass.config_entries.options.async_init(options_entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            options_input(command_proxy={CONF_COMMAND_PROXY_CA_FILE: relative}),
        )
    finally:
        await hass.async_add_executor_job(absolute.unlink)
    assert options_entry.options[CONF_COMMAND_PROXY_CA_FILE] == str(absolute)


@pytest.mark.parametrize(
    ("overrides", "field", "key"),
    [
        ({"home": NEW_HOME | {"radius": 0}}, "home", "invalid_radius"),
        ({"home": NEW_HOME | {"latitude": -95}}, "home", "invalid_location"),
        ({CONF_SCOUT_INTERVAL: 1.5}, CONF_SCOUT_INTERVAL, "invalid_interval"),
        ({CONF_WORKER_COOLDOWN: 2.5}, CONF_WORKER_COOLDOWN, "invalid_cooldown"),
        (
            {"command_proxy": {CONF_COMMAND_PROXY_URL: "http://proxy.local:4443"}},
            CONF_COMMAND_PROXY_URL,
            "invalid_proxy_url",
        ),
        (
            {"command_proxy": {CONF_COMMAND_PROXY_URL: "proxy.local"}},
            CONF_COMMAND_PROXY_URL,
            "invalid_proxy_url",
        ),
        (
            {"command_proxy": {CONF_COMMAND_PROXY_CA_FILE: "/nonexistent/ca.pem"}},
            CONF_COMMAND_PROXY_CA_FILE,
            "ca_file_not_found",
        ),
        (
            {
                "charging": {
                    "tariff": "price_entity",
                    "battery_capacity": 75,
                    "charger_power": 11,
                    "charging_efficiency": 90,
                }
            },
            "price_entity",
            "price_entity_required",
        ),
        *(
            (
                {"charging": CHARGING_G12 | {"extra_offpeak_dates": dates}},
                "extra_offpeak_dates",
                "invalid_dates",
            )
            for dates in ("24.12.2026", "2026-02-30", "2026-12-24, tomorrow")
        ),
        (
            {
                "charging": CHARGING_G12
                | {
                    "tariff": "price_entity",
                    "price_entity": "sensor.prices",
                    "price_attribute": "bad\nname",
                }
            },
            "price_attribute",
            "invalid_price_attribute",
        ),
        (
            {"charging": CHARGING_G12 | {"max_charge_windows": 2.5}},
            "max_charge_windows",
            "invalid_number",
        ),
        (
            {"charging": CHARGING_G12 | {"split_min_saving": float("inf")}},
            "split_min_saving",
            "invalid_number",
        ),
    ],
)
async def test_options_errors_keep_input(
    hass: HomeAssistant,
    options_entry: MockConfigEntry,
    overrides: dict[str, Any],
    field: str,
    key: str,
) -> None:
    before = dict(options_entry.options)
    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    user_input = options_input(**overrides)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.FORM
    assert field_errors(result) == {field: key}
    assert dict(options_entry.options) == before
    # Bad input loses nothing: every field shows what the user typed.
    assert suggested(result, CONF_SHARE_TOKEN) is True
    assert suggested(result, CONF_FAILSAFE_TIME) == "07:30:00"
    assert suggested(result, "home") == user_input["home"]
    if field in user_input:
        assert suggested(result, field) == user_input[field]
    elif field in user_input["charging"]:
        assert suggested(result, field) == user_input["charging"][field]
    elif field in user_input["command_proxy"]:
        assert suggested(result, field) == user_input["command_proxy"][field]
    else:  # a missing required-by-tariff field stays empty
        assert suggested(result, field) is None
    # The section holding the error is open, the others folded as usual.
    schema = result["data_schema"]
    assert schema is not None
    open_sections = {
        str(marker)
        for marker, value in schema.schema.items()
        if isinstance(value, section) and not value.options["collapsed"]
    }
    if field in {
        CONF_COMMAND_PROXY_URL,
        CONF_COMMAND_PROXY_VERIFY_SSL,
        CONF_COMMAND_PROXY_CA_FILE,
    }:
        assert open_sections == {"command_proxy"}
    elif field in {"home", CONF_SCOUT_INTERVAL, CONF_WORKER_COOLDOWN}:
        assert open_sections == set()
    else:
        assert open_sections == {"charging"}
    # Shown above the section too: the frontend shows none inside one.
    shown = result["errors"] or {}
    assert {k: v for k, v in shown.items() if k != field} == dict.fromkeys(
        open_sections, key
    )

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input()
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert options_entry.options[CONF_SCOUT_INTERVAL] == 20


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({CONF_SCOUT_INTERVAL: 0}, [CONF_SCOUT_INTERVAL]),
        ({CONF_SCOUT_INTERVAL: 121}, [CONF_SCOUT_INTERVAL]),
        ({CONF_WORKER_COOLDOWN: -1}, [CONF_WORKER_COOLDOWN]),
        ({CONF_WORKER_COOLDOWN: 1441}, [CONF_WORKER_COOLDOWN]),
        ({"charging": {"tariff": "g12", "battery_capacity": 2}}, ["battery_capacity"]),
        ({"charging": {"tariff": "g12", "charger_power": 0}}, ["charger_power"]),
        (
            {"charging": {"tariff": "g12", "charging_efficiency": 120}},
            ["charging_efficiency"],
        ),
    ],
)
async def test_options_limits_live_in_the_selectors(
    hass: HomeAssistant,
    options_entry: MockConfigEntry,
    overrides: dict[str, Any],
    path: list[str],
) -> None:
    """The form's number fields carry their limits: out of range is refused."""
    before = dict(options_entry.options)
    base = options_input()
    if "charging" in overrides:
        overrides = {"charging": base["charging"] | overrides["charging"]}
    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.options.async_configure(
            result["flow_id"], options_input(**overrides)
        )
    assert path[-1] in str(err.value.schema_errors)
    assert dict(options_entry.options) == before
    # The same form still takes good input.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input()
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_options_invalid_time(
    hass: HomeAssistant, options_entry: MockConfigEntry
) -> None:
    """The time selector rejects most bad times; the flow guards the rest."""
    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    flow = hass.config_entries.options._progress[result["flow_id"]]
    assert isinstance(flow, OptionsFlowHandler)
    result = await flow.async_step_init(options_input(failsafe_time="25:61"))
    assert field_errors(result) == {CONF_FAILSAFE_TIME: "invalid_time"}

    with pytest.raises(vol.Invalid):
        await hass.config_entries.options.async_configure(
            result["flow_id"], options_input(failsafe_time="25:61")
        )


# --- translations ----------------------------------------------------------------


def _leaves(data: Any, path: str = "") -> dict[str, str]:
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for key, value in data.items():
            out |= _leaves(value, f"{path}/{key}")
        return out
    return {path: data}


OWN_SECTIONS = ("config", "options", "selector", "application_credentials")


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((COMPONENT / name).read_text(encoding="utf-8"))
    return {key: data[key] for key in OWN_SECTIONS}


def test_translations_match_strings() -> None:
    """en.json is strings.json with references resolved; pl.json has every key."""
    strings = _leaves(_load("strings.json"))
    english = _leaves(_load("translations/en.json"))
    polish = _leaves(_load("translations/pl.json"))
    assert set(strings) == set(english) == set(polish)
    for path, text in strings.items():
        if not text.startswith("[%key:"):
            assert english[path] == text, path
        assert "[%key:" not in english[path], path
        placeholders = set(re.findall(r"\{(\w+)\}", english[path]))
        assert set(re.findall(r"\{(\w+)\}", polish[path])) == placeholders, path


def _resolve(text: str, strings: dict[str, Any]) -> str:
    """Resolve a ``[%key:…%]`` reference the way Home Assistant's build does.

    ``common::`` keys are looked up in the installed Home Assistant's strings.
    """
    match = re.fullmatch(r"\[%key:(.+)%\]", text)
    if match is None:
        return text
    root: dict[str, Any] = {
        "common": json.loads(HA_STRINGS.read_text(encoding="utf-8"))["common"],
        "component": {DOMAIN: strings},
    }
    node: Any = root
    for part in match.group(1).split("::"):
        assert isinstance(node, dict), text
        assert part in node, f"{text} is not in the installed Home Assistant"
        node = node[part]
    return _resolve(node, strings)


def test_english_is_strings_with_references_resolved() -> None:
    """HA does not resolve references for custom integrations: en.json must.

    Our own references resolve to the letter. Home Assistant's common texts are
    reworded between releases (``already_in_progress`` changed in 2025.x), so
    for those en.json must name a key the installed Home Assistant has and keep
    its placeholders; the wording is that of the newest release we test.
    """
    raw = json.loads((COMPONENT / "strings.json").read_text(encoding="utf-8"))
    english = _leaves(_load("translations/en.json"))
    common = 0
    for path, text in _leaves(_load("strings.json")).items():
        resolved = _resolve(text, raw)
        if text.startswith("[%key:common::"):
            common += 1
            assert english[path], path
            assert set(re.findall(r"\{(\w+)\}", english[path])) == set(
                re.findall(r"\{(\w+)\}", resolved)
            ), path
        else:
            assert english[path] == resolved, path
    assert common >= 10


def test_every_key_the_flows_use_is_translated() -> None:
    """Each error, abort reason, step and field of the flows has English text."""
    english = _load("translations/en.json")
    source = "".join(
        (COMPONENT / name).read_text(encoding="utf-8")
        for name in (
            "config_flow.py",
            "options_flow.py",
            "flow_schemas.py",
            "options_schema.py",
            "key_steps.py",
        )
    )
    keys = set()
    for pattern in (
        r'reason="(\w+)"',
        r'AbortFlow\("(\w+)"\)',
        r'errors\[[^\]]+\] = "(\w+)"',
        r'return "(\w+)"',
        r': "(\w+)"\}',
        r'return \{\}, "(\w+)"',
    ):
        keys |= set(re.findall(pattern, source))
    assert {"oauth_error", "wrong_account", "already_configured", "no_vehicles"} <= keys
    known = (
        set(english["config"]["error"])
        | set(english["config"]["abort"])
        | set(english["options"]["error"])
    )
    assert keys <= known, keys - known
    step_ids = set(re.findall(r'step_id="(\w+)"', source)) - {"init"}
    assert step_ids <= set(english["config"]["step"])
    assert set(english["config"]["step"]["user"]["menu_options"]) == {
        "pick_implementation",
        "manual",
    }
    steps = [*english["config"]["step"].values(), *english["options"]["step"].values()]
    for step in steps:
        for group in [step, *step.get("sections", {}).values()]:
            assert set(group.get("data", {})) == set(group.get("data_description", {}))


async def test_options_presence_price_sensor_and_prices(
    hass: HomeAssistant, options_entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        options_input(
            presence_entity="person.driver",
            charging={
                "tariff": "price_entity",
                "price_entity": "sensor.nordpool",
                "peak_price": 1.2,
                "offpeak_price": 0.5,
                "battery_capacity": 60,
                "charger_power": 7.4,
                "charging_efficiency": 92,
            },
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    options = options_entry.options
    assert options["presence_entity"] == "person.driver"
    assert options["tariff"] == "price_entity"
    assert options["price_entity"] == "sensor.nordpool"
    assert (options["peak_price"], options["offpeak_price"]) == (1.2, 0.5)
    assert options["charging_efficiency"] == pytest.approx(0.92)

    result = await hass.config_entries.options.async_init(options_entry.entry_id)
    assert suggested(result, "presence_entity") == "person.driver"
    assert suggested(result, "price_entity") == "sensor.nordpool"
    assert suggested(result, "charging_efficiency") == 92


@pytest.mark.parametrize(
    ("side_effect", "error"),
    [
        (None, None),
        (LoginRequiredError(status=401, error="login_required"), "invalid_auth"),
        (InvalidClientError(status=401, error="invalid_client"), "invalid_auth"),
        (TokenRefreshFailedError("ServerError"), "cannot_connect"),
        (TokenRefreshRateLimitedError(1795867200.0), "cannot_connect"),
    ],
)
async def test_reconfigure_loaded_entry_asks_the_token_manager(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    side_effect: Exception | None,
    error: str | None,
) -> None:
    """A loaded entry's expiring token is refreshed by its owner, not the flow."""
    mock_config_entry.add_to_hass(hass)
    mock_config_entry.mock_state(hass, ConfigEntryState.LOADED)
    tokens = AsyncMock()
    tokens.async_get_access_token.return_value = "fresh-access-token"
    tokens.async_get_access_token.side_effect = side_effect
    mock_config_entry.runtime_data = MagicMock(tokens=tokens)

    result = await mock_config_entry.start_reconfigure_flow(hass)

    assert result["type"] is FlowResultType.FORM
    tokens.async_get_access_token.assert_awaited_once()
    mock_refresh.assert_not_called()
    if error is None:
        assert field_errors(result) == {}
        provider = mock_fleet.call_args.kwargs["token_provider"]
        assert await provider() == "fresh-access-token"
    else:
        assert field_errors(result) == {"base": error}


# --- the key steps: publish the key, register the domain, pair the cars ------

DOMAIN_NAME = "home.example.com"
PARTNER_TOKEN = "partner-token-789"


async def to_key_step(
    hass: HomeAssistant, *, vins: list[str] | None = None, **manual: Any
) -> ConfigFlowResult:
    """Sign in and choose the cars; the first needs signed commands."""
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(**manual)
    )
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_VINS: vins or [VIN, VIN_2], "home": NEW_HOME}
    )


def fleet_status(mock_fleet: MagicMock, *unpaired: str) -> None:
    mock_fleet.return_value.fleet_status.return_value = FleetStatus(
        key_paired_vins=frozenset({VIN, VIN_2} - set(unpaired)),
        unpaired_vins=frozenset(unpaired),
        protocol_required={VIN: True},
    )


def partner_endpoints(
    aioclient_mock: AiohttpClientMocker,
    *,
    status: int = HTTPStatus.OK,
    answer: dict[str, Any] | None = None,
) -> None:
    aioclient_mock.post(
        TOKEN_URL,
        json={"access_token": PARTNER_TOKEN, "expires_in": 28800, "token_type": "B"},
    )
    aioclient_mock.post(
        f"{API_BASE_URL}/api/1/partner_accounts", status=status, json=answer
    )


async def test_a_car_without_signed_commands_needs_no_key(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """Only the second car (``command_signing: allowed``): no key step, no key."""
    result = await to_key_step(hass, vins=[VIN_2])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert await async_virtual_key(hass, create=False) is None
    mock_fleet.return_value.fleet_status.assert_not_called()


async def test_the_key_is_served_registered_and_paired(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    aioclient_mock: AiohttpClientMocker,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """The whole path: domain from the external URL, Tesla's registration, pairing."""
    hass.config.external_url = f"https://{DOMAIN_NAME}"
    result = await to_key_step(hass)
    assert result["step_id"] == "virtual_key"
    key = await async_require_virtual_key(hass)
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["public_key"] == key.public_pem
    assert placeholders["key_url"] == (
        f"https://{DOMAIN_NAME}/.well-known/appspecific/com.tesla.3p.public-key.pem"
    )
    schema = result["data_schema"]
    assert schema is not None
    defaults = {m.schema: m.default() for m in schema.schema if callable(m.default)}
    # The domain reaches this Home Assistant: serve it here, and register.
    assert defaults == {"serve_key": True, "register_domain": True}
    assert suggested(result, "key_domain") == DOMAIN_NAME
    # The manual sign-in gave the secret: it is not asked again.
    assert "client_secret" not in {m.schema for m in schema.schema}

    partner_endpoints(
        aioclient_mock,
        answer={"response": {"domain": DOMAIN_NAME, "public_key": key.public_hex}},
    )
    fleet_status(mock_fleet, VIN)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"key_domain": f"https://{DOMAIN_NAME.upper()}/", **SERVE_AND_REGISTER},
    )
    token_call, register_call = aioclient_mock.mock_calls
    assert token_call[2] == {
        "grant_type": "client_credentials",
        "client_id": "client-id-123",
        "client_secret": CLIENT_SECRET,
        "scope": "openid vehicle_device_data vehicle_cmds vehicle_charging_cmds",
        "audience": API_BASE_URL,
    }
    assert register_call[2] == {"domain": DOMAIN_NAME}
    assert register_call[3]["Authorization"] == f"Bearer {PARTNER_TOKEN}"
    assert (key.domain, key.serve) == (DOMAIN_NAME, True)
    # Served while the flow runs (the integration is not set up yet): Tesla
    # fetches it during the registration.
    served = await (await hass_client_no_auth()).get(
        "/.well-known/appspecific/com.tesla.3p.public-key.pem"
    )
    assert await served.text() == key.public_pem

    # Pairing: the link, and which car still lacks the key.
    assert result["step_id"] == "pair"
    assert result["description_placeholders"] == {
        "pairing_url": f"https://tesla.com/_ak/{DOMAIN_NAME}",
        "paired": "—",
        "unpaired": "Test (…0000)",
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"pair_later": False}
    )
    assert field_errors(result) == {"base": "still_unpaired"}

    fleet_status(mock_fleet)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"pair_later": False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # The key is not in the entry: it is Home Assistant's, kept apart.
    assert "PRIVATE" not in repr(result["data"])


SERVE_AND_REGISTER = {"serve_key": True, "register_domain": True}


async def test_pair_later_finishes_the_setup(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    fleet_status(mock_fleet, VIN)
    result = await to_key_step(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"key_domain": DOMAIN_NAME, "serve_key": False, "register_domain": False},
    )
    assert result["step_id"] == "pair"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"pair_later": True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_a_failed_check_is_said_and_the_user_can_go_on(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    mock_fleet.return_value.fleet_status.side_effect = ServerError(status=503)
    result = await to_key_step(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"key_domain": DOMAIN_NAME, "serve_key": False, "register_domain": False},
    )
    assert result["step_id"] == "pair"
    assert field_errors(result) == {"base": "cannot_connect"}
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["unpaired"] == "Test (…0000)"


async def test_tesla_refusals_are_shown_in_its_words(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """The download failed (Tesla's real answer): the form says why, keeps input."""
    result = await to_key_step(hass)
    reason = (
        f"Public key download failed for https://{DOMAIN_NAME}/.well-known/"
        "appspecific/com.tesla.3p.public-key.pem, error: too large"
    )
    partner_endpoints(
        aioclient_mock,
        status=HTTPStatus.BAD_REQUEST,
        answer={"response": None, "error": reason, "error_description": ""},
    )
    user_input = {"key_domain": DOMAIN_NAME, **SERVE_AND_REGISTER}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input
    )
    assert result["step_id"] == "virtual_key"
    assert field_errors(result) == {"base": "registration_refused"}
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["tesla_error"] == reason
    schema = result["data_schema"]
    assert schema is not None
    kept = {
        m.schema: (m.description or {}).get("suggested_value") for m in schema.schema
    }
    assert kept["key_domain"] == DOMAIN_NAME


async def test_a_wrong_secret_and_another_key_are_refused(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    result = await to_key_step(hass)
    aioclient_mock.post(
        TOKEN_URL, status=HTTPStatus.UNAUTHORIZED, json={"error": "invalid_client"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"key_domain": DOMAIN_NAME, **SERVE_AND_REGISTER}
    )
    assert field_errors(result) == {"client_secret": "invalid_client_secret"}

    # The domain serves another key: Tesla registered that one.
    aioclient_mock.clear_requests()
    partner_endpoints(
        aioclient_mock,
        answer={"response": {"domain": DOMAIN_NAME, "public_key": "04" + "ab" * 64}},
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"key_domain": DOMAIN_NAME, **SERVE_AND_REGISTER}
    )
    assert field_errors(result) == {"base": "registered_key_differs"}


async def test_a_bad_domain_and_a_missing_secret(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """Without the secret at sign-in, the form asks for it when registering."""
    result = await to_key_step(hass, client_secret="")
    schema = result["data_schema"]
    assert schema is not None
    assert "client_secret" in {m.schema for m in schema.schema}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"key_domain": "https://example.com/path", **SERVE_AND_REGISTER},
    )
    assert field_errors(result) == {"key_domain": "invalid_domain"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"key_domain": DOMAIN_NAME, **SERVE_AND_REGISTER}
    )
    assert field_errors(result) == {"client_secret": "client_secret_required"}


async def test_core_tesla_fleet_key_can_be_reused(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    tmp_path: Path,
) -> None:
    """Cars that paired core's key need no new pairing."""
    hass.config.config_dir = str(tmp_path)
    core = new_private_key()
    (tmp_path / "tesla_fleet.key").write_text(private_key_pem(core))
    result = await to_key_step(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "key_source"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "key_reuse"}
    )
    assert result["step_id"] == "virtual_key"
    key = await async_require_virtual_key(hass)
    assert key.key.private_numbers() == core.private_numbers()


async def test_a_new_key_instead_of_core_tesla_fleet_key(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    tmp_path: Path,
) -> None:
    hass.config.config_dir = str(tmp_path)
    core = new_private_key()
    (tmp_path / "tesla_fleet.key").write_text(private_key_pem(core))
    result = await to_key_step(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "key_new"}
    )
    assert result["step_id"] == "virtual_key"
    key = await async_require_virtual_key(hass)
    assert key.key.private_numbers() != core.private_numbers()


async def test_an_external_url_tesla_cannot_fetch_from_is_not_suggested(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """Tesla fetches over https on port 443 only: a port is refused, not offered."""
    hass.config.external_url = f"https://{DOMAIN_NAME}:8123"
    result = await to_key_step(hass)
    schema = result["data_schema"]
    assert schema is not None
    defaults = {m.schema: m.default() for m in schema.schema if callable(m.default)}
    assert defaults == {"serve_key": False, "register_domain": True}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"key_domain": f"{DOMAIN_NAME}:8123", **SERVE_AND_REGISTER},
    )
    assert field_errors(result) == {"key_domain": "invalid_domain"}


async def test_an_empty_domain_sets_up_the_key_later(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """A user of their own proxy, or not ready: the entry is made, nothing sent."""
    result = await to_key_step(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"serve_key": False, "register_domain": True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert aioclient_mock.call_count == 0
    mock_fleet.return_value.fleet_status.assert_not_called()


async def test_closing_the_key_form_keeps_no_key(
    hass: HomeAssistant,
    mock_refresh: AsyncMock,
    mock_fleet: MagicMock,
    hass_storage: dict[str, Any],
) -> None:
    """The form shows a new key; only a submitted form keeps it."""
    result = await to_key_step(hass)
    assert result["step_id"] == "virtual_key"
    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()
    assert "tesla_scout_worker.key" not in hass_storage


async def test_a_car_tesla_does_not_list_is_not_taken_as_paired(
    hass: HomeAssistant, mock_refresh: AsyncMock, mock_fleet: MagicMock
) -> None:
    """An answer that names neither list for the car: still to pair."""
    result = await to_key_step(hass, vins=[VIN])
    mock_fleet.return_value.fleet_status.return_value = FleetStatus(
        key_paired_vins=frozenset(), unpaired_vins=frozenset(), protocol_required={}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"key_domain": DOMAIN_NAME, "serve_key": False, "register_domain": False},
    )
    assert result["step_id"] == "pair"
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["unpaired"] == "Test (…0000)"
