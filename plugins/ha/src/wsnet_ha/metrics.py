"""The HA groups' metrics (wsnet_collect_metrics), read from the hub's state at scrape time."""

from __future__ import annotations

from wsnet import Metric

from .hub import Hub

CAUSES = ("start", "failover", "promotion", "preempt")  # group.py: every cause, 0 included


def ha_metrics(hub: Hub) -> list[Metric]:
    active: list[tuple[tuple[str, ...], float]] = []
    up: list[tuple[tuple[str, ...], float]] = []
    changes: list[tuple[tuple[str, ...], float]] = []
    for state in hub.groups.values():
        group = state.config.name
        for member in state.config.members:
            active.append(((group, member), 1.0 if member == state.active else 0.0))
            up.append(((group, member), 1.0 if member in hub.reachable else 0.0))
        changes += [((group, cause), float(state.causes[cause])) for cause in CAUSES]
    labels = ("group", "member")
    return [
        Metric("wsnet_ha_active", "gauge", "1 for the active member of each group.",
               labels, tuple(active)),
        Metric("wsnet_ha_member_up", "gauge", "1 when the hub has a route to the member.",
               labels, tuple(up)),
        Metric("wsnet_ha_changes_total", "counter",
               "Changes of the active member, by cause (start, failover, promotion, preempt).",
               ("group", "cause"), tuple(changes)),
    ]  # fmt: skip
