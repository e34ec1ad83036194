"""wsnet-prometheus against hostile input: label values a linked peer chooses must not
grow the exposition (or the node's memory) without bound."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from pathlib import Path

from hostile_peer import RawPeer, open_
from login_helpers import htpasswd_file
from prom_helpers import fetch
from wsnet.ctl import CtlOptions
from wsnet.testing import NodeFactory, NodeProcess, wait_until
from wsnet.testing_tcp import closed_port

NAMES = 300  # distinct service names a peer sends through a relay
LOGINS = 500  # failed logins, each with a user name of its own


def scrape(node: NodeProcess) -> str:
    url = node.ctlurl.removesuffix("/rpc") + "/metrics"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return str(resp.read().decode())


def label_values(text: str, metric: str, label: str) -> set[str]:
    return set(re.findall(rf'^{metric}\{{[^}}]*{label}="([^"]*)"', text, re.M))


def samples(text: str, metric: str) -> list[float]:
    return [float(v) for v in re.findall(rf"^{metric}(?:{{[^}}]*}})? (\S+)$", text, re.M)]


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


def test_ad_hoc_tunnel_names_do_not_make_series(wsnet_node_factory: NodeFactory) -> None:
    """A peer may name each ad-hoc target connection as it likes: the exit node keeps a
    bounded number of those names (counters and series), the rest count as 'other'."""
    dead = closed_port()
    node = wsnet_node_factory("exit", plugins=["tcp", "prometheus"],
                              config={"tcp": {"targets": ["127.0.0.1:*"]}})  # fmt: skip

    async def flood() -> None:
        async with RawPeer.link(node.url, "probe") as peer:
            for i in range(NAMES):  # each refused at connect: its counters exist already
                args = {"tunnel": f"t{i}", "target": f"127.0.0.1:{dead}"}
                await peer.send(open_(peer.next_id(), "tcp", args=args))
            await asyncio.sleep(0.5)

    asyncio.run(flood())
    wait_until(lambda: sum(samples(scrape(node), "wsnet_tcp_connections_total")) >= NAMES,
               timeout=30, what="every connection counted")  # fmt: skip
    tunnels = label_values(scrape(node), "wsnet_tcp_connections_total", "tunnel")
    assert len(tunnels) <= 70, len(tunnels)
    assert "other" in tunnels
    assert len(node.ctl("tunnels")) <= 70


def names(text: str) -> set[str]:
    """The metric names of the samples in ``text``."""
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}


def series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line[:1] != "#")


def test_failed_logins_with_chosen_user_names_add_no_series(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    """User names are the attacker's choice (quotes, backslashes, ever new): counted by
    authenticator only, never a label value."""
    users = htpasswd_file(tmp_path / "ctl.htpasswd", {"scraper": "scrape-pw-1"})
    hub = wsnet_node_factory("hub", plugins=["prometheus"], config={
        "control": {"htpasswd": str(users)}},
        ctl_options=CtlOptions(user="scraper", password="scrape-pw-1"))  # fmt: skip
    url = hub.ctlurl.removesuffix("/rpc") + "/metrics"
    before = fetch(url, "scraper", "scrape-pw-1")[1].decode()
    refused = [fetch(url, f'evil{i}"\\x', "nope")[0] for i in range(LOGINS)]
    assert set(refused) <= {401, 429}  # 429: the control API slows a guessing client down
    time.sleep(1.1)  # a new exposition
    after = fetch(url, "scraper", "scrape-pw-1")[1].decode()
    assert "evil" not in after
    assert sum(samples(after, "wsnet_auth_failures_total")) >= refused.count(401) > 0
    assert names(after) <= names(before) | {"wsnet_auth_failures_total"}
    assert series(after) <= series(before) + 2  # at most the auth failure series of its method
