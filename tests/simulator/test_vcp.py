"""The car's side of the Vehicle Command Protocol (``signed_command``).

First Tesla's own test vectors (``pkg/protocol/protocol.md`` and
``internal/authentication/*_test.go`` of ``teslamotors/vehicle-command``),
then the car as a client meets it over HTTP, driven by the reference client
of ``vcp_client.py`` (written from Tesla's Go signer, not from the simulator).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
import pytest

from simulator import FleetSimulator, ManualClock, SimVehicle
from simulator.commands import float32
from simulator.protowire import DecodeError, Message, Writer
from simulator.vcp import VehicleCommandCar
from simulator.vcp_crypto import (
    CommandFields,
    Metadata,
    command_gcm_aad,
    command_hmac_tag,
    parse_client_key,
    public_bytes,
    request_id,
    response_aad,
    session_info_tag,
    session_key,
    subkey,
    update_sliding_window,
)
from simulator.vcp_messages import (
    SESSION_INFO_REQUEST,
    Destination,
    Domain,
    GcmPersonalized,
    GcmResponse,
    HmacPersonalized,
    MessageFault,
    RoutableMessage,
    SessionInfo,
    SessionInfoStatus,
    SignatureData,
    SignatureType,
    Tag,
)
from simulator.vehicle import PairedKey

from . import vcp_client
from .conftest import VIN, Client, bearer
from .vcp_client import INFOTAINMENT, VEHICLE_SECURITY, ReferenceClient, Reply

# --- Tesla's vectors (protocol.md) -------------------------------------------------

CAR_SCALAR = 0x344EE5B466A7CF1EEB12B6F50331DB2E5EC5834EF5F4BEFCFD8CBE55C2528D70
CLIENT_SCALAR = 0x2538CDC29A97C19C1E99A637D6CF4F8C970C118B56EDE1E6323E6D162C4B30DB
CAR_PUBLIC = bytes.fromhex(
    "04c7a1f47138486aa4729971494878d33b1a24e39571f748a6e16c5955b3d877d3a6aaa0e9551664"
    "74af5d32c410f439a2234137ad1bb085fd4e8813c958f11d97"
)
CLIENT_PUBLIC = bytes.fromhex(
    "04b2b6bc68c2da0665ce656815594996c62394edd8bea905fe781a754fe6a845a714330902f225e9"
    "269d466e05b349981fda9d85cc23c6fb444aa73b629105dc6e"
)
SPEC_VIN = b"5YJ30123456789ABC"
SPEC_UUID = bytes.fromhex("1588d5a30eabc6f8fc9a951b11f6fd11")
SPEC_EPOCH = bytes.fromhex("4c463f9cc0d3d26906e982ed224adde6")
SPEC_K = bytes.fromhex("1b2fce19967b79db696f909cff89ea9a")
SPEC_SESSION_INFO = bytes.fromhex(
    "0806124104c7a1f47138486aa4729971494878d33b1a24e39571f748a6e16c5955b3d877d3a6aaa0"
    "e955166474af5d32c410f439a2234137ad1bb085fd4e8813c958f11d971a104c463f9cc0d3d26906"
    "e982ed224adde6255a0a0000"
)
HVAC_ON = bytes.fromhex("120452020801")


def _key(scalar: int) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(scalar, ec.SECP256R1())


class _Recorder:
    """A hash context that keeps what it was fed (to see metadata bytes)."""

    def __init__(self) -> None:
        self.data = b""

    def update(self, data: bytes, /) -> None:
        self.data += data

    def digest(self) -> bytes:
        return hashlib.sha256(self.data).digest()


def test_tesla_key_derivation() -> None:
    car, client = _key(CAR_SCALAR), _key(CLIENT_SCALAR)
    assert public_bytes(car.public_key()) == CAR_PUBLIC
    assert public_bytes(client.public_key()) == CLIENT_PUBLIC
    assert session_key(car, client.public_key()) == SPEC_K
    assert subkey(SPEC_K, b"session info").hex() == (
        "fceb679ee7bca756fcd441bf238bf2f338629b41d9eb9c67be1b32c9672ce300"
    )


def test_tesla_session_info_and_its_tag() -> None:
    info = SessionInfo(
        counter=6, public_key=CAR_PUBLIC, epoch=SPEC_EPOCH, clock_time=2650
    ).encode()
    assert info == SPEC_SESSION_INFO
    assert SessionInfo.decode(info).clock_time == 2650
    recorder = _Recorder()
    meta = Metadata(recorder)
    meta.add(Tag.SIGNATURE_TYPE, bytes([SignatureType.HMAC]))
    meta.add(Tag.PERSONALIZATION, SPEC_VIN)
    meta.add(Tag.CHALLENGE, SPEC_UUID)
    meta.checksum(b"")
    assert recorder.data.hex() == (
        "000106021135594a333031323334353637383941424306101588d5a30eabc6f8fc9a951b11f6"
        "fd11ff"
    )
    assert session_info_tag(SPEC_K, SPEC_VIN, SPEC_UUID, info).hex() == (
        "996c1fe38331be138f8039c194b14db2198846ed7d8251e6749284d7b32ea002"
    )


def test_tesla_command_metadata() -> None:
    fields = CommandFields(3, SPEC_VIN, SPEC_EPOCH, 2655, 7, 0)
    recorder = _Recorder()
    fields.fill(Metadata(recorder), SignatureType.AES_GCM_PERSONALIZED)
    assert (recorder.data + b"\xff").hex() == (
        "000105010103021135594a333031323334353637383941424303104c463f9cc0d3d26906e982"
        "ed224adde6040400000a5f050400000007ff"
    )
    # Flags join the metadata only when one is set (peer.go extractMetadata).
    with_flags = _Recorder()
    CommandFields(3, SPEC_VIN, SPEC_EPOCH, 2655, 7, 2).fill(
        Metadata(with_flags), SignatureType.HMAC_PERSONALIZED
    )
    assert with_flags.data.endswith(bytes.fromhex("070400000002"))


def test_tesla_metadata_checksum() -> None:
    """``metadata_test.go TestCheckSum``."""
    meta = Metadata(hashlib.sha256())
    meta.add(Tag.SIGNATURE_TYPE, b"\x05")
    meta.add(Tag.DOMAIN, b"\x02")
    meta.add(Tag.PERSONALIZATION, b"testVIN")
    meta.add(Tag.EPOCH, bytes.fromhex("aada928a4f215f55f9e6e45e66b6521e"))
    meta.add(Tag.EXPIRES_AT, bytes.fromhex("00000e74"))
    meta.add(Tag.COUNTER, bytes.fromhex("0000053a"))
    assert meta.checksum(b"").hex() == (
        "abab04d804499813382efd74a06791ce2de777439603246dfbaa8392ca05868e"
    )
    with pytest.raises(ValueError, match="order"):
        meta.add(Tag.DOMAIN, b"\x02")


def test_tesla_shared_secret_keeps_its_leading_zero() -> None:
    """``native_test.go TestSharedSecretPadding``: X is 32 bytes, zero-padded."""
    peer = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(),
        bytes.fromhex(
            "04c4ff45b968e87469af648ed34c34a934d74a1d76f272d153fc81114ddfecc178f688e62bec"
            "19c9b144e9415361fa4fecab5ded4336336b9751c9a78ffa270fae"
        ),
    )
    shared = _key(0x013F).exchange(ec.ECDH(), peer)
    assert len(shared) == 32
    assert shared.hex().startswith("00b3771a")
    assert session_key(_key(0x013F), peer) == hashlib.sha1(shared).digest()[:16]  # noqa: S324


def test_tesla_gcm_known_answer() -> None:
    """``verifier_test.go TestGCMKnown``: a car-side decryption vector."""
    raw = bytes.fromhex(
        "320208023a0208005259296d587d130d34d74d6d5c628c73c1f8ef99cc4ae1c95b9767147498"
        "0ccc7946a90a2f7971a5c837b96c9cc1e8075d1aab92bc8557b7fdf2dcf9ddbb90e236246db6"
        "99788e585e8b0ea84752e0090cc80c4384d27ca6fcdd216a470a061204bb0ca3712a3d0a10ea"
        "abe301b4b4a1243118a40825220115120c45d29af664e2ff8fd49218b718ffffffff0f2550c3"
        "00002a106d846705ba5c143f94257275a2ca701f"
    )
    message = RoutableMessage.decode(raw)
    assert message.signature_data is not None
    sig = message.signature_data.sig
    assert isinstance(sig, GcmPersonalized)
    # The signer identity is the retired field 2: skipped, as protobuf does.
    assert message.signature_data.signer_public_key is None
    assert (sig.counter, sig.expires_at) == (0xFFFFFFFF, 50000)
    car = _key(0x9D9C5E86D5A83057965CA94B5FAEFF116C275D08CA91E839BD2DEA59C2229B81)
    signer = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(),
        bytes.fromhex(
            "0450444fabe062f6ffc59de654373e1aa84aa4f053f365f3746fbaaa8ad5d5875e8279ba379b"
            "4788e9148f5000bd1fe085d18925e8d047239cfa0d9cd23417b714"
        ),
    )
    key = session_key(car, signer)
    assert key.hex() == "f0ac26da59d0e00a40014e4231e79040"
    assert message.to_destination is not None
    domain = message.to_destination.domain
    assert domain == Domain.VEHICLE_SECURITY
    fields = CommandFields(domain, b"testvin", sig.epoch, 50000, 0xFFFFFFFF, 0)
    aad = command_gcm_aad(fields)
    assert (
        aad
        == hashlib.sha256(
            bytes.fromhex(
                "00010501010202077465737476696e0310eaabe301b4b4a1243118a40825220115040400"
                "00c3500504ffffffffff"
            )
        ).digest()
    )
    plaintext = AESGCM(key).decrypt(sig.nonce, message.payload + sig.tag, aad)
    assert plaintext.hex() == (
        "82014a2a480a430a41044b96809e66821b4553ff2b427a52d50843a2f718fd56f2ad93d46a8b"
        "1db74dd6190f20b6b82e85a8eac40e867b9a0cf74f364f03e9946e25ceee9934b19cb6031201"
        "02ca01090a077465737476696e"
    )


def test_tesla_example_message_decodes() -> None:
    """protocol.md's unauthenticated VCSEC request, fields in Go's order."""
    message = RoutableMessage.decode(
        bytes.fromhex(
            "320208023a1212100a7962c10d38b61dd2a7722780a4f0969a031005514f57616bcc81a8"
            "ce0f9d7b48322952040a020805"
        )
    )
    assert message.to_destination is not None
    assert message.to_destination.domain == Domain.VEHICLE_SECURITY
    assert message.from_destination is not None
    assert message.from_destination.routing_address == bytes.fromhex(
        "0a7962c10d38b61dd2a7722780a4f096"
    )
    assert message.uuid.hex() == "05514f57616bcc81a8ce0f9d7b483229"
    assert message.payload == bytes.fromhex("0a020805")


@pytest.mark.parametrize(
    ("new", "ok", "counter", "window"),
    [
        (101, True, 101, 1 | 1 << 1 | 1 << 6),
        (103, True, 103, 1 << 2 | 1 << 3 | 1 << 8),
        (500, True, 500, 0),
        (98, True, 100, 1 | 1 << 1 | 1 << 5),
        (99, False, 100, 1 | 1 << 5),
        (3, False, 100, 1 | 1 << 5),
        (100, False, 100, 1 | 1 << 5),
    ],
)
def test_tesla_sliding_window(new: int, ok: bool, counter: int, window: int) -> None:
    """``window_test.go``: counter 100 with slots 0 and 5 already used."""
    assert update_sliding_window(100, 1 | 1 << 5, new) == (counter, window, ok)


def test_self_computed_hmac_and_response_vectors() -> None:
    """Our own regression values (notes §8.3), not Tesla's: both sides agree."""
    fields = CommandFields(3, SPEC_VIN, SPEC_EPOCH, 2655, 7, 2)
    tag = command_hmac_tag(SPEC_K, fields, HVAC_ON)
    assert tag.hex() == (
        "f3c24554a00e42160e6acef6dd4f1c8ef9c30ed6391ec818d75663bee00a47f0"
    )
    unflagged = CommandFields(3, SPEC_VIN, SPEC_EPOCH, 2655, 7, 0)
    assert command_hmac_tag(SPEC_K, unflagged, HVAC_ON).hex() == (
        "6d75c4e7c5e144996e22f1bdf694e453c94774a636e4382053cb8e358bf25ea8"
    )
    sig = HmacPersonalized(SPEC_EPOCH, 7, 2655, tag)
    aad = response_aad(3, SPEC_VIN, 1, 0, request_id(3, sig), 0)
    assert aad.hex() == (
        "3ac5c913aa39e5e0895eeae0cbc3c1fc28970bee28732ed8e81be9d0cda37501"
    )
    sealed = AESGCM(SPEC_K).encrypt(bytes(range(12)), b"\x0a\x00", aad)
    assert sealed.hex() == "135c" + "a39e8f2159cd6ee89ddd8de1edcdd2ba"
    # VCSEC cuts the request's tag to 16 bytes (peer_test.go TestRequestID).
    assert request_id(2, sig) == b"\x08" + tag[:16]


