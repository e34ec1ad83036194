"""TOML configuration: typed access that names file and key in every error.

The core validates its own sections (node, listen, dial, control, keepalive,
reconnect, limits) into a NodeConfig; each plugin validates the section named
after it from its wsnet_configure hook, through the same Section helper.  A
section no loaded plugin reads is an error too, so a typo never goes unnoticed.
"""

from __future__ import annotations

import ipaddress
import math
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .protocol import NODE_NAME_RE, Keepalive, Limits
from .redact import redact_url
from .section import (
    MAX_SECONDS,
    Section,
    check_dial_url,
    check_host,
    check_listen_path,
    check_port,
    host_port,
)
from .stash import Stash

__all__ = [
    "MAX_SECONDS",
    "Config",
    "ControlConfig",
    "DialConfig",
    "ListenConfig",
    "ReconnectConfig",
    "Section",
    "check_dial_schemes",
    "check_dial_url",
    "check_host",
    "check_listen_path",
    "check_port",
    "host_port",
    "is_loopback",
    "load_file",
    "parse",
]
CORE_SECTIONS = ("node", "listen", "dial", "control", "keepalive", "reconnect", "limits")
DIAL_KEYS = frozenset({"url", "peer"})  # the keys of a [[dial]] entry the core itself reads
# Transport options a [[dial]] entry may carry besides DIAL_KEYS: the one list of them, read
# by Config.check_unclaimed.  Each transport adds its own when imported (the built-in ws/wss
# transport from its option model, wsnet/transport/ws/options.py; a transport plugin with
# DIAL_OPTIONS.update(...) at import or in wsnet_configure), before that check.
DIAL_OPTIONS: set[str] = set()


def check_dial_schemes(cfg: Config, schemes: Iterable[str]) -> None:
    """Every [[dial]] URL has a transport (plugins register them with the node)."""
    have = set(schemes)
    file_dials = len(cfg._dial_sections)
    for i, dial in enumerate(cfg.dial, 1):
        scheme = dial.url.partition("://")[0]
        if scheme not in have:
            source, key = (cfg.source, f"[[dial]] #{i} url")
            if i > file_dials:
                source, key = "command line", "--dial"
            raise ConfigError(
                source, key, f"no transport for {scheme}:// (have: {', '.join(sorted(have))})"
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ListenConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    path: str = "/wsnet"
    tls_cert: str = ""  # both set: serve wss:// (checked at parse time, see wsnet.tls)
    tls_key: str = ""
    # before trust (docs/security.md): the upgrade's deadline, and caps on such connections
    handshake_timeout: float = 10.0
    max_pending: int = 1024
    max_pending_per_source: int = 64
    # true: no start-up warning for a non-loopback listener without an authenticator
    allow_anonymous: bool = False


@dataclass(frozen=True, slots=True)
class DialConfig:
    url: str
    peer: str = ""  # expected peer node name; empty accepts any
    options: Mapping[str, Any] = field(default_factory=dict)  # for transports/plugins


@dataclass(frozen=True, slots=True)
class ControlConfig:
    host: str = "127.0.0.1"
    port: int = 7867
    enabled: bool = True
    tls_cert: str = ""  # both set: https://
    tls_key: str = ""
    # Shorthand for an authenticator of the "control" scope: every request needs HTTP Basic
    # credentials from this file (checked and served by the plugin auth_htpasswd, which
    # startup loads for it; ``htpasswd_origin`` is the (source, key) its errors name).
    htpasswd: str = ""
    request_timeout: float = 10.0  # before trust, as in ListenConfig
    max_pending: int = 1024
    max_pending_per_source: int = 64
    # Run-time dial options that read local files (password_file, ca/cert/key_file), for
    # callers of an API without htpasswd; with it, [authz] call grants "dial:files".
    allow_file_options: bool = False
    htpasswd_origin: tuple[str, str] = field(
        default=("defaults", "[control] htpasswd"), compare=False
    )


@dataclass(frozen=True, slots=True)
class ReconnectConfig:
    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 2.0


@dataclass(slots=True)
class Config:
    """The whole configuration: the core's parsed part plus raw plugin sections."""

    source: str = "defaults"
    raw: Mapping[str, Any] = field(default_factory=dict)
    name: str = "wsnet"
    plugins: list[str] | None = None  # None: not given (use --plugins or none)
    shutdown_grace: float = 5.0  # seconds SIGTERM/SIGINT give links to send and close
    listen: ListenConfig | None = field(default_factory=ListenConfig)
    dial: list[DialConfig] = field(default_factory=list)
    control: ControlConfig = field(default_factory=ControlConfig)
    keepalive: Keepalive = field(default_factory=Keepalive)
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)
    limits: Limits = field(default_factory=Limits)
    stash: Stash = field(default_factory=Stash)
    _claimed: set[str] = field(default_factory=set)
    _sections: dict[str, Section] = field(default_factory=dict)
    _dial_sections: list[Section] = field(default_factory=list)

    def section(self, name: str) -> Section:
        """The table [name] for a plugin to validate; an empty one if absent."""
        self._claimed.add(name)
        if name not in self._sections:
            data = self.raw.get(name, {})
            if not isinstance(data, dict):
                raise ConfigError(self.source, name, f"expected a table [{name}], got {data!r}")
            self._sections[name] = Section(data, self.source, f"[{name}]")
        return self._sections[name]

    def check_unclaimed(self, loaded: list[str], installed: list[str]) -> None:
        """Reject sections and [[dial]] options that no loaded part reads (after configure)."""
        for dial in self._dial_sections:
            dial._seen.update(DIAL_KEYS | DIAL_OPTIONS)
            dial.done()
        for name in self.raw:
            if name not in CORE_SECTIONS and name not in self._claimed:
                raise ConfigError(
                    self.source,
                    f"[{name}]",
                    f"no loaded plugin uses this section (loaded: {', '.join(loaded) or 'none'};"
                    f" installed: {', '.join(installed) or 'none'})",
                )


