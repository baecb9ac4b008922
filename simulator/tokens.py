"""Tesla's OAuth token rules, without HTTP.

Refresh tokens are single use and rotate: each refresh returns a new pair, the
token just used stays valid for a grace period (24 h), anything older is
``login_required``. Obtaining a new pair invalidates the previous access token
of that chain. Access tokens are unsigned JWT-shaped strings carrying the
claims clients read (``sub``, ``ou_code``, ``scp``, ``exp``).

The application itself (client id and secret, ``grant_type=client_credentials``)
gets a partner token: no refresh token, no user, good only for the partner
endpoints (``/api/1/partner_accounts``). A partner token is never a user's
access token: :meth:`TokenStore.authenticate` does not know it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
import hmac
import json
import secrets
from typing import Any, Final
import uuid

DEFAULT_CLIENT_ID: Final = "sim-client-id"
DEFAULT_CLIENT_SECRET: Final = "sim-client-secret"  # noqa: S105 - development only
"""The application's client secret of a simulator not told another one."""
DEFAULT_AUTH_CODE: Final = "sim-code"
DEFAULT_SCOPES: Final[tuple[str, ...]] = (
    "openid",
    "offline_access",
    "user_data",
    "vehicle_device_data",
    "vehicle_location",
    "vehicle_cmds",
    "vehicle_charging_cmds",
)
JWT_ISSUER: Final = "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/nts"
INVALID_CLIENT_DESCRIPTION: Final = (
    "We don't recognize this client_id and client_secret combination"
)
INVALID_AUDIENCE_DESCRIPTION: Final = (
    "The 'audience' parameter is invalid. Include valid audience in the request."
)
REGION_BASE_URLS: Final[dict[str, str]] = {
    "NA": "https://fleet-api.prd.na.vn.cloud.tesla.com",
    "EU": "https://fleet-api.prd.eu.vn.cloud.tesla.com",
    "CN": "https://fleet-api.prd.cn.vn.cloud.tesla.cn",
}


def normalize_region(region: str) -> str:
    """Return the region code as Tesla writes it in ``ou_code`` (``EU``, ``NA``)."""
    code = region.strip().upper()
    if code not in REGION_BASE_URLS:
        raise ValueError(f"unknown region {region!r}")
    return code


def region_base_url(region: str) -> str:
    """Return the Fleet API base URL of a region."""
    return REGION_BASE_URLS[normalize_region(region)]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _jwt(claims: dict[str, Any]) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": "fleet-simulator"}
    parts = (
        _b64url(json.dumps(header, separators=(",", ":")).encode()),
        _b64url(json.dumps(claims, separators=(",", ":")).encode()),
        _b64url(secrets.token_bytes(32)),
    )
    return ".".join(parts)


def decode_jwt_payload(token: str) -> dict[str, Any]:
    """Decode the claims of a JWT-shaped token without verifying it."""
    try:
        payload = token.split(".")[1]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (IndexError, ValueError) as err:
        raise ValueError("not a JWT-shaped token") from err
    if not isinstance(claims, dict):
        raise ValueError("JWT payload is not an object")  # noqa: TRY004
    return claims


