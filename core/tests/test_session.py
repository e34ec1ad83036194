"""The link state machine: two Sessions wired back to back, driven by plain calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsnet.protocol import (
    HEADER_SIZE,
    ChannelAccepted,
    ChannelClosed,
    ChannelError,
    ChannelKind,
    ChannelRequested,
    ChannelReset,
    CloseCode,
    CreditAvailable,
    DatagramReceived,
    DataReceived,
    Event,
    Flag,
    FrameType,
    Hello,
    HelloReceived,
    Keepalive,
    Limits,
    LinkTimeout,
    OpenRequest,
    PongReceived,
    ProtocolError,
    ResetCode,
    RoutesReceived,
    Session,
    decode_message,
    encode_frame,
)
from wsnet.protocol import messages as m
from wsnet.protocol.session import MAX_CREDIT

MAX_ROUNDS = 20  # a conversation settles in a few rounds; more means a ping-pong bug


class Clock:
    """An injected monotonic clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def pump(src: Session, dst: Session) -> list[Event]:
    """Deliver everything ``src`` has queued to ``dst``; return ``dst``'s events."""
    events: list[Event] = []
    for message in src.data_to_send():
        events += dst.receive_message(message)
    return events


def exchange(a: Session, b: Session) -> tuple[list[Event], list[Event]]:
    """Pump both ways until both sides are quiet; events seen by a and by b."""
    at_a: list[Event] = []
    at_b: list[Event] = []
    for _ in range(MAX_ROUNDS):
        if not a.pending_bytes and not b.pending_bytes:
            return at_a, at_b
        at_b += pump(a, b)
        at_a += pump(b, a)
    raise AssertionError("sessions kept talking")


def make(
    node: str, initiator: bool, clock: Clock, limits: Limits | None = None, **kw: Any
) -> Session:
    return Session(node=node, initiator=initiator, limits=limits, clock=clock, **kw)


def pair(
    limits_a: Limits | None = None,
    limits_b: Limits | None = None,
    clock: Clock | None = None,
    keepalive: Keepalive | None = None,
) -> tuple[Session, Session]:
    """A handshaken initiator ``a`` and acceptor ``b``."""
    clk = clock or Clock()
    a = make("a", True, clk, limits_a, keepalive=keepalive)
    b = make("b", False, clk, limits_b, keepalive=keepalive)
    at_a, at_b = exchange(a, b)
    assert [type(e) for e in at_a] == [HelloReceived]
    assert [type(e) for e in at_b] == [HelloReceived]
    return a, b


def open_stream(a: Session, b: Session, service: str = "svc") -> int:
    cid = a.open_channel(ChannelKind.STREAM, service)
    (req,) = pump(a, b)
    assert isinstance(req, ChannelRequested)
    b.accept(cid)
    assert pump(b, a) == [ChannelAccepted(cid)]
    return cid


def received(events: list[Event], cid: int | None = None) -> bytes:
    return b"".join(
        bytes(e.data)
        for e in events
        if isinstance(e, DataReceived) and (cid is None or e.channel == cid)
    )


def frames_of(messages: list[bytes]) -> list[tuple[int, int, int, bytes]]:
    out = []
    for msg in messages:
        out += [
            (f.type, f.flags, f.channel, bytes(f.payload)) for f in decode_message(msg, 1 << 24)
        ]
    return out


def small(window: int = 4096, max_frame: int = 4096, **kw: Any) -> Limits:
    return Limits(window=window, max_frame=max_frame, max_message=4 * max_frame, **kw)


# ------------------------------------------------------------------- handshake


def test_handshake_exchanges_hellos_with_limits() -> None:
    clk = Clock()
    la = Limits(window=5000, max_frame=2000, max_message=9000, max_channels=7)
    a = make("a", True, clk, la, capabilities=("routes",))
    b = make("b", False, clk)
    assert not a.established and not b.established
    (msg,) = a.data_to_send()
    ((ftype, _, cid, _payload),) = frames_of([msg])
    assert (ftype, cid) == (FrameType.HELLO, 0)
    (ev,) = b.receive_message(msg)
    assert ev == HelloReceived(Hello("a", 1, ("routes",), 5000, 2000, 9000, 7))
    assert b.established and b.peer is not None and b.peer.node == "a"
    assert not a.established
    (ev,) = pump(b, a)
    assert isinstance(ev, HelloReceived) and ev.hello.node == "b"
    assert ev.hello.window == Limits().window
    assert a.established


def test_hello_and_other_frames_in_one_message() -> None:
    c = make("c", False, Clock())
    hello = c.data_to_send()[0]
    # HELLO followed by ROUTES in the same message: the HELLO takes effect first.
    msg = hello + encode_frame(FrameType.ROUTES, 0, 0, m.encode_routes({"x": 1}))
    fresh = make("a2", True, Clock())
    events = fresh.receive_message(msg)
    assert [type(e) for e in events] == [HelloReceived, RoutesReceived]
    assert events[1] == RoutesReceived({"x": 1})