def load_file(path: Path) -> Mapping[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "-", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            str(path), "-", f"not UTF-8 text (byte {exc.start + 1}, line {line}): TOML is UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", f"not valid TOML: {exc}") from None


def parse(raw: Mapping[str, Any], source: str) -> Config:
    """Validate the core sections of ``raw``; plugin sections stay raw for the plugins."""
    cfg = Config(source=source, raw=raw)
    root = Section(raw, source, "")
    for key, value in raw.items():
        if key in CORE_SECTIONS and key != "dial" and not isinstance(value, dict):
            raise root.error(f"[{key}]", f"expected a table, got {value!r}")
    _parse_node(root.table("node"), cfg)
    _parse_listen(raw, root, cfg)
    cfg._dial_sections = root.tables("dial")
    cfg.dial = [_parse_dial(s) for s in cfg._dial_sections]
    _parse_control(root.table("control"), cfg)
    _parse_keepalive(root.table("keepalive"), cfg)
    _parse_reconnect(root.table("reconnect"), cfg)
    _parse_limits(root.table("limits"), cfg)
    return cfg


def _parse_node(s: Section, cfg: Config) -> None:
    name = s.get_str("name", cfg.name)
    if not NODE_NAME_RE.match(name):
        raise s.error(
            "name",
            "expected 1-63 letters, digits, '.', '_' or '-' "
            f"starting with a letter or digit, got {name!r}",
        )
    cfg.name = name
    cfg.plugins = s.get_str_list("plugins", None)
    cfg.shutdown_grace = s.get_seconds("shutdown_grace", cfg.shutdown_grace, hi=600.0)
    s.done()


def _parse_listen(raw: Mapping[str, Any], root: Section, cfg: Config) -> None:
    s = root.table("listen")
    if not s.get_bool("enabled", True):
        cfg.listen = None
        # kept for when it is enabled again
        s._seen.update(("host", "port", "path", "tls_cert", "tls_key", "allow_anonymous",
                        *PENDING_KEYS))  # fmt: skip
        s.done()
        return
    path = check_listen_path(s, "path", s.get_str("path", "/wsnet"))
    cert, key = _tls_pair(s)
    host = check_host(s, "host", s.get_str("host", "127.0.0.1"))
    cfg.listen = ListenConfig(
        host, s.get_int("port", 7860, lo=0, hi=65535), path, cert, key,
        *_pending_limits(s, "handshake_timeout"), s.get_bool("allow_anonymous", False),
    )  # fmt: skip
    s.done()


PENDING_KEYS = ("handshake_timeout", "max_pending", "max_pending_per_source")


def _pending_limits(s: Section, timeout_key: str) -> tuple[float, int, int]:
    """A listener's deadline and caps for connections not trusted yet (docs/security.md)."""
    timeout = s.get_float(timeout_key, 10.0)
    if not math.isfinite(timeout):
        raise s.error(timeout_key, f"expected a finite number of seconds > 0, got {timeout}")
    return (
        timeout,
        s.get_int("max_pending", 1024, lo=1, hi=1 << 20),
        s.get_int("max_pending_per_source", 64, lo=1, hi=1 << 20),
    )


def _tls_pair(s: Section) -> tuple[str, str]:
    """tls_cert and tls_key of a server section: both or neither, usable by OpenSSL."""
    from .tls import TlsFileError, server_context

    cert, key = s.get_str("tls_cert", ""), s.get_str("tls_key", "")
    if bool(cert) != bool(key):
        missing = "tls_key" if cert else "tls_cert"
        raise s.error(missing, "required when " + ("tls_cert" if cert else "tls_key") + " is set")
    if cert:
        try:
            server_context(cert, key)
        except TlsFileError as exc:
            raise s.error("tls_key" if exc.role == "key" else "tls_cert", str(exc)) from None
    return cert, key


