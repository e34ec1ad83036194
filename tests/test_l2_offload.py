"""TSO/checksum offload on the L2 path: super-frames cross whole, and plain ports still work.

Each transfer is a real TCP connection between two namespaces through the TAPs,
and the receiver hashes what it got: a segment cut or checksummed wrongly by the
software fallback would stall the transfer or change the hash.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wsnet.testing import Netns, NetnsFactory, NodeFactory, NodeProcess, wait_until

pytestmark = pytest.mark.netns
QUIET = ("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
SIZE = 8 << 20

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


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "payload.bin"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def port(node: NodeProcess, name: str) -> dict[str, Any]:
    return next(p for p in node.ctl("listport") if p["name"] == name)


def mean_frame(node: NodeProcess, name: str, direction: str) -> float:
    p = port(node, name)
    return p[f"{direction}_bytes"] / max(p[f"{direction}_frames"], 1)


def pair(
    factory: NodeFactory, left: Netns, right: Netns, tap: str, subnet: str,
    a_opts: dict[str, Any], b_opts: dict[str, Any], a_switch: dict[str, Any] | None = None,
) -> tuple[NodeProcess, NodeProcess]:  # fmt: skip
    """Node a in ``left`` and b in ``right``, linked over the veth, each with a TAP."""
    for ns in (left, right):
        ns.run(*QUIET)
    config = {"switch": a_switch} if a_switch else {}
    a = factory("a", netns=left, plugins=["tap"], config=config)
    b = factory("b", netns=right, listen=False, dial=[a.url], plugins=["tap"])
    wait_until(lambda: "a" in b.peers(), what="link over the veth")
    a.ctl("addport", kind="tap", name=tap, address=f"{subnet}.1/24", **a_opts)
    b.ctl("addport", kind="tap", name=tap, address=f"{subnet}.2/24", **b_opts)
    return a, b


def test_super_frames_cross_whole(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory,
    payload: tuple[Path, str], tmp_path: Path,
) -> None:  # fmt: skip
    left, right = netns_pair
    a, b = pair(wsnet_node_factory, left, right, "wso0", "10.83.0", {}, {})
    assert port(a, "wso0")["offload"] and port(a, "link:b")["offload"]
    path, digest = payload
    assert transfer(left, right, "10.83.0.2", path, tmp_path) == (SIZE, digest)
    # TSO frames went over the link whole: bigger on average (ACKs included) than 1514
    assert mean_frame(a, "link:b", "tx") > 3000
    assert mean_frame(b, "wso0", "tx") > 3000
    assert transfer(right, left, "10.83.0.1", path, tmp_path) == (SIZE, digest)


def test_plain_tap_gets_segmented_frames(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory,
    payload: tuple[Path, str], tmp_path: Path,
) -> None:  # fmt: skip
    """a's TAP hands over 64 KiB super-frames; b's TAP takes only real frames."""
    left, right = netns_pair
    a, b = pair(wsnet_node_factory, left, right, "wso1", "10.84.0", {}, {"offload": "off"})
    assert not port(b, "wso1")["offload"]
    path, digest = payload
    assert transfer(left, right, "10.84.0.2", path, tmp_path) == (SIZE, digest)
    # mean sizes include the ACKs going the other way: > 1514 needs super-frames
    assert mean_frame(a, "link:b", "tx") > 3000, "super-frames still cross the link whole"
    assert mean_frame(b, "wso1", "tx") <= 1514, "and are cut to MTU-sized frames at the TAP"
    assert transfer(right, left, "10.84.0.1", path, tmp_path) == (SIZE, digest)
    assert port(b, "wso1")["drops"] == 0


def test_link_without_offload_carries_plain_frames(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory,
    payload: tuple[Path, str], tmp_path: Path,
) -> None:  # fmt: skip
    """[switch] offload = false on one node: the link falls back to plain frames both ways."""
    left, right = netns_pair
    a, b = pair(
        wsnet_node_factory, left, right, "wso2", "10.85.0", {}, {}, a_switch={"offload": False}
    )
    assert not port(a, "link:b")["offload"] and not port(b, "link:a")["offload"]
    path, digest = payload
    assert transfer(left, right, "10.85.0.2", path, tmp_path) == (SIZE, digest)
    assert transfer(right, left, "10.85.0.1", path, tmp_path) == (SIZE, digest)
    assert mean_frame(a, "link:b", "tx") <= 1514
    assert mean_frame(b, "link:a", "tx") <= 1514


def test_netdev_tcp_through_offloads(
    netns_pair: tuple[Netns, Netns], netns_factory: NetnsFactory,
    wsnet_node_factory: NodeFactory, payload: tuple[Path, str], tmp_path: Path,
) -> None:  # fmt: skip
    """TCP from a third namespace through a netdev port (veth GSO frames) to a remote TAP."""
    left, right = netns_pair
    third = netns_factory()
    for ns in (left, right, third):
        ns.run(*QUIET)
    outer, inner = f"wso{os.getpid() % 10000}o", f"wso{os.getpid() % 10000}i"
    subprocess.run(
        ["ip", "link", "add", outer, "netns", left.name, "type", "veth", "peer", "name", inner,
         "netns", third.name],
        check=True, timeout=10,
    )  # fmt: skip
    left.run("ip", "link", "set", outer, "up")
    third.run("ip", "addr", "add", "10.86.0.3/24", "dev", inner)
    third.run("ip", "link", "set", inner, "up")
    a = wsnet_node_factory("a", netns=left, plugins=["netdev"])
    b = wsnet_node_factory("b", netns=right, listen=False, dial=[a.url], plugins=["tap"])
    wait_until(lambda: "a" in b.peers(), what="link")
    a.ctl("addport", "netdev", outer)
    b.ctl("addport", kind="tap", name="wso3", address="10.86.0.2/24")
    path, digest = payload
    assert transfer(third, right, "10.86.0.2", path, tmp_path) == (SIZE, digest)
    assert transfer(right, third, "10.86.0.3", path, tmp_path) == (SIZE, digest)
    assert port(a, outer)["offload"]
    assert mean_frame(a, outer, "rx") > 1514, "the packet socket handed over GSO frames"
