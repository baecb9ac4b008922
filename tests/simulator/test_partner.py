"""Partner accounts: the partner token, registering a domain, pairing by domain.

The public key is downloaded over real HTTP from a loopback server that plays
the application's web site (``KeyHost``); the simulator is told to look there
(``key_origin``) instead of at ``https://<domain>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
from pathlib import Path
import socket
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
import pytest

from simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FleetSimulator,
    ManualClock,
    PartnerError,
    PartnerRegistry,
    classify,
    decode_jwt_payload,
    region_base_url,
)
from simulator.__main__ import build, main, parse_args
from simulator.billing import category_of, is_billable
from simulator.partner import (
    MAX_KEY_BYTES,
    PUBLIC_KEY_PATH,
    check_domain,
    check_key_origin,
    root_domain,
)

from .conftest import VIN, Client, bearer, serve

DOMAIN = "keys.example.com"
TOKEN_URL = "/oauth2/v3/token"
REGISTER_URL = "/api/1/partner_accounts"
PUBLIC_KEY_URL = "/api/1/partner_accounts/public_key"
FLEET_STATUS_URL = "/api/1/vehicles/fleet_status"
AUDIENCE_ERROR = {
    "error": "invalid_audience",
    "error_description": (
        "The 'audience' parameter is invalid. Include valid audience in the request."
    ),
}
CLIENT_ERROR = {
    "error": "invalid_client",
    "error_description": (
        "We don't recognize this client_id and client_secret combination"
    ),
}


def pem_of(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    """The public half as the application hosts it (PEM SubjectPublicKeyInfo)."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def point_of(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 65-byte uncompressed point Tesla answers as hex."""
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def envelope(error: str) -> dict[str, Any]:
    return {"response": None, "error": error, "error_description": ""}


@dataclass
class KeyHost:
    """The application's web site: what it answers at the public key's path."""

    origin: str = ""
    status: int = 200
    body: bytes = b""
    chunked: bool = False
    delay: float = 0.0
    hits: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.chunked:
            return web.Response(
                status=self.status,
                body=self.body,
                content_type="application/x-pem-file",
            )
        response = web.StreamResponse(status=self.status)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(self.body), 1000):
            await response.write(self.body[start : start + 1000])
        await response.write_eof()
        return response


@pytest.fixture
def app_key() -> ec.EllipticCurvePrivateKey:
    return new_key()


@pytest.fixture
async def key_host(
    socket_enabled: None, app_key: ec.EllipticCurvePrivateKey
) -> AsyncIterator[KeyHost]:
    host = KeyHost(body=pem_of(app_key))
    site = web.Application()
    site.router.add_get(PUBLIC_KEY_PATH, host.handle)
    server = TestServer(site, host="127.0.0.1")
    await server.start_server()
    host.origin = f"http://127.0.0.1:{server.port}"
    try:
        yield host
    finally:
        await server.close()


@pytest.fixture
def sim(clock: ManualClock, key_host: KeyHost) -> FleetSimulator:
    """The simulator, downloading partner keys from ``key_host``."""
    return FleetSimulator(clock, key_origin=key_host.origin)


def token_form(**changes: str | None) -> dict[str, str]:
    form: dict[str, str | None] = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "scope": "openid vehicle_device_data vehicle_cmds vehicle_charging_cmds",
        "audience": region_base_url("EU"),
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


async def partner_auth(client: Client) -> dict[str, str]:
    response = await client.post(TOKEN_URL, data=token_form())
    assert response.status == 200
    return bearer(await response.json())


async def register(
    client: Client, headers: dict[str, str], domain: object = DOMAIN
) -> tuple[int, dict[str, Any]]:
    response = await client.post(REGISTER_URL, headers=headers, json={"domain": domain})
    return response.status, await response.json()


def download_error(url: str, reason: str) -> dict[str, Any]:
    return envelope(f"Public key download failed for {url}, error: {reason}")


