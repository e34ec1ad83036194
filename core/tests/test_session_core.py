"""The sans-I/O link protocol: two Sessions back to back, no sockets, no event loop."""

from __future__ import annotations

import contextlib
import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsnet.protocol import (
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
    HelloReceived,
    Keepalive,
    Limits,
    LinkTimeout,
    PongReceived,
    ProtocolError,
    ResetCode,
    Session,
    decode_message,
    encode_frame,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pump(src: Session, dst: Session) -> list[Event]:
    events: list[Event] = []
    for message in src.data_to_send():
        events += dst.receive_message(message)
    return events


def pair(
    limits_a: Limits | None = None, limits_b: Limits | None = None, clock: Clock | None = None
) -> tuple[Session, Session]:
    clk = clock or Clock()
    a = Session(node="a", initiator=True, limits=limits_a, clock=clk)
    b = Session(node="b", initiator=False, limits=limits_b, clock=clk)
    assert isinstance(pump(a, b)[0], HelloReceived)
    assert isinstance(pump(b, a)[0], HelloReceived)
    return a, b


def open_stream(a: Session, b: Session, service: str = "svc") -> int:
    cid = a.open_channel(ChannelKind.STREAM, service)
    (req,) = pump(a, b)
    assert isinstance(req, ChannelRequested)
    assert req.request.service == service
    assert req.request.src == "a"
    b.accept(cid)
    assert pump(b, a) == [ChannelAccepted(cid)]
    return cid


def data(events: list[Event]) -> bytes:
    return b"".join(bytes(e.data) for e in events if isinstance(e, DataReceived))


def test_handshake_and_channel_ids_by_parity() -> None:
    a, b = pair()
    assert a.established
    assert b.established
    assert a.peer is not None
    assert a.peer.node == "b"
    assert a.open_channel(ChannelKind.STREAM, "x") % 2 == 1
    assert b.open_channel(ChannelKind.STREAM, "x") % 2 == 0


def test_zero_rtt_data_with_open() -> None:
    a, b = pair()
    cid = a.open_channel(ChannelKind.STREAM, "svc")
    assert a.send_data(cid, b"hello") == 5
    events = pump(a, b)
    assert isinstance(events[0], ChannelRequested)
    assert data(events) == b"hello"


def test_credit_exhaustion_and_replenishment() -> None:
    lim = Limits(window=64 * 1024, max_frame=16 * 1024, max_message=256 * 1024)
    a, b = pair(lim, lim)
    cid = open_stream(a, b)
    assert a.send_data(cid, b"x" * 100_000) == 65536  # only the window is taken
    assert a.send_data(cid, b"y") == 0
    got = pump(a, b)
    assert len(data(got)) == 65536
    assert sum(isinstance(e, DataReceived) for e in got) == 4  # split into max_frame frames
    b.consumed(cid, 10_000)  # below window/4: no WINDOW yet (batched)
    assert pump(b, a) == []
    b.consumed(cid, 10_000)
    (credit,) = pump(b, a)
    assert credit == CreditAvailable(cid, 20_000)
    assert a.send_data(cid, b"z" * 30_000) == 20_000


def test_flow_control_violation_resets_only_that_channel() -> None:
    lim = Limits(window=4096, max_frame=4096, max_message=16384)
    a, b = pair(lim, lim)
    bad, good = open_stream(a, b), open_stream(a, b)
    raw = encode_frame(FrameType.DATA, 0, bad, b"\0" * 4096) + encode_frame(
        FrameType.DATA, 0, bad, b"\0"
    )
    events = b.receive_message(raw)
    assert events[-1] == ChannelReset(bad, ResetCode.FLOW_CONTROL, "1 bytes sent with 0 credit")
    assert isinstance(pump(b, a)[0], ChannelReset)
    a.send_data(good, b"still fine")
    assert data(pump(a, b)) == b"still fine"


def test_half_close_both_ways() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    a.send_data(cid, b"req")
    assert a.send_eof(cid) is False
    events = pump(a, b)
    assert events[-1] == DataReceived(cid, events[-1].data, True)  # type: ignore[union-attr]
    b.send_data(cid, b"reply after their FIN")
    assert b.send_eof(cid) is True  # both directions done: b forgot it
    events = pump(b, a)
    assert data(events) == b"reply after their FIN"
    assert events[-1] == ChannelClosed(cid)
    assert a.channel_ids() == []
    assert b.channel_ids() == []
    with pytest.raises(ChannelError):
        a.send_data(cid, b"late")


def test_data_after_fin_is_stream_error() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    a.send_eof(cid)
    pump(a, b)
    events = b.receive_message(encode_frame(FrameType.DATA, 0, cid, b"more"))
    assert events == [ChannelReset(cid, ResetCode.STREAM_ERROR, "data after FIN")]


def test_reset_one_channel_keeps_others() -> None:
    a, b = pair()
    one, two = open_stream(a, b), open_stream(a, b)
    a.reset(one, ResetCode.CLOSED, "done")
    assert pump(a, b) == [ChannelReset(one, ResetCode.CLOSED, "done")]
    b.send_data(two, b"ok")
    assert data(pump(b, a)) == b"ok"
    # frames for the forgotten channel are ignored and counted, not errors
    a.receive_message(encode_frame(FrameType.DATA, 0, one, b"late"))
    assert a.stats.frames_ignored == 1


def test_channel_limit() -> None:
    a, b = pair(Limits(max_channels=8), Limits(max_channels=2))
    open_stream(a, b)
    open_stream(a, b)
    with pytest.raises(ChannelError, match="too many channels"):
        a.open_channel(ChannelKind.STREAM, "x")
    # a peer that ignores our limit gets a refusal, not a broken link
    b2 = Session(node="b", initiator=False, limits=Limits(max_channels=1))
    a2 = Session(node="a", initiator=True, limits=Limits(max_channels=8))
    pump(a2, b2)
    pump(b2, a2)
    a2.open_channel(ChannelKind.STREAM, "x")
    pump(a2, b2)
    events = b2.receive_message(encode_frame(FrameType.OPEN, 0, 3, b"\x01" + b'{"service":"x"}'))
    assert events == []
    frames = [f for m in b2.data_to_send() for f in decode_message(m, 1 << 20)]
    reset = next(f for f in frames if f.type == FrameType.RESET)
    assert reset.channel == 3
    assert struct.unpack("!H", reset.payload[:2])[0] == ResetCode.TOO_MANY_CHANNELS


def test_datagrams_and_drop_counting() -> None:
    lim = Limits(max_frame=2048, max_message=8192, datagram_backlog=5000)
    a, b = pair(lim, lim)
    cid = a.open_channel(ChannelKind.DATAGRAM, "ether")
    assert a.send_datagram(cid, b"d" * 100)
    assert not a.send_datagram(cid, b"d" * 4000)  # above the peer's max_frame
    assert a.send_datagram(cid, b"e" * 2000)
    assert a.send_datagram(cid, b"e" * 2000)
    assert not a.send_datagram(cid, b"e" * 2000)  # backlog full
    assert a.stats.datagrams_dropped == 2
    assert a.channel_info(cid)["drops"] == 2
    events = pump(a, b)
    grams = [e for e in events if isinstance(e, DatagramReceived)]
    assert [len(g.data) for g in grams] == [100, 2000, 2000]


def test_messages_respect_peer_max_message() -> None:
    lim = Limits(window=1 << 20, max_frame=4096, max_message=10_000)
    a, b = pair(lim, lim)
    cid = open_stream(a, b)
    a.send_data(cid, b"q" * 100_000)
    messages = a.data_to_send()
    assert all(len(m) <= 10_000 for m in messages)
    assert sum(len(m) for m in messages) == 100_000 + 25 * 10  # 25 frames of 4096 or less
    for m in messages:
        b.receive_message(m)


def test_limits_exceeded_close_the_link() -> None:
    _, b = pair(Limits(), Limits(max_frame=4096, max_message=8192))
    with pytest.raises(ProtocolError) as too_big:
        b.receive_message(b"\0" * 9000)
    assert too_big.value.code == CloseCode.MESSAGE_TOO_BIG
    with pytest.raises(ProtocolError, match="exceeds max_frame 4096"):
        b.receive_message(struct.pack("!BBII", 4, 0, 1, 5000) + b"\0" * 5000)
    with pytest.raises(ProtocolError, match="wrong parity"):
        b.receive_message(encode_frame(FrameType.OPEN, 0, 2, b"\x01{}"))
    with pytest.raises(ProtocolError, match="second HELLO"):
        b.receive_message(encode_frame(FrameType.HELLO, 0, 0, b"{}"))


def test_version_mismatch() -> None:
    b = Session(node="b", initiator=False)
    hello = {"proto": "wsnet", "version": 2, "node": "a", "caps": [], "window": 1,
             "max_frame": 1, "max_message": 1, "max_channels": 1}  # fmt: skip
    with pytest.raises(ProtocolError) as exc:
        b.receive_message(encode_frame(FrameType.HELLO, 0, 0, json.dumps(hello).encode()))
    assert exc.value.code == CloseCode.VERSION_MISMATCH
    assert "peer speaks 2, this node speaks 1" in exc.value.reason


def test_expected_hello_first() -> None:
    b = Session(node="b", initiator=False)
    with pytest.raises(ProtocolError, match="expected HELLO first"):
        b.receive_message(encode_frame(FrameType.PING, 0, 0, b"\0" * 8))


def test_keepalive_ping_pong_and_timeouts() -> None:
    clock = Clock()
    a, b = pair(clock=clock)
    a.keepalive = Keepalive(interval=1.0, timeout=4.0)
    clock.now += 1.0
    assert a.tick() == []
    pump(a, b)  # PING
    clock.now += 0.01
    (pong,) = pump(b, a)
    assert isinstance(pong, PongReceived)
    assert pong.rtt == pytest.approx(0.01)
    clock.now += 4.5  # nothing heard from b since the PONG
    (timeout,) = a.tick()
    assert timeout == LinkTimeout(CloseCode.KEEPALIVE_TIMEOUT, "peer silent for 4.5s")
    lonely = Session(node="x", initiator=True, clock=clock)
    clock.now += 11
    assert lonely.tick()[0].code == CloseCode.HELLO_TIMEOUT  # type: ignore[union-attr]


def test_window_above_max_credit_resets() -> None:
    a, b = pair()
    cid = open_stream(a, b)
    events = a.receive_message(encode_frame(FrameType.WINDOW, 0, cid, struct.pack("!I", 2**31)))
    assert events[0] == ChannelReset(cid, ResetCode.FLOW_CONTROL, "credit above 2**31-1")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_decoder_raises_only_protocol_error(blob: bytes) -> None:
    try:
        frames = decode_message(blob, max_payload=1024)
    except ProtocolError:
        return
    # every payload is a view into the input: nothing allocated beyond the message
    assert sum(len(f.payload) for f in frames) <= len(blob)
    assert all(f.payload.obj is not None for f in frames)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1025, max_value=2**32 - 1))
