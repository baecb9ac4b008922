"""The cryptography of Tesla's Vehicle Command Protocol, for the car's side.

Key agreement and derivation (``internal/authentication/native.go``), the
metadata the MACs cover (``metadata.go``, ``peer.go``), the session-info tag,
the request ID, the associated data of encrypted responses and the anti-replay
window (``window.go``), each as Tesla's Go reference computes it; the test
vectors of ``pkg/protocol/protocol.md`` check them (``tests/simulator/test_vcp.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import hmac
import struct
from typing import Final, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .vcp_messages import Domain, GcmPersonalized, HmacPersonalized, SignatureType, Tag

# internal/authentication/crypto.go
LABEL_SESSION_INFO: Final = b"session info"
LABEL_MESSAGE_AUTH: Final = b"authenticated command"
COUNTER_MAX: Final = 0xFFFF_FFFF
EPOCH_ID_LENGTH: Final = 16
MAX_SECONDS_WITHOUT_COUNTER: Final = 30
WINDOW_SIZE: Final = 32
EPOCH_LENGTH: Final = 1 << 30
"""Seconds an epoch may last (``epochLength``)."""
SHARED_KEY_LENGTH: Final = 16
PUBLIC_KEY_LENGTH: Final = 65

_P256_ORDER: Final = int(
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16
)
_U64: Final = (1 << 64) - 1


# --- keys and key derivation (native.go) ---------------------------------------


def public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    """A public key as the protocol sends it: 65 bytes ``04 || X || Y``."""
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def load_public_key(data: bytes) -> ec.EllipticCurvePublicKey | None:
    """The P-256 point of an uncompressed 65-byte key, None if it is not one.

    Go's ``elliptic.Unmarshal`` accepts only the uncompressed form.
    """
    if len(data) != PUBLIC_KEY_LENGTH or data[0] != 0x04:
        return None
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        return None


def parse_client_key(text: str) -> bytes:
    """A client's public key from PEM (``BEGIN PUBLIC KEY``) or hex, as 65 bytes.

    Hex may be the uncompressed (65-byte) or compressed (33-byte) point;
    ValueError (or TypeError) for anything that is not a P-256 public key.
    """
    text = text.strip()
    key: object
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
    else:
        try:
            point = bytes.fromhex(text)
        except ValueError as err:
            raise ValueError("public_key must be PEM or hex") from err
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise TypeError("public_key must be a P-256 (secp256r1) key")
    return public_bytes(key)


def car_private_key(vin: str, domain: int) -> ec.EllipticCurvePrivateKey:
    """The car's fixed key of one domain, derived from the VIN (stable forever)."""
    seed = hashlib.sha256(
        b"tesla-scout simulator car key\0" + vin.encode() + bytes([domain])
    ).digest()
    scalar = int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def session_key(
    private: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey
) -> bytes:
    """``K = SHA1(ECDH x-coordinate, 32 bytes big-endian)[:16]``."""
    shared = private.exchange(ec.ECDH(), peer)
    return hashlib.sha1(shared).digest()[:SHARED_KEY_LENGTH]  # noqa: S324 - Tesla's KDF


def subkey(key: bytes, label: bytes) -> bytes:
    """``HMAC-SHA256(K, label)``: the key of session-info tags or command MACs."""
    return hmac.new(key, label, hashlib.sha256).digest()


# --- metadata (metadata.go) -------------------------------------------------------


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class Metadata:
    """Tag-length-value items in tag order, ``0xFF``, then the message.

    The hash absorbing them is HMAC-SHA256 for tags and plain SHA-256 for
    AES-GCM associated data. A ``None`` value leaves the item out entirely.
    """

    def __init__(self, context: _Hash) -> None:
        """Absorb into ``context``."""
        self._context = context
        self._last = -1

    def add(self, tag: Tag, value: bytes | None) -> None:
        """Add one item; tags must not go down, values fit in 255 bytes."""
        if tag < self._last:
            raise ValueError("metadata tags out of order")
        if value is None:
            return
        if len(value) > 255:
            raise ValueError("metadata value too long")
        self._last = tag
        self._context.update(bytes([tag, len(value)]) + value)

    def add_u32(self, tag: Tag, value: int) -> None:
        """Add a 4-byte big-endian number."""
        self.add(tag, struct.pack(">I", value))

    def checksum(self, message: bytes) -> bytes:
        """End the items and absorb ``message``: the tag or the digest."""
        self._context.update(bytes([Tag.END]) + message)
        return self._context.digest()


