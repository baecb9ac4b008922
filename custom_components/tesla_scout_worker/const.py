"""Constants of Tesla Scout & Worker: the config-entry contract lives here."""

from __future__ import annotations

import logging
from typing import Final

from .domain.plan import MAX_WINDOWS

DOMAIN: Final = "tesla_scout_worker"
LOGGER = logging.getLogger(__package__)

# entry.data (SPEC §3)
CONF_TOKEN: Final = "token"
CONF_CLIENT_ID: Final = "client_id"
CONF_CLIENT_SECRET: Final = "client_secret"
CONF_AUTH_IMPLEMENTATION: Final = "auth_implementation"
CONF_API_BASE_URL: Final = "api_base_url"
CONF_TOKEN_URL: Final = "token_url"
CONF_VINS: Final = "vins"
CONF_REFRESH_TOKEN: Final = "refresh_token"

# entry.options (SPEC §3)
CONF_HOME_LATITUDE: Final = "home_latitude"
CONF_HOME_LONGITUDE: Final = "home_longitude"
CONF_HOME_RADIUS: Final = "home_radius"
CONF_SCOUT_INTERVAL: Final = "scout_interval"
CONF_WORKER_COOLDOWN: Final = "worker_cooldown"
CONF_FAILSAFE_TIME: Final = "failsafe_time"
CONF_COMMAND_PROXY_URL: Final = "command_proxy_url"
CONF_COMMAND_PROXY_VERIFY_SSL: Final = "command_proxy_verify_ssl"
CONF_COMMAND_PROXY_CA_FILE: Final = "command_proxy_ca_file"
CONF_SHARE_TOKEN: Final = "share_token"
CONF_PRESENCE_ENTITY: Final = "presence_entity"
CONF_TARIFF: Final = "tariff"
CONF_PRICE_ENTITY: Final = "price_entity"
CONF_NORDPOOL_ENTRY: Final = "nordpool_entry"
CONF_NORDPOOL_AREA: Final = "nordpool_area"
CONF_PRICE_ATTRIBUTE: Final = "price_attribute"
CONF_EXTRA_OFFPEAK_DATES: Final = "extra_offpeak_dates"
CONF_PEAK_PRICE: Final = "peak_price"
CONF_OFFPEAK_PRICE: Final = "offpeak_price"
CONF_BATTERY_CAPACITY: Final = "battery_capacity"
CONF_CHARGER_POWER: Final = "charger_power"
CONF_CHARGING_EFFICIENCY: Final = "charging_efficiency"
CONF_MAX_CHARGE_WINDOWS: Final = "max_charge_windows"
CONF_SPLIT_MIN_SAVING: Final = "split_min_saving"

TARIFF_G11: Final = "g11"
TARIFF_G12: Final = "g12"
TARIFF_G12W: Final = "g12w"
TARIFF_PRICE_ENTITY: Final = "price_entity"
TARIFF_NORDPOOL: Final = "nordpool"
TARIFFS: Final = (
    TARIFF_G11,
    TARIFF_G12,
    TARIFF_G12W,
    TARIFF_PRICE_ENTITY,
    TARIFF_NORDPOOL,
)
DEFAULT_NORDPOOL_AREA: Final = "PL"
DEFAULT_TARIFF: Final = TARIFF_G12
DEFAULT_BATTERY_CAPACITY: Final = 75.0
DEFAULT_CHARGER_POWER: Final = 11.0
DEFAULT_CHARGING_EFFICIENCY: Final = 0.9
DEFAULT_MAX_CHARGE_WINDOWS: Final = 1
MAX_CHARGE_WINDOWS: Final = MAX_WINDOWS
DEFAULT_SPLIT_MIN_SAVING: Final = 1.0

DEFAULT_HOME_RADIUS: Final = 100.0
DEFAULT_SCOUT_INTERVAL: Final = 15
MIN_SCOUT_INTERVAL: Final = 1
MAX_SCOUT_INTERVAL: Final = 120
DEFAULT_WORKER_COOLDOWN: Final = 10
DEFAULT_FAILSAFE_TIME: Final = "00:00"
DEFAULT_SHARE_TOKEN: Final = False

# Bus event (SPEC §7)
EVENT_TYPE: Final = f"{DOMAIN}_event"
EVENT_ARRIVED_HOME: Final = "arrived_home"
EVENT_LEFT_HOME: Final = "left_home"
EVENT_STATE_CHANGED: Final = "state_changed"
EVENT_WORKER_FINISHED: Final = "worker_finished"
EVENT_TOKEN_REFRESHED: Final = "token_refreshed"

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_VIN: Final = "vin"
ATTR_FORCE: Final = "force"
