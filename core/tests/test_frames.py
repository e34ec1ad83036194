"""Frame codec of the link protocol: pure function calls over bytes, no I/O."""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsnet.protocol import HEADER_SIZE, CloseCode, Flag, FrameType, ProtocolError, decode_message
from wsnet.protocol.frames import HEADER, MAX_CHANNEL_ID, encode_frame, encode_header

MAX = 1024
FAST = settings(max_examples=200, deadline=None)


def header(ftype: int, flags: int, channel: int, length: int) -> bytes:
    """The wire header written by hand, so the codec is checked against the spec layout."""
    return struct.pack("!BBII", ftype, flags, channel, length)


def test_header_layout_is_ten_bytes_network_order() -> None:
    assert HEADER_SIZE == 10
    assert encode_header(FrameType.DATA, Flag.FIN, 0x01020304, 0x0A0B0C0D) == bytes(
        [4, 1, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D]
    )


@pytest.mark.parametrize("ftype", list(FrameType))
def test_round_trip_every_frame_type(ftype: FrameType) -> None:
    payload = bytes(range(ftype * 3))  # a different length per type, zero for none
    message = encode_frame(ftype, 0x5A, 77, payload)
    assert message[:HEADER_SIZE] == header(ftype, 0x5A, 77, len(payload))
    (frame,) = decode_message(message, MAX)
    assert frame.type == ftype
    assert frame.flags == 0x5A
    assert frame.channel == 77
    assert bytes(frame.payload) == payload


def test_empty_payload_and_extreme_channel_ids() -> None:
    message = encode_frame(FrameType.ACCEPT, 0, MAX_CHANNEL_ID) + encode_frame(
        FrameType.DATA, Flag.FIN, 0
    )
    first, second = decode_message(message, MAX)
    assert (first.type, first.channel, bytes(first.payload)) == (
        FrameType.ACCEPT,
        MAX_CHANNEL_ID,
        b"",
    )
    assert (second.type, second.flags, second.channel) == (FrameType.DATA, Flag.FIN, 0)


def test_several_frames_per_message_keep_order_and_boundaries() -> None:
    parts = [(FrameType(1 + i % len(FrameType)), i, bytes([i]) * i) for i in range(20)]
    message = b"".join(encode_frame(t, 0, ch, p) for t, ch, p in parts)
    frames = decode_message(message, MAX)
    assert [(f.type, f.channel, bytes(f.payload)) for f in frames] == parts


def test_payload_is_a_zero_copy_view_into_the_message() -> None:
    buf = bytearray(encode_frame(FrameType.DATA, 0, 1, b"abcdef"))
    (frame,) = decode_message(buf, MAX)
    assert isinstance(frame.payload, memoryview)
    buf[HEADER_SIZE] = ord("X")  # a copy would not see this write
    assert bytes(frame.payload) == b"Xbcdef"


def test_accepts_bytes_bytearray_and_memoryview() -> None:
    raw = encode_frame(FrameType.PING, 0, 0, b"12345678")
    for message in (raw, bytearray(raw), memoryview(raw), memoryview(raw)[0:]):
        (frame,) = decode_message(message, MAX)
        assert bytes(frame.payload) == b"12345678"


def test_empty_message_is_an_error() -> None:
    with pytest.raises(ProtocolError, match="empty message"):
        decode_message(b"", MAX)


@pytest.mark.parametrize("cut", range(1, HEADER_SIZE))
def test_truncated_header(cut: int) -> None:
    message = encode_frame(FrameType.DATA, 0, 1, b"xy")[:cut]
    with pytest.raises(ProtocolError) as info:
        decode_message(message, MAX)
    assert "truncated frame header" in info.value.reason
    assert "at byte 0" in info.value.reason


def test_truncated_header_after_a_good_frame_names_its_offset() -> None:
    good = encode_frame(FrameType.DATA, 0, 1, b"abc")
    with pytest.raises(ProtocolError, match=f"truncated frame header at byte {len(good)}"):
        decode_message(good + b"\x04\x00\x00", MAX)


def test_truncated_payload_names_declared_and_left() -> None:
    message = header(FrameType.DATA, 0, 1, 100) + b"z" * 40
    with pytest.raises(ProtocolError) as info:
        decode_message(message, MAX)
    assert "truncated frame payload" in str(info.value)
    assert "100 declared" in str(info.value)
    assert "40 left" in str(info.value)


