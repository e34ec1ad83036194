"""Reproducers from the breaker review of issue 12 (branch `breaker`).

Each test states what should hold and FAILS on the code it was written against
(839b063); they are not fixes.  Scratch scripts with more output are in scratch/.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from hostile_peer import RawPeer, RawSocket, data, hello, open_, ping, reset, window
from wsnet.ctl import CtlOptions
from wsnet.protocol import ChannelKind, Flag, FrameType, Limits, Session, decode_message
from wsnet.protocol.frames import encode_frame
from wsnet.protocol.messages import encode_routes
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_tcp import rss_kib

MIB = 1 << 20


def _pid(node: NodeProcess) -> int:
    assert node.proc is not None
    return node.proc.pid


def _deaf_peer_with_echoes(node: NodeProcess, channels: int = 8) -> RawSocket:
    """A peer that never reads; the node's echo services fill its send queue toward it."""
    assert node.port is not None
    sock = RawSocket("127.0.0.1", node.port)
    sock.send_binary(hello("deaf"))
    wait_until(lambda: "deaf" in node.peers(), what="deaf linked")
    for i in range(channels):
        cid = 2 * i + 1
        sock.send_binary(open_(cid, "echo", src="deaf") + data(cid, b"z" * 1_000_000))
    wait_until(lambda: node.ctl("links")[0]["queued"] > MIB, what="queue toward deaf")
    return sock


# ------------------------------------------------- 1. a peer that stops reading
@pytest.mark.timeout(60)
def test_keepalive_ends_the_link_of_a_silent_peer_that_does_not_read(
    wsnet_node: NodeProcess,
) -> None:
    """keepalive timeout 2 s (FAST): a peer that neither reads nor sends must be dropped.
    Today Link.close() awaits _flush() without a bound and the link stays up for good."""
    sock = _deaf_peer_with_echoes(wsnet_node)
    try:
        wait_until(lambda: "deaf" not in wsnet_node.peers(), timeout=15,
                   what="the silent, non-reading peer to be dropped")  # fmt: skip
    finally:
        sock.close()


@pytest.mark.timeout(60)
def test_protocol_error_closes_the_link_even_when_the_peer_does_not_read(
    wsnet_node: NodeProcess,
) -> None:
    """An unknown frame type is close 4002; the deaf peer keeps pinging.  Today the reader
    hangs in abort() -> close() -> _flush() and the link stays up (and so does any
    'control_backlog exceeded' close, which is made for exactly this peer)."""
    sock = _deaf_peer_with_echoes(wsnet_node)
    stop = threading.Event()

    def keep_pinging() -> None:
        for k in range(100):
            if stop.wait(0.5):
                return
            with contextlib.suppress(OSError):
                sock.send_binary(ping(k + 1))

    pinger = threading.Thread(target=keep_pinging, daemon=True)
    try:
        sock.send_binary(encode_frame(77, 0, 0, b""))
        pinger.start()
        wait_until(lambda: "deaf" not in wsnet_node.peers(), timeout=15,
                   what="the link to be closed after a protocol error")  # fmt: skip
    finally:
        stop.set()
        sock.close()


@pytest.mark.timeout(90)
def test_sigterm_exits_while_a_peer_hangs(wsnet_node_factory: NodeFactory) -> None:
    """b sends bulk on 16 channels to a, a hangs (SIGSTOP), b gets SIGTERM: b must exit.
    Today _finish_teardown's close() is cancelled inside _flush (channels are never reset
    with LINK_LOST) and the dialler's session.close() waits for a transport that never
    drains: the process does not exit."""
    a = wsnet_node_factory("a")
    b = wsnet_node_factory("b", listen=False, dial=[a.url])
    wait_until(lambda: "b" in a.peers() and "a" in b.peers(), what="link")

    def bulk() -> None:
        with contextlib.suppress(Exception):
            b.ctl("speedtest", node="a", bytes=2 << 30, channels=16, timeout=60)

    threading.Thread(target=bulk, daemon=True).start()
    time.sleep(2)
    a.send_signal(signal.SIGSTOP)
    try:
        time.sleep(1)
        assert b.proc is not None
        b.proc.send_signal(signal.SIGTERM)
        try:
            b.proc.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail("b did not exit within 20 s of SIGTERM while its peer hung")
    finally:
        a.send_signal(signal.SIGCONT)