@pytest.mark.parametrize("ftype", [t for t in FrameType if t != FrameType.HELLO])
def test_anything_before_hello_is_an_error(ftype: FrameType) -> None:
    b = make("b", False, Clock())
    with pytest.raises(ProtocolError) as info:
        b.receive_message(encode_frame(ftype, 0, 1, b"\0" * 8))
    assert info.value.reason == f"expected HELLO first, got frame type {int(ftype)}"
    assert not b.established


def test_second_hello_is_an_error() -> None:
    _a, b = pair()
    again = encode_frame(
        FrameType.HELLO, 0, 0, m.encode_hello(Hello("a", window=1, max_frame=1, max_message=1))
    )
    with pytest.raises(ProtocolError, match="second HELLO on an established link"):
        b.receive_message(again)


def test_version_mismatch_closes_with_its_code() -> None:
    body = json.loads(m.encode_hello(Hello("a", window=10, max_frame=10, max_message=100)))
    body["version"] = 2
    msg = encode_frame(FrameType.HELLO, 0, 0, json.dumps(body).encode())
    b = make("b", False, Clock())
    with pytest.raises(ProtocolError) as info:
        b.receive_message(msg)
    assert info.value.code == CloseCode.VERSION_MISMATCH
    assert "peer speaks 2" in info.value.reason
    assert not b.established


def test_bad_node_name_in_hello() -> None:
    msg = encode_frame(
        FrameType.HELLO,
        0,
        0,
        m.encode_hello(Hello("bad name", window=1, max_frame=1, max_message=1)),
    )
    with pytest.raises(ProtocolError) as info:
        make("b", False, Clock()).receive_message(msg)
    assert info.value.code == CloseCode.BAD_NODE_NAME


def test_open_before_established_is_local_error() -> None:
    a = make("a", True, Clock())
    with pytest.raises(ChannelError, match="not established"):
        a.open_channel(ChannelKind.STREAM, "svc")


# -------------------------------------------------------------- open / accept


def test_open_and_accept_with_ids_by_parity() -> None:
    a, b = pair()
    c1 = a.open_channel(ChannelKind.STREAM, "tcp", dst="far", args={"port": 22}, ttl=5)
    c2 = a.open_channel(ChannelKind.DATAGRAM, "l2")
    assert (c1, c2) == (1, 3)
    events = pump(a, b)
    assert events == [
        ChannelRequested(1, OpenRequest(ChannelKind.STREAM, "tcp", "a", "far", {"port": 22}, 5)),
        ChannelRequested(3, OpenRequest(ChannelKind.DATAGRAM, "l2", "a", "", {}, 16)),
    ]
    b.accept(1)
    b.reset(3, ResetCode.NO_SERVICE, "no l2 here")
    assert pump(b, a) == [
        ChannelAccepted(1),
        ChannelReset(3, ResetCode.NO_SERVICE, "no l2 here"),
    ]
    assert a.channel_ids() == [1] and b.channel_ids() == [1]
    assert b.open_channel(ChannelKind.STREAM, "x") == 2
    assert b.open_channel(ChannelKind.STREAM, "x") == 4


def test_accepting_own_channel_is_local_error_and_a_forgotten_one_is_a_no_op() -> None:
    a, _b = pair()
    cid = a.open_channel(ChannelKind.STREAM, "svc")
    with pytest.raises(ChannelError, match="opened by this side"):
        a.accept(cid)
    # The peer may have reset it in the message being dispatched: not an error.
    assert a.accept(99) is False


def test_accept_for_a_channel_the_peer_opened_resets_it() -> None:
    a, b = pair()
    cid = a.open_channel(ChannelKind.STREAM, "svc")
    pump(a, b)
    events = b.receive_message(encode_frame(FrameType.ACCEPT, 0, cid))
    assert events == [
        ChannelReset(cid, ResetCode.STREAM_ERROR, "ACCEPT for a channel the peer opened")
    ]
    assert pump(b, a)[0] == ChannelReset(
        cid, ResetCode.STREAM_ERROR, "ACCEPT for a channel the peer opened"
    )


def test_zero_rtt_data_right_after_open() -> None:
    a, b = pair()
    cid = a.open_channel(ChannelKind.STREAM, "svc")
    assert a.send_data(cid, b"GET / HTTP/1.0\r\n\r\n") == 18
    messages = a.data_to_send()
    assert len(messages) == 1  # OPEN and DATA travel together, before any ACCEPT
    events = b.receive_message(messages[0])
    assert isinstance(events[0], ChannelRequested)
    assert isinstance(events[1], DataReceived) and not events[1].fin
    assert received(events) == b"GET / HTTP/1.0\r\n\r\n"


