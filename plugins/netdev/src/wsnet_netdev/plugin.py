"""Hook implementations of wsnet-netdev: the ``netdev`` port kind and `wsnet netdev`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import typer

from wsnet import Port
from wsnet.ctl import DEFAULT_URL, CtlError, call, render
from wsnet.node import Node

from .port import NetdevPort

netdev_app = typer.Typer(
    help="Attach existing interfaces (plugin wsnet-netdev).", no_args_is_help=True
)
CtlUrl = Annotated[str, typer.Option(envvar="WSNET_CTLURL", help="control API URL")]


def wsnet_register_ports(node: Node) -> Iterable[type[Port]]:
    return [NetdevPort]


@netdev_app.command("add")
def add(ifname: str, ctlurl: CtlUrl = DEFAULT_URL) -> None:
    """Attach interface IFNAME to the switch of a running node (promiscuous)."""
    _run(ctlurl, "addport", {"kind": "netdev", "name": ifname})


@netdev_app.command("del")
def delete(ifname: str, ctlurl: CtlUrl = DEFAULT_URL) -> None:
    """Detach IFNAME (the interface itself stays)."""
    _run(ctlurl, "delport", {"name": ifname})


def _run(url: str, method: str, params: dict[str, str]) -> None:
    try:
        typer.echo(render(call(url, method, params)))
    except CtlError as exc:
        typer.echo(f"wsnet netdev: {exc}", err=True)
        raise typer.Exit(1) from None
