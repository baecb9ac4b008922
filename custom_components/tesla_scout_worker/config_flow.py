"""Config, reauth, reconfigure and options flows of Tesla Scout & Worker.

Two ways in, one way through:

* ``pick_implementation``: sign in with Tesla through Home Assistant's
  application credentials (OAuth2 authorization code);
* ``manual``: an existing refresh token and the client id it belongs to. The
  token is refreshed once to prove it works; Tesla refresh tokens are single
  use, so the *rotated* token is the one stored.

Both continue with the same steps: the account (JWT ``sub``), an optional scope
warning (``location_scope``), the API region (``region``, only when the token
does not name one or the region does not answer) and the vehicles and home
position (``vehicles``).
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import logging
import os
from typing import Any, Final

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import AbortFlow, section
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    LocationSelector,
    LocationSelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
    TimeSelector,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol
from yarl import URL

from .const import (
    CONF_API_BASE_URL,
    CONF_AUTH_IMPLEMENTATION,
    CONF_BATTERY_CAPACITY,
    CONF_CHARGER_POWER,
    CONF_CHARGING_EFFICIENCY,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_COMMAND_PROXY_CA_FILE,
    CONF_COMMAND_PROXY_URL,
    CONF_COMMAND_PROXY_VERIFY_SSL,
    CONF_FAILSAFE_TIME,
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_HOME_RADIUS,
    CONF_OFFPEAK_PRICE,
    CONF_PEAK_PRICE,
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
    DEFAULT_BATTERY_CAPACITY,
    DEFAULT_CHARGER_POWER,
    DEFAULT_CHARGING_EFFICIENCY,
    DEFAULT_FAILSAFE_TIME,
    DEFAULT_HOME_RADIUS,
    DEFAULT_SCOUT_INTERVAL,
    DEFAULT_SHARE_TOKEN,
    DEFAULT_TARIFF,
    DEFAULT_WORKER_COOLDOWN,
    DOMAIN,
    LOGGER,
    MAX_SCOUT_INTERVAL,
    MIN_SCOUT_INTERVAL,
    TARIFF_PRICE_ENTITY,
    TARIFFS,
)
from .fleet.auth import (
    REGION_BASE_URLS,
    TOKEN_URL,
    base_url_for_token,
    decode_jwt_claims,
    refresh_token,
    scopes_from_claims,
)
from .fleet.client import TeslaFleetClient
from .fleet.errors import (
    InvalidClientError,
    LoginRequiredError,
    MissingScopeError,
    NotRegisteredError,
    RateLimitedError,
    ServerError,
    TeslaAuthenticationError,
    TeslaConnectionError,
    WrongRegionError,
)
from .fleet.models import Token, Vehicle, vin_tail
from .scout import home_from_options

# Form fields that are not stored under their own name.
CONF_HOME: Final = "home"
CONF_REGION: Final = "region"
SECTION_ADVANCED: Final = "advanced"
SECTION_COMMAND_PROXY: Final = "command_proxy"

REGION_CUSTOM: Final = "custom"
LOCATION_SCOPE: Final = "vehicle_location"
MAX_WORKER_COOLDOWN: Final = 1440
DEFAULT_COMMAND_PROXY_VERIFY_SSL: Final = True
FALLBACK_TITLE: Final = "Tesla"

CREDENTIAL_KEYS: Final = (
    CONF_TOKEN,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_AUTH_IMPLEMENTATION,
    CONF_TOKEN_URL,
)
"""``entry.data`` keys that belong to one login and are replaced together."""

OPTION_KEYS: Final = (
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_HOME_RADIUS,
    CONF_SCOUT_INTERVAL,
    CONF_WORKER_COOLDOWN,
    CONF_FAILSAFE_TIME,
    CONF_COMMAND_PROXY_URL,
    CONF_COMMAND_PROXY_VERIFY_SSL,
    CONF_COMMAND_PROXY_CA_FILE,
    CONF_SHARE_TOKEN,
    CONF_PRESENCE_ENTITY,
    CONF_TARIFF,
    CONF_PRICE_ENTITY,
    CONF_PEAK_PRICE,
    CONF_OFFPEAK_PRICE,
    CONF_BATTERY_CAPACITY,
    CONF_CHARGER_POWER,
    CONF_CHARGING_EFFICIENCY,
)
"""The options the options form owns; any other stored option is kept as is."""

SECTION_CHARGING: Final = "charging"
_TARIFF = SelectSelector(
    SelectSelectorConfig(
        options=list(TARIFFS), translation_key="tariff", mode=SelectSelectorMode.LIST
    )
)
_PRICE_SENSOR = EntitySelector(EntitySelectorConfig(domain="sensor"))
_PRESENCE = EntitySelector(EntitySelectorConfig(domain=["person", "device_tracker"]))
_PRICE = NumberSelector(
    NumberSelectorConfig(min=0, step=0.01, mode=NumberSelectorMode.BOX)
)
_KWH = NumberSelector(
    NumberSelectorConfig(
        step=0.1, mode=NumberSelectorMode.BOX, unit_of_measurement="kWh"
    )
)
_KW = NumberSelector(
    NumberSelectorConfig(
        step=0.1, mode=NumberSelectorMode.BOX, unit_of_measurement="kW"
    )
)
_PERCENT = NumberSelector(
    NumberSelectorConfig(step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="%")
)

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_TEXT = TextSelector()
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_HOME = LocationSelector(LocationSelectorConfig(radius=True, icon="mdi:home"))
_MINUTES = NumberSelector(
    NumberSelectorConfig(step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="min")
)


def _subject(access_token: str) -> str | None:
    """The account id (JWT claim ``sub``) of an access token, if it has one."""
    sub = decode_jwt_claims(access_token).get("sub")
    return sub if isinstance(sub, str) and sub else None


def _normalise_url(value: str, *, schemes: tuple[str, ...]) -> str | None:
    """An absolute URL with one of ``schemes`` without its trailing slash."""
    try:
        url = URL(value.strip())
    except ValueError:
        return None
    if url.scheme not in schemes or not url.host:
        return None
    return str(url).rstrip("/")


def _http_url(value: str) -> str | None:
    """A Fleet API or token URL: https, or http for a local simulator."""
    return _normalise_url(value, schemes=("https", "http"))


def _without_secrets(user_input: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a form may show again after an error: never a token or a secret."""
    secrets = (CONF_REFRESH_TOKEN, CONF_CLIENT_SECRET)
    return {k: v for k, v in (user_input or {}).items() if k not in secrets}


