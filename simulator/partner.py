"""Tesla's partner accounts: an application's domain and the public key found there.

An application (a client id) registers once per region with a partner token:
``POST /api/1/partner_accounts {"domain": ...}``. Fleet API checks the domain,
checks it against the application's allowed origins, downloads the public key
from ``https://<domain>/.well-known/appspecific/com.tesla.3p.public-key.pem``
and keeps it: the key an owner pairs through ``https://tesla.com/_ak/<domain>``,
and the key ``fleet_status`` looks for on a car's keychain. Registering again
replaces the application's domain and key.

The refusals use Tesla's words (``data/SOURCES.md``). What the simulator chose
where Tesla's rule is not public: the download limit (4 KiB), its timeout
(5 s), the "root domain" (the last two labels of the host name) and the short
reasons after ``error:``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
import re
from typing import Any, Final
from urllib.parse import urlsplit
import uuid

import aiohttp
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .vcp_crypto import public_bytes

PUBLIC_KEY_PATH: Final = "/.well-known/appspecific/com.tesla.3p.public-key.pem"
MAX_KEY_BYTES: Final = 4096
"""A downloaded key file longer than this is ``too large``."""
KEY_DOWNLOAD_TIMEOUT: Final = 5.0
"""Seconds the key download may take, connecting included."""
APP_NAME: Final = "Fleet API simulator application"
APP_DESCRIPTION: Final = "The application registered with the Fleet API simulator"

_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT: Final = re.compile(r"[0-9]{1,5}")
_MAX_HOST_LENGTH: Final = 253


class PartnerError(Exception):
    """A registration Fleet API refuses: the status and the envelope's ``error``."""

    def __init__(self, status: int, error: str) -> None:
        """Store the HTTP status and Tesla's error text."""
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error


class KeyDownloadError(Exception):
    """The public key could not be had; ``reason`` is the short text Tesla shows."""

    def __init__(self, reason: str) -> None:
        """Store the reason."""
        super().__init__(reason)
        self.reason = reason


def _iso(epoch: float) -> str:
    """Epoch as Tesla writes times here: ``2023-06-28T00:42:00.000Z``."""
    text = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass(slots=True)
class PartnerAccount:
    """One application's registration: its domain and the key found there."""

    account_id: str
    client_id: str
    domain: str
    public_key: bytes
    """The 65-byte uncompressed P-256 point (``04 || X || Y``)."""
    created_at: float
    updated_at: float
    name: str = APP_NAME
    description: str = APP_DESCRIPTION

    def as_response(self) -> dict[str, Any]:
        """The ``response`` of ``POST /api/1/partner_accounts``."""
        return {
            "account_id": self.account_id,
            "domain": self.domain,
            "name": self.name,
            "description": self.description,
            "client_id": self.client_id,
            "ca": None,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "enterprise_tier": "free",
            "issuer": None,
            "csr": None,
            "csr_updated_at": None,
            "public_key": self.public_key.hex(),
        }

    def as_dict(self) -> dict[str, Any]:
        """What ``GET /sim/partner_accounts`` shows of it."""
        return {
            "account_id": self.account_id,
            "client_id": self.client_id,
            "domain": self.domain,
            "public_key": self.public_key.hex(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def check_domain(domain: object, *, allow_port: bool = False) -> str:
    """The domain if Fleet API takes it, else 400 ``Invalid domain: <domain>``.

    A bare lowercase host name: no scheme, no path, no upper case, no port
    (``allow_port``: an optional ``:port``, for a simulator whose keys come
    from a development origin).
    """
    if isinstance(domain, str):
        host, colon, port = domain.partition(":") if allow_port else (domain, "", "")
        if (
            len(host) <= _MAX_HOST_LENGTH
            and _HOST.fullmatch(host)
            and (not colon or (_PORT.fullmatch(port) and 0 < int(port) < 65536))
        ):
            return domain
    shown = "" if domain is None else domain
    raise PartnerError(400, f"Invalid domain: {shown}")


def root_domain(host: str) -> str:
    """The last two labels of a host name (``a.b.example.com``: ``example.com``).

    Not the public suffix list: ``example.co.uk`` has the root ``co.uk``.
    """
    return ".".join(host.partition(":")[0].split(".")[-2:])


def origin_host(origin: str) -> str:
    """The host of an allowed origin written as a URL or as a bare host."""
    parsed = urlsplit(origin if "://" in origin else f"//{origin}")
    return (parsed.hostname or "").lower()


def check_key_origin(key_origin: str) -> str:
    """``http(s)://host[:port]`` without a path; ValueError otherwise."""
    parsed = urlsplit(key_origin)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ValueError(f"key origin must be http(s)://host[:port]: {key_origin!r}")
    if parsed.path.strip("/") or parsed.query or parsed.fragment:
        raise ValueError(f"key origin must not have a path: {key_origin!r}")
    return f"{parsed.scheme}://{parsed.netloc}"


def parse_public_key_pem(body: bytes) -> bytes:
    """The 65-byte point of a PEM P-256 SubjectPublicKeyInfo, else ``invalid``."""
    try:
        key = serialization.load_pem_public_key(body)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise KeyDownloadError("invalid public key") from err
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise KeyDownloadError("invalid public key")
    return public_bytes(key)


async def download_public_key(
    url: str, *, time_limit: float = KEY_DOWNLOAD_TIMEOUT
) -> bytes:
    """Fetch ``url`` and return the key's 65-byte point; KeyDownloadError if not.

    Reasons: ``<status> <reason>`` (``404 Not Found``), ``too large``,
    ``invalid public key``, ``connection refused``, ``could not resolve host``,
    ``certificate verify failed``, ``connection failed``, ``timeout``.
    """
    body = bytearray()
    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=time_limit)
            ) as session,
            session.get(url) as response,
        ):
            if response.status != 200:
                raise KeyDownloadError(f"{response.status} {response.reason}")
            if (response.content_length or 0) > MAX_KEY_BYTES:
                raise KeyDownloadError("too large")
            async for chunk in response.content.iter_chunked(1024):
                body += chunk
                if len(body) > MAX_KEY_BYTES:
                    raise KeyDownloadError("too large")
    except TimeoutError as err:
        raise KeyDownloadError("timeout") from err
    except aiohttp.ClientConnectorCertificateError as err:
        raise KeyDownloadError("certificate verify failed") from err
    except aiohttp.ClientConnectorDNSError as err:
        raise KeyDownloadError("could not resolve host") from err
    except aiohttp.ClientConnectorError as err:
        refused = isinstance(err.os_error, ConnectionRefusedError)
        reason = "connection refused" if refused else "connection failed"
        raise KeyDownloadError(reason) from err
    except aiohttp.ClientError as err:
        raise KeyDownloadError("connection failed") from err
    return parse_public_key_pem(bytes(body))


