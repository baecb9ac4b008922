"""What is kept about the cars across restarts: status, schedule, settings, last run.

A car asleep in the garage does not answer after a restart, so without this its
battery, position and plug would read unknown until it wakes, and the worker
could not tell whether the car's schedule is already right (and might wake it
to find out). The user's settings (smart charging, departure) live here too:
one source of truth that an entity's ``unavailable`` state cannot overwrite.
The last worker run, with its plan, shows the plan the car holds until the next
run. Saved a few seconds after each change, and at once on unload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, get_args

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .domain.car import Car, VehicleSettings, VehicleStatus, WorkerResult, WorkerRun
from .domain.plan import ChargeWindow, ChargingPlan, PlanReason
from .domain.schedules import KnownSchedule

STORAGE_VERSION = 1
SAVE_DELAY_S = 10.0


@dataclass(frozen=True, kw_only=True)
class RestoredCar:
    """What was saved about one car (``None`` where nothing usable was saved)."""

    status: VehicleStatus
    schedule: KnownSchedule | None = None
    settings: VehicleSettings | None = None
    """``None`` when saved by a version that kept settings in the entities."""
    last_run: WorkerRun | None = None


type Restored = dict[str, RestoredCar]


_ENTRY_STORES: HassKey[dict[str, Store[dict[str, Any]]]] = HassKey(f"{DOMAIN}_stores")


def entry_store(
    hass: HomeAssistant,
    entry_id: str,
    name: str,
    version: int,
    *,
    private: bool = False,
) -> Store[dict[str, Any]]:
    """The one ``Store`` of an entry's ``name`` data (cars, counts, token, key).

    Whoever saves and whoever deletes share it, so deleting the entry also
    cancels a delayed save still waiting (an entry whose setup failed left
    one behind, and the file came back after the deletion). A ``private``
    one is a file only Home Assistant's user can read.
    """
    stores = hass.data.setdefault(_ENTRY_STORES, {})
    key = f"{DOMAIN}.{entry_id}.{name}"
    if (store := stores.get(key)) is None:
        store = stores[key] = Store(hass, version, key, private=private)
    return store


async def async_remove_entry_store(
    hass: HomeAssistant, store: Store[dict[str, Any]]
) -> None:
    """Delete one of :func:`entry_store`'s stores and cancel its waiting save."""
    hass.data.get(_ENTRY_STORES, {}).pop(store.key, None)
    await store.async_remove()


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return entry_store(hass, entry_id, "vehicles", STORAGE_VERSION)


async def async_remove_vehicles(hass: HomeAssistant, entry_id: str) -> None:
    """Delete an entry's stored cars (the entry is being deleted)."""
    await async_remove_entry_store(hass, _store(hass, entry_id))


