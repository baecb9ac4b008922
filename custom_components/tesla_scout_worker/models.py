"""Runtime data of a config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .fleet import TeslaFleetClient
from .fleet.tokens import TokenKeeper
from .scout import ScoutCoordinator
from .usage import UsageTracker
from .worker import WorkerScheduler


@dataclass
class TeslaScoutWorkerData:
    """What a loaded entry holds: the client, its token owner and its accounting."""

    client: TeslaFleetClient
    tokens: TokenKeeper
    usage: UsageTracker
    scout: ScoutCoordinator
    worker: WorkerScheduler


type TeslaScoutWorkerConfigEntry = ConfigEntry[TeslaScoutWorkerData]
