"""Fuzzing the Fleet client's answer parsing: only its own typed errors escape.

Whatever Tesla (or a proxy, or a captive portal in between) answers, with any
status and any body, each public client call and the token refresh either
returns its typed model, with the declared field types, or raises a subclass of
:class:`TeslaFleetError`. Never a ``KeyError``, ``TypeError``, ``OverflowError``
or ``RecursionError`` from deep inside the parsing.

The ``@given`` tests are sync and run each example on a fresh event loop with a
fresh mocked session: Hypothesis and pytest's async fixtures do not mix. Set
``TSW_FUZZ_EXAMPLES`` for a longer local run; CI uses the modest default, with
derandomised (fixed) examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
import json
import math
import os
import re
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

import aiohttp
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.tesla_scout_worker.fleet import (
    COMMAND_SUCCESS_REASONS,
    CommandResult,
    FleetStatus,
    MalformedResponseError,
    RateLimitedError,
    ServerError,
    TeslaFleetClient,
    TeslaFleetError,
    Token,
    Vehicle,
    VehicleData,
    WrongRegionError,
)
from custom_components.tesla_scout_worker.fleet.auth import TOKEN_URL, refresh_token
from custom_components.tesla_scout_worker.fleet.regions import REGION_BASE_URLS
from custom_components.tesla_scout_worker.fleet.transport import parse_retry_after

from .conftest import BASE, PROXY, VIN, FakeTokens, FleetMock, Ledger

# Hypothesis's own check of its global PRNG misfires on Python 3.14 (gc changes).
pytestmark = pytest.mark.filterwarnings(
    "ignore:It looks like `register_random` was passed"
    ":hypothesis.errors.HypothesisWarning"
)

EXAMPLES = int(os.environ.get("TSW_FUZZ_EXAMPLES", "120"))
# No database in the shared checkout, no deadline on slow CI, fixed examples.
FUZZ = settings(
    database=None,
    deadline=None,
    derandomize=True,
    max_examples=EXAMPLES,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

ANY_URL = re.compile(r".*")
MAX_REQUESTS = 12
"""More requests than any one call may send (a 401 retry, a few pages)."""


# --- arbitrary JSON --------------------------------------------------------

ODD_NUMBERS: tuple[Any, ...] = (
    0,
    -1,
    2**53 + 1,
    2**63,
    10**400,
    -(10**400),
    1e308,
    -1e308,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
)
ODD_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "<invalid>",
    "null",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e999",
    "-1e999",
    "1" * 400,
    "12",
    "12.5",
    " 7 ",
    "0x10",
    "1_000",
    "true",
    "\x00",
    "\ud800",
    "€",
)

json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(ODD_NUMBERS),
    st.sampled_from(ODD_STRINGS),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)
odd_scalars: st.SearchStrategy[Any] = st.sampled_from(ODD_NUMBERS + ODD_STRINGS)
odd: st.SearchStrategy[Any] = st.one_of(odd_scalars, json_scalars, json_values)
"""A value for a field Tesla usually fills with a number or a string."""


def field_or_odd(real: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's real kind of value, or (as often) an odd one."""
    return st.one_of(real, odd_scalars, odd)


