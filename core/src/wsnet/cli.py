"""The `wsnet` command line: run, ctl, plugins, plus every plugin's commands."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from . import __version__
from .config import Config, DialConfig, ListenConfig, host_port, is_loopback, load_file, parse
from .config import Section as _Section
from .ctl import DEFAULT_URL, PASSWORD_ENV, CtlError, CtlOptions, build_params, call, render
from .errors import ConfigError, PluginError, WsnetError
from .plugins import Plugins, describe_installed, installed, load, load_for_cli
from .protocol import NODE_NAME_RE

app = typer.Typer(
    help="wsnet: carry Ethernet, TCP and HTTP over WebSocket links between nodes.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"wsnet: error: {message}", err=True)
    return typer.Exit(code)


def build_config(
    config: Path | None,
    name: str | None,
    listen: str | None,
    path: str | None,
    dial: list[str],
    ctl_host: str | None,
    ctl_port: int | None,
    ctl_allow_remote: bool,
) -> Config:
    """Config file (if any) with command-line options on top; errors name file/option."""
    raw: dict[str, Any] = dict(load_file(config)) if config else {}
    cfg = parse(raw, str(config) if config else "defaults")
    flags = _Section({}, "command line", "")
    if name is not None:
        if not NODE_NAME_RE.match(name):
            raise flags.error("--name", f"invalid node name {name!r}")
        cfg.name = name
    if listen is not None:
        if listen == "none":
            cfg.listen = None
        else:
            host, port = host_port(flags, "--listen", listen)
            cfg.listen = dataclasses.replace(cfg.listen or ListenConfig(), host=host, port=port)
    if path is not None and cfg.listen is not None:
        cfg.listen = dataclasses.replace(cfg.listen, path=path)
    for url in dial:
        if not url.startswith(("ws://", "wss://")):
            raise flags.error("--dial", f"expected a ws:// or wss:// URL, got {url!r}")
        cfg.dial.append(DialConfig(url=url))
    if ctl_host is not None or ctl_port is not None:
        host = ctl_host if ctl_host is not None else cfg.control.host
        if not is_loopback(host) and not ctl_allow_remote:
            raise flags.error(
                "--ctl-host",
                f"{host!r} is not a loopback address; add "
                "--ctl-allow-remote to expose the control API",
            )
        port = ctl_port if ctl_port is not None else cfg.control.port
        cfg.control = dataclasses.replace(cfg.control, host=host, port=port)
    return cfg


@dataclasses.dataclass(frozen=True, slots=True)
class TlsFlags:
    """The TLS and control-API protection flags of `wsnet run`."""

    tls_cert: str | None = None
    tls_key: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    cert: str | None = None
    key: str | None = None
    ctl_tls_cert: str | None = None
    ctl_tls_key: str | None = None
    ctl_htpasswd: str | None = None


def apply_tls_flags(cfg: Config, f: TlsFlags, dial_urls: list[str]) -> None:
    """Put the TLS flags on top of ``cfg``; errors name the flag and the file."""
    from .config import check_htpasswd
    from .tls import TlsFileError, client_context, server_context

    flags = _Section({}, "command line", "")

    def server_pair(cert: str | None, key: str | None, names: tuple[str, str]) -> None:
        if (cert is None) != (key is None):
            raise flags.error(
                names[1] if cert else names[0], f"required with {names[0] if cert else names[1]}"
            )
        if cert is not None and key is not None:
            try:
                server_context(cert, key)
            except TlsFileError as exc:
                raise flags.error(names[exc.role == "key"], str(exc)) from None

    server_pair(f.tls_cert, f.tls_key, ("--tls-cert", "--tls-key"))
    if f.tls_cert is not None and f.tls_key is not None:
        if cfg.listen is None:
            raise flags.error("--tls-cert", "this node does not listen (--listen none)")
        cfg.listen = dataclasses.replace(cfg.listen, tls_cert=f.tls_cert, tls_key=f.tls_key)
    server_pair(f.ctl_tls_cert, f.ctl_tls_key, ("--ctl-tls-cert", "--ctl-tls-key"))
    if f.ctl_tls_cert is not None and f.ctl_tls_key is not None:
        cfg.control = dataclasses.replace(
            cfg.control, tls_cert=f.ctl_tls_cert, tls_key=f.ctl_tls_key
        )
    if f.ctl_htpasswd is not None:
        check_htpasswd(f.ctl_htpasswd, flags, "--ctl-htpasswd")
        cfg.control = dataclasses.replace(cfg.control, htpasswd=f.ctl_htpasswd)
    options = {
        k: v for k, v in (("ca_file", f.ca_file), ("cert_file", f.cert), ("key_file", f.key)) if v
    } | ({"insecure": True} if f.insecure else {})
    if not options:
        return
    if not dial_urls:
        flag = {"ca_file": "--ca-file", "cert_file": "--cert", "key_file": "--key"}
        raise flags.error(
            flag.get(next(iter(options)), "--insecure"),
            "applies to --dial URLs and none is given (in a config file, set it per [[dial]])",
        )
    if f.key and not f.cert:
        raise flags.error("--key", "needs --cert (the client certificate)")
    try:
        client_context(ca_file=f.ca_file or "", cert_file=f.cert or "", key_file=f.key or "")
    except TlsFileError as exc:
        raise flags.error(
            {"ca": "--ca-file", "cert": "--cert", "key": "--key"}[exc.role], str(exc)
        ) from None
    # The --dial entries are the last ones (build_config appends them after the file's).
    for i in range(len(cfg.dial) - len(dial_urls), len(cfg.dial)):
        entry = cfg.dial[i]
        cfg.dial[i] = dataclasses.replace(entry, options={**entry.options, **options})


def apply_dial_flags(
    cfg: Config, user: str | None, password_file: str | None, proxy: str | None, urls: list[str]
) -> None:
    """--user/--password-file/--proxy onto the --dial entries; the password never from argv."""
    from .credentials import PASSWORD_ENV as DIAL_PASSWORD_ENV
    from .credentials import read_password_file
    from .proxy import parse_proxy_url

    flags = _Section({}, "command line", "")
    given = [(n, v) for n, v in (("--user", user), ("--password-file", password_file),
                                 ("--proxy", proxy)) if v is not None]  # fmt: skip
    if not given:
        return
    if not urls:
        raise flags.error(given[0][0], "applies to --dial URLs and none is given")
    options: dict[str, Any] = {}
    if proxy is not None:
        if proxy != "none":
            try:
                parse_proxy_url(proxy)
            except ValueError as exc:
                raise flags.error("--proxy", str(exc)) from None
        options["proxy"] = proxy
    if password_file is not None:
        if user is None:
            raise flags.error("--password-file", "needs --user")
        try:
            read_password_file(password_file)
        except ValueError as exc:
            raise flags.error("--password-file", str(exc)) from None
        options["password_file"] = password_file
    if user is not None:
        options["user"] = user
        if password_file is None and not os.environ.get(DIAL_PASSWORD_ENV):
            options["password"] = _prompt_password(flags, user)
    for i in range(len(cfg.dial) - len(urls), len(cfg.dial)):
        entry = cfg.dial[i]
        cfg.dial[i] = dataclasses.replace(entry, options={**entry.options, **options})


def _prompt_password(flags: _Section, user: str) -> str:
    if not sys.stdin.isatty():
        raise flags.error(
            "--user", f"no password for {user!r}: use --password-file or set WSNET_PASSWORD "
            "(there is no terminal to ask on)",
        )  # fmt: skip
    return getpass.getpass(f"password for {user}: ")


@app.command()
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")] = None,
    plugins: Annotated[str | None, typer.Option(help="plugins to load, comma-separated")] = None,
    name: Annotated[str | None, typer.Option(help="node name (unique among linked nodes)")] = None,
    listen: Annotated[str | None, typer.Option(help="HOST:PORT for links, or 'none'")] = None,
    path: Annotated[str | None, typer.Option(help="URL path of the link endpoint")] = None,
    dial: Annotated[list[str] | None, typer.Option(help="ws(s):// URL to keep a link to")] = None,
    ctl_host: Annotated[str | None, typer.Option(help="control API address")] = None,
    ctl_port: Annotated[int | None, typer.Option(help="control API port")] = None,
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
    """Run a node until interrupted.  With no options: a node on 127.0.0.1:7860."""
    from . import logsetup
    from .runtime import serve_forever
    from .tuning import tune_malloc

    try:
        cfg = build_config(
            config, name, listen, path, dial or [], ctl_host, ctl_port, ctl_allow_remote
        )
        tls_flags = TlsFlags(
            tls_cert, tls_key, ca_file, insecure, cert, key, ctl_tls_cert, ctl_tls_key, ctl_htpasswd
        )
        apply_tls_flags(cfg, tls_flags, dial or [])
        apply_dial_flags(cfg, user, password_file, proxy, dial or [])
        loaded = _load_plugins(cfg, plugins)
        loaded.hook.wsnet_configure(config=cfg)
        cfg.check_unclaimed(loaded.names, sorted(installed()))
        logsetup.configure(debug, log_config)
        tune_malloc()
        _run_loop(serve_forever(cfg, loaded))
    except (WsnetError, ConfigError) as exc:
        raise fail(str(exc)) from None


def _load_plugins(cfg: Config, flag: str | None) -> Plugins:
    """Load --plugins, else [node] plugins; an error names where the list came from."""
    names, where = (
        (flag.split(","), ("command line", "--plugins"))
        if flag is not None
        else (cfg.plugins or [], (cfg.source, "[node] plugins"))
    )
    try:
        return load(names)
    except PluginError as exc:
        raise ConfigError(*where, str(exc)) from None


def _run_loop(coro: Any) -> None:
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a dependency; kept for odd platforms
        runner = asyncio.Runner()
    with runner:
        runner.run(coro)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ctl(
    method: Annotated[str, typer.Argument(help="method, e.g. status, links, routes, help")],
    args: Annotated[list[str] | None, typer.Argument(help="VALUE or NAME=VALUE")] = None,
    ctlurl: Annotated[
        str, typer.Option(envvar="WSNET_CTLURL", help="control API URL")
    ] = DEFAULT_URL,
    json_out: Annotated[bool, typer.Option("--json", help="print the JSON result")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the reply")] = 60.0,
    ctluser: Annotated[
        str | None,
        typer.Option(
            envvar="WSNET_CTLUSER",
            help=f"user for HTTP Basic auth; password from ${PASSWORD_ENV} or a prompt",
        ),
    ] = None,
    ca_file: Annotated[
        str | None, typer.Option(help="CA bundle to verify an https control API")
    ] = None,
    insecure: Annotated[
        bool, typer.Option(help="do not verify an https control API's certificate")
    ] = False,
) -> None:
    """Call a control-API method of a running node (`wsnet ctl help` lists them)."""
    try:
        opts = CtlOptions(ctluser or "", _ctl_password(ctluser), ca_file or "", insecure)
        params = build_params(ctlurl, method, args or [], timeout, opts)
        result = call(ctlurl, method, params, timeout=timeout, options=opts)
    except CtlError as exc:
        typer.echo(f"wsnet ctl: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_out:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        text = render(result)
        if text:
            typer.echo(text)


def _ctl_password(user: str | None) -> str:
    """From the environment, else asked on the terminal: never from argv (ps shows argv)."""
    if not user:
        return ""
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    import getpass

    try:
        return getpass.getpass(f"control API password for {user}: ")
    except (EOFError, KeyboardInterrupt):
        raise CtlError(
            f"no password for {user!r} (set ${PASSWORD_ENV} or run on a terminal)"
        ) from None


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
    add_plugin_commands(app)
    app(prog_name="wsnet")


if __name__ == "__main__":  # pragma: no cover
    main()
