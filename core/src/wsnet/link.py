"""A link: one WebSocket, one protocol Session, and the channels multiplexed on it.

This is the I/O half of the protocol: a reader task feeds messages to the
session, a writer task sends what the session queued (many frames per message,
batched while the previous send was in flight), and a timer drives keepalive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from .channel import Channel, DatagramChannel, StreamChannel
from .interfaces import Principal, WebSocketLike
from .protocol import (
    ChannelAccepted,
    ChannelClosed,
    ChannelKind,
    ChannelRequested,
    ChannelReset,
    CloseCode,
    CreditAvailable,
    DatagramReceived,
    DataReceived,
    Event,
    Hello,
    HelloReceived,
    LinkTimeout,
    OpenRequest,
    PongReceived,
    ProtocolError,
    ResetCode,
    RoutesReceived,
    Session,
)
from .protocol.messages import DEFAULT_TTL
from .tasks import cancel_and_wait

if TYPE_CHECKING:
    from .node import Node

log = logging.getLogger("wsnet.link")


class LinkClosed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Link:
    """One side of an established (or establishing) link."""

    def __init__(
        self,
        node: Node,
        ws: WebSocketLike,
        *,
        link_id: int,
        initiator: bool,
        remote: str,
        principal: Principal,
    ) -> None:
        self.node = node
        self.ws = ws
        self.id = link_id
        self.direction = "out" if initiator else "in"
        self.remote = remote
        self.principal = principal
        self.session = Session(
            node=node.name,
            initiator=initiator,
            limits=node.config.limits,
            keepalive=node.config.keepalive,
            capabilities=node.capabilities,
        )
        self.peer = ""
        self.hello: Hello | None = None
        self.channels: dict[int, Channel] = {}
        self.up_since = time.time()
        self.close_code: int = 0
        self.close_reason = ""
        self.was_up = False
        self._wake = asyncio.Event()
        self._early: list[Event] = []
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()

    # ------------------------------------------------------------- life cycle
    async def handshake(self) -> Hello:
        """Exchange HELLO.  Raises LinkClosed (already closed with the reason) on failure."""
        await self._flush()
        deadline = self.node.config.keepalive.hello_timeout
        try:
            async with asyncio.timeout(deadline):
                while self.hello is None:
                    events = await self._receive_once()
                    for i, ev in enumerate(events):
                        if isinstance(ev, HelloReceived):
                            self.hello = ev.hello
                            self._early = events[i + 1 :]
                            break
        except TimeoutError:
            await self.abort(CloseCode.HELLO_TIMEOUT, f"no HELLO within {deadline:g}s")
        self.peer = self.hello.node if self.hello else ""
        assert self.hello is not None
        return self.hello

    async def run(self) -> None:
        """Serve the link until it closes; afterwards every channel is reset."""
        self._tasks = [
            asyncio.create_task(self._writer(), name=f"link{self.id}-writer"),
            asyncio.create_task(self._timer(), name=f"link{self.id}-timer"),
        ]
        try:
            self._dispatch(self._early)
            self._early = []
            while True:
                self._dispatch(await self._receive_once())
        except LinkClosed as exc:
            self.close_code, self.close_reason = exc.code, exc.reason
        except asyncio.CancelledError:
            # Cancelled because the node is shutting down (Runtime.aclose cancels the
            # diallers that run this link): tell the peer why, not an empty reason.
            if not self._closing and self.node.closing_reason:
                self.close_code = CloseCode.GOING_AWAY
                self.close_reason = self.node.closing_reason
            raise
        finally:
            await self._teardown()

    async def _receive_once(self) -> list[Event]:
        if self._handshake:
            # close() runs the close handshake and reads the rest itself (see close()).
            raise LinkClosed(self.close_code, self.close_reason)
        self._receiving = True
        try:
            msg = await self.ws.receive()
        finally:
            self._receiving = False
        if msg.type == aiohttp.WSMsgType.BINARY:
            try:
                return self.session.receive_message(msg.data)
            except ProtocolError as exc:
                await self.abort(exc.code, exc.reason)
        if msg.type == aiohttp.WSMsgType.TEXT:
            await self.abort(CloseCode.PROTOCOL_ERROR, "text messages are not part of wsnet")
        if msg.type == aiohttp.WSMsgType.CLOSE:
            # The peer's close frame says why, also when a send of ours failed on the closing
            # socket first, or aiohttp's reply failed and set ws.close_code to 1006.
            raise LinkClosed(msg.data, msg.extra or "connection closed")
        if self._closing:
            raise LinkClosed(self.close_code, self.close_reason)
        code = self.ws.close_code or CloseCode.GOING_AWAY
        reason = msg.extra if isinstance(msg.extra, str) and msg.extra else "connection closed"
        if msg.type == aiohttp.WSMsgType.ERROR:
            reason = f"connection error: {msg.data}"
            # aiohttp's WebSocketError knows why (1009 too big, 1002 bad framing); the
            # socket may already be reset, so ws.close_code would only say 1006.
            if isinstance(msg.data, aiohttp.WebSocketError):
                code = msg.data.code
        raise LinkClosed(code, reason)

    async def abort(self, code: int, reason: str) -> None:
        """Close the WebSocket with a code and a reason the peer can read; raises LinkClosed."""
        await self.close(code, reason)
        raise LinkClosed(code, reason)

    # Set by close() while it runs: a second close() (the teardown's) waits for it, so the
    # link's task cannot end, and the socket be closed under it, mid-handshake.
    _close_done: asyncio.Event | None = None
    _handshake = False  # set by close(): the reader stops, ws.close() reads the rest
    _receiving = False  # the reader waits in ws.receive()

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
            if loop.time() < deadline:
                await self._stop_reader(deadline)
            await self._close_handshake(code, reason, max(deadline, loop.time() + 0.2))
        finally:
            done.set()

    async def _stop_writer(self, deadline: float) -> None:
        """The writer sends two rounds begun after the call (so all written before it),
        then what is queued is dropped until it waits for work again, idle; then it is
        cancelled.  Nothing signals either state, so look every millisecond."""
        writer = self._tasks[0] if self._tasks else None
        if writer is None:
            return
        loop = asyncio.get_running_loop()
        idle_code = asyncio.Event.wait.__code__
        rounds = 0
        while not writer.done() and loop.time() < deadline:
            if rounds < 2:
                if not self._wake.is_set():  # the writer took the queue: ask for more
                    rounds += 1
                    self._wake.set()
            else:
                self.session.data_to_send()
                waiting_on = getattr(writer.get_coro(), "cr_await", None)
                if getattr(waiting_on, "cr_code", None) is idle_code:
                    break
            await asyncio.sleep(0.001)
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
                await self.ws.close(code=code, message=reason.encode()[:120])
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

    async def _teardown(self) -> None:
        try:
            await cancel_and_wait(self._tasks)
        finally:
            # Also when this task is cancelled meanwhile (shutdown): close and reset
            # the channels first; cancel_and_wait re-raises the cancellation after.
            await self._finish_teardown()

    async def _finish_teardown(self) -> None:
        try:
            # Closes the link, or waits for a close under way in another task (shutdown).
            await self.close(self.close_code or CloseCode.GOING_AWAY, self.close_reason)
        finally:
            lost = f"link to {self.peer or self.remote} lost: {self.close_reason}"
            for ch in list(self.channels.values()):
                ch._on_reset(ResetCode.LINK_LOST, lost)
            self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # ---------------------------------------------------------------- output
    def wake_writer(self) -> None:
        self._wake.set()

    async def _flush(self) -> None:
        for message in self.session.data_to_send():
            await self.ws.send_bytes(message)

    async def _writer(self) -> None:
        # While one send is awaited, new frames pile up in the session and go out
        # together in the next round: batching comes from the await itself.
        wake = self._wake
        try:
            while True:
                await wake.wait()
                wake.clear()
                await self._flush()
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
            log.debug("link %s: send failed: %s", self.id, exc)
            self._closing = True
            self.close_code, self.close_reason = CloseCode.GOING_AWAY, f"send failed: {exc}"
            with contextlib.suppress(Exception):
                await self.ws.close(code=CloseCode.GOING_AWAY)

    async def _timer(self) -> None:
        period = max(0.05, min(self.session.keepalive.interval, 1.0) / 2)
        while True:
            await asyncio.sleep(period)
            for ev in self.session.tick():
                if isinstance(ev, LinkTimeout):
                    log.debug("link %s to %s: %s", self.id, self.peer, ev.reason)
                    await self.close(ev.code, ev.reason)
                    return
            if self.session.pending_bytes:
                self._wake.set()

    # ----------------------------------------------------------------- input
    def _dispatch(self, events: list[Event]) -> None:
        channels = self.channels
        for ev in events:
            if isinstance(ev, DataReceived):
                ch = channels.get(ev.channel)
                if isinstance(ch, StreamChannel):
                    ch._feed(ev.data, ev.fin)
                else:
                    # Nobody reads it (the service ended): give the credit back at once.
                    self.session.consumed(ev.channel, len(ev.data))
            elif isinstance(ev, DatagramReceived):
                dch = channels.get(ev.channel)
                if isinstance(dch, DatagramChannel):
                    dch._feed(ev.data)
            elif isinstance(ev, CreditAvailable):
                sch = channels.get(ev.channel)
                if isinstance(sch, StreamChannel):
                    sch._on_credit()
            else:
                self._dispatch_control(ev)
        if self.session.pending_bytes:
            self._wake.set()

    def _dispatch_control(self, ev: Event) -> None:
        if isinstance(ev, ChannelRequested):
            self.node.on_channel_request(self, ev.channel, ev.request)
        elif isinstance(ev, ChannelAccepted):
            if (ch := self.channels.get(ev.channel)) is not None:
                ch._on_accepted()
        elif isinstance(ev, ChannelReset):
            if (ch := self.channels.get(ev.channel)) is not None:
                ch._on_reset(ev.code, ev.reason)
        elif isinstance(ev, ChannelClosed):
            if (ch := self.channels.get(ev.channel)) is not None:
                ch._finish("")
        elif isinstance(ev, RoutesReceived):
            self.node.on_routes(self, ev.routes)
        elif isinstance(ev, PongReceived):
            pass  # session.rtt is already updated
        elif isinstance(ev, HelloReceived):  # pragma: no cover - session refuses a second
            pass

    # -------------------------------------------------------------- channels
    def new_channel(self, cid: int, request: OpenRequest, local: bool) -> Channel:
        cls: Callable[..., Channel] = (
            StreamChannel if request.kind == ChannelKind.STREAM else DatagramChannel
        )
        ch = cls(self, cid, request, local)
        self.channels[cid] = ch
        return ch

    def open(
        self,
        kind: ChannelKind,
        service: str,
        *,
        dst: str = "",
        src: str = "",
        args: dict[str, Any] | None = None,
        ttl: int = DEFAULT_TTL,
    ) -> Channel:
        """Open a channel (0-RTT: data may follow before ACCEPT).  Raises ChannelError."""
        cid = self.session.open_channel(kind, service, dst=dst, src=src, args=args, ttl=ttl)
        req = OpenRequest(kind, service, src or self.node.name, dst, args or {}, ttl)
        self._wake.set()
        return self.new_channel(cid, req, local=True)

    def forget(self, cid: int, reason: str) -> None:
        ch = self.channels.pop(cid, None)
        if ch is not None:
            self.node.on_channel_closed(self, ch, reason)

    def info(self) -> dict[str, Any]:
        st = self.session.stats
        return {
            "id": self.id,
            "peer": self.peer,
            "direction": self.direction,
            "remote": self.remote,
            "principal": self.principal.name,
            "up_seconds": round(time.time() - self.up_since, 1),
            "rtt_ms": round(self.session.rtt * 1000, 2) if self.session.rtt is not None else None,
            "channels": len(self.channels),
            "bytes_in": st.bytes_in,
            "bytes_out": st.bytes_out,
            "messages_in": st.messages_in,
            "datagrams_dropped": st.datagrams_dropped,
        }
