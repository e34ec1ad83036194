"""StreamChannel when the session ended a channel before the link dispatched that news.

One WebSocket message may carry WINDOW and then RESET for the same channel: the session
parses the whole message (and forgets the channel) before the link delivers the events in
order, so a writer woken by the credit finds the session without the channel.
"""

from __future__ import annotations

import pytest

from wsnet.channel import StreamChannel
from wsnet.errors import ChannelRefused
from wsnet.protocol import ChannelKind, OpenRequest, ResetCode, Session


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
