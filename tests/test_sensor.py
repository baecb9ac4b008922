"""Tests for the account sensors: token expiry and Fleet API cost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from syrupy.assertion import SnapshotAssertion

from custom_components.tesla_scout_worker.fleet import RequestCategory

from . import snapshot_entities
from .conftest import TOKEN_URL, token_data
from .fake_fleet import FakeFleet

REQUESTS = "sensor.test_account_api_requests_today"
COST = "sensor.test_account_api_cost_today"


@pytest.fixture
def frozen_entry(
    mock_config_entry: MockConfigEntry, freezer: FrozenDateTimeFactory, fleet: FakeFleet
) -> MockConfigEntry:
    freezer.move_to("2026-11-28 12:00:00+01:00")
    data = {**mock_config_entry.data, "token": token_data()}
    data["token"]["access_token"] = "header.payload.signature"
    # A fixed entry id keeps the snapshots stable.
    return MockConfigEntry(
        domain=mock_config_entry.domain,
        title=mock_config_entry.title,
        unique_id=mock_config_entry.unique_id,
        data=data,
        options=mock_config_entry.options,
        entry_id="01JTESTENTRY",
    )


async def setup_sensors(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    with patch(
        "custom_components.tesla_scout_worker.lifecycle.PLATFORMS", [Platform.SENSOR]
    ):
        assert await hass.config_entries.async_setup(entry.entry_id)
    # The init run and the key-pairing check run in the background.
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_sensors(
    hass: HomeAssistant,
    frozen_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_sensors(hass, frozen_entry)
    snapshot_entities(hass, entity_registry, snapshot, frozen_entry.entry_id)


async def test_requests_are_counted_and_priced(
    hass: HomeAssistant, frozen_entry: MockConfigEntry
) -> None:
    await setup_sensors(hass, frozen_entry)
    record = frozen_entry.runtime_data.usage.record
    for _ in range(10):
        record(RequestCategory.STATE, 200)
    record(RequestCategory.DATA, 408)
    record(RequestCategory.DATA, 503)
    record(RequestCategory.WAKE, 200)
    record(RequestCategory.COMMAND, 200)
    record(RequestCategory.AUTH, 200)
    await hass.async_block_till_done()

    requests = hass.states.get(REQUESTS)
    assert requests is not None
    # Two more: the scout's first cycle and the key-pairing check at setup.
    assert requests.state == "16"
    attributes: dict[str, Any] = dict(requests.attributes)
    assert {
        k: attributes[k] for k in ("state_checks", "data_requests", "commands", "wakes")
    } == {"state_checks": 11, "data_requests": 3, "commands": 1, "wakes": 1}
    assert attributes["billable"] == 15
    cost = hass.states.get(COST)
    assert cost is not None
    # State checks free (the headline): 2 data ($0.002), 1 wake ($0.02),
    # 1 command ($0.001); billed as data, 11 more; the 503 is free either way.
    assert float(cost.state) == pytest.approx(0.025)
    assert cost.attributes["usd_if_state_checks_free"] == pytest.approx(0.025)
    assert cost.attributes["usd_if_state_checks_billed"] == pytest.approx(0.047)
    assert cost.attributes["usd_wakes"] == pytest.approx(0.02)


async def test_counts_reset_at_midnight_and_month_start(
    hass: HomeAssistant,
    frozen_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await hass.config.async_set_time_zone("Europe/Warsaw")
    freezer.move_to("2026-11-30 23:50:00+01:00")
    frozen_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        frozen_entry, data={**frozen_entry.data, "token": token_data()}
    )
    await setup_sensors(hass, frozen_entry)
    frozen_entry.runtime_data.usage.record(RequestCategory.DATA, 200)
    await hass.async_block_till_done()
    assert hass.states.get(REQUESTS).state == "3"  # type: ignore[union-attr]

    freezer.tick(timedelta(minutes=10))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()

    state = hass.states.get(REQUESTS)
    assert state is not None
    # A new day and month: only the daily failsafe worker run at 00:00 counts:
    # one free state check says the car sleeps, so no billed read (no 408).
    assert state.state == "1"
    assert state.attributes["state_checks"] == 1
    assert state.attributes["data_requests"] == 0
    assert state.attributes["requests_this_month"] == 1
    # The cost is a daily total: statistics see it start again at local midnight.
    cost = hass.states.get(COST)
    assert cost is not None
    assert cost.attributes["last_reset"] == "2026-12-01T00:00:00+01:00"


async def test_counts_survive_a_restart(
    hass: HomeAssistant,
    frozen_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    await setup_sensors(hass, frozen_entry)
    for _ in range(3):
        frozen_entry.runtime_data.usage.record(RequestCategory.STATE, 200)
    assert await hass.config_entries.async_unload(frozen_entry.entry_id)
    await hass.async_block_till_done()
    assert f"tesla_scout_worker.{frozen_entry.entry_id}.usage" in hass_storage

    with patch(
        "custom_components.tesla_scout_worker.lifecycle.PLATFORMS", [Platform.SENSOR]
    ):
        assert await hass.config_entries.async_setup(frozen_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = hass.states.get(REQUESTS)
    assert state is not None
    # 3 recorded + a state check and a key-pairing check at each of two setups.
    assert state.state == "7"


async def test_token_expiry_follows_a_refresh(
    hass: HomeAssistant,
    frozen_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    await setup_sensors(hass, frozen_entry)
    aioclient_mock.post(
        TOKEN_URL,
        json={"access_token": "a2", "refresh_token": "EU_r2", "expires_in": 3600},
    )
    await frozen_entry.runtime_data.tokens.async_force_refresh()
    await hass.async_block_till_done()
    state = hass.states.get("sensor.test_account_token_expires")
    assert state is not None
    assert state.state == "2026-11-28T12:00:00+00:00"