def _hmac(key: bytes, label: bytes) -> Metadata:
    return Metadata(hmac.new(subkey(key, label), digestmod=hashlib.sha256))


def session_info_tag(
    key: bytes, vin: bytes, challenge: bytes, encoded_info: bytes
) -> bytes:
    """The ``session_info_tag`` of an encoded ``SessionInfo``.

    The challenge is the request's UUID; an empty one leaves its item out.
    """
    meta = _hmac(key, LABEL_SESSION_INFO)
    meta.add(Tag.SIGNATURE_TYPE, bytes([SignatureType.HMAC]))
    meta.add(Tag.PERSONALIZATION, vin)
    meta.add(Tag.CHALLENGE, challenge or None)
    return meta.checksum(encoded_info)


@dataclass(frozen=True, slots=True)
class CommandFields:
    """What a command's MAC covers besides the payload (``extractMetadata``)."""

    domain: int
    vin: bytes
    epoch: bytes
    """The car's own epoch, whatever the message carried."""
    expires_at: int
    counter: int
    flags: int

    def fill(self, meta: Metadata, signature_type: SignatureType) -> None:
        """Add the items in Tesla's order; flags only when any is set."""
        meta.add(Tag.SIGNATURE_TYPE, bytes([signature_type]))
        meta.add(Tag.DOMAIN, bytes([self.domain]))
        meta.add(Tag.PERSONALIZATION, self.vin)
        meta.add(Tag.EPOCH, self.epoch)
        meta.add_u32(Tag.EXPIRES_AT, self.expires_at)
        meta.add_u32(Tag.COUNTER, self.counter)
        if self.flags:
            meta.add_u32(Tag.FLAGS, self.flags)


def command_hmac_tag(key: bytes, fields: CommandFields, payload: bytes) -> bytes:
    """The HMAC-personalized tag over the metadata and the payload as received."""
    meta = _hmac(key, LABEL_MESSAGE_AUTH)
    fields.fill(meta, SignatureType.HMAC_PERSONALIZED)
    return meta.checksum(payload)


def command_gcm_aad(fields: CommandFields) -> bytes:
    """The associated data of an AES-GCM-personalized command."""
    meta = Metadata(hashlib.sha256())
    fields.fill(meta, SignatureType.AES_GCM_PERSONALIZED)
    return meta.checksum(b"")


def request_id(domain: int, sig: HmacPersonalized | GcmPersonalized) -> bytes:
    """``RequestID``: the signature type and the request's tag (VCSEC: 16 bytes)."""
    if isinstance(sig, GcmPersonalized):
        return bytes([SignatureType.AES_GCM_PERSONALIZED]) + sig.tag
    tag = sig.tag[:16] if domain == Domain.VEHICLE_SECURITY else sig.tag
    return bytes([SignatureType.HMAC_PERSONALIZED]) + tag


def response_aad(
    domain: int, vin: bytes, counter: int, flags: int, req_id: bytes, fault: int
) -> bytes:
    """``responseMetadata``: what an encrypted response's tag covers.

    The response's own flags are always an item, even when 0.
    """
    meta = Metadata(hashlib.sha256())
    meta.add(Tag.SIGNATURE_TYPE, bytes([SignatureType.AES_GCM_RESPONSE]))
    meta.add(Tag.DOMAIN, bytes([domain]))
    meta.add(Tag.PERSONALIZATION, vin)
    meta.add_u32(Tag.COUNTER, counter)
    meta.add_u32(Tag.FLAGS, flags)
    meta.add(Tag.REQUEST_HASH, req_id)
    meta.add_u32(Tag.FAULT, fault)
    return meta.checksum(b"")


def update_sliding_window(
    counter: int, window: int, new_counter: int
) -> tuple[int, int, bool]:
    """``updateSlidingWindow``: accept each counter once, up to 32 behind."""
    if new_counter == counter:
        return counter, window, False
    if new_counter < counter:
        age = counter - new_counter
        if age > WINDOW_SIZE or window >> (age - 1) & 1:
            return counter, window, False
        return counter, window | 1 << (age - 1), True
    shift = new_counter - counter
    # Go's uint64 shifts: 64 places or more give 0.
    shifted = (window << shift) & _U64 if shift < 64 else 0
    if shift <= 64:
        shifted |= (1 << (shift - 1)) & _U64
    return new_counter, shifted, True