# --- the wire format ---------------------------------------------------------------


def test_protowire_encodes_proto3() -> None:
    encoded = Writer().int32(1, -1).uint(2, 0).message(3, b"").finish()
    assert encoded == bytes.fromhex("08ffffffffffffffffff01") + b"\x1a\x00"
    message = Message(encoded)
    assert message.int32(1) == -1
    assert message.uint32(2) == 0
    assert message.message(3) is not None
    assert message.message(4) is None


def test_protowire_skips_unknown_fields_and_refuses_garbage() -> None:
    unknown = bytes.fromhex("09" + "00" * 8 + "15" + "01000000" + "2203616263")
    message = Message(unknown + b"\x30\x07")
    assert message.uint32(6) == 7
    assert message.blob(4) == b"abc"
    with pytest.raises(DecodeError, match="wire type"):
        message.uint32(4)
    for garbage in (
        b"\x0a\x05ab",
        b"\x08",
        b"\x0b",
        b"\x00\x01",
        b"\x08" + b"\xff" * 10,
    ):
        with pytest.raises(DecodeError):
            Message(garbage)


def test_protowire_limits() -> None:
    with pytest.raises(ValueError, match="varint"):
        Writer().uint(1, 1 << 64)
    with pytest.raises(ValueError, match="field number"):
        Writer().uint(0, 1)
    with pytest.raises(ValueError, match="int32"):
        Writer().int32(1, 1 << 31)
    assert Writer().fixed32(1, 0).string(2, "").finish() == b""
    with pytest.raises(DecodeError, match="fixed-size"):
        Message(b"\x0d\x01\x02")
    with pytest.raises(DecodeError, match="UTF-8"):
        Message(b"\x0a\x01\xff").string(1)


