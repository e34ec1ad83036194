"""Issue 15 seen by an attacker: what a hostile client or upstream tried, each a finding
that was fixed (the test fails on the code before its fix)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from http_helpers import Upstream, curl, entry_exit, route, run_upstream, status_body

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until

HERE = Path(__file__).resolve().parent


@pytest.fixture
def hostile() -> Iterator[int]:
    """The port of a hostile upstream (hostile_upstream.py) in its own process."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "hostile_upstream.py"), str(port)])
    try:
        wait_until(lambda: _accepts(port), timeout=20, what="hostile upstream")
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _via_hostile(
    factory: NodeFactory, upstream: Upstream, port: int
) -> tuple[NodeProcess, NodeProcess, str]:
    routes = [route("/h", "G", f"http://127.0.0.1:{port}/h", read_timeout=5)]
    return entry_exit(
        factory,
        upstream,
        routes,
        exit_config={"targets": [f"127.0.0.1:{port}"]},
    )


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


def test_an_upstreams_garbage_is_cut_short_and_does_not_stall_the_exit_node(
    wsnet_node_factory: NodeFactory, upstream: Upstream, hostile: int
) -> None:
    """100 KB after a complete response: aiohttp's error quotes them all.  Before the fix
    they went whole into the 502 body, the log and the event, and the event's redaction
    (quadratic then) held the exit node's loop for about 20 s: its link dropped."""
    g, _, base = _via_hostile(wsnet_node_factory, upstream, hostile)
    started = time.monotonic()
    code, body = status_body(f"{base}/h/overrun")
    assert code == 502 and body.startswith("route h: node G: upstream 127.0.0.1:")
    assert len(body) < 600, len(body)
    assert status_body(f"{base}/h/fine") == (200, "ok")
    assert time.monotonic() - started < 8  # loaded machine; the stall was ~20 s
    assert max(len(line) for line in g.log().splitlines()) < 1000
    assert g.ctl("links")[0]["peer"] == "L"


def test_a_switch_to_another_protocol_nobody_asked_for_is_a_502(
    wsnet_node_factory: NodeFactory, upstream: Upstream, hostile: int
) -> None:
    """Before the fix the client got `101 Switching Protocols` as the final answer to a
    GET, then nothing (curl waited for its deadline); on a kept-alive connection the
    next response followed the 101."""
    _, _, base = _via_hostile(wsnet_node_factory, upstream, hostile)
    r = curl("-o", "-", "-w", "\n%{http_code}", f"{base}/h/switch", timeout=10)
    assert r.stdout.decode() == (
        f"route h: node G: upstream 127.0.0.1:{hostile} answered 101 to a plain request\n\n502"
    )


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