def shaped(
    known: Mapping[str, st.SearchStrategy[Any]],
    required: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """An object with any subset of ``known`` keys (their values often wrong).

    The ``required`` keys are always there, with values of their own strategy.
    """
    return st.builds(
        lambda picked, extra: {**extra, **picked},
        st.fixed_dictionaries(
            dict(required or {}),
            optional={key: field_or_odd(value) for key, value in known.items()},
        ),
        st.dictionaries(st.text(max_size=10), json_values, max_size=2),
    )


def or_anything(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``strategy``, sometimes any JSON value in its place."""
    return st.one_of(strategy, strategy, json_values)


ints = st.integers(min_value=-(2**40), max_value=2**40)
numbers = st.one_of(
    ints, st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(ODD_NUMBERS)
)
numeric_strings = numbers.map(str)
words = st.text(max_size=12)

vehicle_record = shaped(
    {
        "id": st.one_of(ints, numeric_strings),
        "vehicle_id": ints,
        "display_name": words,
        "state": st.sampled_from(["online", "asleep", "offline", "<invalid>"]),
        "access_type": st.sampled_from(["OWNER", "DRIVER"]),
        "command_signing": st.sampled_from(["off", "allowed", "required"]),
        "in_service": st.booleans(),
    },
    # Mostly a usable VIN, so that the other fields get parsed.
    required={
        "vin": st.one_of(st.just(VIN), st.text(min_size=1, max_size=20), odd),
    },
)
charge_state = shaped(
    {
        name: st.one_of(numbers, numeric_strings)
        for name in (
            "battery_level",
            "battery_range",
            "charge_limit_soc",
            "charger_phases",
            "charger_power",
            "charge_energy_added",
            "scheduled_charging_start_time",
            "minutes_to_full_charge",
        )
    }
    | {
        "charge_port_latch": st.sampled_from(["Engaged", "Blocking", "<invalid>"]),
        "conn_charge_cable": st.sampled_from(["IEC", "SAE", "<invalid>"]),
        "scheduled_charging_mode": st.sampled_from(["Off", "StartAt", "DepartBy"]),
        "scheduled_charging_pending": st.booleans(),
    },
    # What the charging power is computed from.
    required={
        "charging_state": st.one_of(
            st.just("Charging"),
            st.sampled_from(["Starting", "Stopped", "Complete", "Disconnected"]),
            odd,
        ),
        "charger_actual_current": st.one_of(
            st.sampled_from(ODD_NUMBERS), numbers, numeric_strings, odd
        ),
        "charger_voltage": st.one_of(
            st.sampled_from(ODD_NUMBERS), numbers, numeric_strings, odd
        ),
    },
)
drive_state = shaped(
    dict.fromkeys(
        (
            "latitude",
            "longitude",
            "heading",
            "speed",
            "power",
            "timestamp",
            "active_route_minutes_to_arrival",
            "active_route_latitude",
            "active_route_longitude",
        ),
        numbers,
    )
    | {"shift_state": st.sampled_from(["P", "D", "R", "N"])}
)
charge_schedule = shaped(
    {
        "name": words,
        "days_of_week": st.one_of(
            ints, st.booleans(), st.sampled_from(["All", "Weekdays"])
        ),
        "enabled": st.booleans(),
        "start_enabled": st.booleans(),
        "start_time": ints,
        "end_enabled": st.booleans(),
        "end_time": ints,
        "one_time": st.booleans(),
        "latitude": numbers,
        "longitude": numbers,
    },
    required={"id": st.one_of(ints, numeric_strings, odd)},
)
vehicle_data_response = shaped(
    {
        "vin": st.just(VIN),
        "state": st.sampled_from(["online", "asleep"]),
        "vehicle_state": st.dictionaries(words, json_values, max_size=3),
    },
    # The sections are mostly there, so that their fields get parsed.
    required={
        "charge_state": or_anything(charge_state),
        "drive_state": or_anything(drive_state),
        "charge_schedule_data": or_anything(
            shaped(
                {},
                required={
                    "charge_schedules": or_anything(
                        st.lists(or_anything(charge_schedule), max_size=3)
                    )
                },
            )
        ),
    },
)
fleet_status_response = shaped(
    {
        "key_paired_vins": st.lists(or_anything(st.just(VIN)), max_size=3),
        "unpaired_vins": st.lists(or_anything(words), max_size=3),
        "vehicle_info": st.dictionaries(
            st.one_of(st.just(VIN), words),
            or_anything(
                shaped(
                    {
                        "vehicle_command_protocol_required": st.booleans(),
                        "firmware_version": words,
                    }
                )
            ),
            max_size=3,
        ),
    }
)
command_response = shaped(
    {
        "result": st.booleans(),
        "reason": st.one_of(st.sampled_from(sorted(COMMAND_SUCCESS_REASONS)), words),
    }
)
token_answer = shaped(
    {"token_type": st.just("Bearer"), "id_token": words},
    required={
        "access_token": st.one_of(st.just("access"), st.text(max_size=20), odd),
        "refresh_token": st.one_of(st.just("refresh"), st.text(max_size=20), odd),
        "expires_in": st.one_of(
            st.integers(min_value=1, max_value=10**6),
            st.sampled_from(ODD_NUMBERS),
            numbers,
            numeric_strings,
            odd,
        ),
    },
)
tesla_errors = st.sampled_from(
    [
        "vehicle unavailable: vehicle is offline or asleep",
        "token expired (401)",
        "login_required",
        "invalid_grant",
        "invalid_client",
        "Unauthorized missing scopes",
        "Tesla Vehicle Command Protocol required",
        "user out of region, use base URL: https://fleet-api.prd.na.vn.cloud.tesla.com",
        "user out of region, use base URL: https://evil.example",
        "rate limited",
        "timeout",
    ]
)
error_envelope = shaped(
    {
        "response": st.none(),
        "error": st.one_of(tesla_errors, words),
        "error_description": words,
    }
)
pagination = shaped(
    {"previous": st.none(), "current": st.integers(min_value=1, max_value=5)},
    required={
        "next": st.one_of(
            st.none(),
            st.integers(min_value=1, max_value=5),
            st.integers(min_value=-2, max_value=5),
            odd_scalars,
            odd,
        )
    },
)


def envelope(response: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly Tesla's ``{"response": …}``; sometimes an error, or any JSON."""
    return st.one_of(
        shaped({"response": response}),
        shaped({"response": response}),
        shaped({"response": response, "pagination": pagination}),
        error_envelope,
        json_values,
    )


vehicle_page = st.fixed_dictionaries(
    {
        "response": st.lists(or_anything(vehicle_record), max_size=3),
        "pagination": pagination,
    }
)
vehicle_pages = st.one_of(
    vehicle_page, envelope(st.lists(or_anything(vehicle_record), max_size=3))
)


# --- bodies, statuses and answers ------------------------------------------


def dump(payload: Any) -> str:
    """JSON text as Python writes it (``NaN`` and ``Infinity`` included)."""
    return json.dumps(payload, allow_nan=True)


def truncated(text: str) -> st.SearchStrategy[str]:
    """``text`` cut anywhere (a connection lost mid-body)."""
    return st.integers(min_value=0, max_value=len(text)).map(lambda end: text[:end])


raw_bodies: st.SearchStrategy[bytes] = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40).map(str.encode),
    st.sampled_from(
        [
            "",
            "   \n",
            "null",
            "NaN",
            "-Infinity",
            "1e999",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "<!DOCTYPE html><title>Maintenance</title>",
            "upstream connect error or disconnect/reset before headers",
            '{"response": ',
            '{"response": {"vin": "' + VIN + '", "id": 1e999}}',
            '{"response": {"result": true, "reason": ""',
            "\ufeff{}",
        ]
    ).map(str.encode),
    # Python's JSON parser gives up (RecursionError) somewhere past 3000.
    st.integers(min_value=1, max_value=50_000).map(
        lambda depth: ("[" * depth + "]" * depth).encode()
    ),
    st.integers(min_value=4300, max_value=6000).map(lambda digits: b"1" * digits),
    st.integers(min_value=1, max_value=50_000).map(
        lambda depth: ('{"response":' * depth + "null" + "}" * depth).encode()
    ),
)

