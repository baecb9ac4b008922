"""Token sharing (opt-in): other local tools use our token instead of refreshing it.

Two refreshers of one Tesla account break each other, so scripts, Node-RED or a
second integration ask Home Assistant for the access token. Admin users only;
an entry without the ``share_token`` option answers 404 as if it did not exist.
"""

from __future__ import annotations

from http import HTTPStatus
import time
from typing import Any

from aiohttp import web
from homeassistant.components.http.const import KEY_HASS_USER
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from .const import CONF_SHARE_TOKEN, DEFAULT_SHARE_TOKEN, DOMAIN
from .fleet.tokens import TOKEN_ERRORS
from .models import TeslaScoutWorkerConfigEntry
from .tokens import token_error_to_ha
from .virtual_key import async_register_public_key_view

URL_BASE = f"/api/{DOMAIN}/{{entry_id}}"


@callback
def async_register_views(hass: HomeAssistant) -> None:
    """Register the views (each checks its option on every request).

    The three of token sharing, and the public key's (see ``virtual_key.py``).
    """
    async_register_public_key_view(hass)
    hass.http.register_view(TokenView())
    hass.http.register_view(RefreshView())
    hass.http.register_view(HealthView())


class _SharedTokenView(HomeAssistantView):
    """Common checks: admin user, a loaded entry with sharing switched on."""

    requires_auth = True

    def _entry(
        self, request: web.Request, entry_id: str
    ) -> TeslaScoutWorkerConfigEntry | web.Response:
        if not request[KEY_HASS_USER].is_admin:
            return self.json_message("Admin access required", HTTPStatus.UNAUTHORIZED)
        hass = request.app[KEY_HASS]
        entry: TeslaScoutWorkerConfigEntry | None = hass.config_entries.async_get_entry(
            entry_id
        )
        if (
            entry is None
            or entry.domain != DOMAIN
            or entry.state is not ConfigEntryState.LOADED
            or not entry.options.get(CONF_SHARE_TOKEN, DEFAULT_SHARE_TOKEN)
        ):
            return self.json_message("Not found", HTTPStatus.NOT_FOUND)
        return entry


class TokenView(_SharedTokenView):
    """``GET …/token``: a valid access token, refreshed first if needed."""

    url = f"{URL_BASE}/token"
    name = f"api:{DOMAIN}:token"

    async def get(self, request: web.Request, entry_id: str) -> web.Response:
        """Return the access token."""
        entry = self._entry(request, entry_id)
        if isinstance(entry, web.Response):
            return entry
        tokens = entry.runtime_data.tokens
        try:
            access_token = await tokens.async_get_access_token()
        except TOKEN_ERRORS as err:
            return self.json(
                {"status": "error", "message": str(token_error_to_ha(err))},
                HTTPStatus.SERVICE_UNAVAILABLE,
            )
        token = tokens.token
        return self.json(
            {
                "status": "success",
                "access_token": access_token,
                "expires_at": token.expires_at,
                "remaining_minutes": max(int(token.seconds_left() // 60), 0),
            }
        )


class RefreshView(_SharedTokenView):
    """``POST …/refresh``: refresh now, same single flight and rate limit."""

    url = f"{URL_BASE}/refresh"
    name = f"api:{DOMAIN}:refresh"

    async def post(self, request: web.Request, entry_id: str) -> web.Response:
        """Refresh the token; refusals answer 200 with ``success: false``."""
        entry = self._entry(request, entry_id)
        if isinstance(entry, web.Response):
            return entry
        try:
            token = await entry.runtime_data.tokens.async_force_refresh()
        except TOKEN_ERRORS as err:
            return self.json({"success": False, "message": str(token_error_to_ha(err))})
        return self.json(
            {
                "success": True,
                "message": "Token refreshed",
                "expires_at": token.expires_at,
            }
        )


class HealthView(_SharedTokenView):
    """``GET …/health``: token and run status, never the token itself."""

    url = f"{URL_BASE}/health"
    name = f"api:{DOMAIN}:health"

    async def get(self, request: web.Request, entry_id: str) -> web.Response:
        """Report health."""
        entry = self._entry(request, entry_id)
        if isinstance(entry, web.Response):
            return entry
        data = entry.runtime_data
        token = data.tokens.token
        token_valid = token.seconds_left(time.time()) > 0
        healthy = token_valid and data.scout.last_update_success
        body: dict[str, Any] = {
            "status": "ok" if healthy else "degraded",
            "token_valid": token_valid,
            "token_expires_at": token.expires_at,
            "last_scout": data.scout.last_scout,
            "last_worker": data.worker.last_run_at,
        }
        return self.json(body)
