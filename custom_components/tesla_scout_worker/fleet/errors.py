"""The Fleet API client's typed error tree.

Every failure the client can raise derives from :class:`TeslaFleetError`, so the
Home Assistant layer maps a handful of classes instead of status codes:
authentication errors start a reauth, transient ones become ``UpdateFailed``.
"""

from __future__ import annotations

import re

_VIN_TEXT = re.compile(r"\b[A-HJ-NPR-Z0-9]{17}\b")
_OPAQUE_TEXT = re.compile(r"[\w.~+/=-]{20,}")
_COORDINATE_TEXT = re.compile(r"-?\d{1,3}\.\d{4,}")
REDACTED = "**REDACTED**"


def _opaque(match: re.Match[str]) -> str:
    text = match.group(0)
    if any(c.isdigit() for c in text) and any(c.isalpha() for c in text):
        return REDACTED
    return text


def redact(text: str) -> str:
    """``text`` from Tesla or a proxy, fit for a message that may be logged.

    Answers can echo a request: a VIN, a token or the client secret (long
    strings of letters and digits), or an exact position. Messages end up in
    tracebacks in Home Assistant's log, so these are masked.
    """
    text = _VIN_TEXT.sub(REDACTED, text)
    text = _OPAQUE_TEXT.sub(_opaque, text)
    return _COORDINATE_TEXT.sub(REDACTED, text)


class TeslaFleetError(Exception):
    """Base class of every error raised by the Fleet client."""

    def __init__(
        self, message: str = "", *, status: int | None = None, error: str | None = None
    ) -> None:
        """Keep the HTTP status and Tesla's ``error`` text beside the message.

        The message is redacted (:func:`redact`); ``error`` is kept as sent.
        """
        super().__init__(redact(message or error or self.__class__.__name__))
        self.status = status
        self.error = error


class TeslaAuthenticationError(TeslaFleetError):
    """The request was not authorised (HTTP 401)."""


class TokenExpiredError(TeslaAuthenticationError):
    """The access token was rejected; a refresh may fix it."""


class TokenNotRefreshedError(TeslaFleetError):
    """Tesla rejected the access token and no fresh one could be had yet.

    The token keeper refuses a second refresh within a minute, so the retry
    would send the same token. Transient: try again after the window; only a
    rejection *after* a successful refresh means the login is gone.
    """


class TokenUnavailableError(TeslaFleetError):
    """No access token could be had now: the account's failure, not one request's.

    Raised by the token keeper (:mod:`.tokens`) for a token that needs a
    refresh it cannot get yet. Transient: a later attempt may get one; every
    request of the account would fail alike meanwhile.
    """


class TokenRefreshRateLimitedError(TokenUnavailableError):
    """A refresh was asked for before our own limit allows the next attempt.

    At most one attempt a minute, and none before the token endpoint's
    Retry-After: ``next_attempt_at`` (epoch seconds) says when.
    """

    def __init__(self, next_attempt_at: float) -> None:
        """Say when the next attempt is allowed."""
        super().__init__(f"no token refresh before {next_attempt_at:.0f}")
        self.next_attempt_at = next_attempt_at


class TokenRefreshFailedError(TokenUnavailableError):
    """Tesla's token endpoint could not be reached or failed.

    ``reason`` is short and token-free: the class name of the endpoint's error.
    """

    def __init__(self, reason: str) -> None:
        """Carry the reason."""
        super().__init__(f"token refresh failed: {reason}")
        self.reason = reason


class LoginRequiredError(TeslaAuthenticationError):
    """The refresh token is used, revoked or expired: the user must log in again.

    Tesla answers ``login_required`` (401) or ``invalid_grant`` (400/401).
    """


class InvalidClientError(TeslaAuthenticationError):
    """The token endpoint does not know the client id or secret."""


class MissingScopeError(TeslaFleetError):
    """The token lacks a scope the endpoint needs (HTTP 403)."""

    @property
    def location(self) -> bool:
        """The missing scope is ``vehicle_location`` (the position was asked for)."""
        return "vehicle_location" in str(self).lower()


class MobileAccessDisabledError(TeslaFleetError):
    """The owner switched off mobile access for one car (HTTP 401).

    Tesla answers ``mobile_access_disabled`` for that car only: the token is
    fine (no refresh, no new login) and the account's other cars answer.
    """


class UsageLimitExceededError(TeslaFleetError):
    """Tesla disabled the application past its monthly threshold (HTTP 403).

    Paid requests (live data, commands, wakes) fail until the limit resets,
    the start of the next calendar month unless Tesla says otherwise
    (``retry_after`` seconds, from a ``Retry-After`` header).
    """

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        status: int | None = 403,
        error: str | None = None,
    ) -> None:
        """Remember when Tesla said the limit resets, when it said so."""
        super().__init__(message, status=status, error=error)
        self.retry_after = retry_after


class CommandProtocolRequiredError(TeslaFleetError):
    """The car only accepts signed commands (HTTP 403): use the command proxy."""


class VehicleUnavailableError(TeslaFleetError):
    """The car is asleep or offline (HTTP 408, or the proxy's 500 with that text)."""


class RateLimitedError(TeslaFleetError):
    """Tesla rate-limited the request (HTTP 429)."""

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        error: str | None = None,
    ) -> None:
        """Remember how long Tesla asked us to wait, when it said so."""
        super().__init__(message, status=status, error=error)
        self.retry_after = retry_after


class WrongRegionError(TeslaFleetError):
    """The account lives in another region (HTTP 421)."""

    def __init__(
        self,
        message: str = "",
        *,
        suggested_url: str | None = None,
        status: int | None = 421,
        error: str | None = None,
    ) -> None:
        """Carry the base URL Tesla suggests, when its message names one."""
        super().__init__(message, status=status, error=error)
        self.suggested_url = suggested_url


class NotRegisteredError(TeslaFleetError):
    """The partner account is not registered in this region (HTTP 412)."""


class InvalidRequestError(TeslaFleetError):
    """Tesla rejected the request itself (another 4xx)."""


class ServerError(TeslaFleetError):
    """Tesla or the car failed to answer (HTTP 5xx); usually transient."""


class TeslaConnectionError(TeslaFleetError):
    """The request did not get an answer: connection failure or timeout."""


class MalformedResponseError(TeslaFleetError):
    """The answer was not the JSON Tesla promises (empty, HTML, wrong shape)."""


class CommandFailedError(TeslaFleetError):
    """The car refused a command (``result: false`` with a reason)."""

    def __init__(self, command: str, reason: str) -> None:
        """Name the command and the car's reason."""
        super().__init__(f"{command} failed: {reason}", error=reason)
        self.command = command
        self.reason = reason


class KeyNotPairedError(CommandProtocolRequiredError):
    """The car needs signed commands and does not know this application's key.

    The owner pairs it once in the Tesla app (``https://tesla.com/_ak/<domain>``).
    """


class SignedCommandRefusedError(TeslaFleetError):
    """The car refused a signed message (a fault of the protocol, not the command)."""
