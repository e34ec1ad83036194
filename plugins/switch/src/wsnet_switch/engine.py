"""Forwarding: the learning-switch decision for each frame, no I/O of its own.

Rules (docs/l2.md): learn the source MAC on the ingress port; broadcast,
multicast and unknown unicast are flooded; a frame never leaves by the port it
came in on; a known destination on the ingress port is filtered.  Split
horizon: unless ``forward_between_links`` is set (the hub of a star), a frame
that came from a link is flooded only to local ports, never to another link,
so that any full mesh of nodes is loop-free.

Offloads: a port with ``vnet`` set sends and receives each frame behind a
virtio-net header (see vnet.py), so 64 KiB TCP super-frames cross the switch
whole.  A frame from such a port to a plain port is turned into plain frames
(checksum finished, TSO cut into segments) on the way out, only there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .fdb import DEFAULT_AGEING, Fdb, format_mac
from .vnet import VNET_HDR_LEN, ZERO_HDR, VnetError, plain_frames

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
        "vnet",
    )

    def __init__(
        self, name: str, kind: str, send: Sender, *, is_link: bool = False, vnet: bool = False
    ) -> None:
        self.name = name
        self.kind = kind
        self.send = send  # egress; returns False when the frame was dropped
        self.is_link = is_link
        self.vnet = vnet  # frames in and out carry a virtio-net header
        self.rx_frames = self.rx_bytes = self.tx_frames = self.tx_bytes = self.drops = 0

    def output(self, frame: memoryview, vnet: bool) -> None:
        """Send ``frame`` (with a virtio-net header when ``vnet``) in this port's format."""
        if vnet == self.vnet:
            self._count(self.send(frame), len(frame) - (VNET_HDR_LEN if vnet else 0))
        elif self.vnet:  # a plain frame to an offload port: "nothing to do" header
            self._count(self.send(memoryview(ZERO_HDR + frame)), len(frame))
        else:
            try:
                frames = plain_frames(frame)
            except VnetError:
                self.drops += 1
                return
            for plain in frames:
                self._count(self.send(memoryview(plain)), len(plain))

    def _count(self, sent: bool, size: int) -> None:
        if sent:
            self.tx_frames += 1
            self.tx_bytes += size
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
        self.floods = 0  # frames flooded (broadcast, multicast, unknown destination)

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
        vnet = port.vnet
        eth = VNET_HDR_LEN if vnet else 0
        if len(frame) < eth + ETH_HEADER:
            self.runts += 1
            port.drops += 1
            return
        port.rx_frames += 1
        port.rx_bytes += len(frame) - eth  # Ethernet bytes, header or not
        src = bytes(frame[eth + 6 : eth + 12])
        if src[0] & 1:
            self.bad_source += 1
            port.drops += 1
            return
        self.fdb.learn(src, port)
        if not frame[eth] & 1:
            out = self.fdb.lookup(bytes(frame[eth : eth + 6]))
            if out is not None:
                if out is not port and out.name in self.ports:
                    out.output(frame, vnet)
                return
        self.floods += 1  # one add beside a loop over every port
        self._flood(port, frame, vnet)

    def _flood(self, ingress: SwitchPort, frame: memoryview, vnet: bool) -> None:
        from_link = ingress.is_link and not self.forward_between_links
        for port in list(self.ports.values()):
            if port is ingress or (from_link and port.is_link):
                continue
            port.output(frame, vnet)

    def fdb_info(self) -> list[dict[str, Any]]:
        return [
            {"mac": format_mac(e.mac), "port": e.port.name, "age": round(e.age, 1)}
            for e in sorted(self.fdb.entries(), key=lambda e: (e.port.name, e.mac))
        ]
