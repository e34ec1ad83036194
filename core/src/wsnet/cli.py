"""The `wsnet` command line: run, ctl, plugins, plus every plugin's commands.

Plugin commands are found in entry-point metadata and imported only when they run
(plugin_commands.py); keep module-level imports here light, since every call pays for them.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from . import __version__
from .ctl import CtlClient, render
from .ctlcli import ctl_command
from .errors import ConfigError, WsnetError
from .plugin_commands import (
    LazyPluginGroup,
    command_clashes,
    commands_by_distribution,
    plugin_versions,
)
from .redact import redact_text
from .transport.ws.flags import DialFlags, with_dial_flags

app = typer.Typer(
    cls=LazyPluginGroup,
    help="wsnet: carry Ethernet, TCP and HTTP over WebSocket links between nodes.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"wsnet: error: {redact_text(message)}", err=True)
    return typer.Exit(code)


@app.command()
@with_dial_flags
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")] = None,
    plugins: Annotated[str | None, typer.Option(help="plugins to load, comma-separated")] = None,
    name: Annotated[str | None, typer.Option(help="node name (unique among linked nodes)")] = None,
    listen: Annotated[str | None, typer.Option(help="HOST:PORT for links, or 'none'")] = None,
    path: Annotated[str | None, typer.Option(help="URL path of the link endpoint")] = None,
    dial: Annotated[list[str] | None, typer.Option(help="ws(s):// URL to keep a link to")] = None,
    ctl_host: Annotated[str | None, typer.Option(help="control API address")] = None,
    ctl_port: Annotated[
        str | None, typer.Option(help="control API port (0: any free port)")
    ] = None,
    ctl_allow_remote: Annotated[bool, typer.Option(help="allow a non-loopback --ctl-host")] = False,
    tls_cert: Annotated[str | None, typer.Option(help="serve wss://: certificate (PEM)")] = None,
    tls_key: Annotated[str | None, typer.Option(help="serve wss://: private key (PEM)")] = None,
    ctl_tls_cert: Annotated[
        str | None, typer.Option(help="serve the control API over https: certificate")
    ] = None,
    ctl_tls_key: Annotated[
        str | None, typer.Option(help="serve the control API over https: private key")
    ] = None,
    ctl_htpasswd: Annotated[
        str | None, typer.Option(help="htpasswd file: the control API requires Basic auth")
    ] = None,
    # The ws transport's flags for --dial (--ca-file, --cert, --user, --proxy...) go here.
    dial_flags: DialFlags | None = None,
    debug: Annotated[bool, typer.Option(help="debug logging")] = False,
    log_config: Annotated[
        Path | None, typer.Option(help="logging config (ini, json, toml)")
    ] = None,
) -> None:
    """Run a node until interrupted.  With no options: a node on 127.0.0.1:7860.

    SIGTERM and SIGINT close every link (1001) and stop; SIGHUP re-reads the config file.
    """
    from . import logsetup
    from .runtime import serve_forever
    from .startup import RunOptions, prepare, reconfigure
    from .tuning import tune_malloc

    opts = RunOptions(
        config, plugins, name, listen, path, dial or [], ctl_host, ctl_port, ctl_allow_remote,
        tls_cert, tls_key, ctl_tls_cert, ctl_tls_key, ctl_htpasswd, dial_flags or DialFlags(),
    )  # fmt: skip
    try:
        cfg, loaded = prepare(opts)
        logsetup.configure(debug, log_config)
        tune_malloc()
        _run_loop(serve_forever(cfg, loaded, lambda: reconfigure(opts, loaded)))
    except (WsnetError, ConfigError) as exc:
        raise fail(str(exc)) from None


def _run_loop(coro: Any) -> None:
    import asyncio  # here, not at the top: `wsnet version` and `wsnet ctl` need no event loop

    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a dependency; kept for odd platforms
        runner = asyncio.Runner()
    with runner:
        runner.run(coro)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@ctl_command
def ctl(
    method: Annotated[str, typer.Argument(help="method, e.g. status, links, routes, help")],
    ctl: CtlClient,
    args: Annotated[list[str] | None, typer.Argument(help="VALUE or NAME=VALUE")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the JSON result")] = False,
) -> None:
    """Call a control-API method of a running node (`wsnet ctl help` lists them)."""
    result = ctl.call_words(method, args or [])
    if json_out:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        text = render(result)
        if text:
            typer.echo(text)


@app.command()
@ctl_command
def top(
    ctl: CtlClient,
    interval: Annotated[float, typer.Option(help="seconds between refreshes")] = 2.0,
    iterations: Annotated[
        int,
        typer.Option(help="stop after N refreshes, printed one below the other (0: until Ctrl-C)"),
    ] = 0,
    once: Annotated[bool, typer.Option("--once", help="print one view and exit")] = False,
) -> None:
    """A live view of a node's links, channels and rates (Ctrl-C ends it)."""
    from rich.console import Console

    from .top import run_top  # rich: only when this command runs

    if interval <= 0 or iterations < 0:
        raise fail("--interval must be > 0 and --iterations >= 0")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a live view ends
        run_top(ctl, interval, 1 if once else iterations, Console())


@app.command("plugins")
def plugins_cmd(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List installed plugins with version, hooks and the commands they add."""
    from .plugins import describe_installed  # imports every plugin: only this command does

    core = set(ctx.parent.command.commands) if ctx.parent is not None else set()  # type: ignore[attr-defined]
    commands, clashes = commands_by_distribution(core), command_clashes(core)
    rows = [
        {
            "name": p.name,
            "version": p.version,
            "distribution": p.distribution,
            "hooks": ", ".join(h.removeprefix("wsnet_") for h in p.hooks),
            "commands": ", ".join(commands.get(p.distribution, [])),
            "error": "; ".join([*filter(None, [p.error]), *clashes.get(p.distribution, [])]),
        }
        for p in describe_installed()
    ]
    typer.echo(
        json.dumps(rows, indent=2) if json_out else render(rows) if rows else "no plugins installed"
    )


@app.command()
def version() -> None:
    """Print the version of wsnet and of each installed plugin."""
    typer.echo(version_text())


def version_text() -> str:
    """``wsnet X`` then one line per installed plugin, from metadata (no plugin is imported)."""
    lines = [f"wsnet {__version__}"]
    lines += [f"plugin {name} {ver} ({dist})" for name, dist, ver in plugin_versions()]
    return "\n".join(lines)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="print versions and exit"
        ),
    ] = False,
) -> None:
    """wsnet: carry Ethernet, TCP and HTTP over WebSocket links between nodes."""


def main() -> None:
    if sys.argv[1:2] == ["run"]:
        # A SIGHUP before the node is up (a reload racing the start) must not end it; the
        # event loop takes it over once it runs (a Python handler: children do not inherit).
        signal.signal(signal.SIGHUP, lambda signum, frame: None)
    app(prog_name="wsnet")


if __name__ == "__main__":  # pragma: no cover
    main()
