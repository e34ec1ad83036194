"""Window auto-tuning in the session: fast readers get bigger windows, slow ones never."""

from __future__ import annotations

from wsnet.protocol import ChannelKind, Session
from wsnet.protocol.session import FAST_ROUND, Limits

MIB = 1 << 20


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pair(limits: Limits, clock: Clock) -> tuple[Session, Session, int]:
    """Sender ``a`` and receiver ``b`` with one stream channel a -> b."""
    a = Session(node="a", initiator=True, clock=clock)
    b = Session(node="b", initiator=False, limits=limits, clock=clock)
    for m in a.data_to_send():
        b.receive_message(m)
    for m in b.data_to_send():
        a.receive_message(m)
    cid = a.open_channel(ChannelKind.STREAM, "svc")
    for m in a.data_to_send():
        b.receive_message(m)
    return a, b, cid


def pump_round(a: Session, b: Session, cid: int, clock: Clock, seconds: float) -> int:
    """a sends all its credit; b consumes it in 4 steps over ``seconds``; returns a's credit."""
    data = b"x" * a.send_credit(cid)
    sent = 0
    for _ in range(100):  # the send buffer takes a part at a time
        sent += a.send_data(cid, data[sent:])
        for m in a.data_to_send():
            b.receive_message(m)
        a.writable()  # as a link does after sending: the waiting writer gets its turn
        if sent == len(data):
            break
    assert sent == len(data)
    for part in range(4):
        clock.now += seconds / 4
        b.consumed(cid, len(data) // 4 + (len(data) % 4 if part == 3 else 0))
    for m in b.data_to_send():
        a.receive_message(m)
    return a.send_credit(cid)


def test_a_fast_reader_doubles_its_window_up_to_max_window() -> None:
    clock = Clock()
    a, b, cid = pair(Limits(window=MIB, max_window=8 * MIB), clock)
    credits = [pump_round(a, b, cid, clock, FAST_ROUND / 10) for _ in range(6)]
    # The first round measures; each fast round after that doubles, capped at 8 MiB.
    assert credits[0] == 2 * MIB
    assert credits[1:4] == [4 * MIB, 8 * MIB, 8 * MIB]
    assert max(credits) == 8 * MIB


def test_a_slow_reader_keeps_the_initial_window() -> None:
    clock = Clock()
    a, b, cid = pair(Limits(window=MIB, max_window=8 * MIB), clock)
    credits = [pump_round(a, b, cid, clock, 10 * FAST_ROUND) for _ in range(5)]
    assert credits == [MIB] * 5


def test_max_window_equal_to_window_turns_tuning_off() -> None:
    clock = Clock()
    a, b, cid = pair(Limits(window=MIB, max_window=MIB), clock)
    credits = [pump_round(a, b, cid, clock, 0.0) for _ in range(4)]
    assert credits == [MIB] * 4


def test_growth_on_one_link_stays_within_window_budget() -> None:
    """Two fast channels, a budget for one doubling: the second does not grow."""
    clock = Clock()
    a, b, first = pair(Limits(window=MIB, max_window=8 * MIB, window_budget=MIB), clock)
    second = a.open_channel(ChannelKind.STREAM, "svc")
    for m in a.data_to_send():
        b.receive_message(m)
    assert pump_round(a, b, first, clock, 0.0) == 2 * MIB  # takes the whole budget
    assert pump_round(a, b, second, clock, 0.0) == MIB
    # The second proved fast too: the first now shrinks to its half of the budget.
    assert pump_round(a, b, first, clock, 0.0) == MIB + MIB // 2
    b.reset(first)  # a channel that ends gives its share back
    assert pump_round(a, b, second, clock, 0.0) == 2 * MIB


def test_a_channel_above_its_fair_share_gives_the_excess_back() -> None:
    """One channel took the whole budget; once another grows too, the first shrinks to
    its share (budget / channels that grew) by returning less than it consumed."""
    clock = Clock()
    limits = Limits(window=MIB, max_window=8 * MIB, window_budget=4 * MIB)
    a, b, first = pair(limits, clock)
    second = a.open_channel(ChannelKind.STREAM, "svc")
    for m in a.data_to_send():
        b.receive_message(m)
    for _ in range(5):
        pump_round(a, b, first, clock, 0.0)
    assert b.channel_info(first)["window"] == 5 * MIB  # 1 MiB base + the 4 MiB budget
    credits = [pump_round(a, b, second, clock, 0.0) for _ in range(3)]
    assert credits == [MIB] * 3  # no budget left for it yet
    for _ in range(4):
        pump_round(a, b, first, clock, 10 * FAST_ROUND)  # consumed slowly: no growth
    assert b.channel_info(first)["window"] == 3 * MIB  # base + half the budget
    credits = [pump_round(a, b, second, clock, 0.0) for _ in range(4)]
    assert max(credits) == 3 * MIB  # now the second grows to its share too
