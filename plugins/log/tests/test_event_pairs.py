"""Every ChannelOpened has its ChannelClosed: relayed channels (and the switch's own,
opened with Link.open) were closed in events but never opened, so a gauge built from
them went negative (issue 14, "Fix on the way")."""

from __future__ import annotations

import re

from wsnet.testing import NodeFactory, NodeProcess, wait_until


def counts(node: NodeProcess) -> tuple[int, int]:
    log = node.log()
    return len(re.findall(r"channel\.opened", log)), len(re.findall(r"channel\.closed", log))


def test_relayed_channels_open_and_close_in_pairs(
    wsnet_node_factory: NodeFactory,
) -> None:
    log = {"levels": {"channel.*": "info"}}  # at debug by default
    hub = wsnet_node_factory("hub", plugins=["log"], config={"log": log})  # relays a -> b
    a = wsnet_node_factory("a", listen=False, dial=[hub.url])
    b = wsnet_node_factory("b", listen=False, dial=[hub.url])
    wait_until(lambda: hub.peers() == {"a", "b"}, what="both linked")
    wait_until(lambda: "b" in {r["node"] for r in a.ctl("routes")}, what="a's route to b")
    assert a.ctl("ping", node="b", count=3)["count"] == 3
    assert a.ctl("speedtest", node="b", bytes=100_000)["ok"]
    relayed = [ln for ln in hub.log().splitlines() if "channel.opened" in ln and "origin=a" in ln]
    assert len(relayed) >= 2 * 2, relayed  # ping and speedtest, each end of each relay
    b.stop()
    a.stop()
    wait_until(lambda: hub.peers() == set(), what="links down")
    opened, _ = wait_until(lambda: (c := counts(hub))[0] == c[1] and c, timeout=10, what="pairs")
    assert opened >= 4