def _vehicle_label(vehicle: Vehicle) -> str:
    """Name a vehicle in the form without showing its whole VIN."""
    return f"{vehicle.display_name or FALLBACK_TITLE} ({vin_tail(vehicle.vin)})"


def _vehicle_options(
    vehicles: list[Vehicle], extra_vins: list[str] | None = None
) -> list[SelectOptionDict]:
    """Options of the vehicle multi-select (plus stored VINs the API did not list)."""
    options = [
        SelectOptionDict(value=vehicle.vin, label=_vehicle_label(vehicle))
        for vehicle in vehicles
    ]
    listed = {vehicle.vin for vehicle in vehicles}
    options.extend(
        SelectOptionDict(value=vin, label=vin_tail(vin))
        for vin in extra_vins or []
        if vin not in listed
    )
    return options


def _vehicle_selector(options: list[SelectOptionDict]) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=options, multiple=True, mode=SelectSelectorMode.LIST
        )
    )


def _title(vehicles: list[Vehicle], vins: list[str]) -> str:
    """The entry title: the selected vehicles' names."""
    names = [v.display_name for v in vehicles if v.vin in vins and v.display_name]
    return ", ".join(names) or FALLBACK_TITLE


def _default_home(
    hass: HomeAssistant, options: Mapping[str, Any] | None = None
) -> dict[str, float]:
    """The stored home, else Home Assistant's home and the radius of zone.home."""
    home = home_from_options(hass, options or {})
    return {
        "latitude": home.latitude,
        "longitude": home.longitude,
        "radius": home.radius_m,
    }


def _home_options(home: Mapping[str, Any]) -> tuple[dict[str, float], str | None]:
    """Turn the location selector's value into options, or an error key."""
    latitude = float(home["latitude"])
    longitude = float(home["longitude"])
    radius = float(home.get("radius", DEFAULT_HOME_RADIUS))
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return {}, "invalid_location"
    if radius <= 0:
        return {}, "invalid_radius"
    return {
        CONF_HOME_LATITUDE: latitude,
        CONF_HOME_LONGITUDE: longitude,
        CONF_HOME_RADIUS: radius,
    }, None


def _fleet_error_key(err: Exception) -> str:
    """The translation key of a failed Fleet API call."""
    if isinstance(err, WrongRegionError):
        return "wrong_region"
    if isinstance(err, NotRegisteredError):
        return "not_registered"
    if isinstance(err, MissingScopeError):
        return "missing_scope"
    if isinstance(err, TeslaAuthenticationError | ConfigEntryAuthFailed):
        return "invalid_auth"
    if isinstance(
        err, TeslaConnectionError | ServerError | RateLimitedError | HomeAssistantError
    ):
        return "cannot_connect"
    LOGGER.exception("Unexpected error while listing the vehicles")
    return "unknown"


