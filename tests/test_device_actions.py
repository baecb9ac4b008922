"""Actions that name the car by its device, as Home Assistant's own actions do."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.tesla_scout_worker.const import CONF_VINS, DOMAIN

from . import setup
from .conftest import VIN, VIN_2
from .fake_fleet import FakeCar, FakeFleet


def device_id(hass: HomeAssistant, identifier: str) -> str:
    """The id of our device with ``identifier`` (on every Home Assistant we run)."""
    registry = dr.async_get(hass)
    (device,) = (
        device
        for entry in hass.config_entries.async_entries(DOMAIN)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if (DOMAIN, identifier) in device.identifiers
    )
    return device.id


async def call(hass: HomeAssistant, action: str, data: dict[str, Any]) -> Any:
    return await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )


async def test_run_worker_for_the_chosen_cars(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    events: list[dict[str, Any]],
) -> None:
    """One car of two, by its device: only that car runs."""
    fleet.cars[VIN].state = "online"
    fleet.add(FakeCar(vin=VIN_2, display_name="Second", state="online"))
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_VINS: [VIN, VIN_2]}
    )
    await setup(hass, mock_config_entry)
    events.clear()
    second = device_id(hass, VIN_2)
    response = await call(hass, "run_worker", {"device_id": second, "force": True})
    assert response == {"results": {VIN_2: "planned"}}
    assert [(e["vin"], e["trigger"]) for e in events] == [(VIN_2, "action")]

    both = [device_id(hass, VIN), second]
    response = await call(hass, "run_worker", {"device_id": both, "force": True})
    assert response == {"results": {VIN: "planned", VIN_2: "planned"}}


async def test_the_plan_by_device_is_the_plan_by_vin(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    await setup(hass, mock_config_entry)
    by_device = await call(
        hass, "get_charging_plan", {"device_id": device_id(hass, VIN)}
    )
    by_vin = await call(
        hass,
        "get_charging_plan",
        {"config_entry_id": mock_config_entry.entry_id, "vin": VIN},
    )
    assert by_device == by_vin
    assert by_device["plan"] is not None


async def test_a_device_that_is_not_a_car_is_refused_in_words(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    """The account's own device, or another integration's: a translated error."""
    await setup(hass, mock_config_entry)
    account = device_id(hass, mock_config_entry.unique_id or "")
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_charging_plan", {"device_id": account})
    assert err.value.translation_key == "device_not_a_vehicle"
    assert err.value.translation_placeholders == {"device": "Test account"}

    other = MockConfigEntry(domain="demo")
    other.add_to_hass(hass)
    lamp = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("demo", "lamp")}, name="Lamp"
    )
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "run_worker", {"device_id": [lamp.id]})
    assert err.value.translation_placeholders == {"device": "Lamp"}


async def test_a_call_must_name_its_car(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    await setup(hass, mock_config_entry)
    with pytest.raises(vol.Invalid):
        await call(hass, "run_worker", {"force": True})
    with pytest.raises(vol.Invalid):
        await call(
            hass, "get_charging_plan", {"config_entry_id": mock_config_entry.entry_id}
        )


async def test_a_car_of_an_unloaded_entry_says_so(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    await setup(hass, mock_config_entry)
    car_device = device_id(hass, VIN)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_charging_plan", {"device_id": car_device})
    assert err.value.translation_key == "entry_not_loaded"
