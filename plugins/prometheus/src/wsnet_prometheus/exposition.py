"""The Prometheus side: a custom collector over ``node.metrics()`` and its exposition.

Nothing is counted here.  Each scrape asks the node for the metrics of the core and of
every plugin (``wsnet_collect_metrics``), which read the counters they keep anyway, and
turns them into prometheus-client metric families.  Between scrapes this costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric as Family
from prometheus_client.process_collector import ProcessCollector

from wsnet import Metric, NodeAPI

log = logging.getLogger("wsnet.prometheus")

# The labels each cardinality switch removes (docs/observability.md, "Cardinality").
LINK_LABELS = frozenset({"peer", "url"})
TUNNEL_LABELS = frozenset({"tunnel"})
KINDS = ("counter", "gauge", "histogram")
PORT_LABELS = frozenset({"port"})


@dataclass(frozen=True, slots=True)
class Settings:
    listen: str = ""  # HOST:PORT of a listener of its own; "" serves on the control API
    path: str = "/metrics"
    per_link: bool = True
    per_tunnel: bool = True
    per_port: bool = True
    process: bool = True

    @property
    def dropped(self) -> frozenset[str]:
        return (
            (frozenset() if self.per_link else LINK_LABELS)
            | (frozenset() if self.per_tunnel else TUNNEL_LABELS)
            | (frozenset() if self.per_port else PORT_LABELS)
        )


class NodeCollector:
    """A prometheus-client collector that reads one node's metrics when scraped."""

    def __init__(self, node: NodeAPI, dropped: frozenset[str]) -> None:
        self.node = node
        self.dropped = dropped
        self._warned: set[str] = set()  # one warning per bad name, not one per scrape
        self._monotonic: dict[str, Monotonic] = {}  # by counter name, for merged labels

    def describe(self) -> Iterable[Family]:
        return ()  # nothing read at registration: the node may not run yet

    def collect(self) -> Iterator[Family]:
        seen: set[str] = set()
        for metric in self.node.metrics():
            if metric.name in seen or metric.type not in KINDS:
                if metric.name not in self._warned:
                    self._warned.add(metric.name)
                    log.warning("metric %s: a duplicate name or an unknown type %r: left out",
                                metric.name, metric.type)  # fmt: skip
                continue
            seen.add(metric.name)
            monotonic = self._monotonic.setdefault(metric.name, Monotonic())
            yield family(metric, self.dropped, monotonic if metric.type != "gauge" else None)


# A sample as numbers: (value,) for a counter or gauge; (count, per-bucket counts..., sum)
# for a histogram.  Members: {all labels: (labels kept, vector)} of one scrape.
Vector = tuple[float, ...]
Members = dict[tuple[str, ...], tuple[tuple[str, ...], Vector]]


class Monotonic:
    """Keeps a counter (or histogram) summed over members that come and go (links,
    ports) from going down: what a member had counted when last scraped stays in the sum
    after it ends or restarts from zero.  Memory: one vector per member present now, one
    per summed series."""

    def __init__(self) -> None:
        self.last: Members = {}
        self.retired: dict[tuple[str, ...], Vector] = {}

    def update(self, members: Members) -> None:
        for full, (key, old) in self.last.items():
            now = members.get(full)
            if now is None or now[1][0] < old[0]:  # gone, or a new member under its labels
                self.retired[key] = _add(self.retired.get(key), old)
        self.last = members


def _add(a: Vector | None, b: Vector) -> Vector:
    return b if a is None else tuple(x + y for x, y in zip(a, b, strict=True))


def _vectors(metric: Metric) -> list[tuple[tuple[str, ...], Vector]]:
    if metric.type == "histogram":
        return [(labels, (float(sum(counts)), *map(float, counts), total))
                for labels, counts, total in metric.histograms]  # fmt: skip
    return [(labels, (value,)) for labels, value in metric.samples]


def merged(
    metric: Metric, keep: list[int], monotonic: Monotonic | None
) -> dict[tuple[str, ...], Vector]:
    """The samples of ``metric`` by the labels at ``keep``: summed (or the max), and kept
    monotonic by ``monotonic`` where labels were merged away."""
    merging = len(keep) < len(metric.labels)
    values: dict[tuple[str, ...], Vector] = {}
    members: Members = {}
    for labels, vec in _vectors(metric):
        key = tuple(labels[i] for i in keep)
        if merging:  # two links may share their labels: their sum is the member
            members[labels] = (key, _add(members.get(labels, (key, None))[1], vec))
        old = values.get(key)
        values[key] = (max(old[0], vec[0]),) if old and metric.merge == "max" else _add(old, vec)
    if merging and monotonic is not None:
        monotonic.update(members)
        for key, extra in monotonic.retired.items():
            values[key] = _add(values.get(key), extra)
    return values


def family(metric: Metric, dropped: frozenset[str], monotonic: Monotonic | None = None) -> Family:
    """``metric`` as a prometheus-client family, the ``dropped`` labels merged away (a
    counter's or histogram's sum kept monotonic by ``monotonic``)."""
    keep = [i for i, label in enumerate(metric.labels) if label not in dropped]
    values = merged(metric, keep, monotonic)
    names = [metric.labels[i] for i in keep]
    if metric.type == "histogram":
        hist = HistogramMetricFamily(metric.name, metric.help, labels=names)
        for key, vec in sorted(values.items()):
            running = list(accumulate(vec[1:-1]))
            les = [*(repr(float(b)) for b in metric.buckets), "+Inf"]
            hist.add_metric(list(key), list(zip(les, running, strict=True)), vec[-1])
        return hist
    cls = CounterMetricFamily if metric.type == "counter" else GaugeMetricFamily
    fam: Family = cls(metric.name, metric.help, labels=names)
    for key, vec in sorted(values.items()):
        fam.add_metric(list(key), vec[0])  # type: ignore[attr-defined]
    return fam


def make_registry(node: NodeAPI, settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(NodeCollector(node, settings.dropped))
    if settings.process:
        ProcessCollector(registry=registry)  # process_cpu_seconds_total, open fds, memory
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition (format 0.0.4), built on the event loop: the collector reads
    the node's state where it lives, with no lock and no thread."""
    return generate_latest(registry)