def _parse_dial(s: Section) -> DialConfig:
    url = s.get_str("url")
    if not url.startswith(("ws://", "wss://")) and "://" not in url:
        raise s.error("url", f"expected a ws:// or wss:// URL, got {redact_url(url)!r}")
    if url.startswith(("ws://", "wss://")):
        check_dial_url(s, "url", url)
    peer = s.get_str("peer", "")
    if peer and not NODE_NAME_RE.match(peer):
        raise s.error("peer", f"expected a node name (or nothing: any peer), got {peer!r}")
    # The options belong to the transport; unknown ones are rejected by check_unclaimed,
    # once plugins (which may add transports and options) are loaded.
    options = {k: v for k, v in s.data.items() if k not in DIAL_KEYS}
    return DialConfig(url=url, peer=peer, options=options)


def _parse_control(s: Section, cfg: Config) -> None:
    host = check_host(s, "host", s.get_str("host", "127.0.0.1"))
    allow_remote = s.get_bool("allow_remote", False)
    if not is_loopback(host) and not allow_remote:
        raise s.error(
            "host",
            f"{host!r} is not a loopback address; the control API can "
            "reconfigure this node, so set allow_remote = true to bind it there",
        )
    port, enabled = s.get_int("port", 7867, lo=0, hi=65535), s.get_bool("enabled", True)
    cert, key = _tls_pair(s)
    htpasswd = s.get_str("htpasswd", "")  # its file is checked by the plugin auth_htpasswd
    files = s.get_bool("allow_file_options", False)
    cfg.control = ControlConfig(host, port, enabled, cert, key, htpasswd,
                                *_pending_limits(s, "request_timeout"),
                                allow_file_options=files,
                                htpasswd_origin=(s.source, "[control] htpasswd"))  # fmt: skip
    s.done()


def _parse_keepalive(s: Section, cfg: Config) -> None:
    interval = s.get_seconds("interval", 1.0)
    timeout = s.get_seconds("timeout", 4.0)
    if timeout <= interval:
        raise s.error("timeout", f"expected more than interval ({interval}), got {timeout}")
    cfg.keepalive = Keepalive(interval, timeout, s.get_seconds("hello_timeout", 10.0))
    s.done()


def _parse_reconnect(s: Section, cfg: Config) -> None:
    initial = s.get_seconds("initial", 0.5)
    maximum = s.get_seconds("max", 10.0)
    if maximum < initial:
        raise s.error("max", f"expected at least initial ({initial}), got {maximum}")
    factor = s.get_float("factor", 2.0, lo=1.0, hi=100.0)
    cfg.reconnect = ReconnectConfig(initial, maximum, factor)
    s.done()


def _parse_limits(s: Section, cfg: Config) -> None:
    d = Limits()
    max_frame = s.get_int("max_frame", d.max_frame, lo=1024, hi=16 << 20)
    try:
        window = s.get_int("window", d.window, lo=1024, hi=2**31 - 1)
        max_window = s.get_int("max_window", max(d.max_window, window), lo=1024, hi=2**31 - 1)
        if max_window < window:
            raise s.error("max_window", f"expected at least window ({window}), got {max_window}")
        cfg.limits = Limits(
            window=window,
            max_window=max_window,
            window_budget=s.get_int("window_budget", d.window_budget, lo=0, hi=2**40),
            max_frame=max_frame,
            max_message=s.get_int(
                "max_message", max(d.max_message, max_frame + 4096), lo=2048, hi=64 << 20
            ),
            max_channels=s.get_int("max_channels", d.max_channels, lo=1, hi=1 << 20),
            max_channels_per_source=s.get_int(
                "max_channels_per_source", d.max_channels_per_source, lo=0, hi=1 << 20
            ),
            datagram_backlog=s.get_int("datagram_backlog", d.datagram_backlog, lo=0, hi=1 << 30),
            send_buffer=s.get_int("send_buffer", d.send_buffer, lo=max_frame, hi=1 << 30),
            link_buffer=s.get_int("link_buffer", d.link_buffer, lo=window, hi=1 << 40),
            control_backlog=s.get_int(
                "control_backlog", d.control_backlog, lo=64 * 1024, hi=1 << 30
            ),
            max_routes=s.get_int("max_routes", d.max_routes, lo=0, hi=1 << 20),
            route_interval=s.get_float("route_interval", d.route_interval, lo=0.0, hi=60.0),
        )
    except ValueError as exc:
        raise s.error("max_message", str(exc)) from None
    s.done()


def iter_sections(raw: Mapping[str, Any]) -> Iterator[str]:
    return (k for k in raw if k not in CORE_SECTIONS)
