"""TCP tunnels side by side: plain TCP, wsnet-tcp, websockify 0.13, tcp-over-websocket 1.1.1.

Every path leads to the same two target processes (an nsink and an echo, bench.peer)
and is driven by the same Python clients (bench.tunnel_clients), in one run:
- ``one_stream``: one connection moves ``nbytes`` (MB/s);
- ``16_streams``: 16 connections move nbytes/16 each at once (MB/s, total);
- ``setup_rate``: connections/s, each sending 1 KiB to the echo, reading it, closing;
- ``idle_memory``: growth of the memory (PSS, children included) of the tunnel
  processes per idle connection, with N held (KiB per connection).
Ratios divide by plain TCP in the same run (for idle_memory there is no baseline: plain
TCP adds no process).  A peer that is not installed, or does not carry data, gets a
row that says why.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

from wsnet.testing import free_port

from . import tunnel_clients as tc
from .procs import Proc, Procs, port_open, start_tcp_peer, wait_for
from .results import MB, Result, best_of, set_ratio, skipped
from .tunnel_clients import Endpoint

PEERS = Path(os.environ.get("WSNET_BENCH_PEERS", "/opt/wsnet-peers"))
WEBSOCKIFY = PEERS / "websockify" / "bin" / "websockify"
TOW_PYTHON = PEERS / "tcp-over-websocket" / "bin" / "python"


@dataclass
class Carrier:
    """What carries the traffic from a client to the targets: endpoints and processes."""

    name: str
    sink: Endpoint
    echo: Endpoint
    procs: list[Proc] = field(default_factory=list)

    def memory_kib(self) -> int:
        """PSS of the path's processes and all their children (websockify forks one per
        connection), so shared pages are counted once, not once per child."""
        return sum(_pss_kib(pid) for p in self.procs for pid in _tree(p.pid))


@dataclass
class Sizes:
    nbytes: int
    conns: int  # setup-rate connections
    idle: int  # idle connections held


def run(procs: Procs, nbytes: int, repeat: int, quick: bool) -> list[Result]:
    sizes = Sizes(nbytes, 300 if quick else 2000, 200 if quick else 1000)
    _, sink = start_tcp_peer(procs, "nsink")
    _, echo = start_tcp_peer(procs, "echo")
    out: list[Result] = []
    base = measure(Carrier("tcp", Endpoint(sink), Endpoint(echo)), sizes, repeat)
    out += base
    starters: list[tuple[str, Callable[[Procs, int, int], Carrier | str]]] = [
        ("wsnet", start_wsnet), ("websockify", start_websockify), ("tow", start_tow)]  # fmt: skip
    for name, start in starters:
        try:
            path = start(procs, sink, echo)
        except (OSError, RuntimeError, TimeoutError) as exc:
            path = f"did not start: {exc}"
        if isinstance(path, str):
            out += [skipped(f"tunnels.{name}.{fig}", path) for fig in FIGURES]
            continue
        try:
            rows = measure(path, sizes, repeat)
        except Exception as exc:  # a peer that fails mid-way is a row, not a crash
            rows = [skipped(f"tunnels.{name}.{fig}", f"failed: {exc!r}"[:200]) for fig in FIGURES]
        finally:
            for p in path.procs:
                p.kill()
        for row, ref in zip(rows, base, strict=True):
            # No ratio for idle memory (plain TCP adds no process) nor for a failed row
            # (set_ratio would print "nan" for its NaN value).
            if row.unit not in ("KiB/conn", "skipped"):
                set_ratio(row, ref)
        out += rows
    return out


FIGURES = ("one_stream", "16_streams", "setup_rate", "idle_memory")


def measure(path: Carrier, sizes: Sizes, repeat: int) -> list[Result]:
    """The four figures of one path (best of ``repeat`` for the timed ones).

    Each figure stands alone: a peer that fails one of them (websockify cannot hold
    1,000 connections) gets that row marked with the error and keeps the others.
    """
    prefix = f"tunnels.{path.name}"
    nbytes = _affordable(path, sizes.nbytes)
    timed: list[tuple[str, str, Callable[[], float], dict[str, object]]] = [
        ("one_stream", "MB/s",
         lambda: nbytes / uvloop.run(tc.bulk(path.sink, nbytes)) / MB, {"bytes": nbytes}),
        ("16_streams", "MB/s",
         lambda: nbytes / uvloop.run(tc.parallel_bulk(path.sink, nbytes, 16)) / MB,
         {"bytes": nbytes, "streams": 16}),
        ("setup_rate", "conn/s",
         lambda: uvloop.run(tc.setup_rate(path.echo, sizes.conns, 50)),
         {"connections": sizes.conns, "concurrency": 50}),
    ]  # fmt: skip
    rows = []
    for fig, unit, once, extra in timed:
        try:
            rows.append(best_of(f"{prefix}.{fig}", unit, [once() for _ in range(repeat)],
                                extra=extra))  # fmt: skip
        except Exception as exc:
            rows.append(skipped(f"{prefix}.{fig}", f"failed: {exc!r}"[:200]))
    try:
        rows.append(idle_memory(path, sizes.idle))
    except Exception as exc:
        rows.append(skipped(f"{prefix}.idle_memory", f"failed: {exc!r}"[:200]))
    return rows


def _affordable(path: Carrier, nbytes: int, budget_s: float = 10.0) -> int:
    """``nbytes``, or what the path moves in ``budget_s`` when it is slow (a 1 GiB transfer
    at 4 MB/s would take four minutes per sample); at least 16 MiB, in whole MiB."""
    probe = 16 << 20
    rate = probe / uvloop.run(tc.bulk(path.sink, probe))
    return max(probe, min(nbytes, int(rate * budget_s) >> 20 << 20))


def idle_memory(path: Carrier, count: int) -> Result:
    """Memory per idle connection (KiB, PSS growth / connections held)."""

    async def hold() -> tuple[float, int, str]:
        before = path.memory_kib()
        conns, error = await tc.open_idle(path.echo, count)
        try:
            await asyncio.sleep(1.0)  # let every process settle its buffers
            after = path.memory_kib()
        finally:
            await tc.close_all(conns)
        return (after - before) / max(1, len(conns)), len(conns), error

    per_conn, held, error = uvloop.run(hold()) if path.procs else (0.0, count, "")
    extra: dict[str, object] = {"connections": count, "held": held}
    if error:
        extra["error"] = f"only {held} of {count} connections held: {error}"
    return best_of(f"tunnels.{path.name}.idle_memory", "KiB/conn", [per_conn],
                   higher_is_better=False, extra=extra)  # fmt: skip


# ------------------------------------------------------------------ the paths
def start_wsnet(procs: Procs, sink: int, echo: int) -> Carrier:
    link, lsink, lecho = free_port(), free_port(), free_port()
    ctl_a, ctl_b = free_port(), free_port()
    a_cfg = _toml(procs.dir / "a.toml", [
        '[node]\nname = "a"\nplugins = ["tcp"]',
        f'[listen]\nhost = "127.0.0.1"\nport = {link}', f"[control]\nport = {ctl_a}",
        _tunnel("sink", f'listen = "127.0.0.1:{lsink}"\npeer = "b"'),
        _tunnel("echo", f'listen = "127.0.0.1:{lecho}"\npeer = "b"')])  # fmt: skip
    b_cfg = _toml(procs.dir / "b.toml", [
        '[node]\nname = "b"\nplugins = ["tcp"]', "[listen]\nenabled = false",
        f"[control]\nport = {ctl_b}", f'[[dial]]\nurl = "ws://127.0.0.1:{link}/wsnet"',
        _tunnel("sink", f'connect = "127.0.0.1:{sink}"'),
        _tunnel("echo", f'connect = "127.0.0.1:{echo}"')])  # fmt: skip
    run_ = [sys.executable, "-m", "wsnet", "run", "--config"]
    nodes = [procs.spawn("tun-a", [*run_, str(a_cfg)]), procs.spawn("tun-b", [*run_, str(b_cfg)])]
    path = Carrier("wsnet", Endpoint(lsink), Endpoint(lecho), nodes)
    _wait_ready(path, "wsnet tunnels")
    return path


def start_websockify(procs: Procs, sink: int, echo: int) -> Carrier | str:
    if not WEBSOCKIFY.exists():
        return f"{WEBSOCKIFY} not installed: run bench/peers/websockify.sh"
    wsink, wecho = free_port(), free_port()
    ps = [procs.spawn(f"websockify-{n}", [str(WEBSOCKIFY), f"127.0.0.1:{p}", f"127.0.0.1:{t}"])
          for n, p, t in (("sink", wsink, sink), ("echo", wecho, echo))]  # fmt: skip
    path = Carrier("websockify", Endpoint(url=f"ws://127.0.0.1:{wsink}/"),
                 Endpoint(url=f"ws://127.0.0.1:{wecho}/"), ps)  # fmt: skip
    wait_for(lambda: all(_alive(p) for p in ps) and port_open(wsink) and port_open(wecho),
             timeout=20, what="websockify")  # fmt: skip
    _wait_ready(path, "websockify")
    return path


def start_tow(procs: Procs, sink: int, echo: int) -> Carrier | str:
    """tcp-over-websocket: the client listens, the server connects to the targets.

    Client-side listeners, because a server-side listener drops connections until a
    client is active, and a client becomes active when data first reaches one of its
    listeners (/work/shared/PEERS.md); the readiness probe below is that first data.
    """
    if not TOW_PYTHON.exists():
        return f"{TOW_PYTHON} not installed: run bench/peers/tcp_over_websocket.sh"
    link, lsink, lecho = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{link}"
    server = {
        "weAreServer": True,
        "dataExchange": {"serverUrl": url},
        "standbySocketCloseDurationSecs": 1,
        "logging": {"level": "WARNING", "logToStdout": True},
        "tcpTunnelConnects": [
            {"tunnelName": "sink", "connectToHost": "127.0.0.1", "connectToPort": sink},
            {"tunnelName": "echo", "connectToHost": "127.0.0.1", "connectToPort": echo},
        ],
    }
    client = {
        "weAreServer": False,
        "clientId": 1,
        "dataExchange": {"serverUrl": url},
        "logging": {"level": "WARNING", "logToStdout": True},
        "tcpTunnelListens": [
            {"tunnelName": "sink", "listenBindAddress": "127.0.0.1", "listenPort": lsink},
            {"tunnelName": "echo", "listenBindAddress": "127.0.0.1", "listenPort": lecho},
        ],
    }
    ps = []
    for name, cfg in (("server", server), ("client", client)):
        home = procs.dir / f"tow-{name}"
        home.mkdir()
        (home / "config.json").write_text(json.dumps(cfg))
        ps.append(procs.spawn(f"tow-{name}", [
            str(TOW_PYTHON), "-m", "tcp_over_websocket.run_tcp_over_websocket_service",
            str(home)]))  # fmt: skip
        time.sleep(1.0 if name == "server" else 0)
    path = Carrier("tow", Endpoint(lsink), Endpoint(lecho), ps)
    _wait_ready(path, "tcp-over-websocket", timeout=60)
    return path


# ------------------------------------------------------------------ helpers
def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc/PID/task/*/children."""
    out: list[int] = []
    todo = [pid]
    while todo and len(out) < 100_000:
        cur = todo.pop()
        out.append(cur)
        for task in Path(f"/proc/{cur}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                continue  # the task ended meanwhile
    return out


def _pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0  # ended meanwhile
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _toml(path: Path, tables: list[str]) -> Path:
    path.write_text("\n\n".join(tables) + "\n")
    return path


def _tunnel(name: str, body: str) -> str:
    return f'[[tcp.tunnel]]\nname = "{name}"\n{body}'


def _alive(p: Proc) -> bool:
    p.check_alive()
    return True


def _wait_ready(path: Carrier, what: str, timeout: float = 30) -> None:
    """Until a 1 KiB echo and a small bulk pass end to end through ``path``."""

    def probe() -> bool:
        for p in path.procs:
            p.check_alive()
        try:
            uvloop.run(asyncio.wait_for(tc.setup_rate(path.echo, 1, 1), 3))
            uvloop.run(asyncio.wait_for(tc.bulk(path.sink, 1 << 16), 3))
        except (OSError, RuntimeError, TimeoutError, asyncio.IncompleteReadError):
            time.sleep(0.3)
            return False
        return True

    wait_for(probe, timeout=timeout, what=f"{what} carrying data")