statuses: st.SearchStrategy[int] = st.one_of(
    # Success most of the time: then the body is parsed as the model.
    st.just(200),
    st.just(200),
    st.just(200),
    st.sampled_from([200, 201, 204, 400, 401, 403, 404, 408, 412, 421, 429, 451]),
    st.integers(min_value=400, max_value=429),
    st.integers(min_value=500, max_value=504),
    st.integers(min_value=100, max_value=599),
)
retry_after: st.SearchStrategy[str] = st.one_of(
    st.integers(min_value=-100, max_value=10**6).map(str),
    st.floats().map(str),
    st.sampled_from(
        [
            "",
            "nan",
            "inf",
            "-inf",
            "1e999",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Mon, 01 Jan 0001 00:00:00 +2359",
            "Tue, 32 Foo 2024 99:99:99 GMT",
            "soon",
        ]
    ),
    st.text(max_size=30),
)
headers: st.SearchStrategy[dict[str, str]] = st.one_of(
    st.just({}),
    st.builds(lambda value: {"Retry-After": value}, retry_after),
    st.just({"Content-Type": "text/html"}),
)


@dataclass(frozen=True)
class Answer:
    """One mocked HTTP answer."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def bodies(payloads: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Bodies for ``payloads``: their JSON, cut short, or raw non-JSON."""
    text = payloads.map(dump)
    return st.one_of(
        text.map(str.encode),
        text.map(str.encode),
        text.map(str.encode),
        text.map(str.encode),
        text.flatmap(truncated).map(str.encode),
        raw_bodies,
    )


