"""Registering the application's domain: our client against the simulated Tesla.

The simulator fetches the public key from the domain (here a local server that
stands for it), as Tesla does, and refuses what Tesla refuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.tesla_scout_worker.fleet import (
    InvalidClientError,
    RequestCategory,
)
from custom_components.tesla_scout_worker.fleet.keys import (
    new_private_key,
    public_key_pem,
)
from custom_components.tesla_scout_worker.fleet.partner import (
    PUBLIC_KEY_PATH,
    PartnerRegistrationError,
    domain_of,
    register_partner_account,
)
from simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FleetSimulator,
    ManualClock,
    create_app,
)

from .conftest import Ledger

DOMAIN = "home.example.com"
NOON = 1_750_068_000.0


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("home.example.com", "home.example.com"),
        ("https://Home.Example.com/", "home.example.com"),
        ("  home.example.com.  ", "home.example.com"),
        ("https://home.example.com:443", "home.example.com"),
        ("https://home.example.com:8123", None),  # Tesla fetches on 443 only
        ("https://home.example.com/path", None),
        ("ftp://home.example.com", None),
        ("https://user@home.example.com", None),
        ("home example", None),
        ("", None),
    ],
)
def test_domain_of(text: str, domain: str | None) -> None:
    assert domain_of(text) == domain


class KeyHost:
    """The user's domain: serves a public key at Tesla's path."""

    def __init__(self) -> None:
        self.key = new_private_key()
        self.body: str | None = public_key_pem(self.key)

    async def handle(self, request: web.Request) -> web.Response:
        if self.body is None:
            raise web.HTTPNotFound
        return web.Response(text=self.body)


@pytest.fixture
async def key_host(socket_enabled: None) -> AsyncIterator[tuple[KeyHost, str]]:
    host = KeyHost()
    app = web.Application()
    app.router.add_get(PUBLIC_KEY_PATH, host.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield host, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def tesla(
    key_host: tuple[KeyHost, str],
) -> AsyncIterator[tuple[str, FleetSimulator]]:
    sim = FleetSimulator(ManualClock(NOON), key_origin=key_host[1])
    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), sim
    finally:
        await server.close()


async def _register(
    base: str, client_secret: str = DEFAULT_CLIENT_SECRET
) -> tuple[str | None, Ledger]:
    ledger = Ledger()
    async with ClientSession() as session:
        account = await register_partner_account(
            session,
            client_id=DEFAULT_CLIENT_ID,
            client_secret=client_secret,
            api_base_url=base,
            domain=DOMAIN,
            token_url=f"{base}/oauth2/v3/token",
            on_request=ledger,
        )
    assert account.domain == DOMAIN
    return account.public_key, ledger


async def test_the_domain_is_registered_with_the_key_it_serves(
    key_host: tuple[KeyHost, str], tesla: tuple[str, FleetSimulator]
) -> None:
    host, _ = key_host
    base, sim = tesla
    public_key, ledger = await _register(base)
    point = host.key.public_key().public_numbers()
    assert public_key is not None
    assert public_key.startswith("04")
    assert int(public_key[2:66], 16) == point.x
    assert int(public_key[66:], 16) == point.y
    registered = sim.partners.by_domain(DOMAIN)
    assert registered is not None
    assert registered.client_id == DEFAULT_CLIENT_ID
    # A partner token, then the registration: free, counted as sign-in calls.
    assert ledger.calls == [(RequestCategory.AUTH, 200)] * 2


async def test_tesla_refusals_come_back_in_its_words(
    key_host: tuple[KeyHost, str], tesla: tuple[str, FleetSimulator]
) -> None:
    host, _ = key_host
    base, _sim = tesla
    host.body = None
    with pytest.raises(PartnerRegistrationError) as err:
        await _register(base)
    assert err.value.status == 400
    assert err.value.error is not None
    assert err.value.error.startswith("Public key download failed for ")
    assert err.value.error.endswith("error: 404 Not Found")

    with pytest.raises(InvalidClientError):
        await _register(base, client_secret="wrong")
