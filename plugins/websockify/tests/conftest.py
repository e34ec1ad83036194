"""Fixtures of wsnet-websockify's tests: real echo targets, a test PKI made with openssl,
and nodes running bridges (wsnet.testing's factory)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port

HERE = Path(__file__).parent
# --import-mode=importlib puts no test directory on sys.path: the tests import wsfy_client.
sys.path.insert(0, str(HERE))


ECHO = HERE / "echo_server.py"


def start_echo(port: int = 0, mode: str = "echo") -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, str(ECHO), str(port), mode],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the port, once it listens (the process exits on error)
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError("echo server did not start")
    return proc, int(line)


@pytest.fixture
def echo_port() -> Iterator[int]:
    proc, port = start_echo()
    try:
        yield port
    finally:
        proc.kill()
        proc.wait(10)


@contextlib.contextmanager
def target(mode: str) -> Iterator[int]:
    proc, port = start_echo(0, mode)
    try:
        yield port
    finally:
        proc.kill()
        proc.wait(10)


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("pki")
    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *curve, "-keyout", d / "ca.key", "-out", d / "ca.pem",
             "-days", "2", "-subj", "/CN=websockify test CA")  # fmt: skip
    for name, cn, ext in (("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                          ("client", "alice", "extendedKeyUsage=clientAuth")):  # fmt: skip
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("req", "-new", *curve, "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr",
                 "-subj", f"/CN={cn}")  # fmt: skip
        _openssl("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem", "-CAkey",
                 d / "ca.key", "-CAcreateserial", "-days", "2", "-out", d / f"{name}.pem",
                 "-extfile", d / f"{name}.ext")  # fmt: skip
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem",
               d / "client.key")  # fmt: skip


BridgeNode = Callable[..., tuple[NodeProcess, int]]


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
