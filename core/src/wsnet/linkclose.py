"""Closing a link: what was written goes out, then the WebSocket close handshake.

A mixin of ``wsnet.link.Link``, kept apart because the order of its steps is the fix of
links closed under load being seen as 1006 (abnormal) by the peer; see ``close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

from . import wsreader
from .interfaces import WebSocketLike
from .protocol import CloseCode, Session
from .tasks import cancel_and_wait


class LinkClose:
    """``close()`` and its steps; the attributes below are the Link's."""

    ws: WebSocketLike
    session: Session
    close_code: int
    close_reason: str
    _closing: bool
    _wake: asyncio.Event
    _idle: asyncio.Event  # set by the writer while it waits for work with nothing queued
    _tasks: list[asyncio.Task[None]]  # [writer, timer] once the link runs

    async def _flush(self) -> None:
        raise NotImplementedError

    # Set by close() while it runs: a second close() (the teardown's) waits for it, so the
    # link's task cannot end, and the socket be closed under it, mid-handshake.
    _close_done: asyncio.Event | None = None
    _handshake = False  # set by close(): the reader stops, ws.close() reads the rest
    _receiving = False  # the reader waits in ws.receive()
    _tap: bool | None  # binary messages come by callback (wsreader.py); False: never again

    async def close(
        self, code: int = CloseCode.NORMAL, reason: str = "", *, timeout: float = 2.0
    ) -> None:
        """Close with ``code`` and ``reason`` after what was written before the call is sent.

        Within ``timeout`` seconds in all: let the writer task send what is queued, stop
        it, stop the reader, then run the WebSocket close handshake, which waits for the
        peer's close frame.  A peer that stopped answering (keepalive or HELLO timeout)
        gets the close frame only.  A second call, from another task, waits for the first.

        Each step avoids a 1006 the peer saw under load: flushing here while the writer
        still sends reorders messages; a writer cancelled in the middle of a send leaves
        aiohttp a cancelled drain future that fails every later send, the close frame's
        too; ws.close() while another task waits in receive() makes aiohttp's server
        close the socket without waiting for the peer's close frame (the peer's unread
        data then turns into a reset) and aiohttp's client answer its own close with a
        bare 1000.
        """
        if self._closing:
            if self._close_done is not None:
                await self._close_done.wait()
            return
        self._closing = True
        self._close_done = done = asyncio.Event()
        self.close_code, self.close_reason = code, reason
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if code in (CloseCode.KEEPALIVE_TIMEOUT, CloseCode.HELLO_TIMEOUT):
            deadline = loop.time()  # nobody reads: do not wait for the writer or reader
        try:
            await self._stop_writer(deadline)
            self.session.data_to_send()  # queued after the writer stopped: not sent
            self._handshake = True
            # From here aiohttp's close() reads what is left: no message reaches the session.
            self._tap = False
            wsreader.detach(self.ws)
            if loop.time() < deadline:
                await self._stop_reader(deadline)
            await self._close_handshake(code, reason, max(deadline, loop.time() + 0.2))
        finally:
            done.set()

    async def _stop_writer(self, deadline: float) -> None:
        """Send everything written before the call, then stop the writer while it is idle.

        The session takes no more data from now on (writers wait, as for credit), so what
        is queued is bounded (the send buffer) and the writer gets through it; it is
        cancelled only while it waits for work, never in a send (see close()).
        """
        writer = self._tasks[0] if self._tasks else None
        if writer is None:
            return
        self.session.freeze()
        idle = self._idle
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while not writer.done() and (self.session.has_output or not idle.is_set()):
                    idle.clear()
                    self._wake.set()
                    await idle.wait()
        await cancel_and_wait([writer])

    async def _stop_reader(self, deadline: float) -> None:
        """Send what is left and wait until the reader is out of ws.receive() (it stops at
        its next message: under load at once, on an idle link the PONG to our PING)."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout_at(deadline):
                if self._receiving:
                    self.session.ping()
                await self._flush()
                while loop.time() < deadline:
                    if not self._receiving:
                        break
                    await asyncio.sleep(0.001)

    async def _close_handshake(self, code: int, reason: str, deadline: float) -> None:
        try:
            async with asyncio.timeout_at(deadline):
                await self.ws.close(code=code, message=_close_reason(reason))
            return
        except asyncio.CancelledError:
            # A drain future cancelled with the writer fails like this: the socket is
            # closed either way.  A cancellation of this task goes on.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        except Exception:  # the socket failed or the peer did not answer in time
            pass
        if self._receiving:
            self._shut_socket()

    def _shut_socket(self) -> None:
        """Unblock a reader that waits on a peer which stopped reading and writing: the
        event loop closes a socket only once its unsent data is gone, which it never is.
        Shut down on a duplicate of the descriptor (loops hand out sockets that refuse)."""
        get_extra_info = getattr(self.ws, "get_extra_info", None)
        sock = get_extra_info("socket") if get_extra_info is not None else None
        if sock is None:
            return
        with (
            contextlib.suppress(OSError, ValueError),
            socket.socket(fileno=os.dup(sock.fileno())) as dup,
        ):
            dup.shutdown(socket.SHUT_RDWR)


def _close_reason(reason: str) -> bytes:
    """``reason`` as a close frame carries it: at most 120 bytes, cut at a character
    boundary.  A reason may quote the peer (a bad ROUTES entry); cut inside a UTF-8
    character it is not text, and the peer's WebSocket fails the close frame (1007)
    instead of reading our code and reason."""
    return reason.encode()[:120].decode(errors="ignore").encode()
