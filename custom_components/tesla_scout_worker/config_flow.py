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

Long on purpose: Home Assistant looks for the one ``ConfigFlow`` here, and its
user, reauth and reconfigure paths share their steps (sign-in, region,
vehicles); the forms live in ``flow_schemas.py``, the options in
``options_flow.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import logging
from typing import Any

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import AbortFlow, section
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import voluptuous as vol

from .const import (
    CONF_API_BASE_URL,
    CONF_AUTH_IMPLEMENTATION,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_REFRESH_TOKEN,
    CONF_TOKEN,
    CONF_TOKEN_URL,
    CONF_VINS,
    DOMAIN,
    LOGGER,
)
from .fleet.auth import (
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
    RateLimitedError,
    ServerError,
    TeslaConnectionError,
    WrongRegionError,
)
from .fleet.models import Token, Vehicle
from .fleet.regions import REGION_BASE_URLS
from .flow_schemas import (
    CONF_HOME,
    CONF_REGION,
    CREDENTIAL_KEYS,
    HOME_SELECTOR,
    LOCATION_SCOPE,
    PASSWORD_SELECTOR,
    REGION_CUSTOM,
    SECTION_ADVANCED,
    TEXT_SELECTOR,
    URL_SELECTOR,
    credential_errors,
    default_home,
    entry_title,
    errors_in_view,
    fleet_error_key,
    home_options,
    http_url,
    subject_of,
    vehicle_options,
    vehicle_selector,
    vins_of_other_entries,
    without_secrets,
)
from .key_steps import (
    CONF_PAIR_LATER,
    KeyForm,
    async_pair_check,
    signing_cars,
)
from .options_flow import OptionsFlowHandler
from .virtual_key import async_core_key, async_use_key, async_virtual_key


def _flow_client(
    hass: HomeAssistant, access_token: str, api_base_url: str
) -> TeslaFleetClient:
    """A client for the flow's few requests: its token, never refreshed."""

    async def token_provider(*, force_refresh: bool = False) -> str:
        return access_token

    return TeslaFleetClient(
        session=async_get_clientsession(hass),
        token_provider=token_provider,
        api_base_url=api_base_url,
    )