def answers(payloads: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Answer]]:
    """A few answers in a row (a 401 is retried, pages are followed)."""
    answer = st.builds(Answer, statuses, bodies(payloads), headers)
    return st.lists(answer, min_size=1, max_size=4)


# --- running one example ---------------------------------------------------

type Call[T] = Callable[[TeslaFleetClient], Awaitable[T]]


async def _same_token(*, force_refresh: bool = False) -> str:
    """A token provider whose refresh is refused (rate-limited)."""
    return "access-1"


def register(mock: FleetMock, method: str, replies: list[Answer]) -> None:
    """Answer ``replies`` in order, then the last one again, up to the limit."""
    padded = replies + [replies[-1]] * (MAX_REQUESTS - len(replies))
    for reply in padded:
        mock.request(
            method,
            ANY_URL,
            status=reply.status,
            content=reply.body,
            headers=dict(reply.headers),
        )


def run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one example on its own event loop."""
    return asyncio.run(coroutine)


async def call_client[T](
    call: Call[T],
    method: str,
    replies: list[Answer],
    *,
    proxy: bool = False,
    refresh_refused: bool = False,
) -> tuple[T | TeslaFleetError, FleetMock, Ledger]:
    """Send ``call`` to a client answered by ``replies``; keep its typed error."""
    mock = FleetMock()
    register(mock, method, replies)
    ledger = Ledger()
    async with mock.create_session(asyncio.get_running_loop()) as session:
        client = TeslaFleetClient(
            session=session,
            token_provider=_same_token if refresh_refused else FakeTokens(),
            api_base_url=BASE,
            command_base_url=PROXY if proxy else None,
            command_ssl=not proxy,
            on_request=ledger,
        )
        try:
            outcome: T | TeslaFleetError = await call(client)
        except TeslaFleetError as err:
            outcome = err
    return outcome, mock, ledger


async def call_refresh(
    replies: list[Answer],
) -> tuple[Token | TeslaFleetError, FleetMock, Ledger]:
    """Refresh a token against ``replies``; keep the typed error."""
    mock = FleetMock()
    register(mock, "post", replies)
    ledger = Ledger()
    async with mock.create_session(asyncio.get_running_loop()) as session:
        try:
            outcome: Token | TeslaFleetError = await refresh_token(
                session, client_id="c", refresh_token="r", on_request=ledger
            )
        except TeslaFleetError as err:
            outcome = err
    return outcome, mock, ledger


# --- checking what came back -----------------------------------------------


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type ``hint`` (the shapes our models declare)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(conforms(value, arg) for arg in get_args(hint))
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, float)
    if origin is tuple:
        (item, _ellipsis) = get_args(hint)
        return isinstance(value, tuple) and all(conforms(v, item) for v in value)
    if origin is frozenset:
        (item,) = get_args(hint)
        return isinstance(value, frozenset) and all(conforms(v, item) for v in value)
    if origin is Mapping:
        key, item = get_args(hint)
        return isinstance(value, Mapping) and all(
            conforms(k, key) and conforms(v, item) for k, v in value.items()
        )
    if isinstance(hint, type) and is_dataclass(hint):
        if not isinstance(value, hint):
            return False
        assert_model(value)
        return True
    assert isinstance(hint, type), f"conforms() cannot check {hint!r}"
    return isinstance(value, hint)


def assert_model(model: Any) -> None:
    """Every field of a model dataclass has its declared type."""
    hints = get_type_hints(type(model))
    for item in fields(model):
        value = getattr(model, item.name)
        assert conforms(value, hints[item.name]), (
            f"{type(model).__name__}.{item.name} = {value!r} is not {hints[item.name]}"
        )


def assert_vehicle(vehicle: Vehicle) -> None:
    assert isinstance(vehicle, Vehicle)
    assert_model(vehicle)
    assert vehicle.vin
    assert isinstance(vehicle.is_online, bool)


def assert_vehicle_data(data: VehicleData) -> None:
    assert isinstance(data, VehicleData)
    assert_model(data)
    assert data.vin
    assert data.is_parked in (True, False, None)
    if data.charge is not None:
        assert isinstance(data.charge.is_charging, bool)
        assert data.charge.plugged_in in (True, False, None)
        assert conforms(data.charge.measured_power_kw, float | None)
    if data.drive is not None:
        assert isinstance(data.drive.has_location, bool)
        assert isinstance(data.drive.in_park, bool)


def assert_typed_error(err: TeslaFleetError) -> None:
    """The error's own fields have their declared types and safe values."""
    assert conforms(err.status, int | None)
    assert conforms(err.error, str | None)
    assert isinstance(str(err), str)
    if isinstance(err, RateLimitedError):
        assert err.retry_after is None or (
            math.isfinite(err.retry_after) and err.retry_after >= 0
        ), err.retry_after
    if isinstance(err, WrongRegionError):
        # Only Tesla's own hosts are ever suggested: the token would go there.
        assert err.suggested_url in (None, *REGION_BASE_URLS.values())


