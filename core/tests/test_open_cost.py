"""A channel's life cycle in few messages and no per-channel futures: an OPEN leaves with
the data and FIN queued behind it in the same turn (one message on every hop, also
through a relay), ``write(data, eof=True)`` sends the last bytes and the FIN together,
and ``when_closed()`` is a plain future of the channel's end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from wsnet import StreamChannel
from wsnet.plugins import load
from wsnet.runtime import Runtime
from wsnet.testing_run import runtime_config, until

ATTEMPTS = 3  # a keepalive PING or a routes advert may share the window: take the least


@contextlib.asynccontextmanager
async def _chain() -> AsyncIterator[tuple[Runtime, Runtime, Runtime]]:
    """``opener`` -> ``relay`` -> ``far`` (echo is the core's diag service)."""
    async with (
        Runtime(runtime_config("far"), load([])) as far,
        Runtime(runtime_config("relay", far.node.listen_url), load([])) as relay,
        Runtime(runtime_config("opener", relay.node.listen_url), load([])) as opener,
    ):
        await until(lambda: opener.node.reachable("far"))
        yield opener, relay, far


def _messages_in(rt: Runtime, peer: str) -> int:
    link = rt.node.link_by_peer(peer)
    assert link is not None
    return link.session.stats.messages_in


async def _echo(opener: Runtime, payload: bytes) -> StreamChannel:
    """Open, write and half-close in one turn of the loop; read the echo to its end."""
    ch = await opener.node.open_stream("far", "echo", wait=False)
    await ch.write(payload, eof=True)
    async with asyncio.timeout(20):
        assert await ch.read() == payload
    return ch


async def test_open_data_and_fin_cross_each_hop_in_one_message() -> None:
    async with _chain() as (opener, relay, far):
        at_relay, at_far = [], []
        for _ in range(ATTEMPTS):
            before = _messages_in(relay, "opener"), _messages_in(far, "relay")
            ch = await _echo(opener, b"GET / HTTP/1.1\r\n\r\n")
            await asyncio.wait_for(ch.wait_closed(), 20)
            at_relay.append(_messages_in(relay, "opener") - before[0])
            at_far.append(_messages_in(far, "relay") - before[1])
        # OPEN, DATA and FIN: one message each way in (it was two: the OPEN alone).
        assert min(at_relay) == 1, at_relay
        assert min(at_far) == 1, at_far


async def test_when_closed_is_a_future_of_the_end() -> None:
    async with _chain() as (opener, _relay, _far):
        ch = await opener.node.open_stream("far", "echo")
        kept, dropped = ch.when_closed(), ch.when_closed()
        dropped.cancel()  # a waiter that gives up leaves the channel and the others alone
        assert not kept.done() and not ch.closed
        await ch.write(b"x", eof=True)
        async with asyncio.timeout(20):
            assert await ch.read() == b"x"
            assert await kept == ""  # both FINs: an orderly end
        assert ch.when_closed().result() == ""  # after the end: done at once
        assert await ch.wait_closed() == ""

        reset = await opener.node.open_stream("far", "echo")
        fut = reset.when_closed()
        reset.abort(reason="enough")
        assert fut.result() == "enough"


async def test_last_bytes_and_fin_leave_together() -> None:
    async with _chain() as (opener, relay, _far):
        seen = []
        for _ in range(ATTEMPTS):
            ch = await opener.node.open_stream("far", "echo")  # accepted: the link is idle
            await asyncio.sleep(0.05)  # past the turn that sent the OPEN
            before = _messages_in(relay, "opener")
            await ch.write(b"response head and body", eof=True)
            async with asyncio.timeout(20):
                assert await ch.read() == b"response head and body"
            seen.append(_messages_in(relay, "opener") - before)
        assert min(seen) == 1, seen  # was two: the data at once, the FIN a turn later