def test_hostile_length_rejected_before_slicing(length: int) -> None:
    with pytest.raises(ProtocolError, match="exceeds limit"):
        decode_message(struct.pack("!BBII", 4, 0, 1, length), max_payload=1024)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([int(t) for t in FrameType] + [0, 10, 255]),
            st.sampled_from([0, Flag.FIN, 0xFF]),
            st.integers(min_value=0, max_value=6),
            st.binary(max_size=64),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_established_session_raises_only_protocol_error(
    frames: list[tuple[int, int, int, bytes]],
) -> None:
    a, b = pair()
    open_stream(a, b)
    message = b"".join(struct.pack("!BBII", t, f, c, len(p)) + p for t, f, c, p in frames)
    with contextlib.suppress(ProtocolError):
        b.receive_message(message)
    b.data_to_send()  # whatever it queued is encodable


def test_open_carries_ttl_for_relays() -> None:
    a, b = pair()
    a.open_channel(ChannelKind.STREAM, "svc", dst="far", ttl=7)
    (req,) = pump(a, b)
    assert isinstance(req, ChannelRequested)
    assert req.request.ttl == 7
    assert req.request.dst == "far"
    a.open_channel(ChannelKind.DATAGRAM, "ether")
    (req,) = pump(a, b)
    assert req.request.ttl == 16  # type: ignore[union-attr]
    assert req.request.kind == ChannelKind.DATAGRAM  # type: ignore[union-attr]


@pytest.mark.parametrize("ftype", list(FrameType))
@pytest.mark.parametrize("payload", [b"", b"\x00\x01payload", bytes(range(256)) * 4])
def test_frame_round_trip_every_type(ftype: FrameType, payload: bytes) -> None:
    two = encode_frame(ftype, Flag.FIN, 0xFFFFFFFF, payload) + encode_frame(ftype, 0, 7, b"x")
    first, second = decode_message(two, max_payload=4096)
    assert (first.type, first.flags, first.channel, bytes(first.payload)) == (
        ftype, Flag.FIN, 0xFFFFFFFF, payload,
    )  # fmt: skip
    assert (second.type, second.channel, bytes(second.payload)) == (ftype, 7, b"x")
