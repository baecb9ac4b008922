"""Hostile input at every door: clear, translated errors, and nothing lost.

Each case sends one bad value through a door a user (or a script) can reach:
the config flow (manual sign-in, region, vehicles), reauth, reconfigure, the
options flow, the actions, the token-sharing HTTP views and the price sensor
the worker reads. Bad input must end in

* a form error whose key ``strings.json`` translates, or
* a ``ServiceValidationError``/``HomeAssistantError`` of this domain with a
  translated key (and every placeholder of its text given), or
* a ``vol.Invalid`` from the schema, where Home Assistant's own schema (a
  selector, an action schema) is the right layer,

and it must lose nothing: the entry's data and options unchanged, no request
to Tesla, the entry still loaded. The price-sensor cases end in a worker run
with a clear reason (``no_tariff``), never an exception, never a plan built
from garbage.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
import json
import math
from pathlib import Path
import re
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import voluptuous as vol

from custom_components.tesla_scout_worker.const import (
    CONF_API_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_COMMAND_PROXY_CA_FILE,
    CONF_COMMAND_PROXY_URL,
    CONF_FAILSAFE_TIME,
    CONF_PRESENCE_ENTITY,
    CONF_PRICE_ENTITY,
    CONF_REFRESH_TOKEN,
    CONF_SCOUT_INTERVAL,
    CONF_SHARE_TOKEN,
    CONF_TARIFF,
    CONF_TOKEN,
    CONF_TOKEN_URL,
    CONF_VINS,
    CONF_WORKER_COOLDOWN,
    DOMAIN,
)
from custom_components.tesla_scout_worker.domain.tariffs import (
    TariffUnavailableError,
    tariff_from_price_attributes,
)

from . import (
    async_store_settings,
    field_errors,
    finish_key_steps,
    jwt_with_payload,
    make_jwt,
)
from .conftest import (
    API_BASE_URL,
    CLIENT_ID,
    TOKEN_URL,
    VIN,
    VIN_2,
    access_token,
    token_calls,
    token_data,
)
from .fake_fleet import FakeCar, FakeFleet

COMPONENT = Path(__file__).parent.parent / "custom_components" / DOMAIN
STRINGS: dict[str, Any] = json.loads(
    (COMPONENT / "strings.json").read_text(encoding="utf-8")
)
ENGLISH: dict[str, Any] = json.loads(
    (COMPONENT / "translations" / "en.json").read_text(encoding="utf-8")
)
CONFIG_ERRORS = set(STRINGS["config"]["error"])
OPTIONS_ERRORS = set(STRINGS["options"]["error"])
EXCEPTIONS = set(STRINGS["exceptions"])

OLD_REFRESH_TOKEN = "EU_old-refresh-token"
ROTATED_REFRESH_TOKEN = "EU_rotated-refresh-token"
GOOD_HOME = {"latitude": 50.0647, "longitude": 19.945, "radius": 250.0}
WAW = ZoneInfo("Europe/Warsaw")
COMMANDS = (
    "wake",
    "charge_start",
    "charge_stop",
    "add_charge_schedule",
    "remove_charge_schedule",
    "set_scheduled_charging",
)


def token_answer(access: str) -> dict[str, Any]:
    """What Tesla's token endpoint answers to a good refresh."""
    return {
        "access_token": access,
        "refresh_token": ROTATED_REFRESH_TOKEN,
        "expires_in": 28800,
        "token_type": "Bearer",
    }


def manual_input(**overrides: Any) -> dict[str, Any]:
    """What the user types in the manual step."""
    return {
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_REFRESH_TOKEN: OLD_REFRESH_TOKEN,
        "advanced": {CONF_TOKEN_URL: TOKEN_URL},
    } | overrides


def options_input(**overrides: Any) -> dict[str, Any]:
    """A complete, good options form."""
    return {
        "home": GOOD_HOME,
        CONF_SCOUT_INTERVAL: 20,
        CONF_WORKER_COOLDOWN: 10,
        CONF_FAILSAFE_TIME: "07:30:00",
        "command_proxy": {},
        CONF_SHARE_TOKEN: False,
        "charging": charging(),
    } | overrides


def charging(**overrides: Any) -> dict[str, Any]:
    """A complete, good charging section."""
    return {
        CONF_TARIFF: "g12",
        "battery_capacity": 75,
        "charger_power": 11,
        "charging_efficiency": 90,
    } | overrides


def assert_translated(err: HomeAssistantError) -> None:
    """A translated error of this domain whose text gets every placeholder."""
    assert err.translation_domain == DOMAIN
    assert err.translation_key in EXCEPTIONS
    text = ENGLISH["exceptions"][err.translation_key]["message"]
    wanted = set(re.findall(r"\{(\w+)\}", text))
    assert wanted == set(err.translation_placeholders or {})


def requests_to_tesla(aioclient_mock: AiohttpClientMocker) -> int:
    """Every request sent (the fake Fleet API and the token endpoint)."""
    calls: int = aioclient_mock.call_count
    return calls


class Snapshot:
    """What a bad input must not change: data, options, state, requests."""

    def __init__(
        self, entry: MockConfigEntry, aioclient_mock: AiohttpClientMocker
    ) -> None:
        self.entry = entry
        self.aioclient_mock = aioclient_mock
        self.data = json.dumps(dict(entry.data), sort_keys=True)
        self.options = json.dumps(dict(entry.options), sort_keys=True)
        self.calls = requests_to_tesla(aioclient_mock)

    def assert_nothing_lost(self) -> None:
        assert json.dumps(dict(self.entry.data), sort_keys=True) == self.data
        assert json.dumps(dict(self.entry.options), sort_keys=True) == self.options
        assert requests_to_tesla(self.aioclient_mock) == self.calls, "a request"
        assert self.entry.state is ConfigEntryState.LOADED


async def start_manual(hass: HomeAssistant) -> ConfigFlowResult:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "manual"}
    )


