"""The tunnels' metrics (wsnet_collect_metrics): read from the per-tunnel counters at
scrape time (stats.Counters, kept per connection, never per packet)."""

from __future__ import annotations

from wsnet import Metric

from .manager import Manager

LABELS = ("tunnel", "role")


def tunnel_metrics(manager: Manager) -> list[Metric]:
    rows = manager.info()

    def col(key: str) -> tuple[tuple[tuple[str, ...], float], ...]:
        return tuple(((r["name"], r["role"]), float(r[key])) for r in rows)

    def metric(name: str, kind: str, help_: str, key: str) -> Metric:
        return Metric(name, kind, help_, LABELS, col(key))

    spec: list[tuple[str, str, str, str]] = [
        ("wsnet_tcp_connections_active", "gauge", "TCP connections being carried.", "active"),
        ("wsnet_tcp_connections_total", "counter", "TCP connections accepted or made.", "total"),
        ("wsnet_tcp_receive_bytes_total", "counter",
         "Bytes from the link written to TCP connections.", "bytes_in"),
        ("wsnet_tcp_transmit_bytes_total", "counter",
         "Bytes read from TCP connections sent over the link.", "bytes_out"),
    ]  # fmt: skip
    errors = tuple(((name, role, reason), float(n)) for name, role, counters
                   in manager.counters() for reason, n in counters.reasons.items())  # fmt: skip
    return [
        *(metric(*entry) for entry in spec),
        Metric("wsnet_tcp_errors_total", "counter",
               "Connections that ended with an error, by reason (listener_full, unreachable, "
               "refused, connect_failed, reset).", (*LABELS, "reason"), errors),
    ]  # fmt: skip
