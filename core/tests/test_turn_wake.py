"""capacity_or_notify() keeps its promise on a link where nothing else is written.

When it returns 0 because the link's send buffer is contended, the channel is queued
for a turn and ``on_credit`` is promised.  Turns are handed out by the link's writer
(writable()); a queue entry made outside a send (a WINDOW's ``on_credit``, a bridge
asking again) must wake that writer, as a refused ``send_nowait`` does, or the turn
waits for the next keepalive tick (half a second), or for ever without one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from wsnet.channel import StreamChannel
from wsnet.linkwriter import LinkWriter
from wsnet.protocol import ChannelKind, ChannelRequested, CreditAvailable, OpenRequest, Session
from wsnet.protocol.output import GRANT_TTL
from wsnet.protocol.session import Limits

KIB = 1024
WINDOW = 64 * KIB  # the peer's credit per channel
# A send buffer of two windows: two channels' sends fill it, a third must wait.
LIMITS = Limits(send_buffer=2 * WINDOW, max_frame=WINDOW, max_message=WINDOW + 4 * KIB)


class Wire:
    """The link's WebSocket: what the writer sends is kept for the test to deliver."""

    close_code = None

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        self.sent.append(data)

    async def receive(self, timeout: float | None = None) -> Any:
        raise AssertionError("the test moves messages by hand")

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        return True


class WriterLink(LinkWriter):
    """A link's writer half and its real writer task; no keepalive timer (the safety net
    that would hide a missed wake behind a half-second stall)."""

    def __init__(self, session: Session) -> None:
        self.id = 1
        self.ws = Wire()
        self.session = session
        self.peer = "b"
        self.channels: dict[int, Any] = {}
        self._closing = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()

    def _guarded(self, call: Any, cid: int, *args: Any) -> None:
        call(*args)

    def forget(self, cid: int, reason: str) -> None:
        self.channels.pop(cid, None)


def linked() -> tuple[WriterLink, Session, list[StreamChannel]]:
    """A link to a peer session, and three stream channels on it."""
    a = Session(node="a", initiator=True, limits=LIMITS)
    b = Session(node="b", initiator=False, limits=Limits(window=WINDOW, max_window=WINDOW))
    a.receive_message(b"".join(b.data_to_send()))
    b.receive_message(b"".join(a.data_to_send()))
    link = WriterLink(a)
    req = OpenRequest(ChannelKind.STREAM, "sink", "a", "", {}, 8)
    chans = [StreamChannel(link, a.open_channel(ChannelKind.STREAM, "sink"), req, True)
             for _ in range(3)]  # fmt: skip
    link.channels = {ch.id: ch for ch in chans}
    for message in a.data_to_send():
        for ev in b.receive_message(message):
            assert isinstance(ev, ChannelRequested)
            b.accept(ev.channel)
    for message in b.data_to_send():
        a.receive_message(message)
    return link, b, chans


async def settle(link: WriterLink) -> None:
    """Let the writer task send what is queued."""
    for _ in range(20):
        await asyncio.sleep(0)
    assert not link.session.has_output


async def test_queued_by_capacity_or_notify_the_turn_comes_without_other_traffic() -> None:
    link, far, (ours, other, third) = linked()
    writer = asyncio.create_task(link._writer())
    try:
        # Ours sends a whole window and waits for credit (the link is not contended).
        assert ours.send_nowait(bytes(WINDOW)) == WINDOW
        assert ours.capacity_or_notify() == 0 and not link.session.has_waiting
        assert other.send_nowait(bytes(WINDOW)) == WINDOW  # the send buffer is full
        # The third is refused for room, woken for a turn, sends a byte of it and goes
        # quiet (a trickle): its turn is under way, and nothing more is written.
        turned = asyncio.Event()
        third.on_credit = turned.set
        assert third.send_nowait(b"x") == 0 and link.session.has_waiting
        await asyncio.wait_for(turned.wait(), 5)
        assert third.send_nowait(b"x") == 1
        await settle(link)
        assert not link.session.has_waiting
        # The peer's WINDOW for ours arrives: it asks again, and is queued for a turn.
        for message in link.ws.sent:
            far.receive_message(message)
        far.consumed(ours.id, WINDOW)
        woken = asyncio.Event()

        def on_credit() -> None:
            if ours.capacity_or_notify():
                woken.set()

        ours.on_credit = on_credit
        for reply in far.data_to_send():
            for ev in link.session.receive_message(reply):
                if isinstance(ev, CreditAvailable) and ev.channel == ours.id:
                    ours._on_credit()  # as the link dispatches a WINDOW
        assert not woken.is_set() and link.session.has_waiting
        # Nothing else is written on this link: the turn must come all the same.
        await asyncio.wait_for(woken.wait(), 40 * GRANT_TTL)
    finally:
        link._stop_turn_timer()
        writer.cancel()


class InlineOwner:
    """A link whose writer is idle: a wake writes at once and hands turns out in the
    same call (as ``wake_writer`` does); ``wake_writer_soon`` waits for the end of the
    loop turn (``end_turn``)."""

    def __init__(self) -> None:
        self.session = Session(node="a", initiator=True, limits=LIMITS)
        self.far = Session(node="b", initiator=False)
        self.far.receive_message(b"".join(self.session.data_to_send()))
        self.session.receive_message(b"".join(self.far.data_to_send()))
        self.peer = "b"
        self.channels: dict[int, StreamChannel] = {}
        self.soon = False

    def wake_writer(self) -> None:
        self.end_turn()

    def wake_writer_soon(self) -> None:
        self.soon = True

    def end_turn(self) -> None:
        self.soon = False
        while self.session.next_message() is not None:
            pass
        for cid in self.session.writable():
            self.channels[cid]._on_credit()

    def forget(self, cid: int, reason: str) -> None:
        self.channels.pop(cid, None)


def test_capacity_or_notify_never_calls_on_credit_before_it_returns() -> None:
    """Its caller notes that it waits after the call returns 0 (the bridge sets
    ``_starved``): an ``on_credit`` run inside the call, by a wake that wrote at once
    and handed the turn out, would come before that and be lost."""
    owner = InlineOwner()
    req = OpenRequest(ChannelKind.STREAM, "sink", "a", "", {}, 8)
    ours, other = (StreamChannel(owner, owner.session.open_channel(ChannelKind.STREAM, "sink"),
                                 req, True) for _ in range(2))  # fmt: skip
    owner.channels = {ours.id: ours, other.id: other}
    owner.session.data_to_send()  # the OPENs
    assert owner.session.send_data(other.id, bytes(8 * WINDOW)) < 8 * WINDOW  # it waits
    calls: list[bool] = []
    inside = False
    ours.on_credit = lambda: calls.append(inside)
    inside = True
    assert ours.capacity_or_notify() == 0  # queued behind the other
    inside = False
    assert calls == []
    owner.end_turn()  # the link's writer, at the end of the loop turn
    for _ in range(20):
        if calls:
            break
        owner.end_turn()
    assert calls == [False]
