"""A link: one WebSocket, one protocol Session, and the channels multiplexed on it.

This is the I/O half of the protocol: a reader task feeds messages to the
session, a writer task sends what the session queued (many frames per message,
batched while the previous send was in flight), and a timer drives keepalive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from . import wsreader
from .channel import Channel, DatagramChannel, Endpoint, StreamChannel
from .errors import ChannelRefused
from .interfaces import Principal, WebSocketLike
from .linkclose import LinkClose
from .linkwriter import LinkWriter
from .protocol import (
    ChannelAccepted,
    ChannelClosed,
    ChannelError,
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


class Link(LinkWriter, LinkClose):
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
        self.routes_refused = 0  # advertised names this peer may not advertise (adverts.py)
        self.routes_cut = 0  # names beyond [limits] max_routes
        self.session = Session(
            node=node.name,
            initiator=initiator,
            limits=node.config.limits,
            keepalive=node.config.keepalive,
            capabilities=node.capabilities,
        )
        self.peer = ""
        self.hello: Hello | None = None
        self.channels: dict[int, Endpoint] = {}
        self.up_since = time.time()
        self.close_code: int = 0
        self.close_reason = ""
        self.was_up = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # the writer waits for work, all sent (see close())
        self._early: list[Event] = []
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self._violation: tuple[int, str] | None = None  # found by _on_message (see there)
        self._tap: bool | None = None  # messages by callback: None not yet tried, False never
        self._init_writer()

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
                if self._tap is None:
                    self._tap = wsreader.attach(self.ws, self._on_message)
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
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
            # aiohttp answers WebSocket pings inside receive(): a peer that pings and
            # resets makes that send raise here.  It is the end of this link, nothing more.
            self._closing = True
            raise LinkClosed(1006, f"connection error: {exc or type(exc).__name__}") from None
        finally:
            self._receiving = False
        if self._violation is not None:  # woken by _on_message: see there
            await self.abort(*self._violation)
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

    def _on_message(self, data: bytes) -> None:
        """A binary message, handed over by aiohttp's parser while the link is tapped
        (wsreader.py): the work of ``_receive_once`` and ``_dispatch`` without a task hop.
        It must not raise (aiohttp would end the WebSocket with 1006): a protocol violation
        stops the tap and wakes the reader task, which closes the link with its code."""
        try:
            self._dispatch(self.session.receive_message(data))
        except ProtocolError as exc:
            self._stop_tap((exc.code, exc.reason))
        except Exception as exc:  # a bug of ours (a channel's own faults stay in it)
            log.error("link %s: message handling failed", self.id, exc_info=exc)
            self._stop_tap((CloseCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))

    def _stop_tap(self, violation: tuple[int, str]) -> None:
        self._violation = violation
        self._tap = False
        wsreader.detach(self.ws)
        wsreader.wake(self.ws)

    async def abort(self, code: int, reason: str) -> None:
        """Close the WebSocket with a code and a reason the peer can read; raises LinkClosed
        with what the close frame carried (a close already under way, e.g. the node's
        shutdown, keeps its own code and reason)."""
        await self.close(code, reason)
        raise LinkClosed(self.close_code or code, self.close_reason or reason)

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
            # The parser's callback refers to this link: no cycle outlives it (a link ended
            # by a failed send has not been through close()).
            self._tap = False
            wsreader.detach(self.ws)
            self._stop_turn_timer()
            lost = f"link to {self.peer or self.remote} lost: {self.close_reason}"
            for ch in list(self.channels.values()):
                ch._on_reset(ResetCode.LINK_LOST, lost)
            self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # ---------------------------------------------------------------- output
    # wake_writer(), _flush() and the writer task: linkwriter.py

    async def _timer(self) -> None:
        period = max(0.05, min(self.session.keepalive.interval, 1.0) / 2)
        while True:
            await asyncio.sleep(period)
            for ev in self.session.tick():
                if isinstance(ev, LinkTimeout):
                    log.debug("link %s to %s: %s", self.id, self.peer, ev.reason)
                    await self.close(ev.code, ev.reason)
                    return
            if self.session.has_output:
                self._wake.set()
            elif self.session.has_waiting:
                self._wake_writable()  # a safety net: woken writers that wrote nothing

    # ----------------------------------------------------------------- input
    def _dispatch(self, events: list[Event]) -> None:
        """Hand each event to its channel.  A failure stays in its channel (it is reset):
        nothing an event causes may end the link or skip the events after it."""
        channels = self.channels
        for ev in events:
            if isinstance(ev, DataReceived):
                ep = channels.get(ev.channel)
                if ep is None:
                    # Nobody reads it (the service ended): give the credit back at once.
                    self.session.consumed(ev.channel, len(ev.data))
                    continue
                try:  # _guarded, inline: this is the per-message path
                    ep._feed(ev.data, ev.fin)
                except Exception as exc:
                    self._channel_failed(ev.channel, exc)
            elif isinstance(ev, DatagramReceived):
                if (ep := channels.get(ev.channel)) is not None:
                    self._guarded(ep._feed_datagram, ev.channel, ev.data)
            elif isinstance(ev, CreditAvailable):
                if (ep := channels.get(ev.channel)) is not None:
                    self._guarded(ep._on_credit, ev.channel)
            else:
                self._dispatch_control(ev)
        if self.session.has_output:
            self.wake_writer()

    def _guarded(self, call: Callable[..., object], cid: int, *args: Any) -> None:
        try:
            call(*args)
        except Exception as exc:
            self._channel_failed(cid, exc)

    def _channel_failed(self, cid: int, exc: Exception) -> None:
        """An event of channel ``cid`` raised: reset that channel only."""
        if isinstance(exc, ChannelError | ChannelRefused):
            self._reset_channel(cid, ResetCode.STREAM_ERROR, str(exc))
        else:  # a service's or plugin's bug: its channel only
            log.error("link %s: channel %d failed", self.id, cid, exc_info=exc)
            self._reset_channel(cid, ResetCode.SERVICE_ERROR, f"{type(exc).__name__}: {exc}")

    def _reset_channel(self, cid: int, code: int, reason: str) -> None:
        ep = self.channels.get(cid)
        self.session.reset(cid, code, reason)
        if ep is not None:
            ep._on_reset(code, reason)
        self.wake_writer()

    def _dispatch_control(self, ev: Event) -> None:
        channels = self.channels
        if isinstance(ev, ChannelRequested):
            self._guarded(self.node.on_channel_request, ev.channel, self, ev.channel, ev.request)
        elif isinstance(ev, ChannelAccepted):
            if (ep := channels.get(ev.channel)) is not None:
                self._guarded(ep._on_accepted, ev.channel)
        elif isinstance(ev, ChannelReset):
            if (ep := channels.get(ev.channel)) is not None:
                self._guarded(ep._on_reset, ev.channel, ev.code, ev.reason)
        elif isinstance(ev, ChannelClosed):
            if (ep := channels.get(ev.channel)) is not None:
                self._guarded(ep._finish, ev.channel, "")
        elif isinstance(ev, RoutesReceived):
            try:
                self.node.on_routes(self, ev.routes)
            except Exception:  # pragma: no cover - a bug in routing must not end the link
                log.exception("link %s: routes from %s failed", self.id, self.peer)
        # PongReceived: session.rtt is already updated.  HelloReceived: only once, and
        # handshake() took it.

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
        source: str = "",
    ) -> Channel:
        """Open a channel (0-RTT: data may follow before ACCEPT).  Raises ChannelError.

        ``source``: who holds it, for ``[limits] max_channels_per_source``.
        """
        cid = self.session.open_channel(
            kind, service, dst=dst, src=src, args=args, ttl=ttl, source=source
        )
        req = OpenRequest(kind, service, src or self.node.name, dst, args or {}, ttl)
        # At the end of this turn: the opener's first data (an HTTP request head, its
        # FIN) then shares the OPEN's message, and every hop reads one message, not two.
        self.wake_writer_soon()
        ch = self.new_channel(cid, req, local=True)
        # Here, not in Node.open_channel: every local open (the switch's too) is paired
        # with the ChannelClosed that forget() emits, so a gauge built from them holds.
        self.node.on_channel_opened(self, cid, service, req.src)
        return ch

    def open_datagram(self, service: str) -> DatagramChannel:
        """A datagram channel to the peer's ``service`` on this link (LinkAPI).  Raises
        ChannelError at the link's limits."""
        ch = self.open(ChannelKind.DATAGRAM, service)
        assert isinstance(ch, DatagramChannel)  # open() makes the kind it is asked for
        return ch

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
            "queued": self.session.pending_bytes,
            "buffered": self.session.buffered,
            "bytes_in": st.bytes_in,
            "bytes_out": st.bytes_out,
            "messages_in": st.messages_in,
            "frames_ignored": st.frames_ignored,
            "datagrams_dropped": st.datagrams_dropped,
            "routes_refused": self.routes_refused,
            "routes_cut": self.routes_cut,
        }
