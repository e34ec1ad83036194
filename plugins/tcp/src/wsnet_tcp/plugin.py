"""Hook implementations of wsnet-tcp: ``[tcp]`` config, the ``tcp`` service, the
tunnel manager, ``tunnels``/``addtunnel``/``deltunnel`` and ``wsnet tcp``."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any

from wsnet import (
    Allowlist,
    Component,
    Config,
    ControlError,
    ControlMethod,
    Metric,
    NodeAPI,
    Observer,
    OpenRequest,
    Principal,
    Section,
    Service,
    StashKey,
    WsnetError,
)

from . import reload
from .cli import COLUMNS
from .manager import Manager, Settings
from .metrics import tunnel_metrics
from .service import TcpService
from .spec import NAME_RE, SpecError, TunnelSpec, make_spec
from .targets import relay_denial

SETTINGS: StashKey[Settings] = StashKey("tcp.settings")
# What wsnet_register_control_methods registers: a node without this plugin names it
# for a call of one of these (wsnet.plugins.method_providers).
CONTROL_METHODS = ("tunnels", "addtunnel", "deltunnel")


def wsnet_configure(config: Config) -> None:
    s = config.section("tcp")
    pending = s.get_seconds("pending_timeout", 0.0, zero=True)  # 0: refuse at once
    connect_timeout = s.get_seconds("connect_timeout", 10.0)
    try:
        targets = Allowlist.parse(s.get_str_list("targets", []))
    except ValueError as exc:  # "entry #2 '10.0.0.*': ... write 10.0.0.0/24"
        raise s.error("targets", str(exc)) from None
    tables = s.tables("tunnel")
    tunnels = tuple(_tunnel(t) for t in tables)
    s.done()
    seen: set[tuple[str, str]] = set()
    for spec, t in zip(tunnels, tables, strict=True):
        if spec.key in seen:
            raise t.error("name", f"a second {spec.role} tunnel named {spec.name!r}")
        seen.add(spec.key)
    config.stash[SETTINGS] = Settings(pending, connect_timeout, targets, tunnels)


def _tunnel(t: Section) -> TunnelSpec:
    t.path = "[[tcp.tunnel]]" + t.path.removeprefix("[[tunnel]]")
    keys = {k: t.get_str(k, "") for k in ("listen", "connect", "peer", "target")}
    name = t.get_str("name")
    t.done()
    try:
        return make_spec(name, **keys)
    except SpecError as exc:
        raise t.error(exc.key, str(exc)) from None


def wsnet_node_plugin(node: NodeAPI) -> TcpPlugin:
    return TcpPlugin(node)


class TcpPlugin:
    """wsnet-tcp on one node: the tunnel manager, created once and hooked in once (the
    core registers this object: its wsnet_* methods are hook implementations)."""

    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        self.manager = Manager(node, node.config.stash.get(SETTINGS, None) or Settings())

    def wsnet_register_services(self) -> Iterable[Service[Any]]:
        return [TcpService(self.manager)]

    def wsnet_register_components(self) -> Iterable[Component]:
        return [self.manager]

    def wsnet_register_observers(self) -> Iterable[Observer]:
        return [self.manager]

    def wsnet_register_control_methods(self) -> Iterable[ControlMethod]:
        return _control_methods(self.manager)

    def wsnet_collect_metrics(self) -> Iterable[Metric]:
        return tunnel_metrics(self.manager)

    def wsnet_reload(self, config: Config) -> Awaitable[None] | None:
        new = config.stash.get(SETTINGS, None) or Settings()
        old = self.node.config.stash.get(SETTINGS, None) or Settings()
        if new == old:
            return None
        self.node.config.stash[SETTINGS] = new
        return reload.apply(self.manager, old, new)


def wsnet_check_relay(node: NodeAPI, principal: Principal, request: OpenRequest) -> str | None:
    """A relayed tcp channel is checked as ``tcp:TUNNEL@DST`` and, for an ad-hoc target
    given as an address, ``connect`` where it enters the mesh (targets.relay_denial)."""
    tunnel = request.args.get("tunnel") if request.service == "tcp" else None
    if not isinstance(tunnel, str) or not NAME_RE.match(tunnel):
        return None  # not ours, or malformed: the destination refuses it with BAD_REQUEST
    target = request.args.get("target")
    return relay_denial(node, principal, tunnel, request.dst, target)  # "": checked, allowed


def _control_methods(mgr: Manager) -> list[ControlMethod]:
    async def tunnels() -> list[dict[str, Any]]:
        return mgr.info()

    async def addtunnel(
        name: str, listen: str = "", connect: str = "", peer: str = "", target: str = ""
    ) -> dict[str, Any]:
        try:
            spec = make_spec(name, listen=listen, connect=connect, peer=peer, target=target)
            mgr.add(spec)
        except (ValueError, WsnetError) as exc:
            raise ControlError(f"addtunnel {name}: {exc}") from None
        return spec.describe()

    async def deltunnel(name: str, role: str = "", reset: bool = False) -> dict[str, Any]:
        if role not in ("", "listen", "connect"):
            raise ControlError(f"role must be listen or connect, got {role!r}")
        removed = await mgr.remove(name, role, reset)
        if not removed:
            raise ControlError(f"no tunnel {name!r}" + (f" with a {role} side" if role else ""))
        return {"name": name, "removed": removed}

    return [
        ControlMethod(
            "tunnels", tunnels, "TCP tunnels: role, address, state, connections, bytes", COLUMNS
        ),
        ControlMethod(
            "addtunnel",
            addtunnel,
            "add a tunnel: NAME listen=H:P peer=NODE [target=H:P] | NAME connect=H:P",
        ),
        ControlMethod(
            "deltunnel",
            deltunnel,
            "remove tunnel NAME [role=listen|connect] [reset=true: cut connections]",
        ),
    ]
