"""Fuzzing the frame and message decoders: hostile bytes raise ProtocolError, nothing else.

Hypothesis drives three kinds of input at every decoder a peer can reach: raw random
bytes, well-formed frames with random payloads, and valid messages with bytes flipped,
cut or spliced.  CI runs a bounded number of examples (a few seconds); for a longer
local run set WSNET_FUZZ_EXAMPLES, e.g. ``WSNET_FUZZ_EXAMPLES=200000 pytest -k fuzz``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsnet.protocol import (
    ChannelKind,
    FrameType,
    Hello,
    Limits,
    OpenRequest,
    ProtocolError,
    Session,
    decode_message,
    encode_frame,
)
from wsnet.protocol import messages as m

EXAMPLES = int(os.environ.get("WSNET_FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIMITS = Limits(window=4096, max_frame=4096, max_message=16384, send_buffer=8192)

# JSON values of every shape a peer could put in a control payload.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
hello_like = st.fixed_dictionaries(
    {},
    optional={
        "proto": st.sampled_from(["wsnet", "other"]) | json_values,
        "version": st.integers(0, 3) | json_values,
        "node": st.sampled_from(["a", "peer-1", "", "x" * 70, "a\n"]) | json_values,
        "caps": st.lists(st.text(max_size=5), max_size=3) | json_values,
        "window": st.integers(-1, 2**32) | json_values,
        "max_frame": st.integers(-1, 2**32) | json_values,
        "max_message": st.integers(-1, 2**32) | json_values,
        "max_channels": st.integers(-1, 2**32) | json_values,
    },
)
payloads = st.one_of(
    st.binary(max_size=64),
    hello_like.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda k, d: bytes([k]) + json.dumps(d).encode(), st.integers(0, 3), json_values),
    st.builds(m.encode_u32, st.integers(0, 2**32 - 1)),
    st.builds(m.encode_u64, st.integers(0, 2**64 - 1)),
    st.builds(m.encode_reset, st.integers(0, 65535), st.text(max_size=10)),
)
frames = st.builds(
    lambda t, f, c, p: encode_frame(t, f, c, p),
    st.integers(0, 12),  # known types and a few unknown ones
    st.integers(0, 255),
    st.sampled_from([0, 1, 2, 3, 4, 5, 2**32 - 1]),
    payloads,
)
messages = st.lists(frames, min_size=0, max_size=6).map(b"".join)


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    """A valid message with a few bytes flipped, cut off or inserted."""
    msg = bytearray(draw(messages) or encode_frame(FrameType.PING, 0, 0, m.encode_u64(1)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, max(0, len(msg) - 1)))
        if op == "flip" and msg:
            msg[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del msg[at:]
        else:
            msg[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(msg)


hostile = st.one_of(st.binary(max_size=256), messages, mangled())


def only_protocol_errors(call: Callable[[], Any]) -> None:
    with contextlib.suppress(ProtocolError):
        call()


@FUZZ
@given(hostile)
def test_fuzz_decode_message(data: bytes) -> None:
    only_protocol_errors(lambda: decode_message(data, 4096))


@FUZZ
@given(payloads | st.binary(max_size=128))
def test_fuzz_control_payload_decoders(payload: bytes) -> None:
    view = memoryview(payload)
    for decode in (m.decode_hello, m.decode_open, m.decode_reset, m.decode_routes):
        only_protocol_errors(lambda d=decode: d(view))  # type: ignore[misc]
    only_protocol_errors(lambda: m.decode_u32(view, "WINDOW"))
    only_protocol_errors(lambda: m.decode_u64(view, "PING"))


@FUZZ
@given(st.lists(hostile, min_size=1, max_size=4))
def test_fuzz_a_session_before_hello(stream: list[bytes]) -> None:
    """A listener's first contact with an unknown peer: anything but ProtocolError escapes."""
    session = Session(node="n", initiator=False, limits=LIMITS)
    for data in stream:
        try:
            session.receive_message(data)
        except ProtocolError:
            return
        session.data_to_send()


def _established() -> Session:
    session = Session(node="n", initiator=False, limits=LIMITS)
    hello = Hello(node="peer", window=4096, max_frame=4096, max_message=16384, max_channels=8)
    session.receive_message(encode_frame(FrameType.HELLO, 0, 0, m.encode_hello(hello)))
    opened = OpenRequest(ChannelKind.STREAM, "svc")
    session.receive_message(encode_frame(FrameType.OPEN, 0, 1, m.encode_open(opened)))
    session.accept(1)
    session.data_to_send()
    return session


@FUZZ
@given(st.lists(hostile, min_size=1, max_size=6))
def test_fuzz_an_established_session(stream: list[bytes]) -> None:
    """After HELLO, with a channel open: hostile messages end the link with ProtocolError
    or are handled; what the session then sends is always well-formed."""
    session = _established()
    for data in stream:
        try:
            session.receive_message(data)
        except ProtocolError:
            return
        for out in session.data_to_send():
            assert decode_message(out, 1 << 20)  # our own output always decodes
