"""The L2 switch with real TAP devices, veth pairs and kernel traffic in namespaces.

Nodes either run inside namespaces (linked over a veth pair) or on the host with
their TAP moved into a namespace after creation: the node keeps the TAP's file
descriptor, so frames still flow, and every endpoint gets its own IP stack.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from wsnet.testing import Netns, NetnsFactory, NodeFactory, NodeProcess, wait_until
from wsnet_switch.testing import (
    QUIET,
    fdb,
    mac_of,
    ping,
    port,
    tap_name,
)

pytestmark = pytest.mark.netns


def test_tap_pair_ping_arp_fdb_ageing(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory
) -> None:
    left, right = netns_pair
    for ns in (left, right):
        ns.run(*QUIET)
    tap = "wst0"
    a = wsnet_node_factory(
        "a",
        netns=left,
        plugins=["tap"],
        config={
            "switch": {
                "ageing": 3.0,
                "port": [{"kind": "tap", "name": tap, "address": "10.77.0.1/24"}],
            },
        },
    )
    b = wsnet_node_factory("b", netns=right, listen=False, dial=[a.url], plugins=["tap"])
    wait_until(lambda: "a" in b.peers(), what="link over the veth")
    b.ctl("addport", "tap", tap)
    b.ctl("setif", name=tap, address="10.77.0.2/24", mtu="1500")
    assert [i["addresses"] for i in b.ctl("listif")] == [["10.77.0.2/24"]]

    res = ping(left, "10.77.0.2", 3)
    assert res.returncode == 0, res.stdout + res.stderr
    # ARP resolved through the switch: the neighbour entry holds b's TAP MAC
    mac_b = mac_of(right, tap)
    assert mac_b in left.run("ip", "neigh", "show", "10.77.0.2").stdout
    table = fdb(a)
    assert table[mac_b] == "link:b"
    assert table[mac_of(left, tap)] == tap
    assert fdb(b)[mac_of(left, tap)] == "link:a"
    # full-size frames cross whole: 1472 + 28 = a 1500-byte IP packet, DF set
    res = ping(left, "10.77.0.2", 2, "-s", "1472", "-M", "do")
    assert res.returncode == 0, res.stdout
    assert port(a, "link:b")["tx_frames"] >= 5
    # ageing (3 s here): with the wires quiet, the learnt MACs go
    wait_until(lambda: mac_b not in fdb(a), timeout=12, what="b's MAC aged out on a")


def _spoke_taps(
    nodes: list[NodeProcess], factory: NetnsFactory, subnet: str
) -> list[tuple[Netns, str]]:
    """One TAP per node, moved into a fresh namespace with address SUBNET.i/24."""
    out = []
    for i, node in enumerate(nodes, 1):
        ns = factory()
        ns.run(*QUIET)
        name = tap_name(i)
        node.ctl("addport", "tap", name)
        subprocess.run(["ip", "link", "set", name, "netns", ns.name], check=True, timeout=10)
        ns.run("ip", "addr", "add", f"{subnet}.{i}/24", "dev", name)
        ns.run("ip", "link", "set", name, "up")
        out.append((ns, name))
    return out


def _tx(node: NodeProcess, name: str) -> int:
    return int(port(node, name)["tx_frames"])


def test_hub_and_spoke_broadcast_once(
    netns_factory: NetnsFactory, wsnet_node_factory: NodeFactory
) -> None:
    hub = wsnet_node_factory(
        "hub", plugins=["switch"], config={"switch": {"forward_between_links": True}}
    )
    spokes = [
        wsnet_node_factory(f"s{i}", listen=False, dial=[hub.url], plugins=["tap"])
        for i in (1, 2, 3)
    ]
    wait_until(lambda: len(hub.peers()) == 3, what="three spokes linked")
    taps = _spoke_taps(spokes, netns_factory, "10.78.0")
    (ns1, tap1), (_, tap2), (_, tap3) = taps
    # spokes reach each other through the hub
    for ip in ("10.78.0.2", "10.78.0.3"):
        res = ping(ns1, ip, 2)
        assert res.returncode == 0, res.stdout
    time.sleep(0.5)
    before = {n.name: _tx(n, t) for n, (_, t) in zip(spokes, taps, strict=True)}
    hub_before = {p: _tx(hub, f"link:{p}") for p in ("s1", "s2", "s3")}
    ns1.run("ping", "-b", "-c", "3", "-i", "0.2", "-W", "1", "10.78.0.255", check=False)
    time.sleep(0.5)
    # each other spoke's TAP got each broadcast exactly once; the sender's never
    assert _tx(spokes[1], tap2) - before["s2"] == 3
    assert _tx(spokes[2], tap3) - before["s3"] == 3
    assert _tx(spokes[0], tap1) - before["s1"] == 0
    assert _tx(hub, "link:s1") - hub_before["s1"] == 0
    assert _tx(hub, "link:s2") - hub_before["s2"] == 3


def test_triangle_full_mesh_no_storm(
    netns_factory: NetnsFactory, wsnet_node_factory: NodeFactory
) -> None:
    """Three nodes, three links (a loop): split horizon keeps each broadcast to one copy."""
    a = wsnet_node_factory("a", plugins=["tap"])
    b = wsnet_node_factory("b", dial=[a.url], plugins=["tap"])
    c = wsnet_node_factory("c", dial=[a.url, b.url], plugins=["tap"])
    wait_until(lambda: len(c.peers()) == 2 and len(a.peers()) == 2, what="triangle")
    taps = _spoke_taps([a, b, c], netns_factory, "10.80.0")
    (ns_a, _), (_, tap_b), (_, tap_c) = taps
    res = ping(ns_a, "10.80.0.3", 2)
    assert res.returncode == 0, res.stdout
    time.sleep(0.5)
    b0, c0 = _tx(b, tap_b), _tx(c, tap_c)
    ns_a.run("ping", "-b", "-c", "5", "-i", "0.2", "-W", "1", "10.80.0.255", check=False)
    time.sleep(1.0)
    assert _tx(b, tap_b) - b0 == 5
    assert _tx(c, tap_c) - c0 == 5
    # no frame circulates: the links carry nothing more once the pings stop
    total = sum(p["tx_frames"] for n in (a, b, c) for p in n.ctl("listport"))
    time.sleep(1.0)
    assert sum(p["tx_frames"] for n in (a, b, c) for p in n.ctl("listport")) == total


def test_link_loss_mid_ping_recovers(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory
) -> None:
    left, right = netns_pair
    a = wsnet_node_factory("a", netns=left, plugins=["tap"])
    b = wsnet_node_factory("b", netns=right, listen=False, dial=[a.url], plugins=["tap"])
    wait_until(lambda: "a" in b.peers(), what="link")
    a.ctl("addport", kind="tap", name="wst3", address="10.81.0.1/24")
    b.ctl("addport", kind="tap", name="wst3", address="10.81.0.2/24")
    assert ping(left, "10.81.0.2", 2).returncode == 0
    # cut the wire under the link: keepalive (2 s in tests) takes the link down
    right.run("ip", "link", "set", right.ifname, "down")
    wait_until(lambda: "b" not in a.peers(), timeout=6, what="link down")
    assert ping(left, "10.81.0.2", 2).returncode != 0
    right.run("ip", "link", "set", right.ifname, "up")
    wait_until(lambda: "a" in b.peers(), timeout=15, what="link back")
    res = ping(left, "10.81.0.2", 3)
    assert res.returncode == 0, res.stdout
    assert {p["name"] for p in a.ctl("listport")} == {"wst3", "link:b"}
