"""A reference client of Tesla's Vehicle Command Protocol, for tests only.

Written from Tesla's Go reference (``teslamotors/vehicle-command``:
``internal/authentication/signer.go`` ``AuthorizeHMAC``/``Decrypt``,
``internal/dispatcher/dispatcher.go`` ``SessionInfoRequest``/``processHello``,
``pkg/protocol/protocol.md``), not from ``tesla-fleet-api`` and not from the
simulator: it has its own wire codec, metadata and MACs, so a slip on the
car's side does not cancel out against the same slip here.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

INFOTAINMENT = 3
VEHICLE_SECURITY = 2
FLAG_ENCRYPT_RESPONSE = 1 << 1
HMAC = 6
HMAC_PERSONALIZED = 8
AES_GCM_RESPONSE = 9

# --- the wire format, minimal and separate from simulator.protowire -----------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def vint(number: int, value: int) -> bytes:
    """A varint field (negative ints as 64-bit two's complement)."""
    return _varint(number << 3) + _varint(value & (1 << 64) - 1)


def ld(number: int, value: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def fixed32(number: int, value: int) -> bytes:
    """A fixed32 field."""
    return _varint(number << 3 | 5) + struct.pack("<I", value)


def float32(number: int, value: float) -> bytes:
    """A float field."""
    return _varint(number << 3 | 5) + struct.pack("<f", value)


def parse(data: bytes) -> dict[int, int | bytes]:
    """Field number to its last value (varints and fixed32 as int)."""
    fields: dict[int, int | bytes] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields[number], pos = _read_varint(data, pos)
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            fields[number], pos = data[pos : pos + length], pos + length
        elif wire == 5:
            fields[number] = struct.unpack("<I", data[pos : pos + 4])[0]
            pos += 4
        else:
            raise ValueError(f"wire type {wire}")
    return fields


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def as_bytes(value: int | bytes | None) -> bytes:
    """A length-delimited value (empty if absent)."""
    assert value is None or isinstance(value, bytes)
    return value or b""


def as_int(value: int | bytes | None) -> int:
    """A numeric value (0 if absent)."""
    assert value is None or isinstance(value, int)
    return value or 0


# --- keys and metadata -----------------------------------------------------------


def point(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 65-byte uncompressed public point of a private key."""
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def shared_key(private: ec.EllipticCurvePrivateKey, peer_point: bytes) -> bytes:
    """``SHA1(ECDH x)[:16]`` (native.go ``Exchange``)."""
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer_point)
    shared = private.exchange(ec.ECDH(), peer)
    return hashlib.sha1(shared).digest()[:16]  # noqa: S324 - Tesla's KDF


def tlv(tag: int, value: bytes) -> bytes:
    """One metadata item."""
    return bytes([tag, len(value)]) + value


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256."""
    return hmac.new(key, data, hashlib.sha256).digest()


@dataclass(frozen=True)
class Reply:
    """A car's RoutableMessage, decoded by hand."""

    raw: bytes
    fields: dict[int, int | bytes]

    @property
    def to_address(self) -> bytes:
        return as_bytes(parse(as_bytes(self.fields.get(6))).get(2))

    @property
    def from_domain(self) -> int | None:
        value = parse(as_bytes(self.fields.get(7))).get(1)
        return None if value is None else as_int(value)

    @property
    def request_uuid(self) -> bytes:
        return as_bytes(self.fields.get(50))

    @property
    def operation_status(self) -> int:
        return as_int(parse(as_bytes(self.fields.get(12))).get(1))

    @property
    def fault(self) -> int:
        return as_int(parse(as_bytes(self.fields.get(12))).get(2))

    @property
    def session_info(self) -> bytes | None:
        value = self.fields.get(15)
        return None if value is None else as_bytes(value)

    @property
    def payload(self) -> bytes | None:
        value = self.fields.get(10)
        return None if value is None else as_bytes(value)

    @property
    def signature(self) -> dict[int, int | bytes]:
        return parse(as_bytes(self.fields.get(13)))

    @property
    def flags(self) -> int:
        return as_int(self.fields.get(52))


@dataclass
class Session:
    """What a handshake taught the client (signer.go ``Signer``)."""

    key: bytes
    car_public: bytes
    epoch: bytes
    counter: int
    time_zero: float


class ReferenceClient:
    """One client key talking to one domain of one car."""

    def __init__(
        self, private: ec.EllipticCurvePrivateKey, vin: str, domain: int = INFOTAINMENT
    ) -> None:
        self.private = private
        self.public = point(private)
        self.vin = vin.encode()
        self.domain = domain
        self.routing_address = os.urandom(16)
        self.session: Session | None = None
        self.last_uuid = b""
        self.last_tag = b""

    def _envelope(self) -> bytes:
        self.last_uuid = os.urandom(16)
        return (
            ld(6, vint(1, self.domain))
            + ld(7, ld(2, self.routing_address))
            + ld(51, self.last_uuid)
        )

    def session_info_request(self) -> bytes:
        """``Dispatcher.SessionInfoRequest``: no signature, no flags."""
        return self._envelope() + ld(14, ld(1, self.public))

    def read(self, raw: bytes) -> Reply:
        """Decode a reply and check its routing as ``Dispatcher`` does."""
        reply = Reply(raw, parse(raw))
        assert reply.to_address == self.routing_address
        assert reply.from_domain == self.domain
        assert reply.request_uuid == self.last_uuid
        return reply

    def session_info_tag_ok(self, reply: Reply, car_public: bytes) -> bool:
        """``processHello``: the tag over VIN, request UUID and the info bytes."""
        info = reply.session_info
        tag = as_bytes(parse(as_bytes(reply.signature.get(6))).get(1))
        if info is None or not tag:
            return False
        key = shared_key(self.private, car_public)
        # A missing request UUID leaves the challenge out (metadata.go: nil).
        challenge = tlv(6, reply.request_uuid) if reply.request_uuid else b""
        meta = tlv(0, bytes([HMAC])) + tlv(2, self.vin) + challenge + b"\xff"
        expected = hmac_sha256(hmac_sha256(key, b"session info"), meta + info)
        return hmac.compare_digest(tag, expected)

    def accept(self, reply: Reply, now: float) -> Session:
        """Take the session info of a reply (tag checked) as the new session."""
        info = parse(reply.session_info or b"")
        car_public = as_bytes(info.get(2))
        assert self.session_info_tag_ok(reply, car_public), "bad session_info_tag"
        self.session = Session(
            key=shared_key(self.private, car_public),
            car_public=car_public,
            epoch=as_bytes(info.get(3)),
            counter=as_int(info.get(1)),
            time_zero=now - as_int(info.get(4)),
        )
        return self.session

    def sign(
        self,
        payload: bytes,
        now: float,
        *,
        flags: int = FLAG_ENCRYPT_RESPONSE,
        expires_in: float = 5.0,
        counter: int | None = None,
        epoch: bytes | None = None,
    ) -> bytes:
        """``AuthorizeHMAC``: counter + 1, expiry, HMAC over metadata + payload."""
        session = self.session
        assert session is not None, "handshake first"
        if counter is None:
            session.counter += 1
            counter = session.counter
        epoch = session.epoch if epoch is None else epoch
        expires_at = int(now + expires_in - session.time_zero)
        meta = (
            tlv(0, bytes([HMAC_PERSONALIZED]))
            + tlv(1, bytes([self.domain]))
            + tlv(2, self.vin)
            + tlv(3, session.epoch)  # the verifier uses its own epoch
            + tlv(4, struct.pack(">I", expires_at))
            + tlv(5, struct.pack(">I", counter))
            + (tlv(7, struct.pack(">I", flags)) if flags else b"")
            + b"\xff"
        )
        tag = hmac_sha256(
            hmac_sha256(session.key, b"authenticated command"), meta + payload
        )
        self.last_tag = tag
        hmac_data = (
            ld(1, epoch) + vint(2, counter) + fixed32(3, expires_at) + ld(4, tag)
        )
        signature = ld(1, ld(1, self.public)) + ld(8, hmac_data)
        return (
            self._envelope()
            + ld(10, payload)
            + ld(13, signature)
            + (vint(52, flags) if flags else b"")
        )

    def open(self, reply: Reply) -> bytes:
        """The response payload, decrypted if the car encrypted it (``Decrypt``)."""
        data = parse(as_bytes(reply.signature.get(9)))
        payload = reply.payload or b""
        if not data:
            return payload
        assert self.session is not None
        request_hash = bytes([HMAC_PERSONALIZED]) + (
            self.last_tag[:16] if self.domain == VEHICLE_SECURITY else self.last_tag
        )
        meta = (
            tlv(0, bytes([AES_GCM_RESPONSE]))
            + tlv(1, bytes([self.domain]))
            + tlv(2, self.vin)
            + tlv(5, struct.pack(">I", as_int(data.get(2))))
            + tlv(7, struct.pack(">I", reply.flags))
            + tlv(8, request_hash)
            + tlv(9, struct.pack(">I", reply.fault))
            + b"\xff"
        )
        aad = hashlib.sha256(meta).digest()
        nonce, tag = as_bytes(data.get(1)), as_bytes(data.get(3))
        return AESGCM(self.session.key).decrypt(nonce, payload + tag, aad)


# --- CarServer payloads (car_server.proto, common.proto) -------------------------


def vehicle_action(number: int, body: bytes) -> bytes:
    """``Action{vehicleAction{<number>: body}}``."""
    return ld(2, ld(number, body))


def charge_schedule(
    *,
    schedule_id: int = 0,
    name: str = "",
    days_of_week: int = 127,
    start_enabled: bool = False,
    start_time: int = 0,
    end_enabled: bool = False,
    end_time: int = 0,
    one_time: bool = False,
    enabled: bool = True,
    latitude: float = 0.0,
    longitude: float = 0.0,
) -> bytes:
    """``addChargeScheduleAction`` (97) with a ``ChargeSchedule``."""
    body = b"".join(
        part
        for part, present in (
            (vint(1, schedule_id), schedule_id),
            (ld(2, name.encode()), name),
            (vint(3, days_of_week), days_of_week),
            (vint(4, 1), start_enabled),
            (vint(5, start_time), start_time),
            (vint(6, 1), end_enabled),
            (vint(7, end_time), end_time),
            (vint(8, 1), one_time),
            (vint(9, 1), enabled),
            (float32(10, latitude), latitude),
            (float32(11, longitude), longitude),
        )
        if present
    )
    return vehicle_action(97, body)


def action_status(payload: bytes) -> tuple[bool, str]:
    """``Response.actionStatus``: (OK?, plain_text reason).

    As ``getCarServerResponse`` reads it: only ``OPERATIONSTATUS_ERROR`` (1,
    CarServer's own enum) is a refusal.
    """
    status = parse(as_bytes(parse(payload).get(1)))
    reason = parse(as_bytes(status.get(2))).get(1)
    return as_int(status.get(1)) != 1, as_bytes(reason).decode()
