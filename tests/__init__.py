"""Tests for Tesla Scout & Worker."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import AsyncMock

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.tesla_scout_worker.const import CONF_VINS, DOMAIN
from custom_components.tesla_scout_worker.storage import STORAGE_VERSION, entry_store

if TYPE_CHECKING:
    from custom_components.tesla_scout_worker.scout import ScoutCoordinator
    from custom_components.tesla_scout_worker.worker import WorkerScheduler

FIXTURES = Path(__file__).parent / "fixtures"


def load_json_fixture(name: str) -> Any:
    """Load a JSON fixture from ``tests/fixtures``."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def quarter_hour_forecast(
    cheap: Mapping[str, float], dear: float = 0.9
) -> list[dict[str, Any]]:
    """2 and 3 December 2026 in 15-minute ``{start, end, price}`` items.

    The shape a template sensor gives; an item whose start (ISO, Warsaw
    winter time) begins with a key of ``cheap`` costs that price, others
    ``dear``.
    """
    start = datetime(2026, 12, 2, tzinfo=timezone(timedelta(hours=1)))
    items = []
    for index in range(2 * 96):
        begin = start + timedelta(minutes=15 * index)
        price = next(
            (p for prefix, p in cheap.items() if begin.isoformat().startswith(prefix)),
            dear,
        )
        items.append(
            {
                "start": begin.isoformat(),
                "end": (begin + timedelta(minutes=15)).isoformat(),
                "price": price,
            }
        )
    return items


def _jwt_part(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_with_payload(payload: bytes) -> str:
    """An unsigned JWT-shaped token whose middle part is ``payload`` (any bytes)."""
    header = _jwt_part(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_jwt_part(payload)}.signature"


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT-shaped access token with these claims (like Tesla's)."""
    return jwt_with_payload(json.dumps(claims).encode())


# What Home Assistant itself adds to our entities, differently from release to
# release (2026.x device trackers gained ``tracking_type`` and ``in_zones``).
# Snapshots are of what this integration controls, so these are left out.
HA_ADDED_ATTRIBUTES = frozenset({"in_zones", "tracking_type"})


def _own(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """``mapping`` with plain string keys and without Home Assistant's additions."""
    return {
        str(key): value
        for key, value in (mapping or {}).items()
        if str(key) not in HA_ADDED_ATTRIBUTES
    }


def snapshot_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    config_entry_id: str,
) -> None:
    """Snapshot what we control of each entity: registry fields, state, attributes.

    Registry fields that Home Assistant adds or renames between releases, the
    random ids and the timestamps are not ours, so they are not snapshotted.
    """
    entries = er.async_entries_for_config_entry(entity_registry, config_entry_id)
    assert entries
    for entry in entries:
        assert entry.disabled_by is None, "required entities are enabled by default"
        registry = {
            "unique_id": entry.unique_id,
            "translation_key": entry.translation_key,
            "original_name": entry.original_name,
            "original_device_class": entry.original_device_class,
            "entity_category": entry.entity_category,
            "unit_of_measurement": entry.unit_of_measurement,
            "capabilities": _own(entry.capabilities),
        }
        assert registry == snapshot(name=f"{entry.entity_id}-entry")
        state = hass.states.get(entry.entity_id)
        assert state is not None, f"no state for {entry.entity_id}"
        shown = {"state": state.state, "attributes": _own(state.attributes)}
        assert shown == snapshot(name=f"{entry.entity_id}-state")


SECTIONS = ("advanced", "command_proxy", "charging")
"""The form sections: an error of a field inside one is repeated for it."""


def field_errors(result: Mapping[str, Any]) -> dict[str, str]:
    """A form's errors by field, once each section's copy is checked.

    Home Assistant's frontend shows no error of a field inside a section, so
    the flows repeat it for the section (see ``flow_schemas.errors_in_view``).
    """
    errors = dict(result["errors"] or {})
    schema = result["data_schema"]
    for name in SECTIONS:
        if name not in errors:
            continue
        inner = next(
            value.schema.schema
            for marker, value in schema.schema.items()
            if str(marker) == name
        )
        held = [errors[str(key)] for key in inner if str(key) in errors]
        assert errors.pop(name) in held, f"section {name} repeats no error of its own"
    return errors


async def async_store_settings(
    hass: HomeAssistant,
    entry_id: str,
    vins: list[str],
    *,
    smart_charging: bool = True,
    departure: Any = "07:00:00",
) -> None:
    """Settings a user made before this start: saved where the integration keeps them.

    Put into the entry's vehicle store before setup, beside whatever an
    earlier start saved of the cars.
    """
    store = entry_store(hass, entry_id, "vehicles", STORAGE_VERSION)
    data = await store.async_load() or {}
    vehicles = data.setdefault("vehicles", {})
    for vin in vins:
        saved = vehicles.setdefault(vin, {"status": {}})
        saved["settings"] = {"smart_charging": smart_charging, "departure": departure}
    await store.async_save(data)


async def start(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    *,
    smart: bool = False,
    options: dict[str, Any] | None = None,
    vins: list[str] | None = None,
) -> None:
    """Set the entry up (again, after an unload) as Home Assistant starts it.

    ``options`` are added to the entry's, ``vins`` replace its cars, and
    ``smart`` restores smart charging as switched on.
    """
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    if options or vins:
        hass.config_entries.async_update_entry(
            entry,
            options={**entry.options, **(options or {})},
            data={**entry.data, CONF_VINS: vins or entry.data[CONF_VINS]},
        )
    if smart:
        await async_store_settings(hass, entry.entry_id, entry.data[CONF_VINS])
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def setup(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    *,
    smart: bool = False,
    options: dict[str, Any] | None = None,
) -> WorkerScheduler:
    """:func:`start` the entry; its worker, whose wait for a woken car takes no time."""
    await start(hass, entry, smart=smart, options=options)
    worker: WorkerScheduler = entry.runtime_data.worker
    worker.charging._sleep = AsyncMock()
    return worker


async def setup_scout(
    hass: HomeAssistant, entry: MockConfigEntry, *, smart: bool = False
) -> ScoutCoordinator:
    """:func:`start` the entry; its scout (the worker waits as it would)."""
    await start(hass, entry, smart=smart)
    scout: ScoutCoordinator = entry.runtime_data.scout
    return scout


async def pass_time(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta
) -> None:
    """Let ``delta`` pass and whatever was due in it run."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """An entity's state; it must exist."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The events (their data) of one ``type``."""
    return [event for event in events if event["type"] == kind]


def issues_of(issue_registry: ir.IssueRegistry, key: str) -> list[ir.IssueEntry]:
    """This integration's repair issues with translation key ``key``."""
    return [
        issue
        for (domain, _), issue in issue_registry.issues.items()
        if domain == DOMAIN and issue.translation_key == key
    ]


async def start_charging(hass: HomeAssistant) -> None:
    """Switch charging on, as the user does (the call raises what it raises)."""
    await hass.services.async_call(
        "switch",
        "turn_on",
        {ATTR_ENTITY_ID: "switch.test_charging"},
        blocking=True,
    )


KEY_DOMAIN = "home.example.com"


async def finish_key_steps(
    hass: HomeAssistant, result: ConfigFlowResult
) -> ConfigFlowResult:
    """Pass the key steps of a config flow whose cars need signed commands.

    The domain is named without registering; the pairing check then finds the
    cars paired (the fake's default) and the entry is made.
    """
    if result.get("step_id") != "virtual_key":
        return result
    return await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"key_domain": KEY_DOMAIN, "serve_key": False, "register_domain": False},
    )
