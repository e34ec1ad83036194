"""Deadlines before trust: the link listener and the control API close connections that do
not finish the WebSocket upgrade / the HTTP request in time (default 10 s), and a crowd of
idle connections from one address neither locks out an edge nor survives its deadline."""

from __future__ import annotations

import json
import socket
import time
from typing import TYPE_CHECKING, Any

import pytest

from slow_clients import Slow, closing_all, connect_from, open_slow, state, watch
from wsnet.testing import NodeFactory, NodeProcess, wait_until

if TYPE_CHECKING:
    from wsnet.testing_pki import Pki

DEADLINE = 10.0  # the documented default of [listen] handshake_timeout and [control] ...
MARGIN = 4.0  # polling, timer slack and a loaded 2-core machine


def _link_lorises(port: int, tag: str) -> list[Slow]:
    return [
        open_slow(port, f"{tag}: silent"),
        open_slow(port, f"{tag}: half a request line", b"GET /wsn"),
        open_slow(port, f"{tag}: headers unfinished", b"GET /wsnet HTTP/1.1\r\nHost: x\r\n"),
        open_slow(port, f"{tag}: trickled headers", b"GET /wsnet HTTP/1.1\r\n",
                  trickle=b"X-Slow: " + b"a" * 64 + b"\r\n"),
    ]  # fmt: skip


def _control_lorises(port: int) -> list[Slow]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status"}).encode()
    lorises = [
        open_slow(port, "ctl: silent"),
        open_slow(port, "ctl: half a request line", b"POST /rp"),
        open_slow(port, "ctl: headers unfinished", b"POST /rpc HTTP/1.1\r\nHost: x\r\n"),
        open_slow(port, "ctl: trickled headers", b"POST /rpc HTTP/1.1\r\n",
                  trickle=b"X-Slow: " + b"b" * 64 + b"\r\n"),
        open_slow(port, "ctl: body unfinished",
                  b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + body[:10]),
    ]  # fmt: skip
    # A kept-alive connection whose second request never ends: each request has a deadline.
    ka = open_slow(port, "ctl: second request unfinished")
    ka.sock.setblocking(True)
    ka.sock.settimeout(5)
    head = f"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    ka.sock.sendall(head + body)
    assert b"200 OK" in ka.sock.recv(65536)
    ka.sock.sendall(b"POST /rpc HTTP/1.1\r\n")
    ka.sock.setblocking(False)
    return [*lorises, ka]


def _listener(node: NodeProcess, name: str) -> dict[str, Any]:
    rows = [r for r in node.ctl("status")["listeners"] if r["name"] == name]
    assert rows, node.ctl("status")
    return dict(rows[0])


@pytest.mark.slow
def test_slow_clients_are_cut_at_the_deadline_on_both_listeners(
    wsnet_node_factory: NodeFactory, pki: Pki
) -> None:
    hub = wsnet_node_factory("hub")
    tls = wsnet_node_factory(
        "tlshub", config={"listen": {"tls_cert": str(pki.server.cert),
                                     "tls_key": str(pki.server.key)}},
    )  # fmt: skip
    assert hub.port is not None and tls.port is not None
    slows = [
        *_link_lorises(hub.port, "link"),
        *_control_lorises(hub.ctl_port),
        open_slow(tls.port, "wss: no TLS ClientHello"),
        open_slow(tls.port, "wss: half a ClientHello", b"\x16\x03\x01\x02\x00\x01\x00\x01"),
    ]
    with closing_all([s.sock for s in slows]):
        # Meanwhile the node serves: ctl answers, an edge links and stays linked past the deadline.
        edge = wsnet_node_factory("edge", listen=False, dial=[hub.url])
        wait_until(lambda: "edge" in hub.peers(), timeout=8, what="edge linked during the attack")
        link_id = hub.ctl("links")[0]["id"]
        watch(slows, until=max(s.opened for s in slows) + DEADLINE + MARGIN)
        still_open = [s.label for s in slows if s.closed is None]
        assert not still_open, f"not closed within {DEADLINE + MARGIN}s: {still_open}"
        early = [(s.label, round(s.lasted, 1)) for s in slows if s.lasted < DEADLINE - 1.0]
        assert not early, f"closed before the deadline: {early}"
        assert hub.ctl("links")[0]["id"] == link_id, "the upgraded link is not cut"
        assert "hub" in edge.peers() and "link lost" not in edge.log()
    link, ctl = _listener(hub, "link listener"), _listener(hub, "control API")
    assert link["timed_out"] >= 4, link
    assert ctl["timed_out"] >= 4, ctl
    assert link["pending"] == 0 and ctl["pending"] == 0
    assert _listener(tls, "link listener")["timed_out"] >= 2
    assert "did not finish" in hub.log()


@pytest.mark.slow
def test_idle_crowd_from_one_address_does_not_lock_out_an_edge(
    wsnet_node_factory: NodeFactory,
) -> None:
    """1,100 idle sockets at a 1024-descriptor limit (hard limit too: nothing to raise)."""
    hub = wsnet_node_factory("hub", start=False)
    hub.argv = ["prlimit", "--nofile=1024:1024", "--", *hub.argv]
    hub.start()
    assert hub.port is not None
    opened = time.monotonic()
    crowd: list[socket.socket] = []
    with closing_all(crowd):
        reset_at_once = 0  # refused before connect() even returned
        for _ in range(1100):
            try:
                crowd.append(connect_from(hub.port, src="127.0.0.2"))
            except ConnectionResetError:
                reset_at_once += 1
        for s in crowd:
            s.setblocking(False)
        edge = wsnet_node_factory("edge", listen=False, dial=[hub.url])
        wait_until(lambda: "edge" in hub.peers(), timeout=8, what="edge linked beside 1,100 idle")
        wait_until(lambda: _listener(hub, "link listener")["refused"] >= 1100 - 64, timeout=8,
                   what="the crowd beyond the per-address cap refused")  # fmt: skip
        states = [state(s) for s in crowd]
        held = states.count("open")
        assert states.count("eof") == 0, "a refusal must never look like service"
        assert held <= 64, f"per-address cap: {held} held"
        assert states.count("rst") + reset_at_once >= 1100 - 64
        wait_until(lambda: all(state(s) != "open" for s in crowd),
                   timeout=opened + DEADLINE + MARGIN - time.monotonic() + 2,
                   what="the held ones cut at their deadline")  # fmt: skip
        assert "edge" in hub.peers() and "link lost" not in edge.log()
    link = _listener(hub, "link listener")
    assert link["timed_out"] >= held, link
    assert "pending from 127.0.0.2 (max_pending_per_source)" in hub.log(), "logged, naming the cap"
