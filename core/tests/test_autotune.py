"""Window auto-tuning in the session: fast readers get bigger windows, slow ones never."""

from __future__ import annotations

from wsnet.protocol import ChannelKind, Session
from wsnet.protocol.credit import RECOUNT
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


def window_of(b: Session, cid: int) -> int:
    return int(b.channel_info(cid)["window"])


def test_growth_on_one_link_stays_within_window_budget() -> None:
    """A budget of two base windows: one busy channel may grow to both; two busy ones
    get one each (the one that grew gives it back); alone again, the other grows."""
    clock = Clock()
    a, b, first = pair(Limits(window=MIB, max_window=8 * MIB, window_budget=2 * MIB), clock)
    second = a.open_channel(ChannelKind.STREAM, "svc")
    for m in a.data_to_send():
        b.receive_message(m)

    def later(cid: int, seconds: float = 0.0) -> int:
        clock.now += 2 * RECOUNT  # the count of active channels is refreshed this often
        return pump_round(a, b, cid, clock, seconds)

    assert later(first) == 2 * MIB  # takes the whole budget
    assert later(second) == MIB  # both busy now: one base window each, no growth
    later(first, 10 * FAST_ROUND)
    assert window_of(b, first) == MIB  # gave its growth back
    b.reset(first)  # a channel that ends leaves the budget to the others
    later(second)
    assert window_of(b, second) == 2 * MIB


def test_a_channel_above_its_fair_share_gives_the_excess_back() -> None:
    """One channel took the whole budget while alone; once another is busy too, each
    gets half of it, the first by returning less credit than it consumed."""
    clock = Clock()
    limits = Limits(window=MIB, max_window=8 * MIB, window_budget=4 * MIB)
    a, b, first = pair(limits, clock)
    second = a.open_channel(ChannelKind.STREAM, "svc")
    for m in a.data_to_send():
        b.receive_message(m)

    def later(cid: int, seconds: float) -> None:
        clock.now += 2 * RECOUNT
        pump_round(a, b, cid, clock, seconds)

    for _ in range(5):
        later(first, 0.0)
    assert window_of(b, first) == 4 * MIB  # the whole budget: the only busy channel
    for _ in range(3):
        later(second, 0.0)
    assert window_of(b, second) == 2 * MIB  # half the budget, now that both are busy
    for _ in range(4):
        later(first, 10 * FAST_ROUND)  # consumed slowly: no growth, only the give-back
    assert window_of(b, first) == 2 * MIB
