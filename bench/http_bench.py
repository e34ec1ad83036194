"""HTTP reverse proxy: a 1 KiB GET with keep-alive through wsnet-httpproxy, and a download.

Four paths to one upstream nginx (bench.http_paths): ``direct``, ``wsnet1`` (entry ->
exit), ``wsnet2`` (entry -> relay without the plugin -> exit) and ``nginx`` (a plain
reverse proxy, the reference for one good proxy in the path).  Per path, in one run:

- ``rate.p50`` / ``rate.p99`` / ``rate.rps``: latency (ms) and achieved rate at a fixed
  ``rate`` req/s (open loop, bench.http_load.fixed_rate; aiohttp client);
- ``rate.p99_per_hop``: (p99 - direct's p99) / hops, ms: target <= 2 for wsnet;
- ``sat.rps`` / ``sat.p50`` / ``sat.p99``: ``ab -k`` with ``concurrency`` connections;
- ``sat.cpu``: CPU time (user + system) of the path's own processes per request in the
  ab run, microseconds: the figure least disturbed by other load on the machine (for
  ``direct`` it is the upstream's; the others do not count the upstream);
- ``download``: MB/s of one GET of the big file (curl); its ratio is the median of the
  per-repeat ratios to direct: target >= 0.3.
And ``client.aiohttp_p50_cost``: the aiohttp client's p50 at direct minus a raw socket's,
the part of every fixed-rate latency that is the client's own.

Each value is the **median** of ``repeat`` runs (the machine is shared: a median is the
typical run, the samples are in the JSON); the paths run in turn within each repeat, so a
burst of outside load hits them alike.  Ratios divide by ``direct`` of the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import http_load as hl
from . import http_paths as hp
from .procs import Procs
from .results import MB, Result, set_ratio, skipped
from .tunnels import _tree

CLK_TCK = os.sysconf("SC_CLK_TCK")

PATHS = ("direct", "wsnet1", "wsnet2", "nginx")
FIGURES = ("rate.p50", "rate.p99", "rate.rps", "sat.rps", "sat.p50", "sat.p99", "sat.cpu",
           "download")  # fmt: skip
NO_RATIO = ("sat.cpu",)  # the proxies' CPU over the upstream's would mean nothing
HOP_TARGET_MS = 2.0
DOWNLOAD_TARGET = 0.3


@dataclass
class Options:
    rate: float = 1000.0
    seconds: float = 10.0  # per fixed-rate run
    sat_seconds: float = 5.0  # per ab run; 0: a fixed count of requests (sat_requests)
    sat_requests: int = 0
    concurrency: int = 16

    @classmethod
    def quick(cls) -> Options:
        return cls(rate=200.0, seconds=1.0, sat_seconds=0, sat_requests=1000, concurrency=4)


Figures = dict[str, list[float]]  # figure -> one sample per repeat


def run(procs: Procs, nbytes: int, repeat: int, opts: Options) -> list[Result]:
    upstream = hp.start_upstream(procs, nbytes)
    _warm(upstream, nbytes)
    paths: dict[str, hp.HttpPath | str] = {"direct": upstream}
    starters: dict[str, Callable[[], hp.HttpPath]] = {
        "wsnet1": lambda: hp.start_wsnet(procs, upstream.port, 1),
        "wsnet2": lambda: hp.start_wsnet(procs, upstream.port, 2),
        "nginx": lambda: hp.start_nginx_proxy(procs, upstream.port),
    }
    for name, start in starters.items():
        try:
            paths[name] = start()
        except (OSError, RuntimeError, TimeoutError) as exc:
            paths[name] = f"did not start: {exc}"[:300]
    got: dict[str, Figures | str] = {n: p if isinstance(p, str) else {} for n, p in paths.items()}
    for r in range(repeat):
        for name, path in paths.items():
            fig = got[name]
            if isinstance(path, str) or isinstance(fig, str):
                continue
            print(f"http: {name}, run {r + 1} of {repeat}", file=sys.stderr, flush=True)
            try:
                _measure(procs, path, nbytes, opts, fig)
            except Exception as exc:  # a path that fails mid-way is a row, not a crash
                got[name] = f"failed: {exc!r}"[:300]
    return [*_client_cost(upstream, opts), *rows(got, paths, opts)]


def _warm(upstream: hp.HttpPath, nbytes: int) -> None:
    """One download before any figure: the page cache then holds the (sparse) file, so
    the first path measured does not pay for filling it."""
    hl.download(upstream.url(hp.BIG_PATH), nbytes)


def _measure(procs: Procs, path: hp.HttpPath, nbytes: int, opts: Options, fig: Figures) -> None:
    small = path.url(hp.SMALL_PATH)
    fixed = hl.fixed_rate(small, opts.rate, opts.seconds)
    cpu0 = _cpu_seconds(path)
    sat = hl.saturate(small, opts.concurrency, opts.sat_seconds, opts.sat_requests, procs.dir)
    cpu = (_cpu_seconds(path) - cpu0) / max(1, int(str(sat.extra["complete"]))) * 1e6
    dl = hl.download(path.url(hp.BIG_PATH), nbytes) / MB
    if fixed.errors or sat.errors:
        raise RuntimeError(f"{path.name}: {fixed.errors} fixed-rate and {sat.errors} ab errors")
    path.check_alive()
    values = {
        "rate.p50": fixed.quantile(0.5),
        "rate.p99": fixed.quantile(0.99),
        "rate.rps": fixed.rps,
        "sat.rps": sat.rps,
        "sat.p50": sat.quantile(0.5),
        "sat.p99": sat.quantile(0.99),
        "sat.cpu": cpu,
        "download": dl,
        "lag_max": fixed.lag_max,
    }
    for key, value in values.items():
        fig.setdefault(key, []).append(value)


def _cpu_seconds(path: hp.HttpPath) -> float:
    """User + system CPU seconds of the path's processes and their children (nginx's
    worker is the master's child), from /proc/PID/stat."""
    total = 0.0
    for pid in {pid for p in path.procs for pid in _tree(p.pid)}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def _client_cost(upstream: hp.HttpPath, opts: Options) -> list[Result]:
    """The aiohttp client's p50 at direct minus a raw blocking socket's (sequential)."""
    count = max(200, int(opts.rate * min(opts.seconds, 2.0)))
    raw = hl.raw_sequential(upstream.port, hp.SMALL_PATH, count)
    fixed = hl.fixed_rate(upstream.url(hp.SMALL_PATH), opts.rate, min(opts.seconds, 2.0))
    cost = fixed.quantile(0.5) - raw.quantile(0.5)
    extra = {
        "raw_p50_ms": raw.quantile(0.5),
        "raw_p99_ms": raw.quantile(0.99),
        "aiohttp_p50_ms": fixed.quantile(0.5),
        "aiohttp_p99_ms": fixed.quantile(0.99),
    }
    return [Result("http.client.aiohttp_p50_cost", cost, "ms", higher_is_better=False,
                   samples=[cost], median=cost, extra=extra)]  # fmt: skip


