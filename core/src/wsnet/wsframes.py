"""Binary WebSocket frames written straight to an aiohttp WebSocket's transport.

aiohttp stays the WebSocket implementation (handshake, reader, control frames, close);
only the link's binary messages skip its ``send_bytes``, which takes one ``bytes``
(so every queued payload is joined into a new buffer first), copies a masked message
twice more (``bytearray(message)``, then ``header + mask + message``), and is a
coroutine (a task hop per message).  Here a message is the session's pieces: written
with one vectored write (header, then views of the payloads) when unmasked, masked in
one copy with aiohttp's own C helper when this side dialled (RFC 6455 5.3).

Measured for the choice of masking (1 MiB in 64 KiB pieces, 2026-11-30, loaded 2-core
machine): aiohttp's ``websocket_mask`` on a ``bytearray`` joined from the pieces
62 µs/MiB; ``websockets.speedups.apply_mask`` per piece 34 µs/MiB.  The difference is
about 30 ms of CPU per GiB (2 % of a link's CPU per GiB), not worth a second WebSocket
library as a dependency; aiohttp's helper is used.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Any

# aiohttp's own masking: the Cython build when compiled (it is in the wheels), else its
# pure-Python fallback.  Private modules (3.11+; 3.10 had it in http_websocket), so
# attach() checks everything it relies on and falls back to send_bytes without it.
_mask_fn: Callable[[bytes, bytearray], None] | None
try:
    from aiohttp._websocket.helpers import websocket_mask as _mask_fn
except ImportError:  # pragma: no cover - aiohttp 3.10
    try:
        from aiohttp.http_websocket import (  # type: ignore[attr-defined,no-redef]
            websocket_mask as _mask_fn,
        )
    except ImportError:
        _mask_fn = None

_mask: Callable[[bytes, bytearray], None] = _mask_fn or (lambda mask, data: None)
_BINARY = 0x82  # FIN + opcode 2
_LEN2 = struct.Struct("!BBH")
_LEN8 = struct.Struct("!BBQ")
SMALL = 4096  # below this one joined write is cheaper than a vectored one
# Masks as aiohttp makes them (random.Random, not a system call per message): masking
# keeps intermediaries from reading frames as requests, it is not secrecy.
_mask_bits = random.Random().getrandbits


def _header(size: int, mask_bit: int) -> bytes:
    if size < 126:
        return bytes((_BINARY, size | mask_bit))
    if size < 65536:
        return _LEN2.pack(_BINARY, 126 | mask_bit, size)
    return _LEN8.pack(_BINARY, 127 | mask_bit, size)


class FrameSink:
    """Writes whole binary messages to one aiohttp WebSocket, synchronously."""

    def __init__(self, writer: Any, transport: Any, protocol: Any, masked: bool) -> None:
        self._writer = writer  # aiohttp's WebSocketWriter: its ``_closing`` flag
        self._transport = transport
        self._protocol = protocol  # aiohttp's BaseProtocol: ``_paused``, ``_drain_helper``
        self._masked = masked

    @classmethod
    def attach(cls, ws: object) -> FrameSink | None:
        """A sink for aiohttp's client or server WebSocket ``ws``; None for anything else
        (another WebSocketLike, an aiohttp whose internals moved): send_bytes then."""
        writer = getattr(ws, "_writer", None)
        transport = getattr(writer, "transport", None)
        protocol = getattr(writer, "protocol", None)
        if (
            _mask_fn is None
            or writer is None
            or not isinstance(getattr(writer, "use_mask", None), bool)
            or not isinstance(getattr(writer, "_closing", None), bool)
            or getattr(writer, "compress", None)  # a compressed link: aiohttp writes
            or transport is None
            or not hasattr(transport, "writelines")
            or not isinstance(getattr(protocol, "_paused", None), bool)
            or not hasattr(protocol, "_drain_helper")
        ):
            return None
        return cls(writer, transport, protocol, bool(writer.use_mask))

    @property
    def paused(self) -> bool:
        """The transport's buffer is over its high-water mark: wait in drain()."""
        return bool(self._protocol._paused)

    async def drain(self) -> None:
        if self._protocol._paused:
            await self._protocol._drain_helper()

    def write(self, parts: list[bytes | memoryview], size: int) -> None:
        """One binary message made of ``parts`` (``size`` bytes together).  Raises
        ConnectionResetError when the WebSocket is closing, as send_bytes does."""
        transport = self._transport
        if self._writer._closing or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        if self._masked:
            mask = _mask_bits(32).to_bytes(4, "big")
            payload = bytearray().join(parts)  # the one copy masking needs
            _mask(mask, payload)
            if size <= SMALL:
                transport.write(_header(size, 0x80) + mask + payload)
            else:
                transport.writelines((_header(size, 0x80) + mask, payload))
        elif size <= SMALL:
            transport.write(_header(size, 0) + b"".join(parts))
        else:
            transport.writelines((_header(size, 0), *parts))
