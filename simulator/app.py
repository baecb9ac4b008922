"""The aiohttp application that answers like Tesla's Fleet API.

Routes:

- ``/api/1/...``: the Fleet API (vehicles, vehicle_data, wake_up, fleet_status,
  commands, signed_command, users/region), Bearer auth, Tesla's status codes
  and envelopes. ``signed_command`` carries Tesla's Vehicle Command Protocol
  to the car's side in ``vcp.py``.
- ``/proxy/api/1/...`` and ``/proxy/health``: the same API as seen through
  Tesla's ``tesla-http-proxy`` (commands signed, asleep commands answer 500).
- ``/api/1/partner_accounts`` (``POST {"domain": ...}``) and
  ``/api/1/partner_accounts/public_key?domain=...`` (``GET``): the
  application's registration, with a partner token only (not billed). The
  key is downloaded from ``https://<domain>/.well-known/appspecific/
  com.tesla.3p.public-key.pem``, or from the simulator's ``key_origin``
  (``partner.py``).
- ``/oauth2/v3/token``: the token endpoint (not billed): ``authorization_code``
  and ``refresh_token`` for user tokens, ``client_credentials`` (client id,
  secret, ``audience``) for the application's partner token.
- ``/sim/...``: control and inspection for tests and development. Real answers
  Tesla has been seen to give (``data/SOURCES.md``) are switched on per car by
  ``POST /sim/vehicles/{vin}`` (``removed``, ``mobile_access_disabled``,
  ``record_overrides``/``record_missing``, ``data_overrides``/``data_missing``,
  ``charger_report``, ``gps_lag_s``, ``schedule_ids``, ``renumber_schedules``,
  ``float32_positions``, ``unknown_key_answer``) and for the account by
  ``POST /sim/account``
  (``monthly_limit_usd``, ``account_disabled``, ``retry_after_header``,
  ``drive_state_needs_location``). ``POST /sim/vehicles/{vin}/pair`` and
  ``/unpair`` put a client's public key on the car's keychain and take it off,
  as the owner does through ``tesla.com/_ak/<domain>``; ``/pair`` with only
  ``{"domain": ...}`` pairs the key registered for that domain.
  ``GET /sim/partner_accounts`` lists the registrations.

Every Tesla request is logged and counted in exactly one place: the
middleware, after the answer (scripted fault or handler) is known.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
import json
import re
from typing import Any, Final, cast

from aiohttp import web

from .billing import NO_ANSWER, RequestKind, RequestRecord, category_of
from .commands import COMMANDS, CommandArgumentError
from .model import Fault, FleetSimulator, RateKind
from .partner import PartnerError
from .render import parse_endpoints, vehicle_data, vehicle_record
from .tokens import AccessGrant, PartnerGrant, TokenError, region_base_url
from .vcp import is_gcm_command
from .vcp_crypto import parse_client_key
from .vehicle import SimVehicle, VehicleState

SIMULATOR_KEY: Final = web.AppKey("fleet_simulator", FleetSimulator)

ASLEEP_ERROR: Final = "vehicle unavailable: vehicle is offline or asleep"
MISSING_SCOPES_ERROR: Final = "Unauthorized missing scopes"
MISSING_LOCATION_SCOPE_ERROR: Final = (
    "Unauthorized missing scopes vehicle_location for vehicle data access"
)
MOBILE_ACCESS_DISABLED_ERROR: Final = "mobile_access_disabled"
EXCEEDED_LIMIT_ERROR: Final = "account disabled: EXCEEDED_LIMIT"
SIGNING_REQUIRED_ERROR: Final = (
    "Tesla Vehicle Command Protocol required, please refer to the documentation "
    "here: https://developer.tesla.com/docs/fleet-api"
    "#2023-10-09-rest-api-vehicle-commands-endpoint-deprecation-warning"
)
PROTOCOL_NOT_SUPPORTED_ERROR: Final = "vehicle does not support protocol"
GCM_BLOCKED_ERROR: Final = "AES-GCM authenticated commands are not relayed"
KEY_NOT_PAIRED_ERROR: Final = (
    "vehicle rejected request: your public key has not been paired with the vehicle"
)
RATE_LIMIT_ERROR: Final = "rate limit exceeded"
PARTNER_ACCOUNT_ERROR: Final = "Expected partner account"
"""A user's token on a partner endpoint (vehicle-command issue #166's words)."""

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Abort(Exception):  # noqa: N818 - control flow, not an error
    """Stop handling and answer with ``response``."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _envelope_error(
    status: int,
    error: str,
    *,
    description: str = "",
    headers: dict[str, str] | None = None,
) -> _Abort:
    body = {"response": None, "error": error, "error_description": description}
    return _Abort(web.json_response(body, status=status, headers=headers))


def _ok(response: Any, **extra: Any) -> web.Response:
    return web.json_response({"response": response, **extra})


@dataclass(frozen=True, slots=True)
class _Classified:
    kind: RequestKind
    vin_ref: str | None
    command: str | None
    proxy: bool