# --------------------------------------------------------------- flow control


def test_credit_exhaustion_returns_partial_then_zero() -> None:
    a, b = pair(limits_b=small(window=4096))
    cid = open_stream(a, b)
    assert a.send_credit(cid) == 4096
    assert a.send_data(cid, b"x" * 3000) == 3000
    assert a.send_data(cid, b"y" * 3000) == 1096  # less than offered: back-pressure
    assert a.send_credit(cid) == 0
    assert a.send_data(cid, b"z") == 0
    assert a.send_data(cid, b"") == 0
    events = pump(a, b)
    assert received(events) == b"x" * 3000 + b"y" * 1096


def test_credit_returns_only_after_a_quarter_window() -> None:
    a, b = pair(limits_b=small(window=4096))
    cid = open_stream(a, b)
    a.send_data(cid, b"x" * 4096)
    pump(a, b)
    b.consumed(cid, 1000)
    b.consumed(cid, 23)  # 1023 < 4096 // 4: still batched, nothing to send
    assert b.pending_bytes == 0
    assert b.channel_info(cid)["recv_credit"] == 0
    b.consumed(cid, 1)
    assert b.channel_info(cid)["recv_credit"] == 1024
    (msg,) = b.data_to_send()
    assert frames_of([msg]) == [(FrameType.WINDOW, 0, cid, m.encode_u32(1024))]
    assert a.receive_message(msg) == [CreditAvailable(cid, 1024)]
    assert a.send_data(cid, b"w" * 5000) == 1024


def test_consumed_ignores_unknown_and_datagram_channels() -> None:
    a, b = pair(limits_b=small())
    dg = a.open_channel(ChannelKind.DATAGRAM, "l2")
    pump(a, b)
    b.consumed(dg, 10_000)
    b.consumed(12345, 10_000)
    assert b.pending_bytes == 0


def test_flow_control_violation_resets_only_that_channel() -> None:
    a, b = pair(limits_b=small(window=4096))
    bad, good = open_stream(a, b), open_stream(a, b)
    assert a.send_data(bad, b"\0" * 4096) == 4096  # uses up the credit legitimately
    pump(a, b)
    events = b.receive_message(encode_frame(FrameType.DATA, 0, bad, b"!"))
    assert events == [ChannelReset(bad, ResetCode.FLOW_CONTROL, "1 bytes sent with 0 credit")]
    assert bad not in b.channel_ids()
    assert pump(b, a) == [ChannelReset(bad, ResetCode.FLOW_CONTROL, "1 bytes sent with 0 credit")]
    assert a.channel_ids() == [good]
    assert a.send_data(good, b"still fine") == 10
    assert received(pump(a, b), good) == b"still fine"


def test_one_oversized_frame_beyond_initial_window() -> None:
    a, b = pair(limits_b=small(window=2048, max_frame=4096))
    cid = open_stream(a, b)
    (ev,) = b.receive_message(encode_frame(FrameType.DATA, 0, cid, b"x" * 2049))
    assert isinstance(ev, ChannelReset) and ev.code == ResetCode.FLOW_CONTROL


def test_window_up_to_max_credit_ok_above_is_flow_control_reset() -> None:
    a, b = pair()
    c1, c2 = open_stream(a, b), open_stream(a, b)
    room = MAX_CREDIT - a.send_credit(c1)
    assert a.receive_message(encode_frame(FrameType.WINDOW, 0, c1, m.encode_u32(room))) == [
        CreditAvailable(c1, MAX_CREDIT)
    ]
    events = a.receive_message(encode_frame(FrameType.WINDOW, 0, c2, m.encode_u32(room + 1)))
    assert events == [ChannelReset(c2, ResetCode.FLOW_CONTROL, "credit above 2**31-1")]
    assert a.channel_ids() == [c1]
    assert pump(a, b) == [ChannelReset(c2, ResetCode.FLOW_CONTROL, "credit above 2**31-1")]


def test_window_increment_zero_is_flow_control_reset() -> None:
    a, b = pair()
    c1, c2 = open_stream(a, b), open_stream(a, b)
    events = a.receive_message(encode_frame(FrameType.WINDOW, 0, c1, m.encode_u32(0)))
    assert events == [ChannelReset(c1, ResetCode.FLOW_CONTROL, "WINDOW increment 0")]
    assert a.channel_ids() == [c2]  # the other channel carries on


def test_window_on_datagram_channel_resets_it() -> None:
    a, b = pair()
    dg = a.open_channel(ChannelKind.DATAGRAM, "l2")
    pump(a, b)
    (ev,) = a.receive_message(encode_frame(FrameType.WINDOW, 0, dg, m.encode_u32(1)))
    assert ev == ChannelReset(dg, ResetCode.STREAM_ERROR, "WINDOW on a datagram channel")