async def to_vehicles_step(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> ConfigFlowResult:
    """Sign in with a good refresh token, up to the vehicles step."""
    aioclient_mock.post(TOKEN_URL, json=token_answer(access_token()))
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["step_id"] == "vehicles"
    return result


# --- the manual sign-in: client id, refresh token, token URL ----------------------

BAD_CREDENTIALS = [
    pytest.param(
        {CONF_REFRESH_TOKEN: "EU_abc def"},
        {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
        id="refresh-token-inner-space",
    ),
    pytest.param(
        {CONF_REFRESH_TOKEN: "EU_abc\nEU_def"},
        {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
        id="refresh-token-two-lines",
    ),
    pytest.param(
        {CONF_REFRESH_TOKEN: "EU_abc\r\ndef"},
        {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
        id="refresh-token-crlf",
    ),
    pytest.param(
        {CONF_REFRESH_TOKEN: "EU_abc\tdef"},
        {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
        id="refresh-token-tab",
    ),
    pytest.param(
        {CONF_REFRESH_TOKEN: "EU_abc\u00a0def"},
        {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
        id="refresh-token-no-break-space",
    ),
    pytest.param(
        {CONF_REFRESH_TOKEN: "EU_abc\x00"},
        {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
        id="refresh-token-nul",
    ),
    pytest.param(
        {CONF_REFRESH_TOKEN: " \n\t "},
        {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
        id="refresh-token-only-whitespace",
    ),
    pytest.param(
        {CONF_REFRESH_TOKEN: ""},
        {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
        id="refresh-token-empty",
    ),
    pytest.param(
        {CONF_CLIENT_ID: "   "},
        {CONF_CLIENT_ID: "invalid_client_id"},
        id="client-id-blank",
    ),
    pytest.param(
        {CONF_CLIENT_ID: "client id"},
        {CONF_CLIENT_ID: "invalid_client_id"},
        id="client-id-inner-space",
    ),
    pytest.param(
        {CONF_CLIENT_ID: "client-id\nsecond-line"},
        {CONF_CLIENT_ID: "invalid_client_id"},
        id="client-id-two-lines",
    ),
    pytest.param(
        {CONF_CLIENT_ID: "", CONF_REFRESH_TOKEN: "a b"},
        {
            CONF_CLIENT_ID: "invalid_client_id",
            CONF_REFRESH_TOKEN: "invalid_refresh_token",
        },
        id="both-bad",
    ),
    pytest.param(
        {
            CONF_REFRESH_TOKEN: "a b",
            "advanced": {CONF_TOKEN_URL: "ftp://tesla.example/token"},
        },
        {CONF_REFRESH_TOKEN: "invalid_refresh_token", CONF_TOKEN_URL: "invalid_url"},
        id="bad-token-and-bad-token-url",
    ),
]


@pytest.mark.parametrize(("overrides", "errors"), BAD_CREDENTIALS)
async def test_manual_credentials_that_cannot_be_valid(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
    overrides: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Refused before a request: nothing is sent to Tesla, the form stays."""
    aioclient_mock.post(TOKEN_URL, json=token_answer(access_token()))
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(**overrides)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"
    assert field_errors(result) == errors
    assert set(errors.values()) <= CONFIG_ERRORS
    assert requests_to_tesla(aioclient_mock) == 0
    assert hass.config_entries.async_entries(DOMAIN) == []

    # The same form still takes good input.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["step_id"] == "vehicles"
    assert token_calls(aioclient_mock) == 1


async def test_manual_surrounding_whitespace_is_stripped(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, fleet: FakeFleet
) -> None:
    """Whitespace around a pasted value is no error: it is not sent either."""
    aioclient_mock.post(TOKEN_URL, json=token_answer(access_token()))
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        manual_input(
            **{
                CONF_CLIENT_ID: f"\t{CLIENT_ID} ",
                CONF_REFRESH_TOKEN: f"  {OLD_REFRESH_TOKEN}\r\n",
            }
        ),
    )
    assert result["step_id"] == "vehicles"
    (_, _, form, _) = next(
        call for call in aioclient_mock.mock_calls if str(call[1]) == TOKEN_URL
    )
    assert form["client_id"] == CLIENT_ID
    assert form["refresh_token"] == OLD_REFRESH_TOKEN


@pytest.mark.parametrize(
    ("user_input", "field"),
    [
        pytest.param(manual_input(client_id=12345), CONF_CLIENT_ID, id="client-id-int"),
        pytest.param(manual_input(client_id=None), CONF_CLIENT_ID, id="client-id-none"),
        pytest.param(
            manual_input(refresh_token=["EU_a", "EU_b"]),
            CONF_REFRESH_TOKEN,
            id="refresh-token-list",
        ),
        pytest.param(
            manual_input(refresh_token={"token": "EU_a"}),
            CONF_REFRESH_TOKEN,
            id="refresh-token-dict",
        ),
        pytest.param(
            {CONF_CLIENT_ID: CLIENT_ID, "advanced": {}},
            CONF_REFRESH_TOKEN,
            id="refresh-token-missing",
        ),
        pytest.param(
            manual_input(advanced={CONF_TOKEN_URL: 443}),
            CONF_TOKEN_URL,
            id="token-url-int",
        ),
        pytest.param(
            manual_input(advanced="https://evil.example/token"),
            "advanced",
            id="advanced-section-not-a-dict",
        ),
    ],
)
async def test_manual_wrong_types_stop_at_the_schema(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    user_input: dict[str, Any],
    field: str,
) -> None:
    result = await start_manual(hass)
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert field in str(err.value.schema_errors)
    assert requests_to_tesla(aioclient_mock) == 0
    assert hass.config_entries.async_entries(DOMAIN) == []


# --- URLs at every door -------------------------------------------------------------

BAD_URLS = [
    pytest.param("ftp://fleet.example", id="ftp"),
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("https://", id="no-host"),
    pytest.param("//fleet.example", id="no-scheme"),
    pytest.param("fleet.example", id="bare-host"),
    pytest.param("https://fleet example:4443", id="space-in-host"),
    pytest.param("https://fleet.example\n.evil:4443", id="newline-in-host"),
    pytest.param("https://fleet.example:4443/\x00", id="nul"),
    pytest.param("https://fleet.example:99999", id="port-out-of-range"),
    pytest.param("https://fleet.example/?token=abc", id="query"),
    pytest.param("https://fleet.example/#fragment", id="fragment"),
    pytest.param("https://-fleet-.example", id="bad-label"),
    pytest.param("https://fleet_<x>.example", id="bad-characters"),
    pytest.param("https://[::1", id="unclosed-ipv6"),
]


@pytest.mark.parametrize("url", BAD_URLS)
async def test_bad_token_url(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, url: str
) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(advanced={CONF_TOKEN_URL: url})
    )
    assert field_errors(result) == {CONF_TOKEN_URL: "invalid_url"}
    assert requests_to_tesla(aioclient_mock) == 0


@pytest.mark.parametrize("url", BAD_URLS)
async def test_bad_custom_region_url(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
    url: str,
) -> None:
    """An opaque token names no region: the custom URL is checked first."""
    aioclient_mock.post(TOKEN_URL, json=token_answer("opaque-access-token"))
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["step_id"] == "region"
    calls = requests_to_tesla(aioclient_mock)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "custom", CONF_API_BASE_URL: url}
    )
    assert result["step_id"] == "region"
    assert field_errors(result) == {CONF_API_BASE_URL: "invalid_url"}
    assert requests_to_tesla(aioclient_mock) == calls


@pytest.mark.parametrize("url", BAD_URLS)
async def test_bad_reconfigure_api_base_url(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    url: str,
) -> None:
    result = await init_integration.start_reconfigure_flow(hass)
    assert field_errors(result) == {}
    before = Snapshot(init_integration, aioclient_mock)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: url, "home": GOOD_HOME},
    )
    assert result["step_id"] == "reconfigure"
    assert field_errors(result) == {CONF_API_BASE_URL: "invalid_url"}
    before.assert_nothing_lost()


@pytest.mark.parametrize(
    "url", [*BAD_URLS, pytest.param("http://proxy.local:4443", id="plain-http")]
)
async def test_bad_command_proxy_url(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    url: str,
) -> None:
    before = Snapshot(init_integration, aioclient_mock)
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(command_proxy={CONF_COMMAND_PROXY_URL: url})
    )
    assert result["type"] is FlowResultType.FORM
    assert field_errors(result) == {CONF_COMMAND_PROXY_URL: "invalid_proxy_url"}
    before.assert_nothing_lost()


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        pytest.param(
            " HTTPS://Proxy.Local:4443/ ",
            "https://proxy.local:4443",
            id="case-and-whitespace",
        ),
        pytest.param("https://[fd00::1]:4443", "https://[fd00::1]:4443", id="ipv6"),
        pytest.param("https://192.168.1.10:4443", "https://192.168.1.10:4443", id="ip"),
        pytest.param(
            "https://tesla_proxy.home.arpa/base/",
            "https://tesla_proxy.home.arpa/base",
            id="underscore-and-path",
        ),
        pytest.param(
            "https://bücher.example",
            "https://xn--bcher-kva.example",
            id="international-name",
        ),
    ],
)
async def test_good_command_proxy_urls_are_kept(
    hass: HomeAssistant, init_integration: MockConfigEntry, url: str, stored: str
) -> None:
    """The URL checks refuse garbage, not real proxies."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(command_proxy={CONF_COMMAND_PROXY_URL: url})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options[CONF_COMMAND_PROXY_URL] == stored
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_ca_file_that_is_a_directory(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    before = Snapshot(init_integration, aioclient_mock)
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        options_input(
            command_proxy={
                CONF_COMMAND_PROXY_URL: "https://proxy.local:4443",
                CONF_COMMAND_PROXY_CA_FILE: hass.config.config_dir,
            }
        ),
    )
    assert field_errors(result) == {CONF_COMMAND_PROXY_CA_FILE: "ca_file_not_found"}
    before.assert_nothing_lost()


# --- the home position at every door ----------------------------------------------

BAD_HOMES = [
    pytest.param({"latitude": 90.0001}, "invalid_location", id="latitude-above-90"),
    pytest.param({"latitude": -90.5}, "invalid_location", id="latitude-below-90"),
    pytest.param({"longitude": 180.0001}, "invalid_location", id="longitude-above-180"),
    pytest.param({"longitude": -200}, "invalid_location", id="longitude-below-180"),
    pytest.param({"latitude": "nan"}, "invalid_location", id="latitude-nan"),
    pytest.param({"longitude": "inf"}, "invalid_location", id="longitude-inf"),
    pytest.param({"latitude": "-inf"}, "invalid_location", id="latitude-minus-inf"),
    pytest.param({"radius": -1}, "invalid_radius", id="radius-negative"),
    pytest.param({"radius": "nan"}, "invalid_radius", id="radius-nan"),
    pytest.param({"radius": "inf"}, "invalid_radius", id="radius-inf"),
]
MALFORMED_HOMES = [
    pytest.param(GOOD_HOME | {"latitude": "north"}, id="latitude-word"),
    pytest.param(GOOD_HOME | {"radius": [100]}, id="radius-list"),
    pytest.param({"longitude": 19.9, "radius": 100}, id="latitude-missing"),
    pytest.param("52.2297,21.0122", id="string"),
    pytest.param([52.2297, 21.0122], id="list"),
    pytest.param(None, id="none"),
]


@pytest.mark.parametrize(("home", "key"), BAD_HOMES)
async def test_bad_home_in_the_vehicles_step(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
    home: dict[str, Any],
    key: str,
) -> None:
    result = await to_vehicles_step(hass, aioclient_mock)
    calls = requests_to_tesla(aioclient_mock)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_VINS: [VIN], "home": GOOD_HOME | home}
    )
    assert result["type"] is FlowResultType.FORM
    assert field_errors(result) == {"home": key}
    assert key in CONFIG_ERRORS
    assert requests_to_tesla(aioclient_mock) == calls
    assert hass.config_entries.async_entries(DOMAIN) == []


@pytest.mark.parametrize("home", MALFORMED_HOMES)
async def test_malformed_home_in_the_vehicles_step(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
    home: Any,
) -> None:
    result = await to_vehicles_step(hass, aioclient_mock)
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_VINS: [VIN], "home": home}
        )
    assert "home" in str(err.value.schema_errors)
    assert hass.config_entries.async_entries(DOMAIN) == []


@pytest.mark.parametrize(
    "vins",
    [
        pytest.param(VIN, id="string-not-list"),
        pytest.param([VIN_2], id="vin-not-offered"),
        pytest.param([VIN.lower()], id="lowercase-vin"),
        pytest.param([12345], id="number"),
        pytest.param(None, id="none"),
    ],
)
async def test_bad_vehicle_selection(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
    vins: Any,
) -> None:
    """Only the vehicles offered can be picked (the selector checks)."""
    result = await to_vehicles_step(hass, aioclient_mock)
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_VINS: vins, "home": GOOD_HOME}
        )
    assert CONF_VINS in str(err.value.schema_errors)
    assert hass.config_entries.async_entries(DOMAIN) == []


@pytest.mark.parametrize(("home", "key"), BAD_HOMES)
async def test_bad_home_in_reconfigure(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    home: dict[str, Any],
    key: str,
) -> None:
    result = await init_integration.start_reconfigure_flow(hass)
    before = Snapshot(init_integration, aioclient_mock)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_VINS: [VIN], CONF_API_BASE_URL: API_BASE_URL, "home": GOOD_HOME | home},
    )
    assert field_errors(result) == {"home": key}
    before.assert_nothing_lost()


@pytest.mark.parametrize(("home", "key"), BAD_HOMES)
async def test_bad_home_in_options(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    home: dict[str, Any],
    key: str,
) -> None:
    before = Snapshot(init_integration, aioclient_mock)
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(home=GOOD_HOME | home)
    )
    assert field_errors(result) == {"home": key}
    assert key in OPTIONS_ERRORS
    before.assert_nothing_lost()


@pytest.mark.parametrize(
    "home",
    [
        pytest.param({"latitude": 90, "longitude": 180}, id="north-pole-east"),
        pytest.param({"latitude": -90, "longitude": -180}, id="south-pole-west"),
        pytest.param({"latitude": "52.5", "longitude": "13.4"}, id="numeric-strings"),
    ],
)
async def test_edge_homes_are_accepted(
    hass: HomeAssistant, init_integration: MockConfigEntry, home: dict[str, Any]
) -> None:
    """The limits are inclusive and numeric strings are numbers."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(home=GOOD_HOME | home)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options["home_latitude"] == float(home["latitude"])
    assert init_integration.options["home_longitude"] == float(home["longitude"])
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("home", MALFORMED_HOMES)
async def test_malformed_home_in_options(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    home: Any,
) -> None:
    before = Snapshot(init_integration, aioclient_mock)
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.options.async_configure(
            result["flow_id"], options_input(home=home)
        )
    assert "home" in str(err.value.schema_errors)
    before.assert_nothing_lost()


# --- reauth -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        pytest.param(
            {CONF_CLIENT_ID: CLIENT_ID, CONF_REFRESH_TOKEN: "EU_a\nEU_b"},
            {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
            id="refresh-token-two-lines",
        ),
        pytest.param(
            {CONF_CLIENT_ID: CLIENT_ID, CONF_REFRESH_TOKEN: "   "},
            {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
            id="refresh-token-blank",
        ),
        pytest.param(
            {CONF_CLIENT_ID: "my client", CONF_REFRESH_TOKEN: OLD_REFRESH_TOKEN},
            {CONF_CLIENT_ID: "invalid_client_id"},
            id="client-id-inner-space",
        ),
        pytest.param(
            {
                CONF_CLIENT_ID: CLIENT_ID,
                CONF_CLIENT_SECRET: "secret",
                CONF_REFRESH_TOKEN: "EU_a EU_b",
            },
            {CONF_REFRESH_TOKEN: "invalid_refresh_token"},
            id="with-secret",
        ),
    ],
)
async def test_reauth_refuses_credentials_that_cannot_be_valid(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    user_input: dict[str, Any],
    errors: dict[str, str],
) -> None:
    aioclient_mock.post(TOKEN_URL, json=token_answer(access_token()))
    before = Snapshot(init_integration, aioclient_mock)
    result = await init_integration.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input
    )
    assert result["step_id"] == "reauth_confirm"
    assert field_errors(result) == errors
    before.assert_nothing_lost()


@pytest.mark.parametrize(
    "user_input",
    [
        pytest.param({CONF_CLIENT_ID: CLIENT_ID}, id="refresh-token-missing"),
        pytest.param(
            {CONF_CLIENT_ID: CLIENT_ID, CONF_REFRESH_TOKEN: 42}, id="refresh-token-int"
        ),
        pytest.param(
            {CONF_CLIENT_ID: [CLIENT_ID], CONF_REFRESH_TOKEN: OLD_REFRESH_TOKEN},
            id="client-id-list",
        ),
    ],
)
async def test_reauth_wrong_types_stop_at_the_schema(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    user_input: dict[str, Any],
) -> None:
    before = Snapshot(init_integration, aioclient_mock)
    result = await init_integration.start_reauth_flow(hass)
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    before.assert_nothing_lost()


# --- an unrelated JWT ---------------------------------------------------------------


async def test_unrelated_jwt_pasted_as_refresh_token(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, fleet: FakeFleet
) -> None:
    """A JWT of some other issuer in the refresh-token field.

    Only Tesla can tell whether a refresh token is good, so it is asked (token
    requests are not billed, and a refused token uses nothing up); its refusal
    reads as the translated ``invalid_auth`` on that field. Nothing is stored.
    """
    foreign = make_jwt({"iss": "https://accounts.google.com", "sub": "1234567890"})
    aioclient_mock.post(
        TOKEN_URL,
        status=401,
        json={"error": "login_required", "error_description": "Login required"},
    )
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(refresh_token=foreign)
    )
    assert result["step_id"] == "manual"
    assert field_errors(result) == {CONF_REFRESH_TOKEN: "invalid_auth"}
    assert token_calls(aioclient_mock) == 1
    assert requests_to_tesla(aioclient_mock) == 1  # no Fleet API request
    assert hass.config_entries.async_entries(DOMAIN) == []


@pytest.mark.parametrize(
    ("access", "unique_id"),
    [
        pytest.param(
            make_jwt({"iss": "https://accounts.google.com", "email": "a@b.example"}),
            VIN,
            id="other-issuer-without-sub",
        ),
        pytest.param(make_jwt({"sub": 12345}), VIN, id="sub-is-a-number"),
        pytest.param(make_jwt({"sub": ["a", "b"]}), VIN, id="sub-is-a-list"),
        pytest.param(make_jwt({"sub": ""}), VIN, id="sub-is-empty"),
        pytest.param(
            make_jwt({"sub": None, "ou_code": ["eu"]}), VIN, id="ou-code-is-a-list"
        ),
        pytest.param(jwt_with_payload(b"[1, 2, 3]"), VIN, id="claims-are-a-list"),
        pytest.param(jwt_with_payload(b"\xff\xfe\xfd"), VIN, id="claims-not-utf8"),
        pytest.param(jwt_with_payload(b"{not json"), VIN, id="claims-not-json"),
        pytest.param(
            jwt_with_payload(b"").replace("..", ".!!!."), VIN, id="claims-not-base64"
        ),
        pytest.param(
            make_jwt({"iss": "https://login.example", "sub": "foreign-subject"}),
            "foreign-subject",
            id="other-issuer-with-sub",
        ),
    ],
)
async def test_unrelated_jwt_from_the_token_endpoint_follows_the_spec(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
    access: str,
    unique_id: str,
) -> None:
    """An access token without Tesla's claims: no crash, SPEC §3's rule.

    Without ``ou_code`` the region is asked for; without a ``scp`` claim no
    scope warning is shown; the account is its ``sub`` when that is a string,
    else its sorted VINs.
    """
    aioclient_mock.post(TOKEN_URL, json=token_answer(access))
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input()
    )
    assert result["step_id"] == "region"
    assert field_errors(result) == {}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"region": "eu"}
    )
    assert result["step_id"] == "vehicles"
    result = await finish_key_steps(
        hass,
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_VINS: [VIN], "home": GOOD_HOME}
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    assert entry.unique_id == unique_id
    assert entry.data[CONF_TOKEN]["access_token"] == access
    assert entry.data[CONF_TOKEN]["refresh_token"] == ROTATED_REFRESH_TOKEN
    assert entry.data[CONF_API_BASE_URL] == API_BASE_URL


# --- options: numbers, times, choices ----------------------------------------------

BAD_OPTION_VALUES = [
    pytest.param(
        {CONF_SCOUT_INTERVAL: "nan"},
        CONF_SCOUT_INTERVAL,
        "invalid_interval",
        id="interval-nan",
    ),
    pytest.param(
        {CONF_SCOUT_INTERVAL: 15.5},
        CONF_SCOUT_INTERVAL,
        "invalid_interval",
        id="interval-fraction",
    ),
    pytest.param(
        {CONF_WORKER_COOLDOWN: "nan"},
        CONF_WORKER_COOLDOWN,
        "invalid_cooldown",
        id="cooldown-nan",
    ),
    pytest.param(
        {"charging": charging(battery_capacity="nan")},
        "battery_capacity",
        "invalid_number",
        id="capacity-nan",
    ),
    pytest.param(
        {"charging": charging(charger_power="nan")},
        "charger_power",
        "invalid_number",
        id="power-nan",
    ),
    pytest.param(
        {"charging": charging(charging_efficiency="nan")},
        "charging_efficiency",
        "invalid_number",
        id="efficiency-nan",
    ),
    pytest.param(
        {"charging": charging(peak_price="inf")},
        "peak_price",
        "invalid_number",
        id="peak-price-inf",
    ),
    pytest.param(
        {"charging": charging(offpeak_price="nan")},
        "offpeak_price",
        "invalid_number",
        id="offpeak-price-nan",
    ),
    pytest.param(
        {"charging": charging(tariff="price_entity")},
        CONF_PRICE_ENTITY,
        "price_entity_required",
        id="price-sensor-missing",
    ),
    pytest.param(
        {"charging": charging(tariff="nordpool")},
        "nordpool_entry",
        "nordpool_entry_required",
        id="nordpool-entry-missing",
    ),
    pytest.param(
        {
            "charging": charging(
                tariff="nordpool", nordpool_entry="np", nordpool_area="P L; drop"
            )
        },
        "nordpool_area",
        "invalid_nordpool_area",
        id="nordpool-area-garbage",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "key"), BAD_OPTION_VALUES)
async def test_bad_option_values_are_form_errors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    overrides: dict[str, Any],
    field: str,
    key: str,
) -> None:
    before = Snapshot(init_integration, aioclient_mock)
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(**overrides)
    )
    assert result["type"] is FlowResultType.FORM
    assert field_errors(result) == {field: key}
    assert key in OPTIONS_ERRORS
    before.assert_nothing_lost()


BAD_OPTION_TYPES = [
    pytest.param(
        {CONF_SCOUT_INTERVAL: "fifteen"}, CONF_SCOUT_INTERVAL, id="interval-word"
    ),
    pytest.param({CONF_SCOUT_INTERVAL: "inf"}, CONF_SCOUT_INTERVAL, id="interval-inf"),
    pytest.param(
        {CONF_SCOUT_INTERVAL: "-inf"}, CONF_SCOUT_INTERVAL, id="interval-minus-inf"
    ),
    pytest.param({CONF_SCOUT_INTERVAL: [15]}, CONF_SCOUT_INTERVAL, id="interval-list"),
    pytest.param({CONF_SCOUT_INTERVAL: None}, CONF_SCOUT_INTERVAL, id="interval-none"),
    pytest.param(
        {CONF_WORKER_COOLDOWN: "1e9"}, CONF_WORKER_COOLDOWN, id="cooldown-huge"
    ),
    pytest.param({CONF_FAILSAFE_TIME: "7:30pm"}, CONF_FAILSAFE_TIME, id="time-am-pm"),
    pytest.param({CONF_FAILSAFE_TIME: 730}, CONF_FAILSAFE_TIME, id="time-number"),
    pytest.param({CONF_FAILSAFE_TIME: "24:00"}, CONF_FAILSAFE_TIME, id="time-24h"),
    pytest.param(
        {CONF_PRESENCE_ENTITY: "light.kitchen"},
        CONF_PRESENCE_ENTITY,
        id="presence-wrong-domain",
    ),
    pytest.param(
        {CONF_PRESENCE_ENTITY: "not an entity"},
        CONF_PRESENCE_ENTITY,
        id="presence-not-an-entity",
    ),
    pytest.param(
        {"charging": charging(tariff="g13")}, CONF_TARIFF, id="tariff-unknown"
    ),
    pytest.param(
        {"charging": charging(tariff="G12")}, CONF_TARIFF, id="tariff-uppercase"
    ),
    pytest.param(
        {
            "charging": charging(
                tariff="price_entity", price_entity="binary_sensor.cheap"
            )
        },
        CONF_PRICE_ENTITY,
        id="price-sensor-wrong-domain",
    ),
    pytest.param(
        {"charging": charging(peak_price=-0.5)}, "peak_price", id="price-negative"
    ),
    pytest.param(
        {"charging": charging(battery_capacity="-inf")},
        "battery_capacity",
        id="capacity-minus-inf",
    ),
    pytest.param(
        {"charging": charging(charger_power="inf")}, "charger_power", id="power-inf"
    ),
    pytest.param({"charging": "g12"}, "charging", id="charging-not-a-section"),
    pytest.param(
        {"command_proxy": "https://proxy.local"},
        "command_proxy",
        id="proxy-not-a-section",
    ),
    pytest.param(
        {"command_proxy": {CONF_COMMAND_PROXY_URL: 4443}},
        CONF_COMMAND_PROXY_URL,
        id="proxy-url-number",
    ),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_OPTION_TYPES)
async def test_bad_option_types_stop_at_the_schema(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    overrides: dict[str, Any],
    field: str,
) -> None:
    """Home Assistant's selectors refuse these before the flow sees them."""
    before = Snapshot(init_integration, aioclient_mock)
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.options.async_configure(
            result["flow_id"], options_input(**overrides)
        )
    assert field in str(err.value.schema_errors)
    before.assert_nothing_lost()
    # The same form still takes good input.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input()
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


# --- actions ------------------------------------------------------------------------

OTHER_ENTRY = "other-domain-entry"
ENTRY = "entry"


def _resolve(data: dict[str, Any], entry_id: str) -> dict[str, Any]:
    """Put the real entry ids where a case says ``ENTRY`` or ``OTHER_ENTRY``."""
    ids = {ENTRY: entry_id, OTHER_ENTRY: "sun-entry"}
    return {k: ids.get(v, v) if isinstance(v, str) else v for k, v in data.items()}


TRANSLATED_ACTION_ERRORS = [
    pytest.param(
        "run_worker",
        {"config_entry_id": 12345},
        "entry_not_found",
        id="run-entry-id-number",
    ),
    pytest.param(
        "run_worker",
        {"config_entry_id": ""},
        "entry_not_found",
        id="run-entry-id-empty",
    ),
    pytest.param(
        "run_worker",
        {"config_entry_id": OTHER_ENTRY},
        "entry_not_found",
        id="run-entry-of-another-integration",
    ),
    pytest.param(
        "run_worker",
        {"config_entry_id": "../../config"},
        "entry_not_found",
        id="run-entry-id-path",
    ),
    pytest.param(
        "run_worker",
        {"config_entry_id": ENTRY, "vin": ""},
        "vehicle_not_in_entry",
        id="run-vin-empty",
    ),
    pytest.param(
        "run_worker",
        {"config_entry_id": ENTRY, "vin": VIN_2},
        "vehicle_not_in_entry",
        id="run-vin-of-another-car",
    ),
    pytest.param(
        "run_worker",
        {"config_entry_id": ENTRY, "vin": VIN.lower()},
        "vehicle_not_in_entry",
        id="run-vin-lowercase",
    ),
    pytest.param(
        "run_worker",
        {"config_entry_id": ENTRY, "vin": f"{VIN}\n"},
        "vehicle_not_in_entry",
        id="run-vin-newline",
    ),
    pytest.param(
        "run_worker",
        {"config_entry_id": ENTRY, "vin": 1234},
        "vehicle_not_in_entry",
        id="run-vin-number",
    ),
    pytest.param(
        "run_worker",
        {"config_entry_id": ENTRY, "vin": "x" * 10_000},
        "vehicle_not_in_entry",
        id="run-vin-huge",
    ),
    pytest.param(
        "get_charging_plan",
        {"config_entry_id": ENTRY, "vin": VIN_2},
        "vehicle_not_in_entry",
        id="plan-vin-of-another-car",
    ),
    pytest.param(
        "get_charging_plan",
        {"config_entry_id": OTHER_ENTRY, "vin": VIN},
        "entry_not_found",
        id="plan-entry-of-another-integration",
    ),
    pytest.param(
        "refresh_token",
        {"config_entry_id": OTHER_ENTRY},
        "entry_not_found",
        id="refresh-entry-of-another-integration",
    ),
    pytest.param(
        "refresh_token",
        {"config_entry_id": 0},
        "entry_not_found",
        id="refresh-entry-id-zero",
    ),
]


@pytest.fixture
def other_entry(hass: HomeAssistant) -> MockConfigEntry:
    entry = MockConfigEntry(domain="sun", entry_id="sun-entry", title="Sun")
    entry.add_to_hass(hass)
    return entry


@pytest.mark.parametrize(("service", "data", "key"), TRANSLATED_ACTION_ERRORS)
async def test_action_bad_values_are_translated_errors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    other_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
    service: str,
    data: dict[str, Any],
    key: str,
) -> None:
    before = Snapshot(init_integration, aioclient_mock)
    calls = list(fleet.calls)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            service,
            _resolve(data, init_integration.entry_id),
            blocking=True,
            return_response=service != "refresh_token",
        )
    assert err.value.translation_key == key
    assert_translated(err.value)
    before.assert_nothing_lost()
    assert fleet.calls == calls