_ROUTE_KINDS: Final[tuple[tuple[re.Pattern[str], RequestKind], ...]] = (
    (re.compile(r"^/api/1/vehicles/?$"), "list"),
    (re.compile(r"^/api/1/vehicles/fleet_status$"), "fleet_status"),
    (re.compile(r"^/api/1/vehicles/(?P<vin>[^/]+)$"), "record"),
    (re.compile(r"^/api/1/vehicles/(?P<vin>[^/]+)/vehicle_data$"), "vehicle_data"),
    (re.compile(r"^/api/1/vehicles/(?P<vin>[^/]+)/wake_up$"), "wake_up"),
    (
        re.compile(r"^/api/1/vehicles/(?P<vin>[^/]+)/command/(?P<command>[^/]+)$"),
        "command",
    ),
    (re.compile(r"^/api/1/vehicles/(?P<vin>[^/]+)/signed_command$"), "signed_command"),
    (re.compile(r"^/api/1/users/"), "users"),
    (re.compile(r"^/api/1/partner_accounts(?:/|$)"), "partner"),
    (re.compile(r"^/api/"), "other"),
)


def classify(path: str) -> _Classified | None:
    """What a request path is for billing; None for non-Tesla paths."""
    if path == "/oauth2/v3/token":
        return _Classified("token", None, None, proxy=False)
    proxy = path.startswith("/proxy/")
    rest = path.removeprefix("/proxy") if proxy else path
    for pattern, kind in _ROUTE_KINDS:
        if match := pattern.match(rest):
            groups = match.groupdict()
            return _Classified(kind, groups.get("vin"), groups.get("command"), proxy)
    return None


def _scripted_response(
    status: int,
    body: str | dict[str, Any] | None,
    headers: Mapping[str, str],
    content_type: str | None = None,
) -> web.Response:
    """A scripted or random fault's answer: JSON, text (HTML sniffed) or empty."""
    if isinstance(body, dict):
        return web.json_response(body, status=status, headers=dict(headers))
    if body is None:
        return web.Response(status=status, headers=dict(headers))
    if content_type is None:
        content_type = "text/html" if body.lstrip().startswith("<") else "text/plain"
    return web.Response(
        status=status, text=body, content_type=content_type, headers=dict(headers)
    )


SIGNED_COMMAND_NAME: Final = "simulator.signed_command_name"
"""Request key: the REST name of the command a ``signed_command`` ran."""


def _record(sim: FleetSimulator, request: web.Request, status: int) -> None:
    classified = classify(request.path)
    if classified is None:
        return
    command = classified.command or request.get(SIGNED_COMMAND_NAME)
    vehicle = (
        sim.find_vehicle(classified.vin_ref) if classified.vin_ref is not None else None
    )
    sim.record_request(
        RequestRecord(
            time=sim.clock(),
            method=request.method,
            path=request.path,
            status=status,
            category=category_of(classified.kind),
            kind=classified.kind,
            vin=vehicle.vin if vehicle is not None else None,
            proxy=classified.proxy,
            command=command,
        )
    )


