"""Test support for the L2 plugins' tests (tap, netdev): TAP names, FDB and port rows from
the control API, pings and hashed TCP transfers between network namespaces.

Public test support, like ``wsnet.testing``: tap's and netdev's tests both require the
switch plugin, so they find it in their isolated test environments (scripts/test_isolated.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from wsnet.testing import Netns, NodeProcess

QUIET = ("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")  # no ND/MLD noise in counters
SIZE = 8 << 20


def tap_name(i: int) -> str:
    """A TAP name unique to this test process (at most 15 characters)."""
    return f"wst{os.getpid() % 10000}{i}"[:15]


def fdb(node: NodeProcess) -> dict[str, str]:
    return {e["mac"]: e["port"] for e in node.ctl("listfdb")}


def port(node: NodeProcess, name: str) -> dict[str, Any]:
    return next(p for p in node.ctl("listport") if p["name"] == name)


def mac_of(ns: Netns, ifname: str) -> str:
    return ns.run("cat", f"/sys/class/net/{ifname}/address").stdout.strip()


def ping(ns: Netns, ip: str, count: int = 3, *extra: str) -> subprocess.CompletedProcess[str]:
    return ns.run("ping", "-c", str(count), "-i", "0.2", "-W", "2", *extra, ip, check=False)


def mean_frame(node: NodeProcess, name: str, direction: str) -> float:
    p = port(node, name)
    return float(p[f"{direction}_bytes"]) / max(int(p[f"{direction}_frames"]), 1)


RECEIVER = """
import hashlib, socket, sys
srv = socket.create_server((sys.argv[1], int(sys.argv[2])))
srv.settimeout(30)
print("ready", flush=True)
conn, _ = srv.accept()
conn.settimeout(30)
digest, total = hashlib.sha256(), 0
while chunk := conn.recv(1 << 20):
    digest.update(chunk)
    total += len(chunk)
print(total, digest.hexdigest(), flush=True)
"""


SENDER = """
import socket, sys
data = open(sys.argv[3], "rb").read()
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30) as conn:
    conn.sendall(data)
"""


def transfer(src: Netns, dst: Netns, ip: str, payload: Path, tmp: Path) -> tuple[int, str]:
    """Send ``payload`` from ``src`` to ``ip`` in ``dst`` over TCP; (bytes, sha256) received."""
    (tmp / "recv.py").write_text(RECEIVER)
    (tmp / "send.py").write_text(SENDER)
    rx = dst.popen(sys.executable, str(tmp / "recv.py"), ip, "5301",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert rx.stdout is not None
        assert rx.stdout.readline().strip() == b"ready"
        src.run(sys.executable, str(tmp / "send.py"), ip, "5301", str(payload), timeout=60)
        out, err = rx.communicate(timeout=60)
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait(timeout=10)
    words = out.decode().split()
    assert len(words) == 2, err.decode()
    return int(words[0]), words[1]


def make_payload(tmp: Path, size: int = SIZE) -> tuple[Path, str]:
    """``size`` random bytes in TMP/payload.bin, and their sha256."""
    path = tmp / "payload.bin"
    data = os.urandom(size)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()
