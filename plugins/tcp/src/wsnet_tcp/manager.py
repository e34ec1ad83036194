"""The tunnels of one node: settings, listen tunnels, connect specs, counters.

It is the plugin's component (started after the node, closed before it) and its
observer: route changes and HA events make every listener look again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from wsnet import (
    Allowlist,
    ChannelRefused,
    Component,
    ListenersSuspended,
    NodeAPI,
    NodeEvent,
    Observer,
    ResolveChanged,
    RoutesChanged,
    WsnetError,
)

from .listener import ListenTunnel
from .spec import TunnelSpec
from .stats import Counters

# Ad-hoc target names with counters of their own; later names share OTHER_TARGETS.
MAX_TARGET_NAMES = 64
OTHER_TARGETS = "other"
log = logging.getLogger("wsnet.tcp")


@dataclass(frozen=True, slots=True)
class Settings:
    pending_timeout: float = 0.0  # seconds a connection waits for an unreachable peer
    connect_timeout: float = 10.0  # seconds the connect side tries its target
    targets: Allowlist = field(default_factory=Allowlist)  # what peers may name ad hoc
    tunnels: tuple[TunnelSpec, ...] = field(default_factory=tuple)


class Manager(Component, Observer):
    def __init__(self, node: NodeAPI, settings: Settings) -> None:
        self.node = node
        self.settings = settings
        self.listeners: dict[str, ListenTunnel] = {}
        self.connects: dict[str, TunnelSpec] = {}
        self.connect_counters: dict[tuple[str, str], Counters] = {}
        self._routes = asyncio.Event()
        self._started = False
        for spec in settings.tunnels:
            self.add(spec)

    # ------------------------------------------------------------- component
    async def start(self) -> None:
        self._started = True
        for lt in self.listeners.values():
            lt.start()

    async def aclose(self) -> None:
        self._started = False
        for lt in list(self.listeners.values()):
            await lt.aclose()

    # ------------------------------------------------------------- observer
    def notify(self, event: NodeEvent) -> None:
        if isinstance(event, RoutesChanged | ResolveChanged):
            self._routes.set()
            self._routes = asyncio.Event()
            for lt in self.listeners.values():
                lt.refresh()
        elif isinstance(event, ListenersSuspended) and event.seconds > 0:
            for lt in self.listeners.values():
                if lt.spec.peer == event.node or self._resolved(lt.spec.peer) == event.node:
                    log.info("tcp tunnel %s: listener closed for %gs: %s",
                             lt.spec.name, event.seconds, event.reason)  # fmt: skip
                    lt.suspend(event.seconds)

    # --------------------------------------------------------------- tunnels
    def add(self, spec: TunnelSpec) -> None:
        if spec.role == "connect":
            if spec.name in self.connects:
                raise WsnetError(f"tunnel {spec.name!r} already has a connect side here")
            self.connects[spec.name] = spec
            self.connect_counters[spec.key] = Counters()
            return
        if spec.name in self.listeners:
            raise WsnetError(f"tunnel {spec.name!r} already has a listen side here")
        clash = [t for t in self.listeners.values() if t.spec.address == spec.address]
        if clash:
            raise WsnetError(f"{spec.address} is already the listener of {clash[0].spec.name!r}")
        lt = ListenTunnel(spec, self)
        self.listeners[spec.name] = lt
        if self._started:
            lt.start()

    async def remove(self, name: str, role: str = "", reset: bool = False) -> list[str]:
        removed = []
        if role in ("", "listen") and (lt := self.listeners.pop(name, None)) is not None:
            await lt.aclose(reset=reset)
            removed.append("listen")
        if role in ("", "connect") and self.connects.pop(name, None) is not None:
            removed.append("connect")
        return removed

    def counters_for(self, name: str, role: str) -> Counters:
        """The counters of ``name``: an ad-hoc target's name is the peer's choice, so only
        the first MAX_TARGET_NAMES keep their own (rows, metric series, memory)."""
        key = (name, role)
        if key not in self.connect_counters and role == "target":
            targets = sum(1 for _, r in self.connect_counters if r == "target")
            if targets >= MAX_TARGET_NAMES:
                key = (OTHER_TARGETS, role)
        return self.connect_counters.setdefault(key, Counters())

    # ------------------------------------------------------------------ peers
    def peer_reachable(self, peer: str) -> bool:
        # A resolver that fails (a plugin's bug) counts as reachable: the listener stays up
        # and each connection's open fails with the reason naming that plugin (wait_peer),
        # which `wsnet tcp list` shows as last_error; an unbound listener would say less.
        target = self._resolved(peer)
        return target is None or self.node.reachable(target)

    def _resolved(self, peer: str) -> str | None:
        """The node ``peer`` resolves to; None when a plugin's resolver failed (logged)."""
        try:
            return self.node.resolve(peer)
        except ChannelRefused:
            return None

    async def wait_peer(self, peer: str) -> str | None:
        """The node to open the channel to, waiting up to pending_timeout for one."""
        deadline = time.monotonic() + self.settings.pending_timeout
        while True:
            target = self.node.resolve(peer)
            if self.node.reachable(target):
                return target
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._routes.wait(), left)

    # ------------------------------------------------------------------ info
    def counters(self) -> list[tuple[str, str, Counters]]:
        """(tunnel, role, counters) of every side here, listen sides first."""
        sides = [(lt.spec.name, lt.spec.role, lt.counters) for lt in self.listeners.values()]
        return sides + [(name, role, c) for (name, role), c in self.connect_counters.items()]

    def info(self) -> list[dict[str, Any]]:
        rows = [lt.info() for lt in self.listeners.values()]
        for spec in self.connects.values():
            snap = self.connect_counters[spec.key].snapshot()
            rows.append({**spec.describe(), "state": "ready", **snap})
        for (name, role), counters in self.connect_counters.items():
            if role == "target":
                rows.append({"name": name, "role": "target", "address": "(ad hoc)", "peer": "",
                             "target": "", "state": "", **counters.snapshot()})  # fmt: skip
        return sorted(rows, key=lambda r: (r["name"], r["role"]))
