"""Per-route counters of the entry node (``httproutes``) and the error event."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from wsnet import NodeEvent

LATENCY_SAMPLES = 1024  # the most recent requests p50/p99 are computed over


@dataclass(frozen=True, slots=True)
class HttpProxyError(NodeEvent):
    """A request the proxy answered with an error of its own (4xx/5xx), on the node that
    answered it (entry) or found it (exit)."""

    kind: ClassVar[str] = "http.error"
    route: str
    node: str  # the exit node
    status: int
    reason: str


@dataclass(slots=True)
class RouteStats:
    requests: int = 0
    active: int = 0
    classes: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("1xx", "2xx", "3xx", "4xx", "5xx"), 0)
    )
    bytes_in: int = 0  # request bodies from clients
    bytes_out: int = 0  # response bodies to clients
    errors: int = 0  # answers the proxy made itself (no route, denied, 413, 502, 504)
    error_kinds: dict[int, int] = field(default_factory=dict)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))

    def finished(self, status: int, seconds: float, *, own_error: bool) -> None:
        self.requests += 1
        cls = f"{min(max(status // 100, 1), 5)}xx"
        self.classes[cls] += 1
        self.latencies.append(seconds)
        if own_error:
            self.errors += 1
            self.error_kinds[status] = self.error_kinds.get(status, 0) + 1

    def percentile(self, q: float) -> float:
        """Milliseconds; nearest rank over the recent samples, 0 with none."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
        return round(ordered[rank] * 1000, 3)

    def row(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "active": self.active,
            **self.classes,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "errors": self.errors,
            "error_status": {str(k): v for k, v in sorted(self.error_kinds.items())},
            "p50_ms": self.percentile(0.50),
            "p99_ms": self.percentile(0.99),
        }