# --- the partner token -------------------------------------------------------------


async def test_partner_token_answers_like_tesla(
    client: Client, sim: FleetSimulator, clock: ManualClock
) -> None:
    response = await client.post(TOKEN_URL, data=token_form())
    assert response.status == 200
    answer = await response.json()
    assert set(answer) == {"access_token", "expires_in", "token_type"}
    assert (answer["expires_in"], answer["token_type"]) == (28800, "Bearer")
    claims = decode_jwt_payload(answer["access_token"])
    assert claims["azp"] == DEFAULT_CLIENT_ID
    assert claims["aud"] == [region_base_url("EU")]
    assert claims["scp"] == [
        "openid",
        "vehicle_device_data",
        "vehicle_cmds",
        "vehicle_charging_cmds",
    ]
    assert claims["exp"] == int(clock()) + 28800
    grant = sim.tokens.authenticate_partner(answer["access_token"])
    assert grant is not None
    assert grant.client_id == DEFAULT_CLIENT_ID
    # The simulator's own origin is an audience too (a trailing / aside), and
    # the form may come as JSON.
    own = str(client.make_url("/"))
    response = await client.post(TOKEN_URL, json=token_form(audience=own))
    assert response.status == 200
    # The token expires like a user's.
    headers = bearer(answer)
    query = {"domain": DOMAIN}
    response = await client.get(PUBLIC_KEY_URL, headers=headers, params=query)
    assert response.status == 404
    clock.advance(28800)
    response = await client.get(PUBLIC_KEY_URL, headers=headers, params=query)
    assert response.status == 401
    assert await response.read() == b""
    # Token requests are auth, never billed.
    assert sim.stats.requests["auth"] == 2
    assert sim.stats.billable_total == 0


async def test_partner_token_refusals(client: Client, sim: FleetSimulator) -> None:
    cases: list[tuple[dict[str, str | None], int, dict[str, str]]] = [
        ({"client_id": "someone-else"}, 401, CLIENT_ERROR),
        ({"client_secret": "wrong"}, 401, CLIENT_ERROR),
        ({"client_secret": None}, 401, CLIENT_ERROR),
        ({"client_secret": ""}, 401, CLIENT_ERROR),
        ({"client_id": None}, 401, CLIENT_ERROR),
        # The client is checked before the audience.
        (
            {"client_secret": "wrong", "audience": "https://x.example"},
            401,
            CLIENT_ERROR,
        ),
        ({"audience": region_base_url("NA")}, 400, AUDIENCE_ERROR),
        ({"audience": "https://fleet-api.example.com"}, 400, AUDIENCE_ERROR),
        ({"audience": str(client.make_url("/api/1"))}, 400, AUDIENCE_ERROR),
        ({"audience": None}, 400, AUDIENCE_ERROR),
    ]
    for changes, status, body in cases:
        response = await client.post(TOKEN_URL, data=token_form(**changes))
        assert (response.status, await response.json()) == (status, body), changes
    assert sim.tokens._partner == {}


async def test_partner_token_is_no_user_token(
    client: Client, sim: FleetSimulator, auth: dict[str, str]
) -> None:
    partner = await partner_auth(client)
    routes = [
        ("GET", "/api/1/vehicles"),
        ("GET", f"/api/1/vehicles/{VIN}"),
        ("GET", f"/api/1/vehicles/{VIN}/vehicle_data"),
        ("POST", f"/api/1/vehicles/{VIN}/wake_up"),
        ("POST", f"/api/1/vehicles/{VIN}/command/charge_start"),
        ("POST", f"/api/1/vehicles/{VIN}/signed_command"),
        ("POST", FLEET_STATUS_URL),
        ("GET", "/api/1/users/region"),
        ("GET", "/proxy/api/1/vehicles"),
    ]
    for method, path in routes:
        response = await client.request(method, path, headers=partner, json={})
        assert response.status == 401, path
        assert await response.read() == b"", path
    # The same routes answer the user's token.
    response = await client.get("/api/1/vehicles", headers=auth)
    assert response.status == 200
    assert sim.authenticate(partner["Authorization"].split()[1]) is None


