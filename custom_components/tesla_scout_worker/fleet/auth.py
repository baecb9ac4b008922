"""Tesla's token endpoint and what can be read from an access token.

The refresh call lives here, HA-free; *when* to refresh (single flight, rate
limit, persisting the rotated token first) is the token keeper's (:mod:`.tokens`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
import json
import logging
from typing import Any

import aiohttp

from .billing import RequestCategory
from .errors import (
    InvalidClientError,
    InvalidRequestError,
    LoginRequiredError,
    MalformedResponseError,
    RateLimitedError,
    ServerError,
    TeslaConnectionError,
)
from .models import Token
from .regions import REGION_BASE_URLS
from .transport import RequestListener, read_json, retry_after_of, snippet

_LOGGER = logging.getLogger(__name__)

TOKEN_URL = "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token"  # noqa: S105
AUTHORIZE_URL = "https://auth.tesla.com/oauth2/v3/authorize"
SCOPES = (
    "openid",
    "offline_access",
    "vehicle_device_data",
    "vehicle_location",
    "vehicle_cmds",
    "vehicle_charging_cmds",
)


TOKEN_TIMEOUT = 45.0
"""Seconds to wait for the token endpoint: it can be slow, and a lost answer costs."""


def decode_jwt_claims(token: str) -> dict[str, Any]:
    """Read a JWT's claims without verifying it; ``{}`` when it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def region_from_claims(claims: Mapping[str, Any]) -> str | None:
    """The region code (``na``, ``eu``, ``cn``) of the ``ou_code`` claim."""
    code = claims.get("ou_code")
    if isinstance(code, str) and code.lower() in REGION_BASE_URLS:
        return code.lower()
    return None


def base_url_for_token(access_token: str) -> str | None:
    """The Fleet API base URL for the region named in the token, if any."""
    region = region_from_claims(decode_jwt_claims(access_token))
    return REGION_BASE_URLS[region] if region else None


def scopes_from_claims(claims: Mapping[str, Any]) -> frozenset[str]:
    """The granted scopes (claim ``scp``, a list or a space-separated string)."""
    scopes = claims.get("scp")
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    if isinstance(scopes, list):
        return frozenset(s for s in scopes if isinstance(s, str))
    return frozenset()


LOCATION_SCOPE = "vehicle_location"
"""The scope live reads need for the car's position (``location_data``)."""


def location_scope_granted(access_token: str) -> bool:
    """Whether the token lets live reads ask for the car's position.

    Decided from the JWT's ``scp`` claim; a token that names no scopes is
    trusted until Tesla refuses (the reads then go on without the position).
    """
    claims = decode_jwt_claims(access_token)
    return "scp" not in claims or LOCATION_SCOPE in scopes_from_claims(claims)


async def refresh_token(
    session: aiohttp.ClientSession,
    *,
    client_id: str,
    refresh_token: str,
    client_secret: str | None = None,
    token_url: str = TOKEN_URL,
    request_timeout: float = TOKEN_TIMEOUT,
    on_request: RequestListener | None = None,
) -> Token:
    """Trade a (single-use) refresh token for a new token pair.

    The answer's refresh token replaces the one sent, which Tesla then treats as
    used: the caller must store the result before doing anything else with it.
    """
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "refresh_token": refresh_token,
    }
    if client_secret:
        form["client_secret"] = client_secret
    status: int | None = None
    try:
        async with (
            asyncio.timeout(request_timeout),
            session.post(token_url, data=form) as response,
        ):
            status = response.status
            payload, text = await read_json(response)
            headers = response.headers
    except TimeoutError as err:
        msg = "timeout talking to the token endpoint"
        raise TeslaConnectionError(msg) from err
    except aiohttp.ClientError as err:
        msg = f"cannot reach the token endpoint: {type(err).__name__}"
        raise TeslaConnectionError(msg) from err
    finally:
        if on_request is not None:
            on_request(RequestCategory.AUTH, status)

    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, str) else None
    if status == 200 and isinstance(payload, dict):
        try:
            return Token.from_response(payload)
        except ValueError as err:
            raise MalformedResponseError(str(err), status=status) from err
    _LOGGER.debug("Token endpoint answered %s (%s)", status, error or "no error code")
    if error in ("login_required", "invalid_grant"):
        raise LoginRequiredError(status=status, error=error)
    if error in ("invalid_client", "unauthorized_client"):
        raise InvalidClientError(status=status, error=error)
    if status == 429:
        # Retry-After, else RateLimit-Reset: like the Fleet API's 429.
        raise RateLimitedError(retry_after=retry_after_of(headers), error=error)
    if status >= 500:
        raise ServerError(status=status, error=error or snippet(text))
    if status == 200:
        raise MalformedResponseError("token answer is not JSON", status=status)
    if status == 401:
        # A 401 without a code from the token endpoint still means the refresh
        # token is not accepted: only a new login helps.
        raise LoginRequiredError(status=status, error=error)
    raise InvalidRequestError(status=status, error=error or snippet(text))