def test_messages_round_trip() -> None:
    """What the codec writes it reads back, every field the car uses."""
    address = bytes(range(16))
    message = RoutableMessage(
        to_destination=Destination(routing_address=address),
        from_destination=Destination(domain=Domain.INFOTAINMENT),
        payload_field=SESSION_INFO_REQUEST,
        payload=CLIENT_PUBLIC,
        signature_data=SignatureData(
            signer_public_key=CLIENT_PUBLIC,
            sig=GcmResponse(nonce=bytes(12), counter=3, tag=b"t" * 16),
        ),
        status=(2, MessageFault.TIME_EXPIRED),
        request_uuid=b"r" * 16,
        uuid=b"u" * 16,
        flags=2,
    )
    assert RoutableMessage.decode(message.encode()) == message
    assert Destination.decode(Message(b"")) == Destination()
    with pytest.raises(NotImplementedError):
        SignatureData(sig=HmacPersonalized(b"", 1, 2, b"")).encode()


def test_client_keys_and_metadata_limits() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = p384.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(TypeError, match="P-256"):
        parse_client_key(pem.decode())
    with pytest.raises(ValueError, match="too long"):
        Metadata(hashlib.sha256()).add(Tag.PERSONALIZATION, bytes(256))
    gcm = GcmPersonalized(b"", bytes(12), 1, 2, b"g" * 16)
    assert request_id(3, gcm) == b"\x05" + b"g" * 16


# --- the car over HTTP ---------------------------------------------------------------


@pytest.fixture
def client_key() -> ec.EllipticCurvePrivateKey:
    return _key(CLIENT_SCALAR)


@pytest.fixture
def paired(sim: FleetSimulator, client_key: ec.EllipticCurvePrivateKey) -> bytes:
    """The client's key is on the default car's keychain."""
    public = vcp_client.point(client_key)
    sim.pair_key(VIN, public, "example.com")
    return public


@pytest.fixture
def ref(client_key: ec.EllipticCurvePrivateKey) -> ReferenceClient:
    return ReferenceClient(client_key, VIN)


async def _post(
    client: Client, auth: dict[str, str], raw: bytes, vin: str = VIN
) -> tuple[int, Any]:
    response = await client.post(
        f"/api/1/vehicles/{vin}/signed_command",
        headers=auth,
        json={"routable_message": base64.b64encode(raw).decode()},
    )
    return response.status, await response.json(content_type=None)


async def _exchange(
    client: Client, auth: dict[str, str], ref: ReferenceClient, raw: bytes
) -> Reply:
    status, body = await _post(client, auth, raw, ref.vin.decode())
    assert status == 200, body
    return ref.read(base64.b64decode(body["response"], validate=True))


async def _handshake(
    client: Client, auth: dict[str, str], ref: ReferenceClient, clock: ManualClock
) -> Reply:
    reply = await _exchange(client, auth, ref, ref.session_info_request())
    assert reply.fault == 0
    ref.accept(reply, clock())
    return reply


