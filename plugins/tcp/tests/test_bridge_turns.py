"""The bridge when its channel is handed a turn inside its own send.

A link writes at once when its writer is idle, and after writing it hands turns to the
writers that wait for send-buffer room, calling their ``on_credit`` in the same call.
The bridge's own send can thus come back into its ``_flush`` before ``send_nowait``
returned; the bytes it is offering must not be sent a second time (seen as 16 KiB
duplicated in a 1 GiB transfer beside a burst of RST clients).
"""

from __future__ import annotations

import asyncio

from wsnet.channel import StreamChannel
from wsnet.protocol import ChannelKind, DataReceived, Limits, OpenRequest, Session
from wsnet_tcp.bridge import Bridge

MIB = 1 << 20


class InlineLink:
    """The link side of a channel, writing as a link whose writer is idle does: the first
    wake of a loop turn writes everything and hands out turns in the same call."""

    def __init__(self) -> None:
        small = Limits(send_buffer=MIB)  # a send smaller than a window fills it
        self.session = Session(node="a", initiator=True, limits=small)
        self.far = Session(node="b", initiator=False)
        self.far.receive_message(b"".join(self.session.data_to_send()))
        self.session.receive_message(b"".join(self.far.data_to_send()))
        self.peer = "b"
        self.channels: dict[int, StreamChannel] = {}
        self.burst = False
        self.received = bytearray()

    def wake_writer(self) -> None:
        if self.burst:
            return  # written at the end of the turn, as _end_burst does
        self.burst = True
        self.write_all()

    def wake_writer_soon(self) -> None:
        self.burst = True  # written at the end of the turn

    def write_all(self) -> None:
        while (message := self.session.next_message()) is not None:
            for ev in self.far.receive_message(message):
                if isinstance(ev, DataReceived):
                    self.received += ev.data
        for cid in self.session.writable():
            self.channels[cid]._on_credit()

    def end_turn(self) -> None:
        self.burst = False
        self.write_all()

    def forget(self, cid: int, reason: str) -> None:
        self.channels.pop(cid, None)


