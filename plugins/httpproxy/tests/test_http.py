"""HTTP done right through one hop: bodies both ways (hash-checked), keep-alive reuse,
chunked uploads, HEAD/204/304/100-continue, headers, WebSocket, client disconnect."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import time
from typing import Any

import aiohttp
from http_helpers import Upstream, curl, entry_exit, route, status_body
from upstream_app import blob_sha

from wsnet.testing import NodeFactory, NodeProcess, wait_until


def _proxy(
    factory: NodeFactory, up: Upstream, **extra: Any
) -> tuple[NodeProcess, NodeProcess, str]:
    return entry_exit(factory, up, [route("/px", "G", f"{up.base}/x", **extra)])


def test_download_upload_path_and_headers(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    _, ell, base = _proxy(wsnet_node_factory, upstream)
    for size, chunked in ((3_000_001, ""), (1_500_000, "&chunked=1")):
        r = curl("-D", "-", "-o", "/dev/stdout", f"{base}/px/blob?size={size}{chunked}")
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        assert hashlib.sha256(body).hexdigest() == blob_sha(size)
        assert (b"chunked" in head.lower()) == bool(chunked), head
    payload = os.urandom(2_000_000)
    r = subprocess.run(
        ["curl", "-s", "--noproxy", "*", "--data-binary", "@-", f"{base}/px/upload"],
        input=payload,
        capture_output=True,
        timeout=60,
        check=True,
    )
    got = json.loads(r.stdout)
    assert got["sha256"] == hashlib.sha256(payload).hexdigest() and got["cl"] == "2000000"
    code, body = status_body(
        f"{base}/px/echo?a=1&b=2",
        "-H",
        "Connection: close, X-Drop",
        "-H",
        "X-Drop: 1",
        "-H",
        "X-Keep: 2",
        "-H",
        "X-Forwarded-For: 10.9.9.9",
    )
    seen = json.loads(body)
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert code == 200 and seen["path_qs"] == "/x/echo?a=1&b=2"
    assert "x-drop" not in headers and headers["x-keep"] == "2"
    assert headers["x-forwarded-for"] == "10.9.9.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == base.removeprefix("http://")
    assert headers["via"] == "1.1 L" and headers["host"] == f"127.0.0.1:{upstream.port}"
    r = curl("-D", "-", "-o", "/dev/null", f"{base}/px/echo")
    assert b"Via: 1.1 G" in r.stdout
    rows = ell.ctl("httproutes")
    assert rows[0]["name"] == "px" and rows[0]["2xx"] >= 4 and rows[0]["bytes_out"] > 4_500_000


def test_preserve_host(wsnet_node_factory: NodeFactory, upstream: Upstream) -> None:
    _, _, base = _proxy(wsnet_node_factory, upstream, preserve_host=True)
    code, body = status_body(f"{base}/px/echo", "-H", "Host: app.example:8080")
    headers = {k.lower(): v for k, v in json.loads(body)["headers"]}
    assert code == 200 and headers["host"] == "app.example:8080"


def test_keepalive_one_upstream_connection_for_100_requests(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    _, _, base = _proxy(wsnet_node_factory, upstream)
    before = upstream.get_json("/x/conns")["connections"]
    urls = [a for _ in range(100) for a in ("-o", "/dev/null", f"{base}/px/blob?size=1024")]
    r = curl("-w", "%{http_code}\n", *urls)
    lines = r.stdout.decode().split()
    assert lines.count("200") == 100
    # the second get_json is one connection of its own
    assert upstream.get_json("/x/conns")["connections"] - before == 2
    # ab with keep-alive, 4 at a time: at most 4 upstream connections more
    ab = subprocess.run(
        ["ab", "-q", "-k", "-n", "400", "-c", "4", f"{base}/px/blob?size=1024"],
        capture_output=True,
        timeout=120,
        check=True,
        text=True,
    )
    assert "Failed requests:        0" in ab.stdout and "Non-2xx" not in ab.stdout
    assert upstream.get_json("/x/conns")["connections"] - before <= 1 + 1 + 4 + 1


def test_chunked_upload_head_204_304_and_continue(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    _, _, base = _proxy(wsnet_node_factory, upstream)
    payload = os.urandom(3_000_000)
    r = subprocess.run(
        ["curl", "-s", "--noproxy", "*", "-T", "-", f"{base}/px/upload"],
        input=payload,
        capture_output=True,
        timeout=60,
        check=True,
    )
    got = json.loads(r.stdout)
    assert got["sha256"] == hashlib.sha256(payload).hexdigest() and got["te"] == "chunked"
    r = curl("-I", f"{base}/px/blob?size=12345")
    assert r.stdout.startswith(b"HTTP/1.1 200") and b"Content-Length: 12345" in r.stdout
    r = curl("-D", "-", f"{base}/px/nocontent")
    assert r.stdout.startswith(b"HTTP/1.1 204") and r.stdout.endswith(b"\r\n\r\n")
    r = curl("-D", "-", "-H", 'If-None-Match: "v1"', f"{base}/px/etag")
    assert r.stdout.startswith(b"HTTP/1.1 304") and r.stdout.endswith(b"\r\n\r\n")
    small = os.urandom(5000)
    r = curl(
        "-v", "-H", "Expect: 100-continue", "--data-binary", "@-", f"{base}/px/upload", stdin=small
    )
    assert r.returncode == 0, r.stderr
    assert b"HTTP/1.1 100 Continue" in r.stderr
    assert json.loads(r.stdout)["sha256"] == hashlib.sha256(small).hexdigest()


def test_websocket_echo(wsnet_node_factory: NodeFactory, upstream: Upstream) -> None:
    _, _, base = _proxy(wsnet_node_factory, upstream)

    async def talk() -> list[object]:
        async with (
            aiohttp.ClientSession() as s,
            s.ws_connect(f"{base.replace('http', 'ws')}/px/ws", protocols=("echo",)) as ws,
        ):
            assert ws.protocol == "echo"
            got: list[object] = []
            big = os.urandom(300_000)
            await ws.send_str("hello")
            got.append((await ws.receive(timeout=10)).data)
            await ws.send_bytes(big)
            got.append((await ws.receive(timeout=10)).data == big)
            return got

    assert asyncio.run(talk()) == ["hello", True]


def test_client_disconnect_closes_upstream_within_1s(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    _, _, base = _proxy(wsnet_node_factory, upstream)
    proc = subprocess.Popen(
        ["curl", "-s", "--noproxy", "*", "-o", "/dev/null", f"{base}/px/stream"]
    )
    try:
        wait_until(lambda: upstream.get_json("/x/state")["streams_open"] == 1, what="stream")
        time.sleep(0.5)  # mid-download
    finally:
        proc.kill()
        proc.wait(timeout=10)
    left = time.time()
    wait_until(lambda: upstream.get_json("/x/state")["streams_open"] == 0, timeout=5, what="end")
    assert upstream.get_json("/x/state")["stream_ended"] - left < 1.0
