"""The flows' forms: field names, selectors, schemas and validators.

Kept apart from the flows (``config_flow.py``, ``options_flow.py``) so that the
steps read as steps. Number fields carry their limits in their selectors, so the
form itself refuses a value out of range.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
import ipaddress
import math
import os
import re
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
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
    TimeSelector,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol
from yarl import URL

from .const import (
    CONF_AUTH_IMPLEMENTATION,
    CONF_BATTERY_CAPACITY,
    CONF_CHARGER_POWER,
    CONF_CHARGING_EFFICIENCY,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_COMMAND_PROXY_CA_FILE,
    CONF_COMMAND_PROXY_URL,
    CONF_COMMAND_PROXY_VERIFY_SSL,
    CONF_EXTRA_OFFPEAK_DATES,
    CONF_FAILSAFE_TIME,
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_HOME_RADIUS,
    CONF_MAX_CHARGE_WINDOWS,
    CONF_NORDPOOL_AREA,
    CONF_NORDPOOL_ENTRY,
    CONF_OFFPEAK_PRICE,
    CONF_PEAK_PRICE,
    CONF_PRESENCE_ENTITY,
    CONF_PRICE_ATTRIBUTE,
    CONF_PRICE_ENTITY,
    CONF_REFRESH_TOKEN,
    CONF_SCOUT_INTERVAL,
    CONF_SHARE_TOKEN,
    CONF_SPLIT_MIN_SAVING,
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
    DEFAULT_MAX_CHARGE_WINDOWS,
    DEFAULT_NORDPOOL_AREA,
    DEFAULT_SCOUT_INTERVAL,
    DEFAULT_SHARE_TOKEN,
    DEFAULT_SPLIT_MIN_SAVING,
    DEFAULT_TARIFF,
    DEFAULT_WORKER_COOLDOWN,
    DOMAIN,
    LOGGER,
    MAX_CHARGE_WINDOWS,
    MAX_SCOUT_INTERVAL,
    MIN_SCOUT_INTERVAL,
    TARIFF_NORDPOOL,
    TARIFF_PRICE_ENTITY,
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
    CONF_NORDPOOL_ENTRY,
    CONF_NORDPOOL_AREA,
    CONF_PRICE_ATTRIBUTE,
    CONF_EXTRA_OFFPEAK_DATES,
    CONF_PEAK_PRICE,
    CONF_OFFPEAK_PRICE,
    CONF_BATTERY_CAPACITY,
    CONF_CHARGER_POWER,
    CONF_CHARGING_EFFICIENCY,
    CONF_MAX_CHARGE_WINDOWS,
    CONF_SPLIT_MIN_SAVING,
)
"""The options the options form owns; any other stored option is kept as is."""

SECTION_CHARGING: Final = "charging"
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
HOME_SELECTOR = LocationSelector(LocationSelectorConfig(radius=True, icon="mdi:home"))
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
    if isinstance(err, MissingScopeError):
        return "missing_scope"
    if isinstance(err, TeslaAuthenticationError):
        return "invalid_auth"
    if isinstance(
        err,
        TeslaConnectionError | ServerError | RateLimitedError | TokenUnavailableError,
    ):
        return "cannot_connect"
    LOGGER.exception("Unexpected error while listing the vehicles")
    return "unknown"


def options_schema() -> vol.Schema:
    """The options form (its number fields carry their limits)."""
    proxy = vol.Schema(
        {
            vol.Optional(CONF_COMMAND_PROXY_URL): URL_SELECTOR,
            vol.Required(
                CONF_COMMAND_PROXY_VERIFY_SSL,
                default=DEFAULT_COMMAND_PROXY_VERIFY_SSL,
            ): BooleanSelector(),
            vol.Optional(CONF_COMMAND_PROXY_CA_FILE): TEXT_SELECTOR,
        }
    )
    charging = vol.Schema(
        {
            vol.Required(CONF_TARIFF): TARIFF_SELECTOR,
            vol.Optional(CONF_PRICE_ENTITY): PRICE_SENSOR_SELECTOR,
            vol.Optional(CONF_NORDPOOL_ENTRY): NORDPOOL_ENTRY_SELECTOR,
            vol.Optional(CONF_NORDPOOL_AREA): TEXT_SELECTOR,
            vol.Optional(CONF_PRICE_ATTRIBUTE): TEXT_SELECTOR,
            vol.Optional(CONF_PEAK_PRICE): PRICE_SELECTOR,
            vol.Optional(CONF_OFFPEAK_PRICE): PRICE_SELECTOR,
            vol.Optional(CONF_EXTRA_OFFPEAK_DATES): DATES_SELECTOR,
            vol.Required(CONF_BATTERY_CAPACITY): CAPACITY_SELECTOR,
            vol.Required(CONF_CHARGER_POWER): POWER_SELECTOR,
            vol.Required(CONF_CHARGING_EFFICIENCY): EFFICIENCY_SELECTOR,
            vol.Optional(CONF_MAX_CHARGE_WINDOWS): WINDOWS_SELECTOR,
            vol.Optional(CONF_SPLIT_MIN_SAVING): PRICE_SELECTOR,
        }
    )
    return vol.Schema(
        {
            vol.Required(CONF_HOME): HOME_SELECTOR,
            vol.Required(CONF_SCOUT_INTERVAL): SCOUT_INTERVAL_SELECTOR,
            vol.Required(CONF_WORKER_COOLDOWN): COOLDOWN_SELECTOR,
            vol.Required(CONF_FAILSAFE_TIME): TimeSelector(),
            vol.Required(SECTION_COMMAND_PROXY): section(proxy, {"collapsed": True}),
            vol.Optional(CONF_PRESENCE_ENTITY): PRESENCE_SELECTOR,
            vol.Required(SECTION_CHARGING): section(charging, {"collapsed": True}),
            vol.Required(
                CONF_SHARE_TOKEN, default=DEFAULT_SHARE_TOKEN
            ): BooleanSelector(),
        }
    )


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


def options_form_values(
    hass: HomeAssistant, options: Mapping[str, Any]
) -> dict[str, Any]:
    """The stored options (or their defaults) in the form's shape."""
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
        CONF_MAX_CHARGE_WINDOWS: options.get(
            CONF_MAX_CHARGE_WINDOWS, DEFAULT_MAX_CHARGE_WINDOWS
        ),
        CONF_SPLIT_MIN_SAVING: options.get(
            CONF_SPLIT_MIN_SAVING, DEFAULT_SPLIT_MIN_SAVING
        ),
    }
    for key in (
        CONF_PRICE_ENTITY,
        CONF_NORDPOOL_ENTRY,
        CONF_NORDPOOL_AREA,
        CONF_PRICE_ATTRIBUTE,
        CONF_PEAK_PRICE,
        CONF_OFFPEAK_PRICE,
    ):
        if options.get(key) is not None:
            charging[key] = options[key]
    if dates := options.get(CONF_EXTRA_OFFPEAK_DATES):
        charging[CONF_EXTRA_OFFPEAK_DATES] = "\n".join(dates)
    presence = (
        {CONF_PRESENCE_ENTITY: options[CONF_PRESENCE_ENTITY]}
        if options.get(CONF_PRESENCE_ENTITY)
        else {}
    )
    return {
        **presence,
        SECTION_CHARGING: charging,
        CONF_HOME: default_home(hass, options),
        CONF_SCOUT_INTERVAL: options.get(CONF_SCOUT_INTERVAL, DEFAULT_SCOUT_INTERVAL),
        CONF_WORKER_COOLDOWN: options.get(
            CONF_WORKER_COOLDOWN, DEFAULT_WORKER_COOLDOWN
        ),
        CONF_FAILSAFE_TIME: f"{failsafe}:00",
        SECTION_COMMAND_PROXY: proxy,
        CONF_SHARE_TOKEN: options.get(CONF_SHARE_TOKEN, DEFAULT_SHARE_TOKEN),
    }