def test_window_with_bad_size_is_protocol_error() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    with pytest.raises(ProtocolError, match="WINDOW: payload must be 4 bytes"):
        a.receive_message(encode_frame(FrameType.WINDOW, 0, cid, b"\0\0"))


# ----------------------------------------------------------------- half-close


def test_half_close_initiator_first() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    a.send_data(cid, b"request")
    assert a.send_eof(cid) is False  # the other direction is still open
    events = pump(a, b)
    assert received(events) == b"request"
    assert isinstance(events[-1], DataReceived) and events[-1].fin
    assert b.channel_info(cid)["remote_fin"] is True
    # b can still answer over its open direction
    assert b.send_data(cid, b"response") == 8
    assert b.send_eof(cid) is True  # now both directions are done on b
    assert b.channel_ids() == []
    events = pump(b, a)
    assert received(events) == b"response"
    assert events[-1] == ChannelClosed(cid)
    assert a.channel_ids() == []


def test_half_close_acceptor_first() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    assert b.send_eof(cid) is False
    (ev,) = pump(b, a)
    assert isinstance(ev, DataReceived) and ev.fin and bytes(ev.data) == b""
    a.send_data(cid, b"late")
    assert a.send_eof(cid) is True
    events = pump(a, b)
    assert received(events) == b"late"
    assert events[-1] == ChannelClosed(cid)
    assert a.channel_ids() == [] and b.channel_ids() == []


def test_write_after_own_eof_is_local_error() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    a.send_eof(cid)
    assert a.send_eof(cid) is False  # idempotent
    with pytest.raises(ChannelError, match="write after end of stream"):
        a.send_data(cid, b"x")


def test_data_after_fin_is_stream_error_reset() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    a.send_eof(cid)
    pump(a, b)
    (ev,) = b.receive_message(encode_frame(FrameType.DATA, 0, cid, b"more"))
    assert ev == ChannelReset(cid, ResetCode.STREAM_ERROR, "data after FIN")
    assert b.channel_ids() == []
    assert pump(b, a) == [ChannelReset(cid, ResetCode.STREAM_ERROR, "data after FIN")]


def test_consumed_after_fin_sends_no_window() -> None:
    a, b = pair(limits_b=small(window=4096))
    cid = open_stream(a, b)
    a.send_data(cid, b"x" * 4096)
    a.send_eof(cid)
    pump(a, b)
    b.consumed(cid, 4096)  # the peer will send nothing more: credit would be wasted
    assert b.pending_bytes == 0


# -------------------------------------------------------------------- resets


def test_reset_one_channel_leaves_another_working() -> None:
    a, b = pair()
    c1, c2 = open_stream(a, b), open_stream(a, b)
    a.send_data(c1, b"in flight")
    in_flight = a.data_to_send()
    b.reset(c1, ResetCode.SERVICE_ERROR, "connect refused")
    assert pump(b, a) == [ChannelReset(c1, ResetCode.SERVICE_ERROR, "connect refused")]
    # Frames that crossed the RESET are ignored and counted, not errors.
    ignored = b.stats.frames_ignored
    for msg in in_flight:
        assert b.receive_message(msg) == []
    assert b.stats.frames_ignored == ignored + 1
    with pytest.raises(ChannelError):
        a.send_data(c1, b"x")
    a.send_data(c2, b"other")
    assert received(pump(a, b), c2) == b"other"


def test_reset_of_unknown_channel_is_ignored_both_ways() -> None:
    a, b = pair()
    a.reset(77)  # local: nothing queued
    assert a.pending_bytes == 0
    before = b.stats.frames_ignored
    assert b.receive_message(encode_frame(FrameType.RESET, 0, 77, m.encode_reset(0, ""))) == []
    assert b.stats.frames_ignored == before + 1


def test_reset_payload_too_short_is_protocol_error() -> None:
    _a, b = pair()
    with pytest.raises(ProtocolError, match="RESET"):
        b.receive_message(encode_frame(FrameType.RESET, 0, 1, b"\0"))


# --------------------------------------------------------------- channel limit


def test_channel_limit_local_error_and_peer_reset() -> None:
    a, b = pair(limits_b=Limits(max_channels=1))
    c1 = a.open_channel(ChannelKind.STREAM, "svc")
    # a respects b's advertised limit locally ...
    with pytest.raises(ChannelError, match="channel limit 1 reached"):
        a.open_channel(ChannelKind.STREAM, "svc")
    # ... but both sides may open at once: b's own OPEN races with a's.
    c2 = b.open_channel(ChannelKind.STREAM, "svc")
    assert pump(b, a) == [ChannelRequested(c2, OpenRequest(ChannelKind.STREAM, "svc", "b"))]
    assert pump(a, b) == []  # b is full: no ChannelRequested, a RESET is queued instead
    assert pump(b, a) == [
        ChannelReset(c1, ResetCode.TOO_MANY_CHANNELS, "channel limit 1 reached"),
    ]
    assert a.channel_ids() == [c2] and b.channel_ids() == [c2]


