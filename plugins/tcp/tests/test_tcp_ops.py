"""wsnet-tcp operations: `wsnet tcp` commands, run-time add/remove, authz, bad config."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wsnet.ctl import CtlError
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_run import run_config
from wsnet.testing_tcp import connect_refused, echo_handler, echo_roundtrip, server_thread


def wsnet(*args: str, ctl: NodeProcess | None = None) -> subprocess.CompletedProcess[str]:
    env_args = ["--ctlurl", ctl.ctlurl] if ctl is not None else []
    return subprocess.run([sys.executable, "-m", "wsnet", *args, *env_args],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def rows(node: NodeProcess) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["role"]): r for r in node.ctl("tunnels")}


def test_forward_list_and_del_from_the_command_line(wsnet_node_factory: NodeFactory) -> None:
    """A one-off tunnel with no config file: `wsnet tcp forward 8022=ssh@b:PORT`."""
    lport = free_port()
    with server_thread(echo_handler) as echo:
        a = wsnet_node_factory("a", plugins=["tcp"])
        b = wsnet_node_factory(
            "b",
            listen=False,
            dial=[a.url],
            plugins=["tcp"],
            config={"tcp": {"targets": [f"127.0.0.1:{echo.port}"]}},
        )
        wait_until(lambda: "b" in a.peers(), what="link")
        res = wsnet("tcp", "forward", f"{lport}=ssh@b:{echo.port}", ctl=a)
        assert res.returncode == 0, res.stderr
        assert f"127.0.0.1:{lport} → tunnel ssh → 127.0.0.1:{echo.port} on b" in res.stdout
        wait_until(lambda: rows(a)[("ssh", "listen")]["state"] == "listening", what="bound")
        assert asyncio.run(echo_roundtrip(lport, 200_000)).ok
        listing = wsnet("tcp", "list", ctl=a).stdout
        assert "ssh" in listing and "listening" in listing and "200000" in listing
        assert rows(b)[("ssh", "target")]["total"] == 1
        again = wsnet("tcp", "forward", f"{lport}=ssh@b:{echo.port}", ctl=a)
        assert again.returncode == 1
        assert "tunnel 'ssh' already has a listen side here" in again.stderr
        bad = wsnet("tcp", "forward", "8022:ssh@b", ctl=a)
        assert bad.returncode == 2 and "expected [BIND:]PORT=NAME@NODE" in bad.stderr
        assert wsnet("tcp", "del", "ssh", ctl=a).returncode == 0
        assert connect_refused(lport)
        assert ("ssh", "listen") not in rows(a)
        gone = wsnet("tcp", "del", "ssh", ctl=a)
        assert gone.returncode == 1 and "no tunnel 'ssh'" in gone.stderr


def test_addtunnel_rejects_bad_input_and_a_busy_port(wsnet_node_factory: NodeFactory) -> None:
    a = wsnet_node_factory("a", plugins=["tcp"])
    with pytest.raises(CtlError, match="give exactly one of listen"):
        a.ctl("addtunnel", name="x")
    with pytest.raises(CtlError, match="needs peer"):
        a.ctl("addtunnel", name="x", listen="127.0.0.1:1")
    holder = socket.socket()  # someone else holds the port the tunnel wants
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["tcp"])
    wait_until(lambda: "b" in a.peers(), what="link")
    try:
        a.ctl("addtunnel", name="busy", listen=f"127.0.0.1:{busy}", peer="b")
        wait_until(lambda: rows(a)[("busy", "listen")]["state"].startswith("error"), what="err")
        assert "cannot listen on 127.0.0.1:" in rows(a)[("busy", "listen")]["state"]
        assert "Address already in use" in rows(a)[("busy", "listen")]["state"]
        assert a.ctl("status")["node"] == "a" and b.peers() == {"a"}
    finally:
        holder.close()
    # Retried without any route change: bound once the port is free.
    wait_until(lambda: rows(a)[("busy", "listen")]["state"] == "listening", timeout=8,
               what="bound after the port was freed")  # fmt: skip


BAD = [
    ("[tcp]\npending_timeout = -1\n", "[tcp] pending_timeout: expected seconds >= 0"),
    ("[tcp]\ntargets = ['22']\n", "[tcp] targets: entry #1 '22': '22' is neither an IP"),
    ("[tcp]\ntargets = ['::1', '10.0.0.*:22']\n",
     "[tcp] targets: entry #2 '10.0.0.*:22': 10.0.0.* is a glob, entries are addresses now: "
     "write 10.0.0.0/24:22"),
    ("[authz.principal.alice]\nconnect = ['db:x']\n",
     "[authz.principal.alice] connect: entry #1 'db:x': PORT is a number, N-M or *, got 'x'"),
    ("[tcp]\ncolour = 1\n", "[tcp] colour: unknown key"),
    ("[[tcp.tunnel]]\nname = 'x'\nlisten = '1'\n", "[[tcp.tunnel]] #1 peer: a listen tunnel"),
    ("[[tcp.tunnel]]\nname = 'x'\nconnect = 'h'\n", "[[tcp.tunnel]] #1 connect: expected HOST"),
    ("[[tcp.tunnel]]\nconnect = 'h:1'\n", "[[tcp.tunnel]] #1 name: required key missing"),
    ("[[tcp.tunnel]]\nname = 'x'\nconect = 'h:1'\n", "[[tcp.tunnel]] #1 conect: unknown key"),
    ("[[tcp.tunnel]]\nname = 'x'\nconnect = 'h:1'\n[[tcp.tunnel]]\nname = 'x'\n"
     "connect = 'h:2'\n", "[[tcp.tunnel]] #2 name: a second connect tunnel named 'x'"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_tcp_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    res = run_config(tmp_path, "[node]\nplugins = ['tcp']\n" + text)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wsnet: error: {tmp_path / 'bad.toml'}: ")
    assert expected in lines[0]