async def async_validate_options(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The options to store, and an error key per bad field."""
    errors: dict[str, str] = {}
    home, home_error = home_options(user_input[CONF_HOME])
    if home_error is not None:
        errors[CONF_HOME] = home_error
    options: dict[str, Any] = dict(home)

    # The selectors hold the limits (NaN passes them); whole minutes are checked here.
    interval = float(user_input[CONF_SCOUT_INTERVAL])
    if not interval.is_integer():
        errors[CONF_SCOUT_INTERVAL] = "invalid_interval"
    else:
        options[CONF_SCOUT_INTERVAL] = int(interval)

    cooldown = float(user_input[CONF_WORKER_COOLDOWN])
    if not cooldown.is_integer():
        errors[CONF_WORKER_COOLDOWN] = "invalid_cooldown"
    else:
        options[CONF_WORKER_COOLDOWN] = int(cooldown)

    # The time selector already rejects most bad values; this guards the rest.
    failsafe = dt_util.parse_time(str(user_input[CONF_FAILSAFE_TIME]))
    if failsafe is None:
        errors[CONF_FAILSAFE_TIME] = "invalid_time"
    else:
        options[CONF_FAILSAFE_TIME] = failsafe.strftime("%H:%M")

    proxy = user_input.get(SECTION_COMMAND_PROXY) or {}
    if raw_url := (proxy.get(CONF_COMMAND_PROXY_URL) or "").strip():
        if (url := normalise_url(raw_url, schemes=("https",))) is None:
            errors[CONF_COMMAND_PROXY_URL] = "invalid_proxy_url"
        else:
            options[CONF_COMMAND_PROXY_URL] = url
    options[CONF_COMMAND_PROXY_VERIFY_SSL] = bool(
        proxy.get(CONF_COMMAND_PROXY_VERIFY_SSL, DEFAULT_COMMAND_PROXY_VERIFY_SSL)
    )
    if raw_path := (proxy.get(CONF_COMMAND_PROXY_CA_FILE) or "").strip():
        path = hass.config.path(raw_path)
        if not await hass.async_add_executor_job(os.path.isfile, path):
            errors[CONF_COMMAND_PROXY_CA_FILE] = "ca_file_not_found"
        else:
            options[CONF_COMMAND_PROXY_CA_FILE] = path

    options[CONF_SHARE_TOKEN] = bool(user_input[CONF_SHARE_TOKEN])
    if presence := user_input.get(CONF_PRESENCE_ENTITY):
        options[CONF_PRESENCE_ENTITY] = presence
    options.update(charging_options(user_input.get(SECTION_CHARGING), errors))
    return options, errors


def charging_options(
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
        if attribute := str(values.get(CONF_PRICE_ATTRIBUTE) or "").strip():
            if attribute.isprintable() and len(attribute) <= 255:
                options[CONF_PRICE_ATTRIBUTE] = attribute
            else:
                errors[CONF_PRICE_ATTRIBUTE] = "invalid_price_attribute"
    if raw_dates := str(values.get(CONF_EXTRA_OFFPEAK_DATES) or "").strip():
        if (dates := parse_dates(raw_dates)) is None:
            errors[CONF_EXTRA_OFFPEAK_DATES] = "invalid_dates"
        else:
            options[CONF_EXTRA_OFFPEAK_DATES] = dates
    if options[CONF_TARIFF] == TARIFF_NORDPOOL:
        area = str(values.get(CONF_NORDPOOL_AREA) or DEFAULT_NORDPOOL_AREA)
        area = area.strip().upper()
        if not values.get(CONF_NORDPOOL_ENTRY):
            errors[CONF_NORDPOOL_ENTRY] = "nordpool_entry_required"
        elif not (area.isascii() and area.isalnum() and len(area) <= 8):
            errors[CONF_NORDPOOL_AREA] = "invalid_nordpool_area"
        else:
            options[CONF_NORDPOOL_ENTRY] = values[CONF_NORDPOOL_ENTRY]
            options[CONF_NORDPOOL_AREA] = area
    # The selectors hold the limits (5-250 kWh, 0.5-350 kW, 50-100 %, prices
    # from 0), but NaN passes any limit and the prices have no upper one.
    for key in (CONF_PEAK_PRICE, CONF_OFFPEAK_PRICE):
        if values.get(key) is not None:
            if math.isfinite(price := float(values[key])):
                options[key] = price
            else:
                errors[key] = "invalid_number"
    windows = float(values.get(CONF_MAX_CHARGE_WINDOWS, DEFAULT_MAX_CHARGE_WINDOWS))
    if windows.is_integer() and 1 <= windows <= MAX_CHARGE_WINDOWS:
        options[CONF_MAX_CHARGE_WINDOWS] = int(windows)
    else:
        errors[CONF_MAX_CHARGE_WINDOWS] = "invalid_number"
    saving = float(values.get(CONF_SPLIT_MIN_SAVING, DEFAULT_SPLIT_MIN_SAVING))
    if math.isfinite(saving) and saving >= 0:
        options[CONF_SPLIT_MIN_SAVING] = saving
    else:
        errors[CONF_SPLIT_MIN_SAVING] = "invalid_number"
    defaults = {
        CONF_BATTERY_CAPACITY: DEFAULT_BATTERY_CAPACITY,
        CONF_CHARGER_POWER: DEFAULT_CHARGER_POWER,
        CONF_CHARGING_EFFICIENCY: 100 * DEFAULT_CHARGING_EFFICIENCY,
    }
    for key, default in defaults.items():
        value = float(values.get(key, default))
        if not math.isfinite(value):
            errors[key] = "invalid_number"
            continue
        options[key] = value / 100 if key == CONF_CHARGING_EFFICIENCY else value
    return options


_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_dates(text: str) -> list[str] | None:
    """Dates (``YYYY-MM-DD``, split by commas, spaces or lines), sorted, unique.

    ``None`` when any piece is not a date.
    """
    dates: set[str] = set()
    for piece in text.replace(",", " ").replace(";", " ").split():
        if not _ISO_DATE.fullmatch(piece):
            return None
        try:
            dates.add(date.fromisoformat(piece).isoformat())
        except ValueError:  # 2026-02-30
            return None
    return sorted(dates)


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
