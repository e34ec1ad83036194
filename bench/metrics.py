"""``metrics``: does scraping /metrics slow the data path?  A bulk transfer between two
nodes running wsnet-prometheus, alone and while both nodes are scraped every 0.1 s (150
times Prometheus's default rate), reported as a ratio of the two, measured alternately in
one run so that outside load hits both alike."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any

from .nodes import speedtest
from .procs import Node, NodePair, Procs, start_node_pair
from .results import MB, Result, best_of, set_ratio

SCRAPE_EVERY = 0.1  # seconds


class Scraper:
    """GET /metrics of ``nodes`` every SCRAPE_EVERY seconds in a thread until stopped."""

    def __init__(self, nodes: list[Node]) -> None:
        self.urls = [n.ctlurl.removesuffix("/rpc") + "/metrics" for n in nodes]
        self.stop = threading.Event()
        self.count = 0
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(SCRAPE_EVERY):
            for url in self.urls:
                t0 = time.perf_counter()
                with urllib.request.urlopen(url, timeout=10) as resp:
                    resp.read()
                self.seconds += time.perf_counter() - t0
                self.count += 1

    def __enter__(self) -> Scraper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def run(procs: Procs, nbytes: int, repeat: int) -> list[Result]:
    pair: NodePair = start_node_pair(procs, plugins="prometheus", tag="-metrics")
    plain: list[float] = []
    scraped: list[float] = []
    scrapes: list[dict[str, Any]] = []
    for _ in range(repeat):
        reply = speedtest(pair, "b", nbytes)
        plain.append(reply["bytes"] / reply["seconds"] / MB)
        with Scraper([pair.a, pair.b]) as scraper:
            reply = speedtest(pair, "b", nbytes)
        scraped.append(reply["bytes"] / reply["seconds"] / MB)
        mean_ms = 1000 * scraper.seconds / scraper.count if scraper.count else 0.0
        scrapes.append({"scrapes": scraper.count, "mean_scrape_ms": round(mean_ms, 2)})
    base = best_of("metrics.bulk.no_scrape", "MB/s", plain, extra={"bytes": nbytes})
    res = best_of("metrics.bulk.scrape_0.1s", "MB/s", scraped,
                  extra={"bytes": nbytes, "scrapes": scrapes})  # fmt: skip
    set_ratio(res, base)
    return [base, res]
