"""The rest of issue 14's breaker pass: a resolver plugin that raises at run time, a bare
``--ctlurl PORT`` against a control API that speaks TLS, and pluggy's raw relay.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from probe_plugins import probe_site
from wsnet.ctl import CtlOptions
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_tcp import connect_refused, ident_handler, server_thread, who_answers

if TYPE_CHECKING:
    from wsnet.testing_pki import Pki

# A per-node object whose resolver fails for one name (an HA-like group "grp") at run time.
BADRESOLVE = """
class Resolver:
    def wsnet_resolve_node(self, node, name):
        if name == "grp":
            raise RuntimeError("group table is gone")
        return None

def wsnet_node_plugin(node):
    return Resolver()
"""


def tunnels(node: NodeProcess) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["role"]): r for r in node.ctl("tunnels")}


def test_a_resolver_that_raises_fails_that_open_only_naming_the_plugin(
    wsnet_node_factory: NodeFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = probe_site(tmp_path / "site", "wsnet-probe-b14rest", {"badresolve": BADRESOLVE},
                      "b14rest_")  # fmt: skip
    monkeypatch.setenv("PYTHONPATH", f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    bad_port, good_port = free_port(), free_port()
    with server_thread(ident_handler(b"a")) as server:
        target = f"127.0.0.1:{server.port}"
        a = wsnet_node_factory("a", plugins=["tcp"], config={"tcp": {"tunnel": [
            {"name": "bad", "connect": target}, {"name": "good", "connect": target}]}})  # fmt: skip
        b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["tcp", "badresolve"],
                               config={"tcp": {"tunnel": [
            {"name": "bad", "listen": f"127.0.0.1:{bad_port}", "peer": "grp"},
            {"name": "good", "listen": f"127.0.0.1:{good_port}", "peer": "a"}]}})  # fmt: skip
        wait_until(lambda: "a" in b.peers(), what="link b -> a")
        wait_until(lambda: who_answers(good_port) == "a", what="the good tunnel")
        # The tunnel to "grp" is listening; a connection to it is closed, not left hanging.
        wait_until(lambda: not connect_refused(bad_port), what="the bad tunnel's listener")
        assert who_answers(bad_port, timeout=20) == ""
        row = wait_until(lambda: tunnels(b)[("bad", "listen")]["last_error"], what="its error")
        assert "plugin 'badresolve' failed in wsnet_resolve_node" in row, row
        assert "RuntimeError: group table is gone" in row and "'grp'" in row, row
        # The link and the other tunnel carry on.
        assert who_answers(good_port) == "a"
        assert "a" in b.peers() and b.ctl("status")["node"] == "b"
    log = b.log()
    assert "plugin 'badresolve' failed in wsnet_resolve_node" in log
    assert "Traceback" not in log, log


def test_a_bare_ctlurl_port_of_a_tls_control_api_says_use_https(
    wsnet_node_factory: NodeFactory, pki: Pki
) -> None:
    node = wsnet_node_factory("a", listen=False, extra_args=[
        "--ctl-tls-cert", str(pki.server.cert), "--ctl-tls-key", str(pki.server.key)],
        ctl_options=CtlOptions(ca_file=str(pki.ca.cert)))  # fmt: skip
    port = node.ctl_port
    res = subprocess.run(
        [sys.executable, "-m", "wsnet", "ctl", "--ctlurl", str(port), "status"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode == 1, res
    lines = res.stderr.strip().splitlines()
    assert lines == [
        f"wsnet ctl: the control API at 127.0.0.1:{port} speaks TLS: use "
        f"https://127.0.0.1:{port}/rpc (with --ca-file CA, or --insecure)"
    ], res.stderr
    # Nothing listening there at all: the plain one line, no probe claims TLS.
    gone = free_port()
    res = subprocess.run([sys.executable, "-m", "wsnet", "ctl", "--ctlurl", str(gone), "status"],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert res.returncode == 1 and "Connection refused" in res.stderr and "TLS" not in res.stderr


def test_pluggys_raw_relay_is_not_reachable_from_the_plugin_api() -> None:
    """Hooks are called through the typed HookCalls only: the loaded Plugins offer no untyped
    ``hook`` relay, and NodeAPI (what a plugin gets) has no way to the plugin manager."""
    from wsnet import NodeAPI
    from wsnet.plugins import Plugins, new_manager

    plugins = Plugins(new_manager(), [])
    assert not hasattr(plugins, "hook")
    public = {m for m in dir(NodeAPI) if not m.startswith("_")}
    assert not public & {"plugins", "pm", "hook", "calls"}, public
    assert plugins.calls.implementers("wsnet_register_transports") == {"ws_transport"}
