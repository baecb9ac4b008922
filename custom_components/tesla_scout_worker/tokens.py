"""The token manager: the one and only owner of the account's Tesla tokens.

Tesla refresh tokens are single use: every refresh returns a new one and
invalidates the old. Two refreshers break each other, and a rotated token that
is not saved locks the user out. So every token request in this integration goes
through :class:`TokenManager`, which

* refreshes when fewer than five minutes are left (or when Tesla rejected the
  access token), with **one** request however many callers wait for it;
* allows at most one refresh attempt a minute, so a fault cannot loop;
* writes the rotated pair to ``entry.data["token"]`` *before* any caller gets
  the new access token (and Tesla keeps the refresh token just used valid for a
  day, which covers a crash before Home Assistant's store is flushed);
* starts the reauth flow when Tesla answers ``login_required``/``invalid_grant``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_TOKEN,
    CONF_TOKEN_URL,
    DOMAIN,
    EVENT_TOKEN_REFRESHED,
    EVENT_TYPE,
    LOGGER,
    TOKEN_REFRESH_MARGIN,
    TOKEN_REFRESH_MIN_INTERVAL,
)
from .fleet import (
    InvalidClientError,
    LoginRequiredError,
    RateLimitedError,
    TeslaFleetError,
    Token,
)
from .fleet.auth import TOKEN_URL, refresh_token
from .fleet.listeners import Listeners
from .fleet.outage import OutageLog
from .fleet.transport import RequestListener
from .storage import async_remove_entry_store, entry_store

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant


class TokenRefreshRateLimitedError(HomeAssistantError):
    """A refresh was asked for within a minute of the last attempt."""

    def __init__(self, next_attempt_at: float) -> None:
        """Say when the next attempt is allowed."""
        when = dt_util.as_local(dt_util.utc_from_timestamp(next_attempt_at))
        super().__init__(
            translation_domain=DOMAIN,
            translation_key="token_refresh_rate_limited",
            translation_placeholders={"next_attempt": when.strftime("%H:%M:%S")},
        )
        self.next_attempt_at = next_attempt_at


class TokenRefreshFailedError(HomeAssistantError):
    """Tesla's token endpoint could not be reached or failed."""

    def __init__(self, reason: str) -> None:
        """Carry a short, token-free reason."""
        super().__init__(
            translation_domain=DOMAIN,
            translation_key="token_refresh_failed",
            translation_placeholders={"reason": reason},
        )


TOKEN_STORE_VERSION = 1


def _token_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return entry_store(hass, entry_id, "token", TOKEN_STORE_VERSION)


async def async_adopt_saved_token(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """Take a rotated token saved at once that the entry's store missed.

    Home Assistant writes config entries with a delay; a crash right after a
    refresh would leave the used refresh token in the entry. The token store
    is written before anyone gets the new token, so the later of the two wins.
    """
    saved = await _token_store(hass, entry.entry_id).async_load()
    token = (saved or {}).get(CONF_TOKEN)
    current = entry.data.get(CONF_TOKEN) or {}
    if not isinstance(token, dict) or token.get("refresh_token") == current.get(
        "refresh_token"
    ):
        return
    if float(token.get("expires_at", 0)) > float(current.get("expires_at", 0)):
        LOGGER.info("Using the rotated token saved before the last stop")
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_TOKEN: token}
        )


async def async_remove_saved_token(hass: HomeAssistant, entry_id: str) -> None:
    """Delete an entry's saved token (the entry is being deleted)."""
    await async_remove_entry_store(hass, _token_store(hass, entry_id))
    hass.data.get(_REFRESHES_KEY, {}).pop(entry_id, None)


@dataclass
class _EntryRefresh:
    """Per config entry and across its reloads: the refresh in flight, the last try.

    A reload (options, reauth, a new login) builds a new token manager while
    an old caller may still be refreshing: both must share one POST, since a
    refresh token works once, and one rate limit.
    """

    task: asyncio.Task[Token] | None = None
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


_REFRESHES_KEY = f"{DOMAIN}_token_refreshes"


