"""[authz] end to end: htpasswd principals limited in what they open and call."""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import login_helpers
from login_helpers import htpasswd_file
from wsnet.ctl import CtlError, CtlOptions, call
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_tcp import echo_handler, echo_roundtrip, server_thread

pytestmark = pytest.mark.skipif(
    shutil.which("htpasswd") is None, reason="Apache's htpasswd (apache2-utils) is not installed"
)

PASSWORDS = {"alice": "alice pw", "bob": "bob pw", "carol": "carol pw", "ops": "ops pw"}
dial_as = functools.partial(login_helpers.dial_as, passwords=PASSWORDS)
AUTHZ = {
    "default": "deny",
    "principal": {
        "alice": {"open": ["echo"]},
        "bob": {"open": ["*"]},
        "ops": {"call": ["status", "links", "list*"]},
    },
}


@pytest.fixture
def users(tmp_path: Path) -> Path:
    return htpasswd_file(tmp_path / "users.htpasswd", PASSWORDS)


def speedtest_error(node: NodeProcess, target: str) -> str:
    res: dict[str, Any] = node.ctl("speedtest", node=target, bytes=4096, timeout=10.0)
    return "" if res["ok"] else str(res["per_channel"][0]["error"])


def test_principals_open_only_what_authz_grants_and_links_stay_up(
    wsnet_node_factory: NodeFactory, users: Path, tmp_path: Path
) -> None:
    hub = wsnet_node_factory(
        "hub",
        plugins=["auth_htpasswd"],
        config={"auth_htpasswd": {"file": str(users)}, "authz": AUTHZ},
    )
    alice, bob, carol = (
        dial_as(wsnet_node_factory, u, hub, tmp_path) for u in PASSWORDS if u != "ops"
    )
    wait_until(lambda: len(hub.peers()) == 3, timeout=20, what="three linked nodes")

    assert alice.ctl("ping", node="hub", count=2)["count"] == 2
    err = speedtest_error(alice, "hub")
    assert "'alice' may not open 'sink': [authz.principal.alice] open allows echo" in err
    assert alice.ctl("ping", node="hub", count=2)["count"] == 2  # the link survived the refusal

    assert speedtest_error(bob, "hub") == ""  # "*" grants everything

    refusal = "'carol' may not open 'echo': not listed in [authz] and default = \"deny\""
    with pytest.raises(CtlError, match=re.escape(refusal)):
        carol.ctl("ping", node="hub", count=1)
    assert hub.peers() == {"alice", "bob", "carol"}


def test_control_users_call_only_granted_methods(
    wsnet_node_factory: NodeFactory, users: Path
) -> None:
    ops = CtlOptions("ops", PASSWORDS["ops"])
    node = wsnet_node_factory(
        "a",
        plugins=["switch"],
        config={"control": {"htpasswd": str(users)}, "authz": AUTHZ},
        ctl_options=ops,
    )
    assert node.ctl("status")["node"] == "a"
    assert node.ctl("listport") == []
    refusal = "may not call 'addport': [authz.principal.ops] call allows status, links, list*"
    with pytest.raises(CtlError, match=re.escape(refusal)):
        node.ctl("addport", "client", "ws://127.0.0.1:9/wsnet")
    assert node.ctl("listport") == []  # nothing was added
    bob = CtlOptions("bob", PASSWORDS["bob"])  # may open anything, but call nothing
    with pytest.raises(CtlError, match="may not call 'status'"):
        call(node.ctlurl, "status", options=bob)


def tunnel_rows(node: NodeProcess) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["role"]): r for r in node.ctl("tunnels")}


def test_authz_limits_principals_to_their_tunnels(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    # wsnet-tcp's tunnels are what authz grants here (plugins/tcp/tests has no htpasswd).
    users = htpasswd_file(tmp_path / "users", {"alice": "pw"})
    (tmp_path / "pw").write_text("pw")
    l_ok, l_no = free_port(), free_port()
    with server_thread(echo_handler) as echo:
        hub = wsnet_node_factory("hub", plugins=["auth_htpasswd", "tcp"], config={
            "auth_htpasswd": {"file": str(users)},
            "authz": {"default": "deny", "principal": {"alice": {"open": ["tcp:web"]}}},
            "tcp": {"tunnel": [{"name": "web", "connect": f"127.0.0.1:{echo.port}"},
                               {"name": "db", "connect": f"127.0.0.1:{echo.port}"}]},
        })  # fmt: skip
        alice = wsnet_node_factory("alice", listen=False, plugins=["tcp"], config={
            "dial": [{"url": hub.url, "user": "alice", "password_file": str(tmp_path / "pw")}],
            "tcp": {"tunnel": [{"name": "web", "listen": f"127.0.0.1:{l_ok}", "peer": "hub"},
                               {"name": "db", "listen": f"127.0.0.1:{l_no}", "peer": "hub"}]},
        })  # fmt: skip
        wait_until(lambda: tunnel_rows(alice)[("db", "listen")]["state"] == "listening", what="up")
        assert asyncio.run(echo_roundtrip(l_ok, 50_000)).ok
        with pytest.raises(ConnectionResetError):
            asyncio.run(echo_roundtrip(l_no, 50_000))
        assert "'alice' may not open tcp:db" in tunnel_rows(alice)[("db", "listen")]["last_error"]
        assert alice.peers() == {"hub"}  # the link stays up
