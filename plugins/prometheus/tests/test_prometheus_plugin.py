"""wsnet-prometheus with the core alone: real nodes, /metrics over HTTP, the cardinality
switches, a listener of its own, and config errors."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
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


def test_merged_counters_never_go_down_when_a_link_goes(wsnet_node_factory: NodeFactory) -> None:
    """per_link = false sums the links' counters; a link that ends must not take its bytes
    out of the sum (Prometheus would read the drop as a reset and count a spike)."""
    hub = wsnet_node_factory("hub", plugins=["prometheus"],
                             config={"prometheus": {"per_link": False}})  # fmt: skip
    wsnet_node_factory("e1", listen=False, dial=[hub.url], plugins=["prometheus"])
    e2 = wsnet_node_factory("e2", listen=False, dial=[hub.url], plugins=["prometheus"])
    wait_until(lambda: hub.peers() == {"e1", "e2"}, what="two links")
    e2.ctl("speedtest", node="hub", bytes=4_000_000)
    name = "wsnet_link_receive_bytes_total"
    before = samples(scrape(metrics_url(hub)), name)['{direction="in"}']
    assert before >= 4_000_000
    e2.kill()
    wait_until(lambda: hub.peers() == {"e1"}, timeout=30, what="e2's link gone")
    after = samples(scrape(metrics_url(hub)), name)['{direction="in"}']
    assert after >= before, (before, after)


def test_own_listener_has_the_control_apis_connection_limits(
    wsnet_node_factory: NodeFactory,
) -> None:
    """No credentials guard ``[prometheus] listen``: idle or half-sent connections must
    not pile up there (descriptors shared with the links) beyond the control API's caps,
    nor outlive its request_timeout."""
    port = free_port()
    wsnet_node_factory("own", plugins=["prometheus"], config={
        "prometheus": {"listen": f"127.0.0.1:{port}"},
        "control": {"request_timeout": 2.0, "max_pending_per_source": 8}})  # fmt: skip
    wait_until(lambda: scrape(f"http://127.0.0.1:{port}/metrics"), what="own listener")
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(20)]
    try:
        for sock in socks:
            with contextlib.suppress(OSError):  # refused (RST) already: fine
                sock.sendall(b"GET /metrics HTTP/1.1\r\n")  # a head that never ends
        time.sleep(0.5)
        assert sum(not _closed(s, 0.2) for s in socks) <= 8  # the rest refused at once
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_closed(s, 0.1) for s in socks):
            time.sleep(0.2)
        assert all(_closed(s, 0.1) for s in socks), "a half-sent request outlived 10 s"
    finally:
        for sock in socks:
            sock.close()


def _closed(sock: socket.socket, wait: float) -> bool:
    """Whether the server closed (FIN or RST) ``sock``: nothing is ever sent to it."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_scrapes_within_a_second_share_one_rendering(wsnet_node_factory: NodeFactory) -> None:
    """However often /metrics is asked for (it may have no credentials on its own
    listener), the node builds the exposition at most once a second: back-to-back
    scrapes during a transfer read the same bytes; one later reads new counters."""
    a = wsnet_node_factory("a", plugins=["prometheus"])
    b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["prometheus"])
    wait_until(lambda: a.peers() == {"b"}, what="linked")
    push = threading.Thread(target=lambda: b.ctl("speedtest", node="a", bytes=40_000_000,
                                                 rate=8_000_000), daemon=True)  # fmt: skip
    push.start()
    try:
        same = 0
        for _ in range(10):  # the machine may be slow: pairs that took over 0.5 s do not count
            start = time.monotonic()
            first, second = scrape(metrics_url(a)), scrape(metrics_url(a))
            if time.monotonic() - start < 0.5:
                assert first == second
                same += 1
            time.sleep(1.2)
            assert scrape(metrics_url(a)) != second
        assert same >= 3
    finally:
        push.join(timeout=60)
