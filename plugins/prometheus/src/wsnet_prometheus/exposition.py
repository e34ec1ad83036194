"""The Prometheus side: a custom collector over ``node.metrics()`` and its exposition.

Nothing is counted here.  Each scrape asks the node for the metrics of the core and of
every plugin (``wsnet_collect_metrics``), which read the counters they keep anyway, and
turns them into prometheus-client metric families.  Between scrapes this costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric as Family
from prometheus_client.process_collector import ProcessCollector

from wsnet import Metric, NodeAPI

log = logging.getLogger("wsnet.prometheus")

# The labels each cardinality switch removes (docs/observability.md, "Cardinality").
LINK_LABELS = frozenset({"peer", "url"})
TUNNEL_LABELS = frozenset({"tunnel"})
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

    def describe(self) -> Iterable[Family]:
        return ()  # nothing read at registration: the node may not run yet

    def collect(self) -> Iterator[Family]:
        seen: set[str] = set()
        for metric in self.node.metrics():
            if metric.name in seen or metric.type not in ("counter", "gauge"):
                if metric.name not in self._warned:
                    self._warned.add(metric.name)
                    log.warning("metric %s: a duplicate name or an unknown type %r: left out",
                                metric.name, metric.type)  # fmt: skip
                continue
            seen.add(metric.name)
            yield family(metric, self.dropped)


def family(metric: Metric, dropped: frozenset[str]) -> Family:
    """``metric`` as a prometheus-client family, the ``dropped`` labels merged away."""
    keep = [i for i, label in enumerate(metric.labels) if label not in dropped]
    values: dict[tuple[str, ...], float] = {}
    for labels, value in metric.samples:
        key = tuple(labels[i] for i in keep)
        if key not in values:
            values[key] = value
        elif metric.merge == "max":
            values[key] = max(values[key], value)
        else:
            values[key] += value
    names = [metric.labels[i] for i in keep]
    cls = CounterMetricFamily if metric.type == "counter" else GaugeMetricFamily
    fam: Family = cls(metric.name, metric.help, labels=names)
    for key, value in sorted(values.items()):
        fam.add_metric(list(key), value)  # type: ignore[attr-defined]
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
