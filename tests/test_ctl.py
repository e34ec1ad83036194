"""`wsnet ctl` as a person and a script use it, against a real node; control-port binding rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wsnet.testing import Netns, NodeFactory, NodeProcess, free_port, toml_dumps, wait_until


def wsnet(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsnet", *args], capture_output=True, text=True, timeout=timeout
    )


def ctl(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return wsnet("ctl", "--ctlurl", node.ctlurl, *args)


def test_status_table_and_json(wsnet_linked_nodes: tuple[NodeProcess, NodeProcess]) -> None:
    a, _ = wsnet_linked_nodes
    res = ctl(a, "status")
    assert res.returncode == 0, res.stderr
    assert "node: a" in res.stdout
    assert "links: 1" in res.stdout
    res = ctl(a, "links", "--json")
    rows = json.loads(res.stdout)
    assert [r["peer"] for r in rows] == ["b"]
    table = ctl(a, "links").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PEER", "DIRECTION"]
    assert table[1].split()[1:3] == ["b", "in"]


def test_positional_and_named_arguments(
    wsnet_linked_nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    _, b = wsnet_linked_nodes
    named = json.loads(ctl(b, "ping", "node=a", "count=3", "--json").stdout)
    assert named["count"] == 3
    mixed = json.loads(ctl(b, "ping", "a", "count=2", "--json").stdout)
    assert mixed["count"] == 2
    assert mixed["node"] == "a"
    positional = json.loads(ctl(b, "speedtest", "a", "1000000", "--json").stdout)
    assert positional["ok"]
    assert positional["bytes"] == 1_000_000


def test_help_lists_methods_with_params(wsnet_node: NodeProcess) -> None:
    out = ctl(wsnet_node, "help").stdout
    for word in ("status", "links", "routes", "channels", "dials", "ping", "speedtest"):
        assert word in out
    assert "node" in next(line for line in out.splitlines() if line.startswith("ping"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuchmethod"], "unknown method 'nosuchmethod'"),
        (["ping"], "ping: missing"),
        (["ping", "a", "count=lots"], "count"),
        (["ping", "nowhere"], "no route to node 'nowhere'"),
    ],
)
def test_errors_are_one_line_exit_1(wsnet_node: NodeProcess, args: list[str], message: str) -> None:
    res = ctl(wsnet_node, *args)
    assert res.returncode == 1
    assert res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert message in res.stderr


def test_unreachable_node_one_line_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}/rpc"
    res = wsnet("ctl", "--ctlurl", url, "status")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"wsnet ctl: cannot reach the control API at {url}: [Errno 111] Connection refused"
    ]


def test_ctlurl_from_environment(wsnet_node: NodeProcess) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "wsnet", "ctl", "status", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**__import__("os").environ, "WSNET_CTLURL": wsnet_node.ctlurl},
    )
    assert json.loads(res.stdout)["node"] == "a"


def test_dial_at_run_time(wsnet_node_factory: NodeFactory) -> None:
    a = wsnet_node_factory("a")
    b = wsnet_node_factory("b", listen=False)
    res = ctl(b, "dial", a.url, "--json")
    assert json.loads(res.stdout)["url"] == a.url
    wait_until(lambda: "a" in b.peers(), what="link after ctl dial")
    assert ctl(b, "dial", "http://x").returncode == 1


def test_control_port_refuses_non_loopback(tmp_path: Path) -> None:
    cfg = tmp_path / "node.toml"
    cfg.write_text(toml_dumps({"control": {"host": "0.0.0.0"}}))
    res = wsnet("run", "--config", str(cfg), "--listen", "none")
    assert res.returncode == 2
    assert f"{cfg}: [control] host: '0.0.0.0' is not a loopback address" in res.stderr
    assert "allow_remote = true" in res.stderr
    res = wsnet("run", "--listen", "none", "--ctl-host", "10.1.2.3")
    assert res.returncode == 2
    assert "command line: --ctl-host: '10.1.2.3' is not a loopback address" in res.stderr
    assert "--ctl-allow-remote" in res.stderr


def test_remote_control_when_allowed(netns_pair: tuple[Netns, Netns], tmp_path: Path) -> None:
    """With allow_remote the API answers on a namespace address, from the other namespace;
    by default it is on loopback only: not reachable at that address, from either side."""
    left, right = netns_pair
    port, default_port = 7867, 7868
    node = left.popen(
        sys.executable, "-m", "wsnet", "run", "--name", "remote", "--listen", "none",
        "--ctl-host", left.ip, "--ctl-port", str(port), "--ctl-allow-remote",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    local = left.popen(
        sys.executable, "-m", "wsnet", "run", "--name", "local", "--listen", "none",
        "--ctl-port", str(default_port),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://{left.ip}:{port}/rpc"

        def status(ns: Netns, url: str) -> subprocess.CompletedProcess[str]:
            return ns.run(
                sys.executable, "-m", "wsnet", "ctl", "--ctlurl", url, "status", check=False
            )

        assert "node: remote" in wait_until(
            lambda: status(right, url).stdout, timeout=20, interval=0.3, what="remote ctl"
        )
        loopback = f"http://127.0.0.1:{default_port}/rpc"
        assert "node: local" in wait_until(
            lambda: status(left, loopback).stdout, timeout=20, interval=0.3, what="local ctl"
        )
        for ns in (right, left):
            res = status(ns, f"http://{left.ip}:{default_port}/rpc")
            assert res.returncode == 1
            assert "Connection refused" in res.stderr
    finally:
        for proc in (node, local):
            proc.kill()
            proc.wait(timeout=10)
