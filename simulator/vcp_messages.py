"""Tesla's command-protocol messages the simulated car reads and writes.

Field numbers and enums are those of ``teslamotors/vehicle-command``
``pkg/protocol/protobuf/universal_message.proto``, ``signatures.proto``,
``car_server.proto`` and ``common.proto`` (see ``data/SOURCES.md``). Only the
subset the car side needs is here; everything else on the wire is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from .protowire import Message, Writer


class Domain(IntEnum):
    """``UniversalMessage.Domain``."""

    BROADCAST = 0
    VEHICLE_SECURITY = 2
    INFOTAINMENT = 3


class OperationStatus(IntEnum):
    """``UniversalMessage.OperationStatus_E`` (CarServer's has ERROR = 1)."""

    OK = 0
    WAIT = 1
    ERROR = 2


class MessageFault(IntEnum):
    """``UniversalMessage.MessageFault_E``."""

    NONE = 0
    BUSY = 1
    TIMEOUT = 2
    UNKNOWN_KEY_ID = 3
    INACTIVE_KEY = 4
    INVALID_SIGNATURE = 5
    INVALID_TOKEN_OR_COUNTER = 6
    INSUFFICIENT_PRIVILEGES = 7
    INVALID_DOMAINS = 8
    INVALID_COMMAND = 9
    DECODING = 10
    INTERNAL = 11
    WRONG_PERSONALIZATION = 12
    BAD_PARAMETER = 13
    KEYCHAIN_IS_FULL = 14
    INCORRECT_EPOCH = 15
    IV_INCORRECT_LENGTH = 16
    TIME_EXPIRED = 17
    NOT_PROVISIONED_WITH_IDENTITY = 18
    COULD_NOT_HASH_METADATA = 19
    TIME_TO_LIVE_TOO_LONG = 20
    REMOTE_ACCESS_DISABLED = 21
    REMOTE_SERVICE_ACCESS_DISABLED = 22
    COMMAND_REQUIRES_ACCOUNT_CREDENTIALS = 23
    REQUEST_MTU_EXCEEDED = 24
    RESPONSE_MTU_EXCEEDED = 25
    REPEATED_COUNTER = 26
    INVALID_KEY_HANDLE = 27
    REQUIRES_RESPONSE_ENCRYPTION = 28


class SignatureType(IntEnum):
    """``Signatures.SignatureType``."""

    AES_GCM = 0
    AES_GCM_PERSONALIZED = 5
    HMAC = 6
    HMAC_PERSONALIZED = 8
    AES_GCM_RESPONSE = 9


class Tag(IntEnum):
    """``Signatures.Tag``: the items of the metadata the MACs cover."""

    SIGNATURE_TYPE = 0
    DOMAIN = 1
    PERSONALIZATION = 2
    EPOCH = 3
    EXPIRES_AT = 4
    COUNTER = 5
    CHALLENGE = 6
    FLAGS = 7
    REQUEST_HASH = 8
    FAULT = 9
    END = 255


class SessionInfoStatus(IntEnum):
    """``Signatures.Session_Info_Status``."""

    OK = 0
    KEY_NOT_ON_WHITELIST = 1


PROTOBUF_MESSAGE: Final = 10
SESSION_INFO_REQUEST: Final = 14
SESSION_INFO: Final = 15
"""The field numbers of ``RoutableMessage``'s ``payload`` ``oneof``."""

FLAG_ENCRYPT_RESPONSE: Final = 1 << 1
"""``flags`` is a bit mask of ``1 << Flags``: FLAG_ENCRYPT_RESPONSE is bit 1."""


def _read[T](part: Message | None, read: Callable[[Message], T]) -> T | None:
    """``read(part)`` for a sub-message on the wire, None for one that is not."""
    return None if part is None else read(part)


@dataclass(frozen=True, slots=True)
class Destination:
    """``Destination``: a domain or a 16-byte routing address (a ``oneof``)."""

    domain: int | None = None
    routing_address: bytes | None = None

    def encode(self) -> bytes:
        """Wire bytes (a set domain is written even when it is 0)."""
        writer = Writer()
        if self.domain is not None:
            writer.uint(1, self.domain, keep_default=True)
        elif self.routing_address is not None:
            writer.blob(2, self.routing_address, keep_default=True)
        return writer.finish()

    @classmethod
    def decode(cls, message: Message) -> Destination:
        """Read a ``Destination`` (the last ``oneof`` member wins)."""
        which = message.last_of(1, 2)
        if which == 1:
            return cls(domain=message.uint32(1))
        if which == 2:
            return cls(routing_address=message.blob(2))
        return cls()


@dataclass(frozen=True, slots=True)
class HmacPersonalized:
    """``HMAC_Personalized_Signature_Data``."""

    epoch: bytes
    counter: int
    expires_at: int
    tag: bytes


@dataclass(frozen=True, slots=True)
class GcmPersonalized:
    """``AES_GCM_Personalized_Signature_Data``."""

    epoch: bytes
    nonce: bytes
    counter: int
    expires_at: int
    tag: bytes


@dataclass(frozen=True, slots=True)
class GcmResponse:
    """``AES_GCM_Response_Signature_Data``."""

    nonce: bytes
    counter: int
    tag: bytes


@dataclass(frozen=True, slots=True)
class SessionInfoTag:
    """``HMAC_Signature_Data``, as ``SignatureData.session_info_tag``."""

    tag: bytes


type SigType = HmacPersonalized | GcmPersonalized | GcmResponse | SessionInfoTag


@dataclass(frozen=True, slots=True)
class SignatureData:
    """``SignatureData``: who signed and how (the ``sig_type`` ``oneof``)."""

    signer_public_key: bytes | None = None
    signer_handle: int | None = None
    sig: SigType | None = None

    def encode(self) -> bytes:
        """Wire bytes of the parts the car sends (tag or response data)."""
        writer = Writer()
        if self.signer_public_key is not None:
            writer.message(1, Writer().blob(1, self.signer_public_key).finish())
        sig = self.sig
        if isinstance(sig, SessionInfoTag):
            writer.message(6, Writer().blob(1, sig.tag).finish())
        elif isinstance(sig, GcmResponse):
            data = (
                Writer().blob(1, sig.nonce).uint(2, sig.counter).blob(3, sig.tag)
            ).finish()
            writer.message(9, data)
        elif sig is not None:
            raise NotImplementedError(f"the car never sends {type(sig).__name__}")
        return writer.finish()

    @classmethod
    def decode(cls, message: Message) -> SignatureData:
        """Read a ``SignatureData``."""
        public_key: bytes | None = None
        handle: int | None = None
        identity = message.message(1)
        if identity is not None:
            which = identity.last_of(1, 3)
            if which == 1:
                public_key = identity.blob(1)
            elif which == 3:
                handle = identity.uint32(3)
        sig: SigType | None = None
        which = message.last_of(5, 6, 8, 9)
        part = message.message(which) if which is not None else None
        if which == 5 and part is not None:
            sig = GcmPersonalized(
                epoch=part.blob(1),
                nonce=part.blob(2),
                counter=part.uint32(3),
                expires_at=part.fixed32(4),
                tag=part.blob(5),
            )
        elif which == 6 and part is not None:
            sig = SessionInfoTag(tag=part.blob(1))
        elif which == 8 and part is not None:
            sig = HmacPersonalized(
                epoch=part.blob(1),
                counter=part.uint32(2),
                expires_at=part.fixed32(3),
                tag=part.blob(4),
            )
        elif which == 9 and part is not None:
            sig = GcmResponse(
                nonce=part.blob(1), counter=part.uint32(2), tag=part.blob(3)
            )
        return cls(public_key, handle, sig)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """``Signatures.SessionInfo``: what the car tells a client at the handshake."""

    counter: int = 0
    public_key: bytes = b""
    epoch: bytes = b""
    clock_time: int = 0
    status: int = SessionInfoStatus.OK
    handle: int = 0

    def encode(self) -> bytes:
        """Wire bytes, in field order (Tesla's example encodes exactly so)."""
        return (
            Writer()
            .uint(1, self.counter)
            .blob(2, self.public_key)
            .blob(3, self.epoch)
            .fixed32(4, self.clock_time)
            .uint(5, self.status)
            .uint(6, self.handle)
            .finish()
        )

    @classmethod
    def decode(cls, data: bytes) -> SessionInfo:
        """Read a ``SessionInfo``."""
        message = Message(data)
        return cls(
            counter=message.uint32(1),
            public_key=message.blob(2),
            epoch=message.blob(3),
            clock_time=message.fixed32(4),
            status=message.uint32(5),
            handle=message.uint32(6),
        )


@dataclass(frozen=True, slots=True)
class RoutableMessage:
    """``UniversalMessage.RoutableMessage``.

    ``payload`` is its ``oneof``: ``protobuf_message_as_bytes``
    (:data:`PROTOBUF_MESSAGE`), ``session_info_request`` (here only its public
    key) or ``session_info``; the field it came in is ``payload_field``.
    """

    to_destination: Destination | None = None
    from_destination: Destination | None = None
    payload_field: int | None = None
    payload: bytes = b""
    signature_data: SignatureData | None = None
    status: tuple[int, int] | None = None
    """``signedMessageStatus`` as ``(operation_status, signed_message_fault)``."""
    request_uuid: bytes = b""
    uuid: bytes = b""
    flags: int = 0

    def encode(self) -> bytes:
        """Wire bytes of a message the car sends."""
        writer = Writer()
        for number, destination in (
            (6, self.to_destination),
            (7, self.from_destination),
        ):
            if destination is not None:
                writer.message(number, destination.encode())
        if self.payload_field == SESSION_INFO_REQUEST:
            writer.message(self.payload_field, Writer().blob(1, self.payload).finish())
        elif self.payload_field is not None:
            writer.blob(self.payload_field, self.payload, keep_default=True)
        if self.status is not None:
            operation, fault = self.status
            writer.message(12, Writer().uint(1, operation).uint(2, fault).finish())
        if self.signature_data is not None:
            writer.message(13, self.signature_data.encode())
        writer.blob(50, self.request_uuid).blob(51, self.uuid).uint(52, self.flags)
        return writer.finish()

    @classmethod
    def decode(cls, data: bytes) -> RoutableMessage:
        """Read a ``RoutableMessage``; DecodeError if it is malformed."""
        message = Message(data)
        to_part, from_part = message.message(6), message.message(7)
        payload_field = message.last_of(10, 14, 15)
        payload = b""
        if payload_field == SESSION_INFO_REQUEST:
            request = message.message(payload_field)
            payload = request.blob(1) if request is not None else b""
        elif payload_field is not None:
            payload = message.blob(payload_field)
        signature = message.message(13)
        status = message.message(12)
        return cls(
            to_destination=_read(to_part, Destination.decode),
            from_destination=_read(from_part, Destination.decode),
            payload_field=payload_field,
            payload=payload,
            signature_data=_read(signature, SignatureData.decode),
            status=_read(status, lambda part: (part.uint32(1), part.uint32(2))),
            request_uuid=message.blob(50),
            uuid=message.blob(51),
            flags=message.uint32(52),
        )


# --- CarServer (the INFOTAINMENT domain's application layer) -----------------

CARSERVER_OK: Final = 0
CARSERVER_ERROR: Final = 1
"""``CarServer.OperationStatus_E``: unlike UniversalMessage's, ERROR is 1."""


def carserver_response(ok: bool, reason: str = "") -> bytes:
    """``CarServer.Response{actionStatus{result, result_reason{plain_text}}}``.

    Success is an empty ``actionStatus`` (``0a 00``); a refusal carries
    ``result = ERROR`` and the reason as plain text.
    """
    status = Writer()
    if not ok:
        status.uint(1, CARSERVER_ERROR)
        if reason:
            status.message(2, Writer().string(1, reason).finish())
    return Writer().message(1, status.finish()).finish()
