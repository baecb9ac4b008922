"""Tests for setting up, unloading and reloading an entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
import ssl
from typing import Any
from unittest.mock import patch

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.storage import Store
from homeassistant.util.ssl import client_context, client_context_no_verify
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.tesla_scout_worker import async_remove_config_entry_device
from custom_components.tesla_scout_worker.const import (
    CONF_COMMAND_PROXY_CA_FILE,
    CONF_COMMAND_PROXY_URL,
    CONF_COMMAND_PROXY_VERIFY_SSL,
    CONF_VINS,
    DOMAIN,
)

from .conftest import ACCOUNT_SUB, TOKEN_URL, VIN, VIN_2, token_data
from .fake_fleet import FakeCar, FakeFleet


async def test_load_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    assert init_integration.state is ConfigEntryState.LOADED
    assert hass.services.has_service(DOMAIN, "refresh_token")
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    entry = hass.config_entries.async_get_entry(init_integration.entry_id)
    assert entry is not None
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_token_service_down_retries_setup(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    fleet: FakeFleet,
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=-1)},
    )
    aioclient_mock.post(TOKEN_URL, status=502, text="<html>Bad gateway</html>")
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_login_required_at_setup_starts_reauth(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=-1)},
    )
    aioclient_mock.post(TOKEN_URL, status=401, json={"error": "login_required"})
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = list(mock_config_entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
    assert len(flows) == 1


def self_signed_ca(path: Path, name: str) -> Path:
    """A CA certificate of our own, as a proxy's self-signed setup has."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def common_names(context: ssl.SSLContext) -> set[str]:
    certs: list[Any] = context.get_ca_certs()
    return {
        str(value)
        for cert in certs
        for rdn in cert.get("subject", ())
        for key, value in rdn
        if key == "commonName"
    }


async def test_command_proxy_tls_settings(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    tmp_path: Path,
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={
            **mock_config_entry.options,
            CONF_COMMAND_PROXY_URL: "https://proxy.local:4443",
            CONF_COMMAND_PROXY_VERIFY_SSL: False,
        },
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    client = mock_config_entry.runtime_data.client
    assert client.command_base_url == "https://proxy.local:4443"
    assert client.command_ssl is False

    ca_file = self_signed_ca(tmp_path / "proxy-ca.pem", "Tesla proxy test CA")
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={
            **mock_config_entry.options,
            CONF_COMMAND_PROXY_VERIFY_SSL: True,
            CONF_COMMAND_PROXY_CA_FILE: str(ca_file),
        },
    )
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    client = mock_config_entry.runtime_data.client
    assert isinstance(client.command_ssl, ssl.SSLContext)
    # The proxy's context trusts the proxy's CA, and only it.
    assert common_names(client.command_ssl) == {"Tesla proxy test CA"}
    assert client.command_ssl.verify_mode is ssl.CERT_REQUIRED
    assert client.command_ssl.check_hostname
    # Home Assistant's shared context (every integration's HTTPS) does not.
    assert "Tesla proxy test CA" not in common_names(client_context())
    assert "Tesla proxy test CA" not in common_names(client_context_no_verify())


async def test_a_vehicle_that_leaves_the_entry_loses_its_device(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    device_registry: dr.DeviceRegistry,
) -> None:
    fleet.add(FakeCar(vin=VIN_2, display_name="Second"))
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_VINS: [VIN, VIN_2]}
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    def identifiers() -> set[str]:
        return {
            identifier
            for device in dr.async_entries_for_config_entry(
                device_registry, mock_config_entry.entry_id
            )
            for _, identifier in device.identifiers
        }

    def car_device(vin: str) -> dr.DeviceEntry | None:
        # Not async_get_device: deprecated in 2026.x (identifiers are per entry).
        return next(
            (
                device
                for device in dr.async_entries_for_config_entry(
                    device_registry, mock_config_entry.entry_id
                )
                if (DOMAIN, vin) in device.identifiers
            ),
            None,
        )

    assert identifiers() == {ACCOUNT_SUB, VIN, VIN_2}
    second = car_device(VIN_2)
    assert second is not None
    # Configured vehicles and the account cannot be deleted by hand.
    for device in dr.async_entries_for_config_entry(
        device_registry, mock_config_entry.entry_id
    ):
        assert not await async_remove_config_entry_device(
            hass, mock_config_entry, device
        )

    # Reconfigure drops the second car: its device goes with the reload.
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_VINS: [VIN]}
    )
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert identifiers() == {ACCOUNT_SUB, VIN}
    assert car_device(VIN_2) is None
    assert device_registry.async_get(second.id) is None
    # A leftover device of a car no longer in the entry may be deleted.
    assert await async_remove_config_entry_device(hass, mock_config_entry, second)


async def test_deleting_the_entry_deletes_its_stored_counts(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    key = f"{DOMAIN}.{init_integration.entry_id}.usage"
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert key in hass_storage
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_a_damaged_vehicle_store_loses_only_what_is_damaged(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    hass_storage: dict[str, Any],
) -> None:
    fleet.add(FakeCar(vin=VIN_2, display_name="Second"))
    hass_storage[f"{DOMAIN}.{mock_config_entry.entry_id}.vehicles"] = {
        "version": 1,
        "key": f"{DOMAIN}.{mock_config_entry.entry_id}.vehicles",
        "data": {
            "vehicles": {
                VIN: {
                    "status": {"battery_level": 55, "firmware": "x", "unknown": 1},
                    "schedule": {"window": "bad"},
                },
                VIN_2: {"status": "not a dict"},
                "OTHERVIN": ["nonsense"],
            }
        },
    }
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_VINS: [VIN, VIN_2]}
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    cars = mock_config_entry.runtime_data.scout.tracker.cars
    assert cars[VIN].status.battery_level == 55
    assert cars[VIN].status.firmware is None
    assert cars[VIN].schedule is None
    assert cars[VIN_2].status.battery_level is None
    assert hass.states.get("sensor.test_battery_level").state == "55"  # type: ignore[union-attr]


async def test_deleting_an_entry_that_failed_to_start_leaves_nothing_behind(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    aioclient_mock: AiohttpClientMocker,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Tesla refused the login at setup; counts waiting to be saved go too."""

    async def remove(store: Store[Any]) -> None:
        # As Home Assistant's own (the test harness's only drops the data):
        # the store's own save still waiting is cancelled.
        store._async_cleanup_delay_listener()
        store._async_cleanup_final_write_listener()
        hass_storage.pop(store.key, None)

    mock_config_entry.add_to_hass(hass)
    fleet.fail_next("list", 401, {"error": "token expired"})  # counted, saved later
    aioclient_mock.post(TOKEN_URL, status=401, json={"error": "login_required"})
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    with patch.object(Store, "async_remove", remove):
        await hass.config_entries.async_remove(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert not [key for key in hass_storage if mock_config_entry.entry_id in key]
