"""The application's partner account: registering the domain that hosts its key.

Tesla learns an application's public key by fetching
``https://<domain>/.well-known/appspecific/com.tesla.3p.public-key.pem`` when
the application registers that domain in a region: a partner token
(``grant_type=client_credentials``, the client id and secret, ``audience`` =
the region's Fleet API URL), then ``POST /api/1/partner_accounts
{"domain": …}``. Cars then accept that key once their owner pairs it at
``https://tesla.com/_ak/<domain>``. Both calls are free and rare (once per
domain and region); they are not the client's, which carries the user's token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .auth import TOKEN_TIMEOUT, TOKEN_URL
from .billing import RequestCategory
from .errors import (
    InvalidClientError,
    MalformedResponseError,
    ServerError,
    TeslaConnectionError,
    TeslaFleetError,
)
from .transport import RequestListener, read_json, snippet

PUBLIC_KEY_PATH = "/.well-known/appspecific/com.tesla.3p.public-key.pem"
"""Where Tesla fetches an application's public key on its domain."""

PAIRING_URL = "https://tesla.com/_ak/"
"""Followed by the domain: the link an owner opens in the Tesla app to pair."""

PARTNER_SCOPES = "openid vehicle_device_data vehicle_cmds vehicle_charging_cmds"

_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)


class PartnerRegistrationError(TeslaFleetError):
    """Tesla refused the registration; ``error`` is its reason, as it said it."""


@dataclass(frozen=True, kw_only=True)
class PartnerAccount:
    """What Tesla registered: the domain and the public key it fetched (hex)."""

    domain: str
    public_key: str | None


def domain_of(text: str) -> str | None:
    """The bare host name Tesla expects, from a host or a URL; ``None``: not one.

    ``https://Home.Example.com/`` gives ``home.example.com``. Not a port:
    Tesla fetches the key over https on the standard port only.
    """
    text = text.strip()
    if not text:
        return None
    parts = urlsplit(text if "//" in text else f"//{text}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if parts.scheme not in ("", "https", "http") or parts.username:
        return None
    host = (parts.netloc or "").lower().rstrip(".")
    if host.endswith(":443") and parts.scheme != "http":
        host = host.removesuffix(":443")
    return host if _HOST.match(host) else None


def public_key_url(domain: str) -> str:
    """The address Tesla fetches the key from."""
    return f"https://{domain}{PUBLIC_KEY_PATH}"


async def register_partner_account(
    session: aiohttp.ClientSession,
    *,
    client_id: str,
    client_secret: str,
    api_base_url: str,
    domain: str,
    token_url: str = TOKEN_URL,
    request_timeout: float = TOKEN_TIMEOUT,
    on_request: RequestListener | None = None,
) -> PartnerAccount:
    """Register ``domain`` as the application's in the region of ``api_base_url``.

    Raises :class:`InvalidClientError` for a wrong client id or secret,
    :class:`PartnerRegistrationError` with Tesla's reason for a refusal (the
    key could not be fetched, the domain is not the application's allowed
    origin…), :class:`TeslaConnectionError` or :class:`ServerError` when Tesla
    could not be asked.
    """
    token = await _partner_token(
        session,
        token_url=token_url,
        form={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": PARTNER_SCOPES,
            "audience": api_base_url.rstrip("/"),
        },
        request_timeout=request_timeout,
        on_request=on_request,
    )
    status, payload, text = await _post(
        session,
        f"{api_base_url.rstrip('/')}/api/1/partner_accounts",
        request_timeout=request_timeout,
        on_request=on_request,
        json={"domain": domain},
        headers={"Authorization": f"Bearer {token}"},
    )
    if status == 200:
        response = payload.get("response") if isinstance(payload, Mapping) else None
        if not isinstance(response, Mapping):
            msg = "partner_accounts answer has no response object"
            raise MalformedResponseError(msg, status=status)
        key = response.get("public_key")
        return PartnerAccount(
            domain=str(response.get("domain") or domain),
            public_key=key.lower() if isinstance(key, str) and key else None,
        )
    raise _refusal(status, payload, text)


async def _partner_token(
    session: aiohttp.ClientSession,
    *,
    token_url: str,
    form: dict[str, str],
    request_timeout: float,
    on_request: RequestListener | None,
) -> str:
    status, payload, text = await _post(
        session,
        token_url,
        request_timeout=request_timeout,
        on_request=on_request,
        data=form,
    )
    if status == 200 and isinstance(payload, Mapping):
        token = payload.get("access_token")
        if isinstance(token, str) and token:
            return token
        msg = "partner token answer has no access_token"
        raise MalformedResponseError(msg, status=status)
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if error in ("invalid_client", "unauthorized_client"):
        raise InvalidClientError(status=status, error=str(error))
    raise _refusal(status, payload, text)


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    *,
    request_timeout: float,
    on_request: RequestListener | None,
    **kwargs: Any,
) -> tuple[int, Any, str]:
    status: int | None = None
    try:
        async with (
            asyncio.timeout(request_timeout),
            session.post(url, **kwargs) as response,
        ):
            status = response.status
            payload, text = await read_json(response)
    except TimeoutError as err:
        msg = "timeout talking to Tesla"
        raise TeslaConnectionError(msg) from err
    except aiohttp.ClientError as err:
        msg = f"cannot reach Tesla: {type(err).__name__}"
        raise TeslaConnectionError(msg) from err
    finally:
        if on_request is not None:
            on_request(RequestCategory.AUTH, status)
    return status, payload, text


def _refusal(status: int, payload: Any, text: str) -> TeslaFleetError:
    """Tesla's reason, in its words (``error`` and ``error_description``)."""
    reason = ""
    if isinstance(payload, Mapping):
        parts = [
            value.strip()
            for key in ("error", "error_description")
            if isinstance(value := payload.get(key), str) and value.strip()
        ]
        reason = ": ".join(dict.fromkeys(parts))
    reason = reason or snippet(text) or f"HTTP {status}"
    if status >= 500:
        return ServerError(status=status, error=reason)
    return PartnerRegistrationError(reason, status=status, error=reason)
