"""Browser bridges side by side: plain TCP, a wsnet-websockify bridge, websockify 0.13.

The same targets (an nsink and an echo, bench.peer) and the same WebSocket clients as the
tunnels group (bench.tunnel_clients, bench.tunnels.measure), in one run: one stream,
16 streams, connection setup rate, connections held with the memory per connection at
two counts (1,000 and 10,000; 200 and 1,000 with --quick: PSS growth of the bridge's
processes, children included, as websockify forks one per connection), and the CPU time
the bridge spends per GiB of one stream.  Ratios divide by plain TCP of the same run.
websockify missing: its rows say why.

The bridge holds two descriptors per session (the WebSocket and the target), so 10,000
sessions need RLIMIT_NOFILE above 20,000: the soft limit is raised to the hard one here
(children inherit it); a count the limit cannot reach is held as far as it goes, and the
row says how far and why.  ``wsnet_mesh`` holds the larger count through a bridge whose
target is on a second node: one descriptor per session on the bridge.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

import uvloop

from wsnet.testing import free_port

from . import tunnel_clients as tc
from .procs import Procs, start_tcp_peer
from .results import Result, best_of, set_ratio, skipped
from .tunnel_clients import Endpoint
from .tunnels import (
    FIGURES,
    Carrier,
    Sizes,
    _toml,
    _tree,
    _wait_ready,
    idle_memory,
    measure,
    start_websockify,
)

GIB = 1 << 30


def run(procs: Procs, nbytes: int, repeat: int, quick: bool) -> list[Result]:
    counts = (200, 1000) if quick else (1000, 10_000)
    _raise_nofile()
    sizes = Sizes(nbytes, 300 if quick else 2000, counts[0])
    _, sink = start_tcp_peer(procs, "nsink")
    _, echo = start_tcp_peer(procs, "echo")
    base = _renamed(measure(Carrier("tcp", Endpoint(sink), Endpoint(echo)), sizes, repeat))
    out = list(base)
    figures = (*FIGURES, f"idle_memory_{counts[1]}", "one_stream_cpu")
    for name, start in (("wsnet", start_bridge), ("websockify", start_websockify)):
        try:
            path = start(procs, sink, echo)
        except (OSError, RuntimeError, TimeoutError) as exc:
            path = f"did not start: {exc}"
        if isinstance(path, str):
            out += [skipped(f"websockify.{name}.{fig}", path) for fig in figures]
            continue
        try:
            # First: websockify's children of later figures, reaped while it ran, would
            # add their time to its own (cutime).
            cpu = _cpu_per_gib(path, nbytes, repeat)
            rows = _renamed(measure(path, sizes, repeat))
            rows[-1] = dataclasses.replace(rows[-1], name=f"{rows[-1].name}_{counts[0]}")
            rows += [_held(path, counts[1], rows[-1]), cpu]
        finally:
            for p in path.procs:
                p.kill()
        for row, ref in zip(rows, base, strict=False):
            if row.unit not in ("KiB/conn", "skipped"):
                set_ratio(row, ref)
        out += rows
    out.append(_held_mesh(procs, echo, counts[1]))
    return out


def _cpu_per_gib(path: Carrier, nbytes: int, repeat: int) -> Result:
    """CPU-seconds of the path's processes (children included) per GiB of one stream to
    the nsink: on a loaded machine the figure that other load disturbs least (a rate
    measures who got the cores; this, what the bridge spent)."""
    name = f"websockify.{path.name}.one_stream_cpu"
    samples = []
    time.sleep(1.0)  # the readiness probe's connections are over (websockify: reaped)
    try:
        for _ in range(repeat):
            before = _cpu_seconds(path)
            uvloop.run(tc.bulk(path.sink, nbytes))
            time.sleep(0.2)  # the last writes and the count's reply are accounted
            samples.append((_cpu_seconds(path) - before) * GIB / nbytes)
    except Exception as exc:
        return skipped(name, f"failed: {exc!r}"[:200])
    return best_of(name, "CPU-s/GiB", samples, higher_is_better=False, extra={"bytes": nbytes})


def _cpu_seconds(path: Carrier) -> float:
    """User + system time of the path's processes and their children, reaped or not."""
    ticks = 0
    for pid in (pid for p in path.procs for pid in _tree(p.pid)):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _held_mesh(procs: Procs, echo: int, count: int) -> Result:
    """``count`` sessions through one bridge whose target is on another node: the bridge
    holds one descriptor per session (the far node holds the target's), so 10,000 fit
    under a 20,000 descriptor limit.  The figure is the bridge node's growth per session
    (WebSocket and stream channel); the far node's (channel and TCP) is in extra."""
    name = f"websockify.wsnet_mesh.idle_memory_{count}"
    try:
        path, far = start_mesh_bridge(procs, echo)
    except (OSError, RuntimeError, TimeoutError) as exc:
        return skipped(name, f"did not start: {exc}")

    async def hold() -> tuple[float, float, int, str]:
        before = path.memory_kib(), far.memory_kib()
        conns, error = await tc.open_idle(path.echo, count)
        try:
            await asyncio.sleep(1.0)  # let both nodes settle their buffers
            after = path.memory_kib(), far.memory_kib()
        finally:
            await tc.close_all(conns)
        n = max(1, len(conns))
        return (after[0] - before[0]) / n, (after[1] - before[1]) / n, len(conns), error

    try:
        bridge_kib, far_kib, held, error = uvloop.run(hold())
    except Exception as exc:
        return skipped(name, f"failed: {exc!r}"[:200])
    finally:
        for p in (*path.procs, *far.procs):
            p.kill()
    extra: dict[str, object] = {"connections": count, "held": held, "far_node_kib": far_kib}
    if error:
        extra["error"] = f"only {held} of {count} connections held: {error}"
    return best_of(name, "KiB/conn", [bridge_kib], higher_is_better=False, extra=extra)