def check[T](
    outcome: T | TeslaFleetError,
    mock: FleetMock,
    ledger: Ledger,
    replies: list[Answer],
    check_model: Callable[[T], None],
) -> None:
    """A typed model after a 2xx answer, or a typed error; every request counted."""
    padded = replies + [replies[-1]] * MAX_REQUESTS
    answered = [reply.status for reply in padded[: len(mock.sent)]]
    assert answered, "the call sent no request"
    assert [status for _, status in ledger.calls] == answered
    if isinstance(outcome, TeslaFleetError):
        assert_typed_error(outcome)
    else:
        assert 200 <= answered[-1] < 300, f"a model from an HTTP {answered[-1]}"
        check_model(outcome)


# --- the properties --------------------------------------------------------


@FUZZ
@given(
    st.one_of(
        answers(vehicle_pages),
        # Only pages, all answered: the client must still stop asking.
        st.lists(
            st.builds(Answer, st.just(200), vehicle_page.map(dump).map(str.encode)),
            min_size=1,
            max_size=4,
        ),
    ),
    st.booleans(),
)
def test_vehicles_only_raise_typed_errors(
    replies: list[Answer], refresh_refused: bool
) -> None:
    outcome, mock, ledger = run(
        call_client(
            TeslaFleetClient.vehicles, "get", replies, refresh_refused=refresh_refused
        )
    )

    def check_list(vehicles: list[Vehicle]) -> None:
        assert isinstance(vehicles, list)
        for vehicle in vehicles:
            assert_vehicle(vehicle)

    check(outcome, mock, ledger, replies, check_list)


@FUZZ
@given(
    answers(envelope(vehicle_record)),
    st.sampled_from(["vehicle", "wake_up"]),
    st.booleans(),
)
def test_vehicle_and_wake_up_only_raise_typed_errors(
    replies: list[Answer], method: str, proxy: bool
) -> None:
    async def call(client: TeslaFleetClient) -> Vehicle:
        result: Vehicle = await getattr(client, method)(VIN)
        return result

    http_method = "get" if method == "vehicle" else "post"
    outcome, mock, ledger = run(call_client(call, http_method, replies, proxy=proxy))
    check(outcome, mock, ledger, replies, assert_vehicle)
    assert len(mock.sent) <= 2
    # The wake-up never goes through the proxy.
    assert all(str(request.url).startswith(BASE) for request in mock.sent)


@FUZZ
@given(
    answers(envelope(vehicle_data_response)),
    st.lists(st.sampled_from(["charge_state", "drive_state", "location_data"])),
)
def test_vehicle_data_only_raises_typed_errors(
    replies: list[Answer], endpoints: list[str]
) -> None:
    async def call(client: TeslaFleetClient) -> VehicleData:
        return await client.vehicle_data(VIN, endpoints)

    outcome, mock, ledger = run(call_client(call, "get", replies))
    check(outcome, mock, ledger, replies, assert_vehicle_data)
    assert len(mock.sent) <= 2


