"""What is kept about the cars across restarts: last known status and schedule.

A car asleep in the garage does not answer after a restart, so without this its
battery, position and plug would read unknown until it wakes, and the worker
could not tell whether the car's schedule is already right (and might wake it
to find out). Saved a few seconds after each change, and at once on unload.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .domain.tracker import Car, KnownSchedule, VehicleStatus

STORAGE_VERSION = 1
SAVE_DELAY_S = 10.0

type Restored = dict[str, tuple[VehicleStatus, KnownSchedule | None]]


_ENTRY_STORES: HassKey[dict[str, Store[dict[str, Any]]]] = HassKey(f"{DOMAIN}_stores")


def entry_store(
    hass: HomeAssistant, entry_id: str, name: str, version: int
) -> Store[dict[str, Any]]:
    """The one ``Store`` of an entry's ``name`` data (cars, counts, token).

    Whoever saves and whoever deletes share it, so deleting the entry also
    cancels a delayed save still waiting (an entry whose setup failed left
    one behind, and the file came back after the deletion).
    """
    stores = hass.data.setdefault(_ENTRY_STORES, {})
    key = f"{DOMAIN}.{entry_id}.{name}"
    if (store := stores.get(key)) is None:
        store = stores[key] = Store(hass, version, key)
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


def _encode(cars: dict[str, Car]) -> dict[str, Any]:
    return {
        "vehicles": {
            vin: {
                "status": car.status.as_dict(),
                "schedule": _encode_schedule(car.schedule),
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


class VehicleStore:
    """The cars of one entry, saved with Home Assistant's storage helper."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare; nothing is read until :meth:`async_load`."""
        self._store = _store(hass, entry_id)
        self._latest: dict[str, Car] = {}

    async def async_load(self) -> Restored:
        """The saved status and schedule of each car (unreadable parts skipped)."""
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
            restored[vin] = (status, _decode_schedule(saved.get("schedule")))
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
