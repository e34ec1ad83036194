"""Issue 15 seen by an attacker, part 1: what a hostile client tried (path and Host
spellings, forwarded headers, oversized heads, slow or silent connections).  Each test
fails on the code before its fix; part 2 is test_breaker15_hostile.py."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import socket
import time

from http_helpers import Upstream, curl, entry_exit, route, status_body

from wsnet.testing import NodeFactory, wait_until


def _raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """One raw request on its own connection; what came back before EOF or the timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while len(out) < 1 << 20 and (got := s.recv(65536)):
                out += got
        except TimeoutError:
            pass
    return out


def test_normalize_path() -> None:
    from wsnet_httpproxy.spec import normalize_path

    cases = {
        "/pub/../x": "/x",
        "/pub/%2e%2E/x/": "/x/",
        "//x//echo": "/x/echo",
        "/%78/echo": "/x/echo",
        "/../../etc": "/etc",
        "/a/./b?q=/../": "/a/b",
        "/a%2Fb": "/a%2Fb",  # an encoded slash is data, not a separator
    }
    assert {raw: normalize_path(raw) for raw in cases} == cases


def test_path_tricks_cannot_pass_another_routes_access_list(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """`/x` is denied to loopback; the other routes are open.  Before the fix, routes were
    matched on the raw path and the exit node's URL parser removed the dot segments
    afterwards, so each of these paths reached the upstream's /x/echo."""
    routes = [
        route("/", "G", f"{upstream.base}/"),
        route("/x", "G", f"{upstream.base}/x", deny=["127.0.0.0/8"]),
        route("/pub", "G", f"{upstream.base}/x/pub"),
        route("/open", "G", f"{upstream.base}/x"),
    ]
    _, _, base = entry_exit(wsnet_node_factory, upstream, routes)
    denied = (403, "route x: client 127.0.0.1 is not allowed\n")
    for path in ("/x/echo", "/pub/../../x/echo", "/pub/%2e%2e/%2E%2E/x/echo", "//x/echo"):
        assert status_body(base + path, "--path-as-is") == denied, path
    assert status_body(f"{base}/%78/echo") == denied
    # /pub/../echo is /echo (the root route; the upstream has no /echo), not /x/echo.
    assert status_body(f"{base}/pub/../echo", "--path-as-is")[0] == 404
    port = int(base.rpartition(":")[2])
    absolute = _raw(
        port, b"GET http://any.example/x/echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    assert absolute.startswith(b"HTTP/1.1 403 "), absolute[:200]
    # What was matched is what is sent; the query goes as it came.
    code, body = status_body(f"{base}/open/a/..//./echo?q=/../", "--path-as-is")
    assert code == 200 and json.loads(body)["path_qs"] == "/x/echo?q=/../"


def test_the_clients_forwarded_proto_and_host_do_not_pass(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """Before the fix the client's X-Forwarded-Proto/-Host went first, ours second: a
    plain-HTTP client claimed https (and any host) to an upstream reading the first."""
    _, _, base = entry_exit(wsnet_node_factory, upstream, [route("/px", "G", f"{upstream.base}/x")])
    spoof = (
        "X-Forwarded-Proto: https",
        "X-Forwarded-Host: bank.example",
        "X-Forwarded-For: 6.6.6.6",
    )
    hop = ("Connection: keep-alive, X-Forwarded-For",)  # named hop-by-hop: dropped, not chained
    for extra, xff in (((), "6.6.6.6, 127.0.0.1"), (hop, "127.0.0.1")):
        args = [a for h in (*spoof, *extra) for a in ("-H", h)]
        code, body = status_body(f"{base}/px/echo", *args)
        seen = [(k.lower(), v) for k, v in json.loads(body)["headers"]]
        assert code == 200 and [v for k, v in seen if k.startswith("x-forwarded")] == [
            xff,
            "http",
            base.removeprefix("http://"),
        ]


def _closed(sock: socket.socket) -> bool:
    """The node closed (or reset) this connection."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def test_slow_heads_are_cut_at_the_deadline_and_capped_per_source(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """Slowloris: connections that never finish their head.  Before the fix the listener
    kept each one for ever, without a cap (2,000 from one address held 2,000 of the
    node's descriptors), so one client could starve the node of descriptors."""
    _, ell, base = entry_exit(
        wsnet_node_factory,
        upstream,
        [route("/px", "G", f"{upstream.base}/x")],
        entry_config={"httpproxy": {"request_timeout": 2, "max_pending_per_source": 20}},
    )
    assert ell.proc is not None
    fds = lambda: len(os.listdir(f"/proc/{ell.proc.pid}/fd"))  # noqa: E731
    before, port = fds(), int(base.rpartition(":")[2])
    with contextlib.ExitStack() as stack:
        slow = []
        for _ in range(40):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
            with contextlib.suppress(OSError):  # refused ones may be reset already
                sock.sendall(b"GET /px/echo HTTP/1.1\r\nHost: a\r\n")
            slow.append(sock)
        wait_until(lambda: sum(map(_closed, slow[20:])) == 20, timeout=10, what="cap: RST")
        assert not any(map(_closed, slow[:20]))
        # Another address is served meanwhile.
        r = curl(
            "--interface", "127.0.0.2", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/px/echo"
        )
        assert r.stdout == b"200"
        wait_until(lambda: all(map(_closed, slow[:20])), timeout=15, what="deadline: closed")
    wait_until(lambda: fds() <= before + 2, timeout=10, what="descriptors back")
    # A kept-alive connection that asks nothing more is closed as soon (aiohttp's 75 s
    # before), so idle connections cannot pile up either.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
        idle.sendall(b"GET /px/etag HTTP/1.1\r\nHost: a\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200 ")
        wait_until(lambda: _closed(idle), timeout=10, what="idle keep-alive closed")


def test_slow_request_bodies_neither_hold_the_pool_nor_stall_for_ever(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """Two clients send a head and then stall in their bodies, against an exit node with a
    pool of two.  Before the fix they held both upstream connections for ever, and every
    other request of that exit node waited for a free one, without a deadline."""
    _, _, base = entry_exit(
        wsnet_node_factory,
        upstream,
        [route("/px", "G", f"{upstream.base}/x", read_timeout=4, connect_timeout=1)],
        exit_config={"pool_size": 2},
    )
    port = int(base.rpartition(":")[2])
    head = b"POST /px/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nstart"
    with contextlib.ExitStack() as stack:
        slow = [
            stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=20))
            for _ in range(2)
        ]
        for sock in slow:
            sock.sendall(head)
        time.sleep(0.5)
        r = curl("-o", "-", "-w", "\n%{http_code}", f"{base}/px/echo", timeout=15)
        assert r.stdout.decode() == (
            f"route px: node G: upstream 127.0.0.1:{upstream.port} timed out"
            " (connect 1s, read 4s)\n\n504"
        )
        for sock in slow:  # the route's read_timeout, between reads of the client's body
            reply = sock.recv(4096)
            assert reply.startswith(b"HTTP/1.1 408 "), reply
            assert reply.endswith(b"route px: request body stalled for 4s\n")
    assert status_body(f"{base}/px/etag")[0] == 200  # the pool is free again


def test_a_trailing_dot_in_host_still_picks_the_host_route(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """`Host: secret.example.` is secret.example to DNS and to a name-based upstream;
    before the fix it missed the host route (and its deny) for the catch-all route."""
    routes = [
        route("/", "G", f"{upstream.base}/x", preserve_host=True),
        route("/", "G", f"{upstream.base}/x", host="secret.example", deny=["127.0.0.0/8"]),
    ]
    _, _, base = entry_exit(wsnet_node_factory, upstream, routes)
    denied = (403, "route secret.example-root: client 127.0.0.1 is not allowed\n")
    for host in ("secret.example", "SECRET.example.", "secret.example.:80"):
        assert status_body(f"{base}/echo", "-H", f"Host: {host}") == denied, host
    assert status_body(f"{base}/echo", "-H", "Host: other.example")[0] == 200


def test_a_head_over_max_head_is_a_431_at_the_entry_node(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """Before the fix the entry node sent the 100 KB head over the link and the exit node
    refused it: a 502, as if the exit node or the upstream had failed."""
    g, _, base = entry_exit(wsnet_node_factory, upstream, [route("/px", "G", f"{upstream.base}/x")])
    port = int(base.rpartition(":")[2])
    big = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(100))
    reply = _raw(port, b"GET /px/echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" + big + b"\r\n")
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:300]
    body = rb"\r\n\r\nroute px: request head of 1\d{5} bytes over max_head \(65536\)\n"
    assert re.search(body + b"$", reply), reply[-200:]
    assert g.ctl("proxies")["exit"]["served"] == {}  # nothing reached the exit node


def test_a_request_without_a_body_gets_no_content_length(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """Before the fix every GET went upstream with `Content-Length: 0`, a header the
    client did not send (RFC 9110 §8.6: not for a request without content whose method
    expects none)."""
    _, _, base = entry_exit(wsnet_node_factory, upstream, [route("/px", "G", f"{upstream.base}/x")])
    for method, want in (("GET", None), ("OPTIONS", None), ("DELETE", "0"), ("POST", "0")):
        code, body = status_body(f"{base}/px/echo", "-X", method)
        lengths = [v for k, v in json.loads(body)["headers"] if k.lower() == "content-length"]
        assert code == 200 and lengths == ([want] if want else []), (method, lengths)
