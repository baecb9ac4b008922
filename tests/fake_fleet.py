"""A scriptable stand-in for the Fleet API behind ``aioclient_mock``.

Unit tests of the Home Assistant layer want exact control (this car is online
and driving at that position now; the next vehicle_data answers 408) and exact
counts of the requests sent. The full simulator in ``simulator/`` serves the
end-to-end tests and the benchmark.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
import re
import struct
import time
from typing import Any, cast

from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from simulator.vcp import VehicleCommandCar, decode_action
from simulator.vcp_messages import PROTOBUF_MESSAGE, RoutableMessage

from . import load_json_fixture

UNAVAILABLE = {
    "response": None,
    "error": "vehicle unavailable: vehicle is offline or asleep",
    "error_description": "",
}
MISSING_LOCATION_SCOPE = {
    "response": None,
    "error": "Unauthorized missing scopes vehicle_location for vehicle data access",
    "error_description": "",
}


@dataclass
class FakeCar:
    """One car as the fake API reports it."""

    vin: str
    display_name: str = "Test"
    state: str = "asleep"
    latitude: float = 52.2297
    longitude: float = 21.0122
    shift_state: str | None = None
    speed: float | None = None
    battery_level: int = 62
    charge_limit_soc: int = 80
    charging_state: str = "Stopped"
    minutes_to_arrival: float | None = None
    destination: tuple[float, float] | None = None
    firmware: str = "2024.44.25 abcdef"
    charge_schedules: list[dict[str, Any]] = field(default_factory=list)
    wakes_after: int = 0
    """Record checks after a wake_up before the car reads online (0: at once)."""
    woken: bool = False
    gps_age_s: int = 0
    """How much older the position fix is than the data (``gps_as_of``)."""
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Values put into the vehicle_data answer last, by section (odd answers)."""
    renumbers_schedules: bool = False
    """Like Tesla's proxy for id 0: an added schedule whose id the car does not
    hold gets the current epoch time as id; coordinates are kept as float32."""

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = load_json_fixture("vehicle.json")["response"]
        record.update(vin=self.vin, display_name=self.display_name, state=self.state)
        return record

    def vehicle_data(self, endpoints: list[str]) -> dict[str, Any]:
        data: dict[str, Any] = load_json_fixture("vehicle_data.json")["response"]
        data.update(vin=self.vin, display_name=self.display_name, state=self.state)
        data["charge_state"].update(
            battery_level=self.battery_level,
            charge_limit_soc=self.charge_limit_soc,
            charging_state=self.charging_state,
        )
        data["vehicle_state"]["car_version"] = self.firmware
        data["charge_schedule_data"] = {"charge_schedules": self.charge_schedules}
        drive = data["drive_state"]
        drive.update(shift_state=self.shift_state, speed=self.speed)
        for key in list(drive):
            if key.startswith("active_route"):
                del drive[key]
        if self.destination is not None:
            drive["active_route_latitude"], drive["active_route_longitude"] = (
                self.destination
            )
            drive["active_route_minutes_to_arrival"] = self.minutes_to_arrival
        if "location_data" in endpoints:
            drive.update(
                latitude=self.latitude,
                longitude=self.longitude,
                gps_as_of=drive["timestamp"] // 1000 - self.gps_age_s,
            )
        else:
            for key in ("latitude", "longitude", "heading", "native_latitude"):
                drive.pop(key, None)
        for section, values in self.overrides.items():
            data[section].update(values)
        wanted = {
            "charge_state",
            "drive_state",
            "vehicle_state",
            "charge_schedule_data",
        }
        return {
            key: value
            for key, value in data.items()
            if not isinstance(value, dict)
            or key in wanted & {*endpoints, "drive_state"}
        }


