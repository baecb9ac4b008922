"""A car's data, HA-free: what is known of it, what changed, what its runs did.

The types the tracker keeps per car and hands out as frozen snapshots:
:class:`VehicleStatus` (what the car last said), :class:`VehicleSettings` (the
user's), :class:`Car` (one car's whole runtime), :class:`Transition` (a change
worth an event or a run) and :class:`CycleReport` (what one scout cycle did);
and the worker-run records, :class:`WorkerRun` with its
:class:`WorkerTrigger` and :class:`WorkerResult` (the strings of SPEC §7). The
known charge schedule is in :mod:`.schedules`, the geofence in :mod:`.geo`.
Only :class:`~.tracker.VehicleTracker` makes new cars.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import time
from enum import StrEnum
from typing import Any, Final

from ..fleet import CHARGING_STATES_ACTIVE, VehicleState, vin_tail
from .plan import ChargingPlan
from .policy import VehicleOutlook
from .schedules import KnownSchedule

DRIVING_GEARS = frozenset({"D", "R", "N"})
DEFAULT_DEPARTURE = time(7, 0)


class TransitionKind(StrEnum):
    """What changed for a vehicle in a cycle."""

    STATE_CHANGED = "state_changed"
    ARRIVED_HOME = "arrived_home"
    LEFT_HOME = "left_home"
    FIRST_SEEN_HOME = "init"
    PLUGGED_IN_AT_HOME = "plugged_in_at_home"
    """The cable went in at home (no bus event: a run waiting for it runs)."""

    @property
    def worker_trigger(self) -> WorkerTrigger | None:
        """The trigger of the worker run this change starts; ``None``: it starts none.

        An arrival starts an ``arrived_home`` run, the first sight at home the
        ``init`` run (SPEC §5); the other changes start no run of their own.
        """
        return RUN_TRIGGERS.get(self)


@dataclass(frozen=True, kw_only=True)
class Transition:
    """One change worth an event (or a worker run)."""

    vin: str
    kind: TransitionKind
    from_state: str | None = None
    to_state: str | None = None


@dataclass(frozen=True, kw_only=True)
class VehicleStatus:
    """What is known about one vehicle; positions are the last known ones.

    Frozen: the tracker replaces it on every change, so a snapshot handed to
    Home Assistant never changes under its readers.
    """

    vin: str
    display_name: str | None = None
    state: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    heading: int | None = None
    speed_mph: float | None = None
    shift_state: str | None = None
    distance_m: float | None = None
    previous_distance_m: float | None = None
    at_home: bool | None = None
    battery_level: int | None = None
    battery_range: float | None = None
    charge_limit_soc: int | None = None
    charging_state: str | None = None
    plugged_in: bool | None = None
    charger_power_kw: float | None = None
    minutes_to_arrival: float | None = None
    destination_is_home: bool = False
    firmware: tuple[int, int] | None = None
    """The car's software version (year, release), from ``vehicle_state``."""
    last_data_at: float | None = None
    """When live data last came from the car (epoch seconds)."""
    parked_seen_at: float | None = None
    """When the car was last seen parked (no live data for a while after)."""

    @property
    def name(self) -> str:
        """How logs name the car: its display name, or the last VIN characters."""
        return self.display_name or vin_tail(self.vin)

    @property
    def online(self) -> bool:
        """Awake, as far as the last state check knows."""
        return self.state == VehicleState.ONLINE

    @property
    def charging(self) -> bool:
        """Charging (or starting to), as far as the last live data knows."""
        return self.charging_state in CHARGING_STATES_ACTIVE

    @property
    def driving(self) -> bool:
        """Online and in gear."""
        return self.online and self.shift_state in DRIVING_GEARS

    def outlook(self) -> VehicleOutlook:
        """What the scheduling policy needs from this status."""
        return VehicleOutlook(
            online=self.online,
            at_home=self.at_home,
            driving=self.driving,
            distance_m=self.distance_m,
            previous_distance_m=self.previous_distance_m,
            speed_mph=self.speed_mph,
            minutes_to_arrival=self.minutes_to_arrival,
            destination_is_home=self.destination_is_home,
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy (for the store and diagnostics)."""
        data = asdict(self)
        data["firmware"] = list(self.firmware) if self.firmware else None
        return data

    @classmethod
    def from_dict(cls, vin: str, data: Mapping[str, Any]) -> VehicleStatus:
        """The status saved by :meth:`as_dict`; unknown keys are ignored."""
        known = {f.name for f in fields(cls)} - {"vin"}
        values = {key: data[key] for key in known if key in data}
        firmware = values.get("firmware")
        values["firmware"] = (
            (int(firmware[0]), int(firmware[1]))
            if isinstance(firmware, list | tuple) and len(firmware) == 2
            else None
        )
        return cls(vin=vin, **values)


@dataclass(frozen=True)
class VehicleSettings:
    """The user's daily settings of one car (its switch and time entities)."""

    smart_charging: bool = False
    departure: time = DEFAULT_DEPARTURE


class WorkerResult(StrEnum):
    """How a run ended (SPEC §7)."""

    APPLIED = "applied"
    PLANNED = "planned"
    NO_ACTION = "no_action"
    ERROR = "error"


class WorkerTrigger(StrEnum):
    """Why a run started (SPEC §7)."""

    ARRIVED_HOME = "arrived_home"
    INIT = "init"
    FAILSAFE = "failsafe"
    ACTION = "action"
    BUTTON = "button"


RUN_TRIGGERS: Final[Mapping[TransitionKind, WorkerTrigger]] = {
    TransitionKind.ARRIVED_HOME: WorkerTrigger.ARRIVED_HOME,
    TransitionKind.FIRST_SEEN_HOME: WorkerTrigger.INIT,
}
"""The changes that start a worker run, and the trigger each run records
(an arrival's string is the same in both, the first sight at home is ``init``)."""


@dataclass(frozen=True, kw_only=True)
class WorkerRun:
    """The record of one run: trigger, timing, requests, plan, commands, result.

    Frozen, like the :class:`Car` that holds it: a run builds it complete at
    its end (or a copy is made with :func:`dataclasses.replace`).
    """

    vin: str
    trigger: str
    """A :class:`WorkerTrigger`'s string (a saved run keeps what it was)."""
    started: float
    duration_s: float = 0.0
    requests: int = 0
    plan: ChargingPlan | None = None
    commands: tuple[str, ...] = ()
    woke: bool = False
    result: WorkerResult = WorkerResult.NO_ACTION
    reason: str | None = None
    """Why nothing (more) was sent: ``no_tariff``, ``smart_charging_off``…"""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly record (no VIN: callers know which car)."""
        return {
            "trigger": str(self.trigger),
            "started": self.started,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "plan": self.plan.as_dict() if self.plan is not None else None,
            "commands": list(self.commands),
            "woke": self.woke,
            "result": str(self.result),
            "reason": self.reason,
            "error": self.error,
        }


@dataclass(frozen=True, kw_only=True)
class Car:
    """One car's runtime: status, settings, known schedule, last run, lock.

    Frozen; :class:`~.tracker.VehicleTracker` is its one writer and replaces it on each
    change. The lock (shared by every copy) serialises wakes and commands.
    """

    vin: str
    status: VehicleStatus
    settings: VehicleSettings = field(default_factory=VehicleSettings)
    schedule: KnownSchedule | None = None
    last_run: WorkerRun | None = None
    """The car's last worker run (restored across restarts)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, compare=False, repr=False)
    observed: bool = False
    """Seen (state or position) since setup: the first observation fires nothing."""
    positioned: bool = False
    """A position seen since setup: the first one at home starts the init run."""
    access_disabled_at: float | None = None
    """When the car last answered that its mobile access is off (``None``: it
    answers). Not saved: after a restart the car is asked again."""
    gone: bool = False
    """Missing from the account's vehicle list at the last check (sold, or
    the share removed): what is known of it is no longer news."""


@dataclass
class CycleReport:
    """What one cycle did: its requests, a rate limit, a skip.

    Transitions are not collected here: they go to the tracker's
    ``transitions`` listeners as seen.
    """

    state_requests: int = 0
    data_requests: int = 0
    rate_limited: bool = False
    skipped: bool = False

    def count_data(self) -> None:
        """One more live read (a retry without the position)."""
        self.data_requests += 1
