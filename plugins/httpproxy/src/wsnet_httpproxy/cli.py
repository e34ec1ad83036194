"""`wsnet http ...`: routes of a running node, without a config file (the node's control
API: addhttproute, delhttproute, httproutes, proxies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from wsnet import CtlClient, ctl_command, render_result

from .spec import SpecError, parse_expose
from .westfiles import write_translations

http_app = typer.Typer(
    help="HTTP reverse proxy routes of a running node (plugin wsnet-httpproxy).",
    no_args_is_help=True,
)
COLUMNS = (
    "name",
    "listen",
    "path",
    "node",
    "upstream",
    "requests",
    "2xx",
    "4xx",
    "5xx",
    "errors",
    "bytes_in",
    "bytes_out",
    "p50_ms",
    "p99_ms",
)


@http_app.command("expose")
@ctl_command
def expose(
    specs: Annotated[
        list[str],
        typer.Argument(help="/PATH=NODE:UPSTREAM, e.g. /px=G:http://127.0.0.1:9921/x"),
    ],
    ctl: CtlClient,
    listen: Annotated[
        str, typer.Option(help="HOST:PORT the node serves HTTP on")
    ] = "127.0.0.1:8080",
    name: Annotated[str, typer.Option(help="route name (one SPEC only; default from PATH)")] = "",
    host: Annotated[str, typer.Option(help="match only this Host")] = "",
    preserve_host: Annotated[bool, typer.Option(help="send the client's Host upstream")] = False,
    max_body: Annotated[int, typer.Option(help="request body limit in bytes (0: none)")] = 0,
    connect_timeout: Annotated[float, typer.Option(help="seconds")] = 10.0,
    read_timeout: Annotated[float, typer.Option(help="seconds")] = 60.0,
    allow: Annotated[str, typer.Option(help="client CIDRs allowed, comma-separated")] = "",
    deny: Annotated[str, typer.Option(help="client CIDRs refused, comma-separated")] = "",
    auth: Annotated[bool, typer.Option(help="require the node's authenticators")] = False,
) -> None:
    """Serve HTTP on --listen and send requests under PATH to UPSTREAM via NODE.

    NODE must allow UPSTREAM in its [httpproxy] targets.
    """
    if name and len(specs) > 1:
        typer.echo("wsnet http expose: --name needs exactly one SPEC", err=True)
        raise typer.Exit(2)
    parsed = []
    for text in specs:
        try:
            parsed.append(parse_expose(text))
        except SpecError as exc:
            typer.echo(f"wsnet http expose: {exc}", err=True)
            raise typer.Exit(2) from None
    for path, node, upstream in parsed:
        params = {
            "path": path,
            "node": node,
            "upstream": upstream,
            "listen": listen,
            "name": name,
            "host": host,
            "preserve_host": preserve_host,
            "max_body": max_body,
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "allow": allow,
            "deny": deny,
            "auth": auth,
        }
        got = ctl.call_set("addhttproute", params)
        typer.echo(f"http://{listen}{path} → {upstream} via {node} (route {got['name']})")


@http_app.command("list")
@ctl_command
def list_(
    ctl: CtlClient,
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Routes with requests, status classes, bytes, errors and latency (`httproutes`)."""
    result = ctl.call_set("httproutes", {})
    typer.echo(json.dumps(result, indent=2) if json_ else render_result(result, COLUMNS))


@http_app.command("remove")
@ctl_command
def remove(name: str, ctl: CtlClient) -> None:
    """Remove route NAME (a listener left without routes closes)."""
    typer.echo(render_result(ctl.call_set("delhttproute", {"name": name})))


@http_app.command("proxies")
@ctl_command
def proxies(ctl: CtlClient) -> None:
    """Listeners, routes and exit-side counts as JSON (west's state dump)."""
    typer.echo(json.dumps(ctl.call_set("proxies", {}), indent=2))


@http_app.command("from-west")
def from_west_cmd(
    configs: Annotated[list[Path], typer.Argument(help="west config.json files of one mesh")],
    out_dir: Annotated[
        Path | None,
        typer.Option(help="write NODE.toml files here (needed for more than one CONFIG)"),
    ] = None,
    peer: Annotated[
        list[str] | None,
        typer.Option(help="ORIGIN_OR_URL=NODE for a west not among CONFIGS (repeatable)"),
    ] = None,
) -> None:
    """Translate west configs into wsnet configs (one node each).

    One CONFIG: the TOML goes to stdout. Translate all configs of a mesh together, so that
    `en` and `ea` find their nodes, and each exit node's [httpproxy] targets is filled in.
    """
    try:
        for path in write_translations(configs, out_dir, peer or []):
            typer.echo(f"wsnet http from-west: wrote {path}", err=True)
    except (OSError, ValueError) as exc:  # MigrateError and JSONDecodeError too
        typer.echo(f"wsnet http from-west: {exc}", err=True)
        raise typer.Exit(2) from None