@dataclass
class FakeFleet:
    """Answers Fleet API requests for a set of cars and counts them."""

    base_url: str
    cars: dict[str, FakeCar] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    """(kind, vin) of each request: kind is list, data, wake or a command name."""
    faults: list[tuple[str, int, Any, dict[str, str] | None, str | None]] = field(
        default_factory=list
    )
    """Queued answers (kind, status, body, headers, vin or None for any car)
    used before the normal one."""
    bodies: list[tuple[str, Any]] = field(default_factory=list)
    unpaired: set[str] = field(default_factory=set)
    """VINs whose virtual key is not paired (fleet_status)."""
    """(kind, JSON body) of each request."""
    location_scope: bool = True
    """The token has ``vehicle_location``. Without it Tesla (2026) refuses a read
    asking for ``location_data`` (403) and leaves ``drive_state`` out of the
    others."""
    endpoints: list[list[str]] = field(default_factory=list)
    """The ``endpoints`` of each vehicle_data request, in order."""
    _command_cars: dict[str, VehicleCommandCar] = field(
        default_factory=dict, init=False, repr=False
    )
    """Each car's end of the Vehicle Command Protocol (the simulator's)."""

    def add(self, car: FakeCar) -> FakeCar:
        self.cars[car.vin] = car
        return car

    def fail_next(
        self,
        kind: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        vin: str | None = None,
    ) -> None:
        self.faults.append((kind, status, body, headers, vin))

    def count(self, kind: str, vin: str | None = None) -> int:
        return sum(1 for k, v in self.calls if k == kind and vin in (None, v))

    def install(self, aioclient_mock: AiohttpClientMocker) -> None:
        base = re.escape(self.base_url.rstrip("/"))
        aioclient_mock.get(
            re.compile(rf"^{base}/api/1/vehicles(\?.*)?$"), side_effect=self._answer
        )
        aioclient_mock.get(
            re.compile(rf"^{base}/api/1/vehicles/[^/]+/vehicle_data.*$"),
            side_effect=self._answer,
        )
        aioclient_mock.get(
            re.compile(rf"^{base}/api/1/vehicles/[^/?]+$"), side_effect=self._answer
        )
        aioclient_mock.post(
            f"{self.base_url.rstrip('/')}/api/1/vehicles/fleet_status",
            side_effect=self._fleet_status,
        )
        aioclient_mock.post(
            re.compile(rf"^{base}/api/1/vehicles/[^/]+/(wake_up|command/.+)$"),
            side_effect=self._answer,
        )
        aioclient_mock.post(
            re.compile(rf"^{base}/api/1/vehicles/[^/]+/signed_command$"),
            side_effect=self._signed,
        )

    async def _fleet_status(
        self, method: str, url: URL, data: Any
    ) -> AiohttpClientMockResponse:
        self.calls.append(("fleet_status", ""))
        for index, (fault_kind, status, body, _, _) in enumerate(self.faults):
            if fault_kind == "fleet_status":
                del self.faults[index]
                return AiohttpClientMockResponse(method, url, status=status, json=body)
        vins = list(data["vins"])
        return AiohttpClientMockResponse(
            method,
            url,
            json={
                "response": {
                    "key_paired_vins": [v for v in vins if v not in self.unpaired],
                    "unpaired_vins": [v for v in vins if v in self.unpaired],
                    "vehicle_info": {
                        v: {"vehicle_command_protocol_required": True} for v in vins
                    },
                }
            },
        )

    async def _answer(
        self, method: str, url: URL, data: Any
    ) -> AiohttpClientMockResponse:
        parts = url.path.strip("/").split("/")
        vin = parts[3] if len(parts) > 3 else ""
        if len(parts) == 3:
            kind = "list"
        elif len(parts) == 4:
            kind = "record"
        elif parts[4] == "vehicle_data":
            kind = "data"
        elif parts[4] == "wake_up":
            kind = "wake"
        else:
            kind = parts[5]
        self.calls.append((kind, vin))
        if (fault := self._take_fault(kind, vin)) is not None:
            return _fault_response(method, url, fault)
        self.bodies.append((kind, data))
        return self._normal(method, url, kind, vin, data)

    def _take_fault(
        self, kind: str, vin: str
    ) -> tuple[str, int, Any, dict[str, str] | None, str | None] | None:
        """The first fault queued for this kind of request and car, taken off."""
        for index, fault in enumerate(self.faults):
            if fault[0] == kind and fault[4] in (None, vin):
                del self.faults[index]
                return fault
        return None

    async def _signed(
        self, method: str, url: URL, data: Any
    ) -> AiohttpClientMockResponse:
        """``signed_command``: the simulator's car side checks the message.

        Any key is paired, except on the cars in :attr:`unpaired`. A command the
        car runs is recorded under its REST name, as a plain one is, and a fault
        queued for that name is Fleet API's answer to the signed message.
        """
        vin = url.path.strip("/").split("/")[3]
        raw = base64.b64decode(data["routable_message"])
        kind = _command_name(raw) or "signed_command"
        refusal: tuple[bool, str] | None = None
        if (fault := self._take_fault(kind, vin)) is not None:
            status, body = fault[1], fault[2]
            if status == 200 and isinstance(body, dict) and "response" in body:
                # The car's own refusal: it answers inside the signed reply.
                refusal = (False, str(body["response"].get("reason") or ""))
            else:
                self.calls.append((kind, vin))
                return _fault_response(method, url, fault)
        car = self.cars[vin]
        if car.state != "online":
            self.calls.append((kind, vin))
            return AiohttpClientMockResponse(method, url, status=408, json=UNAVAILABLE)
        ends = self._command_cars.get(vin)
        if ends is None:
            ends = self._command_cars[vin] = VehicleCommandCar(
                cast("Any", _Keychain(self, car)), time.time
            )

        def execute(name: str, body: Mapping[str, Any]) -> tuple[bool, str]:
            self.calls.append((name, vin))
            if refusal is not None:
                return refusal
            self.bodies.append((name, dict(body)))
            self._normal(method, url, name, vin, dict(body))
            return True, ""

        answer = ends.handle(raw, execute)
        if answer.command is None:
            # The session handshake (or a refused message): no command ran.
            self.calls.append(("handshake", vin))
        return AiohttpClientMockResponse(
            method,
            url,
            json={"response": base64.b64encode(answer.reply).decode()},
        )

    def _normal(
        self, method: str, url: URL, kind: str, vin: str, body: Any = None
    ) -> AiohttpClientMockResponse:
        if kind == "list":
            records = [car.record() for car in self.cars.values()]
            return AiohttpClientMockResponse(
                method,
                url,
                json={
                    "response": records,
                    "pagination": {"next": None},
                    "count": len(records),
                },
            )
        car = self.cars[vin]
        if kind == "record":
            if car.woken and car.state != "online":
                if car.wakes_after <= 0:
                    car.state = "online"
                car.wakes_after -= 1
            return AiohttpClientMockResponse(
                method, url, json={"response": car.record()}
            )
        if kind == "wake":
            car.woken = True
            return AiohttpClientMockResponse(
                method, url, json={"response": car.record()}
            )
        if car.state != "online":
            return AiohttpClientMockResponse(method, url, status=408, json=UNAVAILABLE)
        if kind == "data":
            endpoints = url.query.get("endpoints", "").split(";")
            self.endpoints.append(endpoints)
            if not self.location_scope and "location_data" in endpoints:
                return AiohttpClientMockResponse(
                    method, url, status=403, json=MISSING_LOCATION_SCOPE
                )
            data = car.vehicle_data(endpoints)
            if not self.location_scope:
                data.pop("drive_state", None)
            return AiohttpClientMockResponse(method, url, json={"response": data})
        if kind == "add_charge_schedule":
            schedule_id = body["id"]
            if car.renumbers_schedules:
                schedule_id = _car_id(car, schedule_id)
            schedule = {
                "id": schedule_id,
                "enabled": body["enabled"],
                "start_enabled": body["start_enabled"],
                "start_time": body.get("start_time"),
                "end_enabled": body["end_enabled"],
                "end_time": body.get("end_time"),
                "days_of_week": 127,
                "one_time": body["one_time"],
                "latitude": _float32(body["lat"], car.renumbers_schedules),
                "longitude": _float32(body["lon"], car.renumbers_schedules),
            }
            car.charge_schedules[:] = [
                s for s in car.charge_schedules if s["id"] != schedule_id
            ] + [schedule]
        elif kind == "remove_charge_schedule":
            car.charge_schedules[:] = [
                s for s in car.charge_schedules if s["id"] != body["id"]
            ]
        elif kind == "charge_start":
            car.charging_state = "Charging"
        elif kind == "charge_stop":
            car.charging_state = "Stopped"
        elif kind == "set_charge_limit":
            car.charge_limit_soc = body["percent"]
        return AiohttpClientMockResponse(
            method, url, json={"response": {"result": True, "reason": ""}}
        )


