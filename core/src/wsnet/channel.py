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
from typing import Any, Protocol

from .errors import ChannelRefused
from .protocol import ChannelError, OpenRequest, ResetCode, Session

log = logging.getLogger("wsnet.channel")


class ChannelOwner(Protocol):
    """What a channel needs from its link."""

    session: Session
    peer: str

    def wake_writer(self) -> None: ...
    def forget(self, cid: int, reason: str) -> None: ...


class Endpoint(Protocol):
    """What a link delivers a channel's events to: a channel, or one end of a relay."""

    id: int
    request: OpenRequest
    bytes_in: int
    bytes_out: int

    def _feed(self, data: memoryview, fin: bool) -> None: ...
    def _feed_datagram(self, data: memoryview) -> None: ...
    def _on_credit(self) -> None: ...
    def _on_accepted(self) -> None: ...
    def _on_reset(self, code: int, reason: str) -> None: ...
    def _finish(self, reason: str) -> None: ...
    def info(self) -> dict[str, Any]: ...


class _Base:
    def __init__(self, owner: ChannelOwner, cid: int, request: OpenRequest, local: bool) -> None:
        self._owner = owner
        self.id = cid
        self.request = request
        self.local = local  # opened by this node
        self.bytes_in = 0
        self.bytes_out = 0
        # Why it was reset, as (code, reason): exceptions are made fresh where raised.  A
        # stored exception collects the traceback of every raise, whose frames hold this
        # channel: a cycle that kept each ended link's buffers until a full GC.
        self._error: tuple[int, str] | None = None
        self._done = False
        self._close_reason = ""
        # Result: None once accepted, (code, reason) when refused.
        self._accepted: asyncio.Future[tuple[int, str] | None] | None = (
            asyncio.get_running_loop().create_future() if local else None
        )
        self._closed_fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @property
    def peer(self) -> str:
        return self._owner.peer

    @property
    def closed(self) -> bool:
        return self._done

    async def wait_accepted(self) -> None:
        """For channels this node opened: wait for ACCEPT, or raise ChannelRefused."""
        if self._accepted is not None:
            refused = await asyncio.shield(self._accepted)
            if refused is not None:
                raise ChannelRefused(*refused)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise ChannelRefused(*self._error)

    async def wait_closed(self) -> str:
        """Wait until the channel is finished; returns why ("" for an orderly end)."""
        return await asyncio.shield(self._closed_fut)

    def abort(self, code: int = ResetCode.CLOSED, reason: str = "", *, flush: bool = False) -> None:
        """Reset this channel only; the link and other channels are untouched.

        Queued data is discarded, unless ``flush``: then it goes out before the RESET.
        """
        if not self._done:
            self._owner.session.reset(self.id, code, reason, flush=flush)
            self._owner.wake_writer()
            self._finish(reason or "aborted", (code, reason or "aborted locally"))

    # ----------------------------------------------------- called by the link
    def _feed(self, data: memoryview, fin: bool) -> None:
        """Stream data; a datagram channel never gets any (the session checks kinds)."""

    def _feed_datagram(self, data: memoryview) -> None:
        """A datagram; a stream channel never gets any (the session checks kinds)."""

    def _on_credit(self) -> None:
        """The peer granted credit, or the send buffer has room again."""

    def _on_accepted(self) -> None:
        if self._accepted is not None and not self._accepted.done():
            self._accepted.set_result(None)

    def _on_reset(self, code: int, reason: str) -> None:
        self._finish(reason or f"reset (code {code})", (code, reason))

    def _finish(self, reason: str, error: tuple[int, str] | None = None) -> None:
        if self._done:
            return
        self._done = True
        self._close_reason = reason
        if error is not None and self._error is None:
            self._error = error
            self._drop_unfinished()
        # The service's callbacks are dropped: they are cycles that would outlive it.
        self._drop_callbacks()
        if self._accepted is not None and not self._accepted.done():
            self._accepted.set_result(error)
        if not self._closed_fut.done():
            self._closed_fut.set_result(reason)
        self._owner.forget(self.id, reason)
        self._wake()

    def _drop_callbacks(self) -> None:
        """Forget the service's callbacks at the end; subclasses override."""

    def _drop_unfinished(self) -> None:
        """At a reset: drop received data that can no longer make a whole stream."""

    def _wake(self) -> None:
        """Wake blocked readers/writers; subclasses override."""


