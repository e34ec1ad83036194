"""The output half of a link: what the session queued, onto the WebSocket.

A mixin of ``wsnet.link.Link``.  Two ways out, in one order (messages are built and
written synchronously, one after the other, so they never reorder):

- **inline**: when the writer is idle (no send in progress, the socket's buffer under
  its high-water mark), ``wake_writer()`` builds the message and writes it to the
  socket in the same call that queued the frame: no task hop for a small message.  The
  first write of a loop turn goes at once; what is queued later in the same turn is
  sent together by one callback at the end of the turn (``_end_burst``), so a burst of
  frames from many channels still shares messages and system calls.  Credit returns,
  PINGs and PONGs alone do not trigger an inline write: they wait for that callback,
  so that data queued in the same turn carries them in its message.
- **the writer task**: when the socket's buffer is full (it waits in drain), while the
  link closes (``close()`` relies on the task's idle state), and for WebSockets that
  are not aiohttp's (``send_bytes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from .interfaces import WebSocketLike
from .protocol import CloseCode, Session
from .protocol.output import GRANT_TTL
from .wsframes import FrameSink

if TYPE_CHECKING:
    from .chanbase import Endpoint

log = logging.getLogger("wsnet.link")


class LinkWriter:
    """Mixin: the Link's writer; the attributes below are the Link's."""

    id: int
    ws: WebSocketLike
    session: Session
    channels: dict[int, Endpoint]
    close_code: int
    close_reason: str
    _closing: bool
    _wake: asyncio.Event
    _idle: asyncio.Event

    _sink: FrameSink | None = None
    # Kept once known: get_running_loop() costs a getpid() system call per call (3.11).
    _loop: asyncio.AbstractEventLoop | None = None
    _sending = False  # the writer task is in _flush (a send, or waiting in drain)
    _burst = False  # an inline write happened this loop turn; _end_burst is scheduled
    _turn_timer: asyncio.TimerHandle | None = None  # see _wake_writable

    def _init_writer(self) -> None:
        self._sink = FrameSink.attach(self.ws)

    def _guarded(self, call: Callable[..., object], cid: int, *args: Any) -> None:
        raise NotImplementedError

    def wake_writer(self) -> None:
        """Something was queued: send it now if the writer is idle, else let it know."""
        if self._sink is None or self._sending or self._closing:
            self._wake.set()
        elif not self._burst:
            self._start_burst()
            if self.session.has_urgent_output:
                self._write_inline()

    def wake_writer_soon(self) -> None:
        """Something was queued that more will follow within this loop turn (an OPEN and
        its 0-RTT data and FIN): send it all at the end of the turn, in one message and
        one system call, not the first frame alone at once."""
        if self._sink is None or self._sending or self._closing:
            self._wake.set()
        elif not self._burst:
            self._start_burst()

    def _start_burst(self) -> None:
        # Set before writing: a write can wake a channel that queues more (on_credit),
        # which then waits for the end of the turn instead of writing recursively.
        self._burst = True
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        loop.call_soon(self._end_burst)

    def _end_burst(self) -> None:
        self._burst = False
        if not self.session.has_output:
            if self.session.has_waiting:
                self._wake_writable()  # turns are handed out also when nothing is sent
            return
        if self._sink is None or self._sending or self._closing:
            self._wake.set()
        else:
            self._start_burst()
            self._write_inline()

    def _write_inline(self) -> None:
        sink, session = self._sink, self.session
        assert sink is not None
        try:
            while not sink.paused and (taken := session.next_parts()) is not None:
                sink.write(*taken)
        except Exception:
            self._wake.set()  # the writer task meets the same failure and ends the link
            return
        if session.has_output:
            self._wake.set()  # the socket's buffer is full: the task waits in drain
        if session.has_waiting:
            self._wake_writable()

    async def _flush(self) -> None:
        """Send everything queued, one message at a time as the socket takes it."""
        session, sink = self.session, self._sink
        self._sending = True
        try:
            while (taken := session.next_parts()) is not None:
                if sink is not None:
                    sink.write(*taken)
                    await sink.drain()
                else:
                    await self.ws.send_bytes(b"".join(taken[0]))
                if session.has_waiting:
                    self._wake_writable()
        finally:
            self._sending = False
        if session.has_waiting:
            self._wake_writable()

    def _wake_writable(self) -> None:
        """Let writers that waited for send-buffer room try again (fairly, oldest first)."""
        channels = self.channels
        for cid in self.session.writable():
            if (ch := channels.get(cid)) is not None:
                self._guarded(ch._on_credit, cid)
        if self._turn_timer is None and not self._closing and self.session.turns_reserved:
            # A writer woken for a turn that it never uses (its source went quiet) holds
            # the room for GRANT_TTL; when nothing is written meanwhile, nothing else
            # would hand that room to the writers still waiting.  (Without reserved
            # turns, only a write frees room, and each write hands turns out itself.)
            loop = self._loop
            if loop is None:
                try:
                    loop = self._loop = asyncio.get_running_loop()
                except RuntimeError:
                    return  # driven without an event loop (a sans-I/O test harness)
            self._turn_timer = loop.call_later(GRANT_TTL, self._turns_expired)

    def _turns_expired(self) -> None:
        self._turn_timer = None
        if self.session.has_waiting and not self._closing:
            self._wake_writable()

    def _stop_turn_timer(self) -> None:
        if self._turn_timer is not None:
            self._turn_timer.cancel()  # it refers to this link: nothing outlives it
            self._turn_timer = None

    async def _writer(self) -> None:
        # While one send is awaited, new frames pile up in the session and go out
        # together in the next round: batching comes from the await itself.  The
        # session builds each message when it is due, so channels take turns.
        wake, idle = self._wake, self._idle
        try:
            while True:
                if self._closing and not wake.is_set():
                    idle.set()  # close() waits for this; nobody else does
                await wake.wait()
                idle.clear()
                wake.clear()
                await self._flush()
        except Exception as exc:
            # A dead socket is ordinary; anything else is a bug, but it too must end
            # this link (so the reader and the dialler move on), not leave it mute.
            ordinary = isinstance(exc, ConnectionError | RuntimeError | aiohttp.ClientError)
            log.log(logging.DEBUG if ordinary else logging.ERROR, "link %s: send failed: %s",
                    self.id, exc, exc_info=None if ordinary else exc)  # fmt: skip
            self._closing = True
            self.close_code, self.close_reason = CloseCode.GOING_AWAY, f"send failed: {exc}"
            with contextlib.suppress(Exception):
                await self.ws.close(code=CloseCode.GOING_AWAY)
