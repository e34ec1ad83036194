"""wsnet-prometheus against hostile input: label values a linked peer chooses must not
grow the exposition (or the node's memory) without bound."""

from __future__ import annotations

import asyncio
import re
import urllib.request

from hostile_peer import RawPeer, open_
from wsnet.testing import NodeFactory, NodeProcess, wait_until

NAMES = 300  # distinct service names a peer sends through a relay


def scrape(node: NodeProcess) -> str:
    url = node.ctlurl.removesuffix("/rpc") + "/metrics"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return str(resp.read().decode())


def label_values(text: str, metric: str, label: str) -> set[str]:
    return set(re.findall(rf'^{metric}\{{[^}}]*{label}="([^"]*)"', text, re.M))


def test_relayed_service_names_do_not_make_series(wsnet_node_factory: NodeFactory) -> None:
    hub = wsnet_node_factory("hub", plugins=["prometheus"])
    wsnet_node_factory("far", listen=False, dial=[hub.url])
    wait_until(lambda: "far" in hub.peers(), what="far linked")

    async def flood() -> None:
        async with RawPeer.link(hub.url, "probe") as peer:
            for i in range(NAMES):  # each relayed to far, which refuses it (no such service)
                await peer.send(open_(peer.next_id(), f"svc{i}", dst="far"))
            await asyncio.sleep(0.5)

    asyncio.run(flood())
    wait_until(lambda: "svc" in scrape(hub), what="relayed opens counted")
    text = scrape(hub)
    for metric in ("wsnet_channels_opened_total", "wsnet_channel_receive_bytes_total"):
        services = label_values(text, metric, "service")
        assert len(services) <= 40, (metric, len(services))
    assert "other" in label_values(text, "wsnet_channels_opened_total", "service")
