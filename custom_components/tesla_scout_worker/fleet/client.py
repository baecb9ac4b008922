"""An async client for the parts of Tesla's Fleet API this project uses.

No Home Assistant imports: the session, the token source and the request
listener are injected. This is the one place where a request is sent, counted
and where a car can be woken (:meth:`TeslaFleetClient.wake_up`).

Long on purpose: every request the integration sends, signed ones included
(``signing.py`` sends through :meth:`TeslaFleetClient.signed_request`), goes
through this one class, so each is counted and meets one token and one error
tree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
import logging
import ssl
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from .billing import RequestCategory
from .errors import (
    CommandFailedError,
    MalformedResponseError,
    TeslaConnectionError,
    TokenExpiredError,
    TokenNotRefreshedError,
)
from .models import CommandResult, FleetStatus, Vehicle, VehicleData, vin_tail
from .transport import RequestListener, raise_for_status, read_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from .signing import CommandSigner

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0
"""Seconds for one Fleet API request; the car's answers can take a while."""

COMMAND_SUCCESS_REASONS = frozenset(
    {"already_set", "not_charging", "is_charging", "complete", "requested"}
)
"""Refusals that mean the car is already where the command would take it."""

LIVE_ENDPOINTS = (
    "charge_state",
    "climate_state",
    "closures_state",
    "drive_state",
    "gui_settings",
    "location_data",
    "charge_schedule_data",
    "preconditioning_schedule_data",
    "vehicle_config",
    "vehicle_state",
)


class VehicleList(list[Vehicle]):
    """The account's vehicles, and whether Tesla sent records it could not read.

    A car missing from an incomplete list may be in an unreadable record: it
    is not taken as gone from the account.
    """

    unreadable: int = 0
    """Records skipped because they could not be read."""


class TokenProvider(Protocol):
    """Gives the client a valid access token; forced after Tesla rejected one."""

    async def __call__(self, *, force_refresh: bool = False) -> str:
        """Return an access token."""


