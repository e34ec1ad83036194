"""Session.wait_for_capacity: a writer that stops reading once its turn is used up is told
when it can send again, by the signal that fits what it lacks."""

from __future__ import annotations

from wsnet.protocol import ChannelKind, CreditAvailable, Limits, Session

KIB = 1024


def _pair(send_buffer: int) -> tuple[Session, Session, int]:
    near = Session(node="a", initiator=True, limits=Limits(send_buffer=send_buffer,
                                                           max_frame=64 * KIB))  # fmt: skip
    far = Session(node="b", initiator=False)
    far.receive_message(b"".join(near.data_to_send()))
    near.receive_message(b"".join(far.data_to_send()))
    cid = near.open_channel(ChannelKind.STREAM, "tcp")
    return near, far, cid


def test_out_of_room_joins_the_line_and_writable_names_it() -> None:
    near, _far, cid = _pair(256 * KIB)
    assert near.wait_for_capacity(cid)  # room and credit: go on
    room = near.send_capacity(cid)
    assert near.send_data(cid, b"x" * room) == room
    assert not near.wait_for_capacity(cid)
    assert near.has_waiting  # in line for a turn
    while near.next_parts() is not None:  # the link sends what was queued
        pass
    assert cid in near.writable()
    assert near.wait_for_capacity(cid)


def test_out_of_credit_waits_for_the_peers_window_not_in_line() -> None:
    near, far, cid = _pair(4 << 20)
    credit = near.send_credit(cid)
    sent = 0
    while sent < credit:
        sent += near.send_data(cid, b"y" * min(64 * KIB, credit - sent))
        while (message := near.next_message()) is not None:
            far.receive_message(message)
    assert not near.wait_for_capacity(cid)
    assert not near.has_waiting  # credit, not room: no turn would help
    far.accept(cid)
    far.consumed(cid, credit)
    events = [ev for m in far.data_to_send() for ev in near.receive_message(m)]
    assert any(isinstance(ev, CreditAvailable) and ev.channel == cid for ev in events)
    assert near.wait_for_capacity(cid)


def test_a_channel_that_is_not_open_says_go_on() -> None:
    near, _far, cid = _pair(256 * KIB)
    assert near.wait_for_capacity(cid + 100)  # unknown: its next send raises
    near.send_eof(cid)
    assert near.wait_for_capacity(cid)
