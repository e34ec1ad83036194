"""wsnet-httpproxy with wsnet-ha: a route whose exit node is an HA group. Requests leave at
the group's active member (the response's `Via` names the exit node); when it is killed, the
next ones leave at the standby, with nothing changed on the entry node."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

# the plugin's own test helpers (http_helpers, upstream_app) and its upstream fixture
HELPERS = Path(__file__).resolve().parents[1] / "plugins" / "httpproxy" / "tests"
sys.path.insert(0, str(HELPERS))

import pytest  # noqa: E402
from http_helpers import Upstream, curl, route, run_upstream  # noqa: E402

from wsnet.testing import NodeFactory, free_port, wait_until  # noqa: E402


@pytest.fixture
def upstream() -> Any:
    with run_upstream() as up:
        yield up


def exit_of(url: str) -> str:
    """The exit node that served ``url``: the response's ``Via: 1.1 NODE``."""
    r = curl("-s", "-D", "-", "-o", "/dev/null", url)
    heads = r.stdout.decode().lower().splitlines()
    assert heads and " 200" in heads[0], heads
    via = [h.split(":", 1)[1].split() for h in heads if h.startswith("via:")]
    assert via, heads
    return str(via[0][1])


def test_a_route_to_an_ha_group_follows_its_active_member(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    port = free_port()
    group = {"group": [{"name": "app", "members": ["m1", "m2"]}]}
    listener = {"listen": f"127.0.0.1:{port}", "route": [route("/a", "app", f"{upstream.base}/x")]}
    hub = wsnet_node_factory(
        "hub",
        plugins=["httpproxy", "ha"],
        config={"ha": group, "httpproxy": {"listener": [listener]}},
    )
    exits = {"httpproxy": {"targets": [f"127.0.0.1:{upstream.port}"]}, "ha": group}
    members = {
        name: wsnet_node_factory(
            name, listen=False, dial=[hub.url], plugins=["httpproxy", "ha"], config=exits
        )
        for name in ("m1", "m2")
    }
    wait_until(lambda: {"m1", "m2"} <= hub.peers(), what="members linked")
    base = f"http://127.0.0.1:{port}/a/state"
    wait_until(lambda: curl(base).returncode == 0, what="first request")
    assert {exit_of(base) for _ in range(5)} == {"m1"}
    members["m1"].kill(signal.SIGKILL)
    # the keepalive deadline finds m1 gone; until then requests may fail (502), never hang
    wait_until(lambda: curl(base).returncode == 0 and exit_of(base) == "m2", timeout=30,
               what="failover to m2")  # fmt: skip
    assert {exit_of(base) for _ in range(5)} == {"m2"}
    assert members["m2"].ctl("proxies")["exit"]["served"]["a"]["requests"] >= 5