# ------------------------------------------------------------------ rows
def _median(
    name: str, unit: str, higher: bool, samples: list[float], extra: dict[str, object]
) -> Result:
    m = statistics.median(samples)
    return Result(name, m, unit, higher_is_better=higher, samples=list(samples), median=m,
                  extra=extra)  # fmt: skip


UNITS = {"rate.p50": ("ms", False), "rate.p99": ("ms", False), "rate.rps": ("req/s", True),
         "sat.rps": ("req/s", True), "sat.p50": ("ms", False), "sat.p99": ("ms", False),
         "sat.cpu": ("us/req", False), "download": ("MB/s", True)}  # fmt: skip


def rows(
    got: dict[str, Figures | str], paths: dict[str, hp.HttpPath | str], opts: Options
) -> list[Result]:
    out: list[Result] = []
    base: dict[str, Result] = {}
    for name in PATHS:
        fig, path = got[name], paths[name]
        if isinstance(fig, str) or isinstance(path, str) or not fig:
            why = fig if isinstance(fig, str) else str(path)
            out += [skipped(f"http.{name}.{f}", why or "not measured") for f in FIGURES]
            continue
        part = {f: _median(f"http.{name}.{f}", *UNITS[f], fig[f], _extra(f, opts, fig))
                for f in FIGURES}  # fmt: skip
        if name == "direct":
            base = part
        else:
            for f, row in part.items():
                if f not in NO_RATIO:
                    set_ratio(row, base.get(f))
        out += part.values()
        if name != "direct" and "rate.p99" in base:
            out += _targets(name, path.hops, fig, got["direct"], part)
    return out


def _extra(f: str, opts: Options, fig: Figures) -> dict[str, object]:
    if f.startswith("rate."):
        return {"rate": opts.rate, "seconds": opts.seconds, "launch_lag_ms_max": fig["lag_max"]}
    if f.startswith("sat."):
        return {"concurrency": opts.concurrency, "seconds": opts.sat_seconds,
                "requests": opts.sat_requests}  # fmt: skip
    return {}


def _targets(
    name: str, hops: int, fig: Figures, direct: Figures | str, part: dict[str, Result]
) -> list[Result]:
    """p99 overhead per hop and the download's ratio, each per repeat against that
    repeat's direct, then the median (a paired ratio: a burst of load that slowed one
    repeat slowed its direct too); targets for wsnet only (nginx is the reference)."""
    assert not isinstance(direct, str)
    per_hop = [(p - d) / hops for p, d in zip(fig["rate.p99"], direct["rate.p99"], strict=True)]
    row = _median(f"http.{name}.rate.p99_per_hop", "ms", False, per_hop, {"hops": hops})
    dl = part["download"]
    paired = [p / d for p, d in zip(fig["download"], direct["download"], strict=True)]
    dl.ratio_to_baseline = statistics.median(paired)
    dl.extra["ratios"] = paired
    if name.startswith("wsnet"):
        row.target, row.target_met = f"<= {HOP_TARGET_MS:g}", row.value <= HOP_TARGET_MS
        ratio = dl.ratio_to_baseline
        dl.target, dl.target_met = f">= {DOWNLOAD_TARGET:g} of direct", ratio >= DOWNLOAD_TARGET
    return [row]


# ------------------------------------------------------------------ command line
def add_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("http")
    g.add_argument("--http-rate", type=float, default=None,
                   help="fixed request rate, req/s (default 1000, 200 with --quick)")  # fmt: skip
    g.add_argument("--http-seconds", type=float, default=None,
                   help="seconds per fixed-rate run (default 10, 1 with --quick)")  # fmt: skip


def options(p: argparse.ArgumentParser, args: argparse.Namespace) -> Options:
    opts = Options.quick() if args.quick else Options()
    opts.rate = args.http_rate or opts.rate
    opts.seconds = args.http_seconds or opts.seconds
    if not 1 <= opts.rate <= 100_000 or not 0 < opts.seconds <= 600:
        p.error("--http-rate must be in [1, 100000], --http-seconds in (0, 600]")
    return opts
