"""Commands signed in-process: Tesla's Vehicle Command Protocol, by the field's library.

Since 2024 almost every Tesla accepts only signed commands. ``tesla-fleet-api``
(what Home Assistant core's ``tesla_fleet`` and ``teslemetry`` use) builds the
protocol's messages, keeps a session per car and signs them with the
application's key. Every request it makes goes through our
:class:`~.client.TeslaFleetClient` (:meth:`~.client.TeslaFleetClient.signed_request`),
so it is counted, carries the token keeper's token, meets our typed errors and
our base URL; the library never sends on its own and never refreshes a token.
Its errors (``BaseException`` subclasses in that library) end here, as ours.

The same calls work on every version Home Assistant pins (1.0.17 in 2025.4 …
1.19 in 2026.11): the charge schedules are built as protocol messages here,
since 1.0.17 sends them unsigned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
import logging
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from tesla_fleet_api import TeslaFleetApi, exceptions as library
from tesla_fleet_api.tesla.vehicle.proto.car_server_pb2 import (
    Action,
    RemoveChargeScheduleAction,
    VehicleAction,
)
from tesla_fleet_api.tesla.vehicle.proto.common_pb2 import (
    ChargeSchedule as ChargeScheduleMessage,
)

from .errors import (
    CommandFailedError,
    KeyNotPairedError,
    MalformedResponseError,
    SignedCommandRefusedError,
)

_LOGGER = logging.getLogger(__name__)

type SignedRequest = Callable[[str, str, Any], Awaitable[Mapping[str, Any]]]
"""Sends one request of the library: ``(method, path, json)`` → the answer."""

DAYS_MASK = {
    "all": 127,
    "sun": 1,
    "mon": 2,
    "tue": 4,
    "wed": 8,
    "thu": 16,
    "fri": 32,
    "sat": 64,
}
"""``days_of_week`` as the REST command takes it → the protocol's bit mask."""

KEY_NOT_PAIRED_FAULTS: tuple[type[BaseException], ...] = (
    library.NotOnWhitelistFault,
    library.TeslaFleetMessageFaultUnknownKeyId,
    library.TeslaFleetMessageFaultInactiveKey,
)
"""What the car answers to a key it does not know (not paired, or removed)."""

RESYNC_FAULTS: tuple[type[BaseException], ...] = (
    library.TeslaFleetMessageFaultTimeExpired,
)
"""The car's clock is not where our session thinks (it jumped): Tesla's
answer says to take its session info and try again, which a fresh session (a
new handshake) does. The library retries a new epoch and a bad counter
itself."""


def days_mask(days_of_week: str | int) -> int:
    """``"All"``, ``"Mon,Tue"`` or a mask: the mask (Sunday = 1 … Saturday = 64)."""
    if isinstance(days_of_week, int):
        return days_of_week
    mask = 0
    for day in days_of_week.split(","):
        name = day.strip().lower()[:3]
        if name not in DAYS_MASK:
            msg = f"unknown day {day!r}"
            raise ValueError(msg)
        mask |= DAYS_MASK[name]
    return mask


class _ThroughOurClient(TeslaFleetApi):  # type: ignore[misc]
    """The library's API object, sending nothing itself: our client sends."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        send: SignedRequest,
        base_url: str,
        private_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        # The session only keeps newer versions from opening one of their own.
        super().__init__(
            session,
            access_token="",
            server=base_url,
            charging_scope=False,
            energy_scope=False,
            partner_scope=False,
            user_scope=False,
            vehicle_scope=True,
        )
        self.private_key = private_key
        self._send_request = send

    async def _request(
        self,
        method: Any,
        path: str,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Every request of the library (the signed_command endpoint) goes here."""
        return dict(await self._send_request(str(method), f"/{path.lstrip('/')}", json))


class CommandSigner:
    """Signs and sends commands to the cars of one account, a session per car."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        send: SignedRequest,
        base_url: str,
        private_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        """``send`` is the client's :meth:`~.client.TeslaFleetClient.signed_request`."""
        self._api = _ThroughOurClient(session, send, base_url, private_key)
        self._cars: dict[str, Any] = {}

    def _car(self, vin: str) -> Any:
        """The library's signed vehicle: it keeps the car's sessions (counters)."""
        if (car := self._cars.get(vin)) is None:
            car = self._cars[vin] = self._api.vehicles.createSigned(vin)
        return car

    async def command(
        self, vin: str, name: str, body: Mapping[str, Any]
    ) -> tuple[bool, str]:
        """Send command ``name`` (a REST command's name and body), signed.

        Returns the car's ``(result, reason)``; raises our errors only.
        """
        try:
            car = self._car(vin)
            try:
                answer = await self._dispatch(car, name, body)
            except RESYNC_FAULTS:
                # Once, with a new session: the command was not carried out.
                # A command sent at the same time may have made it already.
                if self._cars.get(vin) is car:
                    del self._cars[vin]
                answer = await self._dispatch(self._car(vin), name, body)
        except KEY_NOT_PAIRED_FAULTS as err:
            msg = "the car does not know this application's key"
            raise KeyNotPairedError(msg) from err
        except library.TeslaFleetError as err:
            raise SignedCommandRefusedError(type(err).__name__) from err
        response = answer.get("response") if isinstance(answer, Mapping) else None
        if not isinstance(response, Mapping) or not isinstance(
            response.get("result"), bool
        ):
            msg = f"{name} answer has no result"
            raise MalformedResponseError(msg)
        return response["result"], str(response.get("reason") or "")

    async def _dispatch(self, car: Any, name: str, body: Mapping[str, Any]) -> Any:
        if name == "charge_start":
            return await car.charge_start()
        if name == "charge_stop":
            return await car.charge_stop()
        if name == "set_charge_limit":
            return await car.set_charge_limit(int(body["percent"]))
        if name == "set_charging_amps":
            return await car.set_charging_amps(int(body["charging_amps"]))
        if name == "set_scheduled_charging":
            return await car.set_scheduled_charging(
                bool(body["enable"]), int(body["time"])
            )
        if name == "add_charge_schedule":
            schedule = ChargeScheduleMessage(
                days_of_week=days_mask(body["days_of_week"]),
                enabled=bool(body.get("enabled", True)),
                start_enabled=bool(body.get("start_enabled")),
                end_enabled=bool(body.get("end_enabled")),
                latitude=float(body["lat"]),
                longitude=float(body["lon"]),
                one_time=bool(body.get("one_time", False)),
            )
            for field in ("start_time", "end_time", "id"):
                if body.get(field) is not None:
                    setattr(schedule, field, int(body[field]))
            return await car._sendInfotainment(  # noqa: SLF001
                Action(vehicleAction=VehicleAction(addChargeScheduleAction=schedule))
            )
        if name == "remove_charge_schedule":
            return await car._sendInfotainment(  # noqa: SLF001
                Action(
                    vehicleAction=VehicleAction(
                        removeChargeScheduleAction=RemoveChargeScheduleAction(
                            id=int(body["id"])
                        )
                    )
                )
            )
        raise CommandFailedError(name, "not_signable")
