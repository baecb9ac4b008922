"""The key for signed commands: one per Home Assistant, kept, served, removed."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.tesla_scout_worker.const import DOMAIN
from custom_components.tesla_scout_worker.fleet.keys import (
    new_private_key,
    private_key_pem,
    public_key_pem,
)
from custom_components.tesla_scout_worker.virtual_key import (
    async_core_key,
    async_publish,
    async_require_virtual_key,
    async_virtual_key,
)

from .conftest import token_data
from .fake_fleet import FakeFleet

KEY_URL = "/.well-known/appspecific/com.tesla.3p.public-key.pem"
STORE_KEY = f"{DOMAIN}.key"


def _numbers(key: ec.EllipticCurvePrivateKey) -> int:
    return key.private_numbers().private_value


async def test_the_public_key_is_served_only_when_the_user_says_so(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """No login, the public half only; 404 while serving is off."""
    client = await hass_client_no_auth()
    response = await client.get(KEY_URL)
    assert response.status == HTTPStatus.NOT_FOUND

    key = await async_publish(hass, domain="home.example.com", serve=True)
    response = await client.get(KEY_URL)
    assert response.status == HTTPStatus.OK
    body = await response.text()
    assert body == public_key_pem(key.key)
    assert "PRIVATE" not in body
    assert response.headers["Content-Type"].startswith("application/x-pem-file")

    await async_publish(hass, domain="home.example.com", serve=False)
    assert (await client.get(KEY_URL)).status == HTTPStatus.NOT_FOUND


async def test_no_key_is_made_by_a_visitor(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hass_storage: dict[str, Any],
    fleet: FakeFleet,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Before any entry needed a key, the path answers 404 and makes none."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, "command_proxy_url": "https://p:4443"},
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    client = await hass_client_no_auth()
    assert (await client.get(KEY_URL)).status == HTTPStatus.NOT_FOUND
    assert STORE_KEY not in hass_storage
    assert await async_virtual_key(hass, create=False) is None


async def test_one_key_for_every_account_kept_across_restarts(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
) -> None:
    """Two accounts sign with the one key the application's domain serves."""
    first = init_integration.runtime_data.client.signing_key
    assert first is not None
    second = MockConfigEntry(
        domain=DOMAIN,
        unique_id="another-account",
        data={**init_integration.data, "token": token_data(), "vins": []},
        options=dict(init_integration.options),
    )
    second.add_to_hass(hass)
    key = await async_require_virtual_key(hass)
    assert _numbers(key.key) == _numbers(first)
    # Kept privately, as written: a restart reads the same key.
    saved = hass_storage[STORE_KEY]["data"]
    assert saved["private_key"] == private_key_pem(first)
    assert saved == {
        "private_key": private_key_pem(first),
        "domain": None,
        "serve": False,
    }


async def test_the_key_goes_with_the_last_entry(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
) -> None:
    other = MockConfigEntry(domain=DOMAIN, unique_id="other", data={}, options={})
    other.add_to_hass(hass)
    assert STORE_KEY in hass_storage
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    # Another account still signs with it.
    assert STORE_KEY in hass_storage
    assert await async_virtual_key(hass, create=False) is not None
    await hass.config_entries.async_remove(other.entry_id)
    await hass.async_block_till_done()
    assert STORE_KEY not in hass_storage
    assert await async_virtual_key(hass, create=False) is None


async def test_an_entry_key_of_an_earlier_version_is_taken_over(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
) -> None:
    """The cars paired the entry's own key: it becomes the one key."""
    old = new_private_key()
    old_store = f"{DOMAIN}.{mock_config_entry.entry_id}.key"
    hass_storage[old_store] = {
        "version": 1,
        "minor_version": 1,
        "key": old_store,
        "data": {"private_key": private_key_pem(old)},
    }
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    key = mock_config_entry.runtime_data.client.signing_key
    assert key is not None
    assert _numbers(key) == _numbers(old)
    assert old_store not in hass_storage
    assert hass_storage[STORE_KEY]["data"]["private_key"] == private_key_pem(old)


async def test_a_damaged_key_is_replaced_and_said_once(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hass_storage[STORE_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": STORE_KEY,
        "data": {"private_key": "-----BEGIN EC PRIVATE KEY-----\nbroken\n"},
    }
    key = await async_require_virtual_key(hass)
    assert hass_storage[STORE_KEY]["data"]["private_key"] == private_key_pem(key.key)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("custom_comp")]
    assert ours == ["The stored key for signed commands is damaged; a new one is made"]


async def test_core_tesla_fleet_key_is_found_when_usable(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    hass.config.config_dir = str(tmp_path)
    assert await async_core_key(hass) is None
    (tmp_path / "tesla_fleet.key").write_text("not a key")
    assert await async_core_key(hass) is None
    core = new_private_key()
    (tmp_path / "tesla_fleet.key").write_text(private_key_pem(core))
    found = await async_core_key(hass)
    assert found is not None
    assert _numbers(found) == _numbers(core)


async def test_only_one_earlier_entry_key_is_taken_the_others_stay(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two accounts of an earlier version, each with its own key: none is lost."""
    entries = []
    for name in ("first", "second"):
        entry = MockConfigEntry(domain=DOMAIN, unique_id=name, data={}, options={})
        entry.add_to_hass(hass)
        store = f"{DOMAIN}.{entry.entry_id}.key"
        key = new_private_key()
        hass_storage[store] = {
            "version": 1,
            "minor_version": 1,
            "key": store,
            "data": {"private_key": private_key_pem(key)},
        }
        entries.append((store, key))
    held = await async_require_virtual_key(hass)
    (first_store, first_key), (second_store, _) = entries
    assert _numbers(held.key) == _numbers(first_key)
    assert first_store not in hass_storage
    assert second_store in hass_storage