@pytest.mark.parametrize("ftype", [0, 10, 99, 255])
def test_unknown_frame_type(ftype: int) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(header(ftype, 0, 1, 0), MAX)
    assert f"unknown frame type {ftype}" in str(info.value)
    assert "at byte 0" in str(info.value)


def test_unknown_type_in_second_frame_names_its_offset() -> None:
    first = encode_frame(FrameType.PONG, 0, 0, b"x" * 8)
    with pytest.raises(ProtocolError, match=f"unknown frame type 42 at byte {len(first)}"):
        decode_message(first + header(42, 0, 0, 0), MAX)


def test_payload_at_max_is_accepted_above_is_refused() -> None:
    (frame,) = decode_message(encode_frame(FrameType.DATA, 0, 1, b"a" * MAX), MAX)
    assert len(frame.payload) == MAX
    with pytest.raises(ProtocolError) as info:
        decode_message(encode_frame(FrameType.DATA, 0, 1, b"a" * (MAX + 1)), MAX)
    assert f"{MAX + 1} bytes" in str(info.value)
    assert f"exceeds limit {MAX}" in str(info.value)


def test_protocol_error_defaults_to_protocol_error_close_code() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(b"\x00", MAX)
    assert info.value.code == CloseCode.PROTOCOL_ERROR


# ------------------------------------------------------------------ properties


def _is_view_into(view: memoryview, message: bytes) -> bool:
    """True if ``view`` shares ``message``'s buffer (no copy was made)."""
    return view.obj is message


@FAST
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_protocol_error(blob: bytes) -> None:
    try:
        frames = decode_message(blob, 256)
    except ProtocolError:
        return
    # Whatever decoded must be views of the input that together fit in it.
    assert all(_is_view_into(f.payload, blob) for f in frames)
    assert sum(HEADER_SIZE + len(f.payload) for f in frames) == len(blob)


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(FrameType)),
            st.integers(0, 255),
            st.integers(0, MAX_CHANNEL_ID),
            st.binary(max_size=64),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_round_trip_property(frames: list[tuple[FrameType, int, int, bytes]]) -> None:
    message = b"".join(encode_frame(*f) for f in frames)
    decoded = decode_message(message, 64)
    assert [(f.type, f.flags, f.channel, bytes(f.payload)) for f in decoded] == frames


@FAST
@given(
    st.binary(max_size=64),
    st.integers(0, 80) | st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=64),
)
def test_hostile_length_never_allocates(prefix_payload: bytes, length: int, tail: bytes) -> None:
    """A huge declared length is refused before slicing; results are views, never copies."""
    # The body after the hostile header is at most ``length`` bytes, so it never holds a
    # further frame: the outcome depends on the length field alone.
    body = tail[:length]
    message = encode_frame(FrameType.DATA, 0, 1, prefix_payload) + header(
        FrameType.DATA, 0, 2, length
    )
    message += body
    limit = 4096
    if length > limit:
        with pytest.raises(ProtocolError, match=f"frame payload of {length} bytes exceeds limit"):
            decode_message(message, limit)
        return
    if length > len(body):
        with pytest.raises(ProtocolError, match="truncated frame payload"):
            decode_message(message, limit)
        return
    frames = decode_message(message, limit)
    assert all(_is_view_into(f.payload, message) for f in frames)
    assert sum(len(f.payload) for f in frames) <= len(message)


@FAST
@given(st.integers(MAX + 1, 0xFFFFFFFF))
def test_declared_length_above_max_refused_even_with_no_payload(length: int) -> None:
    # Only a header: had the decoder trusted the length, it would report truncation.
    with pytest.raises(ProtocolError, match="exceeds limit"):
        decode_message(header(FrameType.DATA, 0, 1, length), MAX)


def test_header_struct_matches_documented_layout() -> None:
    assert HEADER.format in ("!BBII", b"!BBII")


@pytest.mark.parametrize("length", [2**20, 2**31, 0xFFFFFFFF])
def test_huge_declared_length_allocates_nothing_even_when_the_limit_allows_it(length: int) -> None:
    """With the limit out of the way, truncation must still be found without a big buffer."""
    message = header(FrameType.DATA, 0, 1, length) + b"x" * 16
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match="truncated frame payload"):
            decode_message(message, 0xFFFFFFFF)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024
