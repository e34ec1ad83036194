"""wsnet-ha's own events (plugin events are NodeEvent subclasses like the core's).

The generic events the rest of the node acts on are the core's: the hub emits
``ResolveChanged`` when a group's active member changes, a member emits
``ListenersSuspended`` when told to close its listeners; these say what happened in HA
terms, for logs and observers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from wsnet import NodeEvent


@dataclass(frozen=True, slots=True)
class HaActiveChanged(NodeEvent):
    """On the node that runs an HA group: another member (or none) is now active.

    ``cause`` is "start", "failover" (the active member was lost), "promotion"
    (activity on a standby member) or "preempt" (a higher-priority member returned).
    """

    kind: ClassVar[str] = "ha.active"
    group: str
    active: str  # "" when no member is reachable
    previous: str
    cause: str
    reason: str


@dataclass(frozen=True, slots=True)
class HaRoleChanged(NodeEvent):
    """On a member node: the group's node told it its role.

    ``close_listeners`` > 0 asks the member to close its listeners that lead to
    ``hub`` for that many seconds (tcp-over-websocket's standby socket close).
    """

    kind: ClassVar[str] = "ha.role"
    group: str
    hub: str
    role: str  # "active" or "standby"
    close_listeners: float
