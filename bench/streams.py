"""Many streams through one path at once: throughput, fairness and the sender's memory.

For each count of concurrent TCP streams (1, 16, 100, 1,000 by default) and each path
(plain TCP, wsnet through one link between two nodes, two chained haproxy; see
bench.streams_paths), a driver process opens every stream, all start writing at one
signal and push as fast as their sockets take it.  After a warm-up (``omit``, as iperf3
has) the sink's per-stream byte counts are taken twice, ``seconds`` apart:

- ``total``: MB/s of all streams together (ratio: plain TCP with as many streams);
- ``min_max``: the slowest stream's bytes over the fastest's (target >= 0.5);
- ``zero``: streams that moved no byte in the window (target 0);
- ``of_one``: ``total`` over the same path's one-stream ``total`` (target at 1,000 streams:
  >= 0.7);
- ``peak_rss``: the sending hop's (node ``a``, haproxy 1) peak RSS in the run, sampled.

The targets are those of issue 12 ("Fair and scalable scheduling").  A run whose sender
passes ``rss_cap_mib`` is stopped there, so the machine is not harmed; its figures cover
the time until the stop, and its ``peak_rss`` row says so.  Each path starts fresh for
every count, and the counts run in turn on all paths, so outside load hits all alike.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import streams_paths as sp
from .procs import Proc, Procs, rss_kib, wait_for
from .results import MB, Result, set_ratio, skipped
from .streams_peer import raise_nofile

COUNTS = (1, 16, 100, 1000)
KIB = 1024
FIGURES = ("total", "min_max", "zero", "of_one", "peak_rss")


@dataclass
class Options:
    counts: tuple[int, ...] = COUNTS
    seconds: float = 5.0
    omit: float = 0.5
    rss_cap_mib: int = 3072
    sockbuf: int = 64 << 10  # the harness's own SO_SNDBUF/SO_RCVBUF (bench.streams_peer)
    sample_every: float = 0.05


@dataclass
class Window:
    """What one path did with ``n`` streams."""

    per_stream: list[int]  # bytes in the window, index = stream
    seconds: float
    peak_rss_kib: dict[str, int] = field(default_factory=dict)  # per hop, sampled
    stopped: str = ""  # why the run was cut short, "" when it ran its time
    extra: dict[str, Any] = field(default_factory=dict)


def run(procs: Procs, opts: Options) -> list[Result]:
    soft, hard = raise_nofile()  # the nodes and haproxy inherit it
    print(f"streams: RLIMIT_NOFILE {soft}/{hard}", file=sys.stderr, flush=True)
    sink = sp.start_sink(procs, opts.sockbuf)
    got: dict[tuple[str, int], Window | str] = {}
    for n in opts.counts:
        for name, start in sp.STARTERS:
            print(f"streams: {name}, {n} streams", file=sys.stderr, flush=True)
            got[name, n] = _one(procs, start, sink, n, opts)
    return rows(got, opts)


def _one(procs: Procs, start: sp.Starter, sink: int, n: int, opts: Options) -> Window | str:
    """One path with ``n`` streams, or why not; the path's processes end here."""
    try:
        path = start(procs, sink)
    except (OSError, RuntimeError, TimeoutError) as exc:
        return f"did not start: {exc}"[:300]
    if isinstance(path, str):
        return path
    try:
        return measure(procs, path, sink, n, opts)
    except Exception as exc:  # a path that fails mid-way is a row, not a crash
        return f"failed: {exc!r}"[:300]
    finally:
        path.close()


def measure(procs: Procs, path: sp.StreamPath, sink: int, n: int, opts: Options) -> Window:
    run_id = f"{path.name}-{n}-{time.monotonic_ns()}"
    prefix = f"{run_id}/"
    lifetime = opts.omit + opts.seconds + 60  # the driver ends itself even if we do not
    driver = procs.spawn(f"streams-drive-{path.name}-{n}", [
        sys.executable, "-m", "bench.streams_peer", "drive", str(path.port), str(n), run_id,
        str(lifetime), str(opts.sockbuf)])  # fmt: skip
    try:
        return _timed(path, driver, sink, prefix, n, opts)
    finally:
        driver.kill()


def _timed(
    path: sp.StreamPath, driver: Proc, sink: int, prefix: str, n: int, opts: Options
) -> Window:
    def all_connected() -> bool:
        driver.check_alive()
        path.check_alive()
        return len(sp.snapshot(sink, prefix)[1]) == n

    wait_for(all_connected, timeout=60 + n * 0.05, what=f"{n} streams to reach the sink")
    watch = Watch(path, opts)
    retrans0 = _retrans_segs()
    start = sp.snapshot(sink, prefix)
    os.kill(driver.pid, signal.SIGUSR1)
    t_go = time.monotonic()
    stopped = watch.until(t_go + opts.omit)
    first = start if stopped else sp.snapshot(sink, prefix)
    stopped = stopped or watch.until(first[0] + opts.seconds)
    last = sp.snapshot(sink, prefix)
    seconds = last[0] - first[0]
    if seconds <= 0:
        raise RuntimeError(f"{stopped} before any time was measured")
    per_stream = [last[1].get(f"{prefix}{i}", 0) - first[1].get(f"{prefix}{i}", 0)
                  for i in range(n)]  # fmt: skip
    extra = {**watch.extra(), "retrans_segs_all_host": _retrans_segs() - retrans0}
    return Window(per_stream, seconds, watch.peak, stopped, extra)


