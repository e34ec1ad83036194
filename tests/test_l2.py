"""The L2 switch with real TAP devices, veth pairs and kernel traffic in namespaces.

Nodes either run inside namespaces (linked over a veth pair) or on the host with
their TAP moved into a namespace after creation: the node keeps the TAP's file
descriptor, so frames still flow, and every endpoint gets its own IP stack.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from wsnet.ctl import CtlError
from wsnet.testing import Netns, NetnsFactory, NodeFactory, NodeProcess, wait_until

pytestmark = pytest.mark.netns
QUIET = ("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")  # no ND/MLD noise in counters


def tap_name(i: int) -> str:
    return f"wst{os.getpid() % 10000}{i}"[:15]


def fdb(node: NodeProcess) -> dict[str, str]:
    return {e["mac"]: e["port"] for e in node.ctl("listfdb")}


def port(node: NodeProcess, name: str) -> dict[str, Any]:
    return next(p for p in node.ctl("listport") if p["name"] == name)


def mac_of(ns: Netns, ifname: str) -> str:
    return ns.run("cat", f"/sys/class/net/{ifname}/address").stdout.strip()


def ping(ns: Netns, ip: str, count: int = 3, *extra: str) -> subprocess.CompletedProcess[str]:
    return ns.run("ping", "-c", str(count), "-i", "0.2", "-W", "2", *extra, ip, check=False)


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


def test_delport_removes_device_and_bad_ports(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory
) -> None:
    left, _ = netns_pair
    a = wsnet_node_factory("a", netns=left, plugins=["tap", "netdev"])
    a.ctl("addport", kind="tap", name="wst1", mtu="1400")
    assert "wst1" in left.run("ip", "-br", "link").stdout
    cases = {
        ("tap", "wst1"): "port 'wst1' already exists",
        ("tap", left.ifname): f"an interface named {left.ifname!r} already exists",
        ("tap", "x" * 16): "interface names are 1..15 characters",
        ("netdev", "nosuch0"): "no interface named 'nosuch0'",
        ("bridge", "br0"): "unknown port kind 'bridge' (available: netdev, tap)",
    }
    for (kind, name), message in cases.items():
        with pytest.raises(CtlError, match=message.replace("(", r"\(").replace(")", r"\)")):
            a.ctl("addport", kind, name)
    assert [p["name"] for p in a.ctl("listport")] == ["wst1"], "failed adds leave nothing behind"
    a.ctl("delport", "wst1")
    assert "wst1" not in left.run("ip", "-br", "link").stdout
    assert a.ctl("listport") == []
    with pytest.raises(CtlError, match="no port 'wst1'"):
        a.ctl("delport", "wst1")


def test_netdev_port_joins_a_third_namespace(
    netns_pair: tuple[Netns, Netns], netns_factory: NetnsFactory, wsnet_node_factory: NodeFactory
) -> None:
    """ns3 --veth-- [netdev on a] ==link== [b] -- TAP: ns3 pings b's TAP."""
    left, right = netns_pair
    third = netns_factory()
    for ns in (left, right, third):
        ns.run(*QUIET)
    outer, inner = f"wsn{os.getpid() % 10000}o", f"wsn{os.getpid() % 10000}i"
    subprocess.run(
        ["ip", "link", "add", outer, "netns", left.name, "type", "veth", "peer", "name", inner,
         "netns", third.name],
        check=True, timeout=10,
    )  # fmt: skip
    left.run("ip", "link", "set", outer, "up")
    third.run("ip", "addr", "add", "10.79.0.3/24", "dev", inner)
    third.run("ip", "link", "set", inner, "up")
    a = wsnet_node_factory("a", netns=left, plugins=["netdev"])
    b = wsnet_node_factory("b", netns=right, listen=False, dial=[a.url], plugins=["tap"])
    wait_until(lambda: "a" in b.peers(), what="link")
    a.ctl("addport", "netdev", outer)
    b.ctl("addport", kind="tap", name="wst2", address="10.79.0.2/24")
    res = ping(third, "10.79.0.2", 3)
    assert res.returncode == 0, res.stdout + res.stderr
    assert fdb(a)[mac_of(third, inner)] == outer
    assert port(a, outer)["state"] == "up"


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


def test_plugin_commands_drive_a_node(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory
) -> None:
    """`wsnet tap ...` and `wsnet netdev ...` (typer commands of the plugins) call the node."""
    left, _ = netns_pair
    a = wsnet_node_factory("a", netns=left, plugins=["tap", "netdev"])

    def wsnet(*args: str) -> subprocess.CompletedProcess[str]:
        return left.run(sys.executable, "-m", "wsnet", *args, "--ctlurl", a.ctlurl, check=False)

    res = wsnet("tap", "add", "wst5", "--mtu", "1400", "--address", "10.82.0.1/24")
    assert res.returncode == 0, res.stderr
    assert "kind: tap" in res.stdout
    listing = wsnet("tap", "list").stdout
    assert "wst5" in listing
    assert "1400" in listing
    assert "10.82.0.1/24" in listing
    assert wsnet("tap", "setif", "wst5", "--mtu", "1300").returncode == 0
    assert a.ctl("listif")[0]["mtu"] == 1300
    assert wsnet("netdev", "add", left.ifname).returncode == 0
    assert {p["name"] for p in a.ctl("listport")} == {"wst5", left.ifname}
    bad = wsnet("netdev", "add", "nosuch0")
    assert bad.returncode == 1
    assert (
        bad.stderr.strip() == "wsnet netdev: addport: netdev nosuch0: no interface named 'nosuch0'"
    )
    assert wsnet("tap", "del", "wst5").returncode == 0
    assert wsnet("netdev", "del", left.ifname).returncode == 0
    assert a.ctl("listport") == []
    assert left.ifname in left.run("ip", "-br", "link").stdout, "netdev del keeps the interface"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_interface_vanishing_under_a_netdev_port(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory
) -> None:
    """The attached veth is deleted: the port reports it, the node does not spin on the fd."""
    left, _ = netns_pair
    a = wsnet_node_factory("a", netns=left, plugins=["netdev", "tap"])
    left.run("ip", "link", "add", "wsdel0", "type", "veth", "peer", "name", "wsdel1")
    left.run("ip", "link", "set", "wsdel0", "up")
    a.ctl("addport", "netdev", "wsdel0")
    left.run("ip", "link", "del", "wsdel0")
    time.sleep(0.5)
    assert a.proc is not None
    before = _cpu_seconds(a.proc.pid)
    time.sleep(2.0)
    assert _cpu_seconds(a.proc.pid) - before < 0.5, "node busy-loops on a dead socket"
    assert port(a, "wsdel0")["state"] != "up"
    a.ctl("delport", "wsdel0")
    a.ctl("addport", kind="tap", name="wst6")  # the node still works
    assert [p["name"] for p in a.ctl("listport")] == ["wst6"]
