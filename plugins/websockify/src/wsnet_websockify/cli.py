"""``wsnet websockify [options] [SOURCE_ADDR:]SOURCE_PORT [TARGET_ADDR:TARGET_PORT]``.

websockify's command line, run as a node: the options become one ``[[websockify.bridge]]``
and the process becomes ``wsnet run`` (exec, so signals, logging and the control API are
a node's).  The config goes through a pipe (``--config /dev/fd/N``): no file is left
behind, and nothing on the command line of ``ps`` shows it.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from wsnet import toml_dumps

from .spec import parse_listen, parse_target

websockify_app = typer.Typer(
    help="websockify-compatible WebSocket-to-TCP bridge, run as a wsnet node.",
    context_settings={"allow_interspersed_args": True},
)
UNSUPPORTED = {
    "--daemon": "run it under systemd (docs/websockify.md has a unit)",
    "--libserver": "one event loop serves every connection",
    "--traffic": "use --record FILE, or --verbose",
}


def _fail(message: str) -> typer.Exit:
    typer.echo(f"wsnet websockify: error: {message}", err=True)
    return typer.Exit(2)


@websockify_app.callback(invoke_without_command=True)
def websockify(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="[SOURCE_ADDR:]SOURCE_PORT [TARGET_ADDR:TARGET_PORT] | -- PROGRAM ARGS"
        ),
    ] = None,
    web: Annotated[str, typer.Option(help="serve files from DIR on the same port")] = "",
    cert: Annotated[str, typer.Option(help="TLS certificate (PEM; may hold the key)")] = "",
    key: Annotated[str, typer.Option(help="TLS key, if not in --cert")] = "",
    ssl_only: Annotated[bool, typer.Option("--ssl-only", help="refuse plain ws://")] = False,
    verify_client: Annotated[
        bool, typer.Option("--verify-client", help="require a client certificate")
    ] = False,
    cafile: Annotated[str, typer.Option(help="CAs trusted for client certificates")] = "",
    token_plugin: Annotated[
        str, typer.Option(help="TokenFile, JSONTokenApi, an installed source, or module:attr")
    ] = "",
    token_source: Annotated[str, typer.Option(help="the token plugin's argument")] = "",
    target_config: Annotated[
        str, typer.Option(help="= --token-plugin TokenFile --token-source FILE")
    ] = "",
    host_token: Annotated[
        bool, typer.Option("--host-token", help="the Host header is the token")
    ] = False,
    record: Annotated[str, typer.Option(help="record sessions to FILE.N (JSON lines)")] = "",
    heartbeat: Annotated[float, typer.Option(help="ping the client every N seconds")] = 0.0,
    idle_timeout: Annotated[
        float, typer.Option(help="exit after N seconds without connections")
    ] = 0.0,
    timeout: Annotated[float, typer.Option(help="exit after N seconds unless connected")] = 0.0,
    run_once: Annotated[bool, typer.Option("--run-once", help="exit after one connection")] = False,
    wrap_mode: Annotated[str, typer.Option(help="exit, ignore or respawn")] = "exit",
    origin: Annotated[list[str] | None, typer.Option(help="allowed Origin (repeat)")] = None,
    htpasswd: Annotated[
        str, typer.Option(help="require HTTP Basic users of this htpasswd file")
    ] = "",
    node: Annotated[str, typer.Option(help="reach targets from this node, through the mesh")] = "",
    name: Annotated[str, typer.Option(help="this node's name")] = "websockify",
    dial: Annotated[
        list[str] | None, typer.Option(help="ws(s):// URL of a node to link to")
    ] = None,
    listen_links: Annotated[str, typer.Option(help="HOST:PORT to accept links, or none")] = "none",
    ctl_port: Annotated[str, typer.Option(help="control API port (0: any)")] = "0",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
    daemon: Annotated[bool, typer.Option("--daemon", "-D", hidden=True)] = False,
    traffic: Annotated[bool, typer.Option("--traffic", hidden=True)] = False,
    libserver: Annotated[bool, typer.Option("--libserver", hidden=True)] = False,
) -> None:
    """websockify's options (docs/websockify.md maps each one); the bridge runs as a node."""
    for flag, given in (("--daemon", daemon), ("--traffic", traffic), ("--libserver", libserver)):
        if given:
            raise _fail(f"{flag} is not supported: {UNSUPPORTED[flag]}")
    positional, wrap = _split(args or [])
    bridge = _bridge(positional, wrap, node)
    if target_config:
        token_plugin, token_source = "TokenFile", target_config
    options = {
        "web": web, "cert": cert, "key": key, "ssl_only": ssl_only,
        "verify_client": verify_client, "cafile": cafile, "token_plugin": token_plugin,
        "token_source": token_source, "host_token": host_token, "record": record,
        "heartbeat": heartbeat, "wrap_mode": wrap_mode, "origins": origin or [],
    }  # fmt: skip
    options |= {
        "run_once": run_once,
        "exit_when_idle": idle_timeout,
        "exit_unless_connected": timeout,
    }
    bridge.update({k: v for k, v in options.items() if v not in ("", False, 0.0, [])})
    if "target" not in bridge and not wrap and not token_plugin:
        raise _fail("give TARGET_ADDR:TARGET_PORT, --token-plugin, or -- PROGRAM ARGS")
    config: dict[str, object] = {
        "node": {"name": name, "plugins": ["websockify"] + (["auth_htpasswd"] if htpasswd else [])},
        "websockify": {"bridge": [bridge]},
    }
    if htpasswd:
        config["auth_htpasswd"] = {"file": htpasswd}
    _exec(config, dial or [], listen_links, ctl_port, verbose)


def _split(args: list[str]) -> tuple[list[str], list[str]]:
    """click drops ``--``; sys.argv still has it: what follows it is the program."""
    argv = sys.argv[1:]
    if "--" not in argv:
        return args, []
    wrap = argv[argv.index("--") + 1 :]
    return args[: len(args) - len(wrap)], wrap


def _bridge(positional: list[str], wrap: list[str], node: str) -> dict[str, object]:
    if not positional or len(positional) > 2:
        raise _fail("expected [SOURCE_ADDR:]SOURCE_PORT [TARGET_ADDR:TARGET_PORT]")
    try:
        parse_listen(positional[0])
        bridge: dict[str, object] = {"name": "cli", "listen": positional[0]}
        if len(positional) == 2:
            if wrap:
                raise ValueError("give a target or -- PROGRAM ARGS, not both")
            bridge["target"] = str(parse_target(positional[1], node))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if wrap:
        bridge["wrap"] = wrap
    if node:
        bridge["node"] = node
    return bridge


def _exec(
    config: dict[str, object], dial: list[str], listen: str, ctl_port: str, verbose: bool
) -> None:
    read, write = os.pipe()
    os.write(write, toml_dumps(config).encode())
    os.close(write)
    os.set_inheritable(read, True)
    argv = [sys.executable, "-m", "wsnet", "run", "--config", f"/dev/fd/{read}",
            "--listen", listen, "--ctl-port", ctl_port]  # fmt: skip
    for url in dial:
        argv += ["--dial", url]
    if verbose:
        argv.append("--debug")
    sys.stdout.flush()
    os.execv(sys.executable, argv)