def test_handcrafted_open_above_limit_is_refused_with_reset() -> None:
    lim = Limits(max_channels=2, max_channels_per_source=2)
    a, b = pair(limits_a=lim, limits_b=lim)
    open_stream(a, b)
    open_stream(a, b)
    msg = encode_frame(FrameType.OPEN, 0, 5, m.encode_open(OpenRequest(ChannelKind.STREAM, "x")))
    assert b.receive_message(msg) == []
    assert frames_of(b.data_to_send()) == [
        (
            FrameType.RESET,
            0,
            5,
            m.encode_reset(ResetCode.TOO_MANY_CHANNELS, "channel limit 2 reached"),
        )
    ]
    assert len(b.channel_ids()) == 2


# ------------------------------------------------------------------ datagrams


def test_datagram_send_and_receive_without_credit() -> None:
    a, b = pair(limits_b=small(window=1024))
    dg = a.open_channel(ChannelKind.DATAGRAM, "l2")
    with pytest.raises(ChannelError, match="datagram channel"):
        a.send_data(dg, b"x")
    with pytest.raises(ChannelError, match="datagram channel"):
        a.send_credit(dg)
    sent = [bytes([i]) * 1000 for i in range(5)]  # 5000 bytes, far above the 1024 window
    assert all(a.send_datagram(dg, d) for d in sent)
    events = pump(a, b)
    got = [bytes(e.data) for e in events if isinstance(e, DatagramReceived)]
    assert got == sent
    assert b.channel_info(dg)["bytes_in"] == 5000
    # and back the other way
    assert b.send_datagram(dg, b"pong")
    assert pump(b, a) == [DatagramReceived(dg, memoryview(b"pong"))]


def test_datagram_above_peer_max_frame_is_dropped_and_counted() -> None:
    a, _b = pair(limits_b=small(max_frame=1024))
    dg = a.open_channel(ChannelKind.DATAGRAM, "l2")
    assert a.send_datagram(dg, b"x" * 1024)
    assert not a.send_datagram(dg, b"x" * 1025)
    assert a.channel_info(dg)["drops"] == 1
    assert a.stats.datagrams_dropped == 1
    assert a.channel_info(dg)["bytes_out"] == 1024


def test_datagram_backlog_drops_until_drained() -> None:
    backlog = 1000
    a, b = pair(limits_a=Limits(datagram_backlog=backlog))
    dg = a.open_channel(ChannelKind.DATAGRAM, "l2")
    pump(a, b)
    accepted = 0
    for _ in range(50):
        if not a.send_datagram(dg, b"d" * 100):
            break
        accepted += 1
    # Each datagram costs its 100 bytes; the one that would pass the backlog is dropped.
    assert accepted == backlog // 100
    assert a.pending_bytes + 100 > backlog
    assert a.channel_info(dg)["drops"] == 1
    assert not a.send_datagram(dg, b"d" * 100)
    assert a.stats.datagrams_dropped == 2
    got = pump(a, b)
    assert len(got) == accepted  # no unbounded queue, nothing lost that was accepted
    assert a.send_datagram(dg, b"d" * 100)  # drained: room again


def test_datagram_channel_ignores_fin_flag_and_has_no_half_close() -> None:
    a, b = pair()
    dg = a.open_channel(ChannelKind.DATAGRAM, "l2")
    pump(a, b)
    with pytest.raises(ChannelError):
        a.send_eof(dg)
    events = b.receive_message(encode_frame(FrameType.DATA, Flag.FIN, dg, b"x"))
    assert events == [DatagramReceived(dg, memoryview(b"x"))]
    assert dg in b.channel_ids()


def test_send_datagram_on_stream_is_local_error() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    with pytest.raises(ChannelError, match="stream channel"):
        a.send_datagram(cid, b"x")


# -------------------------------------------------------------------- limits


def test_message_above_max_message_is_message_too_big() -> None:
    _a, b = pair(limits_b=Limits(max_frame=1024, max_message=2048))
    with pytest.raises(ProtocolError) as info:
        b.receive_message(b"\0" * 2049)  # checked before any decoding
    assert info.value.code == CloseCode.MESSAGE_TOO_BIG
    assert "2049 bytes exceeds limit 2048" in info.value.reason


def test_data_frame_above_max_frame_is_protocol_error() -> None:
    lim = Limits(max_frame=1024, max_message=1 << 20, max_control=8192)
    a, b = pair(limits_b=lim)
    cid = open_stream(a, b)
    # Within max_control, so the decoder passes it; the DATA handler must still refuse it.
    with pytest.raises(ProtocolError) as info:
        b.receive_message(encode_frame(FrameType.DATA, 0, cid, b"x" * 1025))
    assert info.value.code == CloseCode.PROTOCOL_ERROR
    assert "DATA frame of 1025 bytes exceeds max_frame 1024" in info.value.reason
    # Above both limits: refused by the frame decoder already.
    with pytest.raises(ProtocolError, match="exceeds limit 8192"):
        b.receive_message(encode_frame(FrameType.DATA, 0, cid, b"x" * 8193))


