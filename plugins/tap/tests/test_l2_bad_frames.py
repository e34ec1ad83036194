"""Runts, bad source MACs and oversize frames on the L2 path: counted drops, nothing else hurt.

A hand-driven peer (the sans-I/O Session over a real WebSocket) sends what no
well-behaved node would; a real node must count each bad frame and keep switching.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import aiohttp
import pytest

from wsnet.protocol import ChannelKind, Limits, Session
from wsnet.testing import Netns, NetnsFactory, NodeFactory, NodeProcess, wait_until

pytestmark = pytest.mark.netns
QUIET = ("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
PROBE_MAC = bytes.fromhex("02aa00000001")
BROADCAST = b"\xff" * 6


def listport(node: NodeProcess) -> dict[str, dict[str, int]]:
    return {p["name"]: p for p in node.ctl("listport")}


def tap_into(node: NodeProcess, tap: str, ns: Netns) -> None:
    """A TAP of ``node`` moved into the test's namespace: frames flooded to it stay there."""
    node.ctl("addport", "tap", tap)
    subprocess.run(["ip", "link", "set", tap, "netns", ns.name], check=True, timeout=10)
    ns.run("ip", "link", "set", tap, "up")


async def send_frames(url: str, frames: list[bytes], node: NodeProcess) -> dict[str, Any]:
    """Link as 'probe', send ``frames`` on an ether channel; the node's ports while linked."""
    session = Session(node="probe", initiator=True, limits=Limits())
    async with aiohttp.ClientSession() as http, http.ws_connect(url, protocols=("wsnet",)) as ws:
        for msg in session.data_to_send():
            await ws.send_bytes(msg)
        reply = await ws.receive(timeout=5)
        session.receive_message(reply.data)
        cid = session.open_channel(ChannelKind.DATAGRAM, "ether")
        for frame in frames:
            assert session.send_datagram(cid, frame)
        for msg in session.data_to_send():
            await ws.send_bytes(msg)
        await asyncio.sleep(1.0)  # the node switches them
        ports = await asyncio.to_thread(listport, node)
        ws_ok = not ws.closed
    return {"ports": ports, "open": ws_ok}


async def test_bad_frames_from_a_link_are_counted_drops(
    wsnet_node_factory: NodeFactory, netns_factory: NetnsFactory
) -> None:
    a = wsnet_node_factory("a", plugins=["tap"])
    ns = netns_factory()
    ns.run(*QUIET)
    tap = f"wsbf{os.getpid() % 10000}"
    tap_into(a, tap, ns)
    arp = BROADCAST + PROBE_MAC + b"\x08\x06" + bytes(28)
    frames = [
        b"short",  # a runt: no Ethernet header
        BROADCAST + b"\x01\x00\x5e\x00\x00\x01" + b"\x08\x00" + bytes(46),  # multicast source
        BROADCAST + PROBE_MAC + b"\x88\xb5" + bytes(100_000),  # bigger than any TAP takes
        arp,  # and a good one after them
    ]
    seen = await send_frames(a.url, frames, a)
    assert seen["open"], "bad frames are dropped, the link stays"
    tap_port, link = seen["ports"][tap], seen["ports"]["link:probe"]
    assert link["rx_frames"] == 3  # all but the runt, which has no header to count
    assert link["drops"] == 2  # the runt and the multicast source
    assert tap_port["tx_frames"] == 1, "only the ARP frame left by the TAP"
    assert tap_port["drops"] == 1 and tap_port["oversize"] == 1, "the 100 kB frame: a giant"
    wait_until(lambda: "probe" not in a.peers(), what="probe gone")
    assert a.ctl("status")["node"] == "a", "the node carries on"


def test_frame_above_the_peers_max_frame_is_dropped_at_the_link(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory
) -> None:
    """b takes frames of at most 4 KiB: a 9000-MTU TAP's big frames stop at a, small ones pass."""
    left, right = netns_pair
    for ns in (left, right):
        ns.run(*QUIET)
    small = {"limits": {"max_frame": 4096, "max_message": 65536}}
    a = wsnet_node_factory("a", netns=left, plugins=["tap"])
    b = wsnet_node_factory("b", netns=right, listen=False, dial=[a.url], plugins=["tap"],
                           config=small)  # fmt: skip
    wait_until(lambda: "a" in b.peers(), what="link")
    a.ctl("addport", kind="tap", name="wsbf1", address="10.88.0.1/24", mtu="9000")
    b.ctl("addport", kind="tap", name="wsbf1", address="10.88.0.2/24")
    ok = left.run("ping", "-c", "2", "-i", "0.2", "-W", "2", "10.88.0.2", check=False)
    assert ok.returncode == 0, ok.stdout
    assert not listport(a)["link:b"]["offload"], "b cannot take 64 KiB super-frames"
    big = left.run("ping", "-c", "2", "-i", "0.2", "-W", "1", "-s", "8000", "-M", "do",
                   "10.88.0.2", check=False)  # fmt: skip
    assert big.returncode != 0
    assert listport(a)["link:b"]["drops"] >= 2
    again = left.run("ping", "-c", "2", "-i", "0.2", "-W", "2", "10.88.0.2", check=False)
    assert again.returncode == 0, "small frames still pass: " + again.stdout
    assert "a" in b.peers()
