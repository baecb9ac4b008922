"""The flows' shared forms: field names, selectors, schemas and validators.

Kept apart from the flows (``config_flow.py``, ``options_flow.py``) so that the
steps read as steps; the options form's own fields and validation are in
``options_schema.py``. Number fields carry their limits in their selectors, so the
form itself refuses a value out of range.
"""

from __future__ import annotations

from collections.abc import Mapping
import ipaddress
import math
import re
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    ConfigEntrySelector,
    ConfigEntrySelectorConfig,
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
)
import voluptuous as vol
from yarl import URL

from .const import (
    CONF_AUTH_IMPLEMENTATION,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_HOME_RADIUS,
    CONF_REFRESH_TOKEN,
    CONF_TOKEN,
    CONF_TOKEN_URL,
    CONF_VINS,
    DEFAULT_HOME_RADIUS,
    DOMAIN,
    LOGGER,
    MAX_CHARGE_WINDOWS,
    MAX_SCOUT_INTERVAL,
    MIN_SCOUT_INTERVAL,
    TARIFFS,
)
from .fleet.auth import (
    decode_jwt_claims,
)
from .fleet.errors import (
    MissingScopeError,
    NotRegisteredError,
    RateLimitedError,
    ServerError,
    TeslaAuthenticationError,
    TeslaConnectionError,
    TokenUnavailableError,
    UsageLimitExceededError,
    WrongRegionError,
)
from .fleet.models import Vehicle, vin_tail
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
TARIFF_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=list(TARIFFS), translation_key="tariff", mode=SelectSelectorMode.LIST
    )
)
PRICE_SENSOR_SELECTOR = EntitySelector(EntitySelectorConfig(domain="sensor"))
NORDPOOL_ENTRY_SELECTOR = ConfigEntrySelector(
    ConfigEntrySelectorConfig(integration="nordpool")
)
PRESENCE_SELECTOR = EntitySelector(
    EntitySelectorConfig(domain=["person", "device_tracker"])
)
PRICE_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=0, step=0.01, mode=NumberSelectorMode.BOX)
)


def _number(low: float, high: float, step: float, unit: str) -> NumberSelector:
    """A number box whose limits the form (and Home Assistant) enforce."""
    return NumberSelector(
        NumberSelectorConfig(
            min=low,
            max=high,
            step=step,
            mode=NumberSelectorMode.BOX,
            unit_of_measurement=unit,
        )
    )


CAPACITY_SELECTOR = _number(5, 250, 0.1, "kWh")
POWER_SELECTOR = _number(0.5, 350, 0.1, "kW")
EFFICIENCY_SELECTOR = _number(50, 100, 1, "%")
WINDOWS_SELECTOR = NumberSelector(
    NumberSelectorConfig(
        min=1, max=MAX_CHARGE_WINDOWS, step=1, mode=NumberSelectorMode.SLIDER
    )
)
DATES_SELECTOR = TextSelector(TextSelectorConfig(multiline=True))

PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
TEXT_SELECTOR = TextSelector()
URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))


class HomeSelector(LocationSelector):
    """The location selector whose latitude and longitude ranges we check.

    Home Assistant 2026.11's selector range-checks them itself and answers with
    an untranslated form-level error ("invalid latitude at 'home.latitude'");
    checked in ``home_options`` instead, the user reads our translated
    ``invalid_location`` next to the map, on every release.
    """

    _SHAPE = vol.Schema(
        {
            vol.Required("latitude"): vol.Coerce(float),
            vol.Required("longitude"): vol.Coerce(float),
            vol.Optional("radius"): vol.Coerce(float),
        }
    )

    def __call__(self, data: Any) -> dict[str, float]:
        """Numbers in the selector's shape; their ranges are ``home_options``'."""
        location: dict[str, float] = self._SHAPE(data)
        return location


HOME_SELECTOR = HomeSelector(LocationSelectorConfig(radius=True, icon="mdi:home"))
SCOUT_INTERVAL_SELECTOR = _number(MIN_SCOUT_INTERVAL, MAX_SCOUT_INTERVAL, 1, "min")
COOLDOWN_SELECTOR = _number(0, MAX_WORKER_COOLDOWN, 1, "min")


def subject_of(access_token: str) -> str | None:
    """The account id (JWT claim ``sub``) of an access token, if it has one."""
    sub = decode_jwt_claims(access_token).get("sub")
    return sub if isinstance(sub, str) and sub else None


_HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$", re.IGNORECASE)


def _valid_host(host: str) -> bool:
    """An IP address or a DNS name (IDNs arrive punycode-encoded)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.removesuffix(".").split(".")
        return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)
    return True


def normalise_url(value: str, *, schemes: tuple[str, ...]) -> str | None:
    """An absolute URL with one of ``schemes`` without its trailing slash.

    A base URL gets paths appended, so a query or a fragment is refused; so is
    whitespace or a control character inside (yarl would silently drop a
    pasted line break) and a host that is no IP address or DNS name.
    """
    text = value.strip()
    if not text.isprintable() or any(char.isspace() for char in text):
        return None
    try:
        url = URL(text)
    except ValueError:
        return None
    if url.scheme not in schemes or not url.raw_host:
        return None
    if url.query_string or url.raw_fragment or not _valid_host(url.raw_host):
        return None
    return str(url).rstrip("/")


def http_url(value: str) -> str | None:
    """A Fleet API or token URL: https, or http for a local simulator."""
    return normalise_url(value, schemes=("https", "http"))


def without_secrets(user_input: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a form may show again after an error: never a token or a secret."""
    secrets = (CONF_REFRESH_TOKEN, CONF_CLIENT_SECRET)
    return {k: v for k, v in (user_input or {}).items() if k not in secrets}


