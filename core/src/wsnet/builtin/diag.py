"""Built-in link diagnostics, the inetd "small services" of wsnet.

Services: ``echo`` (returns what it reads) and ``sink`` (reads, optionally at a
limited rate, and answers with the byte count and SHA-256 at end of stream).
Control methods: ``ping NODE`` (round-trip time through a channel, relays
included) and ``speedtest NODE`` (bulk throughput over one or more channels,
verified end to end).  They need no plugin, so a bare node can prove its links.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Iterable
from typing import Any

from ..channel import StreamChannel
from ..errors import ControlError
from ..interfaces import ChannelContext, ControlMethod, Service, StreamService
from ..node import Node
from ..tasks import cancel_and_wait

_BLOCK = os.urandom(1 << 20)  # incompressible payload, made once per process
# What wsnet_register_control_methods registers: a node without this plugin names it
# for a call of one of these (wsnet.plugins.method_providers).
CONTROL_METHODS = ("ping", "speedtest")


class EchoService(StreamService):
    name = "echo"

    async def handle(self, channel: StreamChannel, ctx: ChannelContext) -> None:
        while chunk := await channel.read_chunk():
            await channel.write(chunk)
        channel.write_eof()


class SinkService(StreamService):
    """Reads everything; ``args.rate`` (bytes/s) makes it a deliberately slow reader."""

    name = "sink"

    async def handle(self, channel: StreamChannel, ctx: ChannelContext) -> None:
        rate = ctx.request.args.get("rate", 0)
        verify = bool(ctx.request.args.get("verify", True))
        digest = hashlib.sha256()
        total = 0
        started = time.monotonic()
        while True:
            if isinstance(rate, int) and rate > 0:
                # Read no faster than `rate`: sleep until the schedule allows the next read.
                await asyncio.sleep(max(0.0, total / rate - (time.monotonic() - started)))
                chunk: bytes | memoryview = await channel.read(max(1, rate // 10))
            else:
                chunk = await channel.read_chunk()
            if not chunk:
                break
            total += len(chunk)
            if verify:
                digest.update(chunk)
        reply = {"bytes": total, "sha256": digest.hexdigest() if verify else ""}
        await channel.write(json.dumps(reply).encode())
        channel.write_eof()


async def _send_pattern(ch: StreamChannel, nbytes: int, verify: bool) -> str:
    digest = hashlib.sha256()
    block = memoryview(_BLOCK)
    left = nbytes
    while left > 0:
        piece = block[: min(left, len(block))]
        if verify:
            digest.update(piece)
        await ch.write(piece)
        left -= len(piece)
    ch.write_eof()
    return digest.hexdigest() if verify else ""


async def _one_stream(
    node: Node, dst: str, nbytes: int, rate: int, verify: bool, progress: dict[str, Any]
) -> dict[str, Any]:
    t0 = time.monotonic()
    ch = await node.open_stream(dst, "sink", args={"rate": rate, "verify": verify})
    progress["channel"] = ch
    sent_digest = await _send_pattern(ch, nbytes, verify)
    reply = json.loads(await ch.read())
    ok = reply["bytes"] == nbytes and (not verify or reply["sha256"] == sent_digest)
    return {
        "bytes": nbytes,
        "confirmed": reply["bytes"],
        "ok": ok,
        "seconds": round(time.monotonic() - t0, 4),
    }


def methods(local: Node) -> list[ControlMethod]:
    async def ping(node: str, count: int = 4, size: int = 64) -> dict[str, Any]:
        if not 1 <= count <= 1000 or not 1 <= size <= 65536:
            raise ControlError("count must be 1..1000 and size 1..65536")
        ch = await local.open_stream(node, "echo")
        rtts = []
        try:
            payload = _BLOCK[:size]
            for _ in range(count):
                t0 = time.perf_counter()
                await ch.write(payload)
                await ch.readexactly(size)
                rtts.append((time.perf_counter() - t0) * 1000)
        finally:
            ch.close()
        return {
            "node": node,
            "count": count,
            "min_ms": round(min(rtts), 3),
            "avg_ms": round(sum(rtts) / len(rtts), 3),
            "max_ms": round(max(rtts), 3),
        }

    async def speedtest(
        node: str,
        bytes: int = 64 << 20,
        channels: int = 1,
        rate: int = 0,
        verify: bool = True,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        if not 1 <= channels <= 256 or bytes < 0:
            raise ControlError("channels must be 1..256 and bytes >= 0")
        progress: list[dict[str, Any]] = [{} for _ in range(channels)]
        jobs = [
            asyncio.ensure_future(_one_stream(local, node, bytes, rate, verify, p))
            for p in progress
        ]
        t0 = time.monotonic()
        done, pending = await asyncio.wait(jobs, timeout=timeout)
        elapsed = time.monotonic() - t0
        for job in pending:
            job.cancel()
        per_channel = []
        for job, prog in zip(jobs, progress, strict=True):
            ch = prog.get("channel")
            if job in done and job.exception() is None:
                per_channel.append(job.result())
                continue
            err = "timeout" if job in pending else str(job.exception())
            per_channel.append(
                {"bytes": bytes, "sent": ch.bytes_out if ch else 0, "ok": False, "error": err}
            )
            if isinstance(ch, StreamChannel):
                ch.abort(reason="speedtest ended")
        await cancel_and_wait(pending)
        moved = sum(p.get("confirmed", 0) for p in per_channel)
        return {
            "node": node,
            "channels": channels,
            "bytes": moved,
            "seconds": round(elapsed, 4),
            "mbit_s": round(moved * 8 / elapsed / 1e6, 1) if elapsed else 0.0,
            "ok": all(p["ok"] for p in per_channel),
            "per_channel": per_channel,
        }

    return [
        ControlMethod("ping", ping, "round-trip time to NODE through an echo channel"),
        ControlMethod(
            "speedtest",
            speedtest,
            "send BYTES to NODE's sink over CHANNELS streams; verified by SHA-256",
        ),
    ]


def wsnet_register_services(node: Node) -> Iterable[Service[Any]]:
    return [EchoService(), SinkService()]


def wsnet_register_control_methods(node: Node) -> Iterable[ControlMethod]:
    return methods(node)
