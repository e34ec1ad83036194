"""Browser bridges side by side: plain TCP, a wsnet-websockify bridge, websockify 0.13.

The same targets (an nsink and an echo, bench.peer) and the same WebSocket clients as the
tunnels group (bench.tunnel_clients, bench.tunnels.measure), in one run: one stream,
16 streams, connection setup rate, and memory per idle connection (PSS growth of the
bridge's processes, children included: websockify forks one per connection).  Ratios
divide by plain TCP of the same run.  websockify missing: its rows say why.
"""

from __future__ import annotations

import dataclasses
import sys

from wsnet.testing import free_port

from .procs import Procs, start_tcp_peer
from .results import Result, set_ratio, skipped
from .tunnel_clients import Endpoint
from .tunnels import FIGURES, Carrier, Sizes, _toml, _wait_ready, measure, start_websockify


def run(procs: Procs, nbytes: int, repeat: int, quick: bool) -> list[Result]:
    sizes = Sizes(nbytes, 300 if quick else 2000, 200 if quick else 1000)
    _, sink = start_tcp_peer(procs, "nsink")
    _, echo = start_tcp_peer(procs, "echo")
    base = _renamed(measure(Carrier("tcp", Endpoint(sink), Endpoint(echo)), sizes, repeat))
    out = list(base)
    for name, start in (("wsnet", start_bridge), ("websockify", start_websockify)):
        try:
            path = start(procs, sink, echo)
        except (OSError, RuntimeError, TimeoutError) as exc:
            path = f"did not start: {exc}"
        if isinstance(path, str):
            out += [skipped(f"websockify.{name}.{fig}", path) for fig in FIGURES]
            continue
        try:
            rows = _renamed(measure(path, sizes, repeat))
        finally:
            for p in path.procs:
                p.kill()
        for row, ref in zip(rows, base, strict=True):
            if row.unit not in ("KiB/conn", "skipped"):
                set_ratio(row, ref)
        out += rows
    return out


def _renamed(rows: list[Result]) -> list[Result]:
    """measure() names rows tunnels.PATH.FIGURE; this group's are websockify.PATH.FIGURE."""
    return [
        dataclasses.replace(r, name="websockify." + r.name.removeprefix("tunnels.")) for r in rows
    ]


def start_bridge(procs: Procs, sink: int, echo: int) -> Carrier:
    """One node, two bridges (to the sink and to the echo), websockify's shape."""
    wsink, wecho, ctl = free_port(), free_port(), free_port()
    cfg = _toml(procs.dir / "bridge.toml", [
        '[node]\nname = "bridge"\nplugins = ["websockify"]', "[listen]\nenabled = false",
        f"[control]\nport = {ctl}",
        f'[[websockify.bridge]]\nname = "sink"\nlisten = "127.0.0.1:{wsink}"\n'
        f'target = "127.0.0.1:{sink}"',
        f'[[websockify.bridge]]\nname = "echo"\nlisten = "127.0.0.1:{wecho}"\n'
        f'target = "127.0.0.1:{echo}"'])  # fmt: skip
    node = procs.spawn("bridge", [sys.executable, "-m", "wsnet", "run", "--config", str(cfg)])
    path = Carrier("wsnet", Endpoint(url=f"ws://127.0.0.1:{wsink}/"),
                   Endpoint(url=f"ws://127.0.0.1:{wecho}/"), [node])  # fmt: skip
    _wait_ready(path, "wsnet-websockify bridge")
    return path
