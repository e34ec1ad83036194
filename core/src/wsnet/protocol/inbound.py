"""The receiving half of a Session: every frame's outcome in every channel state.

Implements the table of docs/protocol.md section 7.1.  A frame that breaks the rules of
one channel resets that channel (a stream error: RESET to the peer, ChannelReset to the
application); only what the table marks as a connection error raises ProtocolError,
and nothing else leaves receive_message().
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import messages as m
from .chstate import ChannelState, SessionStats
from .errors import CloseCode, ProtocolError, ResetCode
from .events import (
    ChannelAccepted,
    ChannelClosed,
    ChannelRequested,
    ChannelReset,
    CreditAvailable,
    DatagramReceived,
    DataReceived,
    Event,
    HelloReceived,
    PongReceived,
    RoutesReceived,
)
from .frames import HEADER_SIZE, Flag, Frame, FrameType, decode_message
from .limits import MAX_CREDIT, MIN_FRAME, MIN_WINDOW
from .messages import NODE_NAME_RE, ChannelKind, Hello, OpenRequest

if TYPE_CHECKING:
    from .credit import Windows
    from .limits import Limits
    from .output import Output

# A service name as OPEN may carry it: it ends up in logs and control output, so no
# control characters and no length without bound.
SERVICE_RE = NODE_NAME_RE
# A principal's name comes from an authenticator (htpasswd user, certificate CN), so it
# is not a node name; it reaches logs, so no control characters and a bounded length.
PRINCIPAL_RE = re.compile(r"\A[^\x00-\x1f\x7f]{1,256}\Z")
SHED_TO = 0.9  # over link_buffer, channels are reset until this fraction of it is left


class Inbound:
    """Mixin of Session; the attributes below are the Session's."""

    limits: Limits
    initiator: bool
    peer: Hello | None
    rtt: float | None
    _out: Output
    _windows: Windows
    _clock: Callable[[], float]
    _channels: dict[int, ChannelState]
    _buffered: int
    _last_remote_id: int
    _last_recv: float
    _ping_sent: dict[int, float]
    stats: SessionStats

    def _add(self, ch: ChannelState) -> None:
        raise NotImplementedError

    def _forget(self, ch: ChannelState, discard: bool = False) -> None:
        raise NotImplementedError

    def _over_limit(self, source: str, peer_limit: int | None = None) -> str:
        raise NotImplementedError

    def _queue_reset(self, cid: int, code: int, reason: str) -> None:
        raise NotImplementedError

    def receive_message(self, message: bytes | bytearray | memoryview) -> list[Event]:
        """Process one binary WebSocket message.  Raises ProtocolError only."""
        size = len(message)
        if size > self.limits.max_message:
            raise ProtocolError(
                f"message of {size} bytes exceeds limit {self.limits.max_message}",
                CloseCode.MESSAGE_TOO_BIG,
            )
        frames = decode_message(message, max(self.limits.max_frame, self.limits.max_control))
        self._last_recv = self._clock()
        self.stats.messages_in += 1
        self.stats.bytes_in += size
        events: list[Event] = []
        for frame in frames:
            if self.peer is None and frame.type != FrameType.HELLO:
                raise ProtocolError(f"expected HELLO first, got frame type {frame.type}")
            self._dispatch[frame.type](self, frame, events, size)
        if self._out.ctrl_bytes > self.limits.control_backlog:
            raise ProtocolError(
                f"the peer does not read: {self._out.ctrl_bytes} bytes of control frames "
                f"queued for it (limit {self.limits.control_backlog})"
            )
        return events

    def _check_control(self, frame: Frame, what: str) -> None:
        if len(frame.payload) > self.limits.max_control:
            raise ProtocolError(f"{what} frame of {len(frame.payload)} bytes exceeds the "
                                f"limit of {self.limits.max_control}")  # fmt: skip

    def _on_hello(self, frame: Frame, events: list[Event], size: int) -> None:
        if self.peer is not None:
            raise ProtocolError("second HELLO on an established link")
        self._check_control(frame, "HELLO")
        self.peer = checked_hello(m.decode_hello(frame.payload))
        events.append(HelloReceived(self.peer))

    def _on_open(self, frame: Frame, events: list[Event], size: int) -> None:
        cid = frame.channel
        if cid == 0 or (cid % 2 == 1) == self.initiator:
            raise ProtocolError(f"OPEN with channel id {cid} of the wrong parity")
        if cid <= self._last_remote_id:
            raise ProtocolError(f"OPEN for channel {cid}: ids must grow, the last was "
                                f"{self._last_remote_id}")  # fmt: skip
        self._check_control(frame, "OPEN")
        req = m.decode_open(frame.payload)
        self._last_remote_id = cid
        bad = _bad_names(req)
        if bad:
            self.stats.opens_refused[ResetCode.BAD_REQUEST] += 1
            self._queue_reset(cid, ResetCode.BAD_REQUEST, bad)
            return
        # The peer's own channels are bounded by max_channels; per-source limits apply
        # where a relay sends them on (the source there is the link they came from).
        refusal = self._over_limit("")
        if refusal:
            self.stats.opens_refused[ResetCode.TOO_MANY_CHANNELS] += 1
            self._queue_reset(cid, ResetCode.TOO_MANY_CHANNELS, refusal)
            return
        assert self.peer is not None
        send = self.peer.window if req.kind == ChannelKind.STREAM else 0
        self._add(ChannelState(cid, req.kind, req.service, False, send, self.limits.window))
        events.append(ChannelRequested(cid, req))

    def _on_accept(self, frame: Frame, events: list[Event], size: int) -> None:
        ch = self._channels.get(frame.channel)
        if ch is None:
            self.stats.frames_ignored += 1
        elif not ch.local:
            self._fail_channel(ch, "ACCEPT for a channel the peer opened", events)
        elif ch.accepted:
            self._fail_channel(ch, "a second ACCEPT", events)
        else:
            ch.accepted = True
            events.append(ChannelAccepted(ch.id))

    def _on_data(self, frame: Frame, events: list[Event], size: int) -> None:
        n = len(frame.payload)
        if n > self.limits.max_frame:  # the decoder allowed up to max_control for OPEN & co
            raise ProtocolError(
                f"DATA frame of {n} bytes exceeds max_frame {self.limits.max_frame}"
            )
        ch = self._channels.get(frame.channel)
        if ch is None:
            self.stats.frames_ignored += 1
            return
        ch.bytes_in += n
        if not ch.stream:
            events.append(DatagramReceived(ch.id, frame.payload))
            return
        if ch.remote_fin:
            self._fail_channel(ch, "data after FIN", events)
            return
        if n > ch.recv_credit:
            self._fail_channel(
                ch, f"{n} bytes sent with {ch.recv_credit} credit", events, ResetCode.FLOW_CONTROL
            )
            return
        ch.recv_credit -= n
        ch.buffered += n
        self._buffered += n
        if self._buffered > self.limits.link_buffer and self._shed(ch, events):
            return
        fin = bool(frame.flags & Flag.FIN)
        ch.remote_fin = fin
        # A small slice of a large message would keep all of it alive while it waits to
        # be read: 300 bytes of credit pinned 200+ MB.  Copy it out; big slices stay views.
        data = memoryview(bytes(frame.payload)) if n and n * 2 < size else frame.payload
        events.append(DataReceived(ch.id, data, fin))
        if fin and ch.local_fin:
            self._forget(ch)
            events.append(ChannelClosed(ch.id))

    def _shed(self, ch: ChannelState, events: list[Event]) -> bool:
        """Over link_buffer: reset the channels holding the most unread bytes until a
        tenth of it is free again (one scan for many frames).  True if ``ch`` was one."""
        target = int(self.limits.link_buffer * SHED_TO)
        streams = (c for c in self._channels.values() if c.stream and c.buffered)
        for victim in heapq.nlargest(64, streams, key=lambda c: c.buffered):
            if self._buffered <= target:
                break
            reason = (f"link receive buffer of {self.limits.link_buffer} bytes full; this "
                      f"channel held {victim.buffered} unread bytes")  # fmt: skip
            self._fail_channel(victim, reason, events, ResetCode.FLOW_CONTROL)
        return ch.id not in self._channels

    def _on_window(self, frame: Frame, events: list[Event], size: int) -> None:
        increment = m.decode_u32(frame.payload, "WINDOW")
        ch = self._channels.get(frame.channel)
        if ch is None:
            self.stats.frames_ignored += 1
        elif not ch.stream:
            self._fail_channel(ch, "WINDOW on a datagram channel", events)
        elif increment == 0:  # as HTTP/2: a zero increment is an error, not a no-op
            self._fail_channel(ch, "WINDOW increment 0", events, ResetCode.FLOW_CONTROL)
        elif ch.send_credit + increment > MAX_CREDIT:
            self._fail_channel(ch, "credit above 2**31-1", events, ResetCode.FLOW_CONTROL)
        else:
            ch.send_credit += increment
            events.append(CreditAvailable(ch.id, ch.send_credit))

    def _on_reset(self, frame: Frame, events: list[Event], size: int) -> None:
        code, reason = m.decode_reset(frame.payload)
        ch = self._channels.get(frame.channel)
        if ch is None:
            self.stats.frames_ignored += 1
        else:
            self._forget(ch, discard=True)
            events.append(ChannelReset(frame.channel, code, reason))

    def _on_ping(self, frame: Frame, events: list[Event], size: int) -> None:
        m.decode_u64(frame.payload, "PING")
        # One PONG pending at most: a peer that pings and never reads queues nothing more.
        self._out.pong(bytes(frame.payload))

    def _on_pong(self, frame: Frame, events: list[Event], size: int) -> None:
        sent = self._ping_sent.pop(m.decode_u64(frame.payload, "PONG"), None)
        if sent is not None:
            self.rtt = self._clock() - sent
            self.stats.observe_rtt(self.rtt)
            events.append(PongReceived(self.rtt))

    def _on_routes(self, frame: Frame, events: list[Event], size: int) -> None:
        self._check_control(frame, "ROUTES")
        events.append(RoutesReceived(m.decode_routes(frame.payload)))

    _dispatch: dict[int, Callable[[Inbound, Frame, list[Event], int], None]] = {
        FrameType.HELLO: _on_hello,
        FrameType.OPEN: _on_open,
        FrameType.ACCEPT: _on_accept,
        FrameType.DATA: _on_data,
        FrameType.WINDOW: _on_window,
        FrameType.RESET: _on_reset,
        FrameType.PING: _on_ping,
        FrameType.PONG: _on_pong,
        FrameType.ROUTES: _on_routes,
    }

    def _fail_channel(
        self,
        ch: ChannelState,
        reason: str,
        events: list[Event],
        code: ResetCode = ResetCode.STREAM_ERROR,
    ) -> None:
        """A peer error confined to one channel: reset it, keep the link."""
        self._forget(ch, discard=True)
        self._queue_reset(ch.id, code, reason)
        events.append(ChannelReset(ch.id, code, reason))


