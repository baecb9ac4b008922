"""The steps that make a car accept our signed commands, shared by two flows.

The config flow (a new account whose cars need signed commands) and the repair
flow of ``key_not_paired`` run the same two forms:

* ``virtual_key``: the application's domain; whether Home Assistant serves the
  public key there (``virtual_key.py``); and registering the domain with Tesla
  (``fleet/partner.py``), with Tesla's answer in plain words;
* ``pair``: the pairing link for the owner's phone, and a check of
  ``fleet_status`` naming the cars that still lack the key, until every car
  has it (or the user chooses to pair later: the repair reminds them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.helpers.selector import BooleanSelector
import voluptuous as vol

from .const import (
    CONF_AUTH_IMPLEMENTATION,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_TOKEN_URL,
    DOMAIN,
    LOGGER,
)
from .fleet.auth import TOKEN_URL
from .fleet.client import TeslaFleetClient
from .fleet.errors import InvalidClientError, TeslaFleetError
from .fleet.models import Vehicle
from .fleet.partner import (
    PAIRING_URL,
    PUBLIC_KEY_PATH,
    PartnerRegistrationError,
    domain_of,
    public_key_url,
    register_partner_account,
)
from .flow_schemas import (
    PASSWORD_SELECTOR,
    TEXT_SELECTOR,
    fleet_error_key,
    vehicle_label,
    without_secrets,
)
from .virtual_key import (
    VirtualKey,
    async_publish,
    async_register_public_key_view,
    async_virtual_key,
)

CONF_KEY_DOMAIN: Final = "key_domain"
CONF_SERVE_KEY: Final = "serve_key"
CONF_REGISTER: Final = "register_domain"
CONF_PAIR_LATER: Final = "pair_later"

NOBODY: Final = "—"
"""What a list of cars shows when it is empty (a placeholder is not translated)."""


def public_url(hass: HomeAssistant) -> str | None:
    """Home Assistant's address on the internet that Tesla can fetch from.

    https on the standard port (Tesla fetches nothing else): the external URL,
    or Home Assistant Cloud's remote address.
    """
    try:
        return get_url(
            hass,
            allow_internal=False,
            allow_ip=False,
            require_ssl=True,
            require_standard_port=True,
        )
    except NoURLAvailableError:
        return None


def suggested_domain(hass: HomeAssistant, key: VirtualKey) -> str | None:
    """The domain set before, else the host of Home Assistant's public URL."""
    if key.domain:
        return key.domain
    return domain_of(public_url(hass) or "")


def _serves_here(hass: HomeAssistant, domain: str | None) -> bool:
    return domain is not None and domain == domain_of(public_url(hass) or "")


async def async_client_secret(
    hass: HomeAssistant, credentials: Mapping[str, Any]
) -> str | None:
    """The application's client secret: the sign-in's, or its credentials'."""
    if secret := credentials.get(CONF_CLIENT_SECRET):
        return str(secret)
    if (domain_impl := credentials.get(CONF_AUTH_IMPLEMENTATION)) is None:
        return None
    implementations = await config_entry_oauth2_flow.async_get_implementations(
        hass, DOMAIN
    )
    implementation = implementations.get(str(domain_impl))
    if isinstance(implementation, config_entry_oauth2_flow.LocalOAuth2Implementation):
        return implementation.client_secret
    return None