def _encode_schedule(schedule: KnownSchedule | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    windows = [list(w) if w is not None else None for w in schedule.windows]
    # "window" (slot 0) is what versions before split plans read.
    return {"windows": windows, "window": windows[0], "known_at": schedule.known_at}


def _encode_settings(settings: VehicleSettings) -> dict[str, Any]:
    return {
        "smart_charging": settings.smart_charging,
        "departure": settings.departure.isoformat(),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _encode_plan(plan: ChargingPlan | None) -> dict[str, Any] | None:
    """The plan in full (``as_dict`` rounds for people; a restart must not)."""
    if plan is None:
        return None
    return {
        "start": _iso(plan.start),
        "end": _iso(plan.end),
        "energy_kwh": plan.energy_kwh,
        "duration_us": plan.duration // timedelta(microseconds=1),
        "cost": plan.cost,
        "average_price": plan.average_price,
        "cost_if_now": plan.cost_if_now,
        "feasible": plan.feasible,
        "reason": plan.reason,
        "departure": _iso(plan.departure),
        "prices_until": _iso(plan.prices_until),
        "windows": [
            {
                "start": _iso(window.start),
                "end": _iso(window.end),
                "energy_kwh": window.energy_kwh,
                "cost": window.cost,
            }
            for window in plan.windows
        ],
        "cost_single_window": plan.cost_single_window,
    }


def _encode_run(run: Any) -> dict[str, Any] | None:
    if not isinstance(run, WorkerRun):
        return None
    return {
        "trigger": run.trigger,
        "started": run.started,
        "duration_s": run.duration_s,
        "requests": run.requests,
        "plan": _encode_plan(run.plan),
        "commands": list(run.commands),
        "woke": run.woke,
        "result": str(run.result),
        "reason": run.reason,
        "error": run.error,
    }


def _encode(cars: dict[str, Car]) -> dict[str, Any]:
    return {
        "vehicles": {
            vin: {
                "status": car.status.as_dict(),
                "schedule": _encode_schedule(car.schedule),
                "settings": _encode_settings(car.settings),
                "last_run": _encode_run(car.last_run),
            }
            for vin, car in cars.items()
        }
    }


def _decode_window(raw: Any) -> tuple[int, int] | None:
    return (int(raw[0]), int(raw[1])) if raw else None


def _decode_schedule(raw: Any) -> KnownSchedule | None:
    if not isinstance(raw, dict):
        return None
    try:
        if isinstance(windows := raw.get("windows"), list):
            slots = tuple(_decode_window(window) for window in windows)
        else:  # saved before split plans: one window
            slots = (_decode_window(raw.get("window")),)
        return KnownSchedule(windows=slots, known_at=float(raw["known_at"]))
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _decode_settings(raw: Any) -> VehicleSettings | None:
    """The saved settings; a damaged field keeps its default."""
    if not isinstance(raw, dict):
        return None
    default = VehicleSettings()
    smart = raw.get("smart_charging")
    try:
        departure = time.fromisoformat(raw["departure"])
    except (KeyError, TypeError, ValueError):
        departure = default.departure
    return VehicleSettings(
        smart_charging=smart if isinstance(smart, bool) else default.smart_charging,
        departure=departure,
    )


def _time(raw: Any, tz: tzinfo) -> datetime | None:
    if raw is None:
        return None
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        raise ValueError(raw)
    return value.astimezone(tz)


def _number(raw: Any) -> float | None:
    return None if raw is None else float(raw)


def _decode_plan(raw: Any, tz: tzinfo) -> ChargingPlan | None:
    if raw is None:
        return None
    if raw["reason"] not in get_args(PlanReason):
        raise ValueError(raw["reason"])
    windows = []
    for window in raw["windows"]:
        start, end = _time(window["start"], tz), _time(window["end"], tz)
        if start is None or end is None:
            raise ValueError(window)
        windows.append(
            ChargeWindow(
                start=start,
                end=end,
                energy_kwh=float(window["energy_kwh"]),
                cost=_number(window["cost"]),
            )
        )
    return ChargingPlan(
        start=_time(raw["start"], tz),
        end=_time(raw["end"], tz),
        energy_kwh=float(raw["energy_kwh"]),
        duration=timedelta(microseconds=int(raw["duration_us"])),
        cost=_number(raw["cost"]),
        average_price=_number(raw["average_price"]),
        cost_if_now=_number(raw["cost_if_now"]),
        feasible=bool(raw["feasible"]),
        reason=raw["reason"],
        departure=_time(raw["departure"], tz),
        prices_until=_time(raw["prices_until"], tz),
        windows=tuple(windows),
        cost_single_window=_number(raw["cost_single_window"]),
    )


def _decode_run(vin: str, raw: Any, tz: tzinfo) -> WorkerRun | None:
    """The saved last run, or ``None`` when it cannot be read (in any part)."""
    if not isinstance(raw, dict):
        return None
    try:
        return WorkerRun(
            vin=vin,
            trigger=str(raw["trigger"]),
            started=float(raw["started"]),
            duration_s=float(raw["duration_s"]),
            requests=int(raw["requests"]),
            plan=_decode_plan(raw["plan"], tz),
            commands=tuple(str(command) for command in raw["commands"]),
            woke=bool(raw["woke"]),
            result=WorkerResult(raw["result"]),
            reason=raw["reason"] if isinstance(raw["reason"], str) else None,
            error=raw["error"] if isinstance(raw["error"], str) else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


class VehicleStore:
    """The cars of one entry, saved with Home Assistant's storage helper."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare; nothing is read until :meth:`async_load`."""
        self._store = _store(hass, entry_id)
        self._latest: dict[str, Car] = {}

    async def async_load(self, tz: tzinfo) -> Restored:
        """What was saved of each car (unreadable parts skipped).

        Times of the last run's plan are given in ``tz`` (Home Assistant's).
        """
        stored = await self._store.async_load() or {}
        restored: Restored = {}
        vehicles = stored.get("vehicles")
        if not isinstance(vehicles, dict):
            return restored
        for vin, saved in vehicles.items():
            if not isinstance(saved, dict) or not isinstance(saved.get("status"), dict):
                continue
            try:
                status = VehicleStatus.from_dict(vin, saved["status"])
            except (TypeError, ValueError):
                continue
            restored[vin] = RestoredCar(
                status=status,
                schedule=_decode_schedule(saved.get("schedule")),
                settings=_decode_settings(saved.get("settings")),
                last_run=_decode_run(vin, saved.get("last_run"), tz),
            )
        return restored

    @callback
    def async_schedule_save(self, cars: dict[str, Car]) -> None:
        """Save soon (changes come in bursts during a cycle or a run)."""
        self._latest = cars
        self._store.async_delay_save(lambda: _encode(self._latest), SAVE_DELAY_S)

    async def async_save(self) -> None:
        """Save now (unload)."""
        if self._latest:
            await self._store.async_save(_encode(self._latest))
