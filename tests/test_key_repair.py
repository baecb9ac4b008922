"""The repair of an unpaired key: publish the key, then pair it, checked by Tesla."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.tesla_scout_worker.const import DOMAIN
from custom_components.tesla_scout_worker.virtual_key import async_require_virtual_key

from . import setup
from .conftest import VIN
from .fake_fleet import FakeCar, FakeFleet

KEY_DOMAIN = "home.example.com"


async def _post(client: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url, json=body)
    assert response.status == HTTPStatus.OK, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def test_the_repair_publishes_the_key_and_checks_the_pairing(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """From the repair: the domain, the served key, the link; done when paired."""
    fleet.unpaired.add(VIN)
    await setup(hass, mock_config_entry)
    assert await async_setup_component(hass, "repairs", {})
    issue_id = f"key_not_paired_{mock_config_entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    checks = fleet.count("fleet_status")

    client = await hass_client()
    flow = await _post(
        client, "/api/repairs/issues/fix", {"handler": DOMAIN, "issue_id": issue_id}
    )
    assert flow["step_id"] == "virtual_key"
    key = await async_require_virtual_key(hass)
    assert flow["description_placeholders"]["vehicles"] == "Test"
    assert flow["description_placeholders"]["public_key"] == key.public_pem
    url = f"/api/repairs/issues/fix/{flow['flow_id']}"

    flow = await _post(client, url, {"key_domain": "not a domain"})
    assert flow["errors"] == {"key_domain": "invalid_domain"}
    flow = await _post(
        client,
        url,
        {"key_domain": KEY_DOMAIN, "serve_key": True, "register_domain": False},
    )
    assert flow["step_id"] == "pair"
    assert flow["description_placeholders"] == {
        "pairing_url": f"https://tesla.com/_ak/{KEY_DOMAIN}",
        "paired": "—",
        "unpaired": "Test",
    }
    # Served now, without a login, for Tesla to fetch.
    public = await (await hass_client_no_auth()).get(
        "/.well-known/appspecific/com.tesla.3p.public-key.pem"
    )
    assert await public.text() == key.public_pem

    flow = await _post(client, url, {"pair_later": False})
    assert flow["errors"] == {"base": "still_unpaired"}
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None

    # The owner approves the key in the Tesla app.
    fleet.unpaired.discard(VIN)
    flow = await _post(client, url, {"pair_later": False})
    assert flow["type"] == "create_entry"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert fleet.count("fleet_status") == checks + 3


async def test_pair_later_keeps_the_repair(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    fleet.unpaired.add(VIN)
    await setup(hass, mock_config_entry)
    assert await async_setup_component(hass, "repairs", {})
    issue_id = f"key_not_paired_{mock_config_entry.entry_id}"
    client = await hass_client()
    flow = await _post(
        client, "/api/repairs/issues/fix", {"handler": DOMAIN, "issue_id": issue_id}
    )
    url = f"/api/repairs/issues/fix/{flow['flow_id']}"
    flow = await _post(
        client,
        url,
        {"key_domain": KEY_DOMAIN, "serve_key": False, "register_domain": False},
    )
    flow = await _post(client, url, {"pair_later": True})
    assert (flow["type"], flow["reason"]) == ("abort", "pair_later")
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None


async def test_a_proxy_key_is_not_ours_to_fix(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    issue_registry: ir.IssueRegistry,
) -> None:
    """With the user's proxy, the repair says how to pair the proxy's key."""
    fleet.unpaired.add(VIN)
    await setup(
        hass, mock_config_entry, options={"command_proxy_url": "https://p:4443"}
    )
    issue = issue_registry.async_get_issue(
        DOMAIN, f"key_not_paired_{mock_config_entry.entry_id}"
    )
    assert issue is not None
    assert not issue.is_fixable
    assert issue.translation_key == "key_not_paired_proxy"
    assert issue.translation_placeholders == {
        "vehicles": "Test",
        "pairing_url": "https://tesla.com/_ak/",
    }