# ------------------------------------------------------------------ routing
def _routes_frame(routes: dict[str, int]) -> bytes:
    return encode_frame(FrameType.ROUTES, 0, 0, encode_routes(routes))


@pytest.mark.timeout(60)
async def test_big_route_tables_do_not_cut_innocent_links(
    wsnet_node_factory: NodeFactory,
) -> None:
    """Two peers advertise 3,000 valid names each (54 KB each, under the 64 KiB control
    limit).  The hub's own advert to b is then 108 KB, which b refuses with 4002: b's link
    flaps forever.  (A mesh that grows past a few thousand names does the same.)"""
    hub = wsnet_node_factory("hub")
    b = wsnet_node_factory("b", listen=False, dial=[hub.url])
    wait_until(lambda: "b" in hub.peers(), what="b linked")
    async with RawPeer.link(hub.url, "m1") as p1, RawPeer.link(hub.url, "m2") as p2:
        for k, p in enumerate((p1, p2)):
            await p.send(_routes_frame({f"m{k}-node-{i:05d}": 1 for i in range(3000)}))
        await asyncio.sleep(4)
        downs = [x for x in b.log().splitlines() if "link" in x and " down: " in x]
        assert not downs, f"b's link to hub went down {len(downs)} times: {downs[0]}"


@pytest.mark.timeout(60)
async def test_a_peer_cannot_take_the_route_to_a_directly_linked_node(
    wsnet_node_factory: NodeFactory,
) -> None:
    """mallory (linked first, so its link id is lower) advertises {"right": 0}; right then
    links directly.  The hub must route to right over right's own link."""
    hub = wsnet_node_factory("hub")
    async with RawPeer.link(hub.url, "mallory") as p:
        await p.send(_routes_frame({"right": 0}))
        wsnet_node_factory("right", listen=False, dial=[hub.url])
        wait_until(lambda: "right" in hub.peers(), what="right linked")
        await asyncio.sleep(0.5)
        via = {r["node"]: r["via"] for r in hub.ctl("routes")}
        assert via["right"] == "right", f"hub routes right's traffic via {via['right']!r}"


# ------------------------------------------------------------------- relays
@pytest.mark.timeout(60)
async def test_relay_per_source_limit_is_not_bypassed_by_rotating_src(
    wsnet_node_factory: NodeFactory,
) -> None:
    """max_channels 100 (so 50 per source).  mallory sends 150 relayed OPENs to b's echo,
    each with another `src`: the hub counts the per-source limit by that attacker-chosen
    name, so mallory takes all 100 channels of hub <-> b and b cannot open any."""
    lim = {"limits": {"max_channels": 100}}
    hub = wsnet_node_factory("hub", config=lim)
    b = wsnet_node_factory("b", listen=False, dial=[hub.url], config=lim)
    wait_until(lambda: "b" in hub.peers(), what="b linked")
    async with RawPeer.link(hub.url, "mallory") as p:
        await asyncio.sleep(1.0)
        await p.send(*(open_(p.next_id(), "echo", dst="b", src=f"x{i}") for i in range(150)))
        await asyncio.sleep(2)
        on_b = {row["peer"]: row["channels"] for row in hub.ctl("links")}["b"]
        assert on_b <= 50, f"mallory holds {on_b} of the 100 channels of hub <-> b"
        assert b.ctl("ping", node="hub", count=1)["count"] == 1