class PartnerRegistry:
    """The partner accounts of one region, by application (client id)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        allowed_origins: Iterable[str] | None = None,
        key_origin: str | None = None,
        key_timeout: float = KEY_DOWNLOAD_TIMEOUT,
    ) -> None:
        """Create an empty registry.

        ``allowed_origins``: the application's allowed origins (None: any
        domain may be registered). ``key_origin``: where keys are downloaded
        from instead of ``https://<domain>`` (development and tests).
        """
        self._clock = clock
        self.allowed_origins = (
            None if allowed_origins is None else list(allowed_origins)
        )
        self.key_origin = None if key_origin is None else check_key_origin(key_origin)
        self.key_timeout = key_timeout
        self.accounts: dict[str, PartnerAccount] = {}

    def by_client(self, client_id: str) -> PartnerAccount | None:
        """The application's registration, or None."""
        return self.accounts.get(client_id)

    def by_domain(self, domain: str) -> PartnerAccount | None:
        """The registration of a domain, or None."""
        return next((a for a in self.accounts.values() if a.domain == domain), None)

    def key_url(self, domain: str) -> str:
        """Where Fleet API looks for the domain's public key."""
        origin = self.key_origin or f"https://{domain}"
        return origin + PUBLIC_KEY_PATH

    def check_allowed(self, domain: str) -> None:
        """412 unless the domain's root is the root of an allowed origin."""
        if self.allowed_origins is None:
            return
        root = root_domain(domain)
        if not any(root_domain(origin_host(o)) == root for o in self.allowed_origins):
            raise PartnerError(
                412, f"Root domain {domain} must match registered allowed origin"
            )

    async def enroll(self, client_id: str, domain: object) -> PartnerAccount:
        """``POST /api/1/partner_accounts``: check, download the key, register."""
        name = check_domain(domain, allow_port=self.key_origin is not None)
        self.check_allowed(name)
        url = self.key_url(name)
        try:
            key = await download_public_key(url, time_limit=self.key_timeout)
        except KeyDownloadError as err:
            raise PartnerError(
                400, f"Public key download failed for {url}, error: {err.reason}"
            ) from err
        return self.register(client_id, name, key)

    def register(
        self, client_id: str, domain: str, public_key: bytes
    ) -> PartnerAccount:
        """Keep the application's domain and key (replacing what it had).

        422 ``Validation failed: Domain has already been taken`` when another
        application has the domain.
        """
        holder = self.by_domain(domain)
        if holder is not None and holder.client_id != client_id:
            raise PartnerError(422, "Validation failed: Domain has already been taken")
        now = self._clock()
        account = self.accounts.get(client_id)
        if account is None:
            account = self.accounts[client_id] = PartnerAccount(
                account_id=str(uuid.uuid4()),
                client_id=client_id,
                domain=domain,
                public_key=public_key,
                created_at=now,
                updated_at=now,
            )
        else:
            account.domain, account.public_key = domain, public_key
            account.updated_at = now
        return account
