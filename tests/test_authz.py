"""[authz] end to end: htpasswd principals limited in what they open and call."""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import login_helpers
from login_helpers import htpasswd_file
from wsnet.ctl import CtlError, CtlOptions, call
from wsnet.testing import NodeFactory, NodeProcess, wait_until

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
