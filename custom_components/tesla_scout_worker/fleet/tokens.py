"""The one owner of an account's tokens: one refresh at a time, saved before use.

Tesla refresh tokens are single use: every refresh returns a new one and
invalidates the old. Two refreshers break each other, and a rotated token that
is not saved locks the user out. So every token request goes through
:class:`TokenKeeper`, which

* refreshes when fewer than five minutes are left (or when Tesla rejected the
  access token), with **one** request however many callers wait for it;
* allows at most one refresh attempt a minute (and none before the token
  endpoint's Retry-After), so a fault cannot loop;
* saves the rotated pair through the ``save`` it is given *before* any caller
  gets the new access token (and Tesla keeps the refresh token just used valid
  for a day, which covers a crash before the save reached the disk);
* tells its owner when Tesla answers ``login_required``/``invalid_grant`` or
  ``invalid_client``: only a new login helps.

Where the token is stored, how a task is started, and what a refusal means to
a user is the owner's business (in Home Assistant: the config entry's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
import logging
import time
from typing import Any, Final

import aiohttp

from .auth import TOKEN_URL, refresh_token
from .errors import (
    InvalidClientError,
    LoginRequiredError,
    RateLimitedError,
    TeslaFleetError,
    TokenRefreshFailedError,
    TokenRefreshRateLimitedError,
    TokenUnavailableError,
)
from .listeners import Listeners
from .models import Token
from .outage import OutageLog
from .transport import RequestListener

_LOGGER = logging.getLogger(__name__)

# SPEC §4
TOKEN_REFRESH_MARGIN: Final = 300.0
"""Refresh when fewer than this many seconds remain before ``expires_at``."""
TOKEN_REFRESH_MIN_INTERVAL: Final = 60.0
"""At most one refresh attempt in this many seconds."""

TOKEN_ERRORS: Final = (TokenUnavailableError, LoginRequiredError, InvalidClientError)
"""Everything the keeper raises: no token now, or none without a new login."""

type TokenError = TokenUnavailableError | LoginRequiredError | InvalidClientError
type LoginLost = LoginRequiredError | InvalidClientError
type Spawn = Callable[[Coroutine[Any, Any, Token]], asyncio.Future[Token]]
"""Starts the refresh's own task (Home Assistant: a background task)."""


def _create_task(refresh: Coroutine[Any, Any, Token]) -> asyncio.Future[Token]:
    return asyncio.ensure_future(refresh)


@dataclass(frozen=True, kw_only=True)
class OAuthClient:
    """The developer application a refresh names: Tesla's OAuth client."""

    client_id: str
    client_secret: str | None = None
    token_url: str = TOKEN_URL


@dataclass
class SharedRefresh:
    """One account's refresh across its keepers: the one in flight, the last try.

    A reload (options, reauth, a new login) builds a new keeper while an old
    caller may still be refreshing: both must share one POST, since a refresh
    token works once, and one rate limit. The owner keeps this and hands it to
    every keeper of the account.
    """

    task: asyncio.Future[Token] | None = None
    last_attempt: float | None = None
    retry_at: float = 0.0
    """A 429 from the token endpoint: no attempt before this (Retry-After)."""
    endpoint: OutageLog = field(
        default_factory=lambda: OutageLog(
            "Tesla's token endpoint",
            "the token is refreshed at most once a minute until it answers",
        )
    )
    """Warned once when the endpoint fails, told once when it is back."""

    @property
    def in_flight(self) -> bool:
        """Whether a refresh has been sent and not answered yet."""
        return self.task is not None and not self.task.done()


