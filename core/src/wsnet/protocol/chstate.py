"""Per-channel protocol state: credit both ways, FIN both ways, and queued output.

The states a channel id goes through, and what each received frame does in each, are
the table of docs/protocol.md section 7.1; Session implements it, this is its record.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from .messages import ChannelKind


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
        self.win_pending = 0  # WINDOW increment to send with the next message
        self.dead = False  # reset or forgotten: discard its output

    @property
    def stream(self) -> bool:
        return self.kind == ChannelKind.STREAM


class SessionStats:
    """Counters of one session, for `wsnet ctl links` (bytes_out is the output's)."""

    __slots__ = ("bytes_in", "datagrams_dropped", "frames_ignored", "messages_in", "output")

    def __init__(self, output: HasBytesOut) -> None:
        self.output = output
        self.bytes_in = 0
        self.messages_in = 0
        self.frames_ignored = 0  # frames for channels already gone (a normal race)
        self.datagrams_dropped = 0

    @property
    def bytes_out(self) -> int:
        return self.output.bytes_out