@pytest.mark.timeout(120)
async def test_relayed_datagrams_do_not_pin_their_messages(
    wsnet_node_factory: NodeFactory,
) -> None:
    """A 1-byte datagram relayed toward a peer that does not read stays queued as a view
    of its whole 1 MiB message: 150 of them pinned 150 MiB (datagram_backlog is 4 MiB,
    and Session._on_data copies small stream slices but not datagrams)."""
    hub = wsnet_node_factory("hub")
    assert hub.port is not None
    deaf = RawSocket("127.0.0.1", hub.port)
    deaf.send_binary(hello("deaf"))
    stop = threading.Event()

    def keep_alive() -> None:
        for k in range(400):
            if stop.wait(0.5):
                return
            with contextlib.suppress(OSError):
                deaf.send_binary(ping(k + 1))

    threading.Thread(target=keep_alive, daemon=True).start()
    try:
        wait_until(lambda: "deaf" in hub.peers(), what="deaf linked")
        async with RawPeer.link(hub.url, "mallory") as p:
            await asyncio.sleep(1.0)
            cid = p.next_id()
            await p.send(open_(cid, "x", dst="deaf", kind=ChannelKind.DATAGRAM))
            for _ in range(400):  # fill the kernel's buffers so the hub's queue holds on
                await p.send(data(cid, b"B" * 100_000))
                await asyncio.sleep(0.01)
                if next(x["queued"] for x in hub.ctl("links") if x["peer"] == "deaf"):
                    break
            before = rss_kib(_pid(hub))
            pad = data(999_999, b"\0" * 1_000_000)  # for no channel: ignored
            for _ in range(150):
                await p.send(data(cid, b"!"), pad)
            await p.echo(b"sync", timeout=30)
            grown = (rss_kib(_pid(hub)) - before) >> 10
        assert grown < 40, f"150 one-byte datagrams in the queue grew the hub by {grown} MiB"
    finally:
        stop.set()
        deaf.close()


@pytest.mark.timeout(60)
async def test_relay_keeps_a_finished_stream_when_a_reset_follows_its_fin(
    wsnet_node_factory: NodeFactory,
) -> None:
    """DATA + FIN, then RESET (what StreamChannel.close() sends after write_eof): a direct
    receiver keeps the finished stream readable (channel.py _drop_unfinished); behind a
    relay whose next hop is short of credit the held bytes and the FIN are dropped."""
    hub = wsnet_node_factory("hub")
    async with (
        RawPeer.link(hub.url, "rb", limits={"window": 1024}) as rb,
        RawPeer.link(hub.url, "ra") as ra,
    ):
        wait_until(lambda: {"ra", "rb"} <= hub.peers(), what="linked")
        await asyncio.sleep(0.5)
        cid = ra.next_id()
        payload = bytes(range(256)) * 32
        await ra.send(open_(cid, "x", dst="rb", src="ra"), data(cid, payload),
                      data(cid, b"", fin=True))  # fmt: skip
        opened = await asyncio.wait_for(rb.opens.get(), 5)
        await asyncio.sleep(0.3)
        await ra.send(reset(cid, 0, "closed"))
        await asyncio.sleep(0.3)
        await rb.send(window(opened.channel, 65536))
        got, fin = 0, False
        with contextlib.suppress(AssertionError):
            while not fin:
                fr = await rb.next_frame(opened.channel, 1.5)
                if fr.type == FrameType.RESET:
                    break
                if fr.type == FrameType.DATA:
                    got += len(fr.payload)
                    fin = bool(fr.flags & Flag.FIN)
        assert (got, fin) == (len(payload), True), f"rb got {got} bytes, FIN {fin}"


# ---------------------------------------------------- deadlines before trust
@pytest.mark.timeout(60)
def test_dial_upgrade_response_trickled_is_cut_at_handshake_timeout(
    wsnet_node_factory: NodeFactory,
) -> None:
    """A server that sends its 101 response one byte per second: [[dial]] handshake_timeout
    (2 s here) must end the attempt.  aiohttp's sock_read is per read, so it never fires."""
    port = free_port()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    srv.settimeout(0.5)
    stop = threading.Event()

    def trickle(conn: socket.socket) -> None:
        with conn:
            conn.recv(4096)
            for byte in b"HTTP/1.1 101 Switching Protocols\r\nX-Slow: " + b"a" * 100:
                if stop.wait(1.0):
                    return
                with contextlib.suppress(OSError):
                    conn.send(bytes([byte]))

    def accept_loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = srv.accept()
                threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    try:
        url = f"ws://127.0.0.1:{port}/wsnet"
        edge = wsnet_node_factory(
            "edge", listen=False, config={"dial": [{"url": url, "handshake_timeout": 2.0}]}
        )
        wait_until(lambda: edge.ctl("dials")[0]["attempts"] >= 2, timeout=20,
                   what="a second dial attempt (the first cut at 2 s)")  # fmt: skip
    finally:
        stop.set()
        srv.close()


