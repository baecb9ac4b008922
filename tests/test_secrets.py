"""Secrets stay out of what the user can see and share (SPEC: Privacy).

Logs never contain tokens, client secrets, VINs or exact coordinates;
diagnostics redact them. One scenario drives everything that logs or surfaces
text — setup, scout cycles, a token that expires and is refreshed, a 401 on a
Fleet call, worker runs by the action and on arrival, faults (408, 429 with
Retry-After, 500, a connection error, HTML bodies), the ``refresh_token``
action, the token-sharing views, the diagnostics download, repairs and
notifications — with DEBUG logging everywhere, then scans it all.

What the rule means here:

* **Tokens and secrets**: no access token (nor its claims or signature part),
  refresh token or client secret, of the entry or issued by any refresh, in any
  log record, bus event, exception raised to a caller, repair, notification,
  entity state or the diagnostics. The token view hands out the access token:
  that is its purpose, so only its body is exempt.
* **VINs**: a vehicle is named by its display name or its last four VIN
  characters (``vin_tail``); the full VIN, or the VIN without those four, never
  appears. The one exception is the documented ``vin`` field of this
  integration's bus events (README, *Events*): automations filter on it.
* **Exact coordinates**: the integration logs no coordinates at all, only
  states and transitions (``domain/tracker.py``). So no home or car coordinate
  appears at full precision or rounded or cut to 4 or more decimals (4 decimals
  is about 11 m). The device tracker's ``latitude``/``longitude`` attributes
  are the product and are exempt from the entity scan only; logs, events and
  diagnostics have no such exemption.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
import json
import logging
import time
import traceback
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import (
    hassio,  # noqa: F401 - imported before the clock is frozen (diagnostics need it)
    persistent_notification,
)
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.tesla_scout_worker.const import (
    CONF_API_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_HOME_LATITUDE,
    CONF_HOME_LONGITUDE,
    CONF_HOME_RADIUS,
    CONF_SHARE_TOKEN,
    CONF_TOKEN,
    CONF_TOKEN_URL,
    CONF_VINS,
    DOMAIN,
)
from custom_components.tesla_scout_worker.fleet.errors import (
    CommandProtocolRequiredError,
    InvalidRequestError,
    ServerError,
    TeslaFleetError,
    TokenExpiredError,
    WrongRegionError,
    redact,
)
from custom_components.tesla_scout_worker.fleet.keys import private_key_pem
from custom_components.tesla_scout_worker.fleet.transport import raise_for_status

from . import async_store_settings, make_jwt
from .conftest import ACCOUNT_SUB, API_BASE_URL, SCOPES, TOKEN_URL
from .fake_fleet import FakeCar, FakeFleet

PACKAGE = "custom_components.tesla_scout_worker"
HARNESS = "pytest_homeassistant_custom_component"

VIN_A = "LRW3E7FS0TEST4217"  # VIN-shaped, not a real car
VIN_B = "5YJ3E1EB0TEST1946"
CLIENT_ID = "ta-client-7f3e9a0c"
CLIENT_SECRET = "fake-client-secret-for-tests-0001"  # no real secret
FIRST_REFRESH_TOKEN = "EU_fake-refresh-token-for-tests-0001"
HOME_LATITUDE = 52.229676543210
HOME_LONGITUDE = 21.012229876543
WORK = (52.300123456789, 21.100987654321)
"""Where car A is driving at first, about 9 km from home."""
ARRIVED = (52.229712345678, 21.012287654321)
"""Where car A parks: 5 m from the home point."""
PARKED_B = (52.229655554444, 21.012211112222)
"""Where car B sleeps, in the garage."""
COORDINATES = (HOME_LATITUDE, HOME_LONGITUDE, *WORK, *ARRIVED, *PARKED_B)
VINS = (VIN_A, VIN_B)
REDACTED_ENTITY_ATTRIBUTES = frozenset({"latitude", "longitude", "gps_accuracy"})


def tesla_access_token(number: int) -> str:
    """A JWT like Tesla's with a claims part and a signature unique to ``number``."""
    now = int(time.time())
    header_and_claims = make_jwt(
        {
            "iss": "https://fleet-auth.tesla.com/oauth2/v3/nts",
            "sub": ACCOUNT_SUB,
            "aud": [API_BASE_URL],
            "ou_code": "EU",
            "scp": SCOPES,
            "iat": now,
            "exp": now + 28800,
            "jti": f"jti-{number}-5b1e0c7d",
        }
    ).rsplit(".", 1)[0]
    return f"{header_and_claims}.SiG{number}x9Kq2Lm8Np4Rs6Tv0Wx3Yz"


