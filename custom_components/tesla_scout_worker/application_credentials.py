"""Application credentials: sign in with Tesla through Home Assistant's OAuth2 flow.

The user registers an application at developer.tesla.com and enters its client
id and secret once under *Settings → Application credentials*; the config flow
then sends the user to Tesla's login page and receives the code on Home
Assistant's redirect URI.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.application_credentials import (
    AuthImplementation,
    AuthorizationServer,
    ClientCredential,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_entry_oauth2_flow

from .fleet.auth import AUTHORIZE_URL, SCOPES, TOKEN_URL

DEVELOPER_URL = "https://developer.tesla.com"
REDIRECT_URL = "https://my.home-assistant.io/redirect/oauth"

_PKCE = config_entry_oauth2_flow.LocalOAuth2ImplementationWithPkce


class TeslaOAuth2Implementation(AuthImplementation):
    """Tesla's authorization-code flow with the scopes this integration needs.

    Tesla grants scopes one by one on its consent page: ``prompt_missing_scopes``
    asks again for any the user left out last time. The code exchange is
    protected with PKCE; Tesla's token endpoint needs no ``audience`` for it
    (Home Assistant's own ``tesla_fleet`` does not send one either).
    """

    def __init__(
        self, hass: HomeAssistant, auth_domain: str, credential: ClientCredential
    ) -> None:
        """Use Tesla's authorize URL and its (2025) Fleet token endpoint."""
        super().__init__(
            hass,
            auth_domain,
            credential,
            AuthorizationServer(authorize_url=AUTHORIZE_URL, token_url=TOKEN_URL),
        )
        self._code_verifier = _PKCE.generate_code_verifier()

    @property
    def extra_authorize_data(self) -> dict[str, Any]:
        """Ask for every scope, a fresh login and the PKCE challenge."""
        return {
            "scope": " ".join(SCOPES),
            "prompt": "login",
            "prompt_missing_scopes": "true",
            "code_challenge": _PKCE.compute_code_challenge(self._code_verifier),
            "code_challenge_method": "S256",
        }

    @property
    def extra_token_resolve_data(self) -> dict[str, Any]:
        """Prove the code exchange comes from the flow that asked for the code."""
        return {"code_verifier": self._code_verifier}


async def async_get_authorization_server(hass: HomeAssistant) -> AuthorizationServer:
    """Tesla's authorization server."""
    return AuthorizationServer(authorize_url=AUTHORIZE_URL, token_url=TOKEN_URL)


async def async_get_auth_implementation(
    hass: HomeAssistant, auth_domain: str, credential: ClientCredential
) -> config_entry_oauth2_flow.AbstractOAuth2Implementation:
    """Tesla's OAuth2 implementation for one set of application credentials."""
    return TeslaOAuth2Implementation(hass, auth_domain, credential)


async def async_get_description_placeholders(hass: HomeAssistant) -> dict[str, str]:
    """Point the credentials dialog at Tesla's developer portal."""
    return {"developer_url": DEVELOPER_URL, "redirect_url": REDIRECT_URL}
