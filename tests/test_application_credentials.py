"""Tests of the application credentials platform."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from homeassistant.components.application_credentials import ClientCredential
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_entry_oauth2_flow
import pytest

from custom_components.tesla_scout_worker import application_credentials
from custom_components.tesla_scout_worker.fleet.auth import (
    AUTHORIZE_URL,
    SCOPES,
)

from .conftest import CLIENT_ID


async def test_authorization_server_is_teslas_fleet_auth(hass: HomeAssistant) -> None:
    server = await application_credentials.async_get_authorization_server(hass)
    authorize, token = urlparse(server.authorize_url), urlparse(server.token_url)
    assert authorize.scheme == token.scheme == "https"
    assert authorize.hostname is not None
    assert authorize.hostname.endswith(".tesla.com")
    # Tokens come from the Fleet API's auth host, not the owner API's.
    assert token.hostname == "fleet-auth.prd.vn.cloud.tesla.com"
    assert token.path == "/oauth2/v3/token"


async def test_description_placeholders(hass: HomeAssistant) -> None:
    placeholders = await application_credentials.async_get_description_placeholders(
        hass
    )
    assert placeholders == {
        "developer_url": "https://developer.tesla.com",
        "redirect_url": "https://my.home-assistant.io/redirect/oauth",
    }


async def test_implementation(hass: HomeAssistant) -> None:
    """Every scope, a fresh login, missing scopes asked again, and PKCE."""
    implementation = await application_credentials.async_get_auth_implementation(
        hass, "tesla_scout_worker", ClientCredential(CLIENT_ID, "secret", "My app")
    )
    assert isinstance(implementation, application_credentials.TeslaOAuth2Implementation)
    assert implementation.name == "My app"
    assert implementation.client_id == CLIENT_ID

    data = implementation.extra_authorize_data
    assert data["scope"] == " ".join(SCOPES)
    assert data["prompt"] == "login"
    assert data["prompt_missing_scopes"] == "true"
    assert data["code_challenge_method"] == "S256"
    verifier = implementation.extra_token_resolve_data["code_verifier"]
    pkce = config_entry_oauth2_flow.LocalOAuth2ImplementationWithPkce
    assert data["code_challenge"] == pkce.compute_code_challenge(verifier)

    # Each implementation (one per flow) has its own verifier.
    other = await application_credentials.async_get_auth_implementation(
        hass, "tesla_scout_worker", ClientCredential(CLIENT_ID, "secret")
    )
    assert isinstance(other, application_credentials.TeslaOAuth2Implementation)
    assert other.extra_token_resolve_data["code_verifier"] != verifier


@pytest.mark.usefixtures("current_request_with_host")
async def test_authorize_url(hass: HomeAssistant) -> None:
    implementation = application_credentials.TeslaOAuth2Implementation(
        hass, "tesla_scout_worker", ClientCredential(CLIENT_ID, "secret")
    )
    with_query = await implementation.async_generate_authorize_url("flow-id")
    assert with_query.startswith(AUTHORIZE_URL)
    query = parse_qs(urlparse(with_query).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"] == [" ".join(SCOPES)]
    assert query["prompt_missing_scopes"] == ["true"]