@FUZZ
@given(answers(envelope(fleet_status_response)))
def test_fleet_status_only_raises_typed_errors(replies: list[Answer]) -> None:
    async def call(client: TeslaFleetClient) -> FleetStatus:
        return await client.fleet_status([VIN])

    def check_status(status: FleetStatus) -> None:
        assert isinstance(status, FleetStatus)
        assert_model(status)

    outcome, mock, ledger = run(call_client(call, "post", replies))
    check(outcome, mock, ledger, replies, check_status)
    assert len(mock.sent) <= 2


COMMANDS: dict[str, Call[CommandResult]] = {
    "command": lambda client: client.command(VIN, "honk_horn", {"x": 1}),
    "charge_start": lambda client: client.charge_start(VIN),
    "charge_stop": lambda client: client.charge_stop(VIN),
    "set_charge_limit": lambda client: client.set_charge_limit(VIN, 80),
    "set_charging_amps": lambda client: client.set_charging_amps(VIN, 16),
    "set_scheduled_charging": lambda client: client.set_scheduled_charging(
        VIN, enable=True, minutes_after_midnight=120
    ),
    "add_charge_schedule": lambda client: client.add_charge_schedule(
        VIN,
        days_of_week="All",
        start_time=60,
        end_time=None,
        latitude=52.0,
        longitude=21.0,
    ),
    "remove_charge_schedule": lambda client: client.remove_charge_schedule(VIN, 3),
}


@FUZZ
@given(
    answers(envelope(command_response)),
    st.sampled_from(sorted(COMMANDS)),
    st.booleans(),
)
def test_commands_only_raise_typed_errors(
    replies: list[Answer], name: str, proxy: bool
) -> None:
    def check_result(result: CommandResult) -> None:
        assert isinstance(result, CommandResult)
        assert_model(result)
        assert result.result or result.reason in COMMAND_SUCCESS_REASONS

    outcome, mock, ledger = run(
        call_client(COMMANDS[name], "post", replies, proxy=proxy)
    )
    check(outcome, mock, ledger, replies, check_result)
    assert len(mock.sent) <= 2
    assert all(
        str(request.url).startswith(PROXY if proxy else BASE) for request in mock.sent
    )


CALLS: dict[str, tuple[str, Call[Any]]] = {
    "vehicles": ("get", TeslaFleetClient.vehicles),
    "vehicle": ("get", lambda client: client.vehicle(VIN)),
    "vehicle_data": ("get", lambda client: client.vehicle_data(VIN, ["charge_state"])),
    "wake_up": ("post", lambda client: client.wake_up(VIN)),
    "fleet_status": ("post", lambda client: client.fleet_status([VIN])),
    "charge_start": ("post", lambda client: client.charge_start(VIN)),
}


@FUZZ
@given(answers(json_values), st.sampled_from(sorted(CALLS)))
def test_any_answer_to_any_call_raises_only_typed_errors(
    replies: list[Answer], name: str
) -> None:
    """No shape bias at all: any JSON, any bytes, any status."""
    method, call = CALLS[name]
    outcome, mock, ledger = run(call_client(call, method, replies))
    check(outcome, mock, ledger, replies, lambda _model: None)


@FUZZ
@given(answers(st.one_of(token_answer, token_answer, error_envelope, json_values)))
def test_token_refresh_only_raises_typed_errors(replies: list[Answer]) -> None:
    def check_token(token: Token) -> None:
        assert isinstance(token, Token)
        assert_model(token)
        assert token.access_token
        assert token.refresh_token
        assert token.expires_in > 0
        assert math.isfinite(token.expires_at)
        assert token.seconds_left() > 0

    outcome, mock, ledger = run(call_refresh(replies))
    assert len(mock.sent) == 1
    check(outcome, mock, ledger, replies, check_token)


@FUZZ
@given(st.one_of(retry_after, st.none()))
def test_retry_after_is_none_or_a_finite_wait(value: str | None) -> None:
    seconds = parse_retry_after(value, now=1_700_000_000.0)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


# --- the harness itself ----------------------------------------------------


def test_harness_lets_untyped_errors_through() -> None:
    """``call_client`` keeps only typed errors; anything else fails the test."""

    async def broken(client: TeslaFleetClient) -> None:
        await client.vehicles()
        raise KeyError("response")

    replies = [Answer(200, dump({"response": []}).encode(), {})]
    with pytest.raises(KeyError):
        run(call_client(broken, "get", replies))