def _held(path: Carrier, count: int, first: Result) -> Result:
    """The larger count, unless the path could not hold the smaller one (websockify: a
    process per connection; holding its maximum again would only repeat that row)."""
    name = f"websockify.{path.name}.idle_memory_{count}"
    if first.extra.get("error"):
        return skipped(name, f"not tried: {first.extra['error']}")
    # Two descriptors per session and a few dozen of the node's own: asking for more
    # would leave the last clients hanging in the listen backlog, not failing.
    fits = (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 100) // 2
    try:
        row = dataclasses.replace(idle_memory(path, min(count, fits)), name=name)
    except Exception as exc:
        return skipped(name, f"failed: {exc!r}"[:200])
    if fits < count:
        row.extra["limited"] = f"{fits} of {count}: RLIMIT_NOFILE hard limit, 2 fds a session"
    return row


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"websockify: RLIMIT_NOFILE {hard}", file=sys.stderr, flush=True)


def _renamed(rows: list[Result]) -> list[Result]:
    """measure() names rows tunnels.PATH.FIGURE; this group's are websockify.PATH.FIGURE."""
    return [
        dataclasses.replace(r, name="websockify." + r.name.removeprefix("tunnels.")) for r in rows
    ]


def start_mesh_bridge(procs: Procs, echo: int) -> tuple[Carrier, Carrier]:
    """A bridge node dialling a far node whose tcp service connects the echo."""
    link, wecho, ctl_b, ctl_f = free_port(), free_port(), free_port(), free_port()
    far_cfg = _toml(procs.dir / "far.toml", [
        '[node]\nname = "far"\nplugins = ["tcp"]',
        f'[listen]\nhost = "127.0.0.1"\nport = {link}\nallow_anonymous = true',
        f"[control]\nport = {ctl_f}", f'[tcp]\ntargets = ["127.0.0.1:{echo}"]'])  # fmt: skip
    cfg = _toml(procs.dir / "bridge-mesh.toml", [
        '[node]\nname = "bridge-mesh"\nplugins = ["websockify"]', "[listen]\nenabled = false",
        f"[control]\nport = {ctl_b}", f'[[dial]]\nurl = "ws://127.0.0.1:{link}/wsnet"',
        f'[[websockify.bridge]]\nname = "echo"\nlisten = "127.0.0.1:{wecho}"\n'
        f'target = "127.0.0.1:{echo}@far"'])  # fmt: skip
    run_ = [sys.executable, "-m", "wsnet", "run", "--config"]
    far = procs.spawn("far", [*run_, str(far_cfg)])
    node = procs.spawn("bridge-mesh", [*run_, str(cfg)])
    ws = Endpoint(url=f"ws://127.0.0.1:{wecho}/")
    path = Carrier("wsnet_mesh", ws, ws, [node])  # the probe's bulk to an echo: its count
    _wait_ready(path, "wsnet-websockify bridge to a far node")
    return path, Carrier("far", ws, ws, [far])


def start_bridge(procs: Procs, sink: int, echo: int) -> Carrier:
    """One node, two bridges (to the sink and to the echo), websockify's shape."""
    wsink, wecho, ctl = free_port(), free_port(), free_port()
    cfg = _toml(procs.dir / "bridge.toml", [
        '[node]\nname = "bridge"\nplugins = ["websockify"]', "[listen]\nenabled = false",
        f"[control]\nport = {ctl}",
        f'[[websockify.bridge]]\nname = "sink"\nlisten = "127.0.0.1:{wsink}"\n'
        f'target = "127.0.0.1:{sink}"\nmax_pending_per_source = 4096',
        f'[[websockify.bridge]]\nname = "echo"\nlisten = "127.0.0.1:{wecho}"\n'
        f'target = "127.0.0.1:{echo}"\nmax_pending_per_source = 4096'])  # fmt: skip
    # (every client is 127.0.0.1: the per-source cap of 64 would refuse the held ones)
    node = procs.spawn("bridge", [sys.executable, "-m", "wsnet", "run", "--config", str(cfg)])
    path = Carrier("wsnet", Endpoint(url=f"ws://127.0.0.1:{wsink}/"),
                   Endpoint(url=f"ws://127.0.0.1:{wecho}/"), [node])  # fmt: skip
    _wait_ready(path, "wsnet-websockify bridge")
    return path
