"""A dial to a server that accepts TCP and never answers the upgrade fails within the
deadline (default 10 s), directly and through an HTTP proxy (tinyproxy), and the dialler
goes to backoff and tries again."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slow_clients import silent_server
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until

DEADLINE = 10.0  # the documented default of [[dial]] handshake_timeout
MARGIN = 4.0


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Any]:
    """Start tinyproxy on loopback allowing CONNECT to ``port``: ``start(port) -> proxy port``."""
    if shutil.which("tinyproxy") is None:
        pytest.skip("tinyproxy is not installed (scripts/setup.sh --test)")
    procs: list[subprocess.Popen[bytes]] = []

    def start(connect_port: int) -> int:
        port = free_port()
        conf = tmp_path / f"tinyproxy-{port}.conf"
        conf.write_text(f"Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 20\n"
                        f"Allow 127.0.0.1\nConnectPort {connect_port}\nLogLevel Connect\n"
                        f'LogFile "{tmp_path}/tinyproxy-{port}.log"\n')  # fmt: skip
        quiet = subprocess.DEVNULL
        procs.append(subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)], stdout=quiet,
                                      stderr=quiet))  # fmt: skip
        wait_until(lambda: _accepts(port), what="tinyproxy up")
        return port

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def _accepts(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _dial(node: NodeProcess) -> dict[str, Any]:
    dials = node.ctl("dials")
    assert len(dials) == 1, dials
    return dict(dials[0])


@pytest.mark.slow
def test_silent_server_fails_the_dial_within_the_deadline(
    wsnet_node_factory: NodeFactory, tinyproxy: Any
) -> None:
    with silent_server() as port:
        url = f"ws://127.0.0.1:{port}/wsnet"
        proxy = f"http://127.0.0.1:{tinyproxy(port)}"
        t0 = time.monotonic()
        direct = wsnet_node_factory("direct", listen=False, dial=[url])
        proxied = wsnet_node_factory(
            "proxied", listen=False, config={"dial": [{"url": url, "proxy": proxy}]}
        )
        for node in (direct, proxied):

            def retried(n: NodeProcess = node) -> dict[str, Any] | None:
                dial = _dial(n)
                return dial if dial["attempts"] >= 2 else None

            first = wait_until(
                retried,
                timeout=t0 + DEADLINE + MARGIN - time.monotonic(),
                what=f"{node.name}: the first attempt given up and a second one begun",
            )
            assert f"no upgrade response within {DEADLINE:g}s" in first["last_error"], first
            assert f"no upgrade response within {DEADLINE:g}s; retrying in" in node.log()
        # the proxied attempt really went through the proxy's CONNECT
        logs = "".join(p.read_text() for p in Path(direct.log_path.parent).glob("tinyproxy-*"))
        assert "CONNECT" in logs