def test_a_hostile_entry_node_cannot_move_the_request_to_another_host(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """The exit node checks the upstream's host against its targets, then appended the
    head's target to it: a target `@HOST:PORT/...` from a modified entry node made the
    URL http://ALLOWED@HOST:PORT/... and the exit node requested a host it never listed."""
    with run_upstream() as other:  # not in the exit node's targets
        g = wsnet_node_factory(
            "G",
            plugins=["httpproxy"],
            config={"httpproxy": {"targets": [f"127.0.0.1:{upstream.port}"]}},
        )
        port = free_port()
        listener = {
            "listen": f"127.0.0.1:{port}",
            "route": [route("/px", "G", f"{upstream.base}/x")],
        }
        ell = wsnet_node_factory(
            "L", listen=False, dial=[g.url], plugins=["httpproxy"],
            config={"httpproxy": {"listener": [listener]}}, start=False,
        )  # fmt: skip
        ell.argv[1:3] = [str(HERE / "hostile_entry.py")]  # instead of -m wsnet
        ell.env["WSNET_EVIL_HEAD"] = json.dumps({"target": f"@127.0.0.1:{other.port}/x/echo"})
        ell.start()
        wait_until(lambda: "G" in ell.peers(), what="link L->G")
        seen = other.get_json("/x/conns")["connections"]
        code, body = status_body(f"http://127.0.0.1:{port}/px/echo")
        assert (code, body) == (
            502,
            f"route px: node G: bad request target '@127.0.0.1:{other.port}/x/echo': "
            "expected /PATH\n",
        )
        assert other.get_json("/x/conns")["connections"] == seen + 1  # this question only


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


def test_a_response_cut_mid_body_is_an_error_the_client_sees_and_no_traceback(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """kill -9 of the exit node during two downloads (chunked, Content-Length).  Before
    the fix each cut was an aiohttp `Error handling request` traceback in the entry
    node's log (one per request, whatever cut it: a hostile upstream could fill the log)
    and counted as a 200."""
    g, ell, base = entry_exit(
        wsnet_node_factory, upstream, [route("/px", "G", f"{upstream.base}/x")]
    )
    urls = [f"{base}/px/stream", f"{base}/px/blob?size={1 << 30}"]
    args = [
        "curl",
        "-s",
        "--noproxy",
        "*",
        "--max-time",
        "30",
        "--limit-rate",
        "1M",
        "-o",
        "/dev/null",
    ]
    clients = [
        subprocess.Popen([*args, "-w", "%{http_code}", url], stdout=subprocess.PIPE) for url in urls
    ]
    try:
        wait_until(lambda: ell.ctl("httproutes")[0]["active"] == 2, timeout=10, what="2 downloads")
        time.sleep(0.5)
        g.kill()
        results = [(c.wait(timeout=20), c.stdout.read() if c.stdout else b"") for c in clients]
    finally:
        for c in clients:
            c.kill()
            c.wait(timeout=10)
    assert results == [(18, b"200"), (18, b"200")]  # curl 18: transfer closed, body incomplete
    row = ell.ctl("httproutes")[0]
    assert (row["active"], row["errors"], row["error_status"]) == (0, 2, {"502": 2}), row
    log = ell.log()
    assert "Traceback" not in log and "response cut: link to G lost" in log


def test_removing_a_listeners_last_route_ends_its_requests_within_the_grace(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """Before the fix delhttproute of a route with an endless download in flight did not
    answer until the download ended (aiohttp's shutdown waited up to 60 s, and longer)."""
    _, ell, _ = entry_exit(
        wsnet_node_factory,
        upstream,
        [route("/px", "G", f"{upstream.base}/x")],
        entry_config={"node": {"shutdown_grace": 1}},
    )
    port = free_port()
    ell.ctl(
        "addhttproute",
        path="/s",
        node="G",
        upstream=f"{upstream.base}/x",
        listen=f"127.0.0.1:{port}",
    )
    args = [
        "curl",
        "-s",
        "--noproxy",
        "*",
        "--max-time",
        "40",
        "--limit-rate",
        "1M",
        "-o",
        "/dev/null",
    ]
    client = subprocess.Popen([*args, f"http://127.0.0.1:{port}/s/stream"])
    try:
        wait_until(lambda: upstream.get_json("/x/state")["streams_open"] == 1, what="download")
        started = time.monotonic()
        assert ell.ctl("delhttproute", name="s") == {"removed": "s"}
        assert time.monotonic() - started < 6  # the grace (1 s) and a loaded machine
        wait_until(lambda: upstream.get_json("/x/state")["streams_open"] == 0, what="upstream end")
        assert client.wait(timeout=30) == 18  # cut (after what the sockets held), not completed
    finally:
        client.kill()
        client.wait(timeout=10)


def test_a_client_that_stops_reading_does_not_hold_the_upstream_for_ever(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """Slow read: a download whose client never reads.  Before the fix the entry node
    waited on its write for ever, the channel's credit stopped the exit node, and the
    upstream request (a connection of the exit node's pool) stayed open for ever."""
    _, ell, base = entry_exit(
        wsnet_node_factory, upstream, [route("/px", "G", f"{upstream.base}/x", read_timeout=2)]
    )
    port = int(base.rpartition(":")[2])
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /px/stream HTTP/1.1\r\nHost: a\r\n\r\n")
        wait_until(lambda: upstream.get_json("/x/state")["streams_open"] == 1, what="download")
        # the write stands still for read_timeout: the request is cut, the upstream freed
        wait_until(
            lambda: upstream.get_json("/x/state")["streams_open"] == 0, timeout=15, what="cut"
        )
    row = ell.ctl("httproutes")[0]
    assert (row["active"], row["error_status"]) == (0, {"408": 1}), row
    assert "route px: client read nothing for 2s: cut" in ell.log()


def test_websockets_do_not_take_the_upstream_pool(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    """Before the fix each WebSocket held a connection of the exit node's keep-alive
    pool for its life: pool_size idle WebSockets (100 by default) and every HTTP request
    of that exit node waited for a slot (a 504 after connect_timeout)."""
    _, _, base = entry_exit(
        wsnet_node_factory,
        upstream,
        [route("/px", "G", f"{upstream.base}/x", connect_timeout=2)],
        exit_config={"pool_size": 1},
    )

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(f"{base}/px/ws") for _ in range(3)]
            for i, ws in enumerate(sockets):
                await ws.send_str(f"hello {i}")
                assert await ws.receive_str(timeout=10) == f"hello {i}"
            code, _ = await asyncio.to_thread(status_body, f"{base}/px/etag")
            assert code == 200
            for ws in sockets:
                await ws.close()

    asyncio.run(asyncio.wait_for(main(), 30))


@pytest.mark.parametrize(
    ("evil", "why"),
    [
        ({"method": "GET / HTTP/1.1\r\nX-Evil: 1\r\nA:"}, "Method cannot contain"),
        ({"headers": [["X-A", "a\r\nX-Injected: 1"]]}, "Forbidden control character"),
    ],
)
def test_an_injection_in_a_request_head_is_a_502_without_a_traceback(
    wsnet_node_factory: NodeFactory, upstream: Upstream, evil: dict[str, Any], why: str
) -> None:
    """aiohttp refuses CR/LF in a method or header with a ValueError, which the exit
    node did not catch: a traceback in its log for each such head from a modified node,
    and the entry node's client got a 502 naming a reset instead of the reason."""
    g = wsnet_node_factory(
        "G",
        plugins=["httpproxy"],
        config={"httpproxy": {"targets": [f"127.0.0.1:{upstream.port}"]}},
    )
    port = free_port()
    listener = {"listen": f"127.0.0.1:{port}", "route": [route("/px", "G", f"{upstream.base}/x")]}
    ell = wsnet_node_factory(
        "L", listen=False, dial=[g.url], plugins=["httpproxy"],
        config={"httpproxy": {"listener": [listener]}}, start=False,
    )  # fmt: skip
    ell.argv[1:3] = [str(HERE / "hostile_entry.py")]
    ell.env["WSNET_EVIL_HEAD"] = json.dumps(evil)
    ell.start()
    wait_until(lambda: "G" in ell.peers(), what="link L->G")
    code, body = status_body(f"http://127.0.0.1:{port}/px/echo")
    assert code == 502 and body.startswith(f"route px: node G: bad request head: {why}"), body
    assert "Traceback" not in g.log()