def test_harness_stops_a_client_that_keeps_asking() -> None:
    async def greedy(client: TeslaFleetClient) -> None:
        for _ in range(MAX_REQUESTS + 1):
            await client.vehicle(VIN)

    replies = [Answer(200, dump({"response": {"vin": VIN}}).encode(), {})]
    with pytest.raises(AssertionError, match="no answer registered"):
        run(call_client(greedy, "get", replies))


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [
        (1, int, True),
        (True, int, False),
        (1, float, False),
        (None, int | None, True),
        ("a", int | None, False),
        (frozenset({"a"}), frozenset[str], True),
        (frozenset({1}), frozenset[str], False),
        ((1, 2), tuple[int, ...], True),
        ({"a": True}, Mapping[str, bool], True),
        ({"a": 1}, Mapping[str, bool], False),
    ],
)
def test_conforms(value: Any, hint: Any, expected: bool) -> None:
    assert conforms(value, hint) is expected


def test_assert_model_catches_a_wrongly_typed_field() -> None:
    with pytest.raises(AssertionError, match="Vehicle.id"):
        assert_model(
            Vehicle(
                id="1",  # type: ignore[arg-type]
                vehicle_id=None,
                vin=VIN,
                display_name=None,
                state="online",
            )
        )


# --- regressions: the smallest inputs the fuzzing found ---------------------

DEEP = "[" * 10_000 + "]" * 10_000


async def test_deeply_nested_json_is_malformed_not_recursion_error(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    """Python's parser raises RecursionError (not ValueError) past ~3000 levels."""
    mock_api.get(f"{BASE}/api/1/vehicles", status=200, text=DEEP)
    with pytest.raises(MalformedResponseError):
        await client.vehicles()


async def test_deeply_nested_error_body_keeps_the_status_error(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(f"{BASE}/api/1/vehicles/{VIN}", status=503, text=DEEP)
    with pytest.raises(ServerError):
        await client.vehicle(VIN)


async def test_deeply_nested_token_answer_is_malformed(
    mock_api: FleetMock, session: aiohttp.ClientSession
) -> None:
    mock_api.post(TOKEN_URL, status=200, text=DEEP)
    with pytest.raises(MalformedResponseError):
        await refresh_token(session, client_id="c", refresh_token="r")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "Infinity"])
async def test_rate_limited_ignores_a_non_finite_retry_after(
    client: TeslaFleetClient, mock_api: FleetMock, value: str
) -> None:
    """``float()`` accepts these; a wait of NaN or infinity is no wait at all."""
    mock_api.get(f"{BASE}/api/1/vehicles", status=429, headers={"Retry-After": value})
    with pytest.raises(RateLimitedError) as err:
        await client.vehicles()
    assert err.value.retry_after is None


@pytest.mark.parametrize(
    "value",
    ['"inf"', '"-inf"', '"nan"', "NaN", "Infinity", "1e999", '"1e999"', "1" * 400],
    ids=[
        "str-inf",
        "str-minus-inf",
        "str-nan",
        "nan",
        "inf",
        "1e999",
        "str-1e999",
        "huge-int",
    ],
)
async def test_unusable_numbers_in_a_vehicle_record_become_none(
    client: TeslaFleetClient, mock_api: FleetMock, value: str
) -> None:
    """Was OverflowError (``round(inf)``) or, for NaN, a lost vehicle record."""
    body = f'{{"response": {{"vin": "{VIN}", "id": {value}, "vehicle_id": {value}}}}}'
    mock_api.get(f"{BASE}/api/1/vehicles/{VIN}", text=body)
    vehicle = await client.vehicle(VIN)
    assert vehicle.vin == VIN
    assert vehicle.id is None
    assert vehicle.vehicle_id is None