class TokenError(Exception):
    """A token request Tesla would refuse, with the HTTP answer it would give."""

    def __init__(self, status: int, error: str, description: str | None = None) -> None:
        """Store the status code and the OAuth error body."""
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        """The JSON body of the error answer."""
        body = {"error": self.error}
        if self.description is not None:
            body["error_description"] = self.description
        return body


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a valid access token allows."""

    sub: str
    region: str
    scopes: frozenset[str]
    expires_at: float
    client_id: str = DEFAULT_CLIENT_ID
    """The application the user authorized (the token's ``azp``)."""


@dataclass(frozen=True, slots=True)
class PartnerGrant:
    """What a valid partner token (``client_credentials``) allows."""

    client_id: str
    scopes: frozenset[str]
    audience: str
    expires_at: float


@dataclass(slots=True)
class _Chain:
    """One login: the refresh tokens that descend from one code exchange."""

    scopes: tuple[str, ...]
    region: str
    refresh_token: str
    refresh_issued_at: float
    access_token: str
    grace_token: str | None = None
    grace_until: float = 0.0


class TokenStore:
    """Issues, rotates and checks tokens against an injected clock."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        region: str = "EU",
        sub: str | None = None,
        access_token_lifetime: float = 28800.0,
        refresh_grace: float = 86400.0,
        refresh_token_lifetime: float = 90 * 86400.0,
        default_auth_code: str | None = DEFAULT_AUTH_CODE,
    ) -> None:
        """Create an empty store; ``region`` is the default ``ou_code``."""
        self._clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.region = normalize_region(region)
        self.sub = sub or str(uuid.uuid4())
        self.access_token_lifetime = access_token_lifetime
        self.refresh_grace = refresh_grace
        self.refresh_token_lifetime = refresh_token_lifetime
        self.default_auth_code = default_auth_code
        self._by_refresh: dict[str, _Chain] = {}
        self._by_access: dict[str, tuple[_Chain, AccessGrant]] = {}
        self._codes: dict[str, tuple[tuple[str, ...], str]] = {}
        self._partner: dict[str, PartnerGrant] = {}
        self.on_change: Callable[[], None] | None = None
        """Called after every change of the refresh tokens (to persist them)."""

    def snapshot(self) -> dict[str, Any]:
        """The account and its refresh tokens as JSON (no access tokens).

        Restored with :meth:`restore`, a simulator restart keeps every login:
        an access token from before is refused (401), its refresh token works.
        """
        chains = {id(c): c for c in self._by_refresh.values()}.values()
        return {
            "sub": self.sub,
            "chains": [
                {
                    "scopes": list(c.scopes),
                    "region": c.region,
                    "refresh_token": c.refresh_token,
                    "refresh_issued_at": c.refresh_issued_at,
                    "grace_token": c.grace_token,
                    "grace_until": c.grace_until,
                }
                for c in chains
            ],
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take back a :meth:`snapshot`: the same account, its refresh tokens."""
        self.sub = str(snapshot["sub"])
        for saved in snapshot["chains"]:
            chain = _Chain(
                scopes=tuple(saved["scopes"]),
                region=normalize_region(saved["region"]),
                refresh_token=saved["refresh_token"],
                refresh_issued_at=float(saved["refresh_issued_at"]),
                access_token="",
                grace_token=saved.get("grace_token"),
                grace_until=float(saved.get("grace_until") or 0.0),
            )
            self._by_refresh[chain.refresh_token] = chain
            if chain.grace_token:
                self._by_refresh[chain.grace_token] = chain

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def issue(
        self, scopes: Iterable[str] | None = None, region: str | None = None
    ) -> dict[str, Any]:
        """Start a new login chain and return its token answer."""
        scope_tuple = tuple(DEFAULT_SCOPES if scopes is None else scopes)
        code = normalize_region(region) if region else self.region
        now = self._clock()
        refresh = self._new_refresh_token(code)
        access, _grant = self._new_access_token(scope_tuple, code, now)
        chain = _Chain(
            scopes=scope_tuple,
            region=code,
            refresh_token=refresh,
            refresh_issued_at=now,
            access_token=access,
        )
        self._by_refresh[refresh] = chain
        self._by_access[access] = (chain, _grant)
        self._changed()
        return self._answer(chain)

    def create_auth_code(
        self, scopes: Iterable[str] | None = None, region: str | None = None
    ) -> str:
        """Register a single-use authorization code."""
        code = secrets.token_urlsafe(16)
        self._codes[code] = (
            tuple(DEFAULT_SCOPES if scopes is None else scopes),
            normalize_region(region) if region else self.region,
        )
        return code

    def exchange_code(self, client_id: str, code: str) -> dict[str, Any]:
        """Answer ``grant_type=authorization_code``."""
        self._check_client(client_id)
        if code in self._codes:
            scopes, region = self._codes.pop(code)
            return self.issue(scopes, region)
        if self.default_auth_code is not None and code == self.default_auth_code:
            return self.issue()
        raise TokenError(400, "invalid_grant", "The authorization code is invalid")

    def refresh(self, client_id: str, refresh_token: str) -> dict[str, Any]:
        """Answer ``grant_type=refresh_token``: rotate the chain."""
        self._check_client(client_id)
        now = self._clock()
        chain = self._by_refresh.get(refresh_token)
        if chain is None:
            raise TokenError(401, "login_required", "Login required")
        if refresh_token == chain.refresh_token:
            if now >= chain.refresh_issued_at + self.refresh_token_lifetime:
                raise TokenError(401, "login_required", "Login required")
            chain.grace_token = refresh_token
            chain.grace_until = now + self.refresh_grace
        elif refresh_token != chain.grace_token or now >= chain.grace_until:
            raise TokenError(401, "login_required", "Login required")
        self._by_access.pop(chain.access_token, None)
        if chain.refresh_token != refresh_token:
            self._by_refresh.pop(chain.refresh_token, None)
        chain.refresh_token = self._new_refresh_token(chain.region)
        chain.refresh_issued_at = now
        access, grant = self._new_access_token(chain.scopes, chain.region, now)
        chain.access_token = access
        self._by_refresh[chain.refresh_token] = chain
        self._by_access[access] = (chain, grant)
        self._changed()
        return self._answer(chain)

    def authenticate(self, access_token: str) -> AccessGrant | None:
        """Return the grant of a current, unexpired access token, else None."""
        entry = self._by_access.get(access_token)
        if entry is None:
            return None
        chain, grant = entry
        if chain.access_token != access_token or self._clock() >= grant.expires_at:
            return None
        return grant

    def partner_token(
        self,
        client_id: str | None,
        client_secret: str | None,
        scope: str | None,
        audience: str | None,
        audiences: Collection[str],
    ) -> dict[str, Any]:
        """Answer ``grant_type=client_credentials``: the application's partner token.

        401 ``invalid_client`` unless both the client id and the secret are
        this application's; then 400 ``invalid_audience`` unless ``audience``
        is one of ``audiences`` (a trailing ``/`` aside). ``scope`` is
        space-separated, as Tesla takes it.
        """
        if (
            not client_id
            or not client_secret
            or client_id != self.client_id
            or not hmac.compare_digest(
                client_secret.encode(), self.client_secret.encode()
            )
        ):
            raise TokenError(401, "invalid_client", INVALID_CLIENT_DESCRIPTION)
        accepted = {a.rstrip("/") for a in audiences}
        if not audience or audience.rstrip("/") not in accepted:
            raise TokenError(400, "invalid_audience", INVALID_AUDIENCE_DESCRIPTION)
        now = self._clock()
        scopes = tuple(scope.split()) if scope else ()
        exp = now + self.access_token_lifetime
        token = _jwt(
            {
                "iss": JWT_ISSUER,
                "azp": client_id,
                "sub": client_id,
                "aud": [audience],
                "scp": list(scopes),
                "exp": int(exp),
                "iat": int(now),
                "jti": str(uuid.uuid4()),
            }
        )
        self._partner[token] = PartnerGrant(
            client_id=client_id,
            scopes=frozenset(scopes),
            audience=audience,
            expires_at=exp,
        )
        return {
            "access_token": token,
            "expires_in": int(self.access_token_lifetime),
            "token_type": "Bearer",
        }

    def authenticate_partner(self, token: str) -> PartnerGrant | None:
        """Return the grant of a current, unexpired partner token, else None."""
        grant = self._partner.get(token)
        if grant is None or self._clock() >= grant.expires_at:
            return None
        return grant

    def revoke_all(self) -> None:
        """Invalidate every token, like a password reset."""
        self._by_refresh.clear()
        self._by_access.clear()
        self._partner.clear()
        self._changed()

    def _check_client(self, client_id: str) -> None:
        if client_id != self.client_id:
            raise TokenError(401, "invalid_client", "Unknown client_id")

    @staticmethod
    def _new_refresh_token(region: str) -> str:
        return f"{region}_{secrets.token_hex(32)}"

    def _new_access_token(
        self, scopes: tuple[str, ...], region: str, now: float
    ) -> tuple[str, AccessGrant]:
        iat = int(now)
        exp = now + self.access_token_lifetime
        claims = {
            "iss": JWT_ISSUER,
            "azp": self.client_id,
            "sub": self.sub,
            "aud": [
                region_base_url(region),
                "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/clientinfo",
            ],
            "scp": list(scopes),
            "amr": ["pwd", "mfa", "otp"],
            "exp": int(exp),
            "iat": iat,
            "ou_code": region,
            "locale": "en-US",
            "account_type": "person",
            "open_source": False,
            "jti": str(uuid.uuid4()),
        }
        grant = AccessGrant(
            sub=self.sub,
            region=region,
            scopes=frozenset(scopes),
            expires_at=exp,
            client_id=self.client_id,
        )
        return _jwt(claims), grant

    def _answer(self, chain: _Chain) -> dict[str, Any]:
        now = int(self._clock())
        id_token = _jwt(
            {
                "iss": "https://auth.tesla.com/oauth2/v3",
                "aud": self.client_id,
                "sub": self.sub,
                "iat": now,
                "exp": now + int(self.access_token_lifetime),
            }
        )
        return {
            "access_token": chain.access_token,
            "refresh_token": chain.refresh_token,
            "id_token": id_token,
            "expires_in": int(self.access_token_lifetime),
            "token_type": "Bearer",
        }