async def test_partner_endpoints_want_a_partner_token(
    client: Client, auth: dict[str, str]
) -> None:
    for method, path in [("POST", REGISTER_URL), ("GET", PUBLIC_KEY_URL)]:
        response = await client.request(
            method, path, headers=auth, json={"domain": DOMAIN}
        )
        assert response.status == 403
        assert await response.json() == envelope("Expected partner account")
        for headers in ({}, {"Authorization": "Bearer nonsense"}):
            response = await client.request(method, path, headers=headers)
            assert (response.status, await response.read()) == (401, b"")


# --- registering -------------------------------------------------------------------


async def test_register_downloads_the_key(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    key_host: KeyHost,
    app_key: ec.EllipticCurvePrivateKey,
) -> None:
    partner = await partner_auth(client)
    # Registration touches no vehicle: free, even with the account disabled.
    sim.account_disabled = True
    status, body = await register(client, partner)
    assert status == 200, body
    answer = body["response"]
    now = datetime.fromtimestamp(clock(), UTC).isoformat(timespec="milliseconds")
    assert answer == {
        "account_id": answer["account_id"],
        "domain": DOMAIN,
        "name": answer["name"],
        "description": answer["description"],
        "client_id": DEFAULT_CLIENT_ID,
        "ca": None,
        "created_at": now.replace("+00:00", "Z"),
        "updated_at": now.replace("+00:00", "Z"),
        "enterprise_tier": "free",
        "issuer": None,
        "csr": None,
        "csr_updated_at": None,
        "public_key": point_of(app_key).hex(),
    }
    assert len(answer["account_id"]) == 36
    assert isinstance(answer["name"], str)
    assert isinstance(answer["description"], str)
    assert key_host.hits == [PUBLIC_KEY_PATH]
    response = await client.get(
        PUBLIC_KEY_URL, headers=partner, params={"domain": DOMAIN}
    )
    assert response.status == 200
    assert await response.json() == {
        "response": {"public_key": point_of(app_key).hex()}
    }
    response = await client.get("/sim/partner_accounts")
    assert await response.json() == [
        {
            "account_id": answer["account_id"],
            "client_id": DEFAULT_CLIENT_ID,
            "domain": DOMAIN,
            "public_key": point_of(app_key).hex(),
            "created_at": clock(),
            "updated_at": clock(),
        }
    ]
    kinds = [(r.kind, r.category, r.status) for r in sim.requests]
    assert kinds == [
        ("token", "auth", 200),
        ("partner", "partner", 200),
        ("partner", "partner", 200),
    ]
    assert sim.stats.billable_total == 0
    assert sim.paid_usd_this_month() == 0


async def test_registering_again_replaces_the_key(
    client: Client,
    clock: ManualClock,
    key_host: KeyHost,
    app_key: ec.EllipticCurvePrivateKey,
) -> None:
    partner = await partner_auth(client)
    _status, first = await register(client, partner)
    clock.advance(3600)
    rotated = new_key()
    key_host.body = pem_of(rotated)
    status, second = await register(client, partner)
    assert status == 200
    before, after = first["response"], second["response"]
    assert after["public_key"] == point_of(rotated).hex() != before["public_key"]
    assert after["account_id"] == before["account_id"]
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] > before["updated_at"]
    response = await client.get(
        PUBLIC_KEY_URL, headers=partner, params={"domain": DOMAIN}
    )
    assert (await response.json())["response"]["public_key"] == point_of(rotated).hex()
    # A new domain replaces the application's old one.
    status, third = await register(client, partner, "fleet.example.net")
    assert (status, third["response"]["domain"]) == (200, "fleet.example.net")
    response = await client.get(
        PUBLIC_KEY_URL, headers=partner, params={"domain": DOMAIN}
    )
    assert (response.status, await response.json()) == (404, envelope("not_found"))
    assert len(await (await client.get("/sim/partner_accounts")).json()) == 1


