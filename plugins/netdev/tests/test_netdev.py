"""The netdev plugin with real interfaces: veth ends in namespaces joined to the switch, the
port commands, an interface vanishing under its port, and GSO frames from a packet socket.
The far end of each test is a TAP port (wsnet-tap: netdev's test requirement).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wsnet.ctl import CtlError
from wsnet.testing import Netns, NetnsFactory, NodeFactory, NodeProcess, wait_until
from wsnet_switch.testing import (
    QUIET,
    SIZE,
    fdb,
    mac_of,
    make_payload,
    mean_frame,
    ping,
    port,
    transfer,
)

pytestmark = pytest.mark.netns


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, str]:
    return make_payload(tmp_path)


def _third_behind_netdev(
    left: Netns, right: Netns, netns_factory: NetnsFactory, factory: NodeFactory,
    prefix: str, subnet: str, tap: str,
) -> tuple[Netns, str, str, NodeProcess, NodeProcess]:  # fmt: skip
    """ns3 --veth (OUTER in left, INNER in ns3, SUBNET.3)-- [netdev OUTER on a, in left]
    ==link== [b, in right] -- TAP (SUBNET.2): (ns3, OUTER, INNER, a, b)."""
    third = netns_factory()
    for ns in (left, right, third):
        ns.run(*QUIET)
    outer, inner = f"{prefix}{os.getpid() % 10000}o", f"{prefix}{os.getpid() % 10000}i"
    subprocess.run(
        ["ip", "link", "add", outer, "netns", left.name, "type", "veth", "peer", "name", inner,
         "netns", third.name],
        check=True, timeout=10,
    )  # fmt: skip
    left.run("ip", "link", "set", outer, "up")
    third.run("ip", "addr", "add", f"{subnet}.3/24", "dev", inner)
    third.run("ip", "link", "set", inner, "up")
    a = factory("a", netns=left, plugins=["netdev"])
    b = factory("b", netns=right, listen=False, dial=[a.url], plugins=["tap"])
    wait_until(lambda: "a" in b.peers(), what="link")
    a.ctl("addport", "netdev", outer)
    b.ctl("addport", kind="tap", name=tap, address=f"{subnet}.2/24")
    return third, outer, inner, a, b


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
    third, outer, inner, a, _ = _third_behind_netdev(
        left, right, netns_factory, wsnet_node_factory, "wsn", "10.79.0", "wst2"
    )
    res = ping(third, "10.79.0.2", 3)
    assert res.returncode == 0, res.stdout + res.stderr
    assert fdb(a)[mac_of(third, inner)] == outer
    assert port(a, outer)["state"] == "up"


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


def test_netdev_tcp_through_offloads(
    netns_pair: tuple[Netns, Netns], netns_factory: NetnsFactory,
    wsnet_node_factory: NodeFactory, payload: tuple[Path, str], tmp_path: Path,
) -> None:  # fmt: skip
    """TCP from a third namespace through a netdev port (veth GSO frames) to a remote TAP."""
    left, right = netns_pair
    third, outer, _, a, _ = _third_behind_netdev(
        left, right, netns_factory, wsnet_node_factory, "wso", "10.86.0", "wso3"
    )
    path, digest = payload
    assert transfer(third, right, "10.86.0.2", path, tmp_path) == (SIZE, digest)
    assert transfer(right, third, "10.86.0.3", path, tmp_path) == (SIZE, digest)
    assert port(a, outer)["offload"]
    assert mean_frame(a, outer, "rx") > 1514, "the packet socket handed over GSO frames"
