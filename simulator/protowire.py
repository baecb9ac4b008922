"""The protobuf wire format, by hand: just enough for Tesla's command protocol.

The simulator speaks Tesla's Vehicle Command Protocol without the ``protobuf``
package: this module writes and reads the wire format (varints, 32-bit
fixed values, length-delimited bytes and sub-messages) and
:mod:`simulator.vcp_messages` builds Tesla's messages on top of it.

Encoding follows proto3: a scalar equal to its default (0, false, empty) is
left out unless the caller keeps it, a set sub-message is written even when
empty (``0a 00``), and a negative ``int32`` is the 10-byte varint of its
64-bit two's complement. Decoding is tolerant as protobuf is: fields may come
in any order, unknown fields of any wire type but groups are skipped, a
repeated scalar keeps its last value and a repeated sub-message is merged
(its encodings concatenated).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import struct
from typing import Final

VARINT: Final = 0
FIXED64: Final = 1
LEN: Final = 2
FIXED32: Final = 5

_U32: Final = 0xFFFF_FFFF
_U64: Final = 0xFFFF_FFFF_FFFF_FFFF
_MAX_FIELD: Final = (1 << 29) - 1
_MAX_VARINT_BYTES: Final = 10


class DecodeError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def varint(value: int) -> bytes:
    """The base-128 varint of an unsigned value below 2**64."""
    if not 0 <= value <= _U64:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode the varint at ``pos``; return it and the position after it."""
    result = 0
    for index in range(_MAX_VARINT_BYTES):
        if pos >= len(data):
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return result & _U64, pos
    raise DecodeError("varint longer than 10 bytes")


def _key(number: int, wire_type: int) -> bytes:
    if not 1 <= number <= _MAX_FIELD:
        raise ValueError(f"bad field number {number}")
    return varint(number << 3 | wire_type)


class Writer:
    """Builds one message, field by field, in the order the calls come."""

    def __init__(self) -> None:
        """Start an empty message."""
        self._out = bytearray()

    def uint(self, number: int, value: int, *, keep_default: bool = False) -> Writer:
        """A ``uint32``/``uint64``/enum field (left out when 0)."""
        if value or keep_default:
            self._out += _key(number, VARINT) + varint(value)
        return self

    def int32(self, number: int, value: int) -> Writer:
        """An ``int32`` field; a negative value takes 10 bytes (left out when 0)."""
        if not -(1 << 31) <= value < 1 << 31:
            raise ValueError(f"int32 out of range: {value}")
        return self.uint(number, value & _U64)

    def blob(self, number: int, value: bytes, *, keep_default: bool = False) -> Writer:
        """A ``bytes`` field (left out when empty)."""
        if value or keep_default:
            self._out += _key(number, LEN) + varint(len(value)) + value
        return self

    def string(self, number: int, value: str) -> Writer:
        """A ``string`` field, UTF-8 (left out when empty)."""
        return self.blob(number, value.encode())

    def message(self, number: int, encoded: bytes | None) -> Writer:
        """A sub-message: None leaves it out, ``b""`` is a set, empty message."""
        if encoded is not None:
            self.blob(number, encoded, keep_default=True)
        return self

    def fixed32(self, number: int, value: int) -> Writer:
        """A ``fixed32`` field: 4 bytes little-endian (left out when 0)."""
        if value:
            self._out += _key(number, FIXED32) + struct.pack("<I", value)
        return self

    def finish(self) -> bytes:
        """The encoded message."""
        return bytes(self._out)


@dataclass(frozen=True, slots=True)
class Field:
    """One field as read from the wire: a number for scalars, bytes for ``LEN``."""

    number: int
    wire_type: int
    value: int | bytes


def iter_fields(data: bytes) -> Iterator[Field]:
    """The fields of a message in wire order; DecodeError if it is malformed."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if not 1 <= number <= _MAX_FIELD:
            raise DecodeError(f"bad field number {number}")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
        elif wire_type == LEN:
            length, pos = read_varint(data, pos)
            if length > len(data) - pos:
                raise DecodeError("truncated length-delimited field")
            value, pos = data[pos : pos + length], pos + length
        elif wire_type in (FIXED32, FIXED64):
            size = 4 if wire_type == FIXED32 else 8
            if pos + size > len(data):
                raise DecodeError("truncated fixed-size field")
            value = int.from_bytes(data[pos : pos + size], "little")
            pos += size
        else:
            raise DecodeError(f"unsupported wire type {wire_type}")
        yield Field(number, wire_type, value)


class Message:
    """A decoded message: typed getters by field number, proto3 defaults.

    A getter checks the wire type of a field it is asked for (a mismatch is a
    DecodeError, as in protobuf); fields nobody asks for are never looked at.
    """

    def __init__(self, data: bytes) -> None:
        """Read every field of ``data`` (DecodeError if malformed)."""
        self.fields = list(iter_fields(data))

    def _all(self, number: int, wire_type: int) -> list[int | bytes]:
        found = []
        for field in self.fields:
            if field.number == number:
                if field.wire_type != wire_type:
                    raise DecodeError(
                        f"field {number}: wire type {field.wire_type}, "
                        f"expected {wire_type}"
                    )
                found.append(field.value)
        return found

    def _last_int(self, number: int, wire_type: int) -> int:
        values = self._all(number, wire_type)
        last = values[-1] if values else 0
        if not isinstance(last, int):  # pragma: no cover - wire type checked
            raise DecodeError(f"field {number} is not a number")
        return last

    def last_of(self, *numbers: int) -> int | None:
        """Which of a ``oneof``'s fields came last (it is the one set), or None."""
        chosen = None
        for field in self.fields:
            if field.number in numbers:
                chosen = field.number
        return chosen

    def uint32(self, number: int) -> int:
        """A ``uint32`` or enum (truncated to 32 bits, as protobuf does)."""
        return self._last_int(number, VARINT) & _U32

    def uint64(self, number: int) -> int:
        """A ``uint64``."""
        return self._last_int(number, VARINT)

    def int32(self, number: int) -> int:
        """An ``int32`` (the low 32 bits, two's complement)."""
        value = self._last_int(number, VARINT) & _U32
        return value - (1 << 32) if value >= 1 << 31 else value

    def boolean(self, number: int) -> bool:
        """A ``bool``."""
        return self._last_int(number, VARINT) != 0

    def fixed32(self, number: int) -> int:
        """A ``fixed32``."""
        return self._last_int(number, FIXED32)

    def float32(self, number: int) -> float:
        """A ``float``."""
        raw = self._last_int(number, FIXED32)
        value: float = struct.unpack("<f", raw.to_bytes(4, "little"))[0]
        return value

    def blob(self, number: int) -> bytes:
        """A ``bytes`` field (the last one on the wire), empty if absent."""
        values = self._all(number, LEN)
        last = values[-1] if values else b""
        if not isinstance(last, bytes):  # pragma: no cover - wire type checked
            raise DecodeError(f"field {number} is not bytes")
        return last

    def string(self, number: int) -> str:
        """A ``string`` field (DecodeError if it is not UTF-8)."""
        try:
            return self.blob(number).decode()
        except UnicodeDecodeError as err:
            raise DecodeError(f"field {number} is not UTF-8") from err

    def message(self, number: int) -> Message | None:
        """A sub-message (every occurrence merged), or None if absent."""
        parts = self._all(number, LEN)
        if not parts:
            return None
        return Message(b"".join(p for p in parts if isinstance(p, bytes)))
