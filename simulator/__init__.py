"""A Tesla Fleet API simulator for tests, development and cost benchmarks.

Import :class:`FleetSimulator` and :func:`create_app` in tests, or run
``python -m simulator --port 8100`` for a development Home Assistant.
"""

from .app import SIMULATOR_KEY, classify, create_app
from .billing import NO_ANSWER, PRICE_USD, RequestRecord, SimStats
from .chaos import (
    ALL_FAULT_KINDS,
    FAULT_KINDS,
    FOREIGN_REGION_URL,
    ChaosAnswer,
    FaultKind,
    FaultMix,
)
from .commands import COMMANDS, CommandArgumentError
from .model import Fault, FleetSimulator, ManualClock, RateLimits, default_vehicle
from .partner import PartnerAccount, PartnerError, PartnerRegistry
from .render import parse_endpoints, vehicle_data, vehicle_record
from .scenarios import commute
from .tokens import (
    DEFAULT_AUTH_CODE,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_SCOPES,
    AccessGrant,
    PartnerGrant,
    TokenError,
    TokenStore,
    decode_jwt_payload,
    region_base_url,
)
from .vcp import CarAnswer, VehicleCommandCar
from .vehicle import (
    DEFAULT_VIN,
    HOME_WARSAW,
    WORK_WARSAW,
    ChargeSchedule,
    Drive,
    PairedKey,
    PlugIn,
    SimVehicle,
    Unplug,
    distance_m,
    parse_days_of_week,
)

__all__ = [
    "ALL_FAULT_KINDS",
    "COMMANDS",
    "DEFAULT_AUTH_CODE",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_SCOPES",
    "DEFAULT_VIN",
    "FAULT_KINDS",
    "FOREIGN_REGION_URL",
    "HOME_WARSAW",
    "NO_ANSWER",
    "PRICE_USD",
    "SIMULATOR_KEY",
    "WORK_WARSAW",
    "AccessGrant",
    "CarAnswer",
    "ChaosAnswer",
    "ChargeSchedule",
    "CommandArgumentError",
    "Drive",
    "Fault",
    "FaultKind",
    "FaultMix",
    "FleetSimulator",
    "ManualClock",
    "PairedKey",
    "PartnerAccount",
    "PartnerError",
    "PartnerGrant",
    "PartnerRegistry",
    "PlugIn",
    "RateLimits",
    "RequestRecord",
    "SimStats",
    "SimVehicle",
    "TokenError",
    "TokenStore",
    "Unplug",
    "VehicleCommandCar",
    "classify",
    "commute",
    "create_app",
    "decode_jwt_payload",
    "default_vehicle",
    "distance_m",
    "parse_days_of_week",
    "parse_endpoints",
    "region_base_url",
    "vehicle_data",
    "vehicle_record",
]