async def _command(
    client: Client,
    auth: dict[str, str],
    ref: ReferenceClient,
    clock: ManualClock,
    payload: bytes,
    **sign: Any,
) -> tuple[Reply, bytes]:
    reply = await _exchange(client, auth, ref, ref.sign(payload, clock(), **sign))
    return reply, (ref.open(reply) if reply.fault == 0 else b"")


SCHEDULE = vcp_client.charge_schedule(
    name="Night",
    days_of_week=62,
    start_enabled=True,
    start_time=22 * 60,
    end_enabled=True,
    end_time=6 * 60,
    latitude=52.2297,
    longitude=21.0122,
)


def _refused_with_session_info(
    reply: Reply, fault: MessageFault, ref: ReferenceClient, sim: FleetSimulator
) -> None:
    """A resync fault: ERROR, the fault, and fresh session info the client trusts."""
    assert (reply.operation_status, reply.fault) == (2, fault)
    car = sim.command_car(sim.vehicles[VIN])
    assert ref.session_info_tag_ok(reply, car.public_key(Domain.INFOTAINMENT))
    info = SessionInfo.decode(reply.session_info or b"")
    assert info.epoch == car.epoch(Domain.INFOTAINMENT)
    assert reply.payload is None


async def test_handshake_answers_tagged_session_info(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    client_key: ec.EllipticCurvePrivateKey,
) -> None:
    car = sim.command_car(sim.vehicles[VIN])
    clock.advance(42.7)
    for domain in (INFOTAINMENT, VEHICLE_SECURITY):
        ref = ReferenceClient(client_key, VIN, domain)
        reply = await _exchange(client, auth, ref, ref.session_info_request())
        assert (reply.operation_status, reply.fault) == (0, 0)
        info = SessionInfo.decode(reply.session_info or b"")
        # The car's clock counts seconds since its epoch began, not Unix time.
        assert info.clock_time == 42
        assert info.counter == 0
        assert info.public_key == car.public_key(Domain(domain))
        assert ref.session_info_tag_ok(reply, info.public_key)
    keys = {
        car.public_key(Domain.INFOTAINMENT),
        car.public_key(Domain.VEHICLE_SECURITY),
    }
    assert len(keys) == 2
    # Each domain's key is fixed per VIN: a new simulator has the same ones.
    again = VehicleCommandCar(SimVehicle(vin=VIN), clock)
    assert again.public_key(Domain.INFOTAINMENT) in keys
    assert sim.stats.billable["command"] == 2
    # Without a request UUID the tag has no challenge item (metadata.go).
    ref = ReferenceClient(client_key, VIN)
    hello = ref.session_info_request()
    hello = hello.replace(vcp_client.ld(51, ref.last_uuid), b"")
    ref.last_uuid = b""
    reply = await _exchange(client, auth, ref, hello)
    assert reply.request_uuid == b""
    assert ref.session_info_tag_ok(reply, car.public_key(Domain.INFOTAINMENT))
    # A handshake reaches the car: it keeps it awake like any command.
    assert sim.vehicles[VIN].last_activity == clock()