SCHEMA_ACTION_ERRORS = [
    pytest.param("run_worker", {}, id="run-without-entry"),
    pytest.param("run_worker", {"config_entry_id": None}, id="run-entry-id-none"),
    pytest.param("run_worker", {"config_entry_id": [ENTRY]}, id="run-entry-id-list"),
    pytest.param(
        "run_worker", {"config_entry_id": {"id": ENTRY}}, id="run-entry-id-dict"
    ),
    pytest.param(
        "run_worker", {"config_entry_id": ENTRY, "force": "maybe"}, id="run-force-word"
    ),
    pytest.param(
        "run_worker", {"config_entry_id": ENTRY, "force": [True]}, id="run-force-list"
    ),
    pytest.param(
        "run_worker", {"config_entry_id": ENTRY, "vin": [VIN]}, id="run-vin-list"
    ),
    pytest.param(
        "run_worker", {"config_entry_id": ENTRY, "vin": None}, id="run-vin-none"
    ),
    pytest.param(
        "run_worker", {"config_entry_id": ENTRY, "vins": [VIN]}, id="run-unknown-field"
    ),
    pytest.param(
        "get_charging_plan", {"config_entry_id": ENTRY}, id="plan-without-vin"
    ),
    pytest.param("get_charging_plan", {"vin": VIN}, id="plan-without-entry"),
    pytest.param(
        "get_charging_plan",
        {"config_entry_id": ENTRY, "vin": {"vin": VIN}},
        id="plan-vin-dict",
    ),
    pytest.param("refresh_token", {}, id="refresh-without-entry"),
    pytest.param(
        "refresh_token",
        {"config_entry_id": ENTRY, "force": True},
        id="refresh-unknown-field",
    ),
]