@dataclass(kw_only=True)
class KeyForm:
    """The ``virtual_key`` form of one flow: its schema and what it is showing."""

    hass: HomeAssistant
    credentials: Mapping[str, Any]
    api_base_url: str
    errors: dict[str, str]
    placeholders: dict[str, str]
    skipped: bool = False
    """The user left the domain empty: set up the key later."""

    @classmethod
    async def async_create(
        cls, hass: HomeAssistant, credentials: Mapping[str, Any], api_base_url: str
    ) -> KeyForm:
        """The form for an account's credentials and region.

        The key it shows is kept once the form is submitted.
        """
        key = await async_virtual_key(hass, keep=False)
        assert key is not None  # noqa: S101 - made when missing
        return cls(
            hass=hass,
            credentials=credentials,
            api_base_url=api_base_url,
            errors={},
            placeholders=_key_placeholders(hass, key, suggested_domain(hass, key)),
        )

    async def async_schema(self) -> vol.Schema:
        """The fields; the client secret only when no secret is known."""
        key = await async_virtual_key(self.hass, keep=False)
        assert key is not None  # noqa: S101 - made when missing
        domain = suggested_domain(self.hass, key)
        fields: dict[vol.Marker, Any] = {
            # Empty: later (or through the user's own proxy, in the options).
            vol.Optional(
                CONF_KEY_DOMAIN, description={"suggested_value": domain}
            ): TEXT_SELECTOR,
            vol.Required(
                CONF_SERVE_KEY, default=key.serve or _serves_here(self.hass, domain)
            ): BooleanSelector(),
            vol.Required(CONF_REGISTER, default=True): BooleanSelector(),
        }
        if await async_client_secret(self.hass, self.credentials) is None:
            fields[vol.Optional(CONF_CLIENT_SECRET)] = PASSWORD_SELECTOR
        return vol.Schema(fields)

    async def async_form(
        self,
        suggest: Callable[[vol.Schema, Mapping[str, Any] | None], vol.Schema],
        user_input: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """What the flow shows: the form with the user's input (not the secret)."""
        return {
            "step_id": "virtual_key",
            "data_schema": suggest(
                await self.async_schema(), without_secrets(user_input)
            ),
            "errors": self.errors,
            "description_placeholders": self.placeholders,
        }

    async def async_submit(self, user_input: Mapping[str, Any]) -> str | None:
        """Publish and register; the domain when done.

        ``None`` with ``errors`` set, or with ``skipped`` (no domain given).
        """
        self.errors = {}
        self.skipped = not str(user_input.get(CONF_KEY_DOMAIN) or "").strip()
        if self.skipped:
            return None
        domain = domain_of(str(user_input.get(CONF_KEY_DOMAIN, "")))
        if domain is None:
            self.errors[CONF_KEY_DOMAIN] = "invalid_domain"
            return None
        serve = bool(user_input.get(CONF_SERVE_KEY))
        if serve:
            async_register_public_key_view(self.hass)
        key = await async_publish(self.hass, domain=domain, serve=serve)
        self.placeholders = _key_placeholders(self.hass, key, domain)
        if not user_input.get(CONF_REGISTER):
            return domain
        secret = (user_input.get(CONF_CLIENT_SECRET) or "").strip() or (
            await async_client_secret(self.hass, self.credentials)
        )
        if not secret:
            self.errors[CONF_CLIENT_SECRET] = "client_secret_required"
            return None
        try:
            account = await register_partner_account(
                async_get_clientsession(self.hass),
                client_id=str(self.credentials[CONF_CLIENT_ID]),
                client_secret=secret,
                api_base_url=self.api_base_url,
                domain=domain,
                token_url=str(self.credentials.get(CONF_TOKEN_URL) or TOKEN_URL),
            )
        except InvalidClientError:
            self.errors[CONF_CLIENT_SECRET] = "invalid_client_secret"
        except PartnerRegistrationError as err:
            self.errors["base"] = "registration_refused"
            # Tesla's own words, shown to the user (never logged): they
            # name the domain and what went wrong with its key.
            self.placeholders["tesla_error"] = err.error or str(err)
        except TeslaFleetError as err:
            LOGGER.debug("Partner registration unavailable: %s", type(err).__name__)
            self.errors["base"] = "cannot_connect"
        else:
            if account.public_key not in (None, key.public_hex):
                # Tesla fetched another key from the domain: the cars would
                # pair a key we cannot sign with.
                self.errors["base"] = "registered_key_differs"
            else:
                LOGGER.info("The application's domain is registered with Tesla")
                return domain
        return None


def _key_placeholders(
    hass: HomeAssistant, key: VirtualKey, domain: str | None
) -> dict[str, str]:
    return {
        "public_key": key.public_pem,
        "key_path": PUBLIC_KEY_PATH,
        "key_url": public_key_url(domain or "YOUR-DOMAIN"),
        "external_url": public_url(hass) or hass.config.external_url or NOBODY,
    }


@dataclass(frozen=True, kw_only=True)
class Pairing:
    """Which cars know the key, by name, for the ``pair`` form."""

    paired: tuple[str, ...]
    unpaired: tuple[str, ...]

    @classmethod
    def unknown(cls, cars: Mapping[str, str]) -> Pairing:
        """Tesla could not be asked: every car is still to pair, as far as we know."""
        return cls(paired=(), unpaired=tuple(cars.values()))

    def placeholders(self, domain: str | None) -> dict[str, str]:
        """The link and both lists, ready for the form's text."""
        return {
            "pairing_url": f"{PAIRING_URL}{domain or 'YOUR-DOMAIN'}",
            "paired": ", ".join(self.paired) or NOBODY,
            "unpaired": ", ".join(self.unpaired) or NOBODY,
        }


def pair_schema() -> vol.Schema:
    """One choice: check now (the default), or finish and pair later."""
    return vol.Schema({vol.Required(CONF_PAIR_LATER, default=False): BooleanSelector()})


@dataclass(frozen=True, kw_only=True)
class PairCheck:
    """One check of the ``pair`` form: what Tesla said, or why it could not."""

    pairing: Pairing
    unpaired: frozenset[str] | None
    """The VINs still to pair; ``None`` when Tesla could not be asked."""
    errors: dict[str, str]

    @property
    def done(self) -> bool:
        """Every car knows the key."""
        return self.unpaired is not None and not self.unpaired

    def form(self, domain: str | None) -> dict[str, Any]:
        """What the flow shows: the link, the cars, the choice to pair later."""
        return {
            "step_id": "pair",
            "data_schema": pair_schema(),
            "errors": self.errors,
            "description_placeholders": self.pairing.placeholders(domain),
        }


async def async_pair_check(
    client: TeslaFleetClient, cars: Mapping[str, str], *, submitted: bool
) -> PairCheck:
    """Check the cars; a submitted form with cars still to pair says so."""
    try:
        pairing, unpaired = await async_check_pairing(client, cars)
    except Exception as err:  # noqa: BLE001 - every failure is shown
        return PairCheck(
            pairing=Pairing.unknown(cars),
            unpaired=None,
            errors={"base": fleet_error_key(err)},
        )
    errors = {"base": "still_unpaired"} if unpaired and submitted else {}
    return PairCheck(pairing=pairing, unpaired=unpaired, errors=errors)


async def async_check_pairing(
    client: TeslaFleetClient, cars: Mapping[str, str]
) -> tuple[Pairing, frozenset[str]]:
    """Ask ``fleet_status`` which cars (VIN → name) know the application's key.

    Also the VINs still to pair. A car Tesla says needs no signed commands
    counts as paired.
    """
    status = await client.fleet_status(list(cars))
    unpaired = frozenset(vin for vin in cars if not status.knows_key(vin))
    pairing = Pairing(
        paired=tuple(name for vin, name in cars.items() if vin not in unpaired),
        unpaired=tuple(name for vin, name in cars.items() if vin in unpaired),
    )
    return pairing, unpaired


def signing_cars(vehicles: Iterable[Vehicle], vins: Iterable[str]) -> dict[str, str]:
    """The chosen cars that accept only signed commands, VIN → name."""
    chosen = set(vins)
    return {
        v.vin: vehicle_label(v)
        for v in vehicles
        if v.vin in chosen and v.command_signing == "required"
    }
