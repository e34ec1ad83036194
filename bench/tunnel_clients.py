"""The clients of the tunnel benchmarks, the same for every path.

An ``Endpoint`` is where a client connects: a TCP port (plain TCP, a wsnet or a
tcp-over-websocket listener) or a WebSocket URL (websockify, which bridges each
WebSocket to one TCP connection; subprotocol ``binary``, 64 KiB messages).  Bulk
transfers go to an ``nsink`` (8-byte length first, count answered at the end), so no
path needs half-close; setup rate and idle connections use an ``echo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from .peer import COUNT_SIZE

BLOCK = os.urandom(1 << 20)
WS_MESSAGE = 64 << 10  # what a browser-side websockify client would send per message


@dataclass(frozen=True)
class Endpoint:
    port: int = 0  # TCP
    url: str = ""  # WebSocket (websockify)


class Conn(Protocol):
    async def send(self, data: bytes | memoryview) -> None: ...
    async def recv_exactly(self, n: int) -> bytes: ...
    async def close(self) -> None: ...


class TcpConn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes | memoryview) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv_exactly(self, n: int) -> bytes:
        return await self.reader.readexactly(n)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class WsConn:
    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.session, self.ws = session, ws
        self.buf = bytearray()

    async def send(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        for off in range(0, len(view), WS_MESSAGE):
            await self.ws.send_bytes(bytes(view[off : off + WS_MESSAGE]))

    async def recv_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            msg = await self.ws.receive()
            if msg.type != aiohttp.WSMsgType.BINARY:
                raise ConnectionError(f"websocket ended: {msg.type.name} {msg.extra or ''}")
            self.buf += msg.data
        out, self.buf = bytes(self.buf[:n]), self.buf[n:]
        return out

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


async def connect(ep: Endpoint) -> Conn:
    if ep.url:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(ep.url, protocols=("binary",), max_msg_size=0)
        except BaseException:
            await session.close()
            raise
        return WsConn(session, ws)
    reader, writer = await asyncio.open_connection("127.0.0.1", ep.port, limit=1 << 20)
    return TcpConn(reader, writer)


async def bulk(ep: Endpoint, nbytes: int) -> float:
    """Send ``nbytes`` to an nsink and wait for its count; returns seconds."""
    t0 = time.perf_counter()
    conn = await connect(ep)
    try:
        await conn.send(nbytes.to_bytes(COUNT_SIZE, "big"))
        block = memoryview(BLOCK)
        left = nbytes
        while left > 0:
            piece = block[: min(left, len(block))]
            await conn.send(piece)
            left -= len(piece)
        got = int.from_bytes(await conn.recv_exactly(COUNT_SIZE), "big")
        if got != nbytes:
            raise RuntimeError(f"sink confirmed {got} of {nbytes} bytes")
    finally:
        await conn.close()
    return time.perf_counter() - t0


async def parallel_bulk(ep: Endpoint, nbytes: int, streams: int) -> float:
    """``streams`` transfers of nbytes/streams at once; returns seconds for all."""
    t0 = time.perf_counter()
    await asyncio.gather(*(bulk(ep, nbytes // streams) for _ in range(streams)))
    return time.perf_counter() - t0


async def setup_rate(ep: Endpoint, count: int, concurrency: int, size: int = 1024) -> float:
    """Connections per second, each sending ``size`` bytes to an echo, reading them, closing."""
    payload = BLOCK[:size]
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            conn = await connect(ep)
            try:
                await conn.send(payload)
                if await conn.recv_exactly(size) != payload:
                    raise RuntimeError("echo returned other bytes")
            finally:
                await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - t0)


async def open_idle(ep: Endpoint, count: int) -> tuple[list[Conn], str]:
    """Open up to ``count`` connections, each proved by a 1-byte echo, 50 at a time.

    Stops at the first failure (a peer that cannot hold that many): returns the
    connections that are up and the error ("" when all ``count`` are up).
    """
    conns: list[Conn] = []
    error = ""
    for start in range(0, count, 50):
        batch = await asyncio.gather(
            *(_one_idle(ep) for _ in range(min(50, count - start))), return_exceptions=True
        )
        for res in batch:
            if isinstance(res, BaseException):
                error = error or f"{type(res).__name__}: {res}"
            else:
                conns.append(res)
        if error:
            break
    return conns, error


async def _one_idle(ep: Endpoint) -> Conn:
    conn = await connect(ep)
    try:
        await conn.send(b"x")
        await conn.recv_exactly(1)
    except BaseException:
        await conn.close()
        raise
    return conn


async def close_all(conns: list[Conn]) -> None:
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
