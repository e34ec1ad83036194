"""Hook implementations of wsnet-switch: [switch] config, the ether service, ctl verbs.

Port types come from plugins (tap, netdev, ...) through wsnet_register_ports;
this module only wires them to the switch.  etherws verbs: addport, delport,
listport, listfdb (setif and listif belong to the tap plugin).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from wsnet import (
    ChannelContext,
    Component,
    Config,
    ConfigError,
    ControlError,
    ControlMethod,
    DatagramChannel,
    DatagramService,
    LinkDown,
    LinkUp,
    Metric,
    NodeAPI,
    NodeEvent,
    Observer,
    ResetCode,
    Section,
    Service,
    StashKey,
    redact_url,
    start_dial,
    stop_dial,
)

from .l2 import ETHER_SERVICE, L2, VNET_CAPABILITY, PortSpec, SwitchConfig
from .metrics import switch_metrics

CONFIG: StashKey[SwitchConfig] = StashKey("switch.config")
RESERVED = ("kind", "name")
# What wsnet_register_control_methods registers: a node without this plugin names it
# for a call of one of these (wsnet.plugins.method_providers).
CONTROL_METHODS = ("addport", "delport", "listport", "listfdb")


def wsnet_node_plugin(node: NodeAPI) -> SwitchPlugin:
    return SwitchPlugin(node)


class SwitchPlugin:
    """The switch of one node, created once and hooked in once (its wsnet_* methods are
    hook implementations): the L2 engine and what connects it to links and ports."""

    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        self.l2 = L2(node, node.config.stash.get(CONFIG, SwitchConfig()))
        if self.l2.cfg.offload:
            # Announced in HELLO; made before any link exists, so every link sees it.
            node.announce(VNET_CAPABILITY)

    def wsnet_register_services(self) -> Iterable[Service[Any]]:
        return [EtherService(self.node, self.l2)]

    def wsnet_register_observers(self) -> Iterable[Observer]:
        return [LinkWatcher(self.node, self.l2)]

    def wsnet_register_components(self) -> Iterable[Component]:
        check_ports(self.node)  # port kinds were registered just before: check before start
        return [ConfiguredPorts(self.l2)]

    def wsnet_register_control_methods(self) -> Iterable[ControlMethod]:
        return methods(self.node, self.l2)

    def wsnet_collect_metrics(self) -> Iterable[Metric]:
        return switch_metrics(self.l2.switch)


def wsnet_configure(config: Config) -> None:
    s = config.section("switch")
    cfg = SwitchConfig(
        ageing=s.get_seconds("ageing", 300.0),
        forward_between_links=s.get_bool("forward_between_links", False),
        links=s.get_bool("links", True),
        offload=s.get_bool("offload", True),
        ports=[_port_spec(p) for p in s.tables("port")],
    )
    s.done()
    config.stash[CONFIG] = cfg


def _port_spec(s: Section) -> PortSpec:
    kind = s.get_str("kind")
    name = s.get_str("name")
    options = {k: v for k, v in s.data.items() if k not in RESERVED}
    return PortSpec(kind, name, options, where=f"{s.source}: [[switch.port]] {name}")


class EtherService(DatagramService):
    name = ETHER_SERVICE

    def __init__(self, node: NodeAPI, l2: L2) -> None:
        self.node = node
        self.l2 = l2

    async def handle(self, channel: DatagramChannel, ctx: ChannelContext) -> None:
        link = self.node.link_by_peer(ctx.peer) if ctx.request.src == ctx.peer else None
        if link is None:
            channel.abort(ResetCode.BAD_REQUEST, "ether channels are for direct links only")
            return
        self.l2.attach(link, channel)
        await channel.wait_closed()


class LinkWatcher(Observer):
    """Turns link up/down events into switch ports."""

    def __init__(self, node: NodeAPI, l2: L2) -> None:
        self.node = node
        self.l2 = l2

    def notify(self, event: NodeEvent) -> None:
        if isinstance(event, LinkUp):
            link = self.node.link(event.link_id)
            if link is not None:
                self.l2.link_up(link)
        elif isinstance(event, LinkDown):
            self.l2.link_down(event.link_id, event.reason)


class ConfiguredPorts(Component):
    def __init__(self, l2: L2) -> None:
        self.l2 = l2

    async def start(self) -> None:
        for spec in self.l2.cfg.ports:
            await self.l2.add_port(spec)

    async def aclose(self) -> None:
        await self.l2.aclose()


def methods(node: NodeAPI, l2: L2) -> list[ControlMethod]:
    async def addport(kind: str, name: str, **options: Any) -> dict[str, Any]:
        if kind == "client":
            return await _add_client(node, name, options)
        return await l2.add_port(PortSpec(kind, name, options))

    async def delport(name: str) -> dict[str, str]:
        if name.startswith(("ws://", "wss://")):
            if not await stop_dial(node, name):
                raise ControlError(f"no client port {redact_url(name)!r}")
            return {"deleted": redact_url(name)}
        await l2.del_port(name)
        return {"deleted": name}

    async def listport() -> list[dict[str, Any]]:
        return l2.ports()

    async def listfdb() -> list[dict[str, Any]]:
        return l2.switch.fdb_info()

    return [
        ControlMethod(
            "addport",
            addport,
            "add a switch port: KIND NAME [OPTION=VALUE...] "
            "(kinds from plugins, e.g. tap, netdev; 'client URL' dials a node)",
        ),
        ControlMethod("delport", delport, "remove a port (or a client URL)"),
        ControlMethod("listport", listport, "switch ports with counters"),
        ControlMethod("listfdb", listfdb, "learnt MAC addresses: MAC, port, age"),
    ]


async def _add_client(node: NodeAPI, url: str, options: dict[str, Any]) -> dict[str, Any]:
    peer = str(options.pop("peer", ""))
    dialer = start_dial(node, "addport", url, options, peer, prefix="addport client: ")
    await asyncio.sleep(0)
    return dialer.info()


def check_ports(node: NodeAPI) -> None:
    """[[switch.port]] entries: a known kind, a name used once, and options the port class
    accepts (its optional ``check_options(name, options)`` raises ValueError)."""
    seen: set[str] = set()
    for i, spec in enumerate(node.config.stash.get(CONFIG, SwitchConfig()).ports, 1):
        key = f"[[switch.port]] #{i}"
        cls = node.port_type(spec.kind)
        if cls is None:
            kinds = ", ".join(node.port_kinds()) or "none (load e.g. the tap plugin)"
            raise ConfigError(node.config.source, f"{key} kind",
                              f"unknown port kind {spec.kind!r} (available: {kinds})")  # fmt: skip
        if spec.name in seen:
            raise ConfigError(node.config.source, f"{key} name", f"a second port {spec.name!r}")
        seen.add(spec.name)
        check = getattr(cls, "check_options", None)
        if check is not None:
            try:
                check(spec.name, spec.options)
            except ValueError as exc:
                raise ConfigError(
                    node.config.source, key, f"{spec.kind} {spec.name}: {exc}"
                ) from None