async def _async_fetch_vehicles(
    hass: HomeAssistant, access_token: str, api_base_url: str
) -> tuple[list[Vehicle], str]:
    """The account's vehicles and the base URL that answered.

    Tesla answers 421 with the right region's URL when the account lives
    elsewhere: follow that suggestion once. Never refreshes the token.
    """
    try:
        return await _flow_client(hass, access_token, api_base_url).vehicles(), (
            api_base_url
        )
    except WrongRegionError as err:
        suggested = http_url(err.suggested_url or "")
        if suggested is None or suggested == api_base_url:
            raise
        LOGGER.debug("Fleet API asked for %s instead of %s", suggested, api_base_url)
    return await _flow_client(hass, access_token, suggested).vehicles(), suggested


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
        self._chosen: tuple[list[str], dict[str, float]] = ([], {})
        self._key_form: KeyForm | None = None
        self._key_domain: str | None = None

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
            token_url = http_url(advanced.get(CONF_TOKEN_URL) or TOKEN_URL)
            client_id = user_input[CONF_CLIENT_ID].strip()
            old_refresh_token = user_input[CONF_REFRESH_TOKEN].strip()
            errors = credential_errors(client_id, old_refresh_token)
            if token_url is None:
                errors[CONF_TOKEN_URL] = "invalid_url"
            elif not errors:
                credentials = {CONF_CLIENT_ID: client_id, CONF_TOKEN_URL: token_url}
                if secret := (user_input.get(CONF_CLIENT_SECRET) or "").strip():
                    credentials[CONF_CLIENT_SECRET] = secret
                errors = await self._async_refresh(credentials, old_refresh_token)
                if not errors:
                    return await self._async_step_account()
        schema = vol.Schema(
            {
                vol.Required(CONF_CLIENT_ID): TEXT_SELECTOR,
                vol.Optional(CONF_CLIENT_SECRET): PASSWORD_SELECTOR,
                vol.Required(CONF_REFRESH_TOKEN): PASSWORD_SELECTOR,
                vol.Required(SECTION_ADVANCED): section(
                    vol.Schema(
                        {vol.Optional(CONF_TOKEN_URL, default=TOKEN_URL): URL_SELECTOR}
                    ),
                    {"collapsed": True},
                ),
            }
        )
        schema, errors = errors_in_view(schema, errors)
        return self.async_show_form(
            step_id="manual",
            data_schema=self.add_suggested_values_to_schema(
                schema, without_secrets(user_input)
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
        if (sub := subject_of(access_token)) is not None:
            await self.async_set_unique_id(sub)
            self._async_abort_if_account_configured(sub)
        self._api_base_url = base_url_for_token(access_token)
        if "scp" in claims and LOCATION_SCOPE not in scopes_from_claims(claims):
            return await self.async_step_location_scope()
        return await self._async_step_connect()

    async def async_step_location_scope(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Warn what vehicle_location is for: without it, no position.

        The cars are still read (battery, plug, charging), without
        ``location_data``; the geofence and arrival detection are lost.
        """
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
            url = http_url(user_input.get(CONF_API_BASE_URL) or "")
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
                vol.Optional(CONF_API_BASE_URL): URL_SELECTOR,
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
        """Choose the vehicles and the home position.

        A car that another entry looks after (shared with another Tesla
        account) is set up once: not offered, or refused with a reason, and an
        account with no other car is not set up. An opaque token's account is
        known only by its cars, which may be an entry's own (the same account
        signing in again): those are offered, unselected.
        """
        taken = vins_of_other_entries(self.hass)
        free = [v.vin for v in self._vehicles if v.vin not in taken]
        opaque = self.unique_id is None
        if not free and not opaque:
            return self.async_abort(reason="all_vehicles_configured")
        offered = [v for v in self._vehicles if opaque or v.vin not in taken]
        errors: dict[str, str] = {}
        if user_input is not None:
            vins = [v.vin for v in offered if v.vin in user_input[CONF_VINS]]
            home, home_error = home_options(user_input[CONF_HOME])
            if taken.intersection(user_input[CONF_VINS]) and not (
                opaque and self._account_configured(vins)
            ):
                # Taken by another entry (or while this form was open).
                errors[CONF_VINS] = "vehicle_configured_elsewhere"
            elif not vins:
                errors[CONF_VINS] = "no_vehicle_selected"
            if home_error is not None:
                errors[CONF_HOME] = home_error
            if not errors:
                self._chosen = (vins, home)
                return await self._async_step_signed_commands()
        schema = vol.Schema(
            {
                vol.Required(CONF_VINS, default=free): vehicle_selector(
                    vehicle_options(offered)
                ),
                vol.Required(CONF_HOME, default=default_home(self.hass)): HOME_SELECTOR,
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
            title=entry_title(self._vehicles, vins), data=data, options=home
        )

    # --- signed commands (cars that need them) ----------------------------------

    def _signing_cars(self) -> dict[str, str]:
        return signing_cars(self._vehicles, self._chosen[0])

    async def _async_step_signed_commands(self) -> ConfigFlowResult:
        """Set up the key when a chosen car accepts only signed commands."""
        if not self._signing_cars():
            return await self._async_create_account_entry(*self._chosen)
        if await async_virtual_key(self.hass, create=False) is None and (
            await async_core_key(self.hass) is not None
        ):
            return await self.async_step_key_source()
        return await self.async_step_virtual_key()

    async def async_step_key_source(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Core Tesla Fleet has a key: reuse it, or make one of our own."""
        return self.async_show_menu(
            step_id="key_source", menu_options=["key_reuse", "key_new"]
        )

    async def async_step_key_reuse(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign with core Tesla Fleet's key: the cars may know it already."""
        if (key := await async_core_key(self.hass)) is not None:
            await async_use_key(self.hass, key)
        return await self.async_step_virtual_key()

    async def async_step_key_new(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign with a key of our own (made now)."""
        return await self.async_step_virtual_key()

    async def async_step_virtual_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The application's domain: host the public key there and register it."""
        if self._key_form is None:
            self._key_form = await KeyForm.async_create(
                self.hass, self._credentials, str(self._api_base_url)
            )
        form = self._key_form
        if user_input is not None:
            self._key_domain = await form.async_submit(user_input)
            if form.skipped:
                # Later: the repair guides it once a car refuses our key.
                return await self._async_create_account_entry(*self._chosen)
            if self._key_domain is not None:
                return await self.async_step_pair()
        return self.async_show_form(
            **await form.async_form(self.add_suggested_values_to_schema, user_input)
        )

    async def async_step_pair(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the pairing link; check the cars until each has the key."""
        if user_input is not None and user_input.get(CONF_PAIR_LATER):
            return await self._async_create_account_entry(*self._chosen)
        check = await async_pair_check(
            _flow_client(self.hass, self._token.access_token, str(self._api_base_url)),
            self._signing_cars(),
            submitted=user_input is not None,
        )
        if check.done:
            # Every car knows the key (reused, or paired before).
            return await self._async_create_account_entry(*self._chosen)
        return self.async_show_form(**check.form(self._key_domain))

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
            old_refresh_token = user_input[CONF_REFRESH_TOKEN].strip()
            errors = credential_errors(client_id, old_refresh_token)
        if user_input is not None and not errors:
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
            errors = await self._async_refresh(credentials, old_refresh_token)
            if not errors:
                return await self._async_finish_reauth()
        schema = vol.Schema(
            {
                vol.Required(CONF_CLIENT_ID): TEXT_SELECTOR,
                vol.Optional(CONF_CLIENT_SECRET): PASSWORD_SELECTOR,
                vol.Required(CONF_REFRESH_TOKEN): PASSWORD_SELECTOR,
            }
        )
        suggested = without_secrets(user_input) or {
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
        new_sub = subject_of(self._token.access_token)
        old_token = entry.data.get(CONF_TOKEN) or {}
        if new_sub is not None and subject_of(str(old_token.get("access_token", ""))):
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
        taken = vins_of_other_entries(self.hass, entry.entry_id)
        errors: dict[str, str] = {}
        if user_input is None:
            try:
                self._vehicles, _ = await _async_fetch_vehicles(
                    self.hass,
                    await _async_entry_access_token(entry),
                    entry.data[CONF_API_BASE_URL],
                )
            except Exception as err:  # noqa: BLE001 - every failure is shown
                errors["base"] = fleet_error_key(err)
        else:
            home, home_error = home_options(user_input[CONF_HOME])
            if home_error is not None:
                errors[CONF_HOME] = home_error
            if not user_input[CONF_VINS]:
                errors[CONF_VINS] = "no_vehicle_selected"
            elif taken.intersection(user_input[CONF_VINS]):
                errors[CONF_VINS] = "vehicle_configured_elsewhere"
            url = http_url(user_input[CONF_API_BASE_URL])
            if url is None:
                errors[CONF_API_BASE_URL] = "invalid_url"
            elif not errors:
                try:
                    self._vehicles, url = await _async_fetch_vehicles(
                        self.hass, await _async_entry_access_token(entry), url
                    )
                except Exception as err:  # noqa: BLE001 - every failure is shown
                    errors["base"] = fleet_error_key(err)
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
                vol.Required(CONF_VINS): vehicle_selector(
                    vehicle_options(
                        [v for v in self._vehicles if v.vin not in taken],
                        list(entry.data[CONF_VINS]),
                    )
                ),
                vol.Required(CONF_API_BASE_URL): URL_SELECTOR,
                vol.Required(CONF_HOME): HOME_SELECTOR,
            }
        )
        suggested = user_input or {
            CONF_VINS: list(entry.data[CONF_VINS]),
            CONF_API_BASE_URL: entry.data[CONF_API_BASE_URL],
            CONF_HOME: default_home(self.hass, entry.options),
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
        if (sub := subject_of(str(entry.data[CONF_TOKEN]["access_token"]))) is not None:
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
            return fleet_error_key(err)
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

    def _account_configured(self, vins: list[str]) -> bool:
        """Whether an entry is the account these cars name (opaque tokens)."""
        return (
            self.hass.config_entries.async_entry_for_domain_unique_id(
                DOMAIN, ",".join(sorted(vins))
            )
            is not None
        )

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

    A loaded entry asks its token keeper (which refreshes an expiring token,
    single flight and rate-limited); an unloaded one uses the stored token.
    """
    if entry.state is ConfigEntryState.LOADED:
        token: str = await entry.runtime_data.tokens.async_get_access_token()
        return token
    return str(entry.data[CONF_TOKEN]["access_token"])
