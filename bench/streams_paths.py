"""What carries the many-streams benchmark from its driver to its sink, and the sink itself.

- ``tcp``: the driver connects to the sink (the baseline);
- ``wsnet``: node ``a`` listens (a wsnet-tcp listen tunnel, ``peer = "b"``), node ``b``
  dials ``a`` and connects the sink: driver -> a -> one WebSocket link -> b -> sink;
- ``haproxy``: two chained haproxy processes (mode tcp, nbthread 1, one ``listen`` each):
  driver -> haproxy 1 -> haproxy 2 -> sink, the same two hops as wsnet's.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wsnet.testing import free_port

from .procs import Proc, Procs, port_open, wait_for
from .tunnels import _toml, _tunnel

HAPROXY_MAXCONN = 5000  # 1,000 streams take 1,000 connections on each side of a hop


@dataclass
class StreamPath:
    """Where the driver connects, the processes in the path, and the one that sends on."""

    name: str
    port: int
    procs: list[Proc] = field(default_factory=list)
    sender: Proc | None = None  # the first hop: it takes the streams and forwards them
    receiver: Proc | None = None  # the second hop: it writes to the sink

    def check_alive(self) -> None:
        for p in self.procs:
            p.check_alive()

    def close(self) -> None:
        for p in self.procs:
            p.kill()


# ------------------------------------------------------------------ the sink
def start_sink(procs: Procs, sockbuf: int) -> int:
    """The sink (bench.streams_peer), its SO_RCVBUF fixed at ``sockbuf`` (0: auto-tuned)."""
    port = free_port()
    proc = procs.spawn("streams-sink", [sys.executable, "-m", "bench.streams_peer", "sink",
                                        str(port), "3600", str(sockbuf)])  # fmt: skip

    def ready() -> bool:
        proc.check_alive()
        return port_open(port)

    wait_for(ready, timeout=15, what=f"streams sink on port {port}")
    return port


def snapshot(sink: int, prefix: str) -> tuple[float, dict[str, int]]:
    """The sink's clock and its byte counts for the tags starting with ``prefix``."""
    with socket.create_connection(("127.0.0.1", sink), timeout=10) as s:
        s.sendall(f"SNAP {prefix}\n".encode())
        chunks = []
        while chunk := s.recv(1 << 16):
            chunks.append(chunk)
    doc = json.loads(b"".join(chunks))
    return float(doc["t"]), {str(k): int(v) for k, v in doc["counts"].items()}


def _probe(port: int, sink: int) -> bool:
    """A tagged stream of 16 bytes reaches the sink through ``port``."""
    tag = f"probe-{port}-{time.monotonic_ns()}"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(f"T {tag}\n".encode() + b"x" * 16)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if snapshot(sink, tag)[1].get(tag) == 16:
                    return True
                time.sleep(0.05)
    except OSError:
        pass
    return False


def _wait_ready(path: StreamPath, sink: int, what: str) -> StreamPath:
    def ready() -> bool:
        path.check_alive()
        return _probe(path.port, sink)

    try:
        wait_for(ready, timeout=30, what=f"{what} carrying data to the sink")
    except BaseException:
        path.close()
        raise
    return path


# ------------------------------------------------------------------ the paths
def start_tcp(procs: Procs, sink: int) -> StreamPath:
    return StreamPath("tcp", sink)


def start_wsnet(procs: Procs, sink: int) -> StreamPath:
    link, listen, ctl_a, ctl_b = free_port(), free_port(), free_port(), free_port()
    a_cfg = _toml(procs.dir / "streams-a.toml", [
        '[node]\nname = "a"\nplugins = ["tcp"]',
        f'[listen]\nhost = "127.0.0.1"\nport = {link}', f"[control]\nport = {ctl_a}",
        _tunnel("sink", f'listen = "127.0.0.1:{listen}"\npeer = "b"')])  # fmt: skip
    b_cfg = _toml(procs.dir / "streams-b.toml", [
        '[node]\nname = "b"\nplugins = ["tcp"]', "[listen]\nenabled = false",
        f"[control]\nport = {ctl_b}", f'[[dial]]\nurl = "ws://127.0.0.1:{link}/wsnet"',
        _tunnel("sink", f'connect = "127.0.0.1:{sink}"')])  # fmt: skip
    run = [sys.executable, "-m", "wsnet", "run", "--config"]
    a = procs.spawn("streams-node-a", [*run, str(a_cfg)])
    b = procs.spawn("streams-node-b", [*run, str(b_cfg)])
    return _wait_ready(StreamPath("wsnet", listen, [a, b], a, b), sink, "wsnet tunnel")


def haproxy_binary() -> str | None:
    """``WSNET_BENCH_HAPROXY``, else haproxy on PATH or in /usr/sbin (Debian's place)."""
    explicit = os.environ.get("WSNET_BENCH_HAPROXY")
    if explicit is not None:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")


def _haproxy_cfg(path: Path, listen: int, target: int) -> Path:
    path.write_text(f"""global
    nbthread 1
    maxconn {HAPROXY_MAXCONN}

defaults
    mode tcp
    maxconn {HAPROXY_MAXCONN}
    timeout connect 5s
    timeout client 120s
    timeout server 120s

listen hop
    bind 127.0.0.1:{listen}
    server next 127.0.0.1:{target}
""")
    return path


def start_haproxy(procs: Procs, sink: int) -> StreamPath | str:
    binary = haproxy_binary()
    if binary is None:
        return "haproxy not installed: run bench/peers/haproxy.sh"
    first, second = free_port(), free_port()
    hops = []
    for i, (listen, target) in enumerate(((first, second), (second, sink)), start=1):
        cfg = _haproxy_cfg(procs.dir / f"streams-haproxy{i}.cfg", listen, target)
        hops.append(procs.spawn(f"streams-haproxy{i}", [binary, "-db", "-f", str(cfg)]))
    path = StreamPath("haproxy", first, hops, hops[0], hops[1])
    return _wait_ready(path, sink, "two chained haproxy")


Starter = Callable[[Procs, int], StreamPath | str]
STARTERS: tuple[tuple[str, Starter], ...] = (
    ("tcp", start_tcp),
    ("wsnet", start_wsnet),
    ("haproxy", start_haproxy),
)
