"""Issue 13's mesh attacks, each against real nodes: a low-privilege login (alice) may not
squat node names, hijack or flood routes, or reach past the hub (docs/security.md,
"Trust model")."""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import signal
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

import login_helpers
from hostile_peer import RawPeer, open_, routes
from login_helpers import htpasswd_file
from wsnet.builtin.authz import POLICY, wsnet_configure
from wsnet.config import parse
from wsnet.ctl import CtlError
from wsnet.protocol import CloseCode, FrameType
from wsnet.testing import NodeFactory, NodeProcess, free_port, toml_dumps, wait_until
from wsnet.testing_tcp import echo_handler, ident_handler, server_thread, who_answers
from wsnet.transport.ws.credentials import basic_authorization

pytestmark = pytest.mark.skipif(
    shutil.which("htpasswd") is None, reason="Apache's htpasswd (apache2-utils) is not installed"
)

PASSWORDS = {"alice": "alice pw", "bob": "bob pw", "inner": "inner pw", "edge": "edge pw"}
dial_as = functools.partial(login_helpers.dial_as, passwords=PASSWORDS)
GRANTS: dict[str, Any] = {
    "principal": {
        "alice": {"open": ["echo"], "claim": ["mallory"]},  # low privilege
        "bob": {"open": ["*@*"]},  # anything anywhere, as far as the hub is concerned
    }
}


@pytest.fixture
def users(tmp_path: Path) -> Path:
    return htpasswd_file(tmp_path / "users.htpasswd", PASSWORDS, cost=5)


def hub_node(factory: NodeFactory, users: Path, **extra: Any) -> NodeProcess:
    config = {"auth_htpasswd": {"file": str(users)}, "authz": GRANTS, **extra}
    return factory("hub", plugins=["auth_htpasswd"], config=config)


def auth(user: str) -> dict[str, str]:
    return {"Authorization": basic_authorization(user, PASSWORDS[user])}


async def ctl(proc: NodeProcess, method: str, **params: Any) -> Any:
    return await asyncio.to_thread(proc.ctl, method, **params)


# ------------------------------------------------------------- 1. squatting
async def test_a_login_claims_only_its_own_or_granted_names(
    wsnet_node_factory: NodeFactory, users: Path, tmp_path: Path
) -> None:
    hub = hub_node(wsnet_node_factory, users)
    # inner is down for a moment: alice tries its name and is refused, not linked
    async with RawPeer.link(hub.url, "inner", expect_up=False, headers=auth("alice")) as peer:
        code, reason = await peer.wait_closed(10)
    assert code == CloseCode.NAME_NOT_GRANTED, (code, reason)
    assert "'alice' may not claim the node name 'inner'" in reason
    assert "inner" not in await asyncio.to_thread(hub.peers)
    # her own name and the one she is granted are fine
    for name in ("alice", "mallory"):
        async with RawPeer.link(hub.url, name, headers=auth("alice")) as peer:
            assert peer.up and name in await asyncio.to_thread(hub.peers)
    # and the real inner links as itself while she tries again
    async with RawPeer.link(hub.url, "inner", expect_up=False, headers=auth("alice")) as peer:
        inner = dial_as(wsnet_node_factory, "inner", hub, tmp_path)
        await asyncio.to_thread(
            wait_until, lambda: "inner" in hub.peers(), what="the real inner linked"
        )
        assert (await peer.wait_closed(10))[0] == CloseCode.NAME_NOT_GRANTED
    assert (await ctl(inner, "ping", node="hub", count=2))["count"] == 2


# ------------------------------------------------------ 2. route hijack
async def test_adverts_for_names_not_granted_are_dropped_and_counted(
    wsnet_node_factory: NodeFactory, users: Path, tmp_path: Path
) -> None:
    hub = hub_node(wsnet_node_factory, users)
    async with RawPeer.link(hub.url, "mallory", headers=auth("alice")) as mallory:
        await mallory.send(routes({"inner": 0, "ghost": 1, "inner2": 1}))
        inner = dial_as(wsnet_node_factory, "inner", hub, tmp_path)
        await asyncio.to_thread(
            wait_until, lambda: "inner" in hub.peers(), what="the real inner linked"
        )
        await mallory.send(routes({"inner": 0, "ghost": 1}))  # again, after inner came
        links = await asyncio.to_thread(
            wait_until,
            lambda: (ls := hub.ctl("links")) and any(x["routes_refused"] >= 4 for x in ls) and ls,
            what="refused names counted",
        )
        (m,) = [x for x in links if x["peer"] == "mallory"]
        assert m["principal"] == "alice"
        table = {r["node"]: r for r in await ctl(hub, "routes")}
        assert set(table) == {"mallory", "inner"}, table  # no ghost, no inner2
        assert table["inner"]["via"] == "inner" and table["inner"]["hops"] == 1
        # what the hub sends to inner goes to inner, never to mallory
        assert (await ctl(hub, "ping", node="inner", count=3))["count"] == 3
        assert (await ctl(inner, "ping", node="hub", count=1))["count"] == 1
        assert mallory.opens.empty()
        assert "dropped routes it may not advertise" in hub.log()


