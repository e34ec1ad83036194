"""`wsnet tap ...`: the etherws verbs for TAP ports, as commands of a running node."""

from __future__ import annotations

from typing import Annotated

import typer

from wsnet import CtlClient, ctl_command, render_result

tap_app = typer.Typer(help="TAP ports of a running node (plugin wsnet-tap).", no_args_is_help=True)


@tap_app.command("add")
@ctl_command
def add(
    name: str,
    ctl: CtlClient,
    mtu: Annotated[int | None, typer.Option(help="MTU (default 1500)")] = None,
    mac: Annotated[str, typer.Option(help="MAC address (default: random)")] = "",
    address: Annotated[str, typer.Option(help="IP address with prefix, e.g. 10.0.0.1/24")] = "",
) -> None:
    """Create TAP NAME and make it a switch port."""
    params = {"kind": "tap", "name": name, "mtu": mtu, "mac": mac, "address": address}
    typer.echo(render_result(ctl.call_set("addport", params)))


@tap_app.command("del")
@ctl_command
def delete(name: str, ctl: CtlClient) -> None:
    """Remove the port and delete the TAP device."""
    typer.echo(render_result(ctl.call_set("delport", {"name": name})))


@tap_app.command("setif")
@ctl_command
def setif(
    name: str,
    ctl: CtlClient,
    address: Annotated[str, typer.Option(help="IP address with prefix")] = "",
    mtu: Annotated[int | None, typer.Option(help="MTU")] = None,
) -> None:
    """Set the address and/or MTU of TAP NAME."""
    params = {"name": name, "address": address, "mtu": mtu}
    typer.echo(render_result(ctl.call_set("setif", params)))


@tap_app.command("list")
@ctl_command
def list_(ctl: CtlClient) -> None:
    """TAP interfaces of the node (listif)."""
    typer.echo(render_result(ctl.call_set("listif", {})))
