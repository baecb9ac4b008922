"""The token keeper of a config entry: Home Assistant's storage, reauth and errors.

The logic (single flight, rate limit, persist-before-use) is the HA-free
:class:`~.fleet.tokens.TokenKeeper`'s. Here it gets what Home Assistant has:

* the token read from ``entry.data["token"]``, and a save that writes the
  rotated pair there *and* to a store of its own at once (Home Assistant
  writes config entries with a delay), before any caller gets it;
* the refresh state shared by the entry's keepers across reloads, kept in
  ``hass.data``; its task a background task;
* the reauth flow when Tesla answers ``login_required``/``invalid_grant`` or
  ``invalid_client``, and the ``token_refreshed`` event after each rotation;
* and :func:`token_error_to_ha`, the translated error a user action or the
  setup shows for a refusal of the keeper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
from homeassistant.core import callback
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
)
from .fleet import (
    InvalidClientError,
    LoginRequiredError,
    Token,
    TokenRefreshFailedError,
    TokenRefreshRateLimitedError,
)
from .fleet.auth import TOKEN_URL
from .fleet.tokens import LoginLost, OAuthClient, SharedRefresh, TokenError, TokenKeeper
from .fleet.transport import RequestListener
from .storage import async_remove_entry_store, entry_store

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

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


_REFRESHES_KEY = f"{DOMAIN}_token_refreshes"


def _entry_refresh(hass: HomeAssistant, entry_id: str) -> SharedRefresh:
    refreshes: dict[str, SharedRefresh] = hass.data.setdefault(_REFRESHES_KEY, {})
    return refreshes.setdefault(entry_id, SharedRefresh())


@callback
def async_token_keeper(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    session: aiohttp.ClientSession,
    *,
    on_request: RequestListener | None = None,
) -> TokenKeeper:
    """The keeper of ``entry``'s token, wired to Home Assistant."""
    store = _token_store(hass, entry.entry_id)

    def load() -> Token:
        return Token.from_entry_data(entry.data[CONF_TOKEN])

    def oauth_client() -> OAuthClient:
        data = entry.data
        return OAuthClient(
            client_id=data[CONF_CLIENT_ID],
            client_secret=data.get(CONF_CLIENT_SECRET),
            token_url=data.get(CONF_TOKEN_URL) or TOKEN_URL,
        )

    async def save(token: Token) -> None:
        # On top of the entry's data as it is *now* (it may have changed
        # during the refresh).
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_TOKEN: token.as_dict()}
        )
        # Config entries are written with a delay: this copy is on disk now.
        await store.async_save({CONF_TOKEN: token.as_dict()})

    def login_lost(err: LoginLost) -> None:
        message = (
            "Tesla no longer knows the application of %s"
            if isinstance(err, InvalidClientError)
            else "Tesla no longer accepts the refresh token of %s"
        )
        LOGGER.warning(message + "; reauthentication is needed", entry.title)
        entry.async_start_reauth(hass)

    def rotated() -> None:
        hass.bus.async_fire(
            EVENT_TYPE,
            {"type": EVENT_TOKEN_REFRESHED, ATTR_CONFIG_ENTRY_ID: entry.entry_id},
        )

    return TokenKeeper(
        session,
        load=load,
        oauth_client=oauth_client,
        save=save,
        shared=_entry_refresh(hass, entry.entry_id),
        spawn=lambda refresh: hass.async_create_background_task(
            refresh, f"{DOMAIN} token refresh"
        ),
        on_login_lost=login_lost,
        on_rotated=rotated,
        on_request=on_request,
    )


def token_error_to_ha(err: TokenError) -> HomeAssistantError:
    """What a user (or the setup) is told of a refusal of the token keeper."""
    if isinstance(err, LoginRequiredError | InvalidClientError):
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="invalid_client"
            if isinstance(err, InvalidClientError)
            else "login_required",
        )
    if isinstance(err, TokenRefreshRateLimitedError):
        when = dt_util.as_local(dt_util.utc_from_timestamp(err.next_attempt_at))
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="token_refresh_rate_limited",
            translation_placeholders={"next_attempt": when.strftime("%H:%M:%S")},
        )
    reason = err.reason if isinstance(err, TokenRefreshFailedError) else str(err)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="token_refresh_failed",
        translation_placeholders={"reason": reason},
    )
