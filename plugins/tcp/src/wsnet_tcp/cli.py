"""`wsnet tcp ...`: one-off tunnels on a running node, without a config file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from wsnet import CtlClient, ctl_command, render_result, toml_dumps

from .bundle import BundleError, write_split
from .migrate import MigrateError, from_tcp_over_websocket, split_plan
from .spec import parse_forward

tcp_app = typer.Typer(help="TCP tunnels of a running node (plugin wsnet-tcp).",
                      no_args_is_help=True)  # fmt: skip
COLUMNS = ("name", "role", "address", "peer", "target", "state", "active", "total", "errors",
           "bytes_in", "bytes_out")  # fmt: skip


@tcp_app.command("forward")
@ctl_command
def forward(
    specs: Annotated[
        list[str],
        typer.Argument(help="[BIND:]PORT=NAME@NODE[:[HOST:]PORT], e.g. 8022=ssh@nodeB:22"),
    ],
    ctl: CtlClient,
) -> None:
    """Listen on PORT and carry each connection to tunnel NAME of NODE.

    NAME@NODE alone uses the connect side NODE has for NAME; NAME@NODE:PORT or
    NAME@NODE:HOST:PORT asks NODE to connect there (NODE's [tcp] targets must allow it, and
    its [authz] connect grant too when your principal is listed there).
    """
    parsed = []
    for text in specs:
        try:
            parsed.append(parse_forward(text))
        except ValueError as exc:
            typer.echo(f"wsnet tcp forward: {exc}", err=True)
            raise typer.Exit(2) from None
    for spec in parsed:
        params = {"name": spec.name, "listen": str(spec.address), "peer": spec.peer,
                  "target": str(spec.target) if spec.target else ""}  # fmt: skip
        ctl.call_set("addtunnel", params)
        via = f" → {spec.target} on {spec.peer}" if spec.target else f" on {spec.peer}"
        typer.echo(f"{spec.address} → tunnel {spec.name}{via}")


@tcp_app.command("list")
@ctl_command
def list_(
    ctl: CtlClient,
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Tunnels with state, connection counts and bytes (the `tunnels` method)."""
    result = ctl.call_set("tunnels", {})
    if json_:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(render_result(result, COLUMNS))


@tcp_app.command("del")
@ctl_command
def delete(
    name: str,
    ctl: CtlClient,
    role: Annotated[str, typer.Option(help="listen or connect (default: both)")] = "",
    reset: Annotated[bool, typer.Option(help="also reset the tunnel's open connections")] = False,
) -> None:
    """Remove tunnel NAME; open connections carry on unless --reset."""
    params = {"name": name, "role": role, "reset": reset}
    typer.echo(render_result(ctl.call_set("deltunnel", params)))


@tcp_app.command("from-tow")
def from_tow(
    config: Annotated[Path, typer.Argument(help="a tcp-over-websocket config.json")],
    certs_dir: Annotated[
        Path | None,
        typer.Option(
            help="where the TLS bundle is split into NODE-cert.pem and NODE-key.pem "
            "(default: the directory of CONFIG)"
        ),
    ] = None,
) -> None:
    """Print the wsnet TOML that does what a tcp-over-websocket config.json does."""
    where = (certs_dir or config.parent).absolute()
    try:
        raw = json.loads(config.read_text())
        data, notes = from_tcp_over_websocket(raw, str(where))
        plan = split_plan(raw, str(where))
        if plan is not None:
            write_split(plan[0], Path(plan[1]), Path(plan[2]))
            typer.echo(f"wsnet tcp from-tow: split {plan[0]} into {plan[1]} and {plan[2]}",
                       err=True)  # fmt: skip
    except (OSError, ValueError) as exc:  # MigrateError, BundleError, JSONDecodeError too
        what = "bad config" if isinstance(exc, MigrateError | BundleError) else "cannot read"
        typer.echo(f"wsnet tcp from-tow: {config}: {what}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        toml_dumps(data, [f"translated from {config} (tcp-over-websocket)", *notes]), nl=False
    )
