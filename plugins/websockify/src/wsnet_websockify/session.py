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

from aiohttp import WSMessage, WSMsgType, web

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
    """Browser → target runs in the request's own task; target → browser in a task that
    the pipe's data starts and that ends when the pipe has nothing more (a quiet session
    has no task of its own but the request's).

    A side task that ends the session (the target closed or reset, a time limit) records
    how and cancels the request's task, which closes the WebSocket with that code, as
    the browser expects (close frame, then its answer).
    """

    __slots__ = (
        "b64", "bytes_in", "bytes_out", "down", "ending", "last", "main", "pipe", "rec", "ws",
    )  # fmt: skip

    def __init__(
        self, ws: web.WebSocketResponse, pipe: Pipe, b64: bool, rec: Recorder | None
    ) -> None:
        self.ws, self.pipe, self.b64, self.rec = ws, pipe, b64, rec
        self.last = time.monotonic()
        self.bytes_in = 0  # browser to target
        self.bytes_out = 0
        self.main: asyncio.Task[Any] | None = None  # the request's task, running _up
        self.ending: tuple[int, str, str] | None = None  # code, reason, how: set by _end
        self.down: asyncio.Future[None] | None = None  # target → browser, while it has data

    async def run(self, limits: Limits) -> str:
        """Carry both ways; returns how it ended (for the log)."""
        self.main = asyncio.current_task()
        self.pipe.on_readable(self._readable)
        self._readable()  # what arrived before the callback was set
        watch = None
        if limits.idle or limits.total:  # a task less per session when there are none
            watch = asyncio.ensure_future(self._watch(limits))
        try:
            how = await self._up()
        except asyncio.CancelledError:
            # Ours (from _end) only when nobody else cancelled too (node shutting down).
            if self.ending is None or self.main is None or self.main.uncancel() > 0:
                raise
            how = ""
        finally:
            self.pipe.on_readable(None)
            for task in (self.down, watch):
                if task is not None:
                    task.cancel()
            self.pipe.close()
            if self.rec is not None:
                self.rec.close()
        if self.ending is not None:
            code, text, how = self.ending
            await self.ws.close(code=code, message=reason(text))
            return how
        if how:  # bad base64 from the browser
            await self.ws.close(code=1003, message=reason(how))
            return how
        await self.ws.close()
        return "client closed"

    def _end(self, code: int, text: str, how: str) -> str:
        """From a side task: stop the browser side (waiting for a message, or for the
        target to take one) and have it close the WebSocket with ``code``."""
        if self.ending is None and self.main is not None and not self.main.done():
            self.ending = (code, text, how)
            self.main.cancel()
        return how

    async def _up(self) -> str:
        """Browser → target: one message at a time, written before the next is read.

        Returns "" when the WebSocket ended (or the target went away), else why the
        browser's data was refused.  Nothing of a message is kept while waiting for the
        next: an idle session holds no buffer.
        """
        ws, pipe, rec = self.ws, self.pipe, self.rec
        while True:
            try:
                data = self._data(await ws.receive())
            except ValueError as exc:
                return str(exc)
            if data is None:
                return ""
            if not data:
                continue  # ping, pong, an empty message
            self.last = time.monotonic()
            self.bytes_in += len(data)
            if rec is not None:
                rec.frame("in", data)
            try:
                await pipe.write(data)
            except (OSError, RuntimeError):
                return ""  # the target went away: _down ends too
            del data

    def _data(self, msg: WSMessage) -> bytes | None:
        """A message's bytes; None when the WebSocket ended; b"" for ping/pong."""
        if msg.type is WSMsgType.BINARY:
            return msg.data  # type: ignore[no-any-return]
        if msg.type is WSMsgType.TEXT:
            return self._text(msg.data)
        return None if msg.type in CLOSED else b""

    def _text(self, text: str) -> bytes:
        if not self.b64:
            return text.encode()  # as websockify: a text frame's bytes, as they are
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            raise ValueError("base64 subprotocol: a text frame is not base64") from None

    def _readable(self) -> None:
        """The pipe has data or its end: carry it, unless a task already does."""
        if self.down is None and self.ending is None and self.pipe.readable():
            self.down = asyncio.ensure_future(self._down())

    async def _down(self) -> None:
        """Target → browser while the pipe has data; each send waits for the WebSocket's
        buffer to drain (meanwhile the target's data waits in the pipe, paused)."""
        ws, pipe, rec = self.ws, self.pipe, self.rec
        try:
            while pipe.readable():
                data = await pipe.read()  # at once: readable
                if not data:
                    self._end(1000, "Target closed", "target closed")
                    return
                self.last = time.monotonic()
                self.bytes_out += len(data)
                if rec is not None:
                    rec.frame("out", data)
                if self.b64:
                    await ws.send_str(base64.b64encode(data).decode())
                else:
                    await ws.send_bytes(data)
                del data  # not kept while the target is quiet
        except TargetReset as broke:
            first = "Target reset" if self.bytes_out else "Failed to connect to downstream server"
            self._end(1011, f"{first}: {broke}", f"target reset: {broke}")
            return
        except ConnectionError:
            return  # the browser went away: the request's task sees the WebSocket end
        self.down = None  # nothing more for now: the pipe's next data starts another

    async def _watch(self, limits: Limits) -> str:
        start = time.monotonic()
        while True:
            now = time.monotonic()
            waits = []
            if limits.total:
                if now - start >= limits.total:
                    why = f"session time limit of {limits.total:g}s reached"
                    return self._end(1000, why, why)
                waits.append(start + limits.total - now)
            if limits.idle:
                if now - self.last >= limits.idle:
                    why = f"idle for {limits.idle:g}s"
                    return self._end(1000, why, why)
                waits.append(self.last + limits.idle - now)
            await asyncio.sleep(max(0.05, min(waits)))


async def refuse(ws: web.WebSocketResponse, code: int, text: str) -> None:
    """Close an upgraded WebSocket at once with ``code`` and ``text``."""
    with contextlib.suppress(ConnectionError):
        await ws.close(code=code, message=reason(text))
