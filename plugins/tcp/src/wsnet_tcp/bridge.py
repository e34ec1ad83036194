"""One TCP connection joined to one stream channel, with flow control both ways.

TCP → channel runs in the protocol callbacks: each socket read goes straight into
the channel (``send_nowait``); what the peer's credit or the link's send buffer does
not cover is held and the socket's reading paused until ``on_credit``.  When a read
uses up what the channel can take (its turn of a busy link), reading pauses at once
(``capacity_or_notify``) rather than read once more only to hold what is refused.  Reads are
sized to what the channel can take now (``send_capacity``), into one buffer shared by
all connections: a thousand connections waiting for their turn on a busy link hold
almost nothing each, instead of one 256 KiB read each.

Channel → TCP runs in callbacks too: the channel calls ``on_readable`` when data or
the FIN arrives, and the bridge hands what is there to the socket in that call
(``read_nowait``, which returns credit to the peer), only while the socket's write
buffer is under its high-water mark (``pause_writing``); ``resume_writing`` takes up
the rest.  So a slow TCP reader stops the far sender after one window, and a small
message costs no task wake-up.  One task per connection (``run``) only waits for the
end: both directions finished, or the channel reset.

A FIN either way is carried as a half-close; a reset of the channel aborts the
socket (RST), so a client never mistakes a failure for a complete reply; a reset
from the TCP side resets the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import cast

from wsnet import ChannelRefused, ResetCode, StreamChannel

_LINGER_RST = struct.pack("ii", 1, 0)
MAX_READ = 256 * 1024  # as uvloop's own read size: one system call per 256 KiB
# Bytes of the channel handed to the socket's transport at a time, beyond what is still
# in its buffer: a TCP reader that stopped holds this in wsnet, not a whole window.
MAX_WRITE = 256 * 1024
MIN_READ = 16 * 1024  # a read below this costs more in calls than it saves in memory
# Every read lands here and is copied out at once (as uvloop does for data_received):
# the event loop reads one socket at a time, so one buffer serves every connection.
_READ_BUFFER = memoryview(bytearray(MAX_READ))


class Bridge(asyncio.BufferedProtocol):
    # An idle connection holds one of these on each node: slots, and plain flags with
    # one future made only while run() or wait_made() waits (four asyncio.Events were
    # 3 KiB per connection and node, their deques 760 bytes each).
    __slots__ = ("_cap", "_down_done", "_down_error", "_eof_in", "_held", "_made", "_paused",
                 "_starved", "_up_done", "_waiter", "channel", "error", "lost", "peername",
                 "transport")  # fmt: skip

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.channel: StreamChannel | None = None
        self.peername = ""
        self.error = ""  # why it ended, "" for an orderly end
        self._held: memoryview | None = None  # socket bytes the channel had no credit for
        self._eof_in = False  # the TCP side sent FIN
        self._up_done = False  # TCP → channel finished (FIN sent or socket gone)
        self._down_done = False  # channel → TCP finished (EOF written, or failed)
        self._down_error = ""  # why channel → TCP failed
        self._paused = False  # the socket's write buffer is above its high-water mark
        self._starved = False  # reading paused until on_credit: the turn was used up
        self._cap = 0  # what the channel could take when the last read was sized (bytes)
        self._made = False  # connection_made has run
        self._waiter: asyncio.Future[None] | None = None  # what run() or wait_made() awaits
        self.lost = False

    def _poke(self) -> None:
        """Something run() or wait_made() may wait for changed: let it look again."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    # ------------------------------------------------------------- protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self.peername = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")
        if self.channel is None:
            self.transport.pause_reading()  # until attach(): nowhere to put the bytes yet
        self._made = True
        self._poke()

    async def wait_made(self) -> None:
        """For bridges made by a listener's factory: connection_made has run."""
        await asyncio.wait_for(self._wait(lambda: self._made), 10)

    def attach(self, channel: StreamChannel) -> None:
        self.channel = channel
        channel.on_credit = self._flush
        channel.on_readable = self._deliver
        if self._held is not None:
            self._flush()  # bytes that came before the channel existed
        elif self._eof_in:
            self._send_eof()
        elif self.transport is not None and not self.lost:
            self.transport.resume_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        ch = self.channel
        want = self._cap = ch.send_capacity if ch is not None and self._held is None else 0
        return _READ_BUFFER[: min(MAX_READ, max(MIN_READ, want))]

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_READ_BUFFER[:nbytes]))

    def data_received(self, data: bytes) -> None:
        ch = self.channel
        if ch is None or self._held is not None:
            # Before attach() (uvloop starts reading after connection_made even when it
            # paused), or a read that raced a pause: keep it, in order, and pause.
            self._held = memoryview(bytes(self._held or b"") + data)
            if self.transport is not None:
                self.transport.pause_reading()
            return
        self._held = memoryview(data)
        self._push(resume=False)

    def _flush(self) -> None:
        """``on_credit``: send what was held back, and read again once it is all out."""
        if self._held is not None and self.channel is not None:
            self._push(resume=True)
        elif self._starved and self.channel is not None and self.channel.capacity_or_notify():
            # Credit (a WINDOW) wakes it too, also while it still waits for its turn:
            # read again only when the read can be sent.
            self._starved = False
            if self.transport is not None and not self.lost:
                self.transport.resume_reading()

    def _push(self, resume: bool) -> None:
        held, ch = self._held, self.channel
        assert held is not None and ch is not None
        # Taken while it is offered: send_nowait can write at once and hand turns out,
        # to this channel too, whose _flush must then not send the same bytes again.
        self._held = None
        size = len(held)
        try:
            while held and (n := ch.send_nowait(held)):
                held = held[n:]  # if it was handed a turn meanwhile, the rest goes now
        except ChannelRefused:
            self._abort_socket()
            return
        if held:
            self._held = held
            if not resume and self.transport is not None:
                self.transport.pause_reading()  # no credit: stop reading until on_credit
            return
        if self._eof_in:
            self._send_eof()
        elif (resume or size >= self._cap) and not ch.capacity_or_notify():
            # The turn is used up: stop now rather than read once more and hold it.  (A
            # read smaller than what the channel could take left room: no need to ask,
            # which spares a request/response exchange a call per message.)
            if not resume and self.transport is not None:
                self.transport.pause_reading()
            self._starved = True
        elif resume and self.transport is not None and not self.lost:
            self.transport.resume_reading()

    def eof_received(self) -> bool:
        self._eof_in = True
        if self._held is None and self.channel is not None:
            self._send_eof()
        return True  # keep the socket open: the other direction may still flow

    def _send_eof(self) -> None:
        if self.channel is not None:
            self.channel.write_eof()
        self._up_done = True
        self._poke()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._poke()
        self._deliver()

    def _deliver(self) -> None:
        """``on_readable`` (and the socket drained): hand what arrived to the socket in
        this call, one writev for all of it, while its buffer is under high water.
        Called also when the channel ends, so run() hears of it here; only then (or when
        this direction is done) is run() woken: a wake per message would be a task step
        per message."""
        self._carry_down()
        ch = self.channel
        if self._down_done or (ch is not None and ch.closed):
            self._poke()

    def _carry_down(self) -> None:
        ch, tr = self.channel, self.transport
        if ch is None or tr is None or self._down_done:
            return  # not connected yet (run() starts with this), or already finished
        try:
            if self.lost:
                if ch.read_nowait():  # bytes for a socket that is gone: the far end must know
                    self._down_error = "the TCP connection was closed"
                if self._down_error or ch.at_eof:
                    self._down_done = True
                return
            while not self._paused:
                chunks = ch.read_nowait(MAX_WRITE - tr.get_write_buffer_size())
                if not chunks:
                    break
                tr.writelines(chunks)
            if ch.closed and not ch.buffered:
                ch.read_nowait()  # raises after a reset, also while the socket is full
        except ChannelRefused as exc:  # the channel was reset: run() aborts the socket
            self._down_error = exc.reason or f"reset (code {exc.code})"
            self._down_done = True
            return
        if ch.at_eof:
            if tr.can_write_eof():
                tr.write_eof()
            self._down_done = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._paused = False
        self._up_done = True
        self._poke()
        ch = self.channel
        if ch is not None and not ch.closed:
            why = f"TCP connection {self.peername} " + (f"failed: {exc}" if exc else "closed")
            if exc is not None or not (self._eof_in and ch.at_eof):
                ch.abort(ResetCode.CLOSED, why)

    # ------------------------------------------------------------------ pump
    async def run(self) -> str:
        """Carry channel → TCP until both directions ended; returns why it failed, or ""."""
        ch, tr = self.channel, self.transport
        assert ch is not None and tr is not None
        try:
            self._deliver()  # what arrived before the socket was connected
            # One future per idle connection: _deliver ends this wait on EOF and on a
            # reset alike (the channel calls on_readable when it ends).
            await self._wait(lambda: self._down_done)
            if self._down_error:
                raise ChannelRefused(ResetCode.CLOSED, self._down_error)
            await self._until_up(ch)
            await self._drained()
        except ChannelRefused as exc:
            self.error = exc.reason or f"reset (code {exc.code})"
            self._abort_socket()
        finally:
            if not tr.is_closing():
                tr.close()
        return self.error

    async def _until_up(self, ch: StreamChannel) -> None:
        """Wait for TCP → channel to finish, unless the channel is reset first (then
        raise): a reset must end the connection even while the TCP side neither reads
        nor writes.  The channel's end reaches _deliver, which pokes this wait."""
        await self._wait(lambda: self._up_done or ch.closed)
        if not self._up_done:  # the channel ended first
            reason = await ch.wait_closed()
            if reason:  # a reset: end the connection now
                raise ChannelRefused(ResetCode.CLOSED, reason)
            await self._wait(lambda: self._up_done)  # an orderly end: the TCP side still
            # has to take the rest

    async def _drained(self) -> None:
        # close() flushes the buffer itself; this only waits out a paused writer so the
        # task's end means the bytes were handed to the kernel.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wait(lambda: not self._paused), 30)

    def abort(self, reason: str) -> None:
        """End the connection with a TCP reset; ``reason`` is kept as the error."""
        self.error = self.error or reason
        if self.channel is not None and not self.channel.closed:
            self.channel.abort(ResetCode.CLOSED, reason)
        self._abort_socket()

    def _abort_socket(self) -> None:
        self._held = None
        tr = self.transport
        if tr is not None and not tr.is_closing():
            # SO_LINGER 0: close() sends RST instead of FIN, so the client sees a reset.
            sock = tr.get_extra_info("socket")
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            tr.abort()
