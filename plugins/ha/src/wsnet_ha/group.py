"""Which member of an HA group is active: a pure state machine, no I/O.

Members are listed in priority order (the first is preferred).  The active member
changes only for a reason a person can read afterwards:
- ``start``: there was no active member and one became reachable;
- ``failover``: the active member became unreachable (its link missed the keepalive
  deadline or closed); the next reachable member by priority takes over;
- ``preempt``: with ``preempt``, a higher-priority member is reachable again;
- ``promotion``: with ``promote_on_activity``, a connection came in through a
  standby member (tcp-over-websocket's rule), or an operator asked for it.
Anything else (a standby member coming or going) changes nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GroupConfig:
    name: str
    members: tuple[str, ...]
    preempt: bool = False
    promote_on_activity: bool = False
    standby_close: float = 0.0  # seconds a demoted member keeps its listeners closed
    # Services whose channels, opened by a member, count as activity through it
    # (promote_on_activity); any service of any plugin may be named.
    activity: tuple[str, ...] = ("tcp",)


@dataclass(frozen=True, slots=True)
class Change:
    active: str  # "" when no member is reachable
    previous: str
    cause: str
    reason: str


@dataclass
class GroupState:
    config: GroupConfig
    active: str = ""
    since: float = field(default_factory=time.time)
    changes: int = 0
    last: Change | None = None
    causes: Counter[str] = field(default_factory=Counter)  # changes by cause (metrics)

    def update(self, reachable: Collection[str]) -> Change | None:
        """Reachability changed: keep, fail over, start or preempt."""
        up = [m for m in self.config.members if m in reachable]
        cur = self.active
        if cur and cur not in reachable:
            nxt = up[0] if up else ""
            why = f"link to {cur} lost" + (f"; {nxt} takes over" if nxt else "; no member left")
            return self._switch(nxt, "failover", why)
        if not cur:
            return self._switch(up[0], "start", f"{up[0]} reachable") if up else None
        if self.config.preempt and up and up[0] != cur:
            return self._switch(up[0], "preempt", f"{up[0]} has a higher priority than {cur}")
        return None

    def activity(self, member: str, reachable: Collection[str]) -> Change | None:
        """A connection arrived through ``member``: promote it if the group says so."""
        if not self.config.promote_on_activity or member == self.active:
            return None
        if member not in self.config.members or member not in reachable:
            return None
        return self._switch(member, "promotion", f"connection through standby {member}")

    def promote(self, member: str, reachable: Collection[str]) -> Change:
        """An operator's switchover; ValueError when ``member`` cannot be active."""
        if member not in self.config.members:
            raise ValueError(f"{member!r} is not a member of {self.config.name!r}")
        if member not in reachable:
            raise ValueError(f"member {member!r} is not reachable")
        if member == self.active:
            raise ValueError(f"{member!r} is already active")
        return self._switch(member, "promotion", f"{member} promoted by an operator")

    def role(self, member: str) -> str:
        return "active" if member == self.active else "standby"

    def _switch(self, new: str, cause: str, reason: str) -> Change:
        change = Change(new, self.active, cause, reason)
        self.active = new
        self.since = time.time()
        self.changes += 1
        self.causes[cause] += 1
        self.last = change
        return change
