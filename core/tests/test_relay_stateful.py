"""Stateful tests of the protocol with a real relay in the middle: a - r - c.

``a`` and ``c`` are bare sessions driven by the test; ``r`` is a real Node with two real
Links whose sessions are fed by hand (no sockets, no tasks): the relay code under test
is exactly what runs in a node.  Hypothesis interleaves opens, writes, FINs, resets,
reads, datagrams and deliveries of any number of messages, so frames reach the relay
in every batching and order a link can produce.  Invariants: nothing raises, every
byte arrives once and in order (or its channel is reset), and the relay's buffers
stay within their bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from wsnet.config import Config
from wsnet.link import Link
from wsnet.node import Node
from wsnet.plugins import Plugins, new_manager
from wsnet.protocol import (
    ChannelClosed,
    ChannelKind,
    ChannelRequested,
    ChannelReset,
    DatagramReceived,
    DataReceived,
    Event,
    Limits,
    Session,
)
from wsnet.relay import RelayEnd

LIMITS = Limits(
    window=2048,
    max_window=8192,
    window_budget=8192,
    max_frame=1024,
    max_message=3000,
    send_buffer=4096,
    link_buffer=64 * 1024,
    datagram_backlog=1 << 20,  # no drops: every datagram must arrive
)
# ``a`` grants less credit than the relay does: the relay must hold bytes from ``c``
# while ``a`` is slow, so FIN and reset reach it while it holds some.
LIMITS_A = Limits(
    window=1024,
    max_window=1024,
    max_frame=1024,
    max_message=3000,
    send_buffer=4096,
    datagram_backlog=1 << 20,
)
MAX_TAGS = 4


def pattern(tag: int, start: int, n: int) -> bytes:
    """Bytes that say which stream and offset they belong to."""
    return bytes((tag * 31 + i) % 251 for i in range(start, start + n))


class DummyWs:
    close_code = None

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        raise AssertionError("the test moves messages by hand")

    async def receive(self, timeout: float | None = None) -> Any:
        raise AssertionError("the test moves messages by hand")

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        return True


@dataclass(repr=False)
class Flow:
    """One channel a -> c (through r), seen from both ends."""

    tag: int
    kind: ChannelKind
    a_id: int
    c_id: int | None = None
    sent: dict[str, bytearray] = field(default_factory=lambda: {"a": bytearray(), "c": bytearray()})
    got: dict[str, bytearray] = field(default_factory=lambda: {"a": bytearray(), "c": bytearray()})
    fin_sent: dict[str, bool] = field(default_factory=lambda: {"a": False, "c": False})
    fin_got: dict[str, bool] = field(default_factory=lambda: {"a": False, "c": False})
    dgrams_sent: list[bytes] = field(default_factory=list)
    dgrams_got: list[bytes] = field(default_factory=list)
    reset: bool = False
    unread: dict[str, int] = field(default_factory=lambda: {"a": 0, "c": 0})

    def cid(self, side: str) -> int | None:
        return self.a_id if side == "a" else self.c_id

    def __repr__(self) -> str:
        sizes = {k: len(v) for k, v in self.sent.items()}, {k: len(v) for k, v in self.got.items()}
        return (
            f"Flow({self.tag}, {self.kind.name}, sent={sizes[0]}, got={sizes[1]}, "
            f"fin_sent={self.fin_sent}, fin_got={self.fin_got}, reset={self.reset})"
        )


class RelayMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.r = Node(Config(name="r", limits=LIMITS), Plugins(new_manager(), []))
        self.a = Session(node="a", initiator=True, limits=LIMITS_A)
        self.c = Session(node="c", initiator=False, limits=LIMITS)
        self.ra = Link(self.r, DummyWs(), link_id=1, initiator=False, remote="a",
                       principal=_principal())  # fmt: skip
        self.rc = Link(self.r, DummyWs(), link_id=2, initiator=True, remote="c",
                       principal=_principal())  # fmt: skip
        self.flows: dict[int, Flow] = {}  # by tag
        self.queues: dict[str, list[bytes]] = {"a>r": [], "r>a": [], "r>c": [], "c>r": []}
        self._handshake()

    # ------------------------------------------------------------- plumbing
    def _handshake(self) -> None:
        for link, peer in ((self.ra, self.a), (self.rc, self.c)):
            for msg in peer.data_to_send():
                link.session.receive_message(msg)
            for msg in link.session.data_to_send():
                peer.receive_message(msg)
            assert link.session.peer is not None
            link.peer = link.session.peer.node
            self.r._link_up(link)

    def _collect(self) -> None:
        """What every side would send now goes into its outbound queue."""
        for name, sess in (("a>r", self.a), ("c>r", self.c)):
            self.queues[name] += sess.data_to_send()
        for name, link in (("r>a", self.ra), ("r>c", self.rc)):
            while (msg := link.session.next_message()) is not None:
                self.queues[name].append(msg)
                link._wake_writable()

    def _deliver(self, direction: str, count: int) -> None:
        queue = self.queues[direction]
        todo, self.queues[direction] = queue[:count], queue[count:]
        for msg in todo:
            if direction == "a>r":
                self.ra._dispatch(self.ra.session.receive_message(msg))
            elif direction == "c>r":
                self.rc._dispatch(self.rc.session.receive_message(msg))
            elif direction == "r>a":
                self._app("a", self.a.receive_message(msg))
            else:
                self._app("c", self.c.receive_message(msg))

    def _flow(self, side: str, cid: int) -> Flow | None:
        for f in self.flows.values():
            if f.cid(side) == cid:
                return f
        return None

    def _app(self, side: str, events: list[Event]) -> None:
        for ev in events:
            if isinstance(ev, ChannelRequested):
                assert side == "c" and ev.request.src == "a"
                flow = self.flows[ev.request.args["tag"]]
                flow.c_id = ev.channel
                continue
            flow = self._flow(side, getattr(ev, "channel", -1))
            if flow is None:
                continue
            if isinstance(ev, DataReceived):
                flow.got[side] += ev.data
                flow.unread[side] += len(ev.data)
                flow.fin_got[side] = flow.fin_got[side] or ev.fin
            elif isinstance(ev, DatagramReceived):
                flow.dgrams_got.append(bytes(ev.data))
            elif isinstance(ev, ChannelReset):
                flow.reset = True
            elif isinstance(ev, ChannelClosed):
                pass

    def _session(self, side: str) -> Session:
        return self.a if side == "a" else self.c

    # ---------------------------------------------------------------- rules
    @precondition(lambda self: len(self.flows) < MAX_TAGS)
    @rule(kind=st.sampled_from([ChannelKind.STREAM, ChannelKind.STREAM, ChannelKind.DATAGRAM]),
          early=st.integers(0, 3000))  # fmt: skip
    def open(self, kind: ChannelKind, early: int) -> None:
        tag = len(self.flows)
        cid = self.a.open_channel(kind, "svc", dst="c", args={"tag": tag})
        flow = self.flows[tag] = Flow(tag, kind, cid)
        if kind == ChannelKind.STREAM and early:
            self._write(flow, "a", early)  # 0-RTT: right behind the OPEN
        elif kind == ChannelKind.DATAGRAM:
            self._datagram(flow, early % 1000 + 1)
        self._collect()

    def _write(self, flow: Flow, side: str, n: int) -> None:
        if flow.reset or flow.fin_sent[side] or (cid := flow.cid(side)) is None:
            return
        sess = self._session(side)
        if cid not in sess.channel_ids():
            return
        data = pattern(flow.tag + (100 if side == "c" else 0), len(flow.sent[side]), n)
        taken = sess.send_data(cid, data)
        flow.sent[side] += data[:taken]

    def _datagram(self, flow: Flow, n: int) -> None:
        if flow.reset or flow.a_id not in self.a.channel_ids():
            return
        data = pattern(flow.tag, len(flow.dgrams_sent), n)
        if self.a.send_datagram(flow.a_id, data):
            flow.dgrams_sent.append(data)

    @precondition(lambda self: self.flows)
    @rule(data=st.data(), side=st.sampled_from(["a", "c"]), n=st.integers(1, 5000))
    def write(self, data: st.DataObject, side: str, n: int) -> None:
        flow = data.draw(st.sampled_from(sorted(self.flows.values(), key=lambda f: f.tag)))
        if flow.kind == ChannelKind.STREAM:
            self._write(flow, side, n)
        elif side == "a":
            self._datagram(flow, n % 1024 + 1)
        self._collect()

    @precondition(lambda self: self.flows)
    @rule(data=st.data(), side=st.sampled_from(["a", "c"]))
    def fin(self, data: st.DataObject, side: str) -> None:
        flow = data.draw(st.sampled_from(sorted(self.flows.values(), key=lambda f: f.tag)))
        cid = flow.cid(side)
        sess = self._session(side)
        if flow.kind != ChannelKind.STREAM or flow.fin_sent[side] or cid is None:
            return
        if flow.reset or cid not in sess.channel_ids():
            return
        sess.send_eof(cid)
        flow.fin_sent[side] = True
        self._collect()

    @precondition(lambda self: self.flows)
    @rule(data=st.data(), side=st.sampled_from(["a", "c"]))
    def reset(self, data: st.DataObject, side: str) -> None:
        flow = data.draw(st.sampled_from(sorted(self.flows.values(), key=lambda f: f.tag)))
        cid = flow.cid(side)
        if cid is not None and cid in self._session(side).channel_ids():
            self._session(side).reset(cid, 0, "test reset")
            flow.reset = True
        self._collect()

    @rule(side=st.sampled_from(["a", "c"]), fraction=st.floats(0, 1))
    def read(self, side: str, fraction: float) -> None:
        sess = self._session(side)
        for flow in self.flows.values():
            cid = flow.cid(side)
            n = int(flow.unread[side] * fraction)
            if cid is not None and n:
                sess.consumed(cid, n)
                flow.unread[side] -= n
        self._collect()

    @rule(direction=st.sampled_from(["a>r", "r>a", "r>c", "c>r"]), count=st.integers(1, 4))
    def deliver(self, direction: str, count: int) -> None:
        self._deliver(direction, count)
        self._collect()

    @rule()
    def deliver_everything(self) -> None:
        """Every queue delivered until quiet (nothing read): reaches deep states fast."""
        for _ in range(50):
            if not any(self.queues.values()):
                return
            for direction in self.queues:
                self._deliver(direction, len(self.queues[direction]))
            self._collect()

    @rule()
    def accept_all(self) -> None:
        for flow in self.flows.values():
            if flow.c_id is not None and not flow.reset:
                self.c.accept(flow.c_id)
        self._collect()

    # ----------------------------------------------------------- invariants
    @invariant()
    def bytes_arrive_in_order_or_not_at_all(self) -> None:
        for flow in self.flows.values():
            for src, dst in (("a", "c"), ("c", "a")):
                got, sent = flow.got[dst], flow.sent[src]
                assert sent[: len(got)] == got, f"flow {flow.tag} {src}->{dst}: corrupted"
            assert flow.dgrams_got == flow.dgrams_sent[: len(flow.dgrams_got)]

    @invariant()
    def relay_buffers_stay_bounded(self) -> None:
        for link in (self.ra, self.rc):
            assert link.session.buffered <= LIMITS.link_buffer
            assert link.session._out.data_bytes <= LIMITS.send_buffer + LIMITS.max_frame
            for ep in link.channels.values():
                assert isinstance(ep, RelayEnd)
                held = sum(len(c) for c in ep._held)
                assert held <= LIMITS.max_window, f"relay end holds {held}"

    def teardown(self) -> None:
        """Let everything settle: all accepted and read, every queue delivered."""
        for _ in range(200):
            self.accept_all()
            for side in ("a", "c"):
                self.read(side, 1.0)
            moved = False
            for direction in self.queues:
                if self.queues[direction]:
                    moved = True
                    self._deliver(direction, len(self.queues[direction]))
            self._collect()
            if not moved and not any(self.queues.values()):
                break
        else:
            raise AssertionError("the links kept talking")
        for flow in self.flows.values():
            if flow.reset:
                continue
            for src, dst in (("a", "c"), ("c", "a")):
                assert flow.got[dst] == flow.sent[src], f"flow {flow.tag} {src}->{dst} lost bytes"
                assert flow.fin_got[dst] == flow.fin_sent[src], f"flow {flow.tag}: FIN lost"
            assert flow.dgrams_got == flow.dgrams_sent, f"flow {flow.tag}: datagrams lost"
        # Nothing is left behind in the relay for flows that ended.
        ended = [f for f in self.flows.values() if f.reset or all(f.fin_sent.values())]
        if len(ended) == len(self.flows) and all(f.kind == ChannelKind.STREAM for f in ended):
            assert not self.ra.channels and not self.rc.channels, "relay leaked channels"


def _principal() -> Any:
    from wsnet.interfaces import ANONYMOUS

    return ANONYMOUS


TestRelay = RelayMachine.TestCase
TestRelay.settings = settings(
    max_examples=400,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_relay_forwards_what_it_holds_after_its_end_closed() -> None:
    """c's last bytes and FIN reach the relay while a is slow and a's FIN is through:
    the relay's end toward c is finished, and what it holds must still reach a."""
    m = RelayMachine()
    m.open(ChannelKind.STREAM, 0)
    flow = m.flows[0]
    m.a.send_eof(flow.a_id)
    flow.fin_sent["a"] = True
    m._collect()
    m.deliver_everything()
    assert flow.c_id is not None
    m._write(flow, "c", 4000)  # c may send 2048 (r's window); a takes 1024 (its window)
    m.c.send_eof(flow.c_id)
    flow.fin_sent["c"] = True
    m._collect()
    m.deliver_everything()
    assert not m.rc.channels  # that end is over on its link ...
    assert len(flow.got["a"]) < len(flow.sent["c"])  # ... and holds the rest for a
    m.teardown()
    assert flow.got["a"] == flow.sent["c"] and flow.fin_got["a"]