async def test_unusable_numbers_in_vehicle_data_become_none(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    huge = "1" * 400
    body = (
        '{"response": {"charge_state": {"charging_state": "Charging",'
        f' "battery_level": NaN, "charger_voltage": {huge},'
        ' "charger_actual_current": 16, "charger_power": Infinity},'
        ' "drive_state": {"latitude": "nan", "longitude": -Infinity,'
        ' "timestamp": "1e999"},'
        ' "charge_schedule_data": {"charge_schedules": [{"id": 1e999},'
        ' {"id": 2, "start_time": NaN, "days_of_week": true}]}}}'
    )
    mock_api.get(re.compile(r"/vehicle_data"), text=body)

    data = await client.vehicle_data(VIN, ["charge_state"])

    assert data.charge is not None
    assert data.charge.battery_level is None
    assert data.charge.charger_voltage is None
    assert data.charge.charger_power is None
    assert data.charge.measured_power_kw is None
    assert data.drive is not None
    assert (data.drive.latitude, data.drive.longitude) == (None, None)
    assert data.drive.timestamp_ms is None
    assert not data.drive.has_location
    assert data.charge_schedules is not None
    (schedule,) = data.charge_schedules
    assert (schedule.id, schedule.start_time) == (2, None)
    assert schedule.days_of_week is None  # a bool is no day mask


async def test_charging_power_from_the_largest_readings_does_not_overflow(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    """Was OverflowError: an int past float range divided by 1000."""
    big = 2**63 - 1
    body = dump(
        {
            "response": {
                "charge_state": {
                    "charging_state": "Charging",
                    "charger_voltage": big,
                    "charger_actual_current": big,
                    "charger_phases": big,
                }
            }
        }
    )
    mock_api.get(re.compile(r"/vehicle_data"), text=body)
    data = await client.vehicle_data(VIN, ["charge_state"])
    assert data.charge is not None
    assert isinstance(data.charge.measured_power_kw, float)


@pytest.mark.parametrize(
    "vins",
    [[[]], [{}], [None, VIN], [VIN, 7, ""]],
    ids=["list", "object", "null", "number-and-empty"],
)
async def test_fleet_status_keeps_only_string_vins(
    client: TeslaFleetClient, mock_api: FleetMock, vins: list[Any]
) -> None:
    """Was TypeError (unhashable list or object), or non-VINs in the set."""
    mock_api.post(
        f"{BASE}/api/1/vehicles/fleet_status",
        json={"response": {"key_paired_vins": vins, "unpaired_vins": vins}},
    )
    status = await client.fleet_status([VIN])
    expected = {VIN} if VIN in vins else set()
    assert status.key_paired_vins == expected
    assert status.unpaired_vins == expected


@pytest.mark.parametrize(
    "next_page",
    [1, True, 0, -1, "1", "x"],
    ids=["same-page", "true", "zero", "negative", "same-page-text", "text"],
)
async def test_vehicles_stops_when_next_is_not_a_later_page(
    client: TeslaFleetClient, mock_api: FleetMock, next_page: Any
) -> None:
    """Was an endless loop of billed requests for ``"next": 1`` on page 1."""
    page = {"response": [{"vin": VIN}], "pagination": {"next": next_page}}
    for _ in range(3):
        mock_api.get(f"{BASE}/api/1/vehicles", json=page)
    vehicles = await client.vehicles()
    assert [v.vin for v in vehicles] == [VIN]
    assert len(mock_api.sent) == 1


async def test_vehicles_follows_a_page_number_given_as_text(
    client: TeslaFleetClient, mock_api: FleetMock
) -> None:
    mock_api.get(
        f"{BASE}/api/1/vehicles",
        json={"response": [{"vin": VIN}], "pagination": {"next": "2"}},
    )
    mock_api.get(
        f"{BASE}/api/1/vehicles?page=2",
        json={"response": [{"vin": "5YJ3E1EA1NF000002"}], "pagination": {}},
    )
    vehicles = await client.vehicles()
    assert len(vehicles) == 2
    assert mock_api.sent[1].kwargs["params"] == {"page": "2"}


@pytest.mark.parametrize(
    "expires_in",
    ["1" * 400, "1e999", "NaN", '"inf"', str(2**63)],
    ids=["huge-int", "1e999", "nan", "str-inf", "past-int64"],
)
async def test_token_answer_with_an_absurd_expires_in_is_malformed(
    mock_api: FleetMock, session: aiohttp.ClientSession, expires_in: str
) -> None:
    """Was OverflowError: ``time.time() + 10**400`` does not fit a float."""
    body = f'{{"access_token": "a", "refresh_token": "r", "expires_in": {expires_in}}}'
    mock_api.post(TOKEN_URL, status=200, text=body)
    with pytest.raises(MalformedResponseError, match="expires_in"):
        await refresh_token(session, client_id="c", refresh_token="r")