class StreamChannel(_Base):
    """An ordered byte stream with credit flow control and half-close."""

    def __init__(self, owner: ChannelOwner, cid: int, request: OpenRequest, local: bool) -> None:
        super().__init__(owner, cid, request, local)
        self._chunks: deque[memoryview] = deque()
        self._buffered = 0
        self._eof = False  # peer sent FIN
        self._eof_sent = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None
        # Called when the peer grants credit: lets a protocol-based writer (a TCP
        # bridge) resume without a task blocked in write().
        self.on_credit: Callable[[], object] | None = None

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
        chunk = self._chunks[0]
        if len(chunk) > n:
            self._chunks[0] = chunk[n:]
            chunk = chunk[:n]
        else:
            self._chunks.popleft()
        self._consumed(len(chunk))
        return chunk

    async def read_chunk(self) -> memoryview:
        """Next received piece, zero-copy; empty at end of stream.  Raises ChannelRefused."""
        if not await self._readable():
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
        if most is None or most >= self._buffered:
            chunks = list(self._chunks)
            self._chunks.clear()
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
    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send all of ``data``, waiting for credit as needed.  Raises ChannelRefused."""
        view = memoryview(data)
        off, total = 0, len(view)
        while off < total:
            n = self.send_nowait(view[off:])
            if n:
                off += n
                continue
            self._write_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._write_waiter
            finally:
                self._write_waiter = None

    def send_nowait(self, data: bytes | memoryview) -> int:
        """Queue as much of ``data`` as the peer's credit allows now; returns the count taken.

        0 means no credit: keep the rest and retry from ``on_credit``.  This is the
        callback-style twin of write(), for transports that pause their reading
        instead of awaiting.  Raises ChannelRefused when the stream is closed.
        """
        self._raise_error()
        if self._done or self._eof_sent:
            raise ChannelRefused(ResetCode.CLOSED, "write on a closed stream")
        n = self._send(data)
        if n:
            self.bytes_out += n
            self._owner.wake_writer()
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
            self._chunks.append(data)
            self._buffered += len(data)
            self.bytes_in += len(data)
        if fin:
            self._eof = True
            if self._eof_sent:
                self._finish("")
        self._wake_reader()

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
        self._wake_reader()
        self._wake_writer()

    def _drop_callbacks(self) -> None:
        self.on_credit = None  # a bound method of its writer: no cycle outlives the channel

    def _drop_unfinished(self) -> None:
        # A stream the peer had finished (FIN) stays readable to its end: a RESET after
        # FIN (a peer that closes without reading) loses nothing.  A stream cut short is
        # aborted as a TCP RST aborts: its buffers go at once, not when a slow reader
        # would have got through them.
        if not self._eof:
            self._chunks.clear()
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


class DatagramChannel(_Base):
    """Independent datagrams; no retransmission, drops counted on overflow."""

    max_queue = 512  # datagrams waiting in recv() before new ones are dropped

    def __init__(self, owner: ChannelOwner, cid: int, request: OpenRequest, local: bool) -> None:
        super().__init__(owner, cid, request, local)
        self.on_datagram: Callable[[memoryview], object] | None = None
        self.drops_in = 0
        self.drops_out = 0
        self._queue: deque[memoryview] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def send(self, data: bytes | memoryview) -> bool:
        """Queue one datagram; False when it was dropped (closed, too big, backlog full)."""
        if self._done:
            self.drops_out += 1
            return False
        try:
            ok = self._owner.session.send_datagram(self.id, data)
        except ChannelError:
            ok = False
        if ok:
            self.bytes_out += len(data)
            self._owner.wake_writer()
        else:
            self.drops_out += 1
        return ok

    async def recv(self) -> memoryview:
        """Next datagram (when no on_datagram callback is set).  Raises ChannelRefused."""
        while not self._queue:
            if self._done:
                self._raise_error()
                raise ChannelRefused(ResetCode.CLOSED, "channel closed")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    def close(self) -> None:
        self.abort(ResetCode.CLOSED, "closed")

    def deliver_to(self, callback: Callable[[memoryview], object]) -> None:
        """Hand every datagram to ``callback`` from now on, first those already queued.

        Datagrams that came with the OPEN (0-RTT) are queued before the service runs;
        without this they would wait in the queue for a recv() that never comes.
        """
        self.on_datagram = callback
        while self._queue:
            callback(self._queue.popleft())

    def _feed_datagram(self, data: memoryview) -> None:
        self.bytes_in += len(data)
        if self.on_datagram is not None:
            self.on_datagram(data)
        elif len(self._queue) >= self.max_queue:
            self.drops_in += 1
        else:
            self._queue.append(_detached(data))
            self._wake()

    def _drop_callbacks(self) -> None:
        self.on_datagram = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "datagram",
            "service": self.request.service,
            "peer": self.peer,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "drops_in": self.drops_in,
            "drops_out": self.drops_out,
        }


def _detached(view: memoryview) -> memoryview:
    """``view``, copied out of its message when it is a small part of it: a queued
    datagram must not keep a whole 1 MiB message alive."""
    base = view.obj
    if isinstance(base, bytes | bytearray) and len(view) * 2 < len(base):
        return memoryview(bytes(view))
    return view


Channel = StreamChannel | DatagramChannel
