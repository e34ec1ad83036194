"""What every channel object shares: its life cycle (accepted, reset, finished) and the
interface a link delivers events through (Endpoint).  StreamChannel (channel.py) and
DatagramChannel (datagram.py) build on it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, cast

from .errors import ChannelRefused
from .protocol import OpenRequest, ResetCode, Session

_PENDING = object()  # no ACCEPT yet


class ChannelOwner(Protocol):
    """What a channel needs from its link."""

    session: Session
    peer: str

    def wake_writer(self) -> None: ...
    def wake_writer_soon(self) -> None: ...
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
        # The ACCEPT's outcome for a channel this node opened: _PENDING, then None once
        # accepted or (code, reason) when refused.  Futures are made only for a caller
        # that waits (most opens do not: an HTTP request sends at once), not per channel.
        self._accept: object = _PENDING if local else None
        self._accept_waiter: asyncio.Future[tuple[int, str] | None] | None = None
        self._close_waiters: list[asyncio.Future[str]] | None = None

    @property
    def peer(self) -> str:
        return self._owner.peer

    @property
    def closed(self) -> bool:
        return self._done

    async def wait_accepted(self) -> None:
        """For channels this node opened: wait for ACCEPT, or raise ChannelRefused."""
        refused = self._accept
        if refused is _PENDING:
            if self._accept_waiter is None:
                self._accept_waiter = asyncio.get_running_loop().create_future()
            refused = await asyncio.shield(self._accept_waiter)
        if refused is not None:
            raise ChannelRefused(*cast("tuple[int, str]", refused))

    def _settle_accept(self, result: tuple[int, str] | None) -> None:
        if self._accept is _PENDING:
            self._accept = result
            if self._accept_waiter is not None:
                self._accept_waiter.set_result(result)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise ChannelRefused(*self._error)

    async def wait_closed(self) -> str:
        """Wait until the channel is finished; returns why ("" for an orderly end)."""
        if self._done:
            return self._close_reason
        return await self.when_closed()

    def when_closed(self) -> asyncio.Future[str]:
        """A future of wait_closed()'s answer, made without a task: for asyncio.wait()
        beside other futures.  Cancelling it touches nothing else."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if self._done:
            fut.set_result(self._close_reason)
            return fut
        waiters = self._close_waiters
        if waiters is None:
            waiters = self._close_waiters = []
        elif len(waiters) >= 8:  # a caller that cancels its waits does not pile them up
            waiters[:] = [w for w in waiters if not w.done()]
        waiters.append(fut)
        return fut

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
        self._settle_accept(None)

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
        self._settle_accept(error)
        if self._close_waiters is not None:
            for fut in self._close_waiters:
                if not fut.done():
                    fut.set_result(reason)
            self._close_waiters = None
        self._owner.forget(self.id, reason)
        self._wake()  # callbacks too: a protocol-based reader hears of the end this way
        # The service's callbacks are dropped: they are cycles that would outlive it.
        self._drop_callbacks()

    def _drop_callbacks(self) -> None:
        """Forget the service's callbacks at the end; subclasses override."""

    def _drop_unfinished(self) -> None:
        """At a reset: drop received data that can no longer make a whole stream."""

    def _wake(self) -> None:
        """Wake blocked readers/writers; subclasses override."""