def _car_id(car: FakeCar, asked: int) -> int:
    """The id a renumbering car files an added schedule under."""
    if any(s["id"] == asked for s in car.charge_schedules):
        return asked  # its own id: a change of that schedule
    new = int(time.time())  # frozen in tests: the epoch second of the add
    while any(s["id"] == new for s in car.charge_schedules):
        new += 1
    return new


def _float32(value: float, as_float32: bool) -> float:
    """``value`` as the car stores it: a float32 when it does."""
    if not as_float32:
        return value
    stored: float = struct.unpack("f", struct.pack("f", value))[0]
    return stored


@dataclass
class _Keychain:
    """What the simulator's car side reads of a car: its VIN, firmware, keys."""

    fleet: FakeFleet
    car: FakeCar
    unknown_key_answer: str = "fault"

    @property
    def vin(self) -> str:
        return self.car.vin

    @property
    def firmware_version(self) -> str:
        return self.car.firmware

    @property
    def paired_keys(self) -> _AnyKeyUnless:
        return _AnyKeyUnless(self.car.vin not in self.fleet.unpaired)


@dataclass(frozen=True)
class _AnyKeyUnless:
    """Every key is on the keychain while ``paired``, none otherwise."""

    paired: bool

    def __contains__(self, key: object) -> bool:
        return self.paired


def _command_name(raw: bytes) -> str | None:
    """The REST name of the command a signed message carries (None: a handshake)."""
    try:
        message = RoutableMessage.decode(raw)
        if message.payload_field != PROTOBUF_MESSAGE:
            return None
        return decode_action(message.payload)[0]
    except Exception:  # noqa: BLE001 - not a readable command: the car answers
        return None


def _fault_response(
    method: str,
    url: URL,
    fault: tuple[str, int, Any, dict[str, str] | None, str | None],
) -> AiohttpClientMockResponse:
    """A queued fault's answer: its status, JSON or text body, and headers."""
    _, status, body, headers, _ = fault
    text = body if isinstance(body, str) else None
    return AiohttpClientMockResponse(
        method,
        url,
        status=status,
        json=None if text is not None else body,
        text=text,
        headers=headers,
    )
