"""Tests for diagnostics: useful, with secrets redacted."""

from __future__ import annotations

import json

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.tesla_scout_worker.diagnostics import (
    async_get_config_entry_diagnostics,
)

from .conftest import CLIENT_ID, VIN
from .fake_fleet import FakeFleet


async def test_diagnostics_redact_secrets(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to("2026-11-28 12:00:00+01:00")
    # Online at home: the diagnostics know the car's exact position.
    fleet.cars[VIN].state = "online"
    init_integration = mock_config_entry
    init_integration.add_to_hass(hass)
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    # The key-pairing check runs in the background: let it finish first.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert init_integration.runtime_data.scout.tracker.car(VIN).status.latitude
    result = await async_get_config_entry_diagnostics(hass, init_integration)
    text = json.dumps(result)
    (vehicle,) = result["vehicles"]
    assert vehicle["latitude"] == vehicle["longitude"] == "**REDACTED**"
    token = init_integration.data["token"]
    for secret in (token["access_token"], token["refresh_token"], CLIENT_ID, VIN):
        assert secret not in text
    assert init_integration.unique_id not in text
    assert "52.2297" not in text
    assert "21.0122" not in text
    assert result == snapshot(
        exclude=props(
            "expires_at",
            "last_scout",
            "last_data_at",
            "parked_seen_at",
            "started",
            "known_at",
            "duration_s",
        )
    )
