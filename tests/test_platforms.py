"""Snapshots of every platform's entities, with the car online and parked at home."""

from __future__ import annotations

from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from . import snapshot_entities
from .conftest import VIN
from .fake_fleet import FakeFleet


@pytest.mark.parametrize(
    "platform",
    [
        Platform.BINARY_SENSOR,
        Platform.BUTTON,
        Platform.DEVICE_TRACKER,
        Platform.NUMBER,
        Platform.SENSOR,
        Platform.SWITCH,
        Platform.TIME,
    ],
)
async def test_platform_entities(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
    platform: Platform,
) -> None:
    freezer.move_to("2026-11-28 17:05:00+01:00")
    fleet.cars[VIN].state = "online"
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={
            **mock_config_entry.data,
            "token": {**mock_config_entry.data["token"], "expires_at": 1795906800.0},
        },
    )
    with patch("custom_components.tesla_scout_worker.lifecycle.PLATFORMS", [platform]):
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    # The init run and the key-pairing check run in the background.
    await hass.async_block_till_done(wait_background_tasks=True)
    snapshot_entities(hass, entity_registry, snapshot, mock_config_entry.entry_id)