@pytest.mark.timeout(60)
def test_unauthenticated_control_connections_stay_capped(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    """Control API with htpasswd, max_pending_per_source 8, request_timeout 2 s: 20
    connections from one address, each re-sending a 401-answered request every second,
    must not all stay open (trust() runs before authentication, so after the first
    request head they count nowhere and no deadline applies)."""
    pw = tmp_path / "ctl.htpasswd"
    subprocess.run(["htpasswd", "-cbB", str(pw), "admin", "s3cret"], check=True,
                   capture_output=True)  # fmt: skip
    node = wsnet_node_factory(
        "n",
        config={
            "control": {"htpasswd": str(pw), "max_pending_per_source": 8, "request_timeout": 2}
        },
        start=False,
        ctl_options=CtlOptions(user="admin", password="s3cret"),
    )
    node.start()
    req = b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    socks = []
    answered = 0
    for _ in range(20):  # one at a time: a caller refused with 401 stays pending
        # Beyond the cap: an RST, which may reach the client before its connect() returns.
        with contextlib.suppress(OSError):
            s = socket.create_connection(("127.0.0.1", node.ctl_port), timeout=5)
            socks.append(s)
            s.sendall(req)
            answered += b" 401 " in s.recv(4096).split(b"\r\n")[0]
    assert 1 <= answered <= 8, f"{answered} of 20 answered beyond max_pending_per_source 8"
    alive = 0
    try:
        for _ in range(6):
            alive = 0
            for s in socks:
                with contextlib.suppress(OSError):
                    s.sendall(req)
                    alive += bool(s.recv(4096))
            time.sleep(1)
        assert alive <= 8, f"{alive} of 20 unauthenticated connections from one address served"
    finally:
        for s in socks:
            s.close()


# ---------------------------------------------------------- sans-I/O output
def _pair(peer_limits: Limits) -> tuple[Session, Session]:
    a = Session(node="a", initiator=True)
    b = Session(node="b", initiator=False, limits=peer_limits)
    for _ in range(3):
        for msg in a.data_to_send():
            b.receive_message(msg)
        for msg in b.data_to_send():
            a.receive_message(msg)
    return a, b


def test_a_max_frame_datagram_does_not_stall_a_link_to_a_minimal_max_message_peer() -> None:
    """The peer announces max_message = max_frame + 10 (allowed: protocol.md section 4).
    next_message() builds messages of max_message - 1 bytes, so a datagram of max_frame
    bytes never fits, stays first in the ring and blocks every channel's data for good."""
    a, _ = _pair(Limits(max_frame=65536, max_message=65536 + 10))
    dgram = a.open_channel(ChannelKind.DATAGRAM, "ether")
    stream = a.open_channel(ChannelKind.STREAM, "echo")
    assert a.send_datagram(dgram, b"x" * 65536)
    assert a.send_data(stream, b"y" * 1000) == 1000
    sent = 0
    for _ in range(10):
        msg = a.next_message()
        if msg is not None:
            sent += sum(len(f.payload) for f in decode_message(msg, 1 << 22)
                        if f.type == FrameType.DATA)  # fmt: skip
    assert sent == 65536 + 1000, f"{sent} data bytes left the session"


def test_routes_larger_than_the_peers_max_message_are_not_stuck_forever() -> None:
    """A ROUTES advert larger than the peer's max_message is never sent and keeps
    has_output True forever (the link's timer wakes the writer every 0.5 s for nothing)."""
    a, _ = _pair(Limits(max_frame=1024, max_message=2048))
    a.send_routes({f"node{i:04d}": 1 for i in range(200)})
    a.data_to_send()
    assert not a.has_output, "the ROUTES advert neither went out nor was refused"
