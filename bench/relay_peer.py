"""A minimal TCP relay with uvloop: the ceiling row of the request/response group.

``python -m bench.relay_peer LIFETIME_S LISTEN:TARGET [LISTEN:TARGET ...]``: for each
pair, accept on 127.0.0.1:LISTEN and connect every accepted connection to
127.0.0.1:TARGET, bytes passed on as they come (protocol callbacks, no task per
connection, no framing), with back-pressure by pausing the other side's reading.  Two
of them chained are what two wsnet nodes would be with nothing but the copying left:
no WebSocket, no multiplexing, no credit.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import sys
from typing import cast

import uvloop


class Half(asyncio.Protocol):
    """One socket of a relayed pair; ``other`` is the socket its bytes go to."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.other: Half | None = None
        self.pending: list[bytes] = []  # bytes that came before the other side connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        other = self.other
        if other is None or other.transport is None:
            self.pending.append(data)
            return
        other.transport.write(data)

    def eof_received(self) -> bool:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.write_eof()
        return True

    def pause_writing(self) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.close()


class Accepted(Half):
    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, out = await loop.create_connection(Half, "127.0.0.1", self.target)
        except OSError:
            if self.transport is not None:
                self.transport.close()
            return
        out.other, self.other = self, out
        assert out.transport is not None
        out.transport.writelines(self.pending)
        self.pending.clear()


async def serve(pairs: list[tuple[int, int]], lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(functools.partial(Accepted, target), "127.0.0.1", listen)
        for listen, target in pairs
    ]
    try:
        await asyncio.sleep(lifetime)  # bounded even if the parent dies without killing us
    finally:
        for server in servers:
            server.close()


def main(argv: list[str]) -> int:
    try:
        lifetime = float(argv[0])
        pairs = [tuple(int(p) for p in arg.split(":")) for arg in argv[1:]]
        if not pairs or any(len(p) != 2 for p in pairs):
            raise ValueError
    except (ValueError, IndexError):
        print("usage: python -m bench.relay_peer LIFETIME_S LISTEN:TARGET ...", file=sys.stderr)
        return 2
    uvloop.run(serve([(p[0], p[1]) for p in pairs], lifetime))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
