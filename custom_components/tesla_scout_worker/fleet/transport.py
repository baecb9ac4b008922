"""Reading Tesla's HTTP answers and turning failures into typed errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
import json
import math
import re
import time
from typing import Any

import aiohttp

from .billing import RequestCategory
from .errors import (
    CommandProtocolRequiredError,
    InvalidRequestError,
    LoginRequiredError,
    MissingScopeError,
    MobileAccessDisabledError,
    NotRegisteredError,
    RateLimitedError,
    ServerError,
    TeslaFleetError,
    TokenExpiredError,
    UsageLimitExceededError,
    VehicleUnavailableError,
    WrongRegionError,
    redact,
)
from .regions import fleet_api_base_url

type RequestListener = Callable[[RequestCategory, int | None], None]
"""Told of every request sent: its category and HTTP status (``None``: no answer)."""

_UNAVAILABLE_TEXT = "vehicle unavailable"
_MOBILE_ACCESS_DISABLED = "mobile_access_disabled"
_USAGE_LIMIT_TEXTS = ("exceeded_limit", "exceeded limit", "account disabled")
_URL_IN_TEXT = re.compile(r"https://[^\s\"',]+")


async def read_json(response: aiohttp.ClientResponse) -> tuple[Any, str]:
    """Read an answer's body: the decoded JSON (or ``None``) and the text."""
    raw = await response.read()
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return None, text
    try:
        return json.loads(text), text
    except (ValueError, RecursionError):
        # RecursionError: nested too deep for Python's parser (a few thousand).
        return None, text


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        # "nan", "inf", "1e999": no usable wait.
        return None
    return max(seconds, 0.0)


EPOCH_RESET_FROM_S = 1_000_000_000.0
"""A ``RateLimit-Reset`` this large is a moment (epoch seconds), not a wait:
no rate-limit window lasts 30 years."""


def parse_rate_limit_reset(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``RateLimit-Reset`` header.

    The IETF draft (and this project's simulator) gives the seconds until the
    window resets; some servers give the reset moment in epoch seconds.
    Both are read.
    """
    seconds = parse_retry_after(value, now)
    if seconds is None or seconds < EPOCH_RESET_FROM_S:
        return seconds
    return max(seconds - (time.time() if now is None else now), 0.0)


def retry_after_of(
    headers: Mapping[str, str], now: float | None = None
) -> float | None:
    """How long a 429 asks to wait: ``Retry-After``, else ``RateLimit-Reset``."""
    wait = parse_retry_after(headers.get("Retry-After"), now)
    if wait is None:
        wait = parse_rate_limit_reset(headers.get("RateLimit-Reset"), now)
    return wait


def snippet(text: str) -> str:
    """A short, single-line excerpt of a body for an error message.

    Redacted before it is cut: a secret cut in half would escape redaction.
    """
    return " ".join(redact(text[:4096]).split())[:120]


def error_text(payload: Any) -> str | None:
    """Tesla's ``error`` field (with ``error_description`` when it adds something)."""
    if not isinstance(payload, Mapping):
        return None
    error = payload.get("error")
    if not isinstance(error, str) or not error:
        return None
    return error


def raise_for_status(
    status: int, payload: Any, text: str, headers: Mapping[str, str]
) -> None:
    """Raise the typed error for a failed Fleet API answer; return on 2xx."""
    if 200 <= status < 300:
        return
    error = error_text(payload)
    message = error or snippet(text) or f"HTTP {status}"
    lowered = message.lower()
    exc: TeslaFleetError
    if status == 401:
        if error in ("login_required", "invalid_grant"):
            exc = LoginRequiredError(status=status, error=error)
        elif error == _MOBILE_ACCESS_DISABLED:
            # One car's setting, not the token: no refresh, no new login.
            exc = MobileAccessDisabledError(message, status=status, error=error)
        else:
            exc = TokenExpiredError(message, status=status, error=error)
    elif status == 403:
        if "protocol required" in lowered:
            exc = CommandProtocolRequiredError(message, status=status, error=error)
        elif any(text in lowered for text in _USAGE_LIMIT_TEXTS):
            exc = UsageLimitExceededError(
                message,
                retry_after=parse_retry_after(headers.get("Retry-After")),
                error=error,
            )
        elif "scope" in lowered:
            exc = MissingScopeError(message, status=status, error=error)
        else:
            exc = InvalidRequestError(message, status=status, error=error)
    elif status == 408 or (status >= 500 and _UNAVAILABLE_TEXT in lowered):
        exc = VehicleUnavailableError(message, status=status, error=error)
    elif status == 412:
        exc = NotRegisteredError(message, status=status, error=error)
    elif status == 421:
        match = _URL_IN_TEXT.search(message)
        # Only one of Tesla's regional hosts: never send the token elsewhere.
        url = fleet_api_base_url(match.group(0).rstrip("./")) if match else None
        exc = WrongRegionError(message, suggested_url=url, error=error)
    elif status == 429:
        exc = RateLimitedError(
            message,
            retry_after=retry_after_of(headers),
            error=error,
        )
    elif status >= 500:
        exc = ServerError(message, status=status, error=error)
    else:
        exc = InvalidRequestError(message, status=status, error=error)
    raise exc
