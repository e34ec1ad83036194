"""Frame codec of the wsnet link protocol: pure functions over bytes, no I/O.

A WebSocket binary message carries one or more frames back to back.  Frames never
span messages, so a truncated frame is always a protocol error rather than a
"need more data" condition.

    +--------+--------+----------------+----------------+-----------------+
    | type u8| flags u8| channel u32   | length u32     | payload (length)|
    +--------+--------+----------------+----------------+-----------------+
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import NamedTuple

from .errors import ProtocolError

HEADER = struct.Struct("!BBII")
HEADER_SIZE = HEADER.size  # 10 bytes
MAX_CHANNEL_ID = 0xFFFFFFFF


class FrameType(IntEnum):
    HELLO = 1
    OPEN = 2
    ACCEPT = 3
    DATA = 4
    WINDOW = 5
    RESET = 6
    PING = 7
    PONG = 8
    ROUTES = 9


class Flag:
    """Bits of the flags byte."""

    FIN = 0x01  # DATA: the sender will send no more bytes on this stream (half-close)


# Frame types a decoder accepts; a set lookup is cheaper than constructing the enum.
_KNOWN_TYPES = frozenset(int(t) for t in FrameType)


class Frame(NamedTuple):
    """One decoded frame.  ``payload`` is a zero-copy view into the message."""

    type: int
    flags: int
    channel: int
    payload: memoryview


def encode_header(ftype: int, flags: int, channel: int, length: int) -> bytes:
    return HEADER.pack(ftype, flags, channel, length)


def encode_frame(ftype: int, flags: int, channel: int, payload: bytes | memoryview = b"") -> bytes:
    return HEADER.pack(ftype, flags, channel, len(payload)) + bytes(payload)


def decode_message(message: bytes | bytearray | memoryview, max_payload: int) -> list[Frame]:
    """Split one WebSocket message into frames.

    Raises ProtocolError (and nothing else) for an empty message, a truncated
    header or payload, an unknown frame type, or a payload above ``max_payload``.
    The payload length is checked before anything is sliced, so a hostile length
    field never makes the decoder allocate.
    """
    view = memoryview(message)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    end = len(view)
    if end == 0:
        raise ProtocolError("empty message")
    frames: list[Frame] = []
    offset = 0
    unpack_from = HEADER.unpack_from
    while offset < end:
        if end - offset < HEADER_SIZE:
            raise ProtocolError(f"truncated frame header at byte {offset}")
        ftype, flags, channel, length = unpack_from(view, offset)
        if ftype not in _KNOWN_TYPES:
            raise ProtocolError(f"unknown frame type {ftype} at byte {offset}")
        if length > max_payload:
            raise ProtocolError(f"frame payload of {length} bytes exceeds limit {max_payload}")
        start = offset + HEADER_SIZE
        offset = start + length
        if offset > end:
            raise ProtocolError(f"truncated frame payload: {length} declared, {end - start} left")
        frames.append(Frame(ftype, flags, channel, view[start:offset]))
    return frames
