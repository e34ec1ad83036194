"""Channel objects that services and plugins use: asyncio faces of protocol channels.

A StreamChannel returns credit to the peer only when the application reads, so a
slow reader stops its sender after one window and nothing buffers without bound.
A DatagramChannel never blocks: sends beyond the backlog, and receives beyond
its queue, are dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from .chanbase import ChannelOwner, Endpoint, _Base
from .datagram import DatagramChannel
from .errors import ChannelRefused
from .protocol import ChannelError, OpenRequest, ResetCode

log = logging.getLogger("wsnet.channel")

__all__ = ["Channel", "ChannelOwner", "DatagramChannel", "Endpoint", "StreamChannel"]


class StreamChannel(_Base):
    """An ordered byte stream with credit flow control and half-close."""

    def __init__(self, owner: ChannelOwner, cid: int, request: OpenRequest, local: bool) -> None:
        super().__init__(owner, cid, request, local)
        # Received pieces not read yet; None while there are none (an empty deque is
        # 760 bytes, and most tunnelled connections are idle).
        self._chunks: deque[memoryview] | None = None
        self._buffered = 0
        self._eof = False  # peer sent FIN
        self._eof_sent = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None
        # Called when the peer grants credit: lets a protocol-based writer (a TCP
        # bridge) resume without a task blocked in write().
        self.on_credit: Callable[[], object] | None = None
        # Called when data or the peer's FIN arrived: lets a protocol-based reader take
        # it with read_nowait() in the same call, without a task waiting in read().
        self.on_readable: Callable[[], object] | None = None

    @property
    def at_eof(self) -> bool:
        return self._eof and not self._chunks

    @property
    def buffered(self) -> int:
        """Received bytes the application has not read yet (at most one window)."""
        return self._buffered

    @property
    def send_capacity(self) -> int:
        """Bytes send_nowait() would take now (credit, and this channel's share of the
        link's send buffer); 0 when closed.  For sizing reads from a source."""
        if self._done or self._eof_sent:
            return 0
        return self._owner.session.send_capacity(self.id)

    def capacity_or_notify(self) -> int:
        """send_capacity (bytes), and when it is 0, ``on_credit`` is called once more can
        be sent: the channel is queued for a turn of the link's send buffer, or waits for
        the peer's credit.  For sources that stop reading as soon as their turn is used
        up, instead of reading once more to be refused (docs/protocol.md section 10.1);
        0 also when the stream is closed (no ``on_credit`` then)."""
        if self._done or self._eof_sent:
            return 0
        n = self._owner.session.capacity_or_notify(self.id)
        if not n and self._owner.session.has_waiting:
            # Turns are handed out by the link's writer: asked outside a send (from a
            # WINDOW's on_credit) with nothing else being written, the turn would wait
            # for the next keepalive tick.  At the end of this loop turn, not inline:
            # on_credit would run inside this call, before its caller noted that it waits.
            self._owner.wake_writer_soon()
        return n

    # ------------------------------------------------------------------ read
    async def _readable(self) -> bool:
        """Wait for buffered data (True) or end of stream (False).  Raises ChannelRefused."""
        while not self._chunks:
            if self._eof or (self._done and self._error is None):
                return False
            self._raise_error()
            self._read_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._read_waiter
            finally:
                self._read_waiter = None
        return True

    def _take(self, n: int) -> memoryview:
        chunks = self._chunks
        assert chunks  # callers checked
        chunk = chunks[0]
        if len(chunk) > n:
            chunks[0] = chunk[n:]
            chunk = chunk[:n]
        else:
            chunks.popleft()
            if not chunks:
                self._chunks = None
        self._consumed(len(chunk))
        return chunk

    async def read_chunk(self) -> memoryview:
        """Next received piece, zero-copy; empty at end of stream.  Raises ChannelRefused."""
        if not await self._readable() or not self._chunks:
            return memoryview(b"")
        return self._take(len(self._chunks[0]))

    async def read_chunks(self, most: int | None = None) -> list[memoryview]:
        """The pieces received so far, zero-copy (waits for one); [] at end of stream.

        For writers that can send many buffers in one call (``transport.writelines``
        is one writev): a full window costs one system call instead of one per frame.
        ``most`` bytes at most (at least one byte): what is not taken stays unread, its
        credit not returned, so a slow destination holds the peer to its window.
        """
        if not await self._readable():
            return []
        return self._take_chunks(most)

    def read_nowait(self, most: int | None = None) -> list[memoryview]:
        """read_chunks() without waiting: the pieces received so far, [] when there are
        none (then ``at_eof`` tells the end of stream).  Raises ChannelRefused after a
        reset.  For ``on_readable``."""
        if not self._chunks:
            self._raise_error()
            return []
        return self._take_chunks(most)

    def _take_chunks(self, most: int | None) -> list[memoryview]:
        if most is None or most >= self._buffered:
            chunks = list(self._chunks or ())
            self._chunks = None
            self._consumed(sum(len(c) for c in chunks))
            return chunks
        chunks, taken = [], 0
        while self._chunks and taken < max(1, most):
            chunks.append(self._take(max(1, most) - taken))
            taken += len(chunks[-1])
        return chunks

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all until EOF when n < 0); b"" at end of stream."""
        if n < 0:
            parts: list[memoryview] = []
            while chunk := await self.read_chunk():
                parts.append(chunk)
            return b"".join(parts)
        if n == 0 or not await self._readable():
            return b""
        return bytes(self._take(n))

    async def readexactly(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < n:
            part = await self.read(n - got)
            if not part:
                raise asyncio.IncompleteReadError(b"".join(parts), n)
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    def _consumed(self, n: int) -> None:
        self._buffered -= n
        if self._owner.session.consumed(self.id, n):
            self._owner.wake_writer()

    # ----------------------------------------------------------------- write
    async def write(self, data: bytes | bytearray | memoryview, *, eof: bool = False) -> None:
        """Send all of ``data``, waiting for credit as needed.  Raises ChannelRefused.

        With ``eof`` the half-close (write_eof()) follows: when the last bytes go at once
        they and the FIN leave in one message (a small response and its end: one frame
        to read and forward on every hop, not two)."""
        view = memoryview(data)
        off, total = 0, len(view)
        while off < total:
            n = self._queue(view[off:])
            if n:
                off += n
                if off < total or not eof:
                    self._owner.wake_writer()
                continue
            if self._owner.session.has_waiting:
                self._owner.wake_writer()  # see send_nowait
            self._write_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._write_waiter
            finally:
                self._write_waiter = None
        if eof:
            self.write_eof()

    def send_nowait(self, data: bytes | memoryview) -> int:
        """Queue as much of ``data`` as the peer's credit allows now; returns the count taken.

        0 means no credit: keep the rest and retry from ``on_credit``.  This is the
        callback-style twin of write(), for transports that pause their reading
        instead of awaiting.  Raises ChannelRefused when the stream is closed.
        """
        n = self._queue(data)
        if n or self._owner.session.has_waiting:
            # Waiting for a turn: the writer hands turns out, also when it has nothing
            # else to send (else the turn would wait for the next keepalive tick).
            self._owner.wake_writer()
        return n

    def _queue(self, data: bytes | memoryview) -> int:
        """send_nowait() without waking the writer (the caller does, or queues more)."""
        self._raise_error()
        if self._done or self._eof_sent:
            raise ChannelRefused(ResetCode.CLOSED, "write on a closed stream")
        n = self._send(data)
        self.bytes_out += n
        return n

    def _send(self, data: bytes | memoryview) -> int:
        try:
            return self._owner.session.send_data(self.id, data)
        except ChannelError:
            # The session already ended this channel (a RESET or FIN later in the message
            # being dispatched); this object hears of it a moment later.
            raise ChannelRefused(ResetCode.CLOSED, "the stream was closed by the peer") from None

    def write_eof(self) -> None:
        """Half-close: the peer reads EOF; this side can still read."""
        if self._eof_sent or self._done:
            return
        self._eof_sent = True
        try:
            finished = self._owner.session.send_eof(self.id)
        except ChannelError:
            self._owner.wake_writer()  # what write(eof=True) queued just before still goes
            return  # already ended by the peer (see _send); the RESET/FIN follows
        self._owner.wake_writer()
        if finished:
            self._finish("")

    def close(self) -> None:
        """Finish the stream: a FIN if the peer already ended its side, else a reset
        that follows what was written (the peer reads it all, then the reset).

        Use write_eof() and keep reading for a graceful half-close instead.
        """
        if self._done:
            return
        if self._eof:
            self.write_eof()
        self.abort(ResetCode.CLOSED, "closed", flush=True)

    # ----------------------------------------------------- called by the link
    def _feed(self, data: memoryview, fin: bool) -> None:
        if data:
            if self._chunks is None:
                self._chunks = deque()
            self._chunks.append(data)
            self._buffered += len(data)
            self.bytes_in += len(data)
        if fin:
            self._eof = True
        self._wake_reader()
        if self.on_readable is not None:  # before _finish drops it: the FIN is news too
            self.on_readable()  # a failure resets this channel (the link's dispatch)
        if fin and self._eof_sent:
            self._finish("")

    def _on_credit(self) -> None:
        self._wake_writer()
        if self.on_credit is not None:
            try:
                self.on_credit()
            except Exception as exc:  # a callback's bug must not take the link down
                log.exception("channel %d: on_credit callback failed", self.id)
                self.abort(ResetCode.SERVICE_ERROR, f"on_credit failed: {exc}")

    def _wake_writer(self) -> None:
        if self._write_waiter is not None and not self._write_waiter.done():
            self._write_waiter.set_result(None)

    def _wake_reader(self) -> None:
        if self._read_waiter is not None and not self._read_waiter.done():
            self._read_waiter.set_result(None)

    def _wake(self) -> None:
        """The channel ended: wake blocked readers and writers, and tell ``on_readable``
        (read_nowait() then raises, or reports the end of stream)."""
        self._wake_reader()
        self._wake_writer()
        if self.on_readable is not None:
            try:
                self.on_readable()
            except Exception:  # the channel is over; a callback's bug must not spread
                log.exception("channel %d: on_readable callback failed", self.id)

    def _drop_callbacks(self) -> None:
        # Bound methods of their reader and writer: no cycle outlives the channel.
        self.on_credit = self.on_readable = None

    def _drop_unfinished(self) -> None:
        # A stream the peer had finished (FIN) stays readable to its end: a RESET after
        # FIN (a peer that closes without reading) loses nothing.  A stream cut short is
        # aborted as a TCP RST aborts: its buffers go at once, not when a slow reader
        # would have got through them.
        if not self._eof:
            self._chunks = None
            self._buffered = 0

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "stream",
            "service": self.request.service,
            "peer": self.peer,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "buffered": self._buffered,
        }


Channel = StreamChannel | DatagramChannel