def test_control_frame_above_max_control_is_protocol_error() -> None:
    lim = Limits(max_frame=4096, max_message=1 << 16, max_control=512)
    _a, b = pair(limits_b=lim)
    routes = m.encode_routes({f"n{i}": i % 15 for i in range(100)})
    assert 512 < len(routes) <= 4096
    with pytest.raises(ProtocolError, match=r"ROUTES frame of \d+ bytes exceeds the limit of 512"):
        b.receive_message(encode_frame(FrameType.ROUTES, 0, 0, routes))


@pytest.mark.parametrize(
    ("receiver_is_initiator", "cid", "text"),
    [
        (True, 3, "wrong parity"),  # the initiator's own ids are odd
        (False, 2, "wrong parity"),  # the acceptor's own ids are even
        (False, 0, "wrong parity"),  # 0 is the link itself
        (True, 0, "wrong parity"),
    ],
)
def test_open_with_wrong_parity(receiver_is_initiator: bool, cid: int, text: str) -> None:
    a, b = pair()
    receiver = a if receiver_is_initiator else b
    msg = encode_frame(FrameType.OPEN, 0, cid, m.encode_open(OpenRequest(ChannelKind.STREAM, "x")))
    with pytest.raises(ProtocolError, match=text):
        receiver.receive_message(msg)


def test_open_for_a_channel_in_use_is_protocol_error() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    msg = encode_frame(FrameType.OPEN, 0, cid, m.encode_open(OpenRequest(ChannelKind.STREAM, "x")))
    with pytest.raises(ProtocolError, match="ids must grow"):
        b.receive_message(msg)


def test_routes_are_reported() -> None:
    a, b = pair()
    a.send_routes({"c": 1, "d": 2})
    assert pump(a, b) == [RoutesReceived({"c": 1, "d": 2})]


# ----------------------------------------------------------------- keepalive


def test_keepalive_ping_pong_rtt_and_timeout() -> None:
    clk = Clock(100.0)
    ka = Keepalive(interval=1.0, timeout=4.0, hello_timeout=10.0)
    a, b = pair(clock=clk, keepalive=ka)
    clk.now = 100.5
    assert a.tick() == []
    assert a.pending_bytes == 0  # interval not yet elapsed: no PING
    clk.now = 101.0
    assert a.tick() == []
    ((ftype, _, _, seq),) = frames_of(a.data_to_send())
    assert ftype == FrameType.PING
    assert b.receive_message(encode_frame(FrameType.PING, 0, 0, seq)) == []
    clk.now = 101.25
    assert pump(b, a) == [PongReceived(0.25)]
    assert a.rtt == 0.25
    # b answered at 101.0 (its last receipt); a heard b at 101.25.
    clk.now = 105.25
    assert a.tick() == []  # exactly at the deadline: not yet dead
    clk.now = 105.5
    (ev,) = a.tick()
    assert isinstance(ev, LinkTimeout)
    assert ev.code == CloseCode.KEEPALIVE_TIMEOUT
    assert ev.reason.startswith("peer silent for 4.")


def test_any_received_message_defers_the_timeout() -> None:
    clk = Clock(100.0)
    a, b = pair(clock=clk, keepalive=Keepalive(interval=1.0, timeout=4.0))
    for step in range(1, 20):
        clk.now = 100.0 + step
        assert not any(isinstance(e, LinkTimeout) for e in a.tick())
        assert not any(isinstance(e, LinkTimeout) for e in b.tick())
        exchange(a, b)  # PINGs and PONGs keep both sides alive
    assert a.rtt == 0.0


def test_unknown_pong_gives_no_event_and_bad_ping_is_error() -> None:
    a, _b = pair()
    assert a.receive_message(encode_frame(FrameType.PONG, 0, 0, m.encode_u64(999))) == []
    with pytest.raises(ProtocolError, match="PING: payload must be 8 bytes"):
        a.receive_message(encode_frame(FrameType.PING, 0, 0, b"1234"))


def test_explicit_ping_is_answered() -> None:
    clk = Clock()
    a, b = pair(clock=clk)
    a.ping()
    pump(a, b)
    clk.now += 0.5
    assert pump(b, a) == [PongReceived(0.5)]


def test_pings_never_read_queue_one_pong() -> None:
    """A peer that pings and never reads makes this side hold one PONG, not one per PING."""
    _a, b = pair()
    for seq in range(1000):
        b.receive_message(encode_frame(FrameType.PING, 0, 0, m.encode_u64(seq)))
    assert b.pending_bytes == HEADER_SIZE + 8
    assert frames_of(b.data_to_send()) == [(FrameType.PONG, 0, 0, m.encode_u64(999))]


