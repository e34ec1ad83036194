"""Per-channel protocol state: credit both ways, FIN both ways, and queued output.

The states a channel id goes through, and what each received frame does in each, are
the table of docs/protocol.md section 7.1; Session implements it, this is its record.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from typing import Protocol

from .errors import ResetCode
from .messages import ChannelKind

# Upper bounds (seconds) of the keepalive RTT histogram's buckets (+Inf after the last).
RTT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Why a datagram was dropped: too big for the peer's frames, the link's datagram backlog
# full, the channel or link closing, the receiving channel's queue full.
DROP_CAUSES = ("too_big", "backlog", "closing", "receive_queue")
TOO_BIG, BACKLOG, CLOSING, RECEIVE_QUEUE = range(4)


class HasBytesOut(Protocol):
    bytes_out: int


class ChannelState:
    __slots__ = (
        "accepted",
        "active_at",
        "allowance",
        "buffered",
        "bytes_in",
        "bytes_out",
        "dead",
        "drops",
        "fin_queued",
        "holds",
        "id",
        "in_ring",
        "kind",
        "local",
        "local_fin",
        "out",
        "queued",
        "recv_credit",
        "remote_fin",
        "reset_after",
        "round_bytes",
        "round_start",
        "send_credit",
        "service",
        "source",
        "stream",
        "unacked",
        "waiting",
        "win_pending",
        "window",
    )

    def __init__(
        self,
        cid: int,
        kind: ChannelKind,
        service: str,
        local: bool,
        send: int,
        recv: int,
        source: str = "",
    ) -> None:
        self.id = cid
        self.kind = kind
        # A plain attribute: read per frame and per send (an enum comparison in a
        # property cost 1.5 % of a node's samples with a thousand streams).
        self.stream = kind == ChannelKind.STREAM
        self.service = service
        self.source = source  # who holds it, for the per-source channel limit
        self.local = local  # opened by this side
        self.accepted = False  # ACCEPT received (local) or sent (remote)
        self.send_credit = send  # bytes the peer lets us send (queued bytes already taken)
        self.recv_credit = recv  # bytes we let the peer send
        self.unacked = 0  # bytes consumed but not yet returned as credit
        self.window = recv  # credit granted in all: grows for fast readers
        self.round_start = 0.0  # auto-tuning: when the current window's worth began
        self.round_bytes = 0  # ... and how much of it was consumed since
        self.active_at = float("-inf")  # when it last returned credit (auto-tuning's count)
        self.buffered = 0  # received, not yet consumed by the application
        self.local_fin = False  # this side ended its direction (FIN queued or sent)
        self.remote_fin = False
        self.bytes_in = 0
        self.bytes_out = 0
        self.drops = 0
        # Output waiting for the link writer: payload pieces (a datagram each, for
        # datagram channels), their total, and a FIN to send once they are out.
        # Made when the first data is queued, dropped when it is all sent: an empty deque
        # is 760 bytes, and most of 10,000 tunnelled connections are idle.
        self.out: deque[bytes | memoryview] | None = None
        self.queued = 0
        self.fin_queued = False
        self.reset_after = b""  # a RESET payload to send once the queued output is out
        self.in_ring = False  # in the scheduler's round-robin ring
        self.waiting = False  # in the queue of writers waiting for send-buffer room
        # Woken from that queue: bytes it may queue while others still wait (its turn).
        self.allowance = 0
        self.holds = 0  # bytes of the send buffer reserved for it until its turn's first send
        self.win_pending = 0  # WINDOW increment to send with the next message
        self.dead = False  # reset or forgotten: discard its output


class SessionStats:
    """Counters of one session, for `wsnet ctl links` and the metrics (bytes_out is the
    output's).  Each is counted off the per-byte path: per message, per PONG or PING, or
    once on a rare transition (a refusal, a drop, a window reaching zero)."""

    __slots__ = ("bytes_in", "credit_stalls", "datagram_drops", "frames_ignored",
                 "keepalive_misses", "messages_in", "opens_refused", "output", "rtt_buckets",
                 "rtt_sum")  # fmt: skip

    def __init__(self, output: HasBytesOut) -> None:
        self.output = output
        self.bytes_in = 0
        self.messages_in = 0
        self.frames_ignored = 0  # frames for channels already gone (a normal race)
        self.datagram_drops = [0] * len(DROP_CAUSES)  # by DROP_CAUSES index
        self.opens_refused = [0] * len(ResetCode)  # the peer's OPENs refused here, by code
        self.keepalive_misses = 0  # PINGs still unanswered when the next one went out
        self.credit_stalls = 0  # a stream's send credit reaching zero
        self.rtt_buckets = [0] * (len(RTT_BUCKETS) + 1)  # PONGs by RTT, not cumulative
        self.rtt_sum = 0.0

    @property
    def datagrams_dropped(self) -> int:
        return sum(self.datagram_drops)

    def observe_rtt(self, rtt: float) -> None:
        self.rtt_buckets[bisect_left(RTT_BUCKETS, rtt)] += 1
        self.rtt_sum += rtt

    @property
    def bytes_out(self) -> int:
        return self.output.bytes_out
