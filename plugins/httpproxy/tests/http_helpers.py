"""Helpers for the wsnet-httpproxy tests: a real upstream server process, nodes that
load the plugin, and curl as the client."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until

HERE = Path(__file__).resolve().parent


class Upstream:
    def __init__(self, port: int, proc: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.proc = proc
        self.base = f"http://127.0.0.1:{port}"

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return json.loads(r.read())


def _alive(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/x/state", timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def run_upstream() -> Iterator[Upstream]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "upstream_app.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _alive(port), timeout=20, what="upstream server")
        yield Upstream(port, proc)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def curl(
    *args: str, timeout: float = 60, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """curl with a deadline; -s, never a proxy from the environment; ``stdin`` for ``@-``."""
    return subprocess.run(
        ["curl", "-s", "--noproxy", "*", "--max-time", str(timeout), *args],
        input=stdin,
        capture_output=True,
        timeout=timeout + 10,
        check=False,
    )


def status_body(url: str, *args: str) -> tuple[int, str]:
    """(status, body) of one request."""
    r = curl("-o", "-", "-w", "\n%{http_code}", *args, url)
    body, _, code = r.stdout.decode(errors="replace").rpartition("\n")
    return int(code or 0), body


def route(path: str, node: str, upstream: str, **extra: Any) -> dict[str, Any]:
    return {"path": path, "node": node, "upstream": upstream, **extra}


Factory = Callable[..., NodeProcess]


def entry_exit(
    factory: NodeFactory,
    up: Upstream,
    routes: list[dict[str, Any]],
    *,
    exit_config: dict[str, Any] | None = None,
    entry_config: dict[str, Any] | None = None,
    plugins: list[str] | None = None,
) -> tuple[NodeProcess, NodeProcess, str]:
    """G (exit, listening, allows the upstream) and L (entry, dials G, one listener):
    (G, L, listener base URL)."""
    targets = [f"127.0.0.1:{up.port}"]
    g = factory(
        "G",
        plugins=["httpproxy"],
        config={"httpproxy": {"targets": targets, **(exit_config or {})}},
    )
    port = free_port()
    listener = {"listen": f"127.0.0.1:{port}", "route": routes}
    cfg = dict(entry_config or {})
    cfg["httpproxy"] = {**cfg.get("httpproxy", {}), "listener": [listener]}
    ell = factory("L", listen=False, dial=[g.url], plugins=plugins or ["httpproxy"], config=cfg)
    wait_until(lambda: "G" in ell.peers(), what="link L->G")
    return g, ell, f"http://127.0.0.1:{port}"


class Site:
    """`python -m http.server` serving DIR/x/f.bin (a random file) on its own port."""

    def __init__(self, root: Path) -> None:
        (root / "x").mkdir(parents=True)
        self.data = os.urandom(700_001)
        (root / "x" / "f.bin").write_bytes(self.data)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: curl(f"http://127.0.0.1:{self.port}/x/").returncode == 0, what="site")
        self.url = f"http://127.0.0.1:{self.port}/x"
        self.sha = hashlib.sha256(self.data).hexdigest()


def fetch_sha(url: str) -> str:
    r = curl("-f", url)
    assert r.returncode == 0, (url, r.returncode)
    return hashlib.sha256(r.stdout).hexdigest()
