"""What crosses the channel, and the header rules both ends share.

A request channel carries, in each direction, one *head* (4-byte big-endian length,
then a JSON object) followed by the body bytes up to the half-close.  HTTP itself is
parsed and written by aiohttp on both ends; only this small envelope is ours.

request head:  {"v": 1, "route", "method", "upstream" (scheme://host:port), "target"
                (path?query), "headers": [[name, value], ...], "length" (int or null:
                chunked), "connect_timeout", "read_timeout", "tls_verify", "ws"
                (a WebSocket upgrade: "protocols" then)}
response head: {"status", "reason", "headers", "length"}  or  {"error": STATUS, "reason"}
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from wsnet import StreamChannel

_LEN = struct.Struct(">I")
VERSION = 1

# RFC 9110 §7.6.1: connection-specific fields, never forwarded by a proxy (plus the
# Proxy-* fields of the hop between client and proxy, and Trailer since bodies are
# re-framed).  Host and Content-Length are set by the sending aiohttp itself.
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "trailer",
        "host",
        "content-length",
    )
)
# What a WebSocket handshake sets itself on each end.
WS_HANDSHAKE = frozenset(
    (
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-accept",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    )
)


class WireError(Exception):
    """A malformed or oversized head: the channel is reset."""


def end_to_end(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> list[list[str]]:
    """The headers a proxy passes on: hop-by-hop ones and those Connection names dropped."""
    named = {t.strip().lower() for v in headers.getall("Connection", []) for t in v.split(",")}
    drop = HOP_BY_HOP | named
    return [[k, v] for k, v in headers.items() if k.lower() not in drop]


def to_multidict(pairs: Iterable[Any]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for pair in pairs:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise WireError(f"bad header entry {pair!r}")
        out.add(pair[0], pair[1])
    return out


def encode_head(head: dict[str, Any]) -> bytes:
    """The head as it crosses the channel: length, then the JSON."""
    data = json.dumps(head, separators=(",", ":")).encode()
    return _LEN.pack(len(data)) + data


def head_size(encoded: bytes) -> int:
    return len(encoded) - _LEN.size


async def write_head(channel: StreamChannel, head: dict[str, Any]) -> None:
    await channel.write(encode_head(head))


async def read_head(channel: StreamChannel, limit: int) -> dict[str, Any]:
    """The head, or WireError; ChannelRefused when the peer reset the channel."""
    try:
        (size,) = _LEN.unpack(await channel.readexactly(_LEN.size))
        if size > limit:
            raise WireError(f"head of {size} bytes over the limit of {limit}")
        head = json.loads(await channel.readexactly(size))
    except (EOFError, ValueError) as exc:  # IncompleteReadError is an EOFError
        raise WireError(f"bad head: {exc}") from None
    if not isinstance(head, dict):
        raise WireError("bad head: not an object")
    return head
