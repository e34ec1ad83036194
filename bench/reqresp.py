"""Request/response through each path: the per-message cost (issue 18).

For every path of bench.reqresp_paths, one TCP connection to an echo behind it:
- ``reqresp.P.S.p50`` / ``.p99``: round trips of S = 1 B and 1 KiB at a fixed rate
  (``rate``, default 1,000 req/s, for ``seconds``), µs; ratio to plain TCP;
- ``reqresp.P.S.cpu``: CPU time of the path's processes (all of them, from
  /proc/PID/stat) per round trip of that run, µs; ratio to two chained haproxy;
- ``reqresp.P.S.sat``: round trips per second with the next request sent as soon as
  the answer is in (one connection, one in flight), for ``seconds``; ratio to plain TCP;
- ``reqresp.P.bulk_cpu``: CPU-s of the path's processes per GiB of one bulk transfer
  to the nsink; ratio to the minimal uvloop relay (the ceiling).

All paths are started first and measured in turn, ``repeat`` times round, so that a
burst of outside load hits them alike; each row is the **median** of its repeats (the
machine is shared), the samples are in the JSON.  The wsnet rows carry the targets of
issue 18.  A path that is not installed or fails gets rows that say why.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import uvloop

from . import tunnel_clients as tc
from .procs import Procs, start_tcp_peer
from .reqresp_client import cpu_seconds, paced, saturate
from .reqresp_paths import STARTERS
from .results import MB, Result, skipped
from .tcp import percentile
from .tunnels import Carrier

T = TypeVar("T")
GIB = 1 << 30
SIZES = (("1B", 1), ("1k", 1024))


@dataclass
class Options:
    rate: float = 1000.0  # requests per second of the paced runs
    seconds: float = 10.0  # length of each paced and each saturation run
    bulk: int = 256 << 20  # bytes of the bulk run (CPU per GiB)


@dataclass
class Samples:
    """Per row: its unit, whether higher is better, and one sample per repeat."""

    rows: dict[str, tuple[str, bool, list[float]]] = field(default_factory=dict)

    def add(self, name: str, unit: str, value: float, higher: bool = False) -> None:
        self.rows.setdefault(name, (unit, higher, []))[2].append(value)


def run(procs: Procs, repeat: int, quick: bool, opts: Options | None = None) -> list[Result]:
    opts = opts or (Options(seconds=0.2, bulk=8 << 20) if quick else Options())
    _, sink = start_tcp_peer(procs, "nsink")
    _, echo = start_tcp_peer(procs, "echo")
    paths: list[Carrier] = []
    out: list[Result] = []
    for name, start in STARTERS:
        try:
            started = start(procs, sink, echo)
        except (OSError, RuntimeError, TimeoutError) as exc:
            started = f"did not start: {exc}"[:300]
        if isinstance(started, str):
            out += [skipped(f"reqresp.{name}.{fig}", started) for fig in _figures()]
        else:
            paths.append(started)
    samples = Samples()
    failed: dict[str, str] = {}
    try:
        for _ in range(repeat):
            for path in paths:
                if path.name in failed:
                    continue
                try:
                    measure(path, opts, samples)
                except Exception as exc:  # a peer failing mid-way is a row, not a crash
                    failed[path.name] = f"failed: {exc!r}"[:300]
    finally:
        for path in paths:
            for p in path.procs:
                p.kill()
    out += summarise(samples, failed, [p.name for p in paths])
    return out


def _figures() -> list[str]:
    per_size = ("p50", "p99", "cpu", "sat", "sat_cpu")
    return [f"{s}.{f}" for s, _ in SIZES for f in per_size] + ["bulk", "bulk_cpu"]


def measure(path: Carrier, opts: Options, samples: Samples) -> None:
    """One round of every figure of ``path`` into ``samples``."""
    pids = [p.pid for p in path.procs]
    prefix = f"reqresp.{path.name}"
    port = path.echo.port
    count = max(10, int(opts.rate * opts.seconds))
    for label, size in SIZES:
        res, cpu = _with_cpu(
            pids, functools.partial(uvloop.run, paced(port, size, opts.rate, count))
        )
        us = [r * 1e6 for r in res.rtts]
        samples.add(f"{prefix}.{label}.p50", "us", statistics.median(us))
        samples.add(f"{prefix}.{label}.p99", "us", percentile(us, 99))
        if pids:
            samples.add(f"{prefix}.{label}.cpu", "us/rt", cpu / len(us) * 1e6)
        res, cpu = _with_cpu(
            pids, functools.partial(uvloop.run, saturate(port, size, opts.seconds))
        )
        samples.add(f"{prefix}.{label}.sat", "req/s", res.rate, higher=True)
        if pids:
            samples.add(f"{prefix}.{label}.sat_cpu", "us/rt", cpu / len(res.rtts) * 1e6)
    secs, cpu = _with_cpu(pids, lambda: uvloop.run(tc.bulk(path.sink, opts.bulk)))
    samples.add(f"{prefix}.bulk", "MB/s", opts.bulk / secs / MB, higher=True)
    if pids:
        samples.add(f"{prefix}.bulk_cpu", "CPU-s/GiB", cpu * GIB / opts.bulk)


def _with_cpu(pids: list[int], once: Callable[[], T]) -> tuple[T, float]:
    before = cpu_seconds(pids)
    result = once()
    return result, cpu_seconds(pids) - before


# Rows divided by the same row of another path, and the targets of issue 18 (the wsnet
# row against haproxy's or the relay's, as a ratio).
BASELINE = {"p50": "tcp", "p99": "tcp", "sat": "tcp", "bulk": "tcp", "cpu": "haproxy",
            "sat_cpu": "haproxy", "bulk_cpu": "relay"}  # fmt: skip
TARGETS: dict[str, tuple[str, str, float]] = {  # figure: (other path, op, factor)
    "p50": ("haproxy", "<=", 1.0),
    "p99": ("haproxy", "<=", 1.0),
    "sat": ("haproxy", ">=", 0.8),
    "bulk_cpu": ("relay", "<=", 1.1),
}


def summarise(samples: Samples, failed: dict[str, str], names: list[str]) -> list[Result]:
    results: dict[str, Result] = {}
    for name, (unit, higher, values) in samples.rows.items():
        results[name] = Result(name=name, value=statistics.median(values), unit=unit,
                               higher_is_better=higher, samples=values,
                               median=statistics.median(values))  # fmt: skip
    for path, why in failed.items():
        for fig in _figures():
            results.setdefault(f"reqresp.{path}.{fig}", skipped(f"reqresp.{path}.{fig}", why))
    for name, r in results.items():
        _, path, *rest = name.split(".")
        fig = rest[-1]
        ref = results.get(".".join(["reqresp", BASELINE.get(fig, "tcp"), *rest]))
        if ref is not None and ref is not r and r.unit != "skipped" and ref.unit != "skipped":
            r.ratio_to_baseline = r.value / ref.value if ref.value else None
            r.baseline = ref.name
        if path == "wsnet" and fig in TARGETS:
            _set_target(r, results, rest)
    order = {n: i for i, n in enumerate(names)}
    return sorted(results.values(), key=lambda r: (order.get(r.name.split(".")[1], 99), r.name))


def _set_target(r: Result, results: dict[str, Result], rest: list[str]) -> None:
    other, op, factor = TARGETS[rest[-1]]
    ref = results.get(".".join(["reqresp", other, *rest]))
    if ref is None or ref.unit == "skipped" or r.unit == "skipped":
        return  # nothing to hold it to in this run
    r.target = f"{op} {factor:g} x {other}"
    bound = ref.value * factor
    r.target_met = r.value <= bound if op == "<=" else r.value >= bound
