"""Streaming through two hops (G entry → L relay without the plugin → L2 exit): a big
upload and download with every node's RSS sampled, and a slow reader beside a fast one.

SIZE is 1 GiB each way (about 9 s for both on the loaded 2-core machine; set
WSNET_HTTP_STREAM_MIB to change it).  Measured growth was about 11 MiB per node; the
bound, 64 MiB, does not depend on the size, and a proxy that buffered a body fails it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from http_helpers import Upstream, curl
from upstream_app import BLOCK, blob_sha

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until

SIZE = int(os.environ.get("WSNET_HTTP_STREAM_MIB", "1024")) << 20
# Growth of any node's RSS during the transfers: a window per channel, aiohttp's read
# buffers and the allocator's slack; a proxy that buffered a body would pass it at once.
RSS_BOUND = 64 << 20


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@contextmanager
def sampled(nodes: list[NodeProcess]) -> Iterator[dict[str, int]]:
    """Peak RSS growth of each node over the block, sampled every 0.1 s."""
    base = {n.name: rss(n.proc.pid) for n in nodes}
    peak = dict.fromkeys(base, 0)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            for n in nodes:
                peak[n.name] = max(peak[n.name], rss(n.proc.pid) - base[n.name])

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield peak
    finally:
        stop.set()
        t.join(timeout=5)


def two_hops(factory: NodeFactory, up: Upstream) -> tuple[list[NodeProcess], int]:
    px = free_port()
    g = factory(
        "G",
        plugins=["httpproxy"],
        config={
            "httpproxy": {
                "listener": [
                    {
                        "listen": f"127.0.0.1:{px}",
                        "route": [{"path": "/px", "node": "L2", "upstream": f"{up.base}/x"}],
                    }
                ]
            }
        },
    )
    ell = factory("L", dial=[g.url])
    l2 = factory(
        "L2",
        listen=False,
        dial=[ell.url],
        plugins=["httpproxy"],
        config={"httpproxy": {"targets": [f"127.0.0.1:{up.port}"]}},
    )
    wait_until(lambda: "L2" in str(g.ctl("routes")), timeout=30, what="G learns L2")
    return [g, ell, l2], px


def download(port: int, size: int, rate: int = 0) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", f"/px/blob?size={size}")
    resp = conn.getresponse()
    assert resp.status == 200
    h = hashlib.sha256()
    while chunk := resp.read(1 << 20 if not rate else 1024):
        h.update(chunk)
        if rate:
            time.sleep(1024 / rate)
    conn.close()
    return h.hexdigest()


def upload(port: int, size: int) -> dict[str, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    full, rest = divmod(size, len(BLOCK))
    body = (BLOCK for _ in range(full))
    conn.request(
        "POST", "/px/upload", body=body, headers={"Content-Length": str(full * len(BLOCK))}
    )
    resp = conn.getresponse()
    got: dict[str, object] = json.loads(resp.read())
    conn.close()
    assert rest == 0
    return got


def test_big_upload_and_download_two_hops_memory_bounded(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    nodes, px = two_hops(wsnet_node_factory, upstream)
    assert download(px, 1 << 20) == blob_sha(1 << 20)  # warm: pools, buffers, imports
    with sampled(nodes) as peak:
        t0 = time.monotonic()
        assert download(px, SIZE) == blob_sha(SIZE)
        got = upload(px, SIZE)
        seconds = time.monotonic() - t0
    assert got["size"] == SIZE and got["sha256"] == blob_sha(SIZE)
    print(f"{SIZE >> 20} MiB each way in {seconds:.1f} s; RSS growth {peak}")
    for name, grew in peak.items():
        assert grew < RSS_BOUND, f"node {name} grew {grew >> 20} MiB (bound {RSS_BOUND >> 20})"


def test_slow_reader_does_not_slow_a_fast_request(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    nodes, px = two_hops(wsnet_node_factory, upstream)
    # The slow client: a small receive buffer, 10 KiB/s, on a 64 MiB body.
    slow = socket.create_connection(("127.0.0.1", px))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    slow.sendall(b"GET /px/blob?size=67108864 HTTP/1.1\r\nHost: x\r\n\r\n")
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.1):
            slow.recv(1024)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        time.sleep(1.0)  # its window is full now
        size = 32 << 20
        t0 = time.monotonic()
        assert download(px, size) == blob_sha(size)
        fast = time.monotonic() - t0
        assert fast < 20, f"32 MiB beside a slow reader took {fast:.1f} s"
        assert curl(f"http://127.0.0.1:{px}/px/echo").returncode == 0
        print(f"32 MiB beside a 10 KiB/s reader: {fast:.2f} s")
    finally:
        stop.set()
        t.join(timeout=5)
        slow.close()
    assert nodes[0].ctl("httproutes")[0]["requests"] >= 2