@dataclass
class TokenStats:
    """Counters for diagnostics."""

    refreshes: int = 0
    failures: int = 0
    rate_limited: int = 0
    last_refresh: float | None = None
    last_attempt: float | None = None
    last_failure: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the counters for diagnostics."""
        return {
            "refreshes": self.refreshes,
            "failures": self.failures,
            "rate_limited": self.rate_limited,
            "last_refresh": self.last_refresh,
            "last_attempt": self.last_attempt,
            "last_failure": self.last_failure,
        }


class TokenKeeper:
    """Hands out valid access tokens and owns the refresh of one account.

    ``load`` reads the token as stored now (read at every use), ``oauth_client``
    the application a refresh names; ``save`` stores a rotated pair and returns
    once it is safe. ``spawn`` starts the refresh's task; ``on_login_lost`` is
    told each time Tesla refuses the refresh token or the application (only a
    new login helps); ``on_rotated`` after each rotation, once the listeners
    were. Raises only :data:`TOKEN_ERRORS`.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        load: Callable[[], Token],
        oauth_client: Callable[[], OAuthClient],
        save: Callable[[Token], Awaitable[None]],
        shared: SharedRefresh | None = None,
        spawn: Spawn = _create_task,
        on_login_lost: Callable[[LoginLost], None] | None = None,
        on_rotated: Callable[[], None] | None = None,
        on_request: RequestListener | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Start from the token ``load`` reads."""
        self._session = session
        self._load = load
        self._oauth_client = oauth_client
        self._save = save
        self._shared = shared if shared is not None else SharedRefresh()
        self._spawn = spawn
        self._on_login_lost = on_login_lost
        self._on_rotated = on_rotated
        self._on_request = on_request
        # Looked up at each call, so that frozen test clocks apply.
        self._clock = clock or (lambda: time.time())
        self._lock = asyncio.Lock()
        self._generation = 0
        self._listeners: Listeners[[]] = Listeners()
        self.stats = TokenStats()

    def async_add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each rotation (the token sensor's update)."""
        return self._listeners.add(listener)

    @property
    def token(self) -> Token:
        """The current token pair, as stored."""
        return self._load()

    @property
    def next_attempt_at(self) -> float:
        """When the rate limit next allows a refresh attempt (epoch seconds)."""
        shared = self._shared
        if shared.last_attempt is None:
            return shared.retry_at
        return max(shared.last_attempt + TOKEN_REFRESH_MIN_INTERVAL, shared.retry_at)

    def is_valid(self) -> bool:
        """Whether the access token has not expired yet."""
        return self.token.seconds_left(self._clock()) > 0

    async def __call__(self, *, force_refresh: bool = False) -> str:
        """Act as the Fleet client's token provider."""
        return await self.async_get_access_token(force_refresh=force_refresh)

    async def async_get_access_token(self, *, force_refresh: bool = False) -> str:
        """Return a valid access token, refreshing first when needed.

        ``force_refresh`` is for a token Tesla just rejected: inside the rate
        limit window the current token is returned while it is still valid,
        since a concurrent caller may already have replaced the rejected one.
        """
        if (
            not force_refresh
            and self.token.seconds_left(self._clock()) > TOKEN_REFRESH_MARGIN
        ):
            return self.token.access_token
        generation = self._generation
        async with self._lock:
            if self._generation != generation and self.is_valid():
                # Someone refreshed while we waited: single flight.
                return self.token.access_token
            if not self._shared.in_flight and self._clock() < self.next_attempt_at:
                self.stats.rate_limited += 1
                if self.is_valid():
                    return self.token.access_token
                raise TokenRefreshRateLimitedError(self.next_attempt_at)
            try:
                return (await self._async_refresh_locked()).access_token
            except TokenRefreshFailedError:
                if force_refresh or not self.is_valid():
                    raise
                # A blip of the token endpoint while the token still works:
                # use it; the next attempt comes after the one-minute limit.
                return self.token.access_token

    async def async_force_refresh(self) -> Token:
        """Refresh now, for the button, the action and the refresh view.

        Refused (without restarting the one-minute window) inside the window.
        Asked while a refresh is in flight, it joins that refresh and gets its
        token: single flight means every caller gets the one refresh's result.
        """
        generation = self._generation
        async with self._lock:
            if self._generation != generation:
                return self.token  # joined the refresh that was in flight
            if not self._shared.in_flight and self._clock() < self.next_attempt_at:
                self.stats.rate_limited += 1
                raise TokenRefreshRateLimitedError(self.next_attempt_at)
            return await self._async_refresh_locked()

    async def _async_refresh_locked(self) -> Token:
        """The one refresh of this account: start it, or join the one in flight.

        The POST and the saving of its answer run in a task of their own that
        a caller's cancellation (an unload) cannot stop: once Tesla rotated the
        token, the new one is kept whatever happens to the caller. A keeper
        built by a reload while that task runs joins it: it is not a second
        attempt, so the one-minute limit does not refuse it.
        """
        shared = self._shared
        if shared.task is None or shared.task.done():
            shared.last_attempt = self.stats.last_attempt = self._clock()
            shared.task = self._spawn(self._async_refresh_and_save())
        return await asyncio.shield(shared.task)

    def _login_lost(self, err: LoginLost) -> None:
        """Count a refusal no retry can fix and tell the owner."""
        self.stats.failures += 1
        self.stats.last_failure = (
            "invalid_client"
            if isinstance(err, InvalidClientError)
            else "login_required"
        )
        if self._on_login_lost is not None:
            self._on_login_lost(err)

    async def _async_refresh_and_save(self) -> Token:
        oauth = self._oauth_client()
        try:
            token = await refresh_token(
                self._session,
                client_id=oauth.client_id,
                refresh_token=self.token.refresh_token,
                client_secret=oauth.client_secret,
                token_url=oauth.token_url,
                on_request=self._on_request,
            )
        except (InvalidClientError, LoginRequiredError) as err:
            # The refresh token is used up or revoked, or the developer
            # application was revoked or deleted: no retry can help.
            self._shared.endpoint.answered()
            self._login_lost(err)
            raise
        except TeslaFleetError as err:
            if isinstance(err, RateLimitedError) and err.retry_after is not None:
                self._shared.retry_at = self._clock() + err.retry_after
            self.stats.failures += 1
            self.stats.last_failure = type(err).__name__
            # Once per outage, however many attempts it takes (one a minute
            # at most): Home Assistant's log-when-unavailable.
            self._shared.endpoint.failed(type(err).__name__)
            raise TokenRefreshFailedError(type(err).__name__) from err
        self._shared.endpoint.answered()
        # Persist the rotated pair before anyone can use it.
        await self._save(token)
        self._generation += 1
        self.stats.refreshes += 1
        self.stats.last_refresh = self._clock()
        _LOGGER.debug("Access token refreshed; valid for %s s", token.expires_in)
        self._listeners.notify()
        if self._on_rotated is not None:
            self._on_rotated()
        return token
