"""Plain-TCP peer for the baselines, run as its own process: ``python -m bench.peer MODE PORT``.

``sink`` counts bytes until EOF and answers with the count (8 bytes, big endian);
``nsink`` takes an 8-byte length first and answers once that many bytes arrived;
``echo`` returns what it reads.  A separate process so that, like two wsnet
nodes, sender and receiver each get their own core.  Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import cast

import uvloop

COUNT_SIZE = 8


class SinkProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.total = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.total += len(data)

    def eof_received(self) -> bool:
        assert self.transport is not None
        self.transport.write(self.total.to_bytes(COUNT_SIZE, "big"))
        self.transport.close()
        return True


class CountedSinkProtocol(SinkProtocol):
    """``nsink``: the first 8 bytes say how many follow; the count is answered once they
    arrived.  For paths that carry no half-close (a WebSocket bridge such as websockify)."""

    def __init__(self) -> None:
        super().__init__()
        self.expected = -1
        self.head = b""

    def data_received(self, data: bytes) -> None:
        if self.expected < 0:
            need = COUNT_SIZE - len(self.head)
            self.head += data[:need]
            data = data[need:]
            if len(self.head) < COUNT_SIZE:
                return
            self.expected = int.from_bytes(self.head, "big")
        self.total += len(data)
        if self.total >= self.expected and self.transport is not None:
            self.transport.write(self.total.to_bytes(COUNT_SIZE, "big"))

    def eof_received(self) -> bool:
        return False  # the count went out already: just close


class EchoProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        # Small writes must leave at once, as a wsnet link's do.
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


async def serve(mode: str, port: int, lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    factories: dict[str, type[asyncio.Protocol]] = {
        "sink": SinkProtocol, "nsink": CountedSinkProtocol, "echo": EchoProtocol}  # fmt: skip
    factory = factories[mode]
    server = await loop.create_server(factory, "127.0.0.1", port)
    async with server:
        # Bounded even if the parent dies without killing us.
        await asyncio.sleep(lifetime)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] not in ("sink", "nsink", "echo"):
        print("usage: python -m bench.peer sink|nsink|echo PORT [LIFETIME_S]", file=sys.stderr)
        return 2
    lifetime = float(argv[2]) if len(argv) == 3 else 3600.0
    uvloop.run(serve(argv[0], int(argv[1]), lifetime))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
