"""WebSocket clients of the tests (aiohttp): transfers verified by hash, close codes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp

CHUNK = 64 * 1024


@dataclass
class Result:
    protocol: str | None
    sent: str
    received: str
    nbytes: int


async def roundtrip(url: str, total: int, protocols: tuple[str, ...] = ("binary",),
                    ssl_ctx: ssl.SSLContext | None = None, **kw: Any) -> Result:  # fmt: skip
    """Send ``total`` random bytes to an echo target while reading the echo; hashes both."""
    block = os.urandom(CHUNK)
    sent, got = hashlib.sha256(), hashlib.sha256()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url, protocols=protocols, ssl=ssl_ctx or False, max_msg_size=0, **kw
        ) as ws,  # fmt: skip
    ):
        b64 = ws.protocol == "base64"

        async def send() -> None:
            left = total
            while left > 0:
                data = block[: min(CHUNK, left)]
                sent.update(data)
                left -= len(data)
                if b64:
                    await ws.send_str(base64.b64encode(data).decode())
                else:
                    await ws.send_bytes(data)

        async def receive() -> int:
            n = 0
            while n < total:
                msg = await ws.receive()
                if msg.type is aiohttp.WSMsgType.BINARY:
                    data = msg.data
                elif msg.type is aiohttp.WSMsgType.TEXT:
                    data = base64.b64decode(msg.data)
                else:
                    raise AssertionError(f"ended early after {n} bytes: {msg.type} {msg.data}")
                got.update(data)
                n += len(data)
            return n

        n = (await asyncio.wait_for(asyncio.gather(send(), receive()), 120))[1]
        return Result(ws.protocol, sent.hexdigest(), got.hexdigest(), n)


async def close_of(url: str, protocols: tuple[str, ...] = (), send: bytes = b"",
                   **kw: Any) -> tuple[int | None, str, str | None]:  # fmt: skip
    """Connect, optionally send, and wait for the server's close: (code, reason, protocol)."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=protocols, ssl=False, **kw) as ws,
    ):
        if send:
            await ws.send_bytes(send)
        while True:
            msg = await asyncio.wait_for(ws.receive(), 30)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return ws.close_code, str(msg.extra or ""), ws.protocol


async def status_of(url: str, **kw: Any) -> tuple[int, str]:
    """The HTTP status and body of a WebSocket upgrade the server refuses."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, **{"ssl": False, **kw}):
                return 101, ""
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status, exc.message


async def get(url: str, **kw: Any) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, ssl=False, **kw) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()
