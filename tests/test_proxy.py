"""Links through a real HTTP proxy (Debian's tinyproxy, started on loopback by each test)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_run import run_config_file

if TYPE_CHECKING:
    from wsnet.testing_pki import Pki

pytestmark = pytest.mark.skipif(
    shutil.which("tinyproxy") is None,
    reason="tinyproxy is not installed (apt-get install tinyproxy)",
)


class Tinyproxy:
    def __init__(
        self, tmp: Path, connect_port: int, auth: tuple[str, str] | None,
        more_ports: Sequence[int] = (),
    ) -> None:  # fmt: skip
        self.port = free_port()
        self.log = tmp / f"tinyproxy-{self.port}.log"
        conf = tmp / f"tinyproxy-{self.port}.conf"
        lines = [
            f"Port {self.port}", "Listen 127.0.0.1", "Timeout 60", "MaxClients 20",
            f'LogFile "{self.log}"', "LogLevel Connect", "Allow 127.0.0.1",
            f"ConnectPort {connect_port}", *(f"ConnectPort {p}" for p in more_ports),
        ]  # fmt: skip
        if auth:
            lines.append(f"BasicAuth {auth[0]} {auth[1]}")
        conf.write_text("\n".join(lines) + "\n")
        quiet = subprocess.DEVNULL
        self.proc = subprocess.Popen(
            ["tinyproxy", "-d", "-c", str(conf)], stdout=quiet, stderr=quiet
        )
        wait_until(lambda: (self.log.exists() and "listening on" in self.log.read_text().lower())
                   or self._accepts(), what="tinyproxy up")  # fmt: skip

    def _accepts(self) -> bool:
        import socket

        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def connects(self) -> int:
        """CONNECT requests tinyproxy logged."""
        return self.log.read_text().count("CONNECT") if self.log.exists() else 0

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def proxies(tmp_path: Path) -> Iterator[list[Tinyproxy]]:
    started: list[Tinyproxy] = []
    yield started
    for p in started:
        p.stop()


def hub(factory: NodeFactory) -> NodeProcess:
    return factory("hub")


def test_link_through_the_proxy(
    wsnet_node_factory: NodeFactory, proxies: list[Tinyproxy], tmp_path: Path
) -> None:
    h = hub(wsnet_node_factory)
    proxy = Tinyproxy(tmp_path, h.port, None)
    proxies.append(proxy)
    url = f"http://127.0.0.1:{proxy.port}"
    e = wsnet_node_factory("edge", listen=False, config={"dial": [{"url": h.url, "proxy": url}]})
    wait_until(lambda: "edge" in h.peers(), what="link through tinyproxy")
    assert proxy.connects() >= 1, "the link really went through the proxy"
    assert e.ctl("ping", "hub")["min_ms"] >= 0


def test_proxy_with_basic_auth_and_407(
    wsnet_node_factory: NodeFactory, proxies: list[Tinyproxy], tmp_path: Path
) -> None:
    h = hub(wsnet_node_factory)
    proxy = Tinyproxy(tmp_path, h.port, ("puser", "ppass"))
    proxies.append(proxy)
    wrong = f"http://puser:nope@127.0.0.1:{proxy.port}"
    bad = wsnet_node_factory("bad", listen=False, config={"dial": [{"url": h.url, "proxy": wrong}]})
    # RFC 9110 says 407; tinyproxy 1.11 answers a CONNECT with bad credentials with 401
    wait_until(lambda: "proxy credentials missing or wrong" in bad.log(), what="proxy refusal")
    assert f"proxy 127.0.0.1:{proxy.port} refused CONNECT 127.0.0.1:{h.port}: 40" in bad.log()
    right = f"http://puser:ppass@127.0.0.1:{proxy.port}"
    good = wsnet_node_factory(
        "good", listen=False, config={"dial": [{"url": h.url, "proxy": right}]}
    )
    wait_until(lambda: "good" in h.peers(), what="link with proxy credentials")
    assert good.ctl("status")["links"] == 1
    assert "bad" not in h.peers()


def test_denied_connect_and_environment(
    wsnet_node_factory: NodeFactory, proxies: list[Tinyproxy], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    h = hub(wsnet_node_factory)
    proxy = Tinyproxy(tmp_path, 9, None)  # CONNECT allowed to port 9 only: ours is denied
    proxies.append(proxy)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    e = wsnet_node_factory("edge", listen=False, dial=[h.url])
    wait_until(lambda: "refused CONNECT" in e.log(), what="the proxy's refusal")
    assert f"proxy 127.0.0.1:{proxy.port} refused CONNECT 127.0.0.1:{h.port}: 403" in e.log()
    assert "refused CONNECT" in str(e.ctl("dials")), "and in the dial status"
    # $no_proxy names the hub: the next node dials it directly
    monkeypatch.setenv("no_proxy", "example.org, 127.0.0.0/8")
    d = wsnet_node_factory("direct", listen=False, dial=[h.url])
    wait_until(lambda: "direct" in h.peers(), what="link bypassing the proxy")
    assert "edge" not in h.peers()
    assert d.ctl("status")["links"] == 1


def test_bad_proxy_setting_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[[dial]]\nurl = "ws://127.0.0.1:9/wsnet"\nproxy = "socks5://127.0.0.1:1080"\n')
    res = run_config_file(cfg)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"wsnet: error: {cfg}: [[dial]] #1 proxy: proxy 'socks5://127.0.0.1:1080': "
        "only http:// proxies are supported (CONNECT)"
    )


def test_wss_link_through_the_proxy_verifies_end_to_end(
    wsnet_node_factory: NodeFactory, proxies: list[Tinyproxy], tmp_path: Path, pki: Pki
) -> None:
    """TLS runs inside the CONNECT tunnel: the proxy sees ciphertext, the CA check still holds."""
    tls = {"tls_cert": str(pki.server.cert), "tls_key": str(pki.server.key)}
    h = wsnet_node_factory("hub", config={"listen": tls})
    proxy = Tinyproxy(tmp_path, h.port, None)
    proxies.append(proxy)
    via = f"http://127.0.0.1:{proxy.port}"
    dial = [{"url": h.url, "proxy": via, "ca_file": str(pki.ca.cert)}]
    wsnet_node_factory("edge", listen=False, config={"dial": dial})
    wait_until(lambda: "edge" in h.peers(), what="wss link through tinyproxy")
    assert h.url.startswith("wss://") and proxy.connects() >= 1