async def _async_fetch_vehicles(
    hass: HomeAssistant, access_token: str, api_base_url: str
) -> tuple[list[Vehicle], str]:
    """The account's vehicles and the base URL that answered.

    Tesla answers 421 with the right region's URL when the account lives
    elsewhere: follow that suggestion once. Never refreshes the token.
    """

    async def token_provider(*, force_refresh: bool = False) -> str:
        return access_token

    session = async_get_clientsession(hass)
    client = TeslaFleetClient(
        session=session, token_provider=token_provider, api_base_url=api_base_url
    )
    try:
        return await client.vehicles(), api_base_url
    except WrongRegionError as err:
        suggested = _http_url(err.suggested_url or "")
        if suggested is None or suggested == api_base_url:
            raise
        LOGGER.debug("Fleet API asked for %s instead of %s", suggested, api_base_url)
    client = TeslaFleetClient(
        session=session, token_provider=token_provider, api_base_url=suggested
    )
    return await client.vehicles(), suggested


class ConfigFlow(config_entry_oauth2_flow.AbstractOAuth2FlowHandler, domain=DOMAIN):
    """Set up one Tesla account."""

    DOMAIN = DOMAIN
    VERSION = 1
    MINOR_VERSION = 1

    _token: Token
    """The newest token; set by the sign-in steps before any step that reads it."""

    def __init__(self) -> None:
        """Start without a login."""
        super().__init__()
        self._credentials: dict[str, Any] = {}
        self._api_base_url: str | None = None
        self._vehicles: list[Vehicle] = []

    @property
    def logger(self) -> logging.Logger:
        """The logger of the OAuth2 helper."""
        return LOGGER

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: ConfigEntry,  # noqa: ARG004 - Home Assistant's signature
    ) -> OptionsFlowHandler:
        """The options flow."""
        return OptionsFlowHandler()

    # --- entry points --------------------------------------------------------

    async def async_step_user(
        self,
        user_input: dict[str, Any] | None = None,
    ) -> ConfigFlowResult:
        """Let the user choose how to sign in."""
        return self.async_show_menu(
            step_id="user", menu_options=["pick_implementation", "manual"]
        )

    async def async_step_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in with an existing refresh token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            advanced = user_input.get(SECTION_ADVANCED) or {}
            token_url = _http_url(advanced.get(CONF_TOKEN_URL) or TOKEN_URL)
            if token_url is None:
                errors[CONF_TOKEN_URL] = "invalid_url"
            else:
                credentials = {
                    CONF_CLIENT_ID: user_input[CONF_CLIENT_ID].strip(),
                    CONF_TOKEN_URL: token_url,
                }
                if secret := (user_input.get(CONF_CLIENT_SECRET) or "").strip():
                    credentials[CONF_CLIENT_SECRET] = secret
                errors = await self._async_refresh(
                    credentials, user_input[CONF_REFRESH_TOKEN].strip()
                )
                if not errors:
                    return await self._async_step_account()
        schema = vol.Schema(
            {
                vol.Required(CONF_CLIENT_ID): _TEXT,
                vol.Optional(CONF_CLIENT_SECRET): _PASSWORD,
                vol.Required(CONF_REFRESH_TOKEN): _PASSWORD,
                vol.Required(SECTION_ADVANCED): section(
                    vol.Schema({vol.Optional(CONF_TOKEN_URL, default=TOKEN_URL): _URL}),
                    {"collapsed": True},
                ),
            }
        )
        return self.async_show_form(
            step_id="manual",
            data_schema=self.add_suggested_values_to_schema(
                schema, _without_secrets(user_input)
            ),
            errors=errors,
        )

    async def async_oauth_create_entry(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Continue after Home Assistant exchanged the authorization code."""
        if not isinstance(
            self.flow_impl, config_entry_oauth2_flow.LocalOAuth2Implementation
        ):
            return self.async_abort(reason="oauth_error")
        raw = data[CONF_TOKEN]
        try:
            token = Token.from_response(raw)
        except ValueError:
            LOGGER.warning("Tesla's token answer lacks a refresh token or a lifetime")
            return self.async_abort(reason="oauth_error")
        self._token = dataclasses.replace(token, expires_at=float(raw["expires_at"]))
        self._credentials = {
            CONF_AUTH_IMPLEMENTATION: data[CONF_AUTH_IMPLEMENTATION],
            CONF_CLIENT_ID: self.flow_impl.client_id,
            CONF_TOKEN_URL: self.flow_impl.token_url,
        }
        if self.source == SOURCE_REAUTH:
            return await self._async_finish_reauth()
        return await self._async_step_account()

    # --- shared steps after a token -----------------------------------------

    async def _async_step_account(self) -> ConfigFlowResult:
        """Identify the account, then check scopes and region."""
        access_token = self._token.access_token
        claims = decode_jwt_claims(access_token)
        if (sub := _subject(access_token)) is not None:
            await self.async_set_unique_id(sub)
            self._async_abort_if_account_configured(sub)
        self._api_base_url = base_url_for_token(access_token)
        if "scp" in claims and LOCATION_SCOPE not in scopes_from_claims(claims):
            return await self.async_step_location_scope()
        return await self._async_step_connect()

    async def async_step_location_scope(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Warn that without vehicle_location the scout cannot see the car."""
        if user_input is not None:
            return await self._async_step_connect()
        return self.async_show_form(step_id="location_scope")

    async def _async_step_connect(self) -> ConfigFlowResult:
        """List the vehicles in the token's region, or ask for the region."""
        if self._api_base_url is None:
            return await self.async_step_region()
        if (error := await self._async_load_vehicles(self._api_base_url)) is None:
            return await self.async_step_vehicles()
        return self._show_region_form({"base": error})

    async def async_step_region(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the Fleet API region (or a custom URL such as a simulator)."""
        if user_input is None:
            return self._show_region_form({})
        errors: dict[str, str] = {}
        region = user_input[CONF_REGION]
        if region == REGION_CUSTOM:
            url = _http_url(user_input.get(CONF_API_BASE_URL) or "")
        else:
            url = REGION_BASE_URLS[region]
        if url is None:
            errors[CONF_API_BASE_URL] = "invalid_url"
        elif (error := await self._async_load_vehicles(url)) is None:
            return await self.async_step_vehicles()
        else:
            errors["base"] = error
        return self._show_region_form(errors, user_input)

    @callback
    def _show_region_form(
        self, errors: dict[str, str], user_input: Mapping[str, Any] | None = None
    ) -> ConfigFlowResult:
        if user_input is None:
            regions = {url: code for code, url in REGION_BASE_URLS.items()}
            if self._api_base_url in regions:
                user_input = {CONF_REGION: regions[self._api_base_url]}
        schema = vol.Schema(
            {
                vol.Required(CONF_REGION): SelectSelector(
                    SelectSelectorConfig(
                        options=[*REGION_BASE_URLS, REGION_CUSTOM],
                        translation_key=CONF_REGION,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                vol.Optional(CONF_API_BASE_URL): _URL,
            }
        )
        return self.async_show_form(
            step_id="region",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_vehicles(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the vehicles and the home position."""
        errors: dict[str, str] = {}
        if user_input is not None:
            vins = [v.vin for v in self._vehicles if v.vin in user_input[CONF_VINS]]
            home, home_error = _home_options(user_input[CONF_HOME])
            if not vins:
                errors[CONF_VINS] = "no_vehicle_selected"
            if home_error is not None:
                errors[CONF_HOME] = home_error
            if not errors:
                return await self._async_create_account_entry(vins, home)
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_VINS, default=[v.vin for v in self._vehicles]
                ): _vehicle_selector(_vehicle_options(self._vehicles)),
                vol.Required(CONF_HOME, default=_default_home(self.hass)): _HOME,
            }
        )
        return self.async_show_form(
            step_id="vehicles",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def _async_create_account_entry(
        self, vins: list[str], home: dict[str, float]
    ) -> ConfigFlowResult:
        if self.unique_id is None:
            # Not a JWT: the account is known by its vehicles.
            unique_id = ",".join(sorted(vins))
            await self.async_set_unique_id(unique_id)
            self._async_abort_if_account_configured(unique_id)
        data = {
            **self._credential_data(),
            CONF_API_BASE_URL: self._api_base_url,
            CONF_VINS: vins,
        }
        return self.async_create_entry(
            title=_title(self._vehicles, vins), data=data, options=home
        )

    # --- reauth ---------------------------------------------------------------

    async def async_step_reauth(
        self,
        entry_data: Mapping[str, Any],
    ) -> ConfigFlowResult:
        """Tesla no longer accepts the stored token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in again (OAuth entries) or paste a new refresh token."""
        entry = self._get_reauth_entry()
        placeholders = {"name": entry.title}
        if CONF_AUTH_IMPLEMENTATION in entry.data:
            if user_input is None:
                return self.async_show_form(
                    step_id="reauth_confirm", description_placeholders=placeholders
                )
            implementations = await config_entry_oauth2_flow.async_get_implementations(
                self.hass, DOMAIN
            )
            implementation = implementations.get(entry.data[CONF_AUTH_IMPLEMENTATION])
            if implementation is None:
                # The application credentials were replaced: let the user pick.
                return await self.async_step_pick_implementation()
            self.flow_impl = implementation
            return await self.async_step_auth()

        errors: dict[str, str] = {}
        if user_input is not None:
            client_id = user_input[CONF_CLIENT_ID].strip()
            credentials: dict[str, Any] = {
                CONF_CLIENT_ID: client_id,
                CONF_TOKEN_URL: entry.data.get(CONF_TOKEN_URL, TOKEN_URL),
            }
            secret = (user_input.get(CONF_CLIENT_SECRET) or "").strip()
            if not secret and client_id == entry.data.get(CONF_CLIENT_ID):
                # Same application: keep its secret unless a new one is given.
                secret = entry.data.get(CONF_CLIENT_SECRET, "")
            if secret:
                credentials[CONF_CLIENT_SECRET] = secret
            errors = await self._async_refresh(
                credentials, user_input[CONF_REFRESH_TOKEN].strip()
            )
            if not errors:
                return await self._async_finish_reauth()
        schema = vol.Schema(
            {
                vol.Required(CONF_CLIENT_ID): _TEXT,
                vol.Optional(CONF_CLIENT_SECRET): _PASSWORD,
                vol.Required(CONF_REFRESH_TOKEN): _PASSWORD,
            }
        )
        suggested = _without_secrets(user_input) or {
            CONF_CLIENT_ID: entry.data.get(CONF_CLIENT_ID)
        }
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_finish_reauth(self) -> ConfigFlowResult:
        """Replace the entry's login in place, unless it is another account.

        An account known by its token's subject must sign in as that subject
        again; one known by its vehicles (an opaque token) cannot be checked.
        """
        entry = self._get_reauth_entry()
        new_sub = _subject(self._token.access_token)
        old_token = entry.data.get(CONF_TOKEN) or {}
        if new_sub is not None and _subject(str(old_token.get("access_token", ""))):
            await self.async_set_unique_id(new_sub, raise_on_progress=False)
            self._abort_if_unique_id_mismatch(reason="wrong_account")
        return self.async_update_reload_and_abort(
            entry, data=self._with_credentials(entry.data)
        )

    # --- reconfigure ------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the vehicles, the API base URL and the home position."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is None:
            try:
                self._vehicles, _ = await _async_fetch_vehicles(
                    self.hass,
                    await _async_entry_access_token(entry),
                    entry.data[CONF_API_BASE_URL],
                )
            except Exception as err:  # noqa: BLE001 - every failure is shown
                errors["base"] = _fleet_error_key(err)
        else:
            home, home_error = _home_options(user_input[CONF_HOME])
            if home_error is not None:
                errors[CONF_HOME] = home_error
            if not user_input[CONF_VINS]:
                errors[CONF_VINS] = "no_vehicle_selected"
            url = _http_url(user_input[CONF_API_BASE_URL])
            if url is None:
                errors[CONF_API_BASE_URL] = "invalid_url"
            elif not errors:
                try:
                    self._vehicles, url = await _async_fetch_vehicles(
                        self.hass, await _async_entry_access_token(entry), url
                    )
                except Exception as err:  # noqa: BLE001 - every failure is shown
                    errors["base"] = _fleet_error_key(err)
                else:
                    known = [v.vin for v in self._vehicles]
                    vins = [vin for vin in known if vin in user_input[CONF_VINS]]
                    if len(vins) != len(set(user_input[CONF_VINS])):
                        errors[CONF_VINS] = "vehicle_not_found"
                    else:
                        return await self._async_finish_reconfigure(
                            entry, vins, url, home
                        )
        schema = vol.Schema(
            {
                vol.Required(CONF_VINS): _vehicle_selector(
                    _vehicle_options(self._vehicles, list(entry.data[CONF_VINS]))
                ),
                vol.Required(CONF_API_BASE_URL): _URL,
                vol.Required(CONF_HOME): _HOME,
            }
        )
        suggested = user_input or {
            CONF_VINS: list(entry.data[CONF_VINS]),
            CONF_API_BASE_URL: entry.data[CONF_API_BASE_URL],
            CONF_HOME: _default_home(self.hass, entry.options),
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
        )

    async def _async_finish_reconfigure(
        self,
        entry: ConfigEntry,
        vins: list[str],
        api_base_url: str,
        home: dict[str, float],
    ) -> ConfigFlowResult:
        unique_id = entry.unique_id
        if (sub := _subject(str(entry.data[CONF_TOKEN]["access_token"]))) is not None:
            # The stored token must still be this account's.
            await self.async_set_unique_id(sub, raise_on_progress=False)
            self._abort_if_unique_id_mismatch(reason="wrong_account")
        else:
            # The account is known by its vehicles (SPEC §3).
            unique_id = ",".join(sorted(vins))
            other = self.hass.config_entries.async_entry_for_domain_unique_id(
                DOMAIN, unique_id
            )
            if other is not None and other.entry_id != entry.entry_id:
                return self.async_abort(reason="already_configured")
        return self.async_update_reload_and_abort(
            entry,
            unique_id=unique_id,
            data_updates={CONF_VINS: vins, CONF_API_BASE_URL: api_base_url},
            options={**entry.options, **home},
        )

    # --- helpers ----------------------------------------------------------------

    async def _async_refresh(
        self, credentials: dict[str, Any], old_refresh_token: str
    ) -> dict[str, str]:
        """Trade the refresh token once; keep the rotated token or say why not."""
        try:
            token = await refresh_token(
                async_get_clientsession(self.hass),
                client_id=credentials[CONF_CLIENT_ID],
                refresh_token=old_refresh_token,
                client_secret=credentials.get(CONF_CLIENT_SECRET),
                token_url=credentials[CONF_TOKEN_URL],
            )
        except LoginRequiredError:
            return {CONF_REFRESH_TOKEN: "invalid_auth"}
        except InvalidClientError:
            return {CONF_CLIENT_ID: "invalid_client"}
        except (TeslaConnectionError, ServerError, RateLimitedError):
            return {"base": "cannot_connect"}
        except Exception:  # noqa: BLE001 - shown as "unknown", logged with trace
            LOGGER.exception("Unexpected error while refreshing the Tesla token")
            return {"base": "unknown"}
        # The refresh token just sent is used up: from now on only this one counts.
        self._token = token
        self._credentials = credentials
        return {}

    async def _async_load_vehicles(self, api_base_url: str) -> str | None:
        """Fetch the vehicle list for the new token; an error key on failure."""
        try:
            vehicles, url = await _async_fetch_vehicles(
                self.hass, self._token.access_token, api_base_url
            )
        except Exception as err:  # noqa: BLE001 - every failure is shown
            self._api_base_url = api_base_url
            return _fleet_error_key(err)
        self._api_base_url = url
        if not vehicles:
            return "no_vehicles"
        self._vehicles = vehicles
        return None

    def _credential_data(self) -> dict[str, Any]:
        """The login part of ``entry.data``."""
        return {CONF_TOKEN: self._token.as_dict(), **self._credentials}

    def _with_credentials(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` with its login replaced by the new one (stale keys dropped)."""
        kept = {key: value for key, value in data.items() if key not in CREDENTIAL_KEYS}
        return {**kept, **self._credential_data()}

    @callback
    def _async_abort_if_account_configured(self, unique_id: str) -> None:
        """Abort when the account has an entry, handing it the new token first.

        A new login or a refresh invalidates the token the existing entry holds,
        so the rotated token must not be thrown away with the flow.
        """
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, unique_id
        )
        if entry is None:
            return
        if self.hass.config_entries.async_update_entry(
            entry, data=self._with_credentials(entry.data)
        ) and entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_RETRY):
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        raise AbortFlow("already_configured")


async def _async_entry_access_token(entry: ConfigEntry) -> str:
    """A valid access token of an entry, without a second refresher.

    A loaded entry asks its token manager (which refreshes an expiring token,
    single flight and rate-limited); an unloaded one uses the stored token.
    """
    if entry.state is ConfigEntryState.LOADED:
        token: str = await entry.runtime_data.tokens.async_get_access_token()
        return token
    return str(entry.data[CONF_TOKEN]["access_token"])


PROXY_URL_EXAMPLE: Final = "https://192.168.1.10:4443"
"""Shown in the options form (hassfest keeps URLs out of the strings)."""


class OptionsFlowHandler(OptionsFlow):
    """Home position, scouting and worker timing, command proxy, token sharing."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and validate the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            options, errors = await self._async_validate(user_input)
            if not errors:
                kept = {
                    key: value
                    for key, value in self.config_entry.options.items()
                    if key not in OPTION_KEYS
                }
                return self._async_save_and_reload({**kept, **options})
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                self._schema(), user_input or self._current_values()
            ),
            errors=errors,
            description_placeholders={"proxy_example": PROXY_URL_EXAMPLE},
        )

    @callback
    def _async_save_and_reload(self, options: dict[str, Any]) -> ConfigFlowResult:
        """Store the options and reload the entry when they changed.

        No update listener: Home Assistant 2026.12 refuses update listeners on
        entries whose reauth and reconfigure flows reload them, and
        ``OptionsFlowWithReload`` is newer than our minimum (2025.4). So the
        flow stores the options itself and schedules the reload; the options
        flow manager then finds them unchanged and does nothing more.
        """
        entry = self.config_entry
        if self.hass.config_entries.async_update_entry(entry, options=options) and (
            entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_RETRY)
        ):
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_create_entry(data=options)

    @staticmethod
    def _schema() -> vol.Schema:
        return vol.Schema(
            {
                vol.Required(CONF_HOME): _HOME,
                vol.Required(CONF_SCOUT_INTERVAL): _MINUTES,
                vol.Required(CONF_WORKER_COOLDOWN): _MINUTES,
                vol.Required(CONF_FAILSAFE_TIME): TimeSelector(),
                vol.Required(SECTION_COMMAND_PROXY): section(
                    vol.Schema(
                        {
                            vol.Optional(CONF_COMMAND_PROXY_URL): _URL,
                            vol.Required(
                                CONF_COMMAND_PROXY_VERIFY_SSL,
                                default=DEFAULT_COMMAND_PROXY_VERIFY_SSL,
                            ): BooleanSelector(),
                            vol.Optional(CONF_COMMAND_PROXY_CA_FILE): _TEXT,
                        }
                    ),
                    {"collapsed": True},
                ),
                vol.Optional(CONF_PRESENCE_ENTITY): _PRESENCE,
                vol.Required(SECTION_CHARGING): section(
                    vol.Schema(
                        {
                            vol.Required(CONF_TARIFF): _TARIFF,
                            vol.Optional(CONF_PRICE_ENTITY): _PRICE_SENSOR,
                            vol.Optional(CONF_PEAK_PRICE): _PRICE,
                            vol.Optional(CONF_OFFPEAK_PRICE): _PRICE,
                            vol.Required(CONF_BATTERY_CAPACITY): _KWH,
                            vol.Required(CONF_CHARGER_POWER): _KW,
                            vol.Required(CONF_CHARGING_EFFICIENCY): _PERCENT,
                        }
                    ),
                    {"collapsed": True},
                ),
                vol.Required(
                    CONF_SHARE_TOKEN, default=DEFAULT_SHARE_TOKEN
                ): BooleanSelector(),
            }
        )

    def _current_values(self) -> dict[str, Any]:
        """The stored options (or their defaults) in the form's shape."""
        options = self.config_entry.options
        proxy: dict[str, Any] = {
            CONF_COMMAND_PROXY_VERIFY_SSL: options.get(
                CONF_COMMAND_PROXY_VERIFY_SSL, DEFAULT_COMMAND_PROXY_VERIFY_SSL
            )
        }
        for key in (CONF_COMMAND_PROXY_URL, CONF_COMMAND_PROXY_CA_FILE):
            if options.get(key):
                proxy[key] = options[key]
        failsafe = options.get(CONF_FAILSAFE_TIME, DEFAULT_FAILSAFE_TIME)
        charging: dict[str, Any] = {
            # Stored as "G12" before 0.2 (selector keys are lowercase now).
            CONF_TARIFF: str(options.get(CONF_TARIFF, DEFAULT_TARIFF)).lower(),
            CONF_BATTERY_CAPACITY: options.get(
                CONF_BATTERY_CAPACITY, DEFAULT_BATTERY_CAPACITY
            ),
            CONF_CHARGER_POWER: options.get(CONF_CHARGER_POWER, DEFAULT_CHARGER_POWER),
            CONF_CHARGING_EFFICIENCY: round(
                100 * options.get(CONF_CHARGING_EFFICIENCY, DEFAULT_CHARGING_EFFICIENCY)
            ),
        }
        for key in (CONF_PRICE_ENTITY, CONF_PEAK_PRICE, CONF_OFFPEAK_PRICE):
            if options.get(key) is not None:
                charging[key] = options[key]
        presence = (
            {CONF_PRESENCE_ENTITY: options[CONF_PRESENCE_ENTITY]}
            if options.get(CONF_PRESENCE_ENTITY)
            else {}
        )
        return {
            **presence,
            SECTION_CHARGING: charging,
            CONF_HOME: _default_home(self.hass, options),
            CONF_SCOUT_INTERVAL: options.get(
                CONF_SCOUT_INTERVAL, DEFAULT_SCOUT_INTERVAL
            ),
            CONF_WORKER_COOLDOWN: options.get(
                CONF_WORKER_COOLDOWN, DEFAULT_WORKER_COOLDOWN
            ),
            CONF_FAILSAFE_TIME: f"{failsafe}:00",
            SECTION_COMMAND_PROXY: proxy,
            CONF_SHARE_TOKEN: options.get(CONF_SHARE_TOKEN, DEFAULT_SHARE_TOKEN),
        }

    async def _async_validate(
        self, user_input: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The options to store, and an error key per bad field."""
        errors: dict[str, str] = {}
        home, home_error = _home_options(user_input[CONF_HOME])
        if home_error is not None:
            errors[CONF_HOME] = home_error
        options: dict[str, Any] = dict(home)

        interval = float(user_input[CONF_SCOUT_INTERVAL])
        if (
            not interval.is_integer()
            or not MIN_SCOUT_INTERVAL <= interval <= MAX_SCOUT_INTERVAL
        ):
            errors[CONF_SCOUT_INTERVAL] = "invalid_interval"
        options[CONF_SCOUT_INTERVAL] = int(interval)

        cooldown = float(user_input[CONF_WORKER_COOLDOWN])
        if not cooldown.is_integer() or not 0 <= cooldown <= MAX_WORKER_COOLDOWN:
            errors[CONF_WORKER_COOLDOWN] = "invalid_cooldown"
        options[CONF_WORKER_COOLDOWN] = int(cooldown)

        # The time selector already rejects most bad values; this guards the rest.
        failsafe = dt_util.parse_time(str(user_input[CONF_FAILSAFE_TIME]))
        if failsafe is None:
            errors[CONF_FAILSAFE_TIME] = "invalid_time"
        else:
            options[CONF_FAILSAFE_TIME] = failsafe.strftime("%H:%M")

        proxy = user_input.get(SECTION_COMMAND_PROXY) or {}
        if raw_url := (proxy.get(CONF_COMMAND_PROXY_URL) or "").strip():
            if (url := _normalise_url(raw_url, schemes=("https",))) is None:
                errors[CONF_COMMAND_PROXY_URL] = "invalid_proxy_url"
            else:
                options[CONF_COMMAND_PROXY_URL] = url
        options[CONF_COMMAND_PROXY_VERIFY_SSL] = bool(
            proxy.get(CONF_COMMAND_PROXY_VERIFY_SSL, DEFAULT_COMMAND_PROXY_VERIFY_SSL)
        )
        if raw_path := (proxy.get(CONF_COMMAND_PROXY_CA_FILE) or "").strip():
            path = self.hass.config.path(raw_path)
            if not await self.hass.async_add_executor_job(os.path.isfile, path):
                errors[CONF_COMMAND_PROXY_CA_FILE] = "ca_file_not_found"
            else:
                options[CONF_COMMAND_PROXY_CA_FILE] = path

        options[CONF_SHARE_TOKEN] = bool(user_input[CONF_SHARE_TOKEN])
        if presence := user_input.get(CONF_PRESENCE_ENTITY):
            options[CONF_PRESENCE_ENTITY] = presence
        options.update(_charging_options(user_input.get(SECTION_CHARGING), errors))
        return options, errors


def _charging_options(
    raw: Mapping[str, Any] | None, errors: dict[str, str]
) -> dict[str, Any]:
    """Validate the charging section (tariff and car figures)."""
    values = dict(raw or {})
    options: dict[str, Any] = {CONF_TARIFF: values.get(CONF_TARIFF, DEFAULT_TARIFF)}
    if options[CONF_TARIFF] == TARIFF_PRICE_ENTITY:
        if not values.get(CONF_PRICE_ENTITY):
            errors[CONF_PRICE_ENTITY] = "price_entity_required"
        else:
            options[CONF_PRICE_ENTITY] = values[CONF_PRICE_ENTITY]
    for key in (CONF_PEAK_PRICE, CONF_OFFPEAK_PRICE):
        if values.get(key) is not None:
            options[key] = float(values[key])
    limits = {
        CONF_BATTERY_CAPACITY: (
            DEFAULT_BATTERY_CAPACITY,
            5.0,
            250.0,
            "invalid_capacity",
        ),
        CONF_CHARGER_POWER: (DEFAULT_CHARGER_POWER, 0.5, 350.0, "invalid_power"),
        CONF_CHARGING_EFFICIENCY: (
            100 * DEFAULT_CHARGING_EFFICIENCY,
            50.0,
            100.0,
            "invalid_efficiency",
        ),
    }
    for key, (default, low, high, error) in limits.items():
        value = float(values.get(key, default))
        if not low <= value <= high:
            errors[key] = error
        options[key] = value / 100 if key == CONF_CHARGING_EFFICIENCY else value
    return options
