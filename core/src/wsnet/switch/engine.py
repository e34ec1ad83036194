"""Forwarding: the learning-switch decision for each frame, no I/O of its own.

Rules (docs/l2.md): learn the source MAC on the ingress port; broadcast,
multicast and unknown unicast are flooded; a frame never leaves by the port it
came in on; a known destination on the ingress port is filtered.  Split
horizon: unless ``forward_between_links`` is set (the hub of a star), a frame
that came from a link is flooded only to local ports, never to another link,
so that any full mesh of nodes is loop-free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .fdb import DEFAULT_AGEING, Fdb, format_mac

ETH_HEADER = 14
Sender = Callable[[memoryview], bool]


class SwitchPort:
    """One port of the switch: a plugin port (tap, netdev, ...) or a link to a node."""

    __slots__ = (
        "drops",
        "is_link",
        "kind",
        "name",
        "rx_bytes",
        "rx_frames",
        "send",
        "tx_bytes",
        "tx_frames",
    )

    def __init__(self, name: str, kind: str, send: Sender, *, is_link: bool = False) -> None:
        self.name = name
        self.kind = kind
        self.send = send  # egress; returns False when the frame was dropped
        self.is_link = is_link
        self.rx_frames = self.rx_bytes = self.tx_frames = self.tx_bytes = self.drops = 0

    def output(self, frame: memoryview) -> None:
        if self.send(frame):
            self.tx_frames += 1
            self.tx_bytes += len(frame)
        else:
            self.drops += 1

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "rx_frames": self.rx_frames,
            "rx_bytes": self.rx_bytes,
            "tx_frames": self.tx_frames,
            "tx_bytes": self.tx_bytes,
            "drops": self.drops,
        }


class Switch:
    def __init__(
        self,
        *,
        ageing: float = DEFAULT_AGEING,
        forward_between_links: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fdb: Fdb[SwitchPort] = Fdb(ageing, clock=clock)
        self.forward_between_links = forward_between_links
        self.ports: dict[str, SwitchPort] = {}
        self.runts = 0  # frames shorter than an Ethernet header
        self.bad_source = 0  # frames with a multicast source MAC

    def add(self, port: SwitchPort) -> None:
        if port.name in self.ports:
            raise ValueError(f"port {port.name!r} already exists")
        self.ports[port.name] = port

    def remove(self, name: str) -> SwitchPort | None:
        port = self.ports.pop(name, None)
        if port is not None:
            self.fdb.remove_port(port)
        return port

    def ingress(self, port: SwitchPort, frame: memoryview) -> None:
        """Forward one frame received on ``port``.  Called per packet: keep it lean."""
        if len(frame) < ETH_HEADER:
            self.runts += 1
            port.drops += 1
            return
        port.rx_frames += 1
        port.rx_bytes += len(frame)
        src = bytes(frame[6:12])
        if src[0] & 1:
            self.bad_source += 1
            port.drops += 1
            return
        self.fdb.learn(src, port)
        if not frame[0] & 1:
            out = self.fdb.lookup(bytes(frame[0:6]))
            if out is not None:
                if out is not port and out.name in self.ports:
                    out.output(frame)
                return
        self._flood(port, frame)

    def _flood(self, ingress: SwitchPort, frame: memoryview) -> None:
        from_link = ingress.is_link and not self.forward_between_links
        for port in list(self.ports.values()):
            if port is ingress or (from_link and port.is_link):
                continue
            port.output(frame)

    def fdb_info(self) -> list[dict[str, Any]]:
        return [
            {"mac": format_mac(e.mac), "port": e.port.name, "age": round(e.age, 1)}
            for e in sorted(self.fdb.entries(), key=lambda e: (e.port.name, e.mac))
        ]