@pytest.mark.parametrize(("service", "data"), SCHEMA_ACTION_ERRORS)
async def test_action_wrong_shapes_stop_at_the_schema(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
    service: str,
    data: dict[str, Any],
) -> None:
    before = Snapshot(init_integration, aioclient_mock)
    calls = list(fleet.calls)
    with pytest.raises(vol.Invalid):
        await hass.services.async_call(
            DOMAIN,
            service,
            _resolve(data, init_integration.entry_id),
            blocking=True,
            return_response=service != "refresh_token",
        )
    before.assert_nothing_lost()
    assert fleet.calls == calls


# --- the token-sharing views ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "view"),
    [
        ("post", "token"),
        ("put", "token"),
        ("delete", "token"),
        ("get", "refresh"),
        ("put", "refresh"),
        ("delete", "refresh"),
        ("post", "health"),
        ("patch", "health"),
    ],
)
async def test_views_refuse_wrong_methods(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    method: str,
    view: str,
) -> None:
    before = Snapshot(shared_entry, aioclient_mock)
    client = await hass_client()
    response = await client.request(
        method.upper(), f"/api/{DOMAIN}/{shared_entry.entry_id}/{view}"
    )
    assert response.status == HTTPStatus.METHOD_NOT_ALLOWED
    assert shared_entry.data[CONF_TOKEN]["access_token"] not in await response.text()
    before.assert_nothing_lost()


