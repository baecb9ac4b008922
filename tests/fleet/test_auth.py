"""Tests for the token endpoint call and the access-token readers."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import aiohttp
import pytest
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.tesla_scout_worker.fleet import (
    InvalidClientError,
    InvalidRequestError,
    LoginRequiredError,
    MalformedResponseError,
    RateLimitedError,
    RequestCategory,
    ServerError,
    TeslaConnectionError,
)
from custom_components.tesla_scout_worker.fleet.auth import (
    TOKEN_URL,
    base_url_for_token,
    decode_jwt_claims,
    refresh_token,
    region_from_claims,
    scopes_from_claims,
)
from custom_components.tesla_scout_worker.fleet.regions import REGION_BASE_URLS
from tests import load_json_fixture, make_jwt

from .conftest import FleetMock, Ledger, answer


def test_decode_jwt_claims_reads_the_payload() -> None:
    token = make_jwt({"sub": "user-1", "ou_code": "EU", "scp": ["openid"]})
    assert decode_jwt_claims(token) == {
        "sub": "user-1",
        "ou_code": "EU",
        "scp": ["openid"],
    }


@pytest.mark.parametrize(
    "token",
    [
        "plain-token",
        "a.b",
        "a.!!!.c",
        f"a.{base64.urlsafe_b64encode(b'[1]').decode()}.c",
    ],
    ids=["opaque", "two-parts", "bad-base64", "not-an-object"],
)
def test_decode_jwt_claims_on_non_jwt(token: str) -> None:
    assert decode_jwt_claims(token) == {}


@pytest.mark.parametrize(
    ("claims", "region"),
    [
        ({"ou_code": "EU"}, "eu"),
        ({"ou_code": "na"}, "na"),
        ({"ou_code": "XX"}, None),
        ({}, None),
    ],
)
def test_region_from_claims(claims: dict[str, Any], region: str | None) -> None:
    assert region_from_claims(claims) == region


def test_base_url_for_token() -> None:
    assert base_url_for_token(make_jwt({"ou_code": "CN"})) == REGION_BASE_URLS["cn"]
    assert base_url_for_token("opaque") is None


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scp": ["openid", "vehicle_location", 3]}, {"openid", "vehicle_location"}),
        ({"scp": "openid vehicle_cmds"}, {"openid", "vehicle_cmds"}),
        ({"scp": 5}, set()),
        ({}, set()),
    ],
)
def test_scopes_from_claims(claims: dict[str, Any], scopes: set[str]) -> None:
    assert scopes_from_claims(claims) == scopes


async def test_refresh_sends_the_form_and_returns_the_rotated_pair(
    mock_api: FleetMock, session: aiohttp.ClientSession, ledger: Ledger
) -> None:
    mock_api.post(TOKEN_URL, json=load_json_fixture("token.json"))
    before = time.time()

    token = await refresh_token(
        session, client_id="client", refresh_token="EU_old", on_request=ledger
    )

    assert token.refresh_token == "EU_rotated-refresh-token"
    assert token.expires_in == 28800
    assert before + 28800 <= token.expires_at <= time.time() + 28800
    (call,) = mock_api.sent_to("POST", TOKEN_URL)
    assert call.kwargs["data"] == {
        "grant_type": "refresh_token",
        "client_id": "client",
        "refresh_token": "EU_old",
    }
    assert ledger.calls == [(RequestCategory.AUTH, 200)]


async def test_refresh_sends_the_secret_when_given(
    mock_api: FleetMock, session: aiohttp.ClientSession
) -> None:
    url = "http://127.0.0.1:8100/oauth2/v3/token"
    mock_api.post(url, json=load_json_fixture("token.json"))
    await refresh_token(
        session, client_id="c", refresh_token="r", client_secret="s", token_url=url
    )
    (call,) = mock_api.sent_to("POST", url)
    assert call.kwargs["data"]["client_secret"] == "s"


@pytest.mark.parametrize(
    ("status", "payload", "error_type"),
    [
        (
            401,
            {"error": "login_required", "error_description": "Login required"},
            LoginRequiredError,
        ),
        (400, {"error": "invalid_grant"}, LoginRequiredError),
        (401, None, LoginRequiredError),
        (401, {"error": "invalid_client"}, InvalidClientError),
        (400, {"error": "invalid_request"}, InvalidRequestError),
        (500, {"error": "boom"}, ServerError),
        (200, {"access_token": "a"}, MalformedResponseError),
        (200, {"access_token": "a", "refresh_token": "r"}, MalformedResponseError),
        (200, {"refresh_token": "r", "expires_in": 10}, MalformedResponseError),
    ],
    ids=[
        "login-required",
        "invalid-grant",
        "401-without-body",
        "invalid-client",
        "bad-request",
        "server-error",
        "no-refresh-token",
        "no-expiry",
        "no-access-token",
    ],
)
async def test_refresh_errors(
    mock_api: FleetMock,
    session: aiohttp.ClientSession,
    status: int,
    payload: dict[str, Any] | None,
    error_type: type[Exception],
) -> None:
    mock_api.post(TOKEN_URL, status=status, json=payload)
    with pytest.raises(error_type):
        await refresh_token(session, client_id="c", refresh_token="r")


async def test_refresh_html_answer_is_malformed(
    mock_api: FleetMock, session: aiohttp.ClientSession
) -> None:
    mock_api.post(TOKEN_URL, status=200, text="<html>maintenance</html>")
    with pytest.raises(MalformedResponseError):
        await refresh_token(session, client_id="c", refresh_token="r")


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "30"}, 30),
        ({"Retry-After": "30", "RateLimit-Reset": "90"}, 30),
        # Without Retry-After, the reset of the rate-limit window.
        ({"RateLimit-Reset": "90"}, 90),
        ({}, None),
    ],
)
async def test_refresh_rate_limited(
    mock_api: FleetMock,
    session: aiohttp.ClientSession,
    headers: dict[str, str],
    wait: float | None,
) -> None:
    mock_api.post(TOKEN_URL, status=429, headers=headers)
    with pytest.raises(RateLimitedError) as err:
        await refresh_token(session, client_id="c", refresh_token="r")
    assert err.value.retry_after == wait


async def test_refresh_connection_error(
    mock_api: FleetMock, session: aiohttp.ClientSession, ledger: Ledger
) -> None:
    mock_api.post(TOKEN_URL, exc=aiohttp.ClientConnectionError())
    with pytest.raises(TeslaConnectionError):
        await refresh_token(
            session, client_id="c", refresh_token="r", on_request=ledger
        )
    assert ledger.calls == [(RequestCategory.AUTH, None)]


async def test_refresh_timeout(
    mock_api: FleetMock, session: aiohttp.ClientSession
) -> None:
    async def slow(method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        await asyncio.sleep(1)
        return answer(json={})

    mock_api.post(TOKEN_URL, side_effect=slow)
    with pytest.raises(TeslaConnectionError, match="timeout"):
        await refresh_token(
            session, client_id="c", refresh_token="r", request_timeout=0.01
        )