# ---------------------------------------------------- 3. relays authorise
def _refusal(node: NodeProcess, target: str) -> str:
    try:
        node.ctl("ping", node=target, count=1)
    except CtlError as exc:
        return str(exc)
    return ""


def test_the_first_node_checks_the_destination_and_the_last_the_origin(
    wsnet_node_factory: NodeFactory, users: Path, tmp_path: Path
) -> None:
    hub = hub_node(wsnet_node_factory, users)
    # inner's own policy: bob may open only sink here, whatever the hub allows him
    inner_authz = {"principal": {"bob": {"open": ["sink"]}}}
    dial_as(wsnet_node_factory, "inner", hub, tmp_path, authz=inner_authz)
    alice = dial_as(wsnet_node_factory, "alice", hub, tmp_path)
    bob = dial_as(wsnet_node_factory, "bob", hub, tmp_path)
    edge = dial_as(wsnet_node_factory, "edge", hub, tmp_path)  # not listed: default allow
    wait_until(lambda: len(hub.peers()) == 4, timeout=20, what="four linked nodes")

    assert alice.ctl("ping", node="hub", count=1)["count"] == 1  # "echo" is the hub's echo
    refusal = _refusal(alice, "inner")
    assert "'alice' may not open 'echo@inner': [authz.principal.alice] open allows echo" in (
        refusal
    ), refusal
    # bob passes the hub ("*@*"), and inner applies its own policy to bob, not to the hub
    refusal = _refusal(bob, "inner")
    assert "'bob' may not open 'echo': [authz.principal.bob] open allows sink" in refusal
    res = bob.ctl("speedtest", node="inner", bytes=65536, timeout=10.0)
    assert res["ok"], res
    # a principal without an entry under default = "allow" is not narrowed anywhere
    assert edge.ctl("ping", node="inner", count=2)["count"] == 2


async def test_a_forged_originating_principal_is_ignored(
    wsnet_node_factory: NodeFactory, users: Path, tmp_path: Path
) -> None:
    hub = hub_node(wsnet_node_factory, users)
    dial_as(wsnet_node_factory, "inner", hub, tmp_path)
    await asyncio.to_thread(wait_until, lambda: "inner" in hub.peers(), what="inner linked")
    async with RawPeer.link(hub.url, "alice", headers=auth("alice")) as peer:
        cid = peer.next_id()
        # alice claims to relay for "elsewhere" on behalf of bob (who may open anything)
        await peer.send(open_(cid, "echo", dst="inner", src="elsewhere", principal="bob"))
        fr = await peer.next_frame(cid, 10)
        assert fr.type == FrameType.RESET
        reason = bytes(fr.payload[2:]).decode()
        assert "'alice' may not open 'echo@inner'" in reason, reason
        assert peer.up  # a refusal is the channel's, the link stays


# ------------------------------------------------------------ 9. route floods
async def test_a_route_flood_is_bounded_and_damped(wsnet_node_factory: NodeFactory) -> None:
    # anonymous peers (no authenticator) may advertise routes: the bounds still hold
    hub = wsnet_node_factory("hub", config={"limits": {"max_routes": 500}})
    sets = [{f"fake-{k}-{i}": 1 + i % 3 for i in range(2400)} for k in "ab"]
    async with (
        RawPeer.link(hub.url, "flooder") as flooder,
        RawPeer.link(hub.url, "watcher") as watcher,
    ):
        await asyncio.sleep(0.5)
        before = len(watcher.adverts)
        start = time.monotonic()
        for n in range(40):  # 40 adverts of 2,400 names in about 2 s, alternating
            await flooder.send(routes(sets[n % 2]))
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        elapsed = time.monotonic() - start
        got = watcher.adverts[before:]
        # the hub re-advertised at most once per route_interval (0.25 s), not 40 times
        assert 1 <= len(got) <= elapsed / 0.25 + 2, (len(got), elapsed)
        assert all(len(a) <= 500 + 1 for a in got), [len(a) for a in got]
        table = await ctl(hub, "routes")
        assert len(table) <= 500 + 2
        (link,) = [x for x in await ctl(hub, "links") if x["peer"] == "flooder"]
        assert link["routes_cut"] >= 1900
        assert watcher.up and flooder.up
    assert re.search(r"dropped routes .* beyond \[limits\] max_routes \(\d+\)", hub.log())