def coordinate_needles(value: float) -> set[str]:
    """``value`` as it would be written at full precision, rounded or cut to ≥ 4 dp."""
    text = repr(value)
    whole, decimals = text.split(".")
    needles = {text}
    for places in range(4, len(decimals) + 1):
        needles.add(f"{value:.{places}f}")
        needles.add(f"{whole}.{decimals[:places]}")
    return needles


def secret_token_needles(token: str) -> set[str]:
    """An access token, and its claims and signature parts (a JWT's header is
    the same for every token, so it names nothing)."""
    parts = token.split(".")
    return {token, *parts[1:]}


class TokenEndpoint:
    """Tesla's token endpoint: rotates on every call, or answers a scripted fault."""

    def __init__(self, aioclient_mock: AiohttpClientMocker) -> None:
        self.issued_access: list[str] = []
        self.issued_refresh: list[str] = []
        self.faults: list[tuple[int, Any]] = []
        self.calls = 0
        aioclient_mock.post(TOKEN_URL, side_effect=self._answer)

    async def _answer(
        self, method: str, url: URL, data: Any
    ) -> AiohttpClientMockResponse:
        self.calls += 1
        if self.faults:
            status, body = self.faults.pop(0)
            if isinstance(body, str):
                return AiohttpClientMockResponse(method, url, status=status, text=body)
            return AiohttpClientMockResponse(method, url, status=status, json=body)
        number = len(self.issued_access) + 1
        access = tesla_access_token(number)
        refresh = f"EU_{number:02d}c0ffee{number:02d}deadbeef5ca1ab1e-rt-rotated"
        self.issued_access.append(access)
        self.issued_refresh.append(refresh)
        return AiohttpClientMockResponse(
            method,
            url,
            json={
                "access_token": access,
                "refresh_token": refresh,
                "id_token": f"{access}.id",
                "expires_in": 28800,
                "token_type": "Bearer",
            },
        )


class FlakyFleet(FakeFleet):
    """The fake Fleet API, which can also fail to answer at all."""

    connection_errors: list[str]

    def fail_connection_next(self, kind: str) -> None:
        """The next request of ``kind`` gets no answer (the error names its URL)."""
        self.connection_errors.append(kind)

    async def _answer(
        self, method: str, url: URL, data: Any
    ) -> AiohttpClientMockResponse:
        kind = "list" if url.path.rstrip("/").endswith("/vehicles") else "other"
        if kind in self.connection_errors:
            self.connection_errors.remove(kind)
            # aiohttp's errors can name the URL, and the URL names the VIN.
            msg = f"Cannot connect to {url} (vin {VIN_A})"
            raise aiohttp.ClientConnectionError(msg)
        return await super()._answer(method, url, data)


def exception_texts(err: BaseException) -> list[str]:
    """The message of ``err``, its translation placeholders (the message a user
    reads is built from them) and its full formatted chain (a log with exc_info)."""
    return [
        str(err),
        repr(err),
        repr(getattr(err, "translation_placeholders", None)),
        "".join(traceback.format_exception(err)),
    ]


def leaks(text: str, needles: Iterable[str]) -> list[str]:
    return sorted(needle for needle in needles if needle in text)