def test_hello_timeout() -> None:
    clk = Clock(100.0)
    a = make("a", True, clk, keepalive=Keepalive(interval=1.0, timeout=4.0, hello_timeout=10.0))
    a.data_to_send()  # the HELLO went out; none comes back
    clk.now = 110.0
    assert a.tick() == []
    assert a.pending_bytes == 0  # no PING before the handshake
    clk.now = 110.1
    (ev,) = a.tick()
    assert ev == LinkTimeout(CloseCode.HELLO_TIMEOUT, "no HELLO from peer")


# ---------------------------------------------------------------- batching


def test_many_frames_packed_into_one_message() -> None:
    a, _b = pair()
    dg = a.open_channel(ChannelKind.DATAGRAM, "l2")
    for i in range(200):
        a.send_datagram(dg, bytes([i % 256]) * 10)
    messages = a.data_to_send()
    assert len(messages) == 1
    assert len(frames_of(messages)) == 201  # OPEN + 200 DATA
    assert a.data_to_send() == []


def test_packing_respects_the_peers_max_message() -> None:
    lim_b = Limits(window=1 << 16, max_frame=1024, max_message=2048)
    a, b = pair(limits_b=lim_b)
    dg = a.open_channel(ChannelKind.DATAGRAM, "l2")
    pump(a, b)
    for i in range(10):
        assert a.send_datagram(dg, bytes([i]) * 1000)
    messages = a.data_to_send()
    assert all(len(msg) <= 2048 for msg in messages)
    assert len(messages) == 5  # two 1010-byte frames per 2048-byte message
    events: list[Event] = []
    for msg in messages:
        events += b.receive_message(msg)
    assert [bytes(e.data)[0] for e in events if isinstance(e, DatagramReceived)] == list(range(10))


def test_large_send_data_split_into_max_frame_frames() -> None:
    lim_b = Limits(max_frame=1024, max_message=4096)
    a, b = pair(limits_b=lim_b)
    cid = open_stream(a, b)
    payload = bytes(i % 251 for i in range(10_000))
    assert a.send_data(cid, payload) == 10_000
    messages = a.data_to_send()
    frames = frames_of(messages)
    # Frames of at most max_frame bytes, cut where a message is full.
    assert all(len(f[3]) <= 1024 for f in frames)
    assert b"".join(f[3] for f in frames) == payload
    assert all(f[0] == FrameType.DATA and f[2] == cid for f in frames)
    assert all(len(msg) <= 4096 for msg in messages)
    events: list[Event] = []
    for msg in messages:
        events += b.receive_message(msg)
    assert received(events) == payload


def test_stats_count_bytes_both_ways() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    a.send_data(cid, b"x" * 100)
    sent = a.data_to_send()
    for msg in sent:
        b.receive_message(msg)
    assert a.stats.bytes_out == b.stats.bytes_in
    assert a.channel_info(cid)["bytes_out"] == 100
    assert b.channel_info(cid)["bytes_in"] == 100


# ---------------------------------------------------------------- properties

frame_specs = st.lists(
    st.tuples(
        st.sampled_from(list(FrameType)),
        st.integers(0, 3),  # flags: FIN and an unused bit
        st.integers(0, 8),  # channel ids that hit open channels as well as unknown ones
        st.one_of(
            st.binary(max_size=40),
            st.binary(min_size=1000, max_size=1100),  # beyond the credit of an open stream
            st.builds(m.encode_u32, st.integers(0, 2**32 - 1)),
            st.builds(m.encode_reset, st.integers(0, 65535), st.text(max_size=5)),
            st.builds(
                m.encode_open,
                st.builds(OpenRequest, st.sampled_from(list(ChannelKind)), st.text(max_size=5)),
            ),
        ),
    ),
    min_size=1,
    max_size=8,
)


def _established() -> tuple[Session, Session]:
    lim = small(window=1024, max_frame=1024)
    a, b = pair(limits_a=lim, limits_b=lim)
    open_stream(a, b)
    a.open_channel(ChannelKind.DATAGRAM, "l2")
    pump(a, b)
    return a, b


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frame_specs | st.binary(max_size=80).map(lambda b: [b]), max_size=5))
def test_session_fed_random_messages_raises_only_protocol_error(
    messages: list[list[Any]],
) -> None:
    a, b = _established()
    for spec in messages:
        if isinstance(spec[0], bytes):
            raw = spec[0]
        else:
            raw = b"".join(encode_frame(t, fl, ch, p) for t, fl, ch, p in spec)
        try:
            b.receive_message(raw)
        except ProtocolError:
            return  # the link closes here; nothing further is fed
        # Whatever b answers must itself be acceptable to a well-behaved peer.
        for out in b.data_to_send():
            try:
                a.receive_message(out)
            except ProtocolError as exc:  # only an echo of a peer error is allowed
                raise AssertionError(f"session produced bad output: {exc}") from exc


