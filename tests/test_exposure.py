"""The start-up warnings for open doors, seen in the log of real `wsnet run` processes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until

if TYPE_CHECKING:
    from wsnet.testing_pki import Pki

OPEN = "has no authenticator: anyone who can reach"
CLEAR = "without TLS: credentials cross the network in clear"
CTL_OPEN = "the control API on 0.0.0.0:{port} has no credentials"


def started(factory: NodeFactory, name: str, host: str = "0.0.0.0", **kw: Any) -> NodeProcess:
    """A node whose link listener binds ``host`` (the factory binds 127.0.0.1 otherwise)."""
    port = free_port()
    node = factory(name, port=port, extra_args=["--listen", f"{host}:{port}", *kw.pop("args", [])],
                   **kw)  # fmt: skip
    wait_until(lambda: f"node {name} up" in node.log(), what=f"{name} started")
    return node


def htpasswd_file(tmp: Path) -> Path:
    if shutil.which("htpasswd") is None:
        pytest.skip("Apache's htpasswd (apache2-utils) is not installed")
    path = tmp / "users.htpasswd"
    subprocess.run(["htpasswd", "-b", "-c", "-B", str(path), "alice", "pw"],
                   check=True, capture_output=True, timeout=30)  # fmt: skip
    return path


def test_open_listener_warns_once_naming_the_address(wsnet_node_factory: NodeFactory) -> None:
    node = started(wsnet_node_factory, "open")
    lines = [x for x in node.log().splitlines() if OPEN in x]
    assert len(lines) == 1, node.log()
    assert "WARNING" in lines[0] and f"0.0.0.0:{node.port}" in lines[0]
    assert "allow_anonymous = true" in lines[0]
    assert CLEAR not in node.log()


def test_loopback_and_allow_anonymous_are_quiet(wsnet_node_factory: NodeFactory) -> None:
    local = started(wsnet_node_factory, "local", host="127.0.0.1")
    knowing = started(wsnet_node_factory, "knowing", config={"listen": {"allow_anonymous": True}})
    for node in (local, knowing):
        assert OPEN not in node.log() and "wsnet.security" not in node.log(), node.log()
    # allow_anonymous changes nothing else: anyone still links.
    edge = wsnet_node_factory("edge", listen=False, dial=[f"ws://127.0.0.1:{knowing.port}/wsnet"])
    wait_until(lambda: "edge" in knowing.peers(), what="anonymous link")
    assert edge.ctl("status")["links"] == 1


def test_passwords_without_tls_warn_and_with_tls_do_not(
    wsnet_node_factory: NodeFactory, tmp_path: Path, pki: Pki
) -> None:
    auth = {"auth_htpasswd": {"file": str(htpasswd_file(tmp_path))}}
    clear = started(wsnet_node_factory, "clear", plugins=["auth_htpasswd"], config=auth)
    assert OPEN not in clear.log()
    (line,) = [x for x in clear.log().splitlines() if CLEAR in x]
    assert f"0.0.0.0:{clear.port} takes passwords (htpasswd)" in line
    tls = {"tls_cert": str(pki.server.cert), "tls_key": str(pki.server.key)}
    safe = started(wsnet_node_factory, "safe", plugins=["auth_htpasswd"],
                   config={**auth, "listen": tls})  # fmt: skip
    assert "wsnet.security" not in safe.log(), safe.log()


def test_control_api_beyond_loopback_without_credentials_warns(
    wsnet_node_factory: NodeFactory,
) -> None:
    port = free_port()
    node = wsnet_node_factory("ctl", listen=False, start=False)
    node.argv += ["--ctl-host", "0.0.0.0", "--ctl-port", str(port), "--ctl-allow-remote"]
    node.ctl_port = port
    node.start()
    wait_until(lambda: "node ctl up" in node.log(), what="started")
    assert CTL_OPEN.format(port=port) in node.log(), node.log()
    assert OPEN not in node.log()  # it does not listen for links