@web.middleware
async def _tesla_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Scripted faults, the single request accounting, and early answers."""
    sim = request.app[SIMULATOR_KEY]
    if request.path.startswith("/sim/"):
        try:
            return await handler(request)
        except _Abort as abort:
            return abort.response
    fault = sim.take_fault(request.method, request.path)
    chaos = (
        None
        if fault is not None or sim.chaos is None
        else sim.chaos.draw(request.path, sim.clock())
    )
    response: web.StreamResponse
    if fault is not None:
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        response = _scripted_response(fault.status, fault.body, fault.headers)
    elif chaos is not None:
        if chaos.delay > 0:
            await asyncio.sleep(chaos.delay)
        if chaos.reset:
            # Drop the connection without an answer (nothing is billed).
            if request.transport is not None:
                request.transport.abort()
            _record(sim, request, NO_ANSWER)
            return web.Response(status=500)
        response = _scripted_response(
            chaos.status, chaos.body, chaos.headers, chaos.content_type
        )
    else:
        try:
            response = await handler(request)
        except _Abort as abort:
            response = abort.response
        except web.HTTPException as exc:
            _record(sim, request, exc.status)
            raise
    _record(sim, request, response.status)
    return response


def _is_proxy(request: web.Request) -> bool:
    return request.path.startswith("/proxy/")


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise _envelope_error(400, "invalid_json", description=str(err)) from err
    if not isinstance(data, dict):
        raise _envelope_error(400, "invalid_json", description="expected an object")
    return data


class _FleetApi:
    """Handlers of the Fleet API, the proxy and the token endpoint."""

    def __init__(self, sim: FleetSimulator) -> None:
        self.sim = sim

    # --- shared checks ----------------------------------------------------

    @staticmethod
    def _bearer(request: web.Request) -> str | None:
        """The bearer token of the request, None without one."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None

    def _grant(self, request: web.Request, *, check_region: bool = True) -> AccessGrant:
        """Check the bearer token (401) and region (421).

        Only a user's access token: a partner token is as unknown here as any
        invalid token.
        """
        token = self._bearer(request)
        grant = self.sim.authenticate(token) if token is not None else None
        if grant is None:
            raise _Abort(web.Response(status=401))
        if check_region and grant.region != self.sim.region:
            url = region_base_url(grant.region)
            raise _envelope_error(421, f"user out of region, use base URL: {url}")
        return grant

    @staticmethod
    def _require(
        grant: AccessGrant, any_of: Iterable[str], error: str = MISSING_SCOPES_ERROR
    ) -> None:
        if grant.scopes.isdisjoint(any_of):
            raise _envelope_error(403, error)

    def _vehicle(self, request: web.Request) -> SimVehicle:
        vehicle = self.sim.account_vehicle(request.match_info["vin"])
        if vehicle is None:
            raise _envelope_error(404, "not_found")
        self.sim.sync(vehicle)
        return vehicle

    def _paid(self) -> None:
        """A paid request: 403 ``EXCEEDED_LIMIT`` while the account is disabled."""
        if self.sim.account_disabled_until() is not None:
            # As captured (vehicle-command issue 403): no envelope, no Retry-After.
            raise _Abort(web.json_response({"error": EXCEEDED_LIMIT_ERROR}, status=403))

    @staticmethod
    def _mobile_access(vehicle: SimVehicle) -> None:
        """401 ``mobile_access_disabled`` for a car whose owner switched it off."""
        if vehicle.mobile_access_disabled:
            raise _envelope_error(401, MOBILE_ACCESS_DISABLED_ERROR)

    def _rate(self, vehicle: SimVehicle, kind: RateKind) -> None:
        retry_after = self.sim.check_rate_limit(vehicle.vin, kind)
        if retry_after is not None:
            limit = getattr(self.sim.rate_limits, kind)
            headers = {
                "RateLimit-Limit": str(limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(retry_after),
            }
            if self.sim.retry_after_header:
                headers["Retry-After"] = str(retry_after)
            raise _envelope_error(429, RATE_LIMIT_ERROR, headers=headers)

    def _state(self, vehicle: SimVehicle) -> VehicleState:
        return self.sim.state(vehicle.vin)

    # --- Fleet API ----------------------------------------------------------

    async def list_vehicles(self, request: web.Request) -> web.Response:
        """``GET /api/1/vehicles``: never wakes or keeps a car awake."""
        self._grant(request)
        try:
            page = int(request.query.get("page", "1"))
            per_page = int(request.query.get("per_page", "100"))
        except ValueError as err:
            raise _envelope_error(400, "invalid_pagination") from err
        if page < 1 or per_page < 1:
            raise _envelope_error(400, "invalid_pagination")
        vehicles = self.sim.listed_vehicles()
        count = len(vehicles)
        pages = max(1, -(-count // per_page))
        shown = vehicles[(page - 1) * per_page : page * per_page]
        pagination = {
            "previous": page - 1 if page > 1 else None,
            "next": page + 1 if page < pages else None,
            "current": page,
            "per_page": per_page,
            "count": count,
            "pages": pages,
        }
        records = [vehicle_record(self.sim, v) for v in shown]
        return _ok(records, pagination=pagination, count=count)

    async def vehicle(self, request: web.Request) -> web.Response:
        """``GET /api/1/vehicles/{vin}``: the record, not counted as activity."""
        self._grant(request)
        return _ok(vehicle_record(self.sim, self._vehicle(request)))

    async def vehicle_data(self, request: web.Request) -> web.Response:
        """``GET .../vehicle_data``: live data; 408 from a sleeping car."""
        grant = self._grant(request)
        vehicle = self._vehicle(request)
        endpoints = parse_endpoints(request.query.get("endpoints"))
        self._require(grant, ["vehicle_device_data"])
        if "location_data" in endpoints:
            self._require(grant, ["vehicle_location"], MISSING_LOCATION_SCOPE_ERROR)
        self._paid()
        self._mobile_access(vehicle)
        self._rate(vehicle, "data")
        if self._state(vehicle) != "online":
            raise _envelope_error(408, ASLEEP_ERROR)
        self.sim.touch(vehicle)
        drive_state = (
            not self.sim.drive_state_needs_location
            or "vehicle_location" in grant.scopes
        )
        return _ok(vehicle_data(self.sim, vehicle, endpoints, drive_state=drive_state))

    async def wake_up(self, request: web.Request) -> web.Response:
        """``POST .../wake_up``: answers at once; the car is online later."""
        self._grant(request)
        vehicle = self._vehicle(request)
        self._paid()
        self._mobile_access(vehicle)
        self._rate(vehicle, "wake")
        self.sim.request_wake(vehicle)
        record = vehicle_record(self.sim, vehicle)
        return _ok(record)

    def _partner(self, request: web.Request) -> PartnerGrant:
        """Check the partner token: 401 as for any bad token, 403 for a user's."""
        token = self._bearer(request)
        grant = (
            self.sim.tokens.authenticate_partner(token) if token is not None else None
        )
        if grant is not None:
            return grant
        if token is not None and self.sim.authenticate(token) is not None:
            raise _envelope_error(403, PARTNER_ACCOUNT_ERROR)
        raise _Abort(web.Response(status=401))

    async def fleet_status(self, request: web.Request) -> web.Response:
        """``POST /api/1/vehicles/fleet_status``: key pairing and signing needs.

        Paired means the calling application's registered key is on the
        keychain; for an application without a partner account, the proxy's
        key or any key on the keychain.
        """
        grant = self._grant(request)
        self._paid()
        body = await _json_object(request)
        vins = body.get("vins")
        if not isinstance(vins, list) or not all(isinstance(v, str) for v in vins):
            raise _envelope_error(400, "invalid_field", description="vins")
        mine = {v.vin: v for v in self.sim.listed_vehicles()}
        known = [mine[vin] for vin in vins if vin in mine]
        paired = {v.vin for v in known if self.sim.key_paired(v, grant.client_id)}
        return _ok(
            {
                "key_paired_vins": [v.vin for v in known if v.vin in paired],
                "unpaired_vins": [vin for vin in vins if vin not in paired],
                "vehicle_info": {
                    v.vin: {
                        "firmware_version": v.firmware_version.rsplit(".", 1)[0],
                        "vehicle_command_protocol_required": (
                            v.command_signing == "required"
                        ),
                        "discounted_device_data": False,
                        "fleet_telemetry_version": "1.0.0",
                        "total_number_of_keys": 5,
                    }
                    for v in known
                },
            }
        )

    async def command(self, request: web.Request) -> web.Response:
        """``POST .../command/{name}``: signed-command and sleep rules first."""
        grant = self._grant(request)
        vehicle = self._vehicle(request)
        name = request.match_info["command"]
        if name not in COMMANDS:
            raise _envelope_error(404, f"unknown command: {name}")
        self._require(grant, ["vehicle_cmds", "vehicle_charging_cmds"])
        body = await _json_object(request)
        self._paid()
        self._mobile_access(vehicle)
        self._rate(vehicle, "command")
        proxy = _is_proxy(request)
        if proxy and name == "add_charge_schedule" and not body.get("id"):
            # tesla-http-proxy gives a schedule without an id (or id 0) the
            # current Unix time (vehicle-command pkg/proxy/command.go).
            body = {**body, "id": int(self.sim.clock())}
        if not proxy and vehicle.command_signing == "required":
            raise _envelope_error(403, SIGNING_REQUIRED_ERROR)
        if proxy and not vehicle.key_paired:
            raise _envelope_error(403, KEY_NOT_PAIRED_ERROR)
        if self._state(vehicle) != "online":
            raise _envelope_error(500 if proxy else 408, ASLEEP_ERROR)
        try:
            result, reason = self.sim.execute_command(vehicle, name, body)
        except CommandArgumentError as err:
            raise _envelope_error(400, "invalid_field", description=str(err)) from err
        return _ok({"result": result, "reason": reason})

    async def signed_command(self, request: web.Request) -> web.Response:
        """``POST .../signed_command``: a RoutableMessage for the car, and its reply.

        ``{"routable_message": <base64>}`` in, ``{"response": <base64>}`` out
        (standard, padded base64, as Go's ``encoding/json`` writes bytes).
        The car's answer, faults included, is a 200; HTTP errors are Fleet
        API's own: 422 for a car without the protocol, 408 while asleep.
        """
        grant = self._grant(request)
        vehicle = self._vehicle(request)
        self._require(grant, ["vehicle_cmds", "vehicle_charging_cmds"])
        raw = _routable_message(await _json_object(request))
        self._paid()
        self._mobile_access(vehicle)
        self._rate(vehicle, "command")
        if vehicle.command_signing == "off":
            raise _envelope_error(422, PROTOCOL_NOT_SUPPORTED_ERROR)
        if is_gcm_command(raw):
            raise _envelope_error(403, GCM_BLOCKED_ERROR)
        if self._state(vehicle) != "online":
            raise _envelope_error(408, ASLEEP_ERROR)
        answer = self.sim.command_car(vehicle).handle(
            raw, lambda name, params: self.sim.execute_command(vehicle, name, params)
        )
        self.sim.touch(vehicle)
        if answer.command is not None:
            request[SIGNED_COMMAND_NAME] = answer.command
        return _ok(base64.b64encode(answer.reply).decode())

    async def users_region(self, request: web.Request) -> web.Response:
        """``GET /api/1/users/region``: answered in any region."""
        grant = self._grant(request, check_region=False)
        self._require(grant, ["user_data"])
        return _ok(
            {
                "region": grant.region.lower(),
                "fleet_api_base_url": region_base_url(grant.region),
            }
        )

    # --- partner accounts -----------------------------------------------------

    async def register_partner(self, request: web.Request) -> web.Response:
        """``POST /api/1/partner_accounts``: register the application's domain.

        ``{"domain": "<lowercase host>"}``; the public key is downloaded from
        the domain (or the simulator's key origin) before the answer.
        """
        grant = self._partner(request)
        body = await _json_object(request)
        try:
            account = await self.sim.partners.enroll(
                grant.client_id, body.get("domain")
            )
        except PartnerError as err:
            raise _envelope_error(err.status, err.error) from err
        return _ok(account.as_response())

    async def partner_public_key(self, request: web.Request) -> web.Response:
        """``GET /api/1/partner_accounts/public_key?domain=...``: the registered key."""
        self._partner(request)
        domain = request.query.get("domain")
        if not domain:
            raise _envelope_error(400, "invalid_field", description="domain")
        account = self.sim.partners.by_domain(domain)
        if account is None:
            raise _envelope_error(404, "not_found")
        return _ok({"public_key": account.public_key.hex()})

    async def proxy_health(self, _request: web.Request) -> web.Response:
        """``GET /proxy/health`` of the command proxy."""
        return web.json_response({"status": "ok"})

    # --- OAuth ----------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        """``POST /oauth2/v3/token``: code exchange, refresh, partner token."""
        form = await self._form(request)
        grant_type = form.get("grant_type")
        client_id = form.get("client_id")
        try:
            if grant_type == "refresh_token":
                refresh_token = form.get("refresh_token")
                if not client_id or not refresh_token:
                    return _oauth_error(400, "invalid_request")
                answer = self.sim.tokens.refresh(client_id, refresh_token)
            elif grant_type == "authorization_code":
                code = form.get("code")
                if not client_id or not code:
                    return _oauth_error(400, "invalid_request")
                answer = self.sim.tokens.exchange_code(client_id, code)
            elif grant_type == "client_credentials":
                answer = self.sim.tokens.partner_token(
                    client_id,
                    form.get("client_secret"),
                    form.get("scope"),
                    form.get("audience"),
                    self._audiences(request),
                )
            elif not grant_type:
                return _oauth_error(400, "invalid_request")
            else:
                return _oauth_error(400, "unsupported_grant_type")
        except TokenError as err:
            return web.json_response(err.body(), status=err.status)
        return web.json_response(answer)

    def _audiences(self, request: web.Request) -> set[str]:
        """Audiences of a partner token: this region's base URL, or our origin."""
        return {region_base_url(self.sim.region), str(request.url.origin())}

    @staticmethod
    async def _form(request: web.Request) -> dict[str, str]:
        if request.content_type == "application/json":
            data = await _json_object(request)
            return {k: v for k, v in data.items() if isinstance(v, str)}
        form = await request.post()
        return {k: v for k, v in form.items() if isinstance(v, str)}


def _oauth_error(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)


class _SimControl:
    """``/sim/...``: inspection and control for tests and development."""

    def __init__(self, sim: FleetSimulator) -> None:
        self.sim = sim

    async def stats(self, _request: web.Request) -> web.Response:
        """Counters, cost estimate, awake time."""
        return web.json_response(self.sim.stats_dict())

    async def reset_stats(self, _request: web.Request) -> web.Response:
        """Zero counters, request log and awake time."""
        self.sim.reset_stats()
        return web.json_response({"ok": True})

    async def requests(self, request: web.Request) -> web.Response:
        """The request log, newest last (``?limit=N``)."""
        try:
            limit = int(request.query.get("limit", "0"))
        except ValueError as err:
            raise _envelope_error(400, "invalid_limit") from err
        records = self.sim.requests[-limit:] if limit > 0 else self.sim.requests
        return web.json_response([r.as_dict() for r in records])

    async def add_fault(self, request: web.Request) -> web.Response:
        """Script a fault from JSON (the fields of :class:`Fault`)."""
        body = await _json_object(request)
        try:
            fault = Fault.from_dict(body)
        except ValueError as err:
            raise _envelope_error(400, "invalid_fault", description=str(err)) from err
        self.sim.add_fault(fault)
        return web.json_response({"faults": len(self.sim.faults)}, status=201)

    async def clear_faults(self, _request: web.Request) -> web.Response:
        """Remove every scripted fault."""
        return web.json_response({"removed": self.sim.clear_faults()})

    async def issue_tokens(self, request: web.Request) -> web.Response:
        """A new token pair without the OAuth dance (``scopes``, ``region``)."""
        body = await _json_object(request)
        scopes = body.get("scopes")
        region = body.get("region")
        if scopes is not None and (
            not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)
        ):
            raise _envelope_error(400, "invalid_field", description="scopes")
        if region is not None and not isinstance(region, str):
            raise _envelope_error(400, "invalid_field", description="region")
        try:
            tokens = self.sim.issue_tokens(scopes, region)
        except ValueError as err:
            raise _envelope_error(400, "invalid_field", description=str(err)) from err
        return web.json_response(tokens)

    def _account(self) -> dict[str, Any]:
        sim = self.sim
        return {
            "monthly_limit_usd": sim.monthly_limit_usd,
            "account_disabled": sim.account_disabled,
            "paid_usd_this_month": round(sim.paid_usd_this_month(), 6),
            "disabled_until": sim.account_disabled_until(),
            "retry_after_header": sim.retry_after_header,
            "drive_state_needs_location": sim.drive_state_needs_location,
        }

    async def account(self, _request: web.Request) -> web.Response:
        """The account-level settings and whether paid requests are refused."""
        return web.json_response(self._account())

    async def update_account(self, request: web.Request) -> web.Response:
        """Change the account-level settings (the fields ``GET`` shows).

        ``monthly_limit_usd`` (null: none), ``account_disabled``,
        ``retry_after_header``, ``drive_state_needs_location``.
        """
        body = await _json_object(request)
        try:
            changes = _account_changes(body)
        except (TypeError, ValueError) as err:
            raise _envelope_error(400, "invalid_field", description=str(err)) from err
        for name, value in changes.items():
            setattr(self.sim, name, value)
        return web.json_response(self._account())

    async def vehicles(self, _request: web.Request) -> web.Response:
        """Internal state of every vehicle."""
        return web.json_response(
            [self._describe(v) for v in self.sim.vehicles.values()]
        )

    async def update_vehicle(self, request: web.Request) -> web.Response:
        """Change a vehicle: plug, position, battery, sleep, forced state, signing."""
        vehicle = self.sim.find_vehicle(request.match_info["vin"])
        if vehicle is None:
            raise _envelope_error(404, "not_found")
        body = await _json_object(request)
        try:
            self._apply_update(vehicle, body)
        except (TypeError, ValueError) as err:
            raise _envelope_error(400, "invalid_field", description=str(err)) from err
        return web.json_response(self._describe(vehicle))

    async def pair_key(self, request: web.Request) -> web.Response:
        """Pair a client key as the owner would through ``tesla.com/_ak/<domain>``.

        ``{"public_key": "<PEM or hex point>", "domain": "<partner domain>"}``,
        or only ``{"domain": ...}``: the key registered for that domain
        (``POST /api/1/partner_accounts``).
        """
        vehicle = self.sim.find_vehicle(request.match_info["vin"])
        if vehicle is None:
            raise _envelope_error(404, "not_found")
        body = await _json_object(request)
        try:
            if "domain" in body and "public_key" not in body:
                key, domain = self._registered_key(body)
            else:
                key, domain = _pairing(body, {"public_key", "domain"})
            self.sim.pair_key(vehicle.vin, key, domain)
        except (TypeError, ValueError) as err:
            raise _envelope_error(400, "invalid_field", description=str(err)) from err
        return web.json_response(self._describe(vehicle))

    def _registered_key(self, body: dict[str, Any]) -> tuple[bytes, str]:
        """The key registered for ``body["domain"]`` (TypeError/ValueError)."""
        if unknown := set(body) - {"domain"}:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        domain = body["domain"]
        if not isinstance(domain, str):
            raise TypeError("domain must be a string")
        account = self.sim.partners.by_domain(domain)
        if account is None:
            raise ValueError(
                f"no partner account is registered for domain {domain!r}: "
                "register it first (POST /api/1/partner_accounts), "
                "or give the public_key"
            )
        return account.public_key, domain

    async def partner_accounts(self, _request: web.Request) -> web.Response:
        """The partner accounts registered (domain, key as hex, by application)."""
        return web.json_response(
            [account.as_dict() for account in self.sim.partners.accounts.values()]
        )

    async def unpair_key(self, request: web.Request) -> web.Response:
        """Remove a key from the keychain (``{"public_key": ...}``; ``{}``: all)."""
        vehicle = self.sim.find_vehicle(request.match_info["vin"])
        if vehicle is None:
            raise _envelope_error(404, "not_found")
        body = await _json_object(request)
        try:
            key = _pairing(body, {"public_key"})[0] if body else None
        except (TypeError, ValueError) as err:
            raise _envelope_error(400, "invalid_field", description=str(err)) from err
        removed = self.sim.unpair_key(vehicle.vin, key)
        return web.json_response({**self._describe(vehicle), "unpaired": removed})

    def _apply_update(self, vehicle: SimVehicle, body: dict[str, Any]) -> None:
        known = {
            "forced_state",
            "battery_level",
            "position",
            "plugged_in",
            "asleep",
            "command_signing",
            "key_paired",
            "drive_to",
            *_QUIRK_FIELDS,
        }
        if unknown := set(body) - known:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        vin = vehicle.vin
        _apply_quirks(self.sim, vehicle, body)
        if "forced_state" in body:
            state = body["forced_state"]
            if state not in {"online", "asleep", "offline", None}:
                raise ValueError("forced_state must be online, asleep, offline or null")
            self.sim.sync(vehicle)
            vehicle.forced_state = cast("VehicleState | None", state)
        if "battery_level" in body:
            level = body["battery_level"]
            if not isinstance(level, int | float) or not 0 <= level <= 100:
                raise ValueError("battery_level must be 0-100")
            self.sim.sync(vehicle)
            vehicle.battery_level = float(level)
        if "position" in body:
            lat, lon = body["position"]
            self.sim.move_to(vin, float(lat), float(lon))
        if "plugged_in" in body:
            if body["plugged_in"]:
                self.sim.plug_in(vin)
            else:
                self.sim.unplug(vin)
        if body.get("asleep"):
            self.sim.put_to_sleep(vin)
        if "command_signing" in body:
            signing = body["command_signing"]
            if signing not in {"off", "allowed", "required"}:
                raise ValueError("command_signing must be off, allowed or required")
            vehicle.command_signing = signing
        if "key_paired" in body:
            vehicle.key_paired = bool(body["key_paired"])
        if "drive_to" in body:
            self._start_drive(vin, body["drive_to"])

    def _start_drive(self, vin: str, drive: Any) -> None:
        """Start ``drive_to``: ``{"position": [lat, lon], "minutes": m}``.

        Optionally ``"destination_name"`` (the car navigates there) and
        ``"plug_in_after_s"`` (the cable goes in after arriving).
        """
        if not isinstance(drive, dict):
            raise TypeError("drive_to must be an object")
        if unknown := set(drive) - {
            "position",
            "minutes",
            "destination_name",
            "plug_in_after_s",
        }:
            raise ValueError(f"unknown drive_to fields: {sorted(unknown)}")
        position: Any = drive.get("position") or ()
        lat, lon = position
        minutes = drive.get("minutes")
        if not isinstance(minutes, int | float) or not 0 < minutes <= 24 * 60:
            raise ValueError("drive_to.minutes must be more than 0, at most a day")
        name = drive.get("destination_name")
        if name is not None and not isinstance(name, str):
            raise TypeError("drive_to.destination_name must be a string")
        plug = drive.get("plug_in_after_s")
        if plug is not None and (not isinstance(plug, int | float) or plug < 0):
            raise ValueError("drive_to.plug_in_after_s must be 0 or more")
        self.sim.drive_to(
            vin,
            (float(lat), float(lon)),
            float(minutes) * 60,
            destination_name=name,
            plug_in_after=None if plug is None else float(plug),
        )

    def _describe(self, v: SimVehicle) -> dict[str, Any]:
        state = self.sim.state(v.vin)
        lat, lon = self.sim.position(v)
        return {
            "vin": v.vin,
            "id": v.id,
            "display_name": v.display_name,
            "state": state,
            "forced_state": v.forced_state,
            "latitude": lat,
            "longitude": lon,
            "driving": v.driving,
            "battery_level": round(v.battery_level, 3),
            "charge_limit_soc": v.charge_limit_soc,
            "plugged_in": v.plugged_in,
            "charging_state": v.charging_state,
            "charge_power_kw": v.charge_power_kw,
            "charge_schedules": [s.as_dict() for s in v.charge_schedules],
            "scheduled_charging_enabled": v.scheduled_charging_enabled,
            "scheduled_charging_start_time": v.scheduled_charging_start_time,
            "command_signing": v.command_signing,
            "key_paired": v.key_paired,
            "paired_keys": [key.as_dict() for key in v.paired_keys.values()],
            "awake_seconds": round(v.awake_seconds, 3),
            "awake_seconds_caused": round(v.awake_seconds_caused, 3),
            "last_activity": v.last_activity if v.last_activity > 0 else None,
            "wake_at": v.wake_at,
            "pending_events": len(v.pending),
            "removed": v.removed,
            "mobile_access_disabled": v.mobile_access_disabled,
            "record_overrides": v.record_overrides,
            "record_missing": v.record_missing,
            "data_overrides": v.data_overrides,
            "data_missing": v.data_missing,
            "charger_report": {
                "voltage": v.reported_charger_voltage,
                "phases": v.reported_charger_phases,
            },
            "gps_lag_s": v.gps_lag_s,
            "schedule_ids": v.schedule_ids,
            "unknown_key_answer": v.unknown_key_answer,
            "float32_positions": v.float32_positions,
        }


_QUIRK_FIELDS: Final = frozenset(
    {
        "removed",
        "mobile_access_disabled",
        "record_overrides",
        "record_missing",
        "data_overrides",
        "data_missing",
        "charger_report",
        "gps_lag_s",
        "schedule_ids",
        "unknown_key_answer",
        "float32_positions",
        "renumber_schedules",
    }
)
"""``POST /sim/vehicles/{vin}`` fields that switch on the real-world shapes."""


def _routable_message(body: dict[str, Any]) -> bytes:
    """The bytes of ``routable_message`` (standard base64); 400 otherwise."""
    encoded = body.get("routable_message")
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded, validate=True)
        except ValueError:
            pass
    raise _envelope_error(400, "invalid_field", description="routable_message")


def _pairing(body: dict[str, Any], allowed: set[str]) -> tuple[bytes, str]:
    """The 65-byte key and the domain of a pairing body (TypeError/ValueError)."""
    if unknown := set(body) - allowed:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    key, domain = body.get("public_key"), body.get("domain", "")
    if not isinstance(key, str):
        raise TypeError("public_key must be a PEM or hex string")
    if not isinstance(domain, str):
        raise TypeError("domain must be a string")
    return parse_client_key(key), domain


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a list of strings")
    return list(value)


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be an object")
    return dict(value)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body[name]
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false")
    return value


_ACCOUNT_FLAGS: Final = frozenset(
    {"account_disabled", "retry_after_header", "drive_state_needs_location"}
)


def _account_changes(body: dict[str, Any]) -> dict[str, bool | float | None]:
    """The checked settings of ``POST /sim/account``."""
    if unknown := set(body) - _ACCOUNT_FLAGS - {"monthly_limit_usd"}:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    changes: dict[str, bool | float | None] = {
        name: _flag(body, name) for name in _ACCOUNT_FLAGS & set(body)
    }
    if "monthly_limit_usd" in body:
        limit = body["monthly_limit_usd"]
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int | float) or limit < 0
        ):
            raise ValueError("monthly_limit_usd must be 0 or more, or null")
        changes["monthly_limit_usd"] = None if limit is None else float(limit)
    return changes