async def test_public_key_lookup_needs_a_domain(client: Client) -> None:
    partner = await partner_auth(client)
    response = await client.get(PUBLIC_KEY_URL, headers=partner)
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_field"
    response = await client.get(
        PUBLIC_KEY_URL, headers=partner, params={"domain": "nobody.example.org"}
    )
    assert (response.status, await response.json()) == (404, envelope("not_found"))


async def test_key_download_failures(
    client: Client, sim: FleetSimulator, key_host: KeyHost
) -> None:
    partner = await partner_auth(client)
    url = key_host.origin + PUBLIC_KEY_PATH
    big = b"-----BEGIN PUBLIC KEY-----\n" + b"A" * MAX_KEY_BYTES + b"\n"
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"status": 404, "body": b"no"}, "404 Not Found"),
        ({"status": 500, "body": b""}, "500 Internal Server Error"),
        ({"body": big}, "too large"),
        ({"body": big, "chunked": True}, "too large"),
        ({"body": b"<html>hello</html>"}, "invalid public key"),
        (
            {"body": b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
            "invalid public key",
        ),
        ({"body": pem_of(p384)}, "invalid public key"),
        ({"body": pem_of(rsa_key)}, "invalid public key"),
    ]
    for changes, reason in cases:
        key_host.status, key_host.chunked = 200, False
        for name, value in changes.items():
            setattr(key_host, name, value)
        status, body = await register(client, partner)
        assert (status, body) == (400, download_error(url, reason)), reason
    assert len(key_host.hits) == len(cases)
    assert sim.partners.accounts == {}


async def test_key_download_timeout(
    client: Client, sim: FleetSimulator, key_host: KeyHost
) -> None:
    partner = await partner_auth(client)
    sim.partners.key_timeout = 0.2
    key_host.delay = 1.0
    status, body = await register(client, partner)
    url = key_host.origin + PUBLIC_KEY_PATH
    assert (status, body) == (400, download_error(url, "timeout"))


