"""The options form: its fields, its values, its validation.

The steps are in ``options_flow.py``; what the config flow shares with it
(selectors, URL and home helpers) is in ``flow_schemas.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
import math
import os
import re
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
    TimeSelector,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import (
    CONF_BATTERY_CAPACITY,
    CONF_CHARGER_POWER,
    CONF_CHARGING_EFFICIENCY,
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
    CONF_SCOUT_INTERVAL,
    CONF_SHARE_TOKEN,
    CONF_SPLIT_MIN_SAVING,
    CONF_TARIFF,
    CONF_WORKER_COOLDOWN,
    DEFAULT_BATTERY_CAPACITY,
    DEFAULT_CHARGER_POWER,
    DEFAULT_CHARGING_EFFICIENCY,
    DEFAULT_FAILSAFE_TIME,
    DEFAULT_MAX_CHARGE_WINDOWS,
    DEFAULT_NORDPOOL_AREA,
    DEFAULT_SCOUT_INTERVAL,
    DEFAULT_SHARE_TOKEN,
    DEFAULT_SPLIT_MIN_SAVING,
    DEFAULT_TARIFF,
    DEFAULT_WORKER_COOLDOWN,
    MAX_CHARGE_WINDOWS,
    TARIFF_NORDPOOL,
    TARIFF_PRICE_ENTITY,
)
from .flow_schemas import (
    CAPACITY_SELECTOR,
    CONF_HOME,
    COOLDOWN_SELECTOR,
    DATES_SELECTOR,
    DEFAULT_COMMAND_PROXY_VERIFY_SSL,
    EFFICIENCY_SELECTOR,
    HOME_SELECTOR,
    NORDPOOL_ENTRY_SELECTOR,
    POWER_SELECTOR,
    PRESENCE_SELECTOR,
    PRICE_SELECTOR,
    PRICE_SENSOR_SELECTOR,
    SCOUT_INTERVAL_SELECTOR,
    SECTION_COMMAND_PROXY,
    TARIFF_SELECTOR,
    TEXT_SELECTOR,
    URL_SELECTOR,
    WINDOWS_SELECTOR,
    default_home,
    home_options,
    normalise_url,
)

_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")

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
