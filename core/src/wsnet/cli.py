"""The `wsnet` command line: run, ctl, plugins, plus every plugin's commands."""

from __future__ import annotations

import asyncio
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
from .plugins import describe_installed, load_for_cli
from .redact import redact_text

app = typer.Typer(
    help="wsnet: carry Ethernet, TCP and HTTP over WebSocket links between nodes.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"wsnet: error: {redact_text(message)}", err=True)
    return typer.Exit(code)


@app.command()
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
    ca_file: Annotated[
        str | None, typer.Option(help="CA bundle to verify wss:// --dial servers")
    ] = None,
    insecure: Annotated[
        bool, typer.Option(help="do not verify wss:// --dial servers (tests only)")
    ] = False,
    cert: Annotated[str | None, typer.Option(help="client certificate for --dial (mTLS)")] = None,
    key: Annotated[str | None, typer.Option(help="client key for --dial (mTLS)")] = None,
    ctl_tls_cert: Annotated[
        str | None, typer.Option(help="serve the control API over https: certificate")
    ] = None,
    ctl_tls_key: Annotated[
        str | None, typer.Option(help="serve the control API over https: private key")
    ] = None,
    ctl_htpasswd: Annotated[
        str | None, typer.Option(help="htpasswd file: the control API requires Basic auth")
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            help="HTTP Basic user for --dial; password: --password-file, "
            "$WSNET_PASSWORD or a prompt"
        ),
    ] = None,
    password_file: Annotated[
        str | None, typer.Option(help="file holding the --user password (first line)")
    ] = None,
    proxy: Annotated[
        str | None,
        typer.Option(
            help="http://[user:pass@]host:port proxy for --dial, or 'none' "
            "(default: $https_proxy / $http_proxy)"
        ),
    ] = None,
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
        tls_cert, tls_key, ca_file, insecure, cert, key, ctl_tls_cert, ctl_tls_key,
        ctl_htpasswd, user, password_file, proxy,
    )  # fmt: skip
    try:
        cfg, loaded = prepare(opts)
        logsetup.configure(debug, log_config)
        tune_malloc()
        _run_loop(serve_forever(cfg, loaded, lambda: reconfigure(opts, loaded)))
    except (WsnetError, ConfigError) as exc:
        raise fail(str(exc)) from None


def _run_loop(coro: Any) -> None:
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


@app.command("plugins")
def plugins_cmd(
    json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List installed plugins with version, hooks and the commands they add."""
    commands = _commands_by_plugin()
    rows = [
        {
            "name": p.name,
            "version": p.version,
            "distribution": p.distribution,
            "hooks": ", ".join(h.removeprefix("wsnet_") for h in p.hooks),
            "commands": ", ".join(commands.get(p.name, [])),
            "error": p.error,
        }
        for p in describe_installed()
    ]
    typer.echo(
        json.dumps(rows, indent=2) if json_out else render(rows) if rows else "no plugins installed"
    )


@app.command()
def version() -> None:
    """Print the wsnet version."""
    typer.echo(f"wsnet {__version__}")


_PROVIDED: dict[str, list[str]] = {}


def _commands_by_plugin() -> dict[str, list[str]]:
    return _PROVIDED


def add_plugin_commands(root: typer.Typer) -> None:
    """Let every installed plugin add commands; a broken plugin is named, not fatal."""
    pm, broken = load_for_cli()
    for impl in pm.hook.wsnet_register_commands.get_hookimpls():
        before = {id(c) for c in root.registered_commands} | {id(g) for g in root.registered_groups}
        try:
            impl.function(app=root)
        except Exception as exc:
            broken[impl.plugin_name] = f"{type(exc).__name__}: {exc}"
            continue
        new = [
            c.name or getattr(c.callback, "__name__", "?")
            for c in root.registered_commands
            if id(c) not in before
        ]
        new += [g.name or "?" for g in root.registered_groups if id(g) not in before]
        _PROVIDED[impl.plugin_name] = [str(n) for n in new]
    for plugin, error in broken.items():
        typer.echo(
            f"wsnet: warning: plugin {plugin!r} is broken and was skipped: {error}", err=True
        )


def main() -> None:
    if sys.argv[1:2] == ["run"]:
        # A SIGHUP before the node is up (a reload racing the start) must not end it; the
        # event loop takes it over once it runs (a Python handler: children do not inherit).
        signal.signal(signal.SIGHUP, lambda signum, frame: None)
    add_plugin_commands(app)
    app(prog_name="wsnet")


if __name__ == "__main__":  # pragma: no cover
    main()
