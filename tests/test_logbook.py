"""The logbook shows the integration's bus events in words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.tesla_scout_worker.const import DOMAIN, EVENT_TYPE
from custom_components.tesla_scout_worker.logbook import async_describe_events

from .conftest import VIN
from .fake_fleet import FakeCar

Describe = Callable[[Event[Mapping[str, Any]]], dict[str, str]]


def describer(hass: HomeAssistant) -> Describe:
    """What the logbook gets from the platform for our event type."""
    described: dict[tuple[str, str], Describe] = {}

    def register(domain: str, event_type: str, describe: Describe) -> None:
        described[(domain, event_type)] = describe

    async_describe_events(hass, register)
    assert set(described) == {(DOMAIN, EVENT_TYPE)}
    return described[(DOMAIN, EVENT_TYPE)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "arrived_home"}, "arrived home"),
        ({"type": "left_home"}, "left home"),
        (
            {"type": "state_changed", "from_state": "asleep", "to_state": "online"},
            "is online (was asleep)",
        ),
        (
            {"type": "worker_finished", "result": "applied", "trigger": "arrived_home"},
            "wrote the charging schedule to the car (arrived home)",
        ),
        (
            {"type": "worker_finished", "result": "planned", "trigger": "failsafe"},
            "planned charging, nothing sent to the car (daily check)",
        ),
        (
            {"type": "worker_finished", "result": "error", "trigger": "button"},
            "could not plan or write the charging schedule (button)",
        ),
    ],
)
async def test_a_cars_events_read_as_sentences(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    car: FakeCar,
    data: dict[str, Any],
    message: str,
) -> None:
    """Named as the user named the car's device; never by its VIN."""
    describe = describer(hass)
    event: Event[Mapping[str, Any]] = Event(
        EVENT_TYPE,
        {**data, "config_entry_id": init_integration.entry_id, "vin": VIN},
    )
    described = describe(event)
    assert described.pop("icon").startswith("mdi:")
    assert described == {"name": "Test", "message": message, "domain": DOMAIN}

    registry = dr.async_get(hass)
    (device,) = (
        device
        for device in dr.async_entries_for_config_entry(
            registry, init_integration.entry_id
        )
        if (DOMAIN, VIN) in device.identifiers
    )
    registry.async_update_device(device.id, name_by_user="Blue car")
    assert describe(event)["name"] == "Blue car"


async def test_the_accounts_and_unknown_cars_events(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    describe = describer(hass)
    token: Event[Mapping[str, Any]] = Event(
        EVENT_TYPE,
        {"type": "token_refreshed", "config_entry_id": init_integration.entry_id},
    )
    assert describe(token)["name"] == init_integration.title
    assert describe(token)["message"] == "refreshed its Tesla token"
    gone: Event[Mapping[str, Any]] = Event(
        EVENT_TYPE, {"type": "left_home", "vin": "5YJ3E1EA1NF009999"}
    )
    assert describe(gone)["name"] == "Tesla …9999"
