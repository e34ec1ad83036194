"""FrameSink: binary messages written straight to aiohttp's transport (issue 18), read back
by aiohttp's own reader over a real loopback socket, masked (client) and not (server)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os

import aiohttp
import pytest
from aiohttp import web

from wsnet.wsframes import SMALL, FrameSink

# Each length crosses a boundary of the header (7-bit, 16-bit, 64-bit) or of SMALL.
SIZES = [1, 125, 126, 127, SMALL, SMALL + 1, 65535, 65536, 1 << 20]


def _pieces(data: bytes) -> list[bytes | memoryview]:
    """``data`` as a header-like bytes piece and views, as the session hands them out."""
    view = memoryview(data)
    cut = sorted([0, min(10, len(data)), len(data) // 3, len(data) // 2, len(data)])
    return [bytes(view[: cut[1]])] + [view[a:b] for a, b in itertools.pairwise(cut[1:])]


async def test_sink_frames_are_read_by_aiohttp_both_ways() -> None:
    payloads = [os.urandom(n) for n in SIZES]

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=4 << 20)
        await ws.prepare(request)
        sink = FrameSink.attach(ws)
        assert sink is not None and not sink._masked  # a server does not mask
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.BINARY
            digest = hashlib.sha256(msg.data).digest()
            # Answer with the message itself (big) and its digest, through the sink.
            sink.write(_pieces(msg.data), len(msg.data))
            sink.write([digest], len(digest))
            await sink.drain()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"http://127.0.0.1:{port}/", max_msg_size=4 << 20) as ws,
        ):
            sink = FrameSink.attach(ws)
            assert sink is not None and sink._masked  # RFC 6455: a client masks
            for data in payloads:
                sink.write(_pieces(data), len(data))
                await sink.drain()
                echoed = await asyncio.wait_for(ws.receive(), 10)
                digest = await asyncio.wait_for(ws.receive(), 10)
                assert echoed.type == aiohttp.WSMsgType.BINARY, echoed
                assert echoed.data == data, len(data)
                assert digest.data == hashlib.sha256(data).digest(), len(data)
            await ws.close()
            with pytest.raises(ConnectionResetError):
                sink.write([b"x"], 1)  # a closed WebSocket refuses, as send_bytes does
    finally:
        await runner.cleanup()


def test_attach_refuses_what_is_not_an_aiohttp_websocket() -> None:
    assert FrameSink.attach(object()) is None
