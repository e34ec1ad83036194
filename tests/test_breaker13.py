"""Holes found by breaking issue 13's trust model with real nodes (docs/security.md,
"Trust model"): each test is an attack that must fail."""

from __future__ import annotations

import asyncio
import functools
import shutil
import signal
import tomllib
from pathlib import Path

import pytest

import login_helpers
from hostile_peer import RawPeer, routes
from login_helpers import htpasswd_file
from wsnet.testing import NodeFactory, free_port, toml_dumps, wait_until
from wsnet.testing_tcp import ident_handler, server_thread, who_answers
from wsnet.transport.ws.credentials import basic_authorization

pytestmark = pytest.mark.skipif(
    shutil.which("htpasswd") is None, reason="Apache's htpasswd (apache2-utils) is not installed"
)

PASSWORDS = {"alice": "alice pw", "inner": "inner pw", "edge1": "edge1 pw"}
dial_as = functools.partial(login_helpers.dial_as, passwords=PASSWORDS)


@pytest.fixture
def users(tmp_path: Path) -> Path:
    return htpasswd_file(tmp_path / "users.htpasswd", PASSWORDS, cost=5)


def test_a_hub_without_the_tcp_plugin_does_not_widen_a_tunnel_grant(
    wsnet_node_factory: NodeFactory, users: Path, tmp_path: Path
) -> None:
    """alice may open only tunnel web on inner.  The hub relays but does not run wsnet-tcp,
    so it cannot read which tunnel or target a tcp channel asks for: it must not let the
    coarse "tcp@inner" through as if it had checked "tcp:web@inner" (inner does not list
    alice, so nothing else stops her reaching tunnel ssh or any ad-hoc target)."""
    ports = {name: free_port() for name in ("ssh", "web")}
    grants = {"principal": {"alice": {"open": ["tcp:web@inner"]}}}
    secret = ident_handler(b"secret")
    with server_thread(ident_handler(b"web")) as web, server_thread(secret) as hidden:
        hub = wsnet_node_factory("hub", plugins=["auth_htpasswd"], config={
            "auth_htpasswd": {"file": str(users)}, "authz": grants})  # fmt: skip
        tunnels = [
            {"name": "web", "connect": f"127.0.0.1:{web.port}"},
            {"name": "ssh", "connect": f"127.0.0.1:{hidden.port}"},
        ]
        dial_as(wsnet_node_factory, "inner", hub, tmp_path, node={"plugins": ["tcp"]},
                tcp={"targets": ["127.0.0.1:*"], "tunnel": tunnels})  # fmt: skip
        listens: list[dict[str, str]] = [
            {"name": n, "listen": f"127.0.0.1:{p}", "peer": "inner"} for n, p in ports.items()
        ]
        listens[1]["target"] = f"127.0.0.1:{hidden.port}"  # tunnel web, an ad-hoc target
        alice = dial_as(wsnet_node_factory, "alice", hub, tmp_path, node={"plugins": ["tcp"]},
                        tcp={"tunnel": listens})  # fmt: skip
        wait_until(lambda: {"inner", "alice"} <= hub.peers(), timeout=20, what="both linked")
        wait_until(lambda: "inner" in {r["node"] for r in alice.ctl("routes")}, what="route")
        assert who_answers(ports["ssh"]) != "secret", "alice reached tunnel ssh on inner"
        assert who_answers(ports["web"]) != "secret", "alice reached an ad-hoc target on inner"
        assert "no plugin here reads what 'tcp' narrows to, which needs a grant of " in (hub.log())


async def test_sighup_revoking_a_relay_grant_withdraws_its_routes(
    wsnet_node_factory: NodeFactory, users: Path
) -> None:
    """edge1 may relay site-*; its grant is revoked by SIGHUP while it is linked.  A peer
    advertises only on a change, so the hub must not wait for the next advert to drop
    site-1 (until then, every channel for site-1 would still go to edge1)."""
    grants = {"principal": {"edge1": {"open": ["*@*"], "relay": ["site-*"]}}}
    hub = wsnet_node_factory("hub", plugins=["auth_htpasswd"], config={
        "auth_htpasswd": {"file": str(users)}, "authz": grants})  # fmt: skip
    headers = {"Authorization": basic_authorization("edge1", PASSWORDS["edge1"])}

    def nodes() -> set[str]:
        return {r["node"] for r in hub.ctl("routes")}

    async with RawPeer.link(hub.url, "edge1", headers=headers) as edge1:
        await edge1.send(routes({"site-1": 1}))
        await asyncio.to_thread(wait_until, lambda: "site-1" in nodes(), what="site-1 routed")
        raw = tomllib.loads(hub.config_path.read_text())
        raw["authz"]["principal"]["edge1"]["relay"] = []
        hub.config_path.write_text(toml_dumps(raw))
        hub.send_signal(signal.SIGHUP)
        await asyncio.to_thread(wait_until, lambda: "SIGHUP: done" in hub.log(), what="the reload")
        assert "site-1" not in await asyncio.to_thread(nodes)
        assert edge1.up