@pytest.mark.parametrize("ftype", [FrameType.HELLO, FrameType.ROUTES])
def test_deeply_nested_control_json_is_a_protocol_error(ftype: FrameType) -> None:
    nested = b"[" * 60_000  # below max_control (64 KiB): any peer may send it
    if ftype == FrameType.HELLO:
        session = make("b", False, Clock())
    else:
        _a, session = pair()
    with pytest.raises(ProtocolError):
        session.receive_message(encode_frame(ftype, 0, 0, nested))


def test_one_source_gets_half_of_the_channels_and_the_peer_its_own_freely() -> None:
    """What this side opens is limited per owner (half the link by default); what the
    peer opens for itself is bounded by max_channels alone, relayed origins per origin."""
    lim = Limits(max_channels=8)
    a, b = pair(limits_a=lim, limits_b=lim)
    for _ in range(4):
        a.open_channel(ChannelKind.STREAM, "svc", source="tcp:web")
    with pytest.raises(ChannelError, match="'tcp:web' holds 4 channels on this link"):
        a.open_channel(ChannelKind.STREAM, "svc", source="tcp:web")
    a.open_channel(ChannelKind.STREAM, "svc", source="tcp:ssh")  # another owner: fine
    events = pump(a, b)
    assert len([e for e in events if isinstance(e, ChannelRequested)]) == 5  # a's own: all in
    # The OPENs a peer sends are bounded by max_channels alone (whatever their src: a
    # relay already counted them against the link they came from, and src is only a claim).
    a, b = pair(limits_a=lim, limits_b=lim)
    for cid in (1, 3, 5, 7, 9, 11, 13, 15, 17):
        req = OpenRequest(ChannelKind.STREAM, "svc", src="far")
        b.receive_message(encode_frame(FrameType.OPEN, 0, cid, m.encode_open(req)))
    (reset,) = [f for f in frames_of(b.data_to_send()) if f[0] == FrameType.RESET]
    assert reset[2] == 17
    assert m.decode_reset(memoryview(reset[3])) == (
        ResetCode.TOO_MANY_CHANNELS,
        "channel limit 8 reached",
    )


def test_open_with_names_that_are_not_names_is_refused_as_a_bad_request() -> None:
    """src, dst and service reach logs and routing: a newline or 60 KB is refused."""
    _a, b = pair()
    bad = [
        OpenRequest(ChannelKind.STREAM, "svc", src="a\nCRITICAL forged"),
        OpenRequest(ChannelKind.STREAM, "svc", dst="x" * 70),
        OpenRequest(ChannelKind.STREAM, "s\x00vc"),
    ]
    for cid, req in zip((1, 3, 5), bad, strict=True):
        assert b.receive_message(encode_frame(FrameType.OPEN, 0, cid, m.encode_open(req))) == []
    resets = [f for f in frames_of(b.data_to_send()) if f[0] == FrameType.RESET]
    assert [r[2] for r in resets] == [1, 3, 5]
    for r in resets:
        code, reason = m.decode_reset(memoryview(r[3]))
        assert code == ResetCode.BAD_REQUEST and reason.startswith("OPEN: ")
        assert "\n" not in reason
    assert b.channel_ids() == []


def test_big_route_adverts_are_cut_to_one_control_frame_nearest_first() -> None:
    a, b = pair()
    routes = {f"node-{i:05d}": 1 + i % 15 for i in range(6000)}
    left_out = a.send_routes(routes)
    assert left_out > 0
    (ev,) = [e for e in pump(a, b) if isinstance(e, RoutesReceived)]
    assert len(ev.routes) == len(routes) - left_out
    assert max(ev.routes.values()) <= min(h for n, h in routes.items() if n not in ev.routes)
    assert not a.has_output  # nothing stuck behind it


def test_a_max_frame_datagram_goes_alone_to_a_peer_with_the_smallest_max_message() -> None:
    tight = Limits(window=4096, max_frame=2048, max_message=2048 + HEADER_SIZE)
    a, b = pair(limits_b=tight)
    dg = a.open_channel(ChannelKind.DATAGRAM, "l2")
    pump(a, b)
    assert a.send_datagram(dg, b"z" * 2048)
    assert a.send_datagram(dg, b"y" * 10)
    messages = a.data_to_send()
    assert [len(msg) for msg in messages] == [2048 + HEADER_SIZE, 10 + HEADER_SIZE]
    events = [ev for msg in messages for ev in b.receive_message(msg)]
    assert [len(e.data) for e in events if isinstance(e, DatagramReceived)] == [2048, 10]
