"""The node's L2 switch: plugin ports (tap, netdev, ...) and link ports to other nodes.

Ethernet frames cross a link as datagrams on a channel to the peer's ``ether``
service.  Whichever side first has a frame for the link opens the channel
(0-RTT: the frame goes out with the OPEN); both sides then use it in both
directions.  Only direct links are switch ports; relayed channels are refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wsnet import (
    ChannelError,
    ControlError,
    DatagramChannel,
    LinkAPI,
    NodeAPI,
    Port,
    PortAdded,
    PortRemoved,
    WsnetError,
)

from .engine import Switch, SwitchPort
from .vnet import VNET_HDR_LEN

log = logging.getLogger("wsnet.switch")
ETHER_SERVICE = "ether"
# HELLO capability: "my ether channels may carry virtio-net headers".  When both ends
# of a link advertise it, every ether datagram on that link starts with the 10-byte
# header, so TSO super-frames cross whole; otherwise frames are plain (segmented first).
VNET_CAPABILITY = "ether-vnet"
MAX_GSO_FRAME = VNET_HDR_LEN + 65535 + 18  # the largest frame a TAP hands over, with tags


@dataclass(frozen=True, slots=True)
class PortSpec:
    kind: str
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""  # config location, for error messages


@dataclass(slots=True)
class SwitchConfig:
    ageing: float = 300.0
    forward_between_links: bool = False
    links: bool = True  # links to other nodes are switch ports
    offload: bool = True  # links carry virtio-net headers when the peer can
    ports: list[PortSpec] = field(default_factory=list)


class L2:
    """Owns the Switch of one node and the objects behind its ports."""

    def __init__(self, node: NodeAPI, cfg: SwitchConfig) -> None:
        self.node = node
        self.cfg = cfg
        self.switch = Switch(ageing=cfg.ageing, forward_between_links=cfg.forward_between_links)
        self.plugin_ports: dict[str, Port] = {}
        self._link_ports: dict[int, SwitchPort] = {}  # link id -> port
        self._channels: dict[int, DatagramChannel] = {}  # link id -> channel used to send

    # ------------------------------------------------------------ link ports
    def link_up(self, link: LinkAPI) -> None:
        if not self.cfg.links or link.id in self._link_ports:
            return
        name = f"link:{link.peer}"
        port = SwitchPort(
            name,
            "link",
            lambda frame: self._send_link(link, frame),
            is_link=True,
            vnet=self._link_vnet(link),
        )
        self._link_ports[link.id] = port
        self.switch.add(port)
        self.node.emit(PortAdded("link", name))

    def _link_vnet(self, link: LinkAPI) -> bool:
        """Both ends take virtio-net headers and accept a whole super-frame.

        Each end decides alone from the same facts (both HELLOs), so both agree.
        """
        hello = link.hello
        return (
            self.cfg.offload
            and hello is not None
            and VNET_CAPABILITY in hello.capabilities
            and min(hello.max_frame, self.node.config.limits.max_frame) >= MAX_GSO_FRAME
        )

    def link_down(self, link_id: int, reason: str) -> None:
        port = self._link_ports.pop(link_id, None)
        self._channels.pop(link_id, None)
        if port is not None:
            self.switch.remove(port.name)
            self.node.emit(PortRemoved("link", port.name, reason))

    def _send_link(self, link: LinkAPI, frame: memoryview) -> bool:
        ch = self._channels.get(link.id)
        if ch is None or ch.closed:
            try:
                opened = link.open_datagram(ETHER_SERVICE)
            except ChannelError:
                return False
            ch = self.attach(link, opened)
        return ch.send(frame)

    def attach(self, link: LinkAPI, ch: DatagramChannel) -> DatagramChannel:
        """Bind an ether channel of ``link`` to its port; the first one also sends."""
        port = self._link_ports.get(link.id)
        if port is not None:
            ingress = self.switch.ingress
            ch.deliver_to(lambda frame: ingress(port, frame))
        current = self._channels.get(link.id)
        if current is None or current.closed:
            self._channels[link.id] = ch
        return self._channels[link.id]

    # ---------------------------------------------------------- plugin ports
    async def add_port(self, spec: PortSpec) -> dict[str, Any]:
        cls = self.node.port_type(spec.kind)
        if cls is None:
            kinds = ", ".join(self.node.port_kinds()) or "none (load e.g. --plugins tap)"
            raise ControlError(f"unknown port kind {spec.kind!r} (available: {kinds})")
        if spec.name in self.switch.ports:
            raise ControlError(f"port {spec.name!r} already exists")
        sp: SwitchPort | None = None

        def deliver(frame: memoryview) -> None:
            if sp is not None:
                self.switch.ingress(sp, frame)

        try:
            port = cls(spec.name, spec.options, deliver)
            await port.start()
        except (WsnetError, OSError, ValueError) as exc:
            where = f"{spec.where}: " if spec.where else ""
            raise ControlError(f"{where}{spec.kind} {spec.name}: {exc}") from None
        vnet = bool(getattr(port, "vnet_hdr", False))  # a subclass may skip Port.__init__
        sp = SwitchPort(spec.name, spec.kind, port.send, vnet=vnet)
        self.switch.add(sp)
        self.plugin_ports[spec.name] = port
        self.node.emit(PortAdded(spec.kind, spec.name))
        return self.port_info(sp)

    async def del_port(self, name: str, reason: str = "deleted") -> None:
        port = self.plugin_ports.pop(name, None)
        if port is None:
            raise ControlError(f"no port {name!r} to delete (link ports go with their link)")
        self.switch.remove(name)
        try:
            await port.aclose()
        finally:
            self.node.emit(PortRemoved(port.kind, name, reason))

    async def aclose(self) -> None:
        for name in list(self.plugin_ports):
            try:
                await self.del_port(name, "node shutting down")
            except Exception:
                log.exception("closing port %s failed", name)

    # ------------------------------------------------------------------ info
    def port_info(self, sp: SwitchPort) -> dict[str, Any]:
        info = sp.info()
        impl = self.plugin_ports.get(sp.name)
        extra = impl.info() if impl is not None else {}
        # The switch counts every frame a port's send() refused, so the plugin's own
        # drop count is the same frames again: show its other counters, not that one.
        own = {k: v for k, v in extra.items() if k not in ("kind", "name", "drops")}
        return {
            **info,
            **own,
            "state": extra.get("state", "up"),
            "offload": sp.vnet,  # frames carry virtio-net headers (TSO super-frames whole)
        }

    def ports(self) -> list[dict[str, Any]]:
        return [self.port_info(sp) for sp in self.switch.ports.values()]
