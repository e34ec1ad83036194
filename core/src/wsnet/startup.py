"""What `wsnet run` checks before anything starts: the config file, the flags on top of it
(the dialling ones are the ws transport's: wsnet/transport/ws/flags.py), the plugins and
their sections.  One function, ``prepare``, so that start-up, SIGHUP
(``reconfigure``, with the plugins already loaded) and the tests check exactly the same.

Every bad value ends here as a ConfigError naming the file and key, or the flag.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import (
    Config,
    DialConfig,
    ListenConfig,
    Section,
    check_dial_url,
    check_listen_path,
    check_port,
    host_port,
    is_loopback,
    load_file,
    parse,
)
from .errors import ConfigError, PluginError
from .plugins import Plugins, installed, load
from .protocol import NODE_NAME_RE
from .redact import redact_url
from .transport.ws.flags import DialFlags, apply_dial_flags

FLAGS = "command line"


@dataclass(slots=True)
class RunOptions:
    """The options of `wsnet run` that shape the node's Config (not logging)."""

    config: Path | None = None
    plugins: str | None = None
    name: str | None = None
    listen: str | None = None
    path: str | None = None
    dial: list[str] = field(default_factory=list)
    ctl_host: str | None = None
    ctl_port: str | None = None
    ctl_allow_remote: bool = False
    tls_cert: str | None = None
    tls_key: str | None = None
    ctl_tls_cert: str | None = None
    ctl_tls_key: str | None = None
    ctl_htpasswd: str | None = None
    # The ws/wss transport's flags (--ca-file, --cert, --user, --proxy...), for --dial.
    dial_flags: DialFlags = field(default_factory=DialFlags)


def prepare(opts: RunOptions) -> tuple[Config, Plugins]:
    """The validated Config and the loaded plugins; raises ConfigError."""
    cfg = build_config(opts)
    plugins = load_plugins(cfg, opts.plugins)
    configure(cfg, plugins)
    return cfg, plugins


def reconfigure(opts: RunOptions, plugins: Plugins) -> Config:
    """The file read again with the same flags, checked by the plugins already loaded."""
    cfg = build_config(opts)
    configure(cfg, plugins)
    return cfg


def configure(cfg: Config, plugins: Plugins) -> None:
    plugins.calls.configure(cfg)
    cfg.check_unclaimed(plugins.names, sorted(installed()))


def load_plugins(cfg: Config, flag: str | None) -> Plugins:
    """Load --plugins, else [node] plugins; an error names where the list came from."""
    names, where = (
        (flag.split(","), (FLAGS, "--plugins"))
        if flag is not None
        else (cfg.plugins or [], (cfg.source, "[node] plugins"))
    )
    if cfg.control.htpasswd and HTPASSWD_PLUGIN not in names:
        names = [*names, _shorthand_plugin(cfg)]  # not into cfg.plugins (SIGHUP compares it)
    try:
        return load(names)
    except PluginError as exc:
        raise ConfigError(*where, str(exc)) from None


# [control] htpasswd / --ctl-htpasswd are a shorthand for this plugin's authenticator of
# the "control" scope: it is loaded for them, as a user of the shorthand never named it.
HTPASSWD_PLUGIN = "auth_htpasswd"


def _shorthand_plugin(cfg: Config) -> str:
    if HTPASSWD_PLUGIN not in installed():
        raise ConfigError(*cfg.control.htpasswd_origin,
                          f"needs the plugin {HTPASSWD_PLUGIN}, which is not installed "
                          "(pip install wsnet-auth-htpasswd)")  # fmt: skip
    return HTPASSWD_PLUGIN


def build_config(opts: RunOptions) -> Config:
    """Config file (if any) with the command-line options on top."""
    raw: dict[str, Any] = dict(load_file(opts.config)) if opts.config else {}
    cfg = parse(raw, str(opts.config) if opts.config else "defaults")
    _apply_node_flags(cfg, opts)
    apply_server_tls_flags(cfg, opts)
    apply_dial_flags(cfg, opts.dial_flags, len(opts.dial))
    return cfg


def _apply_node_flags(cfg: Config, opts: RunOptions) -> None:
    flags = Section({}, FLAGS, "")
    if opts.name is not None:
        if not NODE_NAME_RE.match(opts.name):
            raise flags.error("--name", f"invalid node name {opts.name!r}")
        cfg.name = opts.name
    if opts.listen is not None:
        if opts.listen == "none":
            cfg.listen = None
        else:
            host, port = host_port(flags, "--listen", opts.listen)
            cfg.listen = dataclasses.replace(cfg.listen or ListenConfig(), host=host, port=port)
    if opts.path is not None:
        path = check_listen_path(flags, "--path", opts.path)
        if cfg.listen is not None:
            cfg.listen = dataclasses.replace(cfg.listen, path=path)
    for url in opts.dial:
        if not url.startswith(("ws://", "wss://")):
            raise flags.error("--dial", f"expected a ws:// or wss:// URL, got {redact_url(url)!r}")
        check_dial_url(flags, "--dial", url)
        cfg.dial.append(DialConfig(url=url))
    if opts.ctl_host is not None or opts.ctl_port is not None:
        host = opts.ctl_host if opts.ctl_host is not None else cfg.control.host
        if not is_loopback(host) and not opts.ctl_allow_remote:
            raise flags.error(
                "--ctl-host",
                f"{host!r} is not a loopback address; add "
                "--ctl-allow-remote to expose the control API",
            )
        port = cfg.control.port
        if opts.ctl_port is not None:
            port = check_port(flags, "--ctl-port", opts.ctl_port, lo=0)
        cfg.control = dataclasses.replace(cfg.control, host=host, port=port)


def apply_server_tls_flags(cfg: Config, f: RunOptions) -> None:
    """Put the listener's and the control API's TLS flags on top of ``cfg``; errors name
    the flag and the file.  (The dialling side's are the transport's: apply_dial_flags.)"""
    from .tls import TlsFileError, server_context

    flags = Section({}, FLAGS, "")

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
    if f.ctl_htpasswd is not None:  # the file is checked by the plugin (load_plugins)
        if not f.ctl_htpasswd:
            raise flags.error("--ctl-htpasswd", "expected an htpasswd file, got ''")
        cfg.control = dataclasses.replace(cfg.control, htpasswd=f.ctl_htpasswd,
                                          htpasswd_origin=(FLAGS, "--ctl-htpasswd"))  # fmt: skip
