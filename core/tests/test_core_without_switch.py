"""A node without the switch plugin: no ``ether`` service, no switch verbs, and the rest
of the core (links, channels, routing, relay, diag) works as before."""

from __future__ import annotations

import asyncio

import pytest

from wsnet import ChannelKind, ChannelRefused, ResetCode, StreamChannel
from wsnet.config import Config, ControlConfig, DialConfig
from wsnet.ctl import CtlError
from wsnet.plugins import load
from wsnet.runtime import Runtime
from wsnet.testing import NodeFactory, wait_until


async def _linked(rt: Runtime, peer: str, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while rt.node.link_by_peer(peer) is None:  # noqa: ASYNC110 - polled, bounded above
            await asyncio.sleep(0.05)


async def test_an_open_for_ether_gets_no_service(wsnet_node_factory: NodeFactory) -> None:
    a = wsnet_node_factory("a")  # the core alone (and its default diag)
    services = a.ctl("status")["services"]
    assert "ether" not in services and {"echo", "sink"} <= set(services)
    for method in ("listport", "addport", "listfdb"):
        with pytest.raises(CtlError, match="unknown method"):
            a.ctl(method)
    cfg = Config(name="probe", listen=None, dial=[DialConfig(url=a.url)],
                 control=ControlConfig(enabled=False))  # fmt: skip
    async with Runtime(cfg, load([])) as probe:
        await _linked(probe, "a")
        with pytest.raises(ChannelRefused) as refused:
            await probe.node.open_channel("a", "ether", kind=ChannelKind.DATAGRAM)
        assert refused.value.code == ResetCode.NO_SERVICE
        # The link survives the refusal: a stream channel to echo answers.
        ch = await probe.node.open_channel("a", "echo")
        assert isinstance(ch, StreamChannel)
        try:
            await ch.write(b"still here")
            async with asyncio.timeout(10):
                assert await ch.readexactly(10) == b"still here"
        finally:
            ch.close()


def test_links_routing_relay_and_diag_work_without_it(wsnet_node_factory: NodeFactory) -> None:
    a = wsnet_node_factory("a")
    b = wsnet_node_factory("b", dial=[a.url])
    c = wsnet_node_factory("c", listen=False, dial=[b.url])
    wait_until(lambda: any(r["node"] == "c" for r in a.ctl("routes")), timeout=20,
               what="a route from a to c through b")  # fmt: skip
    assert a.ctl("ping", node="c", count=2)["count"] == 2  # relayed by b
    result = a.ctl("speedtest", node="c", bytes=1 << 20)
    assert result["ok"] and result["bytes"] == 1 << 20, result
    assert {link["peer"] for link in b.ctl("links")} == {"a", "c"}
    assert all(node.ctl("status")["plugins"] == [] for node in (a, b, c))
