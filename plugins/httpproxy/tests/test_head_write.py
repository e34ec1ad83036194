"""When the entry node writes a response head: with a small body of known length in the
same send (one segment for the client), at once for a streamed body.

Read with a raw socket, so what arrives in one ``recv`` is seen: a head written on its
own, then the body, reaches a client that waits on the socket as two reads most of the
time, and 20 requests in a row each arriving whole only happen with the one write.
"""

from __future__ import annotations

import select
import socket
import time

from http_helpers import Upstream, entry_exit, route

from wsnet.testing import NodeFactory

REQUESTS = 20


def _first_read(s: socket.socket, request: bytes) -> bytes:
    """Send ``request``; the bytes of the first read once the socket is readable."""
    s.sendall(request)
    readable, _, _ = select.select([s], [], [], 10)
    assert readable, "no response within 10 s"
    return s.recv(1 << 20)


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = {k.lower(): v for k, v in fields.items()}.get("content-length")
    return bool(sep) and length is not None and len(body) == int(length)


def test_small_body_leaves_with_its_head(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    _, _, base = entry_exit(wsnet_node_factory, upstream, [route("/px", "G", f"{upstream.base}/x")])
    port = int(base.rsplit(":", 1)[1])
    request = b"GET /px/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    whole = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(REQUESTS):
            data = _first_read(s, request)
            if not _complete(data):  # the rest of this response, before the next request
                deadline = time.monotonic() + 10
                while not _complete(data) and time.monotonic() < deadline:
                    data += s.recv(1 << 20)
            else:
                whole += 1
            assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert whole == REQUESTS, f"only {whole} of {REQUESTS} responses came in one read"


def test_streamed_body_head_comes_at_once(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """A body of unknown length is not held back with its head: the upstream's head is
    at the client long before the upstream's body (3 s later)."""
    _, _, base = entry_exit(wsnet_node_factory, upstream, [route("/px", "G", f"{upstream.base}/x")])
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        t0 = time.monotonic()
        data = _first_read(s, b"GET /px/trickle?s=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        waited = time.monotonic() - t0
    head = data.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 200") and b"transfer-encoding: chunked" in head, head
    assert b"late" not in data and waited < 2.5, (waited, data)