async def test_unreachable_key_origin(clock: ManualClock, socket_enabled: None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"
    async with serve(FleetSimulator(clock, key_origin=origin)) as client:
        partner = await partner_auth(client)
        status, body = await register(client, partner)
    assert status == 400
    assert body == download_error(origin + PUBLIC_KEY_PATH, "connection refused")


@pytest.mark.parametrize(
    ("domain", "shown"),
    [
        ("https://www.myDomain.com", "https://www.myDomain.com"),
        ("https://keys.example.com", "https://keys.example.com"),
        ("Keys.Example.com", "Keys.Example.com"),
        ("keys.example.com/path", "keys.example.com/path"),
        ("keys.example.com.", "keys.example.com."),
        ("-keys.example.com", "-keys.example.com"),
        ("keys example.com", "keys example.com"),
        ("keys.example.com:0", "keys.example.com:0"),
        ("keys.example.com:99999", "keys.example.com:99999"),
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
async def test_invalid_domain(
    client: Client, key_host: KeyHost, domain: object, shown: str
) -> None:
    partner = await partner_auth(client)
    status, body = await register(client, partner, domain)
    assert (status, body) == (400, envelope(f"Invalid domain: {shown}"))
    assert key_host.hits == []


async def test_port_only_with_a_key_origin(
    client: Client, clock: ManualClock, socket_enabled: None
) -> None:
    partner = await partner_auth(client)
    status, body = await register(client, partner, "127.0.0.1:8123")
    assert (status, body["response"]["domain"]) == (200, "127.0.0.1:8123")
    # Without a key origin the real rule holds: no port (and no download tried).
    async with serve(FleetSimulator(clock)) as plain:
        partner = await partner_auth(plain)
        status, body = await register(plain, partner, "keys.example.com:443")
    assert (status, body) == (400, envelope("Invalid domain: keys.example.com:443"))


async def test_domain_must_match_an_allowed_origin(
    clock: ManualClock, key_host: KeyHost
) -> None:
    sim = FleetSimulator(
        clock,
        key_origin=key_host.origin,
        allowed_origins=["https://www.example.com", "fleet.example.org:8443"],
    )
    async with serve(sim) as client:
        partner = await partner_auth(client)
        status, body = await register(client, partner, "app.other.net")
        assert (status, body) == (
            412,
            envelope("Root domain app.other.net must match registered allowed origin"),
        )
        assert key_host.hits == []
        for domain in (DOMAIN, "example.org"):
            status, body = await register(client, partner, domain)
            assert (status, body["response"]["domain"]) == (200, domain)


# --- pairing by domain and fleet_status ----------------------------------------------


async def test_pairing_by_domain_and_fleet_status(
    client: Client,
    sim: FleetSimulator,
    auth: dict[str, str],
    app_key: ec.EllipticCurvePrivateKey,
) -> None:
    async def paired_vins() -> tuple[list[str], list[str]]:
        response = await client.post(
            FLEET_STATUS_URL, headers=auth, json={"vins": [VIN]}
        )
        answer = (await response.json())["response"]
        return answer["key_paired_vins"], answer["unpaired_vins"]

    other = point_of(new_key())
    car = sim.vehicles[VIN]
    car.key_paired = False
    # No registration yet: any key on the keychain counts, as before.
    sim.pair_key(VIN, other, "other.example.com")
    assert await paired_vins() == ([VIN], [])
    response = await client.post(f"/sim/vehicles/{VIN}/pair", json={"domain": DOMAIN})
    assert response.status == 400
    error = await response.json()
    assert error["error"] == "invalid_field"
    assert DOMAIN in error["error_description"]
    assert "partner_accounts" in error["error_description"]
    # Registered: only the application's key counts, not another one, nor the
    # proxy's key the simulator never sees.
    status, _body = await register(client, await partner_auth(client))
    assert status == 200
    assert await paired_vins() == ([], [VIN])
    car.key_paired = True
    assert await paired_vins() == ([], [VIN])
    response = await client.post(f"/sim/vehicles/{VIN}/pair", json={"domain": DOMAIN})
    assert response.status == 200
    keys = {entry["public_key"]: entry["domain"] for entry in car_keys(sim)}
    assert keys == {other.hex(): "other.example.com", point_of(app_key).hex(): DOMAIN}
    assert await paired_vins() == ([VIN], [])
    response = await client.post(
        f"/sim/vehicles/{VIN}/unpair", json={"public_key": point_of(app_key).hex()}
    )
    assert (await response.json())["unpaired"] == 1
    assert await paired_vins() == ([], [VIN])
    # The explicit form still works, and bad bodies are refused.
    response = await client.post(
        f"/sim/vehicles/{VIN}/pair",
        json={"public_key": pem_of(app_key).decode(), "domain": DOMAIN},
    )
    assert response.status == 200
    assert await paired_vins() == ([VIN], [])
    for bad in ({"domain": 7}, {"domain": DOMAIN, "role": "owner"}):
        response = await client.post(f"/sim/vehicles/{VIN}/pair", json=bad)
        assert response.status == 400, bad
    # Another application (unregistered) is told what it was told before.
    assert sim.key_paired(car, "another-client") is True
    assert sim.key_paired(car, DEFAULT_CLIENT_ID) is True
    sim.unpair_key(VIN, point_of(app_key))
    assert sim.key_paired(car, DEFAULT_CLIENT_ID) is False
    assert sim.key_paired(car) is True


def car_keys(sim: FleetSimulator) -> list[dict[str, Any]]:
    return [key.as_dict() for key in sim.vehicles[VIN].paired_keys.values()]


# --- the rules without HTTP ----------------------------------------------------------


def test_a_domain_belongs_to_one_application(clock: ManualClock) -> None:
    registry = PartnerRegistry(clock)
    point = point_of(new_key())
    registry.register("app-1", DOMAIN, point)
    with pytest.raises(PartnerError) as err:
        registry.register("app-2", DOMAIN, point)
    assert (err.value.status, err.value.error) == (
        422,
        "Validation failed: Domain has already been taken",
    )
    assert registry.by_domain(DOMAIN) is registry.by_client("app-1")
    assert registry.key_url(DOMAIN) == f"https://{DOMAIN}{PUBLIC_KEY_PATH}"


def test_domain_rules() -> None:
    assert check_domain("a.b.example.com") == "a.b.example.com"
    assert check_domain("localhost:8123", allow_port=True) == "localhost:8123"
    with pytest.raises(PartnerError, match="Invalid domain: localhost:8123"):
        check_domain("localhost:8123")
    assert root_domain("a.b.example.com") == "example.com"
    assert root_domain("example.com:8443") == "example.com"
    assert check_key_origin("http://127.0.0.1:8123/") == "http://127.0.0.1:8123"
    for bad in ("ftp://host", "127.0.0.1:8123", "http://host/keys", "http://h?x=1"):
        with pytest.raises(ValueError, match="key origin"):
            check_key_origin(bad)


def test_partner_requests_are_classified_and_free() -> None:
    for path in (REGISTER_URL, PUBLIC_KEY_URL):
        classified = classify(path)
        assert classified is not None
        assert (classified.kind, classified.vin_ref) == ("partner", None)
    assert category_of("partner") == "partner"
    assert not is_billable("partner", 200)
    assert not is_billable("partner", 400)
    assert is_billable("data", 200)


# --- command line ---------------------------------------------------------------


def test_command_line_options(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("TSW_SIM_KEY_ORIGIN", raising=False)
    args = parse_args([])
    assert (args.client_secret, args.allowed_origins, args.key_origin) == (
        DEFAULT_CLIENT_SECRET,
        None,
        None,
    )
    sim, _app, info = build(args)
    assert sim.partners.allowed_origins is None
    assert sim.partners.key_origin is None
    assert (info["client_secret"], info["key_origin"]) == (DEFAULT_CLIENT_SECRET, None)
    args = parse_args(
        [
            "--client-secret",
            "s3cret",
            "--allowed-origin",
            "https://example.com",
            "--allowed-origin",
            "https://example.org",
            "--key-origin",
            "http://127.0.0.1:8123/",
        ]
    )
    sim, _app, _info = build(args)
    assert sim.tokens.client_secret == "s3cret"
    assert sim.partners.allowed_origins == [
        "https://example.com",
        "https://example.org",
    ]
    assert sim.partners.key_origin == "http://127.0.0.1:8123"
    monkeypatch.setenv("TSW_SIM_KEY_ORIGIN", "http://localhost:9000")
    assert parse_args([]).key_origin == "http://localhost:9000"
    assert parse_args(["--key-origin", "http://h:1"]).key_origin == "http://h:1"
    with pytest.raises(SystemExit):
        parse_args(["--key-origin", "localhost:9000"])

    monkeypatch.setattr(web, "run_app", lambda *_args, **_kwargs: None)
    tokens_file = tmp_path / "tokens.json"
    assert main(["--tokens-file", str(tokens_file)]) == 0
    out = capsys.readouterr().out
    written = json.loads(tokens_file.read_text())
    assert written["client_secret"] == DEFAULT_CLIENT_SECRET
    assert written["key_origin"] == "http://localhost:9000"
    assert f"client_secret: {DEFAULT_CLIENT_SECRET}" in out
    assert "http://localhost:9000" in out
