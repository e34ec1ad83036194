"""Datagram channels: independent datagrams, no retransmission, drops counted."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from .chanbase import ChannelOwner, _Base
from .errors import ChannelRefused
from .protocol import ChannelError, OpenRequest, ResetCode
from .protocol.chstate import CLOSING, RECEIVE_QUEUE
from .protocol.output import detached


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
            self._owner.session.stats.datagram_drops[CLOSING] += 1
            return False
        try:
            ok = self._owner.session.send_datagram(self.id, data)  # counts its own drops
        except ChannelError:  # ended by the peer a moment ago
            self._owner.session.stats.datagram_drops[CLOSING] += 1
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
            self._owner.session.stats.datagram_drops[RECEIVE_QUEUE] += 1
        else:
            # Queued, a small view would keep its whole message alive: the same rule
            # as for the send queue (protocol.output.detached).
            self._queue.append(memoryview(detached(data)))
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
