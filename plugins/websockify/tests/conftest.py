"""Fixtures of wsnet-websockify's tests: real echo targets, a test PKI made with openssl,
and nodes running bridges (wsnet.testing's factory)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port

# --import-mode=importlib puts no test directory on sys.path: the tests import wsfy_*.
sys.path.insert(0, str(Path(__file__).parent))
from wsfy_support import BridgeNode, Pki, openssl, start_echo


@pytest.fixture
def echo_port() -> Iterator[int]:
    proc, port = start_echo()
    try:
        yield port
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("pki")
    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *curve, "-keyout", d / "ca.key", "-out", d / "ca.pem",
             "-days", "2", "-subj", "/CN=websockify test CA")  # fmt: skip
    for name, cn, ext in (("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                          ("client", "alice", "extendedKeyUsage=clientAuth")):  # fmt: skip
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-new", *curve, "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr",
                 "-subj", f"/CN={cn}")  # fmt: skip
        openssl("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem", "-CAkey",
                 d / "ca.key", "-CAcreateserial", "-days", "2", "-out", d / f"{name}.pem",
                 "-extfile", d / f"{name}.ext")  # fmt: skip
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem",
               d / "client.key")  # fmt: skip


@pytest.fixture
def bridge_node(wsnet_node_factory: NodeFactory) -> BridgeNode:
    """``bridge_node(name, plugins=[...], config={...}, **bridge_keys)``: a node running one
    bridge on a free port; returns the node and the bridge's port."""

    def make(
        name: str = "a", *, plugins: list[str] | None = None, config: dict[str, Any] | None = None,
        dial: list[str] | None = None, start: bool = True, **bridge: Any,
    ) -> tuple[NodeProcess, int]:  # fmt: skip
        port = free_port()
        bridge.setdefault("listen", f"127.0.0.1:{port}")
        cfg = {**(config or {}), "websockify": {"bridge": [bridge]}}
        node = wsnet_node_factory(name, plugins=["websockify", *(plugins or [])], config=cfg,
                                  dial=dial, start=start)  # fmt: skip
        return node, port

    return make
