"""`wsnet top` against real nodes: a few refreshes, printed (not a terminal), while a rate-limited
speedtest runs over the link."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

from wsnet.testing import NodeProcess

RATE = 8_000_000  # bytes/s the speedtest is held to
BYTES = 4 * RATE  # ~4 s: longer than the refreshes below


def run_top(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsnet", "top", "--ctlurl", node.ctlurl, *args],
        capture_output=True, text=True, timeout=60, env={**node.env, "COLUMNS": "160"},
    )  # fmt: skip


def test_top_shows_links_channels_and_the_rate(
    wsnet_linked_nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    _, b = wsnet_linked_nodes
    result: dict[str, Any] = {}
    push = threading.Thread(
        target=lambda: result.update(b.ctl("speedtest", node="a", bytes=BYTES, rate=RATE)),
        daemon=True,
    )
    push.start()
    try:
        top = run_top(b, "--iterations", "3", "--interval", "1")
    finally:
        push.join(timeout=60)
    assert top.returncode == 0, top.stderr
    out = top.stdout
    assert out.count("-- refresh") == 3
    assert "wsnet top — node b" in out
    assert re.search(r"│ a\s+│ out\s+│", out), out  # b dialled a
    assert "sink" in out  # the speedtest's channel, by service
    # From the second refresh on, the link's out rate is the speedtest's (within a factor 2).
    rates = [float(m) * 1e6 for m in re.findall(r"│\s+([\d.]+) MB/s\s+│\s+[\d.]+ \w?B\s+│", out)]
    assert any(RATE / 2 <= r <= RATE * 2 for r in rates), (rates, out)
    assert result.get("bytes") == BYTES


def test_top_once_and_bad_options(wsnet_linked_nodes: tuple[NodeProcess, NodeProcess]) -> None:
    a, _ = wsnet_linked_nodes
    once = run_top(a, "--once")
    assert once.returncode == 0 and once.stdout.count("-- refresh") == 1
    assert "│ b" in once.stdout
    bad = run_top(a, "--interval", "0")
    assert bad.returncode == 2 and "--interval must be > 0" in bad.stderr


EVIL = "[bold red]EVIL[/] \x1b]0;pwned\x07\x1b[2J\x9b31m"  # markup, OSC, CSI (7- and 8-bit)


def hostile_answers(shape_ok: bool) -> dict[str, Any]:
    if not shape_ok:
        return {"status": [], "links": "x", "channels": 5, "dials": None}
    link = {"id": 1, "peer": EVIL, "direction": "in", "remote": "[link=http://x]r[/link]",
            "rtt_ms": None, "channels": 0, "bytes_in": 0, "bytes_out": 0}  # fmt: skip
    return {"status": {"node": EVIL, "links": 1, "routes": 1}, "links": [link],
            "channels": [{"service": EVIL, "bytes_in": 0, "bytes_out": 0}],
            "dials": [{"url": EVIL, "state": "up", "attempts": 1, "last_error": EVIL}]}  # fmt: skip


@contextlib.contextmanager
def hostile_api(shape_ok: bool) -> Iterator[str]:
    """A control API (a real HTTP server on loopback) whose answers a hostile or broken
    node could send: terminal escapes and rich markup in names, or the wrong JSON types."""
    answers = hostile_answers(shape_ok)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps({"jsonrpc": "2.0", "id": req["id"],
                               "result": answers[req["method"]]}).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/rpc"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def top_at(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wsnet", "top", "--ctlurl", url, "--once"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})  # fmt: skip


def test_top_prints_a_hostile_nodes_names_inert() -> None:
    with hostile_api(shape_ok=True) as url:
        top = top_at(url)
    assert top.returncode == 0, top.stderr
    out = top.stdout
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out, repr(out)
    assert out.count("[bold red]EVIL[/]") >= 4, out  # printed as text, not as markup
    assert "[link=http://x]r[/link]" in out


def test_top_says_plainly_when_the_answers_make_no_sense() -> None:
    with hostile_api(shape_ok=False) as url:
        top = top_at(url)
    assert top.returncode == 1, (top.stdout, top.stderr)
    assert "Traceback" not in top.stderr
    assert "unexpected answer" in top.stderr, top.stderr
