"""Tests for diagnostics: useful, with secrets redacted."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from .conftest import CLIENT_ID, VIN


async def test_diagnostics_redact_secrets(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    result = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    text = json.dumps(result)
    token = init_integration.data["token"]
    for secret in (token["access_token"], token["refresh_token"], CLIENT_ID, VIN):
        assert secret not in text
    assert init_integration.unique_id not in text
    assert "52.2297" not in text
    assert result == snapshot(exclude=props("expires_at", "last_scout"))
