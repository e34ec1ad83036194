"""The link metrics the session counts off the data path, seen in /metrics of a real node:
keepalive RTT (histogram) and misses, refused OPENs by reason, credit stalls, datagram
drops by cause; and the tcp plugin's errors by reason."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
import urllib.request
from urllib.parse import urlsplit

from hostile_peer import RawPeer, RawSocket, accept, hello, open_, ping
from wsnet.protocol import ChannelKind, FrameType
from wsnet.protocol.frames import encode_frame
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_tcp import closed_port

FAST = {"keepalive": {"interval": 0.3, "timeout": 20.0}}


def scrape(node: NodeProcess) -> str:
    time.sleep(1.1)  # the exposition is rebuilt at most once a second
    with urllib.request.urlopen(node.ctlurl.removesuffix("/rpc") + "/metrics", timeout=30) as r:
        return str(r.read().decode())


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for found, number in re.findall(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', found))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(number)
    return total


def test_rtt_histogram_and_keepalive_misses(wsnet_node_factory: NodeFactory) -> None:
    hub = wsnet_node_factory("hub", plugins=["prometheus"], config=FAST)
    wsnet_node_factory("edge", listen=False, dial=[hub.url])
    wait_until(lambda: "edge" in hub.peers(), what="edge linked")
    url = urlsplit(hub.url)
    assert url.hostname and url.port
    mute = RawSocket(url.hostname, url.port)  # answers no PING: each next PING is a miss
    try:
        mute.send_binary(hello("mute"))
        for seq in range(8):  # frames of ours keep the link alive (not silent)
            mute.send_binary(ping(seq + 1))
            time.sleep(0.3)
        assert "mute" in hub.peers()
        text = scrape(hub)
    finally:
        mute.close()
    assert value(text, "wsnet_link_keepalive_misses_total", peer="mute") >= 3
    assert value(text, "wsnet_link_keepalive_misses_total", peer="edge") == 0
    count = value(text, "wsnet_link_rtt_seconds_count", peer="edge")
    assert count >= 3
    assert value(text, "wsnet_link_rtt_seconds_bucket", peer="edge", le="+Inf") == count
    assert 0 < value(text, "wsnet_link_rtt_seconds_sum", peer="edge") < count * 1.0
    assert value(text, "wsnet_link_rtt_seconds_count", peer="mute") == 0


def test_opens_refused_by_reason(wsnet_node_factory: NodeFactory) -> None:
    hub = wsnet_node_factory("hub", plugins=["prometheus"])

    async def refused() -> None:
        async with RawPeer.link(hub.url, "probe") as peer:
            for _ in range(3):
                await peer.send(open_(peer.next_id(), "no-such-service"))
            await peer.send(open_(peer.next_id(), "echo", dst="nowhere"))
            await asyncio.sleep(0.3)
            text = scrape(hub)
            assert value(text, "wsnet_channel_opens_refused_total", peer="probe",
                         reason="no_service") == 3  # fmt: skip
            assert value(text, "wsnet_channel_opens_refused_total", peer="probe",
                         reason="unreachable") == 1  # fmt: skip

    asyncio.run(refused())


def test_credit_stalls_and_datagram_drops(wsnet_node_factory: NodeFactory) -> None:
    hub = wsnet_node_factory("hub", plugins=["prometheus"])
    edge = wsnet_node_factory("edge", listen=False, dial=[hub.url], plugins=["prometheus"])
    wait_until(lambda: "edge" in hub.peers(), what="edge linked")
    edge.ctl("speedtest", node="hub", bytes=8_000_000)  # 8 windows of 1 MiB at least
    assert value(scrape(edge), "wsnet_link_credit_stalls_total", peer="hub") >= 1

    async def drops() -> None:
        async with (
            RawPeer.link(hub.url, "big") as big,
            RawPeer.link(hub.url, "small", limits={"max_frame": 1024}) as small,
        ):
            # The hub sends its HELLO before it has read small's: wait until small is
            # linked there, or the OPEN may find no route to small yet.
            async with asyncio.timeout(10):
                while "small" not in await asyncio.to_thread(hub.peers):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            cid = big.next_id()
            await big.send(open_(cid, "any", dst="small", kind=ChannelKind.DATAGRAM))
            relayed = await asyncio.wait_for(small.opens.get(), 10)
            await small.send(accept(relayed.channel))
            await asyncio.wait_for(big.frames[cid].get(), 10)  # the ACCEPT, relayed
            for _ in range(5):  # each too big for small's frames: dropped by the hub
                await big.send(encode_frame(FrameType.DATA, 0, cid, b"x" * 4000))
            await asyncio.sleep(0.3)
            text = scrape(hub)
            assert value(text, "wsnet_link_datagrams_dropped_total", peer="small",
                         cause="too_big") == 5  # fmt: skip
            assert value(text, "wsnet_link_datagrams_dropped_total", peer="small",
                         cause="backlog") == 0  # fmt: skip

    asyncio.run(drops())


def state(node: NodeProcess, tunnel: str) -> str:
    rows = [r for r in node.ctl("tunnels") if r["name"] == tunnel and r["role"] == "listen"]
    return str(rows[0]["state"]) if rows else ""


def test_tcp_errors_by_reason(wsnet_node_factory: NodeFactory) -> None:
    """Far connect refused (exit: connect_failed; entry: reset), a peer that never comes
    (unreachable): each under its reason, the others at 0."""
    dead, lport, gport = closed_port(), free_port(), free_port()
    tunnels = [{"name": "dead", "listen": f"127.0.0.1:{lport}", "peer": "b"},
               {"name": "ghost", "listen": f"127.0.0.1:{gport}", "peer": "nobody"}]  # fmt: skip
    a = wsnet_node_factory("a", plugins=["tcp", "prometheus"],
                           config={"tcp": {"tunnel": tunnels, "pending_timeout": 5}})  # fmt: skip
    # ghost's listener is open for 5 s after the start, holding connections for its peer
    wait_until(lambda: state(a, "ghost").startswith("waiting for peer (connections held"),
               timeout=4, what="ghost's listener")  # fmt: skip
    with (
        socket.create_connection(("127.0.0.1", gport), timeout=10) as s,
        contextlib.suppress(OSError),
    ):
        s.recv(1)  # closed after 5 s without the peer
    b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["tcp", "prometheus"],
                           config={"tcp": {"tunnel": [
                               {"name": "dead", "connect": f"127.0.0.1:{dead}"}]}})  # fmt: skip
    wait_until(lambda: state(a, "dead") == "listening", what="dead's listener")
    with socket.create_connection(("127.0.0.1", lport), timeout=10) as s:
        s.sendall(b"hello")
        with contextlib.suppress(OSError):
            s.recv(1)  # a reset: the far connect failed
    wait_until(lambda: value(scrape(a), "wsnet_tcp_errors_total") >= 2, timeout=30,
               what="both errors counted")  # fmt: skip
    at_a, at_b = scrape(a), scrape(b)
    name = "wsnet_tcp_errors_total"
    assert value(at_b, name, tunnel="dead", role="connect", reason="connect_failed") == 1
    assert value(at_a, name, tunnel="dead", role="listen", reason="reset") == 1
    assert value(at_a, name, tunnel="ghost", role="listen", reason="unreachable") == 1
    assert value(at_a, name) == 2 and value(at_b, name) == 1
    assert len(re.findall(rf"^{name}\{{[^}}]*tunnel=\"ghost\"", at_a, re.M)) == 5  # every reason