@pytest.mark.parametrize(
    ("user", "entry_id", "status"),
    [
        pytest.param("anonymous", ENTRY, HTTPStatus.UNAUTHORIZED, id="anonymous"),
        pytest.param("read-only", ENTRY, HTTPStatus.UNAUTHORIZED, id="non-admin"),
        pytest.param(
            "read-only", "nope", HTTPStatus.UNAUTHORIZED, id="non-admin-unknown-entry"
        ),
        pytest.param(
            "admin", OTHER_ENTRY, HTTPStatus.NOT_FOUND, id="other-integration"
        ),
        pytest.param("admin", "x" * 4000, HTTPStatus.NOT_FOUND, id="huge-entry-id"),
        pytest.param(
            "admin", "%2E%2E%2Fconfig", HTTPStatus.BAD_REQUEST, id="encoded-path"
        ),
        pytest.param("admin", ENTRY.upper(), HTTPStatus.NOT_FOUND, id="entry-id-case"),
    ],
)
@pytest.mark.parametrize(
    ("method", "view"), [("get", "token"), ("post", "refresh"), ("get", "health")]
)
async def test_views_refuse_wrong_users_and_entries(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    other_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    hass_read_only_access_token: str,
    aioclient_mock: AiohttpClientMocker,
    user: str,
    entry_id: str,
    status: HTTPStatus,
    method: str,
    view: str,
) -> None:
    """No token, no refresh: 401 for everyone but admins (whatever the entry
    id, so nothing is revealed), 404 for an entry that is not ours."""
    before = Snapshot(shared_entry, aioclient_mock)
    if user == "anonymous":
        client = await hass_client_no_auth()
    elif user == "read-only":
        client = await hass_client(hass_read_only_access_token)
    else:
        client = await hass_client()
    entry_id = {ENTRY: shared_entry.entry_id, OTHER_ENTRY: other_entry.entry_id}.get(
        entry_id, entry_id
    )
    if entry_id == ENTRY.upper():
        entry_id = shared_entry.entry_id.swapcase()
        assert entry_id != shared_entry.entry_id
    response = await client.request(method.upper(), f"/api/{DOMAIN}/{entry_id}/{view}")
    # Home Assistant's security filter answers 400 to a path that climbs out.
    assert response.status == status
    assert shared_entry.data[CONF_TOKEN]["access_token"] not in await response.text()
    before.assert_nothing_lost()


