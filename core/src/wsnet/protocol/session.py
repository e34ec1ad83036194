"""The link protocol state machine: messages in, events and messages out, no I/O.

One Session is one side of one link.  The I/O layer feeds it every binary
WebSocket message (receive_message), calls tick() about once a second, sends
whatever data_to_send() returns, and turns local wishes into calls such as
open_channel(), send_data() and consumed().  See docs/protocol.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import messages as m
from .errors import ChannelError, CloseCode, ProtocolError, ResetCode
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
    LinkTimeout,
    PongReceived,
    RoutesReceived,
)
from .frames import (
    HEADER_SIZE,
    MAX_CHANNEL_ID,
    Flag,
    Frame,
    FrameType,
    decode_message,
    encode_header,
)
from .messages import ChannelKind, Hello, OpenRequest

MAX_CREDIT = 2**31 - 1  # as HTTP/2: a window above this is a flow-control error


@dataclass(frozen=True, slots=True)
class Limits:
    """What this side accepts; sent to the peer in HELLO."""

    window: int = 1 << 20  # initial credit granted per stream channel
    # Auto-tuning: a channel whose reader consumes a whole window within FAST_ROUND
    # seconds gets its window doubled, up to this.  A slow reader never grows its
    # window, so per-channel buffering stays at `window` where it matters.
    max_window: int = 8 << 20
    # ... and all the growth on one link together stays below this, so that many fast
    # channels cannot make a node buffer channels x max_window.
    window_budget: int = 64 << 20
    max_frame: int = 128 * 1024  # largest frame payload accepted
    max_message: int = (1 << 20) + 4096  # largest WebSocket message accepted
    max_channels: int = 4096  # channels open at once on this link
    max_control: int = 64 * 1024  # largest HELLO/OPEN/ROUTES payload accepted
    # Queued outbound bytes before datagrams are dropped: 64 TSO super-frames.  At 1 MiB a
    # single iperf3 stream through TAPs lost ~900 super-frames in 5 s (40k retransmits).
    datagram_backlog: int = 4 << 20

    def __post_init__(self) -> None:
        if self.max_message < HEADER_SIZE + self.max_frame:
            raise ValueError("max_message must hold at least one max_frame frame")
        if not 0 < self.window <= MAX_CREDIT:
            raise ValueError(f"window must be in 1..{MAX_CREDIT}")
        if not self.window <= self.max_window <= MAX_CREDIT:
            raise ValueError(f"max_window must be in window..{MAX_CREDIT}")
        if self.window_budget < 0:
            raise ValueError("window_budget must be >= 0")


@dataclass(frozen=True, slots=True)
class Keepalive:
    interval: float = 1.0  # send a PING this often
    timeout: float = 4.0  # declare the peer dead after this long without any frame
    hello_timeout: float = 10.0


FAST_ROUND = 0.02  # seconds: a reader that drains a window this fast is window-limited


class _Channel:
    __slots__ = (
        "bytes_in",
        "bytes_out",
        "drops",
        "id",
        "kind",
        "local",
        "local_fin",
        "recv_credit",
        "remote_fin",
        "round_bytes",
        "round_start",
        "send_credit",
        "service",
        "unacked",
        "window",
    )

    def __init__(
        self, cid: int, kind: ChannelKind, service: str, local: bool, send: int, recv: int
    ):
        self.id = cid
        self.kind = kind
        self.service = service
        self.local = local  # opened by this side
        self.send_credit = send  # bytes the peer lets us send
        self.recv_credit = recv  # bytes we let the peer send
        self.unacked = 0  # bytes consumed but not yet returned as credit
        self.window = recv  # credit granted in all: grows for fast readers
        self.round_start = 0.0  # auto-tuning: when the current window's worth began
        self.round_bytes = 0  # ... and how much of it was consumed since
        self.local_fin = False
        self.remote_fin = False
        self.bytes_in = 0
        self.bytes_out = 0
        self.drops = 0


class SessionStats:
    __slots__ = ("bytes_in", "bytes_out", "datagrams_dropped", "frames_ignored", "messages_in")

    def __init__(self) -> None:
        self.bytes_in = 0
        self.bytes_out = 0
        self.messages_in = 0
        self.frames_ignored = 0  # frames for channels already gone (a normal race)
        self.datagrams_dropped = 0


class Session:
    """One side of a link.  Not thread-safe; drive it from one event loop."""

    def __init__(
        self,
        *,
        node: str,
        initiator: bool,
        limits: Limits | None = None,
        keepalive: Keepalive | None = None,
        capabilities: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = node
        self.initiator = initiator
        self.limits = limits or Limits()
        self.keepalive = keepalive or Keepalive()
        self.peer: Hello | None = None
        self.rtt: float | None = None
        self.stats = SessionStats()
        self._clock = clock
        self._channels: dict[int, _Channel] = {}
        self._next_id = 1 if initiator else 2  # initiator odd, acceptor even: no collisions
        self._out: list[tuple[bytes, bytes | memoryview]] = []
        self._out_bytes = 0
        self._started = self._last_recv = self._last_ping = clock()
        self._ping_seq = 0
        self._ping_sent: dict[int, float] = {}
        hello = Hello(
            node=node,
            capabilities=capabilities,
            window=self.limits.window,
            max_frame=self.limits.max_frame,
            max_message=self.limits.max_message,
            max_channels=self.limits.max_channels,
        )
        self._queue(FrameType.HELLO, 0, 0, m.encode_hello(hello))

    # ------------------------------------------------------------------ output
    @property
    def established(self) -> bool:
        return self.peer is not None

    @property
    def pending_bytes(self) -> int:
        """Bytes queued for data_to_send(); bounded by credit and the datagram backlog."""
        return self._out_bytes

    def _queue(self, ftype: int, flags: int, cid: int, payload: bytes | memoryview = b"") -> None:
        self._out.append((encode_header(ftype, flags, cid, len(payload)), payload))
        self._out_bytes += HEADER_SIZE + len(payload)

    def data_to_send(self) -> list[bytes]:
        """Queued frames packed into as few WebSocket messages as the peer accepts."""
        if not self._out:
            return []
        limit = self.peer.max_message if self.peer else self.limits.max_message
        messages: list[bytes] = []
        parts: list[bytes | memoryview] = []
        size = 0
        for header, payload in self._out:
            n = HEADER_SIZE + len(payload)
            if size and size + n > limit:
                messages.append(b"".join(parts))
                parts, size = [], 0
            parts.append(header)
            if payload:
                parts.append(payload)
            size += n
        messages.append(b"".join(parts))
        self.stats.bytes_out += self._out_bytes
        self._out.clear()
        self._out_bytes = 0
        return messages

    # ------------------------------------------------------------------- input
    def receive_message(self, message: bytes | bytearray | memoryview) -> list[Event]:
        """Process one binary WebSocket message.  Raises ProtocolError only."""
        if len(message) > self.limits.max_message:
            raise ProtocolError(
                f"message of {len(message)} bytes exceeds limit {self.limits.max_message}",
                CloseCode.MESSAGE_TOO_BIG,
            )
        frames = decode_message(message, max(self.limits.max_frame, self.limits.max_control))
        self._last_recv = self._clock()
        self.stats.messages_in += 1
        self.stats.bytes_in += len(message)
        events: list[Event] = []
        for frame in frames:
            if self.peer is None and frame.type != FrameType.HELLO:
                raise ProtocolError(f"expected HELLO first, got frame type {frame.type}")
            self._dispatch[frame.type](self, frame, events)
        return events

    def _on_hello(self, frame: Frame, events: list[Event]) -> None:
        if self.peer is not None:
            raise ProtocolError("second HELLO on an established link")
        self._check_control(frame)
        self.peer = m.decode_hello(frame.payload)
        events.append(HelloReceived(self.peer))

    def _check_control(self, frame: Frame) -> None:
        if len(frame.payload) > self.limits.max_control:
            raise ProtocolError(f"control frame of {len(frame.payload)} bytes exceeds limit")

    def _on_open(self, frame: Frame, events: list[Event]) -> None:
        cid = frame.channel
        if cid == 0 or (cid % 2 == 1) == self.initiator:
            raise ProtocolError(f"OPEN with channel id {cid} of the wrong parity")
        if cid in self._channels:
            raise ProtocolError(f"OPEN for channel {cid} already in use")
        self._check_control(frame)
        req = m.decode_open(frame.payload)
        if len(self._channels) >= self.limits.max_channels:
            self._queue(
                FrameType.RESET,
                0,
                cid,
                m.encode_reset(
                    ResetCode.TOO_MANY_CHANNELS, f"channel limit {self.limits.max_channels} reached"
                ),
            )
            return
        assert self.peer is not None
        send = self.peer.window if req.kind == ChannelKind.STREAM else 0
        self._channels[cid] = _Channel(cid, req.kind, req.service, False, send, self.limits.window)
        events.append(ChannelRequested(cid, req))

    def _on_accept(self, frame: Frame, events: list[Event]) -> None:
        ch = self._channels.get(frame.channel)
        if ch is None:
            self.stats.frames_ignored += 1
        elif ch.local:
            events.append(ChannelAccepted(ch.id))
        else:
            self._fail_channel(ch, "ACCEPT for a channel the peer opened", events)

    def _on_data(self, frame: Frame, events: list[Event]) -> None:
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
        if ch.kind == ChannelKind.DATAGRAM:
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
        fin = bool(frame.flags & Flag.FIN)
        ch.remote_fin = fin
        events.append(DataReceived(ch.id, frame.payload, fin))
        if fin and ch.local_fin:
            del self._channels[ch.id]
            events.append(ChannelClosed(ch.id))

    def _on_window(self, frame: Frame, events: list[Event]) -> None:
        increment = m.decode_u32(frame.payload, "WINDOW")
        ch = self._channels.get(frame.channel)
        if ch is None:
            self.stats.frames_ignored += 1
        elif ch.kind != ChannelKind.STREAM:
            self._fail_channel(ch, "WINDOW on a datagram channel", events)
        elif increment == 0:  # as HTTP/2: a zero increment is an error, not a no-op
            self._fail_channel(ch, "WINDOW increment 0", events, ResetCode.FLOW_CONTROL)
        elif ch.send_credit + increment > MAX_CREDIT:
            self._fail_channel(ch, "credit above 2**31-1", events, ResetCode.FLOW_CONTROL)
        else:
            ch.send_credit += increment
            events.append(CreditAvailable(ch.id, ch.send_credit))

    def _on_reset(self, frame: Frame, events: list[Event]) -> None:
        code, reason = m.decode_reset(frame.payload)
        if self._channels.pop(frame.channel, None) is None:
            self.stats.frames_ignored += 1
        else:
            events.append(ChannelReset(frame.channel, code, reason))

    def _on_ping(self, frame: Frame, events: list[Event]) -> None:
        m.decode_u64(frame.payload, "PING")
        self._queue(FrameType.PONG, 0, 0, bytes(frame.payload))

    def _on_pong(self, frame: Frame, events: list[Event]) -> None:
        sent = self._ping_sent.pop(m.decode_u64(frame.payload, "PONG"), None)
        if sent is not None:
            self.rtt = self._clock() - sent
            events.append(PongReceived(self.rtt))

    def _on_routes(self, frame: Frame, events: list[Event]) -> None:
        self._check_control(frame)
        events.append(RoutesReceived(m.decode_routes(frame.payload)))

    _dispatch: dict[int, Callable[[Session, Frame, list[Event]], None]] = {
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
        ch: _Channel,
        reason: str,
        events: list[Event],
        code: ResetCode = ResetCode.STREAM_ERROR,
    ) -> None:
        """A peer error confined to one channel: reset it, keep the link."""
        del self._channels[ch.id]
        self._queue(FrameType.RESET, 0, ch.id, m.encode_reset(code, reason))
        events.append(ChannelReset(ch.id, code, reason))

    # ------------------------------------------------------------------- timer
    def tick(self) -> list[Event]:
        """Call about once per keepalive interval: sends PINGs, detects a dead peer."""
        now = self._clock()
        if self.peer is None and now - self._started > self.keepalive.hello_timeout:
            return [LinkTimeout(CloseCode.HELLO_TIMEOUT, "no HELLO from peer")]
        silent = now - self._last_recv
        if self.peer is not None and silent > self.keepalive.timeout:
            return [LinkTimeout(CloseCode.KEEPALIVE_TIMEOUT, f"peer silent for {silent:.1f}s")]
        if self.peer is not None and now - self._last_ping >= self.keepalive.interval:
            self.ping()
        return []

    def ping(self) -> None:
        self._ping_seq += 1
        now = self._last_ping = self._clock()
        self._ping_sent = {k: v for k, v in self._ping_sent.items() if now - v < 60.0}
        self._ping_sent[self._ping_seq] = now
        self._queue(FrameType.PING, 0, 0, m.encode_u64(self._ping_seq))

    # ---------------------------------------------------------------- channels
    def _channel(self, cid: int, kind: ChannelKind | None = None) -> _Channel:
        ch = self._channels.get(cid)
        if ch is None:
            raise ChannelError(f"channel {cid} is not open")
        if kind is not None and ch.kind != kind:
            raise ChannelError(f"channel {cid} is a {ch.kind.name.lower()} channel")
        return ch

    def open_channel(
        self,
        kind: ChannelKind,
        service: str,
        *,
        dst: str = "",
        src: str = "",
        args: dict[str, Any] | None = None,
        ttl: int = m.DEFAULT_TTL,
    ) -> int:
        """Open a channel towards ``service``; stream data may follow at once (0-RTT).

        ``ttl``: hops left; a relay passes on what it received minus one.
        """
        if self.peer is None:
            raise ChannelError("link not established")
        if len(self._channels) >= min(self.limits.max_channels, self.peer.max_channels):
            raise ChannelError("too many channels on this link")
        cid = self._next_id
        if cid > MAX_CHANNEL_ID:
            raise ChannelError("channel ids exhausted on this link")
        self._next_id += 2
        req = OpenRequest(kind, service, src or self.node, dst, args or {}, ttl)
        self._queue(FrameType.OPEN, 0, cid, m.encode_open(req))
        send = self.peer.window if kind == ChannelKind.STREAM else 0
        self._channels[cid] = _Channel(cid, kind, service, True, send, self.limits.window)
        return cid

    def accept(self, cid: int) -> None:
        ch = self._channel(cid)
        if ch.local:
            raise ChannelError(f"channel {cid} was opened by this side")
        self._queue(FrameType.ACCEPT, 0, cid)

    def reset(self, cid: int, code: int = ResetCode.CLOSED, reason: str = "") -> None:
        """Abort one channel (also: refuse a requested one).  Unknown ids are ignored."""
        if self._channels.pop(cid, None) is not None:
            self._queue(FrameType.RESET, 0, cid, m.encode_reset(code, reason))

    def send_credit(self, cid: int) -> int:
        return self._channel(cid, ChannelKind.STREAM).send_credit

    def send_data(self, cid: int, data: bytes | memoryview) -> int:
        """Queue as much of ``data`` as credit allows; returns the byte count taken.

        Taking less than offered is back-pressure: wait for CreditAvailable.
        """
        ch = self._channel(cid, ChannelKind.STREAM)
        if ch.local_fin:
            raise ChannelError(f"channel {cid}: write after end of stream")
        n = min(len(data), ch.send_credit)
        if n <= 0:
            return 0
        step = self.peer.max_frame if self.peer else self.limits.max_frame
        view = memoryview(data)
        for off in range(0, n, step):
            self._queue(FrameType.DATA, 0, cid, view[off : min(off + step, n)])
        ch.send_credit -= n
        ch.bytes_out += n
        return n

    def send_eof(self, cid: int) -> bool:
        """Half-close: no more bytes from this side.  True if the channel is now finished."""
        ch = self._channel(cid, ChannelKind.STREAM)
        if ch.local_fin:
            return False
        ch.local_fin = True
        self._queue(FrameType.DATA, Flag.FIN, cid)
        if ch.remote_fin:
            del self._channels[cid]
            return True
        return False

    def send_datagram(self, cid: int, data: bytes | memoryview) -> bool:
        """Queue one datagram; False (and counted) when dropped for size or backlog."""
        ch = self._channel(cid, ChannelKind.DATAGRAM)
        limit = self.peer.max_frame if self.peer else 0
        if len(data) > limit or self._out_bytes + len(data) > self.limits.datagram_backlog:
            ch.drops += 1
            self.stats.datagrams_dropped += 1
            return False
        self._queue(FrameType.DATA, 0, cid, data)
        ch.bytes_out += len(data)
        return True

    def consumed(self, cid: int, n: int) -> None:
        """The application used ``n`` received bytes: return them as credit in batches."""
        ch = self._channels.get(cid)
        if ch is None or ch.kind != ChannelKind.STREAM or ch.remote_fin:
            return
        ch.unacked += n
        if ch.unacked >= max(1, ch.window // 4):
            increment = ch.unacked + self._grow(ch)
            self._queue(FrameType.WINDOW, 0, cid, m.encode_u32(increment))
            ch.recv_credit += increment
            ch.unacked = 0

    def _grow(self, ch: _Channel) -> int:
        """Extra credit that doubles ``ch``'s window when its reader keeps up (else 0).

        The credit loop (DATA out, WINDOW back) takes a while across processes; a window
        smaller than rate x that delay caps a fast stream.  Growing only for readers that
        drain a whole window within FAST_ROUND keeps slow readers at the initial window.
        """
        now = self._clock()
        if not ch.round_bytes:
            ch.round_start = now
        ch.round_bytes += ch.unacked
        if ch.round_bytes < ch.window:
            return 0
        fast = now - ch.round_start < FAST_ROUND
        ch.round_bytes, ch.round_start = 0, now
        if not fast:
            return 0
        extra = min(ch.window, self.limits.max_window - ch.window, self._budget_left())
        extra = max(0, extra)
        ch.window += extra
        return extra

    def _budget_left(self) -> int:
        # Summed on demand: growth happens a few times per channel, and a channel that
        # ends gives its share back without any bookkeeping.
        base = self.limits.window
        grown = sum(c.window - base for c in self._channels.values() if c.window > base)
        return self.limits.window_budget - grown

    def send_routes(self, routes: dict[str, int]) -> None:
        self._queue(FrameType.ROUTES, 0, 0, m.encode_routes(routes))

    # ------------------------------------------------------------- inspection
    def channel_ids(self) -> list[int]:
        return list(self._channels)

    def channel_info(self, cid: int) -> dict[str, Any]:
        ch = self._channel(cid)
        return {
            "id": ch.id,
            "kind": ch.kind.name.lower(),
            "service": ch.service,
            "local": ch.local,
            "send_credit": ch.send_credit,
            "recv_credit": ch.recv_credit,
            "bytes_in": ch.bytes_in,
            "bytes_out": ch.bytes_out,
            "drops": ch.drops,
            "local_fin": ch.local_fin,
            "remote_fin": ch.remote_fin,
        }
