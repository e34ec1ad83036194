"""Plain TCP on loopback with uvloop: the baselines every wsnet figure is divided by."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import time

import uvloop

from .peer import COUNT_SIZE

BLOCK = os.urandom(1 << 20)  # the same 1 MiB write size as wsnet's speedtest


async def _send_bulk(port: int, nbytes: int) -> tuple[int, float]:
    """Send ``nbytes`` to the sink and wait for its count: (bytes confirmed, seconds)."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    try:
        block = memoryview(BLOCK)
        left = nbytes
        while left > 0:
            piece = block[: min(left, len(block))]
            writer.write(piece)
            await writer.drain()
            left -= len(piece)
        writer.write_eof()
        confirmed = int.from_bytes(await reader.readexactly(COUNT_SIZE), "big")
    finally:
        writer.close()
    return confirmed, time.perf_counter() - t0


def bulk(port: int, nbytes: int, timeout: float = 600.0) -> tuple[int, float]:
    async def bounded() -> tuple[int, float]:
        return await asyncio.wait_for(_send_bulk(port, nbytes), timeout)

    return uvloop.run(bounded())


async def _ping_pong(port: int, count: int, size: int) -> list[float]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = BLOCK[:size]
    rtts: list[float] = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            writer.write(payload)
            await reader.readexactly(size)
            rtts.append(time.perf_counter() - t0)
    finally:
        writer.close()
    return rtts


def ping_pong(port: int, count: int, size: int = 64, timeout: float = 120.0) -> list[float]:
    """Round-trip times in seconds of ``count`` echoes of ``size`` bytes."""

    async def bounded() -> list[float]:
        return await asyncio.wait_for(_ping_pong(port, count, size), timeout)

    return uvloop.run(bounded())


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..100."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def summary(rtts: list[float]) -> dict[str, float]:
    """RTT statistics in microseconds."""
    us = [r * 1e6 for r in rtts]
    return {
        "median_us": statistics.median(us),
        "p99_us": percentile(us, 99),
        "mean_us": statistics.fmean(us),
        "min_us": min(us),
        "max_us": max(us),
    }
