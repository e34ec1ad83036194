"""A turn that is never used is handed on within about GRANT_TTL, without other traffic.

A writer woken for a turn holds its room until its first send.  If its source went
quiet, nothing is written, and nothing else on the link would hand that room to the
writers still waiting: the link arms a timer for it (linkwriter.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from wsnet.linkwriter import LinkWriter
from wsnet.protocol import ChannelKind, ChannelRequested, Session
from wsnet.protocol.output import GRANT_TTL
from wsnet.protocol.session import Limits

MIB = 1 << 20


class Writer:
    """A channel's writer that is woken and never sends (its source went quiet)."""

    def __init__(self, handed_on: asyncio.Event) -> None:
        self.woken = 0
        self.handed_on = handed_on  # set when a writer is woken after the first batch
        self.late = False

    def _on_credit(self) -> None:
        self.woken += 1
        if self.late:
            self.handed_on.set()


class BareLink(LinkWriter):
    """Only the writer half of a link, with no other task that could hand turns out."""

    def __init__(self, session: Session) -> None:
        self.id = 1
        self.session = session
        self.channels: dict[int, Any] = {}
        self._closing = False

    def _guarded(self, call: Any, cid: int, *args: Any) -> None:
        call(*args)


def busy_session(writers: int) -> Session:
    a = Session(node="a", initiator=True, limits=Limits(window=16 * MIB, max_window=16 * MIB))
    b = Session(node="b", initiator=False, limits=Limits(window=16 * MIB, max_window=16 * MIB))
    a.receive_message(b"".join(b.data_to_send()))
    b.receive_message(b"".join(a.data_to_send()))
    cids = [a.open_channel(ChannelKind.STREAM, "sink") for _ in range(writers)]
    for message in a.data_to_send():
        for ev in b.receive_message(message):
            assert isinstance(ev, ChannelRequested)
            b.accept(ev.channel)
    for message in b.data_to_send():
        a.receive_message(message)
    big = memoryview(bytes(8 * MIB))
    for cid in cids:
        a.send_data(cid, big)  # each takes what it may and waits for room
    return a


async def test_unused_turns_are_handed_on_without_other_traffic() -> None:
    session = busy_session(300)
    link = BareLink(session)
    handed_on = asyncio.Event()
    writers = {cid: Writer(handed_on) for cid in session._channels}
    link.channels = dict(writers)
    while session.next_message() is not None:  # the link sends all that was queued
        pass
    link._wake_writable()  # turns for the first writers: they never send
    first = {cid for cid, w in writers.items() if w.woken}
    assert first and len(first) < len(writers)
    for cid, w in writers.items():
        w.late = cid not in first
    # GRANT_TTL later the timer hands the unused room on; nothing else would.
    await asyncio.wait_for(handed_on.wait(), 100 * GRANT_TTL)
    link._stop_turn_timer()
    assert link._turn_timer is None
