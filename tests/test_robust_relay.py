"""Issue 12, faults 1 and 3: relays lose nothing and leak nothing.

Real `wsnet run` chains (tests/robust_helpers.chain) carry tcp tunnels over 1, 2 and 3
links; clients write the moment they connect, before any relay has spliced its onward
channel.  The raw peer (tests/hostile_peer.py) sends what no node sends on its own.
"""

from __future__ import annotations

import asyncio
import random
import urllib.request

import pytest

from hostile_peer import RawPeer, accept, data, open_, reset
from robust_helpers import chain, early_transfer, http_like
from wsnet.protocol import ChannelKind, FrameType
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_tcp import echo_handler, server_thread

KIB, MIB = 1 << 10, 1 << 20


def _sizes(seed: int) -> list[int]:
    """100 sizes: mostly small, some up to 3 MiB (about 25 MiB in all)."""
    rng = random.Random(seed)
    small = [1, 4, 100, 1000, 10 * KIB, 64 * KIB, 300 * KIB, 1 * MIB]
    return [3 * MIB] * 3 + [rng.choice(small) for _ in range(97)]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_relay_loses_no_byte_written_at_connect_time(
    wsnet_node_factory: NodeFactory, hops: int
) -> None:
    """100 transfers through the chain, each written at connect time and 0.2 s later
    (every fourth: all of it and its FIN at once), echoed back to EOF (FIN carried both
    ways) and compared by SHA-256.  hops=1 is the direct tunnel the issue calls
    unaffected: the control for 2 and 3."""
    lport = free_port()
    with server_thread(echo_handler) as echo:
        chain(wsnet_node_factory, hops, lport, echo.port)
        payloads = [random.randbytes(n) for n in _sizes(hops)]

        async def ten_at_a_time() -> list[str]:
            # Ten at once: with all hundred at once the OPENs went out in one message ahead
            # of any data (the relays spliced before data came), and nothing was lost.
            gate = asyncio.Semaphore(10)

            async def one(i: int, p: bytes) -> str:
                async with gate:
                    delay = 0.0 if i % 4 == 0 else 0.2
                    r = await early_transfer(lport, p, 5 + 3 * len(p) / MIB, delay)
                return "" if r.ok else f"{r.size} sent, {r.got} back {r.error}".strip()

            return [e for e in await asyncio.gather(*map(one, range(100), payloads)) if e]

        bad = asyncio.run(ten_at_a_time())
    assert not bad, f"{len(bad)} of 100 transfers over {hops} hops broken, e.g. {bad[:5]}"


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_relayed_http_requests_do_not_hang(wsnet_node_factory: NodeFactory) -> None:
    """50 HTTP/1.0 requests (no keep-alive) through left → hub ← right, one at a time."""
    lport = free_port()
    with server_thread(http_like) as web:
        chain(wsnet_node_factory, 2, lport, web.port)
        for i in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{lport}/{i}", timeout=5) as r:
                    assert r.status == 200 and r.read() == b"ok " * 100
            except OSError as exc:
                pytest.fail(f"request {i} of 50 through the relay failed: {exc}")


@pytest.mark.timeout(60)
async def test_relay_delivers_datagrams_sent_before_the_splice(
    wsnet_node_factory: NodeFactory,
) -> None:
    """ra → hub → rb, two raw peers: datagrams right behind the OPEN (same message) and
    in the messages after it, all before rb's ACCEPT, must all reach rb."""
    hub = wsnet_node_factory("hub")
    async with RawPeer.link(hub.url, "rb") as rb, RawPeer.link(hub.url, "ra") as ra:
        wait_until(lambda: {"ra", "rb"} <= hub.peers(), what="raw peers linked")
        cid = ra.next_id()
        first = [data(cid, b"d%02d" % i) for i in range(10)]
        await ra.send(open_(cid, "probe", dst="rb", src="ra", kind=ChannelKind.DATAGRAM), *first)
        for i in range(10, 20):
            await ra.send(data(cid, b"d%02d" % i))
        opened = await asyncio.wait_for(rb.opens.get(), 5)
        await asyncio.sleep(0.3)  # the hub holds the datagrams while it waits for ACCEPT
        await rb.send(accept(opened.channel))
        await asyncio.sleep(0.3)
        await ra.send(data(cid, b"after"))
        got = await _datagrams(rb, opened.channel, until=b"after")
    expected = [b"d%02d" % i for i in range(20)] + [b"after"]
    assert got == expected, f"rb got {len(got)} of 21 datagrams: {got}"


async def _datagrams(peer: RawPeer, cid: int, until: bytes) -> list[bytes]:
    """Datagrams of ``cid`` up to ``until``, or until nothing came for 1.5 s."""
    got: list[bytes] = []
    while not got or got[-1] != until:
        try:
            fr = await peer.next_frame(cid, 1.5)
        except AssertionError:
            break  # quiet: nothing more is coming
        if fr.type == FrameType.DATA:
            got.append(bytes(fr.payload))
    return got


# --------------------------------------------------------------- relay leak
def _far_channels(hub: NodeProcess) -> int:
    return sum(row["channels"] for row in hub.ctl("links") if row["peer"] == "far")


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_relay_frees_channels_reset_before_accept(wsnet_node_factory: NodeFactory) -> None:
    """5,000 relayed OPENs, each reset before its ACCEPT can return (half in the same
    message, half in the next): afterwards the hub <-> far link is back to (almost) no
    channels and carries new relayed channels."""
    hub = wsnet_node_factory("hub")
    far = wsnet_node_factory("far", listen=False, dial=[hub.url])
    near = wsnet_node_factory("near", listen=False, dial=[hub.url])
    wait_until(lambda: {"far", "near"} <= hub.peers(), what="far and near linked")
    async with RawPeer.link(hub.url, "flood") as peer:
        for batch in range(100):
            ids = [peer.next_id() for _ in range(50)]
            opens = [open_(c, "echo", dst="far", src="flood") for c in ids]
            resets = [reset(c) for c in ids]
            if batch % 2:
                await peer.send(*opens)
                await peer.send(*resets)
            else:
                await peer.send(*(f for pair in zip(opens, resets, strict=True) for f in pair))
            await asyncio.sleep(0.01)
        await peer.echo(b"sync", timeout=30)  # the hub has read everything before this
    wait_until(
        lambda: _far_channels(hub) <= 10,
        timeout=15,
        what=f"hub <-> far channels to drain (now {_far_channels(hub)})",
    )
    assert near.ctl("ping", node="far", count=2)["count"] == 2
    assert far.ctl("status")["links"] == 1
