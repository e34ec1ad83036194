"""Ad-hoc tcp targets end to end (issue 13, items 4 and 5): a principal's grant must cover
the target, and a name is connected at the address that was checked."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port, toml_dumps, wait_until
from wsnet.testing_tcp import (
    echo_handler,
    echo_roundtrip,
    ident_handler,
    server_thread,
    who_answers,
)


def rows(node: NodeProcess) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["role"]): r for r in node.ctl("tunnels")}


def reload_with(node: NodeProcess, section: str, value: Any, logged: str) -> None:
    """Rewrite one section of the node's config file and SIGHUP it; wait for ``logged``."""
    config = tomllib.loads(node.config_path.read_text())
    config[section] = value
    node.config_path.write_text(toml_dumps(config))
    before = node.log().count(logged)
    node.send_signal(signal.SIGHUP)
    wait_until(lambda: node.log().count(logged) > before, what=f"reload: {logged}")


def set_target(node: NodeProcess, tunnel: str, peer: str, lport: int, target: str) -> None:
    node.ctl("deltunnel", name=tunnel)
    node.ctl("addtunnel", name=tunnel, listen=f"127.0.0.1:{lport}", peer=peer, target=target)
    wait_until(lambda: rows(node)[(tunnel, "listen")]["state"] == "listening", what="bound")


@pytest.mark.skipif(shutil.which("htpasswd") is None, reason="apache2-utils not installed")
def test_an_ad_hoc_target_needs_a_connect_grant(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    """alice may open only tcp:web; an ad-hoc target on web reaches nothing until granted."""
    users = tmp_path / "users"
    subprocess.run(["htpasswd", "-b", "-B", "-c", str(users), "alice", "pw"], check=True,
                   capture_output=True, timeout=30)  # fmt: skip
    (tmp_path / "pw").write_text("pw")
    reached: list[int] = []

    async def secret(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.append(1)
        await echo_handler(reader, writer)

    lport = free_port()
    with server_thread(echo_handler) as web, server_thread(secret) as hidden:
        authz = {"default": "deny", "principal": {"alice": {"open": ["tcp:web"]}}}
        hub = wsnet_node_factory("hub", plugins=["auth_htpasswd", "tcp"], config={
            "auth_htpasswd": {"file": str(users)},
            "authz": authz,
            "tcp": {"targets": ["127.0.0.1:*"],
                    "tunnel": [{"name": "web", "connect": f"127.0.0.1:{web.port}"}]},
        })  # fmt: skip
        alice = wsnet_node_factory("alice", listen=False, plugins=["tcp"], config={
            "dial": [{"url": hub.url, "user": "alice", "password_file": str(tmp_path / "pw")}],
            "tcp": {"tunnel": [{"name": "web", "listen": f"127.0.0.1:{lport}", "peer": "hub",
                                "target": f"127.0.0.1:{hidden.port}"}]},
        })  # fmt: skip
        wait_until(lambda: rows(alice)[("web", "listen")]["state"] == "listening", what="up")
        with pytest.raises(ConnectionResetError):
            asyncio.run(echo_roundtrip(lport, 10_000))
        error = rows(alice)[("web", "listen")]["last_error"]
        assert f"target 127.0.0.1:{hidden.port} is not granted to 'alice'" in error, error
        assert "[authz.principal.alice] connect allows nothing" in error, error
        assert f"refused: from alice: tunnel 'web': target 127.0.0.1:{hidden.port}" in hub.log()
        assert reached == [] and alice.peers() == {"hub"}

        # Granted by address: the same tunnel now reaches the port.
        grant = {"open": ["tcp:web"], "connect": [f"127.0.0.1:{hidden.port}"]}
        reload_with(hub, "authz", {**authz, "principal": {"alice": grant}},
                    "SIGHUP: [authz.principal.alice] changed")  # fmt: skip
        assert asyncio.run(echo_roundtrip(lport, 50_000)).ok
        assert reached == [1]

        # Granted by name: the name target passes, the address literal does not.
        grant = {"open": ["tcp:web"], "connect": [f"LocalHost.:{hidden.port}"]}
        reload_with(hub, "authz", {**authz, "principal": {"alice": grant}},
                    "SIGHUP: [authz.principal.alice] changed")  # fmt: skip
        with pytest.raises(ConnectionResetError):
            asyncio.run(echo_roundtrip(lport, 10_000))
        set_target(alice, "web", "hub", lport, f"localhost:{hidden.port}")
        assert asyncio.run(echo_roundtrip(lport, 50_000)).ok
        assert reached == [1, 1]


def in_hosts_namespace(node: NodeProcess, hosts: Path) -> NodeProcess:
    """Run ``node`` in its own mount namespace where ``hosts`` is /etc/hosts (the machine's
    file is not touched), so that a name resolves to two addresses."""
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    node.argv = ["unshare", "--mount", "sh", "-c", script, str(hosts), *node.argv]
    return node.start()


def namespaces_usable() -> bool:
    if shutil.which("unshare") is None:
        return False
    res = subprocess.run(["unshare", "--mount", "mount", "--bind", "/dev/null", "/etc/hosts"],
                         capture_output=True, timeout=30)  # fmt: skip
    return res.returncode == 0


@pytest.mark.skipif(not namespaces_usable(), reason="needs unshare --mount (root)")
def test_a_name_is_connected_at_the_checked_address(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    """twoaddr.test resolves to 127.0.0.2, then 127.0.0.3; only .3 is allowed.  The
    connection reaches .3: resolved once, checked per address, never by name again."""
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.2 twoaddr.test\n127.0.0.3 twoaddr.test\n")
    port, lport = free_port(), free_port()
    with (
        server_thread(ident_handler(b"two"), "127.0.0.2", port),
        server_thread(ident_handler(b"three"), "127.0.0.3", port),
    ):
        a = wsnet_node_factory("a", plugins=["tcp"], config={"tcp": {"tunnel": [
            {"name": "t", "listen": f"127.0.0.1:{lport}", "peer": "b",
             "target": f"twoaddr.test:{port}"}]}})  # fmt: skip
        b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["tcp"], start=False,
                               config={"tcp": {"targets": [f"127.0.0.3:{port}"]}})  # fmt: skip
        in_hosts_namespace(b, hosts)
        wait_until(lambda: rows(a)[("t", "listen")]["state"] == "listening", what="up")
        assert [who_answers(lport, timeout=10) for _ in range(3)] == ["three"] * 3
        # A name entry passes every address of the name: the resolver's first one is used.
        reload_with(b, "tcp", {"targets": [f"TWOADDR.test:{port}"]}, "SIGHUP: [tcp] targets")
        assert who_answers(lport, timeout=10) == "two"
        # No address of the name allowed: refused, with each address named.
        reload_with(b, "tcp", {"targets": [f"127.0.0.4:{port}"]}, "SIGHUP: [tcp] targets")
        assert who_answers(lport, timeout=10) == ""
        error = rows(a)[("t", "listen")]["last_error"]
        assert f"target twoaddr.test:{port}: 127.0.0.2 is not in [tcp] targets; " in error
        assert "127.0.0.3 is not in [tcp] targets" in error