async def test_bytes_offered_while_the_channel_gets_a_turn_are_sent_once() -> None:
    link = InlineLink()
    cid = link.session.open_channel(ChannelKind.STREAM, "tcp")
    req = OpenRequest(ChannelKind.STREAM, "tcp", "a", "", {}, 8)
    ch = link.channels[cid] = StreamChannel(link, cid, req, local=True)
    bridge = Bridge()
    bridge.attach(ch)  # no transport: reading is neither paused nor resumed
    data = bytes(range(256)) * (3 * MIB // 256)  # more than the send buffer at once
    bridge.data_received(data)
    for _ in range(100):  # later loop turns: credit comes back, the rest goes out
        link.end_turn()
        for reply in link.far.data_to_send():
            for ev in link.session.receive_message(reply):
                if getattr(ev, "channel", None) == cid:
                    ch._on_credit()
        far_ch = link.far.channel_info(cid)
        link.far.consumed(cid, far_ch["buffered"])
        if len(link.received) >= len(data):
            break
    assert len(link.received) == len(data)
    assert link.received == data


class CountingBridge(Bridge):
    """A bridge that counts the times its task (run()) is woken."""

    __slots__ = ("wakes",)

    def __init__(self) -> None:
        super().__init__()
        self.wakes = 0

    def _poke(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self.wakes += 1
        super()._poke()


async def test_data_reaches_the_socket_without_waking_the_bridge_task() -> None:
    """Each arriving message is written to the socket in the channel's callback; the
    bridge's task is woken for the end only (it was woken per message: a task step per
    message on every node, a fifth of the per-message cost)."""
    got = bytearray()
    done = asyncio.Event()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.extend(await reader.read())
        done.set()
        writer.close()

    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = InlineLink()
    cid = link.session.open_channel(ChannelKind.STREAM, "tcp")
    req = OpenRequest(ChannelKind.STREAM, "tcp", "a", "", {}, 8)
    ch = link.channels[cid] = StreamChannel(link, cid, req, local=True)
    link.end_turn()  # the OPEN reaches the far session
    assert link.far.accept(cid)
    for message in link.far.data_to_send():
        link.session.receive_message(message)
    bridge = CountingBridge()
    loop = asyncio.get_running_loop()
    await loop.create_connection(lambda: bridge, "127.0.0.1", port)
    bridge.attach(ch)
    task = asyncio.create_task(bridge.run())
    await asyncio.sleep(0.05)  # run() waits for the end
    for i in range(100):
        link.far.send_data(cid, b"message %03d;" % i)
        for ev in link.session.receive_message(link.far.next_message() or b""):
            assert isinstance(ev, DataReceived)
            ch._feed(ev.data, ev.fin)
        await asyncio.sleep(0)
    assert bridge.wakes == 0
    link.far.send_eof(cid)
    for ev in link.session.receive_message(link.far.next_message() or b""):
        ch._feed(ev.data, ev.fin)
    bridge.eof_received()  # the TCP side's end too: run() may finish
    async with asyncio.timeout(10):
        await done.wait()
        assert await task == ""
    assert bytes(got) == b"".join(b"message %03d;" % i for i in range(100))
    assert 1 <= bridge.wakes <= 3
    server.close()


class QueueingLink(InlineLink):
    """A link whose socket is busy: what is queued waits until the test writes it."""

    def wake_writer(self) -> None:
        pass


class RecordingTransport:
    """Records what the bridge asks of its socket's reading side."""

    def __init__(self) -> None:
        self.reading = True
        self.resumes = 0

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True
        self.resumes += 1

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default


def test_a_used_up_turn_pauses_reading_without_a_refused_read() -> None:
    """When the channel can take no more (its turn is used up while others wait), the
    bridge stops reading at once and holds nothing: reading once more, being refused and
    holding the bytes cost a read and a send per turn (a quarter of all reads with a
    thousand streams).  Credit alone does not resume it while it waits for its turn;
    the turn does."""
    link = QueueingLink()
    req = OpenRequest(ChannelKind.STREAM, "tcp", "a", "", {}, 8)
    cids = [link.session.open_channel(ChannelKind.STREAM, "tcp") for _ in range(2)]
    ours, other = (StreamChannel(link, cid, req, local=True) for cid in cids)
    link.channels = {ours.id: ours, other.id: other}
    link.write_all()  # the OPENs
    big = memoryview(bytes(4 * MIB))
    assert 0 < other.send_nowait(big) < len(big)  # it waits for room: the link is contended
    assert ours.send_nowait(b"x") == 0  # so ours waits in the queue too
    bridge = Bridge()
    transport = RecordingTransport()
    bridge.connection_made(transport)  # type: ignore[arg-type]
    bridge.attach(ours)
    while ours.send_capacity == 0:  # the link sends; ours is woken with a turn
        assert link.session.next_message() is not None
        for cid in link.session.writable():
            link.channels[cid]._on_credit()
    turn = ours.send_capacity
    transport.resumes = 0
    assert len(bridge.get_buffer(-1)) == turn  # reads are sized to what the channel takes
    bridge.data_received(bytes(turn // 2))  # the socket had half of it: read on
    assert transport.reading and bridge._held is None
    assert len(bridge.get_buffer(-1)) == turn - turn // 2
    bridge.data_received(bytes(turn - turn // 2))  # the rest of the turn
    assert not transport.reading and bridge._held is None
    ours._on_credit()  # a WINDOW from the peer: credit, but still no turn
    assert not transport.reading and transport.resumes == 0
    for _ in range(100):  # the link sends on; the next turn comes round
        assert link.session.next_message() is not None
        for cid in link.session.writable():
            link.channels[cid]._on_credit()
        if transport.reading:
            break
    assert transport.reading and transport.resumes == 1