def scan(where: str, text: str, needles: Iterable[str]) -> list[str]:
    """One finding per needle found in ``text``, saying where."""
    return [f"{where}: {needle!r} in {text[:400]!r}" for needle in leaks(text, needles)]


def record_texts(record: logging.LogRecord) -> Iterator[str]:
    yield record.getMessage()
    yield str(record.msg)
    yield repr(record.args)
    if record.exc_info and record.exc_info[1] is not None:
        yield "".join(traceback.format_exception(record.exc_info[1]))
    if record.exc_text:
        yield record.exc_text
    if record.stack_info:
        yield record.stack_info


def is_bus_echo(record: logging.LogRecord) -> bool:
    """Home Assistant's own DEBUG echo of every bus event and state.

    It repeats the events and entity states scanned below (with the VIN in the
    events' ``vin`` field and the tracker's position), in Home Assistant's
    logger, not ours.
    """
    return record.name == "homeassistant.core" and str(record.msg).startswith(
        "Bus:Handling"
    )


def without_vin_field(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event's data without the documented ``vin`` field (checked apart)."""
    return {key: value for key, value in event.items() if key != "vin"}


@pytest.fixture(autouse=True)
async def warsaw(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """17:00 on a Wednesday in Warsaw."""
    await hass.config.async_set_time_zone("Europe/Warsaw")
    freezer.move_to("2026-12-02 17:00:00+01:00")


@pytest.fixture
def secret_entry() -> MockConfigEntry:
    """An entry with a client secret, two cars and a home given to 12 decimals.

    Its access token expires in 400 s: valid at setup, refreshed by the first
    scout cycle after that.
    """
    return MockConfigEntry(
        domain=DOMAIN,
        title="Test",
        unique_id=ACCOUNT_SUB,
        version=1,
        minor_version=1,
        data={
            CONF_TOKEN: {
                "access_token": tesla_access_token(0),
                "refresh_token": FIRST_REFRESH_TOKEN,
                "expires_in": 28800,
                "expires_at": time.time() + 400,
                "token_type": "Bearer",
            },
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_CLIENT_SECRET: CLIENT_SECRET,
            CONF_API_BASE_URL: API_BASE_URL,
            CONF_TOKEN_URL: TOKEN_URL,
            CONF_VINS: list(VINS),
        },
        options={
            CONF_HOME_LATITUDE: HOME_LATITUDE,
            CONF_HOME_LONGITUDE: HOME_LONGITUDE,
            CONF_HOME_RADIUS: 100.0,
            CONF_SHARE_TOKEN: True,
        },
    )


@pytest.fixture
def flaky_fleet(aioclient_mock: AiohttpClientMocker) -> FlakyFleet:
    """Car A drives at work; car B is online in the garage, its key not paired."""
    fake = FlakyFleet(API_BASE_URL)
    fake.connection_errors = []
    fake.add(
        FakeCar(
            vin=VIN_A,
            display_name="Test",
            state="online",
            latitude=WORK[0],
            longitude=WORK[1],
            shift_state="D",
            speed=50.0,
            battery_level=40,
        )
    )
    fake.add(
        FakeCar(
            vin=VIN_B,
            display_name="Second",
            state="online",
            latitude=PARKED_B[0],
            longitude=PARKED_B[1],
        )
    )
    fake.unpaired.add(VIN_B)
    fake.install(aioclient_mock)
    return fake


def fresh_client(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, user: MockUser
) -> ClientSessionGenerator:
    """``hass_client`` with an access token made now (the frozen clock moved on)."""

    async def client() -> TestClient[Any, Any]:
        refresh_token = next(iter(user.refresh_tokens.values()))
        made: TestClient[Any, Any] = await hass_client(
            hass.auth.async_create_access_token(refresh_token)
        )
        return made

    return client


@dataclass
class Scenario:
    """One account through a day of use; keeps what it made visible."""

    hass: HomeAssistant
    entry: MockConfigEntry
    fleet: FlakyFleet
    tokens: TokenEndpoint
    freezer: FrozenDateTimeFactory
    session: ClientSessionGenerator
    exceptions: list[BaseException] = field(default_factory=list)
    http_bodies: list[Any] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: Any = None

    @property
    def entry_data(self) -> dict[str, Any]:
        return {"config_entry_id": self.entry.entry_id}

    async def cycle(self, minutes: float = 21) -> None:
        """Let the scout's next cycle run."""
        self.freezer.tick(timedelta(minutes=minutes))
        async_fire_time_changed(self.hass)
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def while_time_passes(self, call: Coroutine[Any, Any, Any]) -> None:
        """Await ``call`` while the clock moves (a woken car is polled every 10 s)."""

        async def time_passes() -> None:
            for _ in range(100):
                self.freezer.tick(timedelta(seconds=5))
                await asyncio.sleep(0)

        await asyncio.gather(time_passes(), call)
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def fails(self, call: Coroutine[Any, Any, Any]) -> None:
        """Await ``call``, which must raise; keep the error to scan it."""
        with pytest.raises(Exception) as err:  # noqa: PT011 - any error is scanned
            await call
        self.exceptions.append(err.value)

    def action(self, service: str, **data: Any) -> Coroutine[Any, Any, Any]:
        return self.hass.services.async_call(
            DOMAIN, service, {**self.entry_data, **data}, blocking=True
        )

    async def set_up(self) -> None:
        """Both cars read; car B's key is found not paired (a repair)."""

        @callback
        def notified(_: Any, notifications: Mapping[str, Any]) -> None:
            self.notifications.extend(dict(n) for n in notifications.values())

        persistent_notification.async_register_callback(self.hass, notified)
        # Before any HTTP client starts: its router is frozen then.
        assert await async_setup_component(self.hass, "diagnostics", {})
        # Smart charging on for car A ("Test") only.
        await async_store_settings(self.hass, self.entry.entry_id, [VIN_A])
        self.entry.add_to_hass(self.hass)
        assert await self.hass.config_entries.async_setup(self.entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        assert self.tokens.calls == 0

    async def scout_cycles(self) -> None:
        """Arrival, an expired token, a 401 and faults of the scout's requests."""
        fleet, car_a = self.fleet, self.fleet.cars[VIN_A]
        # The token has expired: refreshed first. Car A arrives home, which
        # runs the worker (a schedule written at the home position).
        fleet.cars[VIN_B].state = "asleep"
        car_a.latitude, car_a.longitude = ARRIVED
        car_a.shift_state, car_a.speed = None, None
        await self.cycle()
        assert len(self.tokens.issued_access) == 1
        assert fleet.count("add_charge_schedule") == 1

        # Faults of the cheap vehicle list, one per cycle.
        fleet.fail_next("list", 401, {"error": "token expired (401)"})
        await self.cycle()
        assert len(self.tokens.issued_access) == 2  # refreshed, then retried
        fleet.fail_next("list", 429, {"error": "slow down"}, {"Retry-After": "120"})
        await self.cycle()
        fleet.fail_next("list", 500, {"error": f"internal error for {VIN_A}"})
        await self.cycle()
        fleet.fail_connection_next("list")
        await self.cycle()
        fleet.fail_next(
            "list",
            502,
            f"<html><body>Bad gateway: GET /api/1/vehicles/{VIN_A}/vehicle_data "
            f"at {ARRIVED[0]},{ARRIVED[1]}</body></html>",
        )
        await self.cycle()
        await self.cycle()  # Tesla is back

        # Faults of live data while car A is driving again.
        car_a.state, car_a.shift_state, car_a.speed = "online", "D", 30.0
        await self.cycle()
        fleet.fail_next("data", 408, {"error": "vehicle unavailable"}, vin=VIN_A)
        await self.cycle(minutes=5)
        car_a.shift_state, car_a.speed = None, None
        await self.cycle()
        fleet.fail_next("data", 500, "<html>Internal Server Error</html>", vin=VIN_A)
        await self.cycle()
        await self.cycle()
        assert not fleet.faults

    async def worker_runs(self) -> None:
        """Runs by the action; car A asleep must be woken, then wants signed
        commands (a repair); a user command fails with an HTML page."""
        fleet, hass = self.fleet, self.hass
        await self.while_time_passes(self.action("run_worker", force=True))
        await hass.services.async_call(
            "time",
            "set_value",
            {ATTR_ENTITY_ID: "time.test_departure_time", "time": "23:00:00"},
            blocking=True,
        )
        fleet.cars[VIN_A].state, fleet.cars[VIN_A].wakes_after = "asleep", 2
        fleet.fail_next(
            "charge_start",
            403,
            {"error": f"Tesla Vehicle Command Protocol required for {VIN_A}"},
        )
        await self.while_time_passes(self.action("run_worker", vin=VIN_A, force=True))
        assert fleet.count("wake", VIN_A) == 1
        fleet.fail_next("charge_start", 500, f"<html>{VIN_A} failed</html>")
        await self.fails(
            hass.services.async_call(
                "switch",
                "turn_on",
                {ATTR_ENTITY_ID: "switch.test_charging"},
                blocking=True,
            )
        )
        await self.fails(self.action("run_worker", vin=f"{VIN_A[:-4]}0000"))
        assert not fleet.faults

    async def token_actions(self) -> None:
        """A refresh, a refusal inside the minute, a failure whose HTML page
        echoes the form sent."""
        self.freezer.tick(61)
        await self.action("refresh_token")
        await self.fails(self.action("refresh_token"))
        self.freezer.tick(61)
        refresh_token = self.entry.data[CONF_TOKEN]["refresh_token"]
        self.tokens.faults.append(
            (
                503,
                f"<html>Unavailable: refresh_token={refresh_token}"
                f"&client_secret={CLIENT_SECRET}</html>",
            )
        )
        await self.fails(self.action("refresh_token"))

    async def views_and_diagnostics(self) -> None:
        """The token-sharing views, then the diagnostics download."""
        client = await self.session()
        base = f"/api/{DOMAIN}/{self.entry.entry_id}"
        self.freezer.tick(61)
        for method, path in (
            ("POST", "refresh"),
            ("POST", "refresh"),  # inside the minute: refused
            ("GET", "health"),
        ):
            response = await client.request(method, f"{base}/{path}")
            assert response.status == HTTPStatus.OK
            self.http_bodies.append(await response.json())
        response = await client.get(f"{base}/token")
        shared = await response.json()
        # The token view's purpose is the token: only its other fields are scanned.
        assert shared["access_token"] == self.entry.data[CONF_TOKEN]["access_token"]
        del shared["access_token"]
        self.http_bodies.append(shared)
        self.diagnostics = await get_diagnostics_for_config_entry(
            self.hass, self.session, self.entry
        )

    async def login_lost(self) -> None:
        """Tesla no longer accepts the refresh token: reauthentication."""
        self.freezer.tick(61)
        self.tokens.faults.append(
            (401, {"error": "login_required", "error_description": "Login required"})
        )
        await self.fails(self.action("refresh_token"))
        await self.hass.async_block_till_done(wait_background_tasks=True)
        assert list(self.entry.async_get_active_flows(self.hass, {SOURCE_REAUTH}))


def needles(tokens: TokenEndpoint) -> set[str]:
    """The secrets, VINs and coordinates to look for."""
    opaque = {CLIENT_SECRET, FIRST_REFRESH_TOKEN, *tokens.issued_refresh}
    # Whole, or the first half of one (an excerpt cut at a length limit).
    secrets = opaque | {secret[: len(secret) // 2] for secret in opaque}
    for token in (tesla_access_token(0), *tokens.issued_access):
        secrets |= secret_token_needles(token)
    vins = {text for vin in VINS for text in (vin, vin[:-4])}
    coordinates = {n for value in COORDINATES for n in coordinate_needles(value)}
    return secrets | vins | coordinates


def scan_logs(records: list[logging.LogRecord], everything: set[str]) -> list[str]:
    """Every log record, from any logger, at any level."""
    findings: list[str] = []
    for record in records:
        if record.name.startswith(HARNESS) or is_bus_echo(record):
            continue
        for text in record_texts(record):
            findings += scan(f"log {record.name}:{record.levelname}", text, everything)
    return findings


def scan_events(events: list[dict[str, Any]], everything: set[str]) -> list[str]:
    """Every event of this integration: a VIN only in its documented field."""
    findings: list[str] = []
    for event in events:
        text = json.dumps(without_vin_field(event), default=str)
        findings += scan(f"event {event['type']}", text, everything)
        if "vin" in event:
            assert event["vin"] in VINS
    return findings


def scan_surfaced(scenario: Scenario, everything: set[str]) -> list[str]:
    """Errors raised to callers, HTTP answers, diagnostics, repairs, flows."""
    hass = scenario.hass
    findings: list[str] = []
    for err in scenario.exceptions:
        for text in exception_texts(err):
            findings += scan(f"exception {type(err).__name__}", text, everything)
    for body in scenario.http_bodies:
        findings += scan("http", json.dumps(body), everything)
    findings += scan(
        "diagnostics",
        json.dumps(scenario.diagnostics),
        everything | {CLIENT_ID, ACCOUNT_SUB},
    )
    for issue in ir.async_get(hass).issues.values():
        if issue.domain == DOMAIN:
            text = f"{issue.to_json()} {issue.translation_placeholders}"
            findings += scan(f"repair {issue.issue_id}", text, everything)
    # (Reauthentication shows as a flow, not a notification, in current releases.)
    for notification in scenario.notifications:
        text = json.dumps(notification, default=str)
        findings += scan("notification", text, everything)
    for flow in hass.config_entries.flow.async_progress():
        findings += scan("flow", json.dumps(flow, default=str), everything)
    return findings


def scan_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    entry_id: str,
    everything: set[str],
) -> tuple[int, list[str]]:
    """Every entity's state and attributes, but the tracker's position itself."""
    findings: list[str] = []
    entries = er.async_entries_for_config_entry(entity_registry, entry_id)
    for entry in entries:
        state = hass.states.get(entry.entity_id)
        assert state is not None
        attributes = {
            key: value
            for key, value in state.attributes.items()
            if not (
                entry.domain == "device_tracker" and key in REDACTED_ENTITY_ATTRIBUTES
            )
        }
        text = json.dumps({"state": state.state, **attributes}, default=str)
        findings += scan(f"entity {entry.entity_id}", text, everything)
    return len(entries), findings


async def test_a_full_scenario_shows_no_secret_vin_or_exact_coordinate(
    hass: HomeAssistant,
    secret_entry: MockConfigEntry,
    flaky_fleet: FlakyFleet,
    aioclient_mock: AiohttpClientMocker,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    entity_registry: er.EntityRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=PACKAGE)
    scenario = Scenario(
        hass=hass,
        entry=secret_entry,
        fleet=flaky_fleet,
        tokens=TokenEndpoint(aioclient_mock),
        freezer=freezer,
        # A login made when asked: hours pass before the views are used.
        session=fresh_client(hass, hass_client, hass_admin_user),
    )
    await scenario.set_up()
    await scenario.scout_cycles()
    await scenario.worker_runs()
    await scenario.token_actions()
    await scenario.views_and_diagnostics()
    await scenario.login_lost()

    # The scenario reached what it is meant to scan.
    assert len(scenario.tokens.issued_access) == 4
    assert {e["type"] for e in events} >= {
        "token_refreshed",
        "arrived_home",
        "state_changed",
        "worker_finished",
    }
    assert len(scenario.exceptions) == 5
    assert {
        issue.translation_key
        for issue in ir.async_get(hass).issues.values()
        if issue.domain == DOMAIN
    } == {"key_not_paired", "command_protocol_required"}
    ours = [r for r in caplog.records if r.name.startswith(PACKAGE)]
    assert {r.levelname for r in ours} >= {"DEBUG", "INFO", "WARNING"}

    everything = needles(scenario.tokens)
    # The private key for signed commands: the first line of its PEM body holds
    # the private number (the rest is the public point, shown on purpose).
    key = secret_entry.runtime_data.client.signing_key
    assert key is not None
    everything.add(private_key_pem(key).splitlines()[1])
    entities, entity_findings = scan_entities(
        hass, entity_registry, secret_entry.entry_id, everything
    )
    findings = [
        *scan_logs(caplog.records, everything),
        *scan_events(events, everything),
        *scan_surfaced(scenario, everything),
        *entity_findings,
    ]
    assert findings == [], "\n".join(findings)
    print(  # noqa: T201 - what was scanned, for the record
        f"scanned {len(caplog.records)} log records ({len(ours)} of ours), "
        f"{len(events)} events, {len(scenario.exceptions)} errors, "
        f"{len(scenario.http_bodies)} HTTP answers, {entities} entities, "
        f"{len(scenario.notifications)} notifications, for {len(everything)} needles"
    )


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (500, f"<html>GET /api/1/vehicles/{VIN_A}/vehicle_data</html>", ServerError),
        (
            403,
            {"error": f"Tesla Vehicle Command Protocol required for {VIN_A}"},
            CommandProtocolRequiredError,
        ),
        (400, f"refresh_token={FIRST_REFRESH_TOKEN}", InvalidRequestError),
        (
            502,
            f"client_secret={CLIENT_SECRET}&at={ARRIVED[0]},{ARRIVED[1]}",
            ServerError,
        ),
        (401, {"error": f"bad token {tesla_access_token(7)}"}, TokenExpiredError),
    ],
)
def test_an_answer_that_echoes_a_secret_is_redacted_from_the_error(
    status: int, body: Any, kind: type[TeslaFleetError]
) -> None:
    """Tesla's (or a proxy's) text goes into messages, and so into tracebacks."""
    text = body if isinstance(body, str) else json.dumps(body)
    payload = body if isinstance(body, dict) else None
    with pytest.raises(kind) as err:
        raise_for_status(status, payload, text, {})
    shown = "".join(exception_texts(err.value))
    everything = {
        VIN_A,
        VIN_A[:-4],
        FIRST_REFRESH_TOKEN,
        FIRST_REFRESH_TOKEN[:12],
        CLIENT_SECRET,
        CLIENT_SECRET[:12],
        *secret_token_needles(tesla_access_token(7)),
        *coordinate_needles(ARRIVED[0]),
        *coordinate_needles(ARRIVED[1]),
    }
    assert leaks(shown, everything) == []
    assert "**REDACTED**" in str(err.value)


def test_redaction_keeps_what_the_error_is_judged_by() -> None:
    """The region hint of a 421 still works; plain words stay readable."""
    with pytest.raises(WrongRegionError) as err:
        raise_for_status(
            421,
            {
                "error": "user out of region, use https://fleet-api.prd.na.vn.cloud.tesla.com"
            },
            "",
            {},
        )
    assert err.value.suggested_url == "https://fleet-api.prd.na.vn.cloud.tesla.com"
    assert "fleet-api.prd.na.vn.cloud.tesla.com" in str(err.value)
    assert redact("vehicle unavailable: offline or asleep") == (
        "vehicle unavailable: offline or asleep"
    )
