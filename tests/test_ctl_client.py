"""One control-API client for `wsnet ctl` and every plugin command, against real nodes:
TLS + htpasswd (Apache's tool), a bare port for --ctlurl, typed `addport client` options,
and the hint naming the plugin a node did not load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from test_ctl_security import PASSWORD, make_htpasswd
from wsnet import CtlClient
from wsnet.ctl import CtlError, CtlOptions
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until

if TYPE_CHECKING:
    from wsnet.testing_pki import Pki

# One command of each plugin and `wsnet ctl`: each calls the control API once.
COMMANDS = (
    ("tcp", "list"),
    ("tcp", "del", "nosuch"),
    ("tap", "list"),
    ("netdev", "del", "nosuch0"),
    ("ha", "status"),
    ("ctl", "status"),
)
BROKEN = "wsnet: warning: plugin "


def wsnet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The caller's own WSNET_CTL* settings must not leak into what is tested.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WSNET_CTL")}
    return subprocess.run(
        [sys.executable, "-m", "wsnet", *args], capture_output=True, text=True, timeout=60,
        env={**clean, **(env or {})}, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def one_line(res: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (no traceback, nothing on stdout)."""
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert res.stdout == ""
    # Another test may install a broken plugin meanwhile: the CLI's warning about it is
    # not this command's output.
    lines = [x for x in res.stderr.strip().splitlines() if not x.startswith(BROKEN)]
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.fixture
def protected(wsnet_node_factory: NodeFactory, pki: Pki, tmp_path: Path) -> NodeProcess:
    users = tmp_path / "ctl.htpasswd"
    make_htpasswd(users, "admin", PASSWORD)
    return wsnet_node_factory(
        "a", plugins=["tcp"], listen=False,
        extra_args=["--ctl-tls-cert", str(pki.server.cert), "--ctl-tls-key", str(pki.server.key),
                    "--ctl-htpasswd", str(users)],
        ctl_options=CtlOptions("admin", PASSWORD, ca_file=str(pki.ca.cert)),
    )  # fmt: skip


def test_plugin_command_with_tls_and_htpasswd(
    protected: NodeProcess, pki: Pki, tmp_path: Path
) -> None:
    url, ca = protected.ctlurl, str(pki.ca.cert)
    assert url.startswith("https://")
    protected.ctl("addtunnel", name="web", listen=f"127.0.0.1:{free_port()}", peer="b")
    base = ("tcp", "list", "--ctlurl", url, "--ca-file", ca)
    # The user from the option or from $WSNET_CTLUSER, the password from the environment
    # or from a file: the same as `wsnet ctl`.
    pw_file = tmp_path / "pw"
    pw_file.write_text(PASSWORD + "\n")
    for args, env in (
        (("--ctluser", "admin"), {"WSNET_CTLPASSWORD": PASSWORD}),
        ((), {"WSNET_CTLUSER": "admin", "WSNET_CTLPASSWORD": PASSWORD}),
        (("--ctluser", "admin", "--ctlpassword-file", str(pw_file)), {}),
    ):
        res = wsnet(*base, *args, env=env)
        assert res.returncode == 0, (args, res.stderr)
        assert res.stdout.splitlines()[0].split()[:2] == ["NAME", "ROLE"]
        assert "web" in res.stdout
    # Without credentials: one line that says what to give.
    assert one_line(wsnet(*base)) == (
        f"wsnet tcp: control API at {url} answered HTTP 401 Unauthorized "
        "(it needs credentials: --ctluser NAME and the password in $WSNET_CTLPASSWORD)"
    )
    line = one_line(wsnet(*base, "--ctluser", "admin", env={"WSNET_CTLPASSWORD": "wrong"}))
    assert line.endswith("401 Unauthorized (wrong user or password for 'admin')")
    line = one_line(wsnet(*base, "--ctluser", "admin"))  # no password anywhere, no terminal
    assert line.startswith("wsnet tcp: no password for 'admin'")
    # Without the CA: one line naming the option.
    line = one_line(wsnet("tcp", "list", "--ctlurl", url, "--ctluser", "admin",
                          env={"WSNET_CTLPASSWORD": PASSWORD}))  # fmt: skip
    assert line.startswith("wsnet tcp: cannot reach")
    assert line.endswith("(give its CA with --ca-file)")


def test_every_plugin_command_takes_the_shared_options(protected: NodeProcess, pki: Pki) -> None:
    env = {"WSNET_CTLUSER": "admin", "WSNET_CTLPASSWORD": PASSWORD}
    for command in COMMANDS:
        res = wsnet(*command, "--ctlurl", protected.ctlurl, "--ca-file", str(pki.ca.cert), env=env)
        # Reached and authenticated: a result, or the node's own one-line answer.
        assert res.returncode in (0, 1), (command, res.stderr)
        assert "401" not in res.stderr and "Traceback" not in res.stderr, (command, res.stderr)
        assert PASSWORD not in res.stdout + res.stderr
        if res.returncode:
            assert one_line(res).startswith(f"wsnet {command[0]}: "), res.stderr


