"""Reliability of what the user set: outages, restarts, bad input, a moved home, DST.

Issue 19, items 1, 8, 9 and 10, as a user meets them at the Home Assistant level.
"""

from __future__ import annotations

from unittest.mock import AsyncMock

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import VIN
from .fake_fleet import FakeCar, FakeFleet


@pytest.fixture(autouse=True)
async def warsaw(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """17:00 on a Wednesday in Warsaw."""
    await hass.config.async_set_time_zone("Europe/Warsaw")
    freezer.move_to("2026-12-02 17:00:00+01:00")


@pytest.fixture
def car(fleet: FakeFleet) -> FakeCar:
    """The one car, awake at home."""
    car = fleet.cars[VIN]
    car.state = "online"
    car.battery_level = 40
    return car


async def start(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up (again, after :func:`stop`) as Home Assistant starts it."""
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Waiting for a woken car takes no real time here.
    entry.runtime_data.worker.worker._sleep = AsyncMock()


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """An entity's state; it must exist."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


# --- 8. Non-finite input ---------------------------------------------------------


async def test_nan_reaching_the_charge_limit_is_refused_with_our_message(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    """NaN passes Home Assistant's range check (it compares false): ours stops it."""
    await start(hass, mock_config_entry)
    sent_before = len(fleet.calls)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "number",
            "set_value",
            {ATTR_ENTITY_ID: "number.test_charge_limit", "value": float("nan")},
            blocking=True,
        )
    assert err.value.translation_domain == "tesla_scout_worker"
    assert err.value.translation_key == "value_out_of_range"
    assert err.value.translation_placeholders == {
        "value": "nan",
        "min": "50",
        "max": "100",
    }
    assert len(fleet.calls) == sent_before
