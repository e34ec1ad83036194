"""The link protocol state machine: messages in, events and messages out, no I/O.

One Session is one side of one link.  The I/O layer feeds it every binary
WebSocket message (receive_message), calls tick() about once a second, sends
what next_message() returns, wakes the writers that writable() names, and turns
local wishes into calls such as open_channel(), send_data() and consumed().

Errors are kept where they belong, as HTTP/2 separates stream and connection errors:
a frame that breaks the rules of one channel resets that channel (ChannelReset with
the code, RESET to the peer), and only what docs/protocol.md names as a connection
error raises ProtocolError.  Calls for a channel the session already forgot (the peer
reset it a moment ago) are no-ops or raise ChannelError, never anything else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from . import messages as m
from .chstate import BACKLOG, CLOSING, TOO_BIG, ChannelState, SessionStats
from .credit import FAST_ROUND, Windows
from .errors import ChannelError, CloseCode, ResetCode
from .events import Event, LinkTimeout
from .frames import HEADER_SIZE, MAX_CHANNEL_ID, FrameType
from .inbound import Inbound
from .limits import MAX_CREDIT, Keepalive, Limits
from .messages import ChannelKind, Hello, OpenRequest
from .output import Output, detached

__all__ = ["FAST_ROUND", "MAX_CREDIT", "Keepalive", "Limits", "Session"]


class Session(Inbound):
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
        self._out = Output()
        self.stats = SessionStats(self._out)
        self._channels: dict[int, ChannelState] = {}
        self._windows = Windows(self.limits, self._channels)
        self._clock = clock
        self._sources: dict[str, int] = {}  # open channels per source
        self._buffered = 0  # received stream bytes the applications have not consumed
        self._frozen = False  # closing: nothing more is taken for sending (freeze())
        self._next_id = 1 if initiator else 2  # initiator odd, acceptor even: no collisions
        self._last_remote_id = 0  # the peer's ids only grow: a reused id is an error
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
        self._out.control(FrameType.HELLO, 0, m.encode_hello(hello))

    # ------------------------------------------------------------------ output
    @property
    def established(self) -> bool:
        return self.peer is not None

    @property
    def pending_bytes(self) -> int:
        """Bytes queued for sending; bounded by send_buffer, credit and the backlogs."""
        return self._out.pending_bytes

    @property
    def has_output(self) -> bool:
        return self._out.pending

    @property
    def buffered(self) -> int:
        """Received stream bytes not yet consumed, all channels together (<= link_buffer)."""
        return self._buffered

    def next_message(self) -> bytes | None:
        """The next WebSocket message to send (control first, then data in turns), or None."""
        taken = self.next_parts()
        return None if taken is None else b"".join(taken[0])

    def next_parts(self) -> tuple[list[bytes | memoryview], int] | None:
        """next_message() as pieces and their total size, for a vectored write (no join)."""
        if not self._out.pending:
            return None
        limit = self.peer.max_message if self.peer else self.limits.max_message
        max_frame = self.peer.max_frame if self.peer else self.limits.max_frame
        return self._out.next_parts(limit, max_frame)

    @property
    def has_urgent_output(self) -> bool:
        """Output worth sending at once; the rest (credit returns, PONG) can wait to ride
        with the next data, in the same message."""
        return self._out.urgent

    def data_to_send(self) -> list[bytes]:
        """Everything queued, packed into as few messages as the peer accepts."""
        messages: list[bytes] = []
        while (message := self.next_message()) is not None:
            messages.append(message)
        return messages

    @property
    def has_waiting(self) -> bool:
        """Writers wait for send-buffer room (the link should call writable() soon)."""
        return self._out.has_waiting

    @property
    def turns_reserved(self) -> bool:
        """Writers woken for a turn have not sent yet: their room is held until they do,
        or until GRANT_TTL passes and writable() hands it on."""
        return self._out.reserved > 0

    def writable(self) -> list[int]:
        """Channels whose writers waited for send-buffer room and should try again now."""
        out, room = self._out, self.limits.send_buffer - self._out.data_bytes
        return out.take_waiting(room, out.share(room + out.data_bytes), self._clock())

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
        if self._ping_seq in self._ping_sent:  # the last PING is still unanswered
            self.stats.keepalive_misses += 1
        self._ping_seq += 1
        now = self._last_ping = self._clock()
        self._ping_sent = {k: v for k, v in self._ping_sent.items() if now - v < 60.0}
        self._ping_sent[self._ping_seq] = now
        self._out.ping(m.encode_u64(self._ping_seq))

    # ---------------------------------------------------------------- channels
    def _add(self, ch: ChannelState) -> None:
        self._channels[ch.id] = ch
        self._sources[ch.source] = self._sources.get(ch.source, 0) + 1

    def _forget(self, ch: ChannelState, discard: bool = False) -> None:
        """Drop the channel's state; ``discard`` also drops its queued output (a reset)."""
        if self._channels.pop(ch.id, None) is None:
            return
        left = self._sources[ch.source] - 1
        if left:
            self._sources[ch.source] = left
        else:
            del self._sources[ch.source]
        self._buffered -= ch.buffered
        ch.buffered = 0
        self._windows.forget(ch)
        if discard:
            self._out.discard(ch)

    def _over_limit(self, source: str, peer_limit: int | None = None) -> str:
        """Why one more channel (of ``source``, if one) may not open now, or ""."""
        limit = min(self.limits.max_channels, peer_limit or self.limits.max_channels)
        if len(self._channels) >= limit:
            return f"channel limit {limit} reached"
        per_source = self.limits.max_channels_per_source or max(1, limit // 2)
        if source and self._sources.get(source, 0) >= per_source:
            return f"{source!r} holds {per_source} channels on this link (its limit)"
        return ""

    def _control_room(self) -> int:
        """The largest control payload the peer takes: max_control, in one message."""
        message = self.peer.max_message if self.peer else self.limits.max_message
        return min(self.limits.max_control, message - HEADER_SIZE - 1)

    def _queue_reset(self, cid: int, code: int, reason: str) -> None:
        payload = m.encode_reset(code, reason)[: self._control_room()]
        self._out.control(FrameType.RESET, cid, payload)

    def _channel(self, cid: int, kind: ChannelKind | None = None) -> ChannelState:
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
        source: str = "",
        principal: str = "",
    ) -> int:
        """Open a channel towards ``service``; stream data may follow at once (0-RTT).

        ``ttl``: hops left; a relay passes on what it received minus one.  ``source``:
        who holds the channel, for ``max_channels_per_source`` (default: the service).
        ``principal``: the originating principal a relay vouches for (section 7).
        Raises ChannelError when a limit is reached or the link is not established.
        """
        if self.peer is None:
            raise ChannelError("link not established")
        if self._frozen:
            raise ChannelError("link closing")
        refusal = self._over_limit(source or service, self.peer.max_channels)
        if refusal:
            raise ChannelError(refusal)
        cid = self._next_id
        if cid > MAX_CHANNEL_ID:
            raise ChannelError("channel ids exhausted on this link")
        req = OpenRequest(kind, service, src or self.node, dst, args or {}, ttl, principal)
        payload = m.encode_open(req)
        if len(payload) > self._control_room():
            raise ChannelError(f"OPEN of {len(payload)} bytes is more than the peer takes "
                               f"({self._control_room()}): args too large")  # fmt: skip
        self._next_id += 2
        self._out.control(FrameType.OPEN, cid, payload)
        send = self.peer.window if kind == ChannelKind.STREAM else 0
        self._add(ChannelState(cid, kind, service, True, send, self.limits.window,
                               source or service))  # fmt: skip
        return cid

    def accept(self, cid: int) -> bool:
        """Answer the peer's OPEN with ACCEPT.  False if the peer already reset it."""
        ch = self._channels.get(cid)
        if ch is None:
            return False
        if ch.local:
            raise ChannelError(f"channel {cid} was opened by this side")
        if not ch.accepted:
            ch.accepted = True
            self._out.control(FrameType.ACCEPT, cid)
        return True

    def reset(
        self, cid: int, code: int = ResetCode.CLOSED, reason: str = "", *, flush: bool = False
    ) -> None:
        """Abort one channel (also: refuse a requested one).  Unknown ids are ignored.

        With ``flush`` the data and FIN already queued go out first and the RESET after
        them (a close that keeps what was written); otherwise they are discarded.
        """
        ch = self._channels.get(cid)
        if ch is None:
            return
        if flush and (ch.queued or ch.fin_queued):
            self._forget(ch)
            self._out.reset_after(ch, m.encode_reset(code, reason)[: self._control_room()])
        else:
            self._forget(ch, discard=True)
            self._queue_reset(cid, code, reason)

    def send_credit(self, cid: int) -> int:
        return self._channel(cid, ChannelKind.STREAM).send_credit

    def send_capacity(self, cid: int) -> int:
        """Bytes send_data() would take now on ``cid`` (0 for a channel not open)."""
        ch = self._channels.get(cid)
        if ch is None or not ch.stream or ch.local_fin:
            return 0
        return max(0, min(ch.send_credit, self._room(ch)))

    def capacity_or_notify(self, cid: int) -> int:
        """send_capacity(), for a writer that stops when it is 0 (bytes).

        When send-buffer room is what is missing (its turn is used up while others
        wait, or the buffer is full), ``cid`` is queued for a turn as a refused
        send_data() would queue it, and writable() names it when the turn comes; when
        credit is missing, CreditAvailable comes with the peer's WINDOW.  So a writer
        need not offer bytes only to be refused (docs/protocol.md section 10.1)."""
        ch = self._channels.get(cid)
        if ch is None or not ch.stream or ch.local_fin:
            return 0
        room = self._room(ch)
        if room <= 0 < ch.send_credit and not self._frozen:
            self._out.wait_for_room(ch, front=ch.allowance > 0)
        return max(0, min(ch.send_credit, room))

    def send_data(self, cid: int, data: bytes | memoryview) -> int:
        """Queue as much of ``data`` as credit and the send buffer allow; returns the count.

        Taking less than offered is back-pressure: try again on CreditAvailable or when
        writable() names the channel.  ``data`` is sent from as is (no copy): do not
        change it afterwards.  Raises ChannelError for a channel that is not open.
        """
        ch = self._channel(cid, ChannelKind.STREAM)
        if ch.local_fin:
            raise ChannelError(f"channel {cid}: write after end of stream")
        room = self._room(ch)
        size = len(data)
        n = size if size <= room and size <= ch.send_credit else min(size, ch.send_credit, room)
        if ch.allowance and n > 0:
            self._out.use_turn(ch, n)
        if n < size and n == room and not self._frozen:  # woken, but no room: keeps its place
            self._out.wait_for_room(ch, front=ch.allowance > 0)
        if n <= 0:
            return 0
        self._out.data(ch, data if n == size else memoryview(data)[:n])
        ch.send_credit -= n
        if not ch.send_credit:  # the window used up: once per stall, never per byte
            self.stats.credit_stalls += 1
        ch.bytes_out += n
        return n

    def freeze(self) -> None:
        """The link is closing: take no more data or datagrams (writers wait as for
        credit) and open no more channels, so what is queued can be sent to its end."""
        self._frozen = True

    def _room(self, ch: ChannelState) -> int:
        """Send-buffer room for ``ch``: what is left of its turn, if it was woken for one
        (the ring sends it in turns anyway); else its share, but none while turns are
        waited for or under way (a writer that was not woken would cut in line)."""
        out = self._out
        if self._frozen:
            return 0
        free = self.limits.send_buffer - out.data_bytes
        if ch.allowance:
            return min(free, ch.allowance)
        if out.contended:
            return 0
        return min(free, out.share(self.limits.send_buffer) - ch.queued)

    def send_eof(self, cid: int) -> bool:
        """Half-close: no more bytes from this side.  True if the channel is now finished."""
        ch = self._channel(cid, ChannelKind.STREAM)
        if ch.local_fin:
            return False
        ch.local_fin = True
        self._out.fin(ch)
        if ch.remote_fin:
            self._forget(ch)
            return True
        return False

    def send_datagram(self, cid: int, data: bytes | memoryview) -> bool:
        """Queue one datagram; False (and counted) when dropped for size or backlog."""
        ch = self._channel(cid, ChannelKind.DATAGRAM)
        limit = self.peer.max_frame if self.peer and not self._frozen else 0
        if len(data) > limit or self.pending_bytes + len(data) > self.limits.datagram_backlog:
            ch.drops += 1
            cause = CLOSING if not limit else TOO_BIG if len(data) > limit else BACKLOG
            self.stats.datagram_drops[cause] += 1
            return False
        # Queued, a small view would keep its whole message alive (a relay forwarding
        # 1-byte datagrams to a peer that does not read pinned 1 MiB each).
        self._out.data(ch, detached(data))
        ch.bytes_out += len(data)
        return True

    def consumed(self, cid: int, n: int) -> bool:
        """The application used ``n`` received bytes: return them as credit in batches.

        True when a WINDOW was queued (the link's writer has something to send).
        """
        ch = self._channels.get(cid)
        if ch is None or not ch.stream:
            return False
        n = min(n, ch.buffered)
        ch.buffered -= n
        self._buffered -= n
        if ch.remote_fin:
            return False  # no more data will come: no credit to return
        ch.unacked += n
        if ch.unacked < ch.window >> 2:  # the common case, without a call
            return False
        increment = self._windows.increment(ch, self._clock())
        if not increment:
            return False
        self._out.window(ch, increment)
        ch.recv_credit += increment
        return True

    def send_routes(self, routes: dict[str, int]) -> int:
        """Advertise ``routes`` (replacing the last advert); returns how many names were
        left out because the advert would not fit one control frame (the farthest go)."""
        payload = m.encode_routes(routes)
        room = self._control_room()
        left_out = 0
        if len(payload) > room:
            nearest = sorted(routes.items(), key=lambda item: (item[1], item[0]))
            lo, hi = 0, len(nearest)  # the most names that fit: binary search on the count
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if len(m.encode_routes(dict(nearest[:mid]))) <= room:
                    lo = mid
                else:
                    hi = mid - 1
            payload = m.encode_routes(dict(nearest[:lo]))
            left_out = len(routes) - lo
        self._out.routes(payload)
        return left_out

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
            "window": ch.window,
            "queued": ch.queued,
            "buffered": ch.buffered,
            "bytes_in": ch.bytes_in,
            "bytes_out": ch.bytes_out,
            "drops": ch.drops,
            "local_fin": ch.local_fin,
            "remote_fin": ch.remote_fin,
        }