def vehicle_label(vehicle: Vehicle) -> str:
    """Name a vehicle in the form without showing its whole VIN."""
    return f"{vehicle.display_name or FALLBACK_TITLE} ({vin_tail(vehicle.vin)})"


def vehicle_options(
    vehicles: list[Vehicle], extra_vins: list[str] | None = None
) -> list[SelectOptionDict]:
    """Options of the vehicle multi-select (plus stored VINs the API did not list)."""
    options = [
        SelectOptionDict(value=vehicle.vin, label=vehicle_label(vehicle))
        for vehicle in vehicles
    ]
    listed = {vehicle.vin for vehicle in vehicles}
    options.extend(
        SelectOptionDict(value=vin, label=vin_tail(vin))
        for vin in extra_vins or []
        if vin not in listed
    )
    return options


def vins_of_other_entries(hass: HomeAssistant, entry_id: str | None = None) -> set[str]:
    """VINs that entries other than ``entry_id`` look after.

    A car shared by two Tesla accounts is set up once: a second entry would
    make a second device with the same entity unique ids.
    """
    return {
        vin
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.entry_id != entry_id
        for vin in entry.data.get(CONF_VINS, ())
    }


def vehicle_selector(options: list[SelectOptionDict]) -> SelectSelector:
    """The vehicle multi-select."""
    return SelectSelector(
        SelectSelectorConfig(
            options=options, multiple=True, mode=SelectSelectorMode.LIST
        )
    )


def entry_title(vehicles: list[Vehicle], vins: list[str]) -> str:
    """The entry title: the selected vehicles' names."""
    names = [v.display_name for v in vehicles if v.vin in vins and v.display_name]
    return ", ".join(names) or FALLBACK_TITLE


def default_home(
    hass: HomeAssistant, options: Mapping[str, Any] | None = None
) -> dict[str, float]:
    """The stored home, else Home Assistant's home and the radius of zone.home."""
    home = home_from_options(hass, options or {})
    return {
        "latitude": home.latitude,
        "longitude": home.longitude,
        "radius": home.radius_m,
    }


def home_options(home: Mapping[str, Any]) -> tuple[dict[str, float], str | None]:
    """Turn the location selector's value into options, or an error key."""
    latitude = float(home["latitude"])
    longitude = float(home["longitude"])
    radius = float(home.get("radius", DEFAULT_HOME_RADIUS))
    # NaN fails both range checks; an infinite radius would put the car at home
    # everywhere.
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return {}, "invalid_location"
    if not (0 < radius < math.inf):
        return {}, "invalid_radius"
    return {
        CONF_HOME_LATITUDE: latitude,
        CONF_HOME_LONGITUDE: longitude,
        CONF_HOME_RADIUS: radius,
    }, None


def fleet_error_key(err: Exception) -> str:
    """The translation key of a failed Fleet API call."""
    if isinstance(err, WrongRegionError):
        return "wrong_region"
    if isinstance(err, NotRegisteredError):
        return "not_registered"
    if isinstance(err, UsageLimitExceededError):
        return "usage_limit_exceeded"
    if isinstance(err, MissingScopeError):
        return "missing_scope"
    if isinstance(err, TeslaAuthenticationError):
        return "invalid_auth"
    if isinstance(
        err,
        TeslaConnectionError | ServerError | RateLimitedError | TokenUnavailableError,
    ):
        return "cannot_connect"
    LOGGER.exception("Unexpected error from Tesla")
    return "unknown"


def errors_in_view(
    schema: vol.Schema, errors: Mapping[str, str]
) -> tuple[vol.Schema, dict[str, str]]:
    """Open every section that holds an error, and name the error there too.

    A form shown again with its error folded away looks as if nothing had
    happened; and Home Assistant's frontend (2025.4) shows no error of a field
    inside a section, only one given for the section itself, above it.
    """
    shown = dict(errors)
    fields: dict[Any, Any] = {}
    for marker, value in schema.schema.items():
        fields[marker] = value
        if not isinstance(value, section):
            continue
        if held := [errors[str(k)] for k in value.schema.schema if str(k) in errors]:
            fields[marker] = section(
                value.schema, {**value.options, "collapsed": False}
            )
            shown.setdefault(str(marker), held[0])
    return vol.Schema(fields), shown


def credential_errors(client_id: str, refresh_token: str) -> dict[str, str]:
    """Error keys for a client id or refresh token that cannot be one.

    Neither ever contains whitespace: a pasted value broken over two lines, or
    two values pasted at once, is refused here instead of being sent to Tesla.
    Leading and trailing whitespace has been stripped already.
    """
    errors: dict[str, str] = {}
    if not _single_word(client_id):
        errors[CONF_CLIENT_ID] = "invalid_client_id"
    if not _single_word(refresh_token):
        errors[CONF_REFRESH_TOKEN] = "invalid_refresh_token"
    return errors


def _single_word(value: str) -> bool:
    """Non-empty, printable and without whitespace."""
    return bool(value) and value.isprintable() and not any(c.isspace() for c in value)