def _apply_quirks(
    sim: FleetSimulator, vehicle: SimVehicle, body: dict[str, Any]
) -> None:
    """The fields of ``_QUIRK_FIELDS`` (each checked before anything changes)."""
    changes: dict[str, Any] = {}
    for name in ("removed", "mobile_access_disabled", "float32_positions"):
        if name in body:
            changes[name] = _flag(body, name)
    for name in ("record_overrides", "data_overrides"):
        if name in body:
            changes[name] = _object(body[name], name)
    for name in ("record_missing", "data_missing"):
        if name in body:
            changes[name] = _string_list(body[name], name)
    if "charger_report" in body:
        report = body["charger_report"] or {}
        report = _object(report, "charger_report")
        if unknown := set(report) - {"voltage", "phases"}:
            raise ValueError(f"unknown charger_report fields: {sorted(unknown)}")
        for key in ("voltage", "phases"):
            value = report.get(key)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value <= 0
            ):
                raise ValueError(f"charger_report.{key} must be a positive integer")
        changes["reported_charger_voltage"] = report.get("voltage")
        changes["reported_charger_phases"] = report.get("phases")
    if "gps_lag_s" in body:
        lag = body["gps_lag_s"]
        if isinstance(lag, bool) or not isinstance(lag, int | float) or lag < 0:
            raise ValueError("gps_lag_s must be 0 or more seconds")
        changes["gps_lag_s"] = float(lag)
    if "schedule_ids" in body:
        if body["schedule_ids"] not in {"kept", "car_assigned"}:
            raise ValueError("schedule_ids must be kept or car_assigned")
        changes["schedule_ids"] = body["schedule_ids"]
    if "unknown_key_answer" in body:
        if body["unknown_key_answer"] not in {"fault", "whitelist_status"}:
            raise ValueError("unknown_key_answer must be fault or whitelist_status")
        changes["unknown_key_answer"] = body["unknown_key_answer"]
    renumber = (
        _flag(body, "renumber_schedules") if "renumber_schedules" in body else False
    )
    sim.sync(vehicle)
    for name, value in changes.items():
        setattr(vehicle, name, value)
    if renumber:
        sim.renumber_schedules(vehicle.vin)