async def test_views_404_for_an_unloaded_entry_even_when_shared(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    await hass.config_entries.async_unload(shared_entry.entry_id)
    calls = requests_to_tesla(aioclient_mock)
    client = await hass_client()
    for method, view in (("GET", "token"), ("POST", "refresh"), ("GET", "health")):
        response = await client.request(
            method, f"/api/{DOMAIN}/{shared_entry.entry_id}/{view}"
        )
        assert response.status == HTTPStatus.NOT_FOUND, view
    assert requests_to_tesla(aioclient_mock) == calls


# --- price sensor attributes in wrong shapes -----------------------------------------

NOW = datetime(2026, 12, 2, 17, 0, tzinfo=WAW)
PRICE_SENSOR = "sensor.spot_price"


def hourly(
    start: datetime,
    hours: int,
    price: Callable[[int], Any] = lambda h: 0.2 if h == 26 else 0.9,
    *,
    fmt: Callable[[datetime], Any] = datetime.isoformat,
) -> list[dict[str, Any]]:
    """Nord Pool rows from ``start``, one per hour."""
    return [
        {
            "start": fmt(start + timedelta(hours=h)),
            "end": fmt(start + timedelta(hours=h + 1)),
            "value": price(h),
        }
        for h in range(hours)
    ]


GOOD_ROWS = hourly(NOW.replace(hour=0), 48)

GARBAGE_ATTRIBUTES = [
    pytest.param({"raw_today": "0.5, 0.6, 0.7"}, id="string-instead-of-list"),
    pytest.param({"raw_today": GOOD_ROWS[0]}, id="dict-instead-of-list"),
    pytest.param({"raw_today": [0.5, 0.6, 0.7]}, id="list-of-numbers"),
    pytest.param(
        {"raw_today": [["2026-12-02T00:00:00+01:00", 0.5]]}, id="list-of-lists"
    ),
    pytest.param(
        {"raw_today": [{"begin": r["start"], "price": r["value"]} for r in GOOD_ROWS]},
        id="missing-keys",
    ),
    pytest.param({"raw_today": hourly(NOW, 24, lambda _: math.nan)}, id="nan-prices"),
    pytest.param({"raw_today": hourly(NOW, 24, lambda _: math.inf)}, id="inf-prices"),
    pytest.param(
        {"raw_today": hourly(NOW, 24, lambda _: -math.inf)}, id="minus-inf-prices"
    ),
    pytest.param({"raw_today": hourly(NOW, 24, lambda _: "NaN")}, id="nan-strings"),
    pytest.param({"raw_today": hourly(NOW, 24, lambda _: True)}, id="bool-prices"),
    pytest.param(
        {"raw_today": hourly(NOW, 24, lambda _: {"value": 0.5})}, id="dict-prices"
    ),
    pytest.param(
        {"raw_today": hourly(NOW, 24, fmt=lambda t: t.timestamp())},
        id="epoch-numbers-as-times",
    ),
    pytest.param(
        {"raw_today": hourly(NOW, 24, fmt=lambda t: t.strftime("%d.%m.%Y %H:%M"))},
        id="local-date-format",
    ),
    pytest.param(
        {
            "raw_today": [
                {"start": r["end"], "end": r["start"], "value": r["value"]}
                for r in GOOD_ROWS
            ]
        },
        id="ends-before-starts",
    ),
    pytest.param(
        {"raw_today": [{"start": "9999-12-31T23:00:00+00:00", "value": 0.1}]},
        id="year-9999",
    ),
    pytest.param(
        {"raw_today": [{"start": "9999-12-31T23:30:00", "value": 0.1}]},
        id="year-9999-naive",
    ),
    pytest.param(
        {"raw_today": [{"start": "0001-01-01T00:00:00+05:00", "value": 0.1}]},
        id="year-1",
    ),
    pytest.param(
        {"prices_today": "cheap", "prices_tomorrow": 42}, id="entsoe-not-lists"
    ),
    pytest.param(
        {"prices_today": [{"time": "soon", "price": 0.1}]}, id="entsoe-bad-time"
    ),
    pytest.param(
        {"raw_today": None, "raw_tomorrow": None, "prices": None}, id="all-none"
    ),
    pytest.param({"raw_today": [], "raw_tomorrow": []}, id="empty-lists"),
]


@pytest.fixture
async def price_entry(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    freezer: FrozenDateTimeFactory,
) -> Callable[[dict[str, Any]], Any]:
    """Set up with a price-sensor tariff, smart charging on, the car at home,
    awake, plugged in and below its limit: every reason to send a command."""
    await hass.config.async_set_time_zone("Europe/Warsaw")
    freezer.move_to(NOW)
    car: FakeCar = fleet.cars[VIN]
    car.state = "online"
    car.battery_level = 40
    car.charge_limit_soc = 80

    async def setup(attributes: dict[str, Any]) -> MockConfigEntry:
        hass.states.async_set(PRICE_SENSOR, "0.5", attributes)
        mock_config_entry.add_to_hass(hass)
        hass.config_entries.async_update_entry(
            mock_config_entry,
            # A token valid at the frozen time.
            data={**mock_config_entry.data, CONF_TOKEN: token_data()},
            options={
                **mock_config_entry.options,
                CONF_TARIFF: "price_entity",
                CONF_PRICE_ENTITY: PRICE_SENSOR,
            },
        )
        await async_store_settings(
            hass, mock_config_entry.entry_id, mock_config_entry.data[CONF_VINS]
        )
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        return mock_config_entry

    return setup


def sent_commands(fleet: FakeFleet) -> list[str]:
    return [kind for kind, _ in fleet.calls if kind in COMMANDS]


@pytest.mark.parametrize("attributes", GARBAGE_ATTRIBUTES)
async def test_garbage_price_attributes_mean_no_tariff(
    hass: HomeAssistant,
    price_entry: Callable[[dict[str, Any]], Any],
    fleet: FakeFleet,
    caplog: pytest.LogCaptureFixture,
    attributes: dict[str, Any],
) -> None:
    """No crash, no command, a run that says why; the action answers too."""
    entry: MockConfigEntry = await price_entry(attributes)
    assert entry.state is ConfigEntryState.LOADED
    run = entry.runtime_data.worker.last_run(VIN)
    assert run is not None, "the init run did not finish"
    assert (run.trigger, run.result, run.reason) == ("init", "no_action", "no_tariff")
    assert run.plan is not None
    assert run.plan.reason == "no_tariff"
    assert sent_commands(fleet) == []

    response = await hass.services.async_call(
        DOMAIN,
        "run_worker",
        {"config_entry_id": entry.entry_id, "vin": VIN, "force": True},
        blocking=True,
        return_response=True,
    )
    assert response == {"results": {VIN: "no_action"}}
    plan = await hass.services.async_call(
        DOMAIN,
        "get_charging_plan",
        {"config_entry_id": entry.entry_id, "vin": VIN},
        blocking=True,
        return_response=True,
    )
    assert plan is not None
    assert plan["plan"]["reason"] == "no_tariff"  # type: ignore[index,call-overload]
    assert plan["last_run"]["reason"] == "no_tariff"  # type: ignore[index,call-overload]
    assert sent_commands(fleet) == []
    # Asked for at each run and plan, said once (log-when-unavailable).
    said = [r for r in caplog.records if "The tariff cannot be" in r.getMessage()]
    assert [r.levelname for r in said] == ["WARNING"]
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []

    # Good prices again: said once that it is back.
    hass.states.async_set(
        PRICE_SENSOR,
        "0.5",
        {"raw_today": [{"start": "2026-12-03T00:00:00+01:00", "value": 0.5}]},
    )
    assert entry.runtime_data.worker.tariff() is not None
    assert entry.runtime_data.worker.tariff() is not None
    back = [r for r in caplog.records if "The tariff can be" in r.getMessage()]
    assert [r.levelname for r in back] == ["INFO"]


@pytest.mark.parametrize("attributes", GARBAGE_ATTRIBUTES)
def test_garbage_price_attributes_raise_only_tariff_unavailable(
    attributes: dict[str, Any],
) -> None:
    """The adapter's one way to fail is the error the worker expects."""
    with pytest.raises(TariffUnavailableError):
        tariff_from_price_attributes(attributes, WAW)


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param({"raw_today": GOOD_ROWS}, id="clean"),
        pytest.param(
            {
                "raw_today": [
                    "junk",
                    {"start": "soon", "value": 0.01},
                    {
                        "start": GOOD_ROWS[29]["end"],
                        "end": GOOD_ROWS[29]["start"],
                        "value": 0.01,
                    },
                    *GOOD_ROWS,
                    {"start": "9999-12-31T23:00:00+00:00", "value": 0.01},
                ],
                "raw_tomorrow": "not published",
                "prices_today": [{"time": GOOD_ROWS[20]["start"], "price": math.nan}],
            },
            id="garbage-mixed-in",
        ),
        pytest.param(
            {
                "raw_today": hourly(
                    NOW.replace(hour=0, tzinfo=None),
                    48,
                    fmt=lambda t: t.isoformat(),
                )
            },
            id="naive-times-are-local",
        ),
    ],
)
async def test_good_prices_among_garbage_still_plan(
    hass: HomeAssistant,
    price_entry: Callable[[dict[str, Any]], Any],
    fleet: FakeFleet,
    attributes: dict[str, Any],
) -> None:
    """The control: the cheap hour (tomorrow 02:00 local) is found, and only
    from the good rows (the garbage offered cheaper ones)."""
    entry: MockConfigEntry = await price_entry(attributes)
    run = entry.runtime_data.worker.last_run(VIN)
    assert run is not None
    assert run.plan is not None
    assert run.plan.reason == "cheapest_window"
    assert run.result == "applied"
    assert run.plan.start is not None
    assert run.plan.end is not None
    cheap = NOW.replace(hour=0) + timedelta(hours=26)
    assert run.plan.start <= cheap < cheap + timedelta(hours=1) <= run.plan.end
    assert sent_commands(fleet) == ["add_charge_schedule"]


async def test_stale_price_forecast_sends_no_command(
    hass: HomeAssistant,
    price_entry: Callable[[dict[str, Any]], Any],
    fleet: FakeFleet,
) -> None:
    """Only last week's prices: no price is known, so no command (SPEC §6)."""
    entry: MockConfigEntry = await price_entry(
        {"raw_today": hourly(NOW - timedelta(days=7), 24)}
    )
    run = entry.runtime_data.worker.last_run(VIN)
    assert run is not None
    assert run.plan is not None
    assert run.plan.reason == "no_tariff"
    assert sent_commands(fleet) == []
