"""Hook implementations of wsnet-websockify: ``[[websockify.bridge]]`` and the
``websockify`` control method; each bridge is a component of the node."""

from __future__ import annotations

import re
import ssl
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any

from wsnet import NODE_NAME_RE, Component, Config, ControlMethod, NodeAPI, Section, StashKey

from .bridges import Bridges
from .server import tls_context
from .spec import BridgeSpec, parse_listen, parse_target
from .tokens import TokenSourceError, load_source

BRIDGES: StashKey[tuple[BridgeSpec, ...]] = StashKey("websockify.bridges")
CONTROL_METHODS = ("websockify",)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COLUMNS = ("name", "listen", "target", "tokens", "tls", "active", "sessions", "refused")


def wsnet_configure(config: Config) -> None:
    s = config.section("websockify")
    tables = s.tables("bridge")
    s.done()
    specs = tuple(parse_bridge(t, i) for i, t in enumerate(tables, 1))
    seen: set[str] = set()
    for spec, t in zip(specs, tables, strict=True):
        if spec.name in seen:
            raise t.error("name", f"a second bridge named {spec.name!r}")
        seen.add(spec.name)
    config.stash[BRIDGES] = specs


def parse_bridge(t: Section, n: int) -> BridgeSpec:
    """One ``[[websockify.bridge]]`` table; ConfigError names the file and the key."""
    t.path = "[[websockify.bridge]]" + t.path.removeprefix("[[bridge]]")
    name = t.get_str("name", f"bridge{n}")
    if not NAME_RE.match(name):
        raise t.error("name", f"expected letters, digits, '_', '.', '-', got {name!r}")
    host, port = _checked(t, "listen", parse_listen, t.get_str("listen"))
    node = t.get_str("node", "")
    if node and not NODE_NAME_RE.match(node):
        raise t.error("node", f"not a node name: {node!r}")
    target_text = t.get_str("target", "")
    target = _checked(t, "target", parse_target, target_text, node) if target_text else None
    spec = BridgeSpec(
        name, host, port, target, node,
        token_plugin=t.get_str("token_plugin", ""), token_source=t.get_str("token_source", ""),
        host_token=t.get_bool("host_token", False), web=t.get_str("web", ""),
        cert=t.get_str("cert", ""), key=t.get_str("key", ""),
        ssl_only=t.get_bool("ssl_only", False), verify_client=t.get_bool("verify_client", False),
        cafile=t.get_str("cafile", ""),
        origins=tuple(o.rstrip("/") for o in t.get_str_list("origins", [])),
        auth=t.get_bool("auth", True), heartbeat=t.get_seconds("heartbeat", 0.0, zero=True),
        idle_timeout=t.get_seconds("idle_timeout", 0.0, zero=True),
        session_timeout=t.get_seconds("session_timeout", 0.0, zero=True),
        record=t.get_str("record", ""), wrap=tuple(t.get_str_list("wrap", [])),
        wrap_mode=t.get_str("wrap_mode", "exit"), run_once=t.get_bool("run_once", False),
        exit_idle=t.get_seconds("exit_when_idle", 0.0, zero=True),
        exit_timeout=t.get_seconds("exit_unless_connected", 0.0, zero=True),
        handshake_timeout=t.get_seconds("handshake_timeout", 10.0),
        max_pending=t.get_int("max_pending", 1024, lo=1, hi=1 << 20),
        max_pending_per_source=t.get_int("max_pending_per_source", 64, lo=1, hi=1 << 20),
        max_message=t.get_int("max_message", 256 * 1024, lo=1024, hi=64 << 20),
    )  # fmt: skip
    t.done()
    check_spec(spec, t)
    return spec


def _checked(t: Section, key: str, parse: Any, *args: Any) -> Any:
    try:
        return parse(*args)
    except ValueError as exc:
        raise t.error(key, str(exc)) from None


def check_spec(spec: BridgeSpec, t: Section) -> None:
    """What can be checked before anything binds: combinations, files, the token source."""
    bad = spec.check()
    if bad is not None:
        raise t.error(*bad)
    if spec.web and not Path(spec.web).is_dir():
        raise t.error("web", f"{spec.web}: not a directory")
    if spec.cert:
        try:
            tls_context(spec)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise t.error("cert", f"cannot load {spec.cert}: {exc}") from None
    if spec.token_plugin:
        try:
            load_source(spec.token_plugin, spec.token_source)
        except TokenSourceError as exc:
            raise t.error("token_source", str(exc)) from None
    if spec.record and not Path(spec.record).resolve().parent.is_dir():
        raise t.error("record", f"{spec.record}: its directory does not exist")


def wsnet_node_plugin(node: NodeAPI) -> WebsockifyPlugin:
    return WebsockifyPlugin(node)


class WebsockifyPlugin:
    """The bridges of one node (the core registers this object's wsnet_* methods)."""

    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        self.bridges = Bridges(node, node.config.stash.get(BRIDGES, ()))

    def wsnet_register_components(self) -> Iterable[Component]:
        return [self.bridges]

    def wsnet_reload(self, config: Config) -> Awaitable[None] | None:
        """SIGHUP: bridges added, removed or changed apply now (bridges.py)."""
        new = config.stash.get(BRIDGES, ())
        if new == self.node.config.stash.get(BRIDGES, ()):
            return None
        self.node.config.stash[BRIDGES] = new
        return self.bridges.apply(new)

    def wsnet_register_control_methods(self) -> Iterable[ControlMethod]:
        async def websockify() -> list[dict[str, Any]]:
            return self.bridges.info()

        help_ = "websockify bridges: listen, target or tokens, TLS, sessions, bytes"
        return [ControlMethod("websockify", websockify, help_, COLUMNS)]