def create_app(sim: FleetSimulator) -> web.Application:
    """Build the simulator's aiohttp application around ``sim``."""
    app = web.Application(middlewares=[_tesla_middleware])
    app[SIMULATOR_KEY] = sim
    api = _FleetApi(sim)
    control = _SimControl(sim)
    router = app.router
    for prefix in ("", "/proxy"):
        base = f"{prefix}/api/1"
        router.add_get(f"{base}/vehicles", api.list_vehicles)
        router.add_post(f"{base}/vehicles/fleet_status", api.fleet_status)
        router.add_get(f"{base}/vehicles/{{vin}}", api.vehicle)
        router.add_get(f"{base}/vehicles/{{vin}}/vehicle_data", api.vehicle_data)
        router.add_post(f"{base}/vehicles/{{vin}}/wake_up", api.wake_up)
        router.add_post(f"{base}/vehicles/{{vin}}/command/{{command}}", api.command)
        router.add_get(f"{base}/users/region", api.users_region)
    # Only Fleet API relays signed commands; the proxy signs REST commands itself.
    router.add_post("/api/1/vehicles/{vin}/signed_command", api.signed_command)
    router.add_get("/proxy/health", api.proxy_health)
    router.add_post("/api/1/partner_accounts", api.register_partner)
    router.add_get("/api/1/partner_accounts/public_key", api.partner_public_key)
    router.add_post("/oauth2/v3/token", api.token)
    router.add_get("/sim/stats", control.stats)
    router.add_post("/sim/reset_stats", control.reset_stats)
    router.add_get("/sim/requests", control.requests)
    router.add_post("/sim/faults", control.add_fault)
    router.add_delete("/sim/faults", control.clear_faults)
    router.add_post("/sim/tokens", control.issue_tokens)
    router.add_get("/sim/account", control.account)
    router.add_post("/sim/account", control.update_account)
    router.add_get("/sim/vehicles", control.vehicles)
    router.add_post("/sim/vehicles/{vin}", control.update_vehicle)
    router.add_post("/sim/vehicles/{vin}/pair", control.pair_key)
    router.add_post("/sim/vehicles/{vin}/unpair", control.unpair_key)
    router.add_get("/sim/partner_accounts", control.partner_accounts)
    return app
