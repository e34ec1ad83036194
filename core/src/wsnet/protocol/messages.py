"""Payload formats of the control frames (HELLO, OPEN, RESET, WINDOW, PING, ROUTES).

Every parser here turns malformed input into ProtocolError, so a session never
sees a bare ValueError, KeyError or UnicodeDecodeError from peer-controlled bytes.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .errors import CloseCode, ProtocolError

PROTOCOL_NAME = "wsnet"
PROTOCOL_VERSION = 1
DEFAULT_TTL = 16  # hops an OPEN may take; each relay decrements it
NODE_NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")  # \Z: no trailing newline

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_OPEN_HEAD = struct.Struct("!B")


class ChannelKind(IntEnum):
    STREAM = 1  # ordered bytes, credit flow control, half-close
    DATAGRAM = 2  # independent messages, no retransmission, dropped on overflow


@dataclass(frozen=True, slots=True)
class Hello:
    node: str
    version: int = PROTOCOL_VERSION
    capabilities: tuple[str, ...] = ()
    window: int = 0  # initial credit per stream channel the sender grants
    max_frame: int = 0  # largest frame payload the sender accepts
    max_message: int = 0  # largest WebSocket message the sender accepts
    max_channels: int = 0


@dataclass(frozen=True, slots=True)
class OpenRequest:
    kind: ChannelKind
    service: str
    src: str = ""  # node that opened the channel (differs from the link peer when relayed)
    dst: str = ""  # destination node; "" means the link peer itself
    args: dict[str, Any] = field(default_factory=dict)
    ttl: int = DEFAULT_TTL  # relays decrement it and refuse at 1, so a routing loop cannot spin
    # Who asked for the channel at the node where it entered the mesh, set by relays;
    # honoured only from a peer trusted to relay for ``src`` (docs/security.md).
    principal: str = ""


def _json_object(payload: memoryview, what: str) -> dict[str, Any]:
    try:
        value = json.loads(bytes(payload).decode("utf-8"))
    # RecursionError: a peer can nest 60 KB of "[" in a control frame; it must close
    # the link as a protocol error, not escape as an unhandled exception.
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"{what}: payload is not UTF-8 JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what}: payload is not a JSON object")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field(obj: dict[str, Any], key: str, kind: type, what: str) -> Any:
    value = obj.get(key)
    # bool is an int subclass; a limit of `true` is malformed, not 1.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"{what}: field {key!r} missing or not {kind.__name__}")
    return value


def encode_hello(hello: Hello) -> bytes:
    body = {
        "proto": PROTOCOL_NAME,
        "version": hello.version,
        "node": hello.node,
        "caps": list(hello.capabilities),
        "window": hello.window,
        "max_frame": hello.max_frame,
        "max_message": hello.max_message,
        "max_channels": hello.max_channels,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode_hello(payload: memoryview) -> Hello:
    obj = _json_object(payload, "HELLO")
    if obj.get("proto") != PROTOCOL_NAME:
        raise ProtocolError("HELLO: peer is not a wsnet node (field 'proto')")
    version = _field(obj, "version", int, "HELLO")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version mismatch: peer speaks {version}, this node speaks "
            f"{PROTOCOL_VERSION}",
            CloseCode.VERSION_MISMATCH,
        )
    node = _field(obj, "node", str, "HELLO")
    if not NODE_NAME_RE.match(node):
        raise ProtocolError(f"HELLO: invalid node name {node[:64]!r}", CloseCode.BAD_NODE_NAME)
    caps = obj.get("caps", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise ProtocolError("HELLO: field 'caps' is not a list of strings")
    limits = {k: _field(obj, k, int, "HELLO") for k in ("window", "max_frame", "max_message")}
    if min(limits.values()) <= 0:
        raise ProtocolError("HELLO: window, max_frame and max_message must be positive")
    return Hello(
        node=node,
        version=version,
        capabilities=tuple(caps),
        window=limits["window"],
        max_frame=limits["max_frame"],
        max_message=limits["max_message"],
        max_channels=_field(obj, "max_channels", int, "HELLO"),
    )


def encode_open(req: OpenRequest) -> bytes:
    body = {
        "service": req.service,
        "src": req.src,
        "dst": req.dst,
        "args": req.args,
        "ttl": req.ttl,
    }
    if req.principal:
        body["principal"] = req.principal
    return _OPEN_HEAD.pack(req.kind) + json.dumps(body, separators=(",", ":")).encode()


def decode_open(payload: memoryview) -> OpenRequest:
    if len(payload) < _OPEN_HEAD.size:
        raise ProtocolError("OPEN: empty payload")
    (kind,) = _OPEN_HEAD.unpack_from(payload)
    if kind not in (ChannelKind.STREAM, ChannelKind.DATAGRAM):
        raise ProtocolError(f"OPEN: unknown channel kind {kind}")
    obj = _json_object(payload[_OPEN_HEAD.size :], "OPEN")
    args = obj.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError("OPEN: field 'args' is not an object")
    return OpenRequest(
        kind=ChannelKind(kind),
        service=_field(obj, "service", str, "OPEN"),
        src=obj.get("src", "") if isinstance(obj.get("src", ""), str) else "",
        dst=obj.get("dst", "") if isinstance(obj.get("dst", ""), str) else "",
        args=args,
        ttl=obj["ttl"] if _is_int(obj.get("ttl")) else DEFAULT_TTL,
        principal=obj.get("principal", "") if isinstance(obj.get("principal"), str) else "",
    )


def encode_reset(code: int, reason: str) -> bytes:
    return _U16.pack(code) + reason.encode("utf-8")[:1024]


def decode_reset(payload: memoryview) -> tuple[int, str]:
    if len(payload) < _U16.size:
        raise ProtocolError("RESET: payload shorter than its code")
    (code,) = _U16.unpack_from(payload)
    return code, bytes(payload[_U16.size :]).decode("utf-8", errors="replace")


def encode_u32(value: int) -> bytes:
    return _U32.pack(value)


def decode_u32(payload: memoryview, what: str) -> int:
    if len(payload) != _U32.size:
        raise ProtocolError(f"{what}: payload must be 4 bytes, got {len(payload)}")
    value: int = _U32.unpack_from(payload)[0]
    return value


def encode_u64(value: int) -> bytes:
    return _U64.pack(value & 0xFFFFFFFFFFFFFFFF)


def decode_u64(payload: memoryview, what: str) -> int:
    if len(payload) != _U64.size:
        raise ProtocolError(f"{what}: payload must be 8 bytes, got {len(payload)}")
    value: int = _U64.unpack_from(payload)[0]
    return value


def encode_routes(routes: dict[str, int]) -> bytes:
    return json.dumps(routes, separators=(",", ":"), sort_keys=True).encode()


def decode_routes(payload: memoryview) -> dict[str, int]:
    obj = _json_object(payload, "ROUTES")
    routes: dict[str, int] = {}
    for name, hops in obj.items():
        if not NODE_NAME_RE.match(name) or not isinstance(hops, int) or isinstance(hops, bool):
            raise ProtocolError(f"ROUTES: bad entry {name[:64]!r}")
        routes[name] = hops
    return routes
