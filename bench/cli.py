"""``python -m bench``: run the selected benchmarks, print a table, write JSON."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from . import (
    cli_start,
    codec,
    http_bench,
    l2,
    metrics,
    nodes,
    reqresp,
    streams,
    tcp,
    tunnels,
    websockify,
)
from .procs import NodePair, Procs, start_node_pair, start_tcp_peer
from .results import MB, Result, best_of, set_ratio, skipped, table, write_json

GIB = 1 << 30
QUICK_BYTES = 64 << 20
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"  # ignored by .gitignore
ORDER = ("cli", "codec", "baseline_tcp", "latency", "bulk", "memory", "tunnels", "websockify",
         "streams", "reqresp", "l2", "metrics", "http")  # fmt: skip


@dataclass
class Run:
    """State shared by the benchmarks of one invocation."""

    procs: Procs
    nbytes: int
    repeat: int
    quick: bool
    streams: streams.Options = field(default_factory=streams.Options)
    reqresp: reqresp.Options | None = None
    http: http_bench.Options = field(default_factory=http_bench.Options)
    results: dict[str, Result] = field(default_factory=dict)
    _pair: NodePair | None = None

    def pair(self) -> NodePair:
        """The linked node pair, started on first use and shared by later benchmarks."""
        if self._pair is None:
            self._pair = start_node_pair(self.procs)
        return self._pair

    def add(self, results: list[Result]) -> None:
        for r in results:
            self.results[r.name] = r


def run_cli(run: Run) -> list[Result]:
    return cli_start.run(run.repeat, run.quick)


def run_codec(run: Run) -> list[Result]:
    return codec.run(run.repeat, run.quick)


def run_baseline_tcp(run: Run) -> list[Result]:
    _, port = start_tcp_peer(run.procs, "sink")
    samples = []
    for _ in range(run.repeat):
        confirmed, seconds = tcp.bulk(port, run.nbytes)
        if confirmed != run.nbytes:
            raise RuntimeError(f"TCP sink confirmed {confirmed} of {run.nbytes} bytes")
        samples.append(confirmed / seconds / MB)
    return [best_of("baseline_tcp", "MB/s", samples, extra={"bytes": run.nbytes})]


def run_latency(run: Run) -> list[Result]:
    tcp_count, ws_count = (200, 100) if run.quick else (2000, 1000)
    _, port = start_tcp_peer(run.procs, "echo")
    pair = run.pair()
    tcp_runs: list[dict[str, float]] = []
    replies: list[dict[str, Any]] = []
    # Alternate the two so that a burst of outside load hits both alike.
    for _ in range(run.repeat):
        tcp_runs.append(tcp.summary(tcp.ping_pong(port, tcp_count)))
        replies.append(nodes.ping(pair, ws_count))
    out: list[Result] = []
    for key in ("median_us", "p99_us", "mean_us", "min_us"):
        name = f"latency.tcp.{key.removesuffix('_us')}"
        samples = [r[key] for r in tcp_runs]
        out.append(best_of(name, "us", samples, higher_is_better=False, extra={"n": tcp_count}))
    by_name = {r.name: r for r in out}
    for key, base in (("avg", "mean"), ("min", "min"), ("max", None)):
        samples = [r[f"{key}_ms"] * 1000 for r in replies]
        res = best_of(
            f"latency.wsnet.{key}",
            "us",
            samples,
            higher_is_better=False,
            extra={"n": ws_count, "replies": replies},
        )
        if base:
            set_ratio(res, by_name[f"latency.tcp.{base}"])
        out.append(res)
    return out


def run_bulk(run: Run) -> list[Result]:
    return nodes.bulk(run.pair(), run.nbytes, run.repeat, run.results.get("baseline_tcp"))


def run_memory(run: Run) -> list[Result]:
    return nodes.memory(run.pair(), run.nbytes, 100 if run.quick else 1000)


def run_tunnels(run: Run) -> list[Result]:
    return tunnels.run(run.procs, run.nbytes, run.repeat, run.quick)


def run_websockify(run: Run) -> list[Result]:
    return websockify.run(run.procs, run.nbytes, run.repeat, run.quick)


def run_streams(run: Run) -> list[Result]:
    return streams.run(run.procs, run.streams)


def run_reqresp(run: Run) -> list[Result]:
    return reqresp.run(run.procs, run.repeat, run.quick, run.reqresp)


def run_l2(run: Run) -> list[Result]:
    return l2.run(run.repeat, run.quick)


def run_metrics(run: Run) -> list[Result]:
    return metrics.run(run.procs, run.nbytes, run.repeat)


def run_http(run: Run) -> list[Result]:
    return http_bench.run(run.procs, run.nbytes, run.repeat, run.http)


BENCHMARKS: dict[str, Callable[[Run], list[Result]]] = {
    "cli": run_cli,
    "codec": run_codec,
    "baseline_tcp": run_baseline_tcp,
    "latency": run_latency,
    "bulk": run_bulk,
    "memory": run_memory,
    "tunnels": run_tunnels,
    "websockify": run_websockify,
    "streams": run_streams,
    "reqresp": run_reqresp,
    "l2": run_l2,
    "metrics": run_metrics,
    "http": run_http,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--only",
        default=",".join(ORDER),
        help=f"comma-separated benchmarks to run (default: all of {', '.join(ORDER)})",
    )
    p.add_argument("--bytes", type=int, default=None, help="bulk size in bytes (default 1 GiB)")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is shown")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    add_streams_args(p)
    p.add_argument(
        "--rr-seconds",
        type=float,
        default=None,
        help="reqresp: length of each paced and saturation run (default 10, 0.2 with --quick)",
    )
    http_bench.add_args(p)
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown or not names:
        p.error(f"--only: unknown benchmark(s) {unknown}; choose from {', '.join(ORDER)}")
    args.only = [n for n in ORDER if n in names]  # fixed order: baseline before ratios
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.bytes is None:
        args.bytes = QUICK_BYTES if args.quick else GIB
    if args.bytes < 1:
        p.error("--bytes must be positive")
    args.streams = streams_options(p, args)
    if args.rr_seconds is not None and not 0 < args.rr_seconds <= 600:
        p.error("--rr-seconds must be in (0, 600]")
    args.http = http_bench.options(p, args)
    return args


def add_streams_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("streams")
    g.add_argument(
        "--stream-counts",
        default=",".join(map(str, streams.COUNTS)),
        help="concurrent streams per run, comma-separated (default %(default)s)",
    )
    g.add_argument(
        "--stream-seconds",
        type=float,
        default=None,
        help="measured time per run (default 5, 2 with --quick)",
    )
    g.add_argument(
        "--rss-cap-mib",
        type=int,
        default=streams.Options.rss_cap_mib,
        help="stop a run when the sending hop's RSS passes this (default %(default)s)",
    )
    g.add_argument(
        "--stream-sockbuf",
        type=int,
        default=streams.Options.sockbuf,
        help="SO_SNDBUF/SO_RCVBUF of the driver's and the sink's sockets, 0 for the kernel's"
        " auto-tuning (default %(default)s; see bench/streams_peer.py for why)",
    )


def streams_options(p: argparse.ArgumentParser, args: argparse.Namespace) -> streams.Options:
    try:
        counts = tuple(int(c) for c in args.stream_counts.split(",") if c.strip())
    except ValueError:
        p.error(f"--stream-counts: not a list of integers: {args.stream_counts!r}")
    if not counts or min(counts) < 1 or max(counts) > 5000:
        p.error("--stream-counts: each count must be 1..5000")
    seconds = args.stream_seconds or (2.0 if args.quick else 5.0)
    if not 0 < seconds <= 600 or args.rss_cap_mib < 64 or args.stream_sockbuf < 0:
        p.error("--stream-seconds must be in (0, 600], --rss-cap-mib >= 64, --stream-sockbuf >= 0")
    omit = min(0.5, seconds / 4)  # warm-up before the measured window
    return streams.Options(counts, seconds, omit, args.rss_cap_mib, args.stream_sockbuf)


def reqresp_options(args: argparse.Namespace) -> reqresp.Options | None:
    if args.rr_seconds is None:
        return None  # the group's defaults (quick or not)
    base = reqresp.Options(bulk=8 << 20) if args.quick else reqresp.Options()
    base.seconds = args.rr_seconds
    return base


def _on_sigterm(procs: Procs) -> Callable[[int, FrameType | None], None]:
    """A SIGTERM handler that kills every child and exits 143.

    Raising SystemExit from the handler is not enough: when the signal lands while
    uvloop runs a transport callback, uvloop logs the exception and carries on, and the
    run (with its children) outlives the SIGTERM.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        procs.close()
        os._exit(128 + signum)

    return handler


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    failed = False
    with Procs() as procs:
        signal.signal(signal.SIGTERM, _on_sigterm(procs))
        run = Run(procs, args.bytes, args.repeat, args.quick, args.streams,
                  reqresp_options(args), args.http)  # fmt: skip
        for name in args.only:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            try:
                run.add(BENCHMARKS[name](run))
            except Exception as exc:
                failed = True
                traceback.print_exc()
                run.add([skipped(name, f"failed: {type(exc).__name__}: {exc}")])
    results = list(run.results.values())
    print(table(results))
    options = {"only": args.only, "bytes": args.bytes, "quick": args.quick, "repeat": args.repeat,
               "streams": asdict(args.streams), "http": asdict(args.http)}  # fmt: skip
    write_json(args.out, results, options)
    print(f"\nwritten: {args.out}", file=sys.stderr)
    return 1 if failed else 0
