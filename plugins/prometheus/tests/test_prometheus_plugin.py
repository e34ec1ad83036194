"""wsnet-prometheus with the core alone: real nodes, /metrics over HTTP, the cardinality
switches, a listener of its own, and config errors."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        return str(resp.read().decode())


def metrics_url(node: NodeProcess) -> str:
    return node.ctlurl.removesuffix("/rpc") + "/metrics"


def samples(text: str, name: str) -> dict[str, float]:
    """{label text: value} of the samples of ``name``."""
    found = re.findall(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.M)
    return {labels: float(value) for labels, value in found}


def test_per_link_false_sums_the_peers_away(wsnet_node_factory: NodeFactory) -> None:
    hub = wsnet_node_factory("hub", plugins=["prometheus"],
                             config={"prometheus": {"per_link": False}})  # fmt: skip
    for name in ("e1", "e2"):
        wsnet_node_factory(name, listen=False, dial=[hub.url], plugins=["prometheus"])
    wait_until(lambda: hub.peers() == {"e1", "e2"}, what="two links")
    text = scrape(metrics_url(hub))
    assert samples(text, "wsnet_links") == {'{direction="in"}': 2.0}
    assert 'peer="' not in text
    # Each edge keeps its per-link labels (the default).
    edge = scrape(metrics_url(wsnet_node_factory("e3", listen=False, dial=[hub.url],
                                                 plugins=["prometheus"])))  # fmt: skip
    assert 'wsnet_dial_up{url="' in edge


def test_own_listener_and_nothing_on_the_control_api(wsnet_node_factory: NodeFactory) -> None:
    port = free_port()
    node = wsnet_node_factory("own", plugins=["prometheus"], config={
        "prometheus": {"listen": f"127.0.0.1:{port}", "path": "/m", "process": False}})  # fmt: skip
    # The control API answers before components (this listener) have started.
    text = wait_until(lambda: scrape(f"http://127.0.0.1:{port}/m"), what="own listener")
    assert samples(text, "wsnet_info") == {'{node="own",version="0.1.0"}': 1.0}
    assert "process_cpu_seconds_total" not in text
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(metrics_url(node), timeout=10)
    assert missing.value.code == 404


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"path": "/rpc"}, "[prometheus] path: expected a path like /metrics"),
        ({"listen": "nowhere"}, "[prometheus] listen: expected HOST:PORT, got 'nowhere'"),
        ({"per_peer": True}, "[prometheus] per_peer: unknown key"),
    ],
)
def test_bad_config_names_the_key(
    wsnet_node_factory: NodeFactory, section: dict[str, object], message: str
) -> None:
    node = wsnet_node_factory("bad", plugins=["prometheus"], config={"prometheus": section},
                              start=False)  # fmt: skip
    node.start(wait=False)
    assert node.proc is not None and node.proc.wait(timeout=30) == 2
    assert message in node.log()
