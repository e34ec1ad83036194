"""The client of the request/response group, the same for every path, and CPU from /proc.

One TCP connection (TCP_NODELAY) to an echo behind the path; a request is ``size`` bytes
written at once, its response the same bytes read back; one request in flight at a
time.  ``paced`` sends at a fixed rate (a request that is late because the previous
answer was late goes at once, so the rate is an upper bound and the client records it);
``saturate`` sends the next request the moment the answer is in.  Round-trip times are
from the write to the last byte of the answer.  A protocol, not streams: the client's own
cost per request is a callback and a future, the same on every path.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

_TICK = os.sysconf("SC_CLK_TCK")


class _Echoed(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.got = 0
        self.want = 0
        self.waiter: asyncio.Future[None] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.got += len(data)
        if self.got >= self.want and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def round_trip(self, payload: bytes) -> float:
        assert self.transport is not None
        self.got, self.want = 0, len(payload)
        self.waiter = asyncio.get_running_loop().create_future()
        t0 = time.perf_counter()
        self.transport.write(payload)
        await asyncio.wait_for(self.waiter, 10)
        return time.perf_counter() - t0


@dataclass
class Run:
    rtts: list[float]  # seconds, one per request
    seconds: float  # wall time of the whole run

    @property
    def rate(self) -> float:
        return len(self.rtts) / self.seconds if self.seconds else 0.0


async def _connected(port: int) -> _Echoed:
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(loop.create_connection(_Echoed, "127.0.0.1", port), 10)
    # One untimed request first: the path's connection is set up end to end (a wsnet
    # tunnel opens its channel on connect; a relay dials on accept).
    await proto.round_trip(b"w")
    return proto


async def paced(port: int, size: int, rate: float, count: int) -> Run:
    """``count`` requests of ``size`` bytes at ``rate`` per second at most."""
    proto = await _connected(port)
    payload = b"x" * size
    rtts: list[float] = []
    loop = asyncio.get_running_loop()
    try:
        start = loop.time()
        for i in range(count):
            due = start + i / rate
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            rtts.append(await proto.round_trip(payload))
        return Run(rtts, loop.time() - start)
    finally:
        _close(proto)


async def saturate(port: int, size: int, seconds: float, most: int = 1_000_000) -> Run:
    """As many requests as one connection carries in ``seconds`` (``most`` at most)."""
    proto = await _connected(port)
    payload = b"x" * size
    rtts: list[float] = []
    loop = asyncio.get_running_loop()
    try:
        start = loop.time()
        end = start + seconds
        while loop.time() < end and len(rtts) < most:
            rtts.append(await proto.round_trip(payload))
        return Run(rtts, loop.time() - start)
    finally:
        _close(proto)


def _close(proto: _Echoed) -> None:
    if proto.transport is not None:
        proto.transport.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` (all their threads) from /proc/PID/stat."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # Fields after the command name (which may hold spaces) start at field 3.
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    return total / _TICK
