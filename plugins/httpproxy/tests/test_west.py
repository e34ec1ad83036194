"""West's four use cases (github.com/tanupoo/west), each with its own nodes on loopback,
`python -m http.server` as the server and curl (and ab) as the client; bodies by hash.

1. the client at L reaches the server at G (L dialled G);
2. the reverse, over the same link;
3. a client at L reaches a server at L2 through G, which relays without the plugin;
4. G → L → L2, where L accepts L2's link and dials G; links up in both orders.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from http_helpers import Site, curl, fetch_sha

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until


def listener(port: int, path: str, node: str, upstream: str) -> dict[str, Any]:
    return {
        "httpproxy": {
            "listener": [
                {
                    "listen": f"127.0.0.1:{port}",
                    "route": [{"path": path, "node": node, "upstream": upstream}],
                }
            ]
        }
    }


def exit_for(site: Site) -> dict[str, Any]:
    return {"httpproxy": {"targets": [f"127.0.0.1:{site.port}"]}}


def merge(*parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"httpproxy": {}}
    for p in parts:
        out["httpproxy"].update(p["httpproxy"])
    return out


def test_cases_1_and_2_over_one_link(
    wsnet_node_factory: NodeFactory, site: Site, tmp_path: Path
) -> None:
    site2 = Site(tmp_path / "www2")  # the server at L for case 2
    try:
        p1, p2 = free_port(), free_port()
        g = wsnet_node_factory(
            "G",
            plugins=["httpproxy"],
            config=merge(exit_for(site), listener(p2, "/pa", "L", site2.url)),
        )
        ell = wsnet_node_factory(
            "L",
            listen=False,
            dial=[g.url],
            plugins=["httpproxy"],
            config=merge(exit_for(site2), listener(p1, "/px", "G", site.url)),
        )
        wait_until(lambda: "G" in ell.peers(), what="link L->G")
        assert fetch_sha(f"http://127.0.0.1:{p1}/px/f.bin") == site.sha  # case 1
        assert fetch_sha(f"http://127.0.0.1:{p2}/pa/f.bin") == site2.sha  # case 2
        ab = subprocess.run(
            ["ab", "-q", "-k", "-n", "200", "-c", "4", f"http://127.0.0.1:{p2}/pa/f.bin"],
            capture_output=True,
            timeout=120,
            check=True,
            text=True,
        )
        assert "Failed requests:        0" in ab.stdout and "Non-2xx" not in ab.stdout
    finally:
        site2.proc.kill()
        site2.proc.wait(timeout=10)


def test_case_1_from_wsnet_http_commands(wsnet_node_factory: NodeFactory, site: Site) -> None:
    g = wsnet_node_factory("G", plugins=["httpproxy"], config=exit_for(site))
    ell = wsnet_node_factory("L", listen=False, dial=[g.url], plugins=["httpproxy"])
    wait_until(lambda: "G" in ell.peers(), what="link L->G")
    port = free_port()
    env = {**os.environ, "WSNET_CTLURL": ell.ctlurl}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsnet",
            "http",
            "expose",
            f"/px=G:{site.url}",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"http://127.0.0.1:{port}/px → {site.url} via G (route px)"
    assert fetch_sha(f"http://127.0.0.1:{port}/px/f.bin") == site.sha
    r = subprocess.run(
        [sys.executable, "-m", "wsnet", "http", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert "/px" in r.stdout and "REQUESTS" in r.stdout
    assert ell.ctl("proxies")["listeners"][0]["routes"][0]["upstream"] == site.url
    r = subprocess.run(
        [sys.executable, "-m", "wsnet", "http", "remove", "px"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert curl(f"http://127.0.0.1:{port}/px/f.bin").returncode == 7  # listener closed


def test_case_3_through_a_relay_without_the_plugin(
    wsnet_node_factory: NodeFactory, site: Site
) -> None:
    g = wsnet_node_factory("G")  # relays only: no httpproxy here
    port = free_port()
    l2 = wsnet_node_factory(
        "L2", listen=False, dial=[g.url], plugins=["httpproxy"], config=exit_for(site)
    )
    ell = wsnet_node_factory(
        "L",
        listen=False,
        dial=[g.url],
        plugins=["httpproxy"],
        config=listener(port, "/bx", "L2", site.url),
    )
    wait_until(lambda: ell.ctl("routes") and "L2" in str(ell.ctl("routes")), what="route to L2")
    assert fetch_sha(f"http://127.0.0.1:{port}/bx/f.bin") == site.sha
    assert l2.ctl("proxies")["exit"]["served"]["bx"]["requests"] == 1


def _case_4_nodes(factory: NodeFactory, site: Site, order: str) -> tuple[NodeProcess, int]:
    g_port, l_port, px = free_port(), free_port(), free_port()
    g = factory(
        "G",
        port=g_port,
        plugins=["httpproxy"],
        config=listener(px, "/baz", "L2", site.url),
        start=False,
    )
    ell = factory("L", port=l_port, dial=[f"ws://127.0.0.1:{g_port}/wsnet"], start=False)
    l2 = factory(
        "L2",
        listen=False,
        dial=[f"ws://127.0.0.1:{l_port}/wsnet"],
        plugins=["httpproxy"],
        config=exit_for(site),
        start=False,
    )
    for node in (g, ell, l2) if order == "top-down" else (l2, ell, g):
        node.start()
    wait_until(lambda: "L2" in str(g.ctl("routes")), timeout=30, what="G learns L2")
    return g, px


@pytest.mark.parametrize("order", ["top-down", "bottom-up"])
def test_case_4_chain_links_in_either_order(
    wsnet_node_factory: NodeFactory, site: Site, order: str
) -> None:
    g, px = _case_4_nodes(wsnet_node_factory, site, order)
    assert fetch_sha(f"http://127.0.0.1:{px}/baz/f.bin") == site.sha
    rows = g.ctl("httproutes")
    assert rows[0]["name"] == "baz" and rows[0]["2xx"] == 1