def _bad_names(req: OpenRequest) -> str:
    """Why the names of an OPEN are unusable (they reach logs and routing), or ""."""
    for field, value in (("src", req.src), ("dst", req.dst)):
        if value and not NODE_NAME_RE.match(value):
            return f"OPEN: {field} is not a node name: {value[:64]!r}"
    if not SERVICE_RE.match(req.service):
        return f"OPEN: service is not a valid name: {req.service[:64]!r}"
    if req.principal and not PRINCIPAL_RE.match(req.principal):
        return f"OPEN: principal is not a valid name: {req.principal[:64]!r}"
    return ""


def checked_hello(hello: Hello) -> Hello:
    """The peer's limits against floors and each other (docs/protocol.md section 4)."""
    if hello.max_frame < MIN_FRAME:
        raise ProtocolError(f"HELLO: max_frame {hello.max_frame} is below the minimum "
                            f"{MIN_FRAME}")  # fmt: skip
    if hello.max_message < hello.max_frame + HEADER_SIZE:
        raise ProtocolError(f"HELLO: max_message {hello.max_message} cannot hold a frame of "
                            f"max_frame {hello.max_frame} bytes and its header")  # fmt: skip
    if not MIN_WINDOW <= hello.window <= MAX_CREDIT:
        raise ProtocolError(f"HELLO: window {hello.window} is outside {MIN_WINDOW}.."
                            f"{MAX_CREDIT}")  # fmt: skip
    if hello.max_channels < 0:
        raise ProtocolError(f"HELLO: max_channels {hello.max_channels} is negative")
    return hello