class Watch:
    """Samples the path's RSS and the host's TCP memory until a deadline or the RSS cap."""

    def __init__(self, path: sp.StreamPath, opts: Options) -> None:
        self.path, self.opts = path, opts
        hops = {"sender": path.sender, "receiver": path.receiver}
        self.hops = {k: p for k, p in hops.items() if p is not None}
        self.idle = {k: rss_kib(p.pid)["VmRSS"] for k, p in self.hops.items()}
        self.peak = dict(self.idle)
        self.tcp_mem_peak = _tcp_mem_pages()

    def until(self, deadline: float) -> str:
        """Sample until ``deadline``; returns why it stopped early ("" when it did not)."""
        cap = self.opts.rss_cap_mib * KIB
        while (now := time.monotonic()) < deadline:
            self.path.check_alive()
            for k, p in self.hops.items():
                self.peak[k] = max(self.peak[k], rss_kib(p.pid)["VmRSS"])
            self.tcp_mem_peak = max(self.tcp_mem_peak, _tcp_mem_pages())
            if self.peak.get("sender", 0) > cap:
                return f"stopped: sender RSS passed {self.opts.rss_cap_mib} MiB"
            time.sleep(min(self.opts.sample_every, max(0.0, deadline - now)))
        return ""

    def extra(self) -> dict[str, Any]:
        pressure = _tcp_mem_limits()[1]
        return {
            "idle_rss_mib": {k: v / KIB for k, v in self.idle.items()},
            "peak_rss_mib": {k: v / KIB for k, v in self.peak.items()},
            "tcp_mem_peak_pages": self.tcp_mem_peak,
            "tcp_mem_pressure_pages": pressure,
            "tcp_mem_pressure_passed": self.tcp_mem_peak > pressure,
        }


# ------------------------------------------------------------------ rows
def rows(got: dict[tuple[str, int], Window | str], opts: Options) -> list[Result]:
    """The rows of every path and count; plain TCP first, as the others' ratios need it."""
    out: list[Result] = []
    totals: dict[tuple[str, int], Result] = {}
    for name, _ in sp.STARTERS:
        for n in opts.counts:
            w = got[name, n]
            if isinstance(w, str):
                out += [skipped(f"streams.{name}.{n}.{fig}", w) for fig in FIGURES]
                continue
            one = got.get((name, 1))
            part = window_rows(name, n, w, one if isinstance(one, Window) else None, opts)
            totals[name, n] = part[0]
            if name != "tcp":
                set_ratio(part[0], totals.get(("tcp", n)))
            out += part
    return out


def window_rows(name: str, n: int, w: Window, one: Window | None, opts: Options) -> list[Result]:
    """total (first), min_max, zero, of_one (n > 1) and peak_rss (paths with a sender)."""
    prefix = f"streams.{name}.{n}"
    lo, hi = min(w.per_stream), max(w.per_stream)
    zero = sum(1 for b in w.per_stream if b == 0)
    extra = {
        **w.extra,
        "streams": n,
        "seconds": w.seconds,
        "omit": opts.omit,
        "harness_sockbuf": opts.sockbuf,
        "per_stream_bytes": _quantiles(w.per_stream),
    }
    if w.stopped:
        extra["stopped"] = w.stopped
        print(f"streams: {name}, {n} streams: {w.stopped}", file=sys.stderr, flush=True)
    fair = lo / hi if hi else 0.0
    out = [
        Result(f"{prefix}.total", _total(w), "MB/s", extra=extra),
        _target(Result(f"{prefix}.min_max", fair, "ratio"), ">= 0.5", fair >= 0.5),
        _target(Result(f"{prefix}.zero", zero, "streams", higher_is_better=False), "0", not zero),
    ]
    if n > 1 and one is not None and _total(one) > 0:
        scale = _total(w) / _total(one)
        row = Result(f"{prefix}.of_one", scale, "x 1 stream")
        out.append(_target(row, ">= 0.7", scale >= 0.7) if n >= 1000 else row)
    if "sender" in w.peak_rss_kib:
        peak = w.peak_rss_kib["sender"] / KIB
        row = Result(f"{prefix}.peak_rss", peak, "MiB", higher_is_better=False)
        out.append(_target(row, f"< {opts.rss_cap_mib} (cap)", not w.stopped))
    return out


def _target(row: Result, target: str, met: bool) -> Result:
    row.target, row.target_met = target, met
    return row


def _total(w: Window) -> float:
    return sum(w.per_stream) / w.seconds / MB


def _quantiles(values: Sequence[int]) -> dict[str, float]:
    ordered = sorted(values)
    at = {"min": 0.0, "p10": 0.1, "median": 0.5, "p90": 0.9, "max": 1.0}
    out = {k: float(ordered[round(q * (len(ordered) - 1))]) for k, q in at.items()}
    out["mean"] = statistics.fmean(ordered)
    return out


# ------------------------------------------------------------------ host TCP counters
def _tcp_mem_pages() -> int:
    """Pages the host's TCP sockets hold now (/proc/net/sockstat ``TCP: ... mem N``)."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("mem") + 1])
    return 0


def _tcp_mem_limits() -> tuple[int, int, int]:
    low, pressure, high = Path("/proc/sys/net/ipv4/tcp_mem").read_text().split()
    return int(low), int(pressure), int(high)


def _retrans_segs() -> int:
    """The host's TCP RetransSegs (all sockets: other load on the machine counts too)."""
    lines = [x.split() for x in Path("/proc/net/snmp").read_text().splitlines()
             if x.startswith("Tcp:")]  # fmt: skip
    head, values = lines[0], lines[1]
    return int(values[head.index("RetransSegs")])
