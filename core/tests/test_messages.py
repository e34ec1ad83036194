"""Payload formats of the control frames: round trips and refusal of malformed input."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsnet.protocol import ChannelKind, CloseCode, Hello, OpenRequest, ProtocolError
from wsnet.protocol import messages as m

FAST = settings(max_examples=200, deadline=None)


def mv(data: bytes) -> memoryview:
    return memoryview(data)


def hello_body(**override: Any) -> dict[str, Any]:
    """A valid HELLO as a dict, with some fields replaced for a negative test."""
    body: dict[str, Any] = {
        "proto": "wsnet",
        "version": m.PROTOCOL_VERSION,
        "node": "alpha",
        "caps": ["x"],
        "window": 65536,
        "max_frame": 16384,
        "max_message": 20000,
        "max_channels": 8,
    }
    body.update(override)
    return body


def encode_json(obj: Any) -> memoryview:
    return mv(json.dumps(obj).encode())


# ----------------------------------------------------------------------- HELLO


def test_hello_round_trip() -> None:
    hello = Hello(
        node="node-1.example_x",
        capabilities=("routes", "l2"),
        window=1 << 20,
        max_frame=131072,
        max_message=1 << 21,
        max_channels=4096,
    )
    assert m.decode_hello(mv(m.encode_hello(hello))) == hello


def test_hello_wire_form_is_compact_json_with_proto_name() -> None:
    wire = json.loads(m.encode_hello(Hello(node="a", window=1, max_frame=2, max_message=3)))
    assert wire["proto"] == "wsnet"
    assert wire["version"] == m.PROTOCOL_VERSION
    assert wire["caps"] == []


def test_hello_caps_default_to_empty() -> None:
    body = hello_body()
    del body["caps"]
    assert m.decode_hello(encode_json(body)).capabilities == ()


def test_hello_version_mismatch_has_its_own_close_code() -> None:
    with pytest.raises(ProtocolError) as info:
        m.decode_hello(encode_json(hello_body(version=2)))
    assert info.value.code == CloseCode.VERSION_MISMATCH
    assert "peer speaks 2" in info.value.reason
    assert f"this node speaks {m.PROTOCOL_VERSION}" in info.value.reason


def test_hello_from_something_else_than_wsnet() -> None:
    with pytest.raises(ProtocolError, match="not a wsnet node") as info:
        m.decode_hello(encode_json(hello_body(proto="other")))
    assert info.value.code == CloseCode.PROTOCOL_ERROR


@pytest.mark.parametrize(
    "name",
    ["", "-lead", ".lead", "has space", "a/b", "x" * 64, "ümlaut", "semi;colon"],
)
def test_hello_bad_node_names(name: str) -> None:
    with pytest.raises(ProtocolError, match="invalid node name") as info:
        m.decode_hello(encode_json(hello_body(node=name)))
    assert info.value.code == CloseCode.BAD_NODE_NAME


def test_hello_node_name_with_trailing_newline_is_refused() -> None:
    with pytest.raises(ProtocolError) as info:
        m.decode_hello(encode_json(hello_body(node="alpha\n")))
    assert info.value.code == CloseCode.BAD_NODE_NAME


@pytest.mark.parametrize("name", ["a", "A9", "9", "a.b_c-d", "x" * 63])
def test_hello_good_node_names(name: str) -> None:
    assert m.decode_hello(encode_json(hello_body(node=name))).node == name


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("version", True),  # bool is an int subclass: still refused
        ("version", "1"),
        ("window", True),
        ("window", 1.5),
        ("max_frame", "16384"),
        ("max_message", None),
        ("max_channels", False),
        ("node", 5),
        ("caps", "routes"),
        ("caps", [1, 2]),
    ],
)
def test_hello_wrong_field_types(key: str, value: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        m.decode_hello(encode_json(hello_body(**{key: value})))
    assert info.value.code == CloseCode.PROTOCOL_ERROR
    assert key in info.value.reason


@pytest.mark.parametrize("key", ["version", "node", "window", "max_frame", "max_message"])
def test_hello_missing_field(key: str) -> None:
    body = hello_body()
    del body[key]
    with pytest.raises(ProtocolError, match=repr(key)):
        m.decode_hello(encode_json(body))


@pytest.mark.parametrize("key", ["window", "max_frame", "max_message"])
@pytest.mark.parametrize("value", [0, -1])
def test_hello_limits_must_be_positive(key: str, value: int) -> None:
    with pytest.raises(ProtocolError, match="must be positive"):
        m.decode_hello(encode_json(hello_body(**{key: value})))


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        (b"", "not UTF-8 JSON"),
        (b"{", "not UTF-8 JSON"),
        (b"\xff\xfe{}", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"hello"', "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"null", "not a JSON object"),
    ],
)
def test_hello_malformed_json(payload: bytes, text: str) -> None:
    with pytest.raises(ProtocolError) as info:
        m.decode_hello(mv(payload))
    assert info.value.reason.startswith("HELLO: ")
    assert text in info.value.reason


# ------------------------------------------------------------------------ OPEN


@pytest.mark.parametrize("kind", list(ChannelKind))
def test_open_round_trip(kind: ChannelKind) -> None:
    req = OpenRequest(
        kind=kind,
        service="tcp",
        src="west",
        dst="east",
        args={"host": "127.0.0.1", "port": 22, "nested": {"a": [1, 2]}},
        ttl=7,
    )
    payload = m.encode_open(req)
    assert payload[0] == kind  # the kind byte comes first, before the JSON body
    assert m.decode_open(mv(payload)) == req


def test_open_defaults_when_optional_fields_absent_or_wrong() -> None:
    body = json.dumps({"service": "echo", "src": 5, "dst": ["x"], "ttl": "9"}).encode()
    req = m.decode_open(mv(bytes([ChannelKind.STREAM]) + body))
    assert req == OpenRequest(ChannelKind.STREAM, "echo", "", "", {}, m.DEFAULT_TTL)


def test_open_bool_ttl_is_not_an_int() -> None:
    body = json.dumps({"service": "echo", "ttl": True}).encode()
    req = m.decode_open(mv(bytes([ChannelKind.STREAM]) + body))
    assert req.ttl == m.DEFAULT_TTL


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        (b"", "empty payload"),
        (b"\x00{}", "unknown channel kind 0"),
        (b"\x03{}", "unknown channel kind 3"),
        (b"\x01", "not UTF-8 JSON"),
        (b"\x01not json", "not UTF-8 JSON"),
        (b"\x01[]", "not a JSON object"),
        (b'\x01{"service": "s", "args": [1]}', "'args' is not an object"),
        (b'\x01{"service": 3}', "'service' missing or not str"),
        (b"\x01{}", "'service' missing or not str"),
    ],
)
def test_open_malformed(payload: bytes, text: str) -> None:
    with pytest.raises(ProtocolError) as info:
        m.decode_open(mv(payload))
    assert text in info.value.reason
    assert info.value.code == CloseCode.PROTOCOL_ERROR


# ----------------------------------------------------------------------- RESET


@pytest.mark.parametrize(("code", "reason"), [(0, ""), (5, "too much"), (65535, "ünïcode ✓")])
def test_reset_round_trip(code: int, reason: str) -> None:
    assert m.decode_reset(mv(m.encode_reset(code, reason))) == (code, reason)


def test_reset_reason_is_capped_and_bad_utf8_replaced() -> None:
    code, reason = m.decode_reset(mv(m.encode_reset(3, "x" * 5000)))
    assert (code, len(reason)) == (3, 1024)
    assert m.decode_reset(mv(b"\x00\x01\xff")) == (1, "\ufffd")


@pytest.mark.parametrize("payload", [b"", b"\x00"])
def test_reset_shorter_than_code(payload: bytes) -> None:
    with pytest.raises(ProtocolError, match="shorter than its code"):
        m.decode_reset(mv(payload))


# ---------------------------------------------------------------- WINDOW, PING


@pytest.mark.parametrize("value", [0, 1, 65536, 2**31 - 1, 2**32 - 1])
def test_window_u32_round_trip(value: int) -> None:
    assert m.decode_u32(mv(m.encode_u32(value)), "WINDOW") == value


@pytest.mark.parametrize("size", [0, 3, 5, 8])
def test_window_wrong_size(size: int) -> None:
    with pytest.raises(ProtocolError, match=f"WINDOW: payload must be 4 bytes, got {size}"):
        m.decode_u32(mv(b"\x00" * size), "WINDOW")


@pytest.mark.parametrize("value", [0, 1, 2**63, 2**64 - 1])
def test_ping_u64_round_trip(value: int) -> None:
    assert m.decode_u64(mv(m.encode_u64(value)), "PING") == value


def test_ping_u64_wraps_instead_of_overflowing() -> None:
    assert m.decode_u64(mv(m.encode_u64(2**64 + 5)), "PING") == 5


@pytest.mark.parametrize("size", [0, 4, 7, 9])
def test_ping_wrong_size(size: int) -> None:
    with pytest.raises(ProtocolError, match=f"PONG: payload must be 8 bytes, got {size}"):
        m.decode_u64(mv(b"\x00" * size), "PONG")


# ---------------------------------------------------------------------- ROUTES


def test_routes_round_trip() -> None:
    routes = {"a": 0, "b.example": 3, "Z-9_z": 15}
    assert m.decode_routes(mv(m.encode_routes(routes))) == routes
    assert m.decode_routes(mv(m.encode_routes({}))) == {}


@pytest.mark.parametrize(
    "body",
    [
        {"bad name": 1},
        {"-x": 1},
        {"a": "1"},
        {"a": True},
        {"a": 1.0},
        {"a": None},
    ],
)
def test_routes_bad_entries(body: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match="ROUTES: bad entry"):
        m.decode_routes(encode_json(body))


def test_routes_not_an_object() -> None:
    with pytest.raises(ProtocolError, match="ROUTES: payload is not a JSON object"):
        m.decode_routes(encode_json([["a", 1]]))


# ------------------------------------------------------------------ hostile JSON


@pytest.mark.parametrize("decoder", [m.decode_hello, m.decode_routes])
def test_deeply_nested_json_is_a_protocol_error(decoder: Callable[[memoryview], Any]) -> None:
    # 60 KB fits in max_control (64 KiB), so a peer can send this.
    with pytest.raises(ProtocolError):
        decoder(mv(b"[" * 60000))


# ---------------------------------------------------------------- properties

DECODERS: list[Callable[[memoryview], Any]] = [
    m.decode_hello,
    m.decode_open,
    m.decode_reset,
    m.decode_routes,
    lambda p: m.decode_u32(p, "WINDOW"),
    lambda p: m.decode_u64(p, "PING"),
]


@FAST
@given(st.sampled_from(DECODERS), st.binary(max_size=300))
def test_decoders_raise_only_protocol_error_on_random_bytes(
    decoder: Callable[[memoryview], Any], blob: bytes
) -> None:
    with contextlib.suppress(ProtocolError):
        decoder(mv(blob))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@FAST
@given(
    st.sampled_from([m.decode_hello, m.decode_open, m.decode_routes]),
    st.dictionaries(
        st.sampled_from(["proto", "version", "node", "caps", "window", "service", "args", "a"]),
        json_values,
    ),
    st.sampled_from([b"", b"\x01", b"\x02"]),
)
def test_decoders_raise_only_protocol_error_on_random_json(
    decoder: Callable[[memoryview], Any], obj: dict[str, Any], prefix: bytes
) -> None:
    with contextlib.suppress(ProtocolError):
        decoder(mv(prefix + json.dumps(obj).encode()))


@FAST
@given(
    st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z"),
    st.lists(st.text(max_size=10), max_size=4),
    st.integers(1, 2**40),
    st.integers(0, 2**20),
)
def test_hello_round_trip_property(node: str, caps: list[str], limit: int, chans: int) -> None:
    hello = Hello(node, m.PROTOCOL_VERSION, tuple(caps), limit, limit, limit, chans)
    assert m.decode_hello(mv(m.encode_hello(hello))) == hello
