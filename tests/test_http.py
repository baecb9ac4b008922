"""Tests for the token-sharing views (SPEC §8)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .conftest import TOKEN_URL, token_calls, token_data

NEW_TOKEN = {"access_token": "fresh", "refresh_token": "EU_r2", "expires_in": 28800}


async def test_token_view_returns_the_token(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    client = await hass_client()
    response = await client.get(
        f"/api/tesla_scout_worker/{shared_entry.entry_id}/token"
    )
    assert response.status == HTTPStatus.OK
    body = await response.json()
    token = shared_entry.data["token"]
    assert body["status"] == "success"
    assert body["access_token"] == token["access_token"]
    assert body["expires_at"] == token["expires_at"]
    assert 470 <= body["remaining_minutes"] <= 480
    assert token_calls(aioclient_mock) == 0


async def test_token_view_refreshes_an_expiring_token_first(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    hass.config_entries.async_update_entry(
        shared_entry, data={**shared_entry.data, "token": token_data(expires_in=60)}
    )
    aioclient_mock.post(TOKEN_URL, json=NEW_TOKEN)
    client = await hass_client()
    response = await client.get(
        f"/api/tesla_scout_worker/{shared_entry.entry_id}/token"
    )
    body = await response.json()
    assert body["access_token"] == "fresh"
    assert shared_entry.data["token"]["refresh_token"] == "EU_r2"


async def test_token_view_reports_a_failed_refresh(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    hass.config_entries.async_update_entry(
        shared_entry, data={**shared_entry.data, "token": token_data(expires_in=-5)}
    )
    aioclient_mock.post(TOKEN_URL, status=500)
    client = await hass_client()
    response = await client.get(
        f"/api/tesla_scout_worker/{shared_entry.entry_id}/token"
    )
    assert response.status == HTTPStatus.SERVICE_UNAVAILABLE
    body = await response.json()
    assert body["status"] == "error"
    assert "access_token" not in body


async def test_refresh_view_single_flight_and_rate_limit(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    aioclient_mock.post(TOKEN_URL, json=NEW_TOKEN)
    client = await hass_client()
    url = f"/api/tesla_scout_worker/{shared_entry.entry_id}/refresh"

    first = await (await client.post(url)).json()
    freezer.tick(20)
    response = await client.post(url)
    second = await response.json()

    assert first["success"] is True
    assert first["expires_at"] == shared_entry.data["token"]["expires_at"]
    assert response.status == HTTPStatus.OK
    assert second["success"] is False
    assert second["message"]
    assert token_calls(aioclient_mock) == 1


async def test_health_view_never_shows_the_token(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await hass_client()
    response = await client.get(
        f"/api/tesla_scout_worker/{shared_entry.entry_id}/health"
    )
    body: dict[str, Any] = await response.json()
    assert body == {
        "status": "ok",
        "token_valid": True,
        "token_expires_at": shared_entry.data["token"]["expires_at"],
        "last_scout": shared_entry.runtime_data.scout.last_scout,
        "last_worker": None,
    }
    assert isinstance(body["last_scout"], float)
    text = await response.text()
    assert shared_entry.data["token"]["access_token"] not in text


async def test_health_view_degraded_when_the_token_expired(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    hass.config_entries.async_update_entry(
        shared_entry, data={**shared_entry.data, "token": token_data(expires_in=-5)}
    )
    client = await hass_client()
    body = await (
        await client.get(f"/api/tesla_scout_worker/{shared_entry.entry_id}/health")
    ).json()
    assert body["status"] == "degraded"
    assert body["token_valid"] is False


@pytest.mark.parametrize("view", ["token", "health"])
async def test_views_404_when_sharing_is_off(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    view: str,
) -> None:
    client = await hass_client()
    response = await client.get(
        f"/api/tesla_scout_worker/{init_integration.entry_id}/{view}"
    )
    assert response.status == HTTPStatus.NOT_FOUND


async def test_refresh_view_404_for_unknown_entry(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await hass_client()
    response = await client.post("/api/tesla_scout_worker/nope/refresh")
    assert response.status == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    ("method", "view"), [("get", "token"), ("post", "refresh"), ("get", "health")]
)
async def test_views_refuse_non_admin_users(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
    method: str,
    view: str,
) -> None:
    client = await hass_client(hass_read_only_access_token)
    response = await getattr(client, method)(
        f"/api/tesla_scout_worker/{shared_entry.entry_id}/{view}"
    )
    assert response.status == HTTPStatus.UNAUTHORIZED
    assert "access_token" not in await response.text()


async def test_views_refuse_anonymous_requests(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    client = await hass_client_no_auth()
    response = await client.get(
        f"/api/tesla_scout_worker/{shared_entry.entry_id}/token"
    )
    assert response.status == HTTPStatus.UNAUTHORIZED