def test_the_trust_example_in_the_docs_is_a_valid_policy() -> None:
    """The hub's [authz] in docs/security.md ("Trust model") parses and means what it says."""
    doc = (Path(__file__).parent.parent / "docs" / "security.md").read_text()
    block = doc.split("<!-- trust-example -->", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    cfg = parse(tomllib.loads(block), "security.md")
    wsnet_configure(cfg)
    policy = cfg.stash[POLICY]
    assert policy.check("alice", "open", "echo@inner") is None
    assert policy.check("alice", "open", "sink@inner") is not None
    assert policy.check("alice", "claim", "inner") is not None
    assert policy.check("edge1", "relay", "site-3") is None


def test_a_relayed_tunnel_is_checked_whole_where_it_enters(
    wsnet_node_factory: NodeFactory, users: Path, tmp_path: Path
) -> None:
    """alice may open tunnels web and adhoc on inner, with no connect grant: the hub (with
    wsnet-tcp) refuses tunnel ssh and adhoc's ad-hoc target before relaying them, although
    inner itself would allow both (alice is not listed there, and its targets allow it)."""
    ports = {name: free_port() for name in ("web", "ssh", "adhoc")}
    grants = {"principal": {"alice": {"open": ["tcp:web@inner", "tcp:adhoc@inner"]}}}
    with server_thread(ident_handler(b"web")) as web, server_thread(echo_handler) as hidden:
        hub = wsnet_node_factory("hub", plugins=["auth_htpasswd", "tcp"], config={
            "auth_htpasswd": {"file": str(users)}, "authz": grants})  # fmt: skip
        tunnels = [{"name": n, "connect": f"127.0.0.1:{web.port}"} for n in ("web", "ssh")]
        dial_as(wsnet_node_factory, "inner", hub, tmp_path, node={"plugins": ["tcp"]},
                tcp={"targets": ["127.0.0.1:*"], "tunnel": tunnels})  # fmt: skip
        listens: list[dict[str, str]] = [
            {"name": n, "listen": f"127.0.0.1:{p}", "peer": "inner"} for n, p in ports.items()
        ]
        listens[2]["target"] = f"127.0.0.1:{hidden.port}"
        alice = dial_as(wsnet_node_factory, "alice", hub, tmp_path, node={"plugins": ["tcp"]},
                        tcp={"tunnel": listens})  # fmt: skip
        wait_until(lambda: {"inner", "alice"} <= hub.peers(), timeout=20, what="both linked")
        wait_until(lambda: "inner" in {r["node"] for r in alice.ctl("routes")}, what="route")
        assert wait_until(lambda: who_answers(ports["web"]) == "web", what="tunnel web")
        assert who_answers(ports["ssh"]) == ""
        assert who_answers(ports["adhoc"]) == ""
        log = hub.log()
        assert "'alice' may not open 'tcp:ssh@inner'" in log, log[-3000:]
        assert f"'alice' may not have 'inner' connect to 127.0.0.1:{hidden.port}" in log


async def test_sighup_revoking_a_claim_closes_the_link_holding_the_name(
    wsnet_node_factory: NodeFactory, users: Path
) -> None:
    hub = hub_node(wsnet_node_factory, users)
    async with RawPeer.link(hub.url, "mallory", headers=auth("alice")) as peer:
        config = tomllib.loads(hub.config_path.read_text())
        config["authz"]["principal"]["alice"]["claim"] = []
        hub.config_path.write_text(toml_dumps(config))
        hub.send_signal(signal.SIGHUP)
        code, reason = await peer.wait_closed(10)
    assert code == CloseCode.NAME_NOT_GRANTED, (code, reason)
    assert "'alice' may no longer claim the node name 'mallory'" in reason
    assert "mallory" not in await asyncio.to_thread(hub.peers)
