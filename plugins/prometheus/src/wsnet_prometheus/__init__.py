"""wsnet-prometheus: Prometheus metrics of a wsnet node (docs/observability.md)."""
