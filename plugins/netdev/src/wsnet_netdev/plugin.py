"""Hook implementations of wsnet-netdev: the ``netdev`` port kind and `wsnet netdev`."""

from __future__ import annotations

from collections.abc import Iterable

import typer

from wsnet import CtlClient, NodeAPI, Port, ctl_command, render_result

from .port import NetdevPort

# A port kind is nothing without the switch it is a port of: load wsnet-switch too.
WSNET_REQUIRES = ("switch",)
netdev_app = typer.Typer(
    help="Attach existing interfaces (plugin wsnet-netdev).", no_args_is_help=True
)


def wsnet_register_ports(node: NodeAPI) -> Iterable[type[Port]]:
    return [NetdevPort]


@netdev_app.command("add")
@ctl_command
def add(ifname: str, ctl: CtlClient) -> None:
    """Attach interface IFNAME to the switch of a running node (promiscuous)."""
    _run(ctl, "addport", {"kind": "netdev", "name": ifname})


@netdev_app.command("del")
@ctl_command
def delete(ifname: str, ctl: CtlClient) -> None:
    """Detach IFNAME (the interface itself stays)."""
    _run(ctl, "delport", {"name": ifname})


def _run(ctl: CtlClient, method: str, params: dict[str, str]) -> None:
    typer.echo(render_result(ctl.call(method, params)))
