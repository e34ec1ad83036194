"""The node that runs HA groups: tracks members, picks the active one, tells them.

Reachability comes from the routing table (``RoutesChanged``), so a member is lost
when its link misses the keepalive deadline, also when it sits behind a relay.
Activity comes from ``ChannelOpened`` events of the group's ``activity`` services (by
default tcp) opened by a member.
Members hear their role through a short channel to their ``ha`` service; a member
without wsnet-ha refuses it and simply does not learn its role.
"""

from __future__ import annotations

import logging
from typing import Any

from wsnet import (
    ChannelOpened,
    ChannelRefused,
    Component,
    NodeAPI,
    NodeEvent,
    Observer,
    ResolveChanged,
    RoutesChanged,
)

from .events import HaActiveChanged
from .group import Change, GroupConfig, GroupState

log = logging.getLogger("wsnet.ha")


class Hub(Component, Observer):
    def __init__(self, node: NodeAPI, groups: tuple[GroupConfig, ...]) -> None:
        self.node = node
        self.groups = {g.name: GroupState(g) for g in groups}
        self._reachable: set[str] = set()

    async def start(self) -> None:
        self._on_routes(set(self.node.reachable_nodes()))

    # ------------------------------------------------------------- observer
    def notify(self, event: NodeEvent) -> None:
        if isinstance(event, RoutesChanged):
            self._on_routes(set(event.reachable))
        elif isinstance(event, ChannelOpened):
            for state in self.groups.values():
                if event.service not in state.config.activity:
                    continue
                if (change := state.activity(event.origin, self._reachable)) is not None:
                    self._apply(state, change)

    def _on_routes(self, reachable: set[str]) -> None:
        returned = reachable - self._reachable
        self._reachable = reachable
        for state in self.groups.values():
            change = state.update(reachable)
            if change is not None:
                self._apply(state, change)
            # A member that (re)appeared learns its role, active or not.
            for member in state.config.members:
                if member in returned and (change is None or member != change.active):
                    self._tell(state, member, 0.0)

    # ----------------------------------------------------------------- apply
    def promote(self, group: str, member: str) -> Change:
        state = self.groups[group]
        change = state.promote(member, self._reachable)
        self._apply(state, change)
        return change

    def _apply(self, state: GroupState, change: Change) -> None:
        name = state.config.name
        level = logging.WARNING if change.cause == "failover" else logging.INFO
        log.log(level, "ha %s: %s: active %s (was %s): %s", name, change.cause,
                change.active or "none", change.previous or "none", change.reason)  # fmt: skip
        self.node.emit(HaActiveChanged(name, change.active, change.previous, change.cause,
                                       change.reason))  # fmt: skip
        why = f"ha {name}: {change.cause}: {change.reason}"
        self.node.emit(ResolveChanged(name, change.active, change.previous, why))
        if change.active:
            self._tell(state, change.active, 0.0)
        if change.previous and change.previous in self._reachable:
            self._tell(state, change.previous, state.config.standby_close)

    def _tell(self, state: GroupState, member: str, close_for: float) -> None:
        args = {
            "group": state.config.name,
            "role": state.role(member),
            "close_listeners": close_for,
        }
        self.node.spawn(self._send(member, args), name=f"ha-tell-{member}")

    async def _send(self, member: str, args: dict[str, Any]) -> None:
        try:
            ch = await self.node.open_stream(member, "ha", args=args)
        except ChannelRefused as exc:
            log.debug("ha: cannot tell %s its role: %s", member, exc.reason)
            return
        ch.write_eof()
        await ch.read()  # the member ends the channel once it took the notice
        ch.close()

    # ------------------------------------------------------------------ info
    @property
    def reachable(self) -> frozenset[str]:
        return frozenset(self._reachable)

    def resolve(self, name: str) -> str | None:
        state = self.groups.get(name)
        return None if state is None else state.active or None

    def info(self) -> list[dict[str, Any]]:
        rows = []
        for state in self.groups.values():
            last = state.last
            for prio, member in enumerate(state.config.members, 1):
                up = member in self._reachable
                rows.append({
                    "group": state.config.name, "member": member, "priority": prio,
                    "state": state.role(member) if up else "down",
                    "active": state.active, "changes": state.changes,
                    "last_cause": last.cause if last else "",
                    "last_reason": last.reason if last else "",
                })  # fmt: skip
        return rows
