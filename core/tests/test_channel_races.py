"""StreamChannel when the session ended a channel before the link dispatched that news.

One WebSocket message may carry WINDOW and then RESET for the same channel: the session
parses the whole message (and forgets the channel) before the link delivers the events in
order, so a writer woken by the credit finds the session without the channel.
"""

from __future__ import annotations

import pytest

from wsnet.channel import StreamChannel
from wsnet.errors import ChannelRefused
from wsnet.protocol import ChannelKind, Limits, OpenRequest, ResetCode, Session


class Owner:
    """The link side of a channel: a real client Session whose peer never answers."""

    def __init__(self) -> None:
        self.session = Session(node="a", initiator=True)
        far = Session(node="b", initiator=False)
        far.receive_message(b"".join(self.session.data_to_send()))
        self.session.receive_message(b"".join(far.data_to_send()))
        self.peer = "b"
        self.forgotten: list[int] = []

    def wake_writer(self) -> None:
        pass

    def forget(self, cid: int, reason: str) -> None:
        self.forgotten.append(cid)


def channel(owner: Owner) -> StreamChannel:
    req = OpenRequest(ChannelKind.STREAM, "tcp", "a", "", {}, 8)
    cid = owner.session.open_channel(ChannelKind.STREAM, "tcp")
    return StreamChannel(owner, cid, req, local=True)


async def test_send_after_the_session_dropped_the_channel_is_a_refusal() -> None:
    owner = Owner()
    ch = channel(owner)
    owner.session.reset(ch.id, ResetCode.CLOSED, "gone")  # the session forgets it first
    with pytest.raises(ChannelRefused, match="closed by the peer"):
        ch.send_nowait(b"x")
    with pytest.raises(ChannelRefused):
        await ch.write(b"x")
    ch.write_eof()  # no exception: the FIN is moot


async def test_a_failing_on_credit_callback_resets_only_its_channel() -> None:
    owner = Owner()
    ch = channel(owner)

    def broken() -> None:
        raise RuntimeError("bug in a plugin")

    ch.on_credit = broken
    ch._on_credit()  # what the link calls on CreditAvailable; must not raise
    assert ch.closed and owner.forgotten == [ch.id]
    with pytest.raises(ChannelRefused, match="on_credit failed: bug in a plugin"):
        await ch.read()


class CountingOwner(Owner):
    """An owner whose send buffer (512 KiB) is smaller than a window (1 MiB)."""

    def __init__(self) -> None:
        super().__init__()
        small = Limits(max_frame=1 << 16, send_buffer=1 << 19)
        self.session = Session(node="a", initiator=True, limits=small)
        far = Session(node="b", initiator=False)
        far.receive_message(b"".join(self.session.data_to_send()))
        self.session.receive_message(b"".join(far.data_to_send()))
        self.wakes = 0

    def wake_writer(self) -> None:
        self.wakes += 1


async def test_a_writer_that_must_wait_for_its_turn_wakes_the_link_writer() -> None:
    """The send buffer has room but another writer waits for its turn: a writer refused
    for that reason must wake the link's writer, which hands turns out; else the turn waits
    for the next keepalive tick (seen as 2 s stalls of an echo beside a stalled stream)."""
    owner = CountingOwner()
    first, second = channel(owner), channel(owner)
    session = owner.session
    for m in session.data_to_send():
        assert m  # the OPENs; the peer never answers, credit is the initial window
    share = session.send_capacity(first.id)
    assert first.send_nowait(bytes(share + 1)) == share  # more than its share: it waits
    assert session.has_waiting
    for m in session.data_to_send():
        assert m  # sent: the send buffer is empty, the first writer still waits its turn
    owner.wakes = 0
    assert second.send_nowait(b"x") == 0  # not its turn: refused ...
    assert owner.wakes == 1  # ... and the link's writer is told, to hand the turns out
    # What the writer then does: the oldest waiter first (the buffer has room for both).
    assert session.writable()[0] == first.id
