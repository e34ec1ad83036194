"""wsnet-prometheus scraped by a real Prometheus: bytes, a failover and auth failures seen
through PromQL; the exposition passes `promtool check metrics`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from login_helpers import htpasswd_file
from prom_helpers import (
    PROMETHEUS,
    PROMTOOL,
    Target,
    fetch,
    prometheus,
    promtool_check_metrics,
)
from wsnet.ctl import CtlOptions
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_tcp import echo_handler, echo_roundtrip, server_thread

pytestmark = pytest.mark.skipif(
    not (PROMETHEUS and PROMTOOL),
    reason="needs Debian's prometheus package (prometheus, promtool): scripts/setup.sh",
)
SIZE = 24 << 20  # bytes pushed through the tunnel (and echoed back)
USER, PASSWORD = "scraper", "scrape-pw-1"


def member(factory: NodeFactory, name: str, hub: NodeProcess, echo: int) -> NodeProcess:
    tunnels = [{"name": "bulk", "connect": f"127.0.0.1:{echo}"}]
    return factory(name, listen=False, dial=[hub.url], plugins=["tcp", "ha", "prometheus"],
                   config={"tcp": {"tunnel": tunnels}})  # fmt: skip


def close_to(value: float | None, want: float, within: float = 0.01) -> bool:
    return value is not None and abs(value - want) <= want * within


def test_prometheus_sees_bytes_failover_and_auth_failures(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = htpasswd_file(tmp_path / "ctl.htpasswd", {USER: PASSWORD})
    lport = free_port()
    with server_thread(echo_handler) as echo:
        hub = wsnet_node_factory("hub", plugins=["tcp", "ha", "prometheus"], config={
            "control": {"htpasswd": str(users)},
            "ha": {"group": [{"name": "app", "members": ["m1", "m2"]}]},
            "tcp": {"tunnel": [{"name": "bulk", "listen": f"127.0.0.1:{lport}", "peer": "m2"}]},
        }, ctl_options=CtlOptions(user=USER, password=PASSWORD))  # fmt: skip
        m1 = member(wsnet_node_factory, "m1", hub, echo.port)
        wait_until(lambda: active(hub) == "m1", what="m1 active")
        m2 = member(wsnet_node_factory, "m2", hub, echo.port)
        wait_until(lambda: "m2" in hub.peers(), what="m2 linked")
        targets = [Target("hub", hub.ctl_port, USER, PASSWORD), Target("m2", m2.ctl_port)]
        with prometheus(tmp_path, targets) as prom:
            wait_until(lambda: prom.value('sum(up{job=~"hub|m2"})') == 2, timeout=30,
                       what="both nodes scraped")  # fmt: skip
            moved = asyncio.run(echo_roundtrip(lport, SIZE))
            assert moved.ok, moved
            m1.kill()  # the hub fails over to m2 once the keepalive deadline passes
            metrics_url = hub.ctlurl.removesuffix("/rpc") + "/metrics"
            for _ in range(3):
                assert fetch(metrics_url, USER, "wrong-password")[0] == 401
            check_queries(prom)
        for node, auth in ((hub, (USER, PASSWORD)), (m2, ("", ""))):
            status, body = fetch(node.ctlurl.removesuffix("/rpc") + "/metrics", *auth)
            assert status == 200
            checked = promtool_check_metrics(body)
            assert checked.returncode == 0, checked.stdout + checked.stderr


def check_queries(prom: Any) -> None:
    queries = {
        # read from TCP at the hub's listen side, sent over the link: exactly what was sent
        'wsnet_tcp_transmit_bytes_total{job="hub",tunnel="bulk",role="listen"}': SIZE,
        'wsnet_tcp_receive_bytes_total{job="m2",tunnel="bulk",role="connect"}': SIZE,
        'wsnet_channel_receive_bytes_total{job="m2",service="tcp"}': SIZE,
        # the link carries the payload plus frame headers and keepalives: within 1 %
        'sum(wsnet_link_transmit_bytes_total{job="hub",peer="m2"})': SIZE,
        'sum(wsnet_link_receive_bytes_total{job="m2",peer="hub"})': SIZE,
    }
    for promql, want in queries.items():
        wait_until(lambda q=promql, w=want: close_to(prom.value(q), w), timeout=30,
                   what=f"{promql} within 1 % of {want}")  # fmt: skip
    wait_until(
        lambda: prom.value('wsnet_ha_changes_total{job="hub",group="app",cause="failover"}') == 1,
        timeout=30, what="one failover counted",
    )  # fmt: skip
    assert prom.value('wsnet_ha_active{job="hub",group="app",member="m2"}') == 1
    wait_until(
        lambda: prom.value('sum(wsnet_auth_failures_total{job="hub"})') == 3,
        timeout=30, what="three auth failures counted",
    )  # fmt: skip


def active(hub: NodeProcess) -> str:
    return next((r["member"] for r in hub.ctl("ha") if r["state"] == "active"), "")


def test_metrics_on_the_control_api_need_the_call_grant(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = htpasswd_file(tmp_path / "ctl.htpasswd", {"prom": "prom-pw-1", "ops": "ops-pw-12"})
    node = wsnet_node_factory("guarded", plugins=["prometheus"], config={
        "control": {"htpasswd": str(users)},
        "authz": {"principal": {"prom": {"call": ["metrics"]}, "ops": {"call": ["status"]}}},
    }, ctl_options=CtlOptions(user="ops", password="ops-pw-12"))  # fmt: skip
    url = node.ctlurl.removesuffix("/rpc") + "/metrics"
    status, body = fetch(url, "prom", "prom-pw-1")
    assert status == 200 and b'wsnet_info{node="guarded"' in body
    assert fetch(url)[0] == 401
    status, body = fetch(url, "ops", "ops-pw-12")
    assert status == 403 and b"may not call 'metrics'" in body
