"""`wsnet top` against real nodes: a few refreshes, printed (not a terminal), while a rate-limited
speedtest runs over the link."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
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
