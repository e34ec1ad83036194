"""Stateful test of how a session shares its send buffer: writers, turns and holds.

Two sans-I/O sessions and six stream channels; Hypothesis interleaves sends of any size,
capacity_or_notify(), deliveries of some messages, credit returned or not, writable(),
the clock (around GRANT_TTL), resets from either side and FINs.  Invariants: the room
reserved is exactly the holds of the turns under way, no writer waits twice, the send
buffer is never overfilled, every byte arrives once and in order, a writer that
capacity_or_notify() answered 0 while it had credit is queued for a turn, and once
messages flow and the clock runs every waiting writer is named by writable().
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from wsnet.protocol import (
    ChannelClosed,
    ChannelKind,
    ChannelRequested,
    ChannelReset,
    CreditAvailable,
    DataReceived,
    Limits,
    Session,
)
from wsnet.protocol.output import GRANT_TTL

N = 6
KIB = 1024
SEND_BUFFER = 256 * KIB  # four smallest turns: writers wait, turns overlap
LIMITS_A = Limits(send_buffer=SEND_BUFFER, max_frame=16 * KIB, max_message=20 * KIB)
# The peer's window (the sender's credit) below a share: credit and room both limit.
LIMITS_B = Limits(window=96 * KIB, max_window=96 * KIB, max_frame=16 * KIB,
                  max_message=20 * KIB)  # fmt: skip
SIZES = [1, 100, 5000, 16 * KIB, 64 * KIB, 65 * KIB, 200 * KIB, 1 << 20]


def pattern(cid: int, offset: int, n: int) -> bytes:
    """Bytes that say which stream and offset they belong to."""
    return bytes((cid * 7 + i) & 0xFF for i in range(offset, offset + n))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Turns(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.a = Session(node="a", initiator=True, limits=LIMITS_A, clock=self.clock)
        self.b = Session(node="b", initiator=False, limits=LIMITS_B, clock=self.clock)
        self.b.receive_message(b"".join(self.a.data_to_send()))
        self.a.receive_message(b"".join(self.b.data_to_send()))
        self.cids = [self.a.open_channel(ChannelKind.STREAM, "s") for _ in range(N)]
        self.states = {cid: self.a._channels[cid] for cid in self.cids}
        for message in self.a.data_to_send():
            for ev in self.b.receive_message(message):
                assert isinstance(ev, ChannelRequested)
                self.b.accept(ev.channel)
        for message in self.b.data_to_send():
            self.a.receive_message(message)
        self.sent = dict.fromkeys(self.cids, 0)
        self.got = dict.fromkeys(self.cids, 0)
        self.unread = dict.fromkeys(self.cids, 0)

    def open_for_sending(self, cid: int) -> bool:
        ch = self.a._channels.get(cid)
        return ch is not None and not ch.local_fin

    def receive(self, message: bytes, consume: bool) -> None:
        for ev in self.b.receive_message(message):
            if isinstance(ev, DataReceived):
                cid = ev.channel
                assert bytes(ev.data) == pattern(cid, self.got[cid], len(ev.data))
                self.got[cid] += len(ev.data)
                self.unread[cid] += len(ev.data)
                if consume:
                    self.b.consumed(cid, self.unread[cid])
                    self.unread[cid] = 0

    # ------------------------------------------------------------------ rules
    @rule(i=st.integers(0, N - 1), size=st.sampled_from(SIZES))
    def send(self, i: int, size: int) -> None:
        cid = self.cids[i]
        if self.open_for_sending(cid):
            n = self.a.send_data(cid, pattern(cid, self.sent[cid], size))
            assert 0 <= n <= size
            self.sent[cid] += n

    @rule(i=st.integers(0, N - 1))
    def notify(self, i: int) -> None:
        cid = self.cids[i]
        capacity = self.a.send_capacity(cid)
        assert self.a.capacity_or_notify(cid) == capacity
        ch = self.states[cid]
        if not capacity and self.open_for_sending(cid) and ch.send_credit > 0:
            assert ch.waiting, "capacity 0 with credit, yet not queued for a turn"

    @rule(k=st.integers(1, 4), consume=st.booleans())
    def deliver(self, k: int, consume: bool) -> None:
        for _ in range(k):
            message = self.a.next_message()
            if message is None:
                return
            self.receive(message, consume)

    @rule(i=st.integers(0, N - 1))
    def consume(self, i: int) -> None:
        cid = self.cids[i]
        self.b.consumed(cid, self.unread[cid])
        self.unread[cid] = 0

    @rule()
    def credit_back(self) -> None:
        for message in self.b.data_to_send():
            for ev in self.a.receive_message(message):
                assert isinstance(ev, CreditAvailable | ChannelReset | ChannelClosed)

    @rule()
    def writable(self) -> None:
        for cid in self.a.writable():
            assert cid in self.cids

    @rule(dt=st.sampled_from([0.0005, 0.01, GRANT_TTL / 2, GRANT_TTL, 0.2]))
    def tick(self, dt: float) -> None:
        self.clock.now += dt

    @rule(i=st.integers(0, N - 1), flush=st.booleans())
    def reset_here(self, i: int, flush: bool) -> None:
        self.a.reset(self.cids[i], flush=flush)

    @rule(i=st.integers(0, N - 1))
    def reset_there(self, i: int) -> None:
        self.b.reset(self.cids[i])

    @rule(i=st.integers(0, N - 1))
    def eof(self, i: int) -> None:
        if self.open_for_sending(self.cids[i]):
            self.a.send_eof(self.cids[i])

    @rule()
    def drain(self) -> None:
        """Messages flow, credit comes back, the clock runs: every writer waiting now is
        named by writable() (unless the peer's RESET ends it meanwhile)."""
        out = self.a._out
        waiting = {ch.id for ch in out._waiting if not ch.dead and ch.id in self.a._channels}
        named: set[int] = set()
        for _ in range(200):
            self.clock.now += GRANT_TTL
            while (message := self.a.next_message()) is not None:
                self.receive(message, consume=True)
            self.credit_back()
            named.update(self.a.writable())
            if not out._waiting:
                break
        assert not out._waiting
        assert {cid for cid in waiting if not self.states[cid].dead} <= named

    # ------------------------------------------------------------- invariants
    @invariant()
    def books(self) -> None:
        out = self.a._out
        granted = {ch.id: ch for _, ch in out._granted.values()}
        assert out.reserved == sum(ch.holds for ch in granted.values()) >= 0
        for cid, ch in self.states.items():
            assert ch.allowance >= 0
            assert cid in granted or ch.holds == 0
        queue = [ch.id for ch in out._waiting]
        assert len(queue) == len(set(queue)), "a writer waits twice"
        for cid, ch in self.states.items():
            assert ch.waiting == (cid in queue)
        assert 0 <= out.data_bytes <= SEND_BUFFER


TestTurns = Turns.TestCase
TestTurns.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