@dataclass(kw_only=True)
class TeslaFleetClient:
    """Fleet API client for one account.

    ``command_base_url`` points commands at a signed-command proxy (Tesla's
    ``tesla-http-proxy``); ``command_ssl`` is its TLS setting (``False`` to skip
    verification of a self-signed certificate, or an ``SSLContext`` with its CA).
    """

    session: aiohttp.ClientSession
    token_provider: TokenProvider
    api_base_url: str
    command_base_url: str | None = None
    command_ssl: ssl.SSLContext | bool = True
    request_timeout: float = REQUEST_TIMEOUT
    on_request: RequestListener | None = None
    signing_key: ec.EllipticCurvePrivateKey | None = None
    """The application's key: with it, commands are signed in-process."""
    signer: CommandSigner | None = field(default=None, init=False, repr=False)
    """Signs commands in-process (``signing.py``), for the cars that need it."""
    signing_required: set[str] = field(default_factory=set)
    """Cars whose record says ``command_signing: required``."""
    _unreadable_seen: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        """With a key, the signer: it sends through :meth:`signed_request`."""
        if self.signing_key is not None:
            # Imported only when used: the library is large.
            from .signing import CommandSigner

            self.signer = CommandSigner(
                self.session, self.signed_request, self.api_base_url, self.signing_key
            )

    """Unreadable vehicle records already logged (each is logged once)."""

    async def vehicles(self) -> VehicleList:
        """All vehicles of the account (every page). Never wakes a car.

        A record that cannot be read (no VIN, not an object) is skipped, not
        the whole list: one odd record must not hide every other car.
        """
        vehicles = VehicleList()
        page = 1
        while True:
            payload = await self._request(
                "GET",
                "/api/1/vehicles",
                RequestCategory.STATE,
                params={"page": str(page)} if page > 1 else None,
            )
            items = payload.get("response")
            if not isinstance(items, list):
                msg = "vehicle list is not a list"
                raise MalformedResponseError(msg)
            for index, item in enumerate(items):
                try:
                    vehicles.append(self._note_signing(_parse_vehicle(item)))
                except MalformedResponseError as err:
                    vehicles.unreadable += 1
                    self._skip_unreadable(item, (page, index), err)
            next_page = _next_page(payload.get("pagination"), page)
            if next_page is None:
                return vehicles
            page = next_page

    async def vehicle(self, vin: str) -> Vehicle:
        """One vehicle record: Tesla's recommended "is it awake?" check."""
        payload = await self._request(
            "GET", f"/api/1/vehicles/{vin}", RequestCategory.STATE
        )
        return self._note_signing(_parse_vehicle(payload.get("response"), vin))

    def _note_signing(self, vehicle: Vehicle) -> Vehicle:
        """Route the car's commands by what its record says it needs."""
        if vehicle.command_signing == "required":
            self.signing_required.add(vehicle.vin)
        elif vehicle.command_signing is not None:
            self.signing_required.discard(vehicle.vin)
        return vehicle

    async def vehicle_data(self, vin: str, endpoints: Iterable[str]) -> VehicleData:
        """Live data from the car; raises :class:`VehicleUnavailableError` if asleep.

        Position comes only with the ``location_data`` endpoint.
        """
        wanted = ";".join(dict.fromkeys(endpoints))
        payload = await self._request(
            "GET",
            f"/api/1/vehicles/{vin}/vehicle_data",
            RequestCategory.DATA,
            params={"endpoints": wanted} if wanted else None,
        )
        response = payload.get("response")
        if not isinstance(response, Mapping):
            msg = "vehicle_data answer has no response object"
            raise MalformedResponseError(msg)
        return VehicleData.from_dict(response, vin)

    async def wake_up(self, vin: str) -> Vehicle:
        """Ask a sleeping car to come online (billed as a wake, $1 per 50).

        Always sent to the Fleet API itself: Tesla's proxy would repeat it every
        ten seconds until the car is up, each one billed. The car takes 10–60 s.
        """
        _LOGGER.debug("Waking vehicle %s", vin_tail(vin))
        payload = await self._request(
            "POST", f"/api/1/vehicles/{vin}/wake_up", RequestCategory.WAKE
        )
        return _parse_vehicle(payload.get("response"), vin)

    async def fleet_status(self, vins: Iterable[str]) -> FleetStatus:
        """Which cars have our key paired and which need signed commands."""
        payload = await self._request(
            "POST",
            "/api/1/vehicles/fleet_status",
            RequestCategory.DATA,
            json={"vins": list(vins)},
        )
        response = payload.get("response")
        if not isinstance(response, Mapping):
            msg = "fleet_status answer has no response object"
            raise MalformedResponseError(msg)
        return FleetStatus.from_dict(response)

    async def command(
        self, vin: str, name: str, body: Mapping[str, Any] | None = None
    ) -> CommandResult:
        """Send a command, through the proxy when one is configured.

        A refusal whose reason means "already so" counts as success; any other
        refusal raises :class:`CommandFailedError`.
        """
        if self.signer is not None and self.signs(vin):
            result, reason = await self.signer.command(vin, name, body or {})
        else:
            payload = await self._request(
                "POST",
                f"/api/1/vehicles/{vin}/command/{name}",
                RequestCategory.COMMAND,
                json=dict(body or {}),
                base_url=self.command_base_url,
                ssl_setting=self.command_ssl if self.command_base_url else True,
            )
            response = payload.get("response")
            if not isinstance(response, Mapping) or not isinstance(
                response.get("result"), bool
            ):
                msg = f"{name} answer has no result"
                raise MalformedResponseError(msg)
            result, reason = response["result"], str(response.get("reason") or "")
        if not result and reason not in COMMAND_SUCCESS_REASONS:
            raise CommandFailedError(name, reason or "unknown")
        _LOGGER.debug("Vehicle %s accepted %s", vin_tail(vin), name)
        return CommandResult(result=bool(result), reason=reason)

    def signs(self, vin: str) -> bool:
        """Whether commands to ``vin`` are signed here, in-process.

        For a car whose record says it needs signed commands, when a key is
        set (:attr:`signer`) and no proxy is: the user's proxy, when there is
        one, signs instead. Other cars get plain REST commands.
        """
        return (
            self.signer is not None
            and not self.command_base_url
            and vin in self.signing_required
        )

    async def signed_request(
        self, method: str, path: str, json: Any = None
    ) -> Mapping[str, Any]:
        """One request of the signer (the ``signed_command`` endpoint), sent here.

        Counted as a command, with the keeper's token, never through the proxy.
        """
        return await self._request(method, path, RequestCategory.COMMAND, json=json)

    async def charge_start(self, vin: str) -> CommandResult:
        """Start charging."""
        return await self.command(vin, "charge_start")

    async def charge_stop(self, vin: str) -> CommandResult:
        """Stop charging."""
        return await self.command(vin, "charge_stop")

    async def set_charge_limit(self, vin: str, percent: int) -> CommandResult:
        """Set the charge limit (50–100 %)."""
        return await self.command(vin, "set_charge_limit", {"percent": percent})

    async def set_charging_amps(self, vin: str, amps: int) -> CommandResult:
        """Set the charging current."""
        return await self.command(vin, "set_charging_amps", {"charging_amps": amps})

    async def set_scheduled_charging(
        self, vin: str, *, enable: bool, minutes_after_midnight: int
    ) -> CommandResult:
        """The older single scheduled-charging start time (before firmware 2024.26)."""
        return await self.command(
            vin,
            "set_scheduled_charging",
            {"enable": enable, "time": minutes_after_midnight},
        )

    async def add_charge_schedule(
        self,
        vin: str,
        *,
        days_of_week: str,
        start_time: int | None,
        end_time: int | None,
        latitude: float,
        longitude: float,
        enabled: bool = True,
        one_time: bool = False,
        schedule_id: int | None = None,
    ) -> CommandResult:
        """Add a charge schedule, or change the one with ``schedule_id``."""
        body: dict[str, Any] = {
            "days_of_week": days_of_week,
            "enabled": enabled,
            "start_enabled": start_time is not None,
            "end_enabled": end_time is not None,
            "lat": latitude,
            "lon": longitude,
            "one_time": one_time,
        }
        if start_time is not None:
            body["start_time"] = start_time
        if end_time is not None:
            body["end_time"] = end_time
        if schedule_id is not None:
            body["id"] = schedule_id
        return await self.command(vin, "add_charge_schedule", body)

    async def remove_charge_schedule(self, vin: str, schedule_id: int) -> CommandResult:
        """Remove one charge schedule."""
        return await self.command(vin, "remove_charge_schedule", {"id": schedule_id})

    def _skip_unreadable(
        self, item: Any, where: tuple[int, int], err: MalformedResponseError
    ) -> None:
        """Say once that a record was skipped (named without a VIN), not each cycle."""
        name = _record_name(item)
        key = name or f"{where[0]}:{where[1]}"
        if key in self._unreadable_seen:
            return
        self._unreadable_seen.add(key)
        _LOGGER.warning(
            "Skipping a vehicle record Tesla sent that cannot be read (%s): %s;"
            " the other vehicles are used",
            name or f"record {where[1] + 1} of page {where[0]}",
            err,
        )

    async def _request(
        self,
        method: str,
        path: str,
        category: RequestCategory,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        base_url: str | None = None,
        ssl_setting: ssl.SSLContext | bool = True,
    ) -> Mapping[str, Any]:
        """Send one request; on a rejected token refresh once and retry once."""
        token = await self.token_provider()
        try:
            return await self._send(
                method, path, category, token, params, json, base_url, ssl_setting
            )
        except TokenExpiredError as err:
            _LOGGER.debug("Access token rejected; refreshing once and retrying")
            rejected = err
        fresh = await self.token_provider(force_refresh=True)
        if fresh == token:
            # No fresh token (the refresh is rate-limited): not a lost login.
            raise TokenNotRefreshedError(
                str(rejected), status=rejected.status, error=rejected.error
            ) from rejected
        token = fresh
        return await self._send(
            method, path, category, token, params, json, base_url, ssl_setting
        )

    async def _send(
        self,
        method: str,
        path: str,
        category: RequestCategory,
        token: str,
        params: Mapping[str, str] | None,
        json: Any,
        base_url: str | None,
        ssl_setting: ssl.SSLContext | bool,
    ) -> Mapping[str, Any]:
        url = f"{(base_url or self.api_base_url).rstrip('/')}{path}"
        status: int | None = None
        try:
            async with (
                asyncio.timeout(self.request_timeout),
                self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token}"},
                    ssl=ssl_setting,
                ) as response,
            ):
                status = response.status
                payload, text = await read_json(response)
                headers = response.headers
        except TimeoutError as err:
            msg = f"timeout after {self.request_timeout:.0f} s"
            raise TeslaConnectionError(msg) from err
        except aiohttp.ClientError as err:
            msg = f"connection failed: {type(err).__name__}"
            raise TeslaConnectionError(msg) from err
        finally:
            if self.on_request is not None:
                self.on_request(category, status)
        raise_for_status(status, payload, text, headers)
        if not isinstance(payload, Mapping):
            msg = "answer is not a JSON object"
            raise MalformedResponseError(msg, status=status)
        return payload


def _next_page(pagination: Any, page: int) -> int | None:
    """The page after ``page``, or ``None`` when this was the last one.

    Only a page number past the current one is followed: an answer that keeps
    naming the same page (or ``true``) must not make the client loop, each
    request billed.
    """
    if not isinstance(pagination, Mapping):
        return None
    value = pagination.get("next")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= page:
        return None
    return value


def _record_name(item: Any) -> str | None:
    """How a log names an unreadable record: its display name, never a VIN."""
    if not isinstance(item, Mapping):
        return None
    name = item.get("display_name")
    return name if isinstance(name, str) and name else None


def _parse_vehicle(item: Any, vin: str | None = None) -> Vehicle:
    """One vehicle record; ``vin`` is the car asked about, if one was."""
    if not isinstance(item, Mapping):
        msg = "vehicle record is not an object"
        raise MalformedResponseError(msg)
    try:
        return Vehicle.from_dict(item, vin)
    except ValueError as err:
        raise MalformedResponseError(str(err)) from err
