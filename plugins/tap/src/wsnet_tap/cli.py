"""`wsnet tap ...`: the etherws verbs for TAP ports, as commands of a running node."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wsnet.ctl import DEFAULT_URL, CtlError, call, render

tap_app = typer.Typer(help="TAP ports of a running node (plugin wsnet-tap).", no_args_is_help=True)
CtlUrl = Annotated[str, typer.Option(envvar="WSNET_CTLURL", help="control API URL")]


def _call(url: str, method: str, params: dict[str, Any]) -> None:
    try:
        result = call(url, method, {k: v for k, v in params.items() if v not in (None, "")})
    except CtlError as exc:
        typer.echo(f"wsnet tap: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(render(result))


@tap_app.command("add")
def add(
    name: str,
    mtu: Annotated[int | None, typer.Option(help="MTU (default 1500)")] = None,
    mac: Annotated[str, typer.Option(help="MAC address (default: random)")] = "",
    address: Annotated[str, typer.Option(help="IP address with prefix, e.g. 10.0.0.1/24")] = "",
    ctlurl: CtlUrl = DEFAULT_URL,
) -> None:
    """Create TAP NAME and make it a switch port."""
    _call(ctlurl, "addport", {"kind": "tap", "name": name, "mtu": mtu, "mac": mac,
                              "address": address})  # fmt: skip


@tap_app.command("del")
def delete(name: str, ctlurl: CtlUrl = DEFAULT_URL) -> None:
    """Remove the port and delete the TAP device."""
    _call(ctlurl, "delport", {"name": name})


@tap_app.command("setif")
def setif(
    name: str,
    address: Annotated[str, typer.Option(help="IP address with prefix")] = "",
    mtu: Annotated[int | None, typer.Option(help="MTU")] = None,
    ctlurl: CtlUrl = DEFAULT_URL,
) -> None:
    """Set the address and/or MTU of TAP NAME."""
    _call(ctlurl, "setif", {"name": name, "address": address, "mtu": mtu})


@tap_app.command("list")
def list_(ctlurl: CtlUrl = DEFAULT_URL) -> None:
    """TAP interfaces of the node (listif)."""
    _call(ctlurl, "listif", {})