async def test_signed_add_charge_schedule_is_applied_and_counted(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    await _handshake(client, auth, ref, clock)
    clock.advance(2)
    reply, payload = await _command(client, auth, ref, clock, SCHEDULE)
    assert (reply.operation_status, reply.fault) == (0, 0)
    assert reply.signature.get(9), "the flag asked for an encrypted answer"
    assert reply.payload != payload
    assert vcp_client.action_status(payload) == (True, "")
    [schedule] = sim.vehicles[VIN].charge_schedules
    assert (schedule.name, schedule.days_of_week) == ("Night", 62)
    assert (schedule.start_time, schedule.end_time) == (1320, 360)
    assert (schedule.start_enabled, schedule.end_enabled, schedule.enabled) == (
        True,
        True,
        True,
    )
    assert schedule.latitude == pytest.approx(52.2297, abs=1e-5)
    assert schedule.id == int(clock())  # no id: the car numbers it as REST does
    car = sim.command_car(sim.vehicles[VIN])
    assert car.counter(Domain.INFOTAINMENT, paired) == 1
    assert sim.stats.billable["command"] == 2
    assert sim.stats.commands == {"add_charge_schedule": 1}
    assert [r.kind for r in sim.requests] == ["signed_command", "signed_command"]
    assert sim.vehicles[VIN].last_activity == clock()


async def test_a_signed_command_does_what_the_rest_command_does(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    await _handshake(client, auth, ref, clock)
    await _command(client, auth, ref, clock, SCHEDULE)
    signed = [s.as_dict() for s in sim.vehicles[VIN].charge_schedules]
    sim.vehicles[VIN].charge_schedules.clear()
    sim.vehicles[VIN].command_signing = "allowed"
    response = await client.post(
        f"/api/1/vehicles/{VIN}/command/add_charge_schedule",
        headers=auth,
        json={
            "name": "Night",
            "days_of_week": "Weekdays",
            "start_enabled": True,
            "start_time": 1320,
            "end_enabled": True,
            "end_time": 360,
            "enabled": True,
            "lat": float32(52.2297),
            "lon": float32(21.0122),
        },
    )
    assert await response.json() == {"response": {"result": True, "reason": ""}}
    assert [s.as_dict() for s in sim.vehicles[VIN].charge_schedules] == signed
    # The car refuses the same way, too: a refusal is result false + reason.
    remove = vcp_client.vehicle_action(98, vcp_client.vint(1, 7))
    _, payload = await _command(client, auth, ref, clock, remove)
    assert vcp_client.action_status(payload) == (False, "not_found")


@pytest.mark.parametrize(
    ("payload", "expected", "check"),
    [
        (vcp_client.vehicle_action(5, vcp_client.vint(1, 90)), (True, ""), "limit"),
        (
            vcp_client.vehicle_action(5, vcp_client.vint(1, 80)),
            (False, "already_set"),
            "",
        ),
        (vcp_client.vehicle_action(6, vcp_client.ld(2, b"")), (True, ""), "charging"),
        (
            vcp_client.vehicle_action(6, vcp_client.ld(5, b"")),
            (False, "not_charging"),
            "",
        ),
        (vcp_client.vehicle_action(43, vcp_client.vint(1, 10)), (True, ""), "amps"),
        (
            vcp_client.vehicle_action(
                41, vcp_client.vint(1, 1) + vcp_client.vint(2, 90)
            ),
            (True, ""),
            "scheduled",
        ),
        (
            vcp_client.charge_schedule(days_of_week=0),
            (False, "days_of_week bitmask 0 out of range"),
            "",
        ),
        (
            vcp_client.vehicle_action(6, vcp_client.ld(4, b"")),
            (False, "not simulated: chargingStartStopAction field 4"),
            "",
        ),
        (HVAC_ON, (False, "not simulated: vehicleAction field 10"), ""),
    ],
)
async def test_signed_charging_actions(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
    payload: bytes,
    expected: tuple[bool, str],
    check: str,
) -> None:
    await _handshake(client, auth, ref, clock)
    reply, answer = await _command(client, auth, ref, clock, payload)
    assert reply.fault == 0
    assert vcp_client.action_status(answer) == expected
    vehicle = sim.vehicles[VIN]
    changed = {
        "limit": vehicle.charge_limit_soc == 90,
        "charging": vehicle.charging_state == "Charging",
        "amps": vehicle.charge_amps == 10,
        "scheduled": (
            vehicle.scheduled_charging_enabled,
            vehicle.scheduled_charging_start_time,
        )
        == (True, 90),
        "": True,
    }
    assert changed[check]


async def test_no_encryption_without_the_flag_or_on_old_firmware(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    await _handshake(client, auth, ref, clock)
    reply, payload = await _command(client, auth, ref, clock, SCHEDULE, flags=0)
    assert not reply.signature
    assert reply.payload == payload == b"\x0a\x00"
    sim.vehicles[VIN].firmware_version = "2024.32.7"
    reply, payload = await _command(client, auth, ref, clock, SCHEDULE)
    assert not reply.signature
    assert vcp_client.action_status(payload) == (True, "")
    # A version the car cannot read is taken for a new one.
    sim.vehicles[VIN].firmware_version = "develop"
    reply, payload = await _command(client, auth, ref, clock, SCHEDULE)
    assert reply.signature.get(9)


async def test_tampered_payload_is_refused(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    await _handshake(client, auth, ref, clock)
    signed = ref.sign(SCHEDULE, clock())
    tampered = signed.replace(b"Night", b"Light")
    assert tampered != signed
    reply = await _exchange(client, auth, ref, tampered)
    _refused_with_session_info(reply, MessageFault.INVALID_SIGNATURE, ref, sim)
    assert sim.vehicles[VIN].charge_schedules == []
    # Tampered flags are caught too: they are part of the MAC.
    flagged = ref.sign(SCHEDULE, clock(), flags=0) + vcp_client.vint(52, 2)
    reply = await _exchange(client, auth, ref, flagged)
    assert reply.fault == MessageFault.INVALID_SIGNATURE
    assert sim.stats.commands == {}
    # The untampered message still works afterwards.
    reply, _ = await _command(client, auth, ref, clock, SCHEDULE)
    assert reply.fault == 0
    assert len(sim.vehicles[VIN].charge_schedules) == 1


async def test_a_mac_by_another_key_is_refused(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    """The paired key's identity, but the MAC made with a different key."""
    await _handshake(client, auth, ref, clock)
    impostor = ReferenceClient(ec.generate_private_key(ec.SECP256R1()), VIN)
    impostor.routing_address = ref.routing_address
    car = sim.command_car(sim.vehicles[VIN])
    impostor.session = vcp_client.Session(
        key=vcp_client.shared_key(
            impostor.private, car.public_key(Domain.INFOTAINMENT)
        ),
        car_public=car.public_key(Domain.INFOTAINMENT),
        epoch=car.epoch(Domain.INFOTAINMENT),
        counter=5,
        time_zero=clock() - car.clock_time(Domain.INFOTAINMENT),
    )
    impostor.public = ref.public
    reply = await _exchange(client, auth, impostor, impostor.sign(SCHEDULE, clock()))
    assert (reply.operation_status, reply.fault) == (2, MessageFault.INVALID_SIGNATURE)
    assert sim.vehicles[VIN].charge_schedules == []


async def test_a_replayed_message_is_refused(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    await _handshake(client, auth, ref, clock)
    signed = ref.sign(SCHEDULE, clock())
    first = await _exchange(client, auth, ref, signed)
    assert first.fault == 0
    ref.last_uuid = vcp_client.as_bytes(vcp_client.parse(signed)[51])
    replay = await _exchange(client, auth, ref, signed)
    _refused_with_session_info(replay, MessageFault.INVALID_TOKEN_OR_COUNTER, ref, sim)
    assert SessionInfo.decode(replay.session_info or b"").counter == 1
    assert len(sim.vehicles[VIN].charge_schedules) == 1
    assert sim.stats.commands == {"add_charge_schedule": 1}


async def test_out_of_order_counters_within_the_window(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    await _handshake(client, auth, ref, clock)
    limit = vcp_client.vehicle_action(5, vcp_client.vint(1, 90))
    assert (await _command(client, auth, ref, clock, limit, counter=5))[0].fault == 0
    late = vcp_client.vehicle_action(5, vcp_client.vint(1, 70))
    reply, payload = await _command(client, auth, ref, clock, late, counter=3)
    assert reply.fault == 0
    assert sim.vehicles[VIN].charge_limit_soc == 70
    # Out of order, a message must expire within 30 s of the car's clock.
    reply, _ = await _command(client, auth, ref, clock, limit, counter=2, expires_in=60)
    _refused_with_session_info(reply, MessageFault.TIME_TO_LIVE_TOO_LONG, ref, sim)
    # Counter 0 skips the window, but only with a short life.
    reply, _ = await _command(client, auth, ref, clock, limit, counter=0, expires_in=60)
    assert reply.fault == MessageFault.TIME_TO_LIVE_TOO_LONG
    reply, _ = await _command(client, auth, ref, clock, limit, counter=0)
    assert reply.fault == 0
    assert sim.vehicles[VIN].charge_limit_soc == 90


async def test_an_expired_message_is_refused(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    await _handshake(client, auth, ref, clock)
    signed = ref.sign(SCHEDULE, clock(), expires_in=5)
    clock.advance(6)
    reply = await _exchange(client, auth, ref, signed)
    _refused_with_session_info(reply, MessageFault.TIME_EXPIRED, ref, sim)
    assert SessionInfo.decode(reply.session_info or b"").clock_time == 6
    assert sim.vehicles[VIN].charge_schedules == []


async def test_a_wrong_epoch_is_refused_and_the_client_resyncs(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    await _handshake(client, auth, ref, clock)
    reply, _ = await _command(client, auth, ref, clock, SCHEDULE, epoch=b"\x01" * 16)
    _refused_with_session_info(reply, MessageFault.INCORRECT_EPOCH, ref, sim)
    # The infotainment reboots: a new epoch; the old session is refused, and the
    # session info that comes with the refusal is all the client needs.
    car = sim.command_car(sim.vehicles[VIN])
    old = car.epoch(Domain.INFOTAINMENT)
    clock.advance(100)
    car.reboot(Domain.INFOTAINMENT)
    assert car.epoch(Domain.INFOTAINMENT) != old
    reply, _ = await _command(client, auth, ref, clock, SCHEDULE)
    _refused_with_session_info(reply, MessageFault.INCORRECT_EPOCH, ref, sim)
    assert sim.vehicles[VIN].charge_schedules == []
    ref.accept(reply, clock())
    reply, payload = await _command(client, auth, ref, clock, SCHEDULE)
    assert reply.fault == 0
    assert vcp_client.action_status(payload) == (True, "")
    assert len(sim.vehicles[VIN].charge_schedules) == 1


async def test_an_unpaired_key_is_refused(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    stranger = ReferenceClient(ec.generate_private_key(ec.SECP256R1()), VIN)
    reply = await _exchange(client, auth, stranger, stranger.session_info_request())
    assert (reply.operation_status, reply.fault) == (2, MessageFault.UNKNOWN_KEY_ID)
    assert reply.session_info is None
    assert not reply.signature
    # A key the owner removed: its session is no use any more.
    await _handshake(client, auth, ref, clock)
    sim.unpair_key(VIN, paired)
    reply, _ = await _command(client, auth, ref, clock, SCHEDULE)
    assert (reply.operation_status, reply.fault) == (2, MessageFault.UNKNOWN_KEY_ID)
    assert reply.session_info is None
    assert sim.vehicles[VIN].charge_schedules == []
    reply = await _exchange(client, auth, ref, ref.session_info_request())
    assert reply.fault == MessageFault.UNKNOWN_KEY_ID


async def test_an_unpaired_key_may_get_a_whitelist_status(
    client: Client, sim: FleetSimulator, auth: dict[str, str], ref: ReferenceClient
) -> None:
    """The other answer Tesla's client reads as "not paired" (pkg/protocol/error.go)."""
    response = await client.post(
        f"/sim/vehicles/{VIN}", json={"unknown_key_answer": "whitelist_status"}
    )
    assert (await response.json())["unknown_key_answer"] == "whitelist_status"
    # A session the car never gave: the key is refused before anything else.
    ref.session = vcp_client.Session(bytes(16), b"", bytes(16), 0, 0.0)
    for build in (ref.session_info_request, lambda: ref.sign(SCHEDULE, 0.0)):
        reply = await _exchange(client, auth, ref, build())
        assert (reply.operation_status, reply.fault) == (0, 0)
        info = SessionInfo.decode(reply.session_info or b"")
        assert info == SessionInfo(status=SessionInfoStatus.KEY_NOT_ON_WHITELIST)
        assert not reply.signature
    assert sim.vehicles[VIN].charge_schedules == []
    response = await client.post(f"/sim/vehicles/{VIN}", json={"unknown_key_answer": 1})
    assert response.status == 400


async def test_malformed_messages(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    await _handshake(client, auth, ref, clock)
    signed = ref.sign(SCHEDULE, clock())
    # Not protobuf at all: a DECODING fault.
    status, body = await _post(client, auth, b"\x0a\x05ab")
    reply = RoutableMessage.decode(base64.b64decode(body["response"]))
    assert (status, reply.status) == (200, (2, MessageFault.DECODING))
    # To the broadcast domain: INVALID_DOMAINS.
    status, body = await _post(client, auth, b"\x32\x02\x08\x00" + signed[4:])
    reply = RoutableMessage.decode(base64.b64decode(body["response"]))
    assert reply.status == (2, MessageFault.INVALID_DOMAINS)
    # No signature: BAD_PARAMETER, no session info.
    unsigned = b"\x32\x02\x08\x03" + vcp_client.ld(10, SCHEDULE)
    status, body = await _post(client, auth, unsigned)
    reply = RoutableMessage.decode(base64.b64decode(body["response"]))
    assert reply.status == (2, MessageFault.BAD_PARAMETER)
    assert reply.payload_field is None
    # Not a public key at all.
    # Not a point on P-256, or the paired key in compressed form (Go's
    # elliptic.Unmarshal takes only 65-byte uncompressed points).
    compressed = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), paired
    ).public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    for key in (b"\x04" * 65, compressed):
        bad_key = b"\x32\x02\x08\x03" + vcp_client.ld(14, vcp_client.ld(1, key))
        status, body = await _post(client, auth, bad_key)
        reply = RoutableMessage.decode(base64.b64decode(body["response"]))
        assert reply.status == (2, MessageFault.BAD_PARAMETER)
    assert sim.vehicles[VIN].charge_schedules == []


async def test_fleet_api_answers_around_the_car(
    client: Client,
    sim: FleetSimulator,
    clock: ManualClock,
    auth: dict[str, str],
    paired: bytes,
    ref: ReferenceClient,
) -> None:
    hello = ref.session_info_request()
    assert (await _post(client, {}, hello))[0] == 401
    narrow = sim.issue_tokens(["openid", "vehicle_device_data"])
    status, body = await _post(client, bearer(narrow), hello)
    assert (status, body["error"]) == (403, "Unauthorized missing scopes")
    response = await client.post(
        f"/api/1/vehicles/{VIN}/signed_command",
        headers=auth,
        json={"routable_message": "AAAA!"},  # strict: no skipping of junk
    )
    assert response.status == 400
    status, _ = await _post(client, auth, hello, "UNKNOWNVIN")
    assert status == 404
    gcm_data = vcp_client.ld(2, bytes(12)) + vcp_client.vint(3, 1)
    gcm = (
        vcp_client.ld(6, vcp_client.vint(1, 3))
        + vcp_client.ld(10, b"sealed")
        + vcp_client.ld(13, vcp_client.ld(5, gcm_data))
    )
    status, body = await _post(client, auth, gcm)
    assert status == 403
    assert "AES-GCM" in body["error"]
    sim.vehicles[VIN].command_signing = "off"
    status, body = await _post(client, auth, hello)
    assert (status, body["error"]) == (422, "vehicle does not support protocol")
    sim.vehicles[VIN].command_signing = "allowed"
    clock.advance(sim.sleep_after + 1)
    status, body = await _post(client, auth, hello)
    assert status == 408
    assert "vehicle is offline" in body["error"]
    assert [r.status for r in sim.requests] == [401, 403, 400, 404, 403, 422, 408]


async def test_pairing_and_fleet_status(
    client: Client,
    sim: FleetSimulator,
    auth: dict[str, str],
    client_key: ec.EllipticCurvePrivateKey,
) -> None:
    async def fleet_status() -> dict[str, Any]:
        response = await client.post(
            "/api/1/vehicles/fleet_status", headers=auth, json={"vins": [VIN]}
        )
        return dict((await response.json())["response"])

    sim.vehicles[VIN].key_paired = False  # the proxy's key is not paired either
    assert (await fleet_status())["unpaired_vins"] == [VIN]
    pem = (
        client_key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )
    response = await client.post(
        f"/sim/vehicles/{VIN}/pair", json={"public_key": pem, "domain": "example.com"}
    )
    assert response.status == 200
    [entry] = (await response.json())["paired_keys"]
    assert entry["public_key"] == CLIENT_PUBLIC.hex()
    assert entry["domain"] == "example.com"
    status = await fleet_status()
    assert (status["key_paired_vins"], status["unpaired_vins"]) == ([VIN], [])
    # Hex works too (uncompressed or compressed), and pairing twice is one key.
    compressed = client_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    response = await client.post(
        f"/sim/vehicles/{VIN}/pair", json={"public_key": compressed.hex()}
    )
    assert len((await response.json())["paired_keys"]) == 1
    for bad in (
        {"public_key": "04abcd"},
        {"public_key": "zz"},
        {"public_key": 4},
        {"public_key": CLIENT_PUBLIC.hex(), "domain": 1},
        {"public_key": CLIENT_PUBLIC.hex(), "role": "owner"},
        {"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"},
    ):
        response = await client.post(f"/sim/vehicles/{VIN}/pair", json=bad)
        assert response.status == 400, bad
    response = await client.post(
        f"/sim/vehicles/{VIN}/unpair", json={"public_key": CLIENT_PUBLIC.hex()}
    )
    body = await response.json()
    assert (body["unpaired"], body["paired_keys"]) == (1, [])
    assert (await fleet_status())["unpaired_vins"] == [VIN]
    sim.pair_key(VIN, CLIENT_PUBLIC)
    response = await client.post(f"/sim/vehicles/{VIN}/unpair")
    assert (await response.json())["unpaired"] == 1
    response = await client.post("/sim/vehicles/NOPE/pair", json={})
    assert response.status == 404
    response = await client.post("/sim/vehicles/NOPE/unpair")
    assert response.status == 404
    response = await client.post(f"/sim/vehicles/{VIN}/unpair", json={"x": 1})
    assert response.status == 400
    with pytest.raises(ValueError, match="P-256"):
        sim.pair_key(VIN, b"\x04" * 65)


# --- the car without HTTP ------------------------------------------------------------


def test_vcsec_authenticates_but_runs_nothing_and_wants_order(
    clock: ManualClock,
) -> None:
    vehicle = SimVehicle(vin=VIN)
    client_key = _key(CLIENT_SCALAR)
    vehicle.paired_keys[CLIENT_PUBLIC] = PairedKey(CLIENT_PUBLIC)
    car = VehicleCommandCar(vehicle, clock)
    ran: list[str] = []

    def execute(name: str, _params: Any) -> tuple[bool, str]:
        ran.append(name)
        return True, ""

    ref = ReferenceClient(client_key, VIN, VEHICLE_SECURITY)
    reply = ref.read(car.handle(ref.session_info_request(), execute).reply)
    ref.accept(reply, clock())
    limit = vcp_client.vehicle_action(5, vcp_client.vint(1, 90))
    answer = car.handle(ref.sign(limit, clock(), counter=5), execute)
    assert answer.fault == MessageFault.INVALID_COMMAND
    assert car.counter(Domain.VEHICLE_SECURITY, CLIENT_PUBLIC) == 5
    # VCSEC has no window: an older counter is refused.
    answer = car.handle(ref.sign(limit, clock(), counter=4), execute)
    assert answer.fault == MessageFault.INVALID_TOKEN_OR_COUNTER
    assert ran == []


def test_the_epoch_turns_over_after_the_last_counter(clock: ManualClock) -> None:
    """``TestGCMEpochRotation``: counter 0xFFFFFFFF works, then a new epoch."""
    vehicle = SimVehicle(vin=VIN)
    vehicle.paired_keys[CLIENT_PUBLIC] = PairedKey(CLIENT_PUBLIC)
    car = VehicleCommandCar(vehicle, clock)
    ref = ReferenceClient(_key(CLIENT_SCALAR), VIN)
    ref.accept(ref.read(car.handle(ref.session_info_request(), _ok).reply), clock())
    epoch = car.epoch(Domain.INFOTAINMENT)
    payload = vcp_client.vehicle_action(5, vcp_client.vint(1, 90))
    answer = car.handle(ref.sign(payload, clock(), counter=0xFFFFFFFF), _ok)
    assert answer.fault == MessageFault.NONE
    assert answer.command == "set_charge_limit"
    reply = ref.read(car.handle(ref.session_info_request(), _ok).reply)
    info = SessionInfo.decode(reply.session_info or b"")
    assert info.epoch != epoch
    assert info.counter == 0
    # A clock that goes back starts a new epoch too (adjustClock).
    clock.set(clock() - 10)
    car.handle(ref.session_info_request(), _ok)
    assert car.epoch(Domain.INFOTAINMENT) != info.epoch


def _ok(_name: str, _params: Any) -> tuple[bool, str]:
    return True, ""


def test_refusals_before_verification(clock: ManualClock) -> None:
    vehicle = SimVehicle(vin=VIN)
    vehicle.paired_keys[CLIENT_PUBLIC] = PairedKey(CLIENT_PUBLIC)
    car = VehicleCommandCar(vehicle, clock)
    ref = ReferenceClient(_key(CLIENT_SCALAR), VIN)
    ref.accept(ref.read(car.handle(ref.session_info_request(), _ok).reply), clock())
    signed = vcp_client.parse(ref.sign(SCHEDULE, clock()))
    envelope = vcp_client.ld(6, vcp_client.vint(1, 3)) + vcp_client.ld(10, SCHEDULE)
    signature = vcp_client.parse(vcp_client.as_bytes(signed[13]))
    hmac_data = vcp_client.as_bytes(signature[8])
    cases = {
        # a handle instead of a public key
        MessageFault.INVALID_KEY_HANDLE: vcp_client.ld(1, vcp_client.vint(3, 1))
        + vcp_client.ld(8, hmac_data),
        # no signer identity at all
        MessageFault.UNKNOWN_KEY_ID: vcp_client.ld(8, hmac_data),
        # a session-info tag where a command signature belongs
        MessageFault.BAD_PARAMETER: vcp_client.ld(6, vcp_client.ld(1, b"x")),
    }
    for fault, sig in cases.items():
        answer = car.handle(envelope + vcp_client.ld(13, sig), _ok)
        assert answer.fault == fault
    # A payload that is no CarServer.Action, or one without a vehicleAction.
    for payload, fault in (
        (b"\x12\x05ab", MessageFault.DECODING),
        (b"", MessageFault.INVALID_COMMAND),
    ):
        answer = car.handle(ref.sign(payload, clock()), _ok)
        assert answer.fault == fault
    # A signed session_info sent to the car is no command.
    as_info = ref.sign(SCHEDULE, clock())
    field_10 = vcp_client.ld(10, SCHEDULE)
    as_info = as_info.replace(field_10, vcp_client.ld(15, SCHEDULE))
    assert car.handle(as_info, _ok).fault == MessageFault.BAD_PARAMETER
    # A GCM command with a short nonce.
    session = ref.session
    assert session is not None
    gcm = (
        vcp_client.ld(1, session.epoch)
        + vcp_client.ld(2, b"short")
        + vcp_client.vint(3, 99)
        + vcp_client.fixed32(4, 5)
        + vcp_client.ld(5, b"\x00" * 16)
    )
    message = envelope + vcp_client.ld(
        13, vcp_client.ld(1, vcp_client.ld(1, CLIENT_PUBLIC)) + vcp_client.ld(5, gcm)
    )
    assert car.handle(message, _ok).fault == MessageFault.IV_INCORRECT_LENGTH
    # expires_at beyond an epoch's length is a bad parameter.
    signed_far = ref.sign(SCHEDULE, clock(), expires_in=2**31)
    assert car.handle(signed_far, _ok).fault == MessageFault.BAD_PARAMETER


def test_gcm_commands_are_verified_by_the_car(clock: ManualClock) -> None:
    """Fleet API blocks them, but the car's verifier handles AES-GCM as Go's does."""
    vehicle = SimVehicle(vin=VIN)
    vehicle.paired_keys[CLIENT_PUBLIC] = PairedKey(CLIENT_PUBLIC)
    car = VehicleCommandCar(vehicle, clock)
    ref = ReferenceClient(_key(CLIENT_SCALAR), VIN)
    ref.accept(ref.read(car.handle(ref.session_info_request(), _ok).reply), clock())
    session = ref.session
    assert session is not None
    fields = CommandFields(3, VIN.encode(), session.epoch, 10, 1, 0)
    nonce = bytes(12)
    sealed = AESGCM(session.key).encrypt(nonce, SCHEDULE, command_gcm_aad(fields))

    def message(ciphertext: bytes) -> bytes:
        gcm = (
            vcp_client.ld(1, session.epoch)
            + vcp_client.ld(2, nonce)
            + vcp_client.vint(3, 1)
            + vcp_client.fixed32(4, 10)
            + vcp_client.ld(5, sealed[-16:])
        )
        return (
            vcp_client.ld(6, vcp_client.vint(1, 3))
            + vcp_client.ld(10, ciphertext)
            + vcp_client.ld(
                13,
                vcp_client.ld(1, vcp_client.ld(1, CLIENT_PUBLIC))
                + vcp_client.ld(5, gcm),
            )
        )

    bad = car.handle(message(b"\x00" + sealed[1:-16]), _ok)
    assert bad.fault == MessageFault.INVALID_SIGNATURE
    good = car.handle(message(sealed[:-16]), _ok)
    assert (good.fault, good.command) == (MessageFault.NONE, "add_charge_schedule")
