"""One browser session: a WebSocket joined to a target pipe until either side ends.

Close codes and reasons are websockify's where it has them (noVNC shows them):
1000 "Target closed" when the target ended, 1011 "Failed to connect to downstream
server" (plus why) when it could not be reached; 1008 for a token that names nothing;
1001 when the node shuts down; 1000 with the limit for the idle and session timeouts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from .pipes import Pipe, TargetReset
from .record import Recorder

MAX_REASON = 123  # bytes: a close frame's payload is at most 125, 2 of them the code
CLOSED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


def reason(text: str) -> bytes:
    """``text`` cut to what a close frame can carry, at a character boundary."""
    data = text.encode()
    if len(data) <= MAX_REASON:
        return data
    return data[: MAX_REASON - 3].decode(errors="ignore").encode() + b"..."


@dataclass
class Limits:
    idle: float = 0.0
    total: float = 0.0


class Session:
    def __init__(
        self, ws: web.WebSocketResponse, pipe: Pipe, b64: bool, rec: Recorder | None
    ) -> None:
        self.ws, self.pipe, self.b64, self.rec = ws, pipe, b64, rec
        self.last = time.monotonic()
        self.bytes_in = 0  # browser to target
        self.bytes_out = 0

    async def run(self, limits: Limits) -> str:
        """Carry both ways; returns how it ended (for the log)."""
        up = asyncio.ensure_future(self._up())
        down = asyncio.ensure_future(self._down())
        tasks: set[asyncio.Future[Any]] = {up, down}
        watch = None
        if limits.idle or limits.total:  # a task less per session when there are none
            watch = asyncio.ensure_future(self._watch(limits))
            tasks.add(watch)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            self.pipe.close()
            if self.rec is not None:
                self.rec.close()
        if down in done and not down.cancelled() and down.exception() is None:
            await self.ws.close(code=1000, message=b"Target closed")
            return "target closed"
        if watch is not None and watch in done:
            why = watch.result()
            await self.ws.close(code=1000, message=reason(why))
            return why
        broke = down.exception() if down in done and not down.cancelled() else None
        if isinstance(broke, TargetReset):
            first = (
                "Failed to connect to downstream server" if not self.bytes_out else "Target reset"
            )
            await self.ws.close(code=1011, message=reason(f"{first}: {broke}"))
            return f"target reset: {broke}"
        error = up.exception() if up in done and not up.cancelled() else None
        if isinstance(error, ValueError):  # bad base64 from the browser
            await self.ws.close(code=1003, message=reason(str(error)))
            return str(error)
        await self.ws.close()
        return "client closed"

    async def _up(self) -> None:
        """Browser → target: one message at a time, written before the next is read."""
        ws, pipe, rec = self.ws, self.pipe, self.rec
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.BINARY:
                data: bytes = msg.data
            elif msg.type is WSMsgType.TEXT:
                data = self._text(msg.data)
            elif msg.type in CLOSED:
                return
            else:
                continue
            self.last = time.monotonic()
            self.bytes_in += len(data)
            if rec is not None:
                rec.frame("in", data)
            try:
                await pipe.write(data)
            except (OSError, RuntimeError):
                return  # the target went away: _down ends too

    def _text(self, text: str) -> bytes:
        if not self.b64:
            return text.encode()  # as websockify: a text frame's bytes, as they are
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            raise ValueError("base64 subprotocol: a text frame is not base64") from None

    async def _down(self) -> None:
        """Target → browser: each send waits for the WebSocket's buffer to drain."""
        ws, pipe, rec = self.ws, self.pipe, self.rec
        while data := await pipe.read():
            self.last = time.monotonic()
            self.bytes_out += len(data)
            if rec is not None:
                rec.frame("out", data)
            if self.b64:
                await ws.send_str(base64.b64encode(data).decode())
            else:
                await ws.send_bytes(data)

    async def _watch(self, limits: Limits) -> str:
        start = time.monotonic()
        while True:
            now = time.monotonic()
            waits = []
            if limits.total:
                if now - start >= limits.total:
                    return f"session time limit of {limits.total:g}s reached"
                waits.append(start + limits.total - now)
            if limits.idle:
                if now - self.last >= limits.idle:
                    return f"idle for {limits.idle:g}s"
                waits.append(self.last + limits.idle - now)
            await asyncio.sleep(max(0.05, min(waits)))


async def refuse(ws: web.WebSocketResponse, code: int, text: str) -> None:
    """Close an upgraded WebSocket at once with ``code`` and ``text``."""
    with contextlib.suppress(ConnectionError):
        await ws.close(code=code, message=reason(text))
