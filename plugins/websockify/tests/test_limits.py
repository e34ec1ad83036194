"""What one browser connection may make the bridge hold: a message is held whole until
its last fragment, so ``max_message`` (256 KiB) bounds it; a larger one, in one frame or
in fragments that never end, is closed with 1009 instead of growing to 16 MiB."""

from __future__ import annotations

import asyncio
import base64
import os
import struct

import aiohttp
from wsfy_client import roundtrip
from wsfy_support import BridgeNode

KIB = 1024


def masked(op: int, payload: bytes, fin: bool) -> bytes:
    head = struct.pack("!BBQ", (0x80 if fin else 0) | op, 0x80 | 127, len(payload))
    return head + b"\0\0\0\0" + payload  # a zero mask: the payload as it is


async def fragments_until_closed(port: int, limit: int) -> tuple[int, int]:
    """Send one message in 64 KiB continuation frames, never the last; returns (bytes
    sent when the server's close came, its close code)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET /websockify HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())  # fmt: skip
    assert b" 101 " in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)

    async def close_code() -> int:
        head = await reader.readexactly(2)
        body = await reader.readexactly(head[1] & 0x7F)
        assert head[0] & 0x0F == 0x8, head  # a close frame
        return int(struct.unpack("!H", body[:2])[0])

    closed = asyncio.ensure_future(asyncio.wait_for(close_code(), 30))
    sent, chunk = 0, b"x" * (64 * KIB)
    try:
        while sent < limit and not closed.done():
            writer.write(masked(0x2 if sent == 0 else 0x0, chunk, fin=False))
            await asyncio.wait_for(writer.drain(), 10)
            sent += len(chunk)
            await asyncio.sleep(0.01)
    except ConnectionError:
        pass
    try:
        return sent, await closed
    finally:
        writer.close()


def test_a_message_over_max_message_is_closed_with_1009(
    bridge_node: BridgeNode, echo_port: int
) -> None:
    _node, port = bridge_node(target=f"127.0.0.1:{echo_port}")
    url = f"ws://127.0.0.1:{port}/websockify"

    async def one_big() -> int | None:
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            await ws.send_bytes(b"x" * (1024 * KIB))
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert msg.type is aiohttp.WSMsgType.CLOSE, msg
            return ws.close_code

    assert asyncio.run(one_big()) == 1009
    sent, code = asyncio.run(fragments_until_closed(port, 4096 * KIB))
    assert code == 1009 and sent <= 1024 * KIB, (sent, code)
    r = asyncio.run(roundtrip(url, 4096 * KIB))  # the data itself is not limited
    assert r.received == r.sent


def test_max_message_is_a_key(bridge_node: BridgeNode, echo_port: int) -> None:
    _node, port = bridge_node(target=f"127.0.0.1:{echo_port}", max_message=2048 * KIB)
    url = f"ws://127.0.0.1:{port}/websockify"

    async def echo_one() -> bytes:
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            await ws.send_bytes(b"y" * (1024 * KIB))
            got = b""
            while len(got) < 1024 * KIB:
                got += await asyncio.wait_for(ws.receive_bytes(), 10)
            return got

    assert asyncio.run(echo_one()) == b"y" * (1024 * KIB)
