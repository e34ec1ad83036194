"""Hook implementations of wsnet-tap: the ``tap`` port kind, setif/listif, `wsnet tap`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wsnet import ControlError, ControlMethod, NodeAPI, Port, StashKey

from .port import TapPort

# A port kind is nothing without the switch it is a port of: load wsnet-switch too.
WSNET_REQUIRES = ("switch",)
PORTS: StashKey[dict[str, TapPort]] = StashKey("tap.ports")
# What wsnet_register_control_methods registers: a node without this plugin names it
# for a call of one of these (wsnet.plugins.method_providers).
CONTROL_METHODS = ("setif", "listif")


def wsnet_register_ports(node: NodeAPI) -> Iterable[type[Port]]:
    # A subclass per node, so setif/listif of this node see exactly its TAPs.
    registry = node.stash.setdefault(PORTS, {})
    return [type("TapPort", (TapPort,), {"registry": registry})]


def wsnet_register_control_methods(node: NodeAPI) -> Iterable[ControlMethod]:
    registry = node.stash.setdefault(PORTS, {})

    def port(name: str) -> TapPort:
        found = registry.get(name)
        if found is None:
            have = ", ".join(sorted(registry)) or "none"
            raise ControlError(f"no TAP port {name!r} (TAP ports: {have})")
        return found

    async def setif(name: str, address: str = "", mtu: str = "") -> dict[str, Any]:
        try:
            await port(name).setif(address, mtu or None)
        except ValueError as exc:
            raise ControlError(f"setif {name}: {exc}") from None
        return port(name).interface()

    async def listif() -> list[dict[str, Any]]:
        return [registry[n].interface() for n in sorted(registry)]

    return [
        ControlMethod("setif", setif, "configure TAP NAME: address=A/PREFIX, mtu=N"),
        ControlMethod("listif", listif, "TAP interfaces with MAC, MTU and addresses"),
    ]