def test_bare_port_for_ctlurl(wsnet_node_factory: NodeFactory) -> None:
    node = wsnet_node_factory("a", listen=False)
    port = node.ctlurl.rsplit(":", 1)[1].split("/")[0]
    for command in COMMANDS:
        for given in (port, f"127.0.0.1:{port}"):
            res = wsnet(*command, "--ctlurl", given)
            text = res.stdout + res.stderr
            assert "Traceback" not in text and "cannot reach" not in text, (command, text)
            if res.returncode:
                assert one_line(res).startswith(f"wsnet {command[0]}: "), text
    assert "node: a" in wsnet("ctl", "status", env={"WSNET_CTLURL": port}).stdout
    for bad in ("ws://127.0.0.1:1/rpc", "99999", "no-port-here"):
        for command in COMMANDS:
            line = one_line(wsnet(*command, "--ctlurl", bad))
            assert line.startswith(f"wsnet {command[0]}: --ctlurl "), line


def test_addport_client_takes_typed_options(wsnet_node_factory: NodeFactory, pki: Pki) -> None:
    # b serves wss:// with a certificate a cannot verify: only insecure=true links them.
    b = wsnet_node_factory(
        "b", extra_args=["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)]
    )
    a = wsnet_node_factory("a", listen=False, plugins=["switch"])  # addport is the switch's
    assert b.url.startswith("wss://")
    bad = one_line(wsnet("ctl", "--ctlurl", a.ctlurl, "addport", "client", b.url, "insecure=maybe"))
    assert bad == "wsnet ctl: addport: parameter 'insecure': expected bool, got 'maybe'"
    res = wsnet("ctl", "--ctlurl", a.ctlurl, "addport", "client", b.url, "insecure=true")
    assert res.returncode == 0, res.stderr
    wait_until(lambda: a.peers() == {"b"}, timeout=30, what="a linked to b with insecure=true")
    # The same words through `ctl dial` (typed parameters) and the same converter.
    res = wsnet("ctl", "--ctlurl", a.ctlurl, "dial", b.url + "?x=1", "insecure=yes")
    assert res.returncode == 0, res.stderr


def test_unknown_method_names_the_plugin_not_loaded(wsnet_node: NodeProcess) -> None:
    url = wsnet_node.ctlurl
    line = one_line(wsnet("ctl", "--ctlurl", url, "addtunnel", "web", "listen=127.0.0.1:1",
                          "peer=b"))  # fmt: skip
    assert line == ("wsnet ctl: addtunnel: unknown method 'addtunnel' (provided by plugin tcp, "
                    "which this node did not load: start it with --plugins tcp)")  # fmt: skip
    # Mixed positional and named words ask `help` first: the same answer, not a guess.
    line = one_line(wsnet("ctl", "--ctlurl", url, "hapromote", "g", "member=m"))
    assert line.endswith("(provided by plugin ha, which this node did not load: start it "
                         "with --plugins ha)")  # fmt: skip
    with pytest.raises(CtlError, match=r"unknown method 'nosuch' \(available: .*status"):
        wsnet_node.ctl("nosuch")
    line = one_line(wsnet("tcp", "list", "--ctlurl", url))
    assert line.startswith("wsnet tcp: tunnels: unknown method 'tunnels' (provided by plugin tcp")


def test_declared_control_methods_match_the_registered(wsnet_node_factory: NodeFactory) -> None:
    """CONTROL_METHODS of each plugin module is what it registers (the hint relies on it)."""
    import importlib

    bare = {row["method"] for row in wsnet_node_factory("bare", listen=False).ctl("help")}
    plugins = ("tcp", "ha", "switch", "tap")  # tap requires the switch: both are added
    full = wsnet_node_factory("full", listen=False, plugins=list(plugins))
    added = {row["method"] for row in full.ctl("help")} - bare
    declared: set[str] = set()
    for name in plugins:
        declared |= set(importlib.import_module(f"wsnet_{name}.plugin").CONTROL_METHODS)
    assert added == declared


def test_call_set_leaves_out_only_unset_params(wsnet_node: NodeProcess) -> None:
    """CtlClient.call_set, what plugin commands send their options with: None and "" (an
    option not given) are left out, so the method's defaults apply; 0 is a value."""
    ctl = CtlClient(wsnet_node.ctlurl)
    unset = {"node": "nowhere", "count": None, "size": ""}
    with pytest.raises(CtlError, match=r"^ping: no route to node 'nowhere'"):
        ctl.call_set("ping", unset)
    with pytest.raises(CtlError, match=r"^ping: parameter 'count'"):
        ctl.call("ping", unset)  # sent as they are
    with pytest.raises(CtlError, match=r"^ping: count must be 1\.\.1000"):
        ctl.call_set("ping", {"node": "nowhere", "count": 0})