def _entry_refresh(hass: HomeAssistant, entry_id: str) -> _EntryRefresh:
    refreshes: dict[str, _EntryRefresh] = hass.data.setdefault(_REFRESHES_KEY, {})
    return refreshes.setdefault(entry_id, _EntryRefresh())


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


class TokenManager:
    """Hands out valid access tokens and owns the refresh of one config entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] | None = None,
        on_request: RequestListener | None = None,
    ) -> None:
        """Start from the token stored in the entry."""
        self._hass = hass
        self._entry = entry
        self._session = session
        # Looked up at each call, so that frozen test clocks apply.
        self._clock = clock or (lambda: time.time())
        self._on_request = on_request
        self._lock = asyncio.Lock()
        self._shared = _entry_refresh(hass, entry.entry_id)
        self._store = _token_store(hass, entry.entry_id)
        self._generation = 0
        self._listeners: Listeners[[]] = Listeners()
        self.stats = TokenStats()

    def async_add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each rotation (the token sensor's update)."""
        return self._listeners.add(listener)

    @property
    def token(self) -> Token:
        """The current token pair, as stored in the entry."""
        return Token.from_entry_data(self._entry.data[CONF_TOKEN])

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
        """The one refresh of this entry: start it, or join the one in flight.

        The POST and the saving of its answer run in a task of their own that
        a caller's cancellation (an unload) cannot stop: once Tesla rotated the
        token, the new one is kept whatever happens to the caller. A token
        manager built by a reload while that task runs joins it: it is not a
        second attempt, so the one-minute limit does not refuse it.
        """
        shared = self._shared
        if shared.task is None or shared.task.done():
            shared.last_attempt = self.stats.last_attempt = self._clock()
            shared.task = self._hass.async_create_background_task(
                self._async_refresh_and_save(), f"{DOMAIN} token refresh"
            )
        return await asyncio.shield(shared.task)

    def _reauth_needed(self, reason: str, message: str) -> ConfigEntryAuthFailed:
        """Count and log a refusal no retry can fix, start reauth, say why."""
        self.stats.failures += 1
        self.stats.last_failure = reason
        LOGGER.warning(message + "; reauthentication is needed", self._entry.title)
        self._entry.async_start_reauth(self._hass)
        return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key=reason)

    async def _async_refresh_and_save(self) -> Token:
        data = self._entry.data
        try:
            token = await refresh_token(
                self._session,
                client_id=data[CONF_CLIENT_ID],
                refresh_token=self.token.refresh_token,
                client_secret=data.get(CONF_CLIENT_SECRET),
                token_url=data.get(CONF_TOKEN_URL) or TOKEN_URL,
                on_request=self._on_request,
            )
        except InvalidClientError as err:
            # The developer application was revoked or deleted: no retry can
            # help; reauth lets the user enter a new client id.
            self._shared.endpoint.answered()
            raise self._reauth_needed(
                "invalid_client", "Tesla no longer knows the application of %s"
            ) from err
        except LoginRequiredError as err:
            self._shared.endpoint.answered()
            raise self._reauth_needed(
                "login_required", "Tesla no longer accepts the refresh token of %s"
            ) from err
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
        # Persist the rotated pair before anyone can use it, on top of the
        # entry's data as it is *now* (it may have changed during the await).
        self._hass.config_entries.async_update_entry(
            self._entry, data={**self._entry.data, CONF_TOKEN: token.as_dict()}
        )
        # Config entries are written with a delay: this copy is on disk now.
        await self._store.async_save({CONF_TOKEN: token.as_dict()})
        self._generation += 1
        self.stats.refreshes += 1
        self.stats.last_refresh = self._clock()
        LOGGER.debug("Access token refreshed; valid for %s s", token.expires_in)
        self._listeners.notify()
        self._hass.bus.async_fire(
            EVENT_TYPE,
            {"type": EVENT_TOKEN_REFRESHED, ATTR_CONFIG_ENTRY_ID: self._entry.entry_id},
        )
        return token
