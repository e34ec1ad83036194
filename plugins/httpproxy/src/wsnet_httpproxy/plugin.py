"""Hook implementations of wsnet-httpproxy: ``[httpproxy]`` config, the ``http`` service
(the exit side), the listeners (the entry side), control methods and ``wsnet http``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wsnet import (
    Component,
    Config,
    ControlError,
    ControlMethod,
    NodeAPI,
    OpenRequest,
    Principal,
    Service,
    WsnetError,
)

from .cli import COLUMNS
from .manager import Manager
from .service import HttpService
from .settings import SETTINGS, Settings, configure
from .spec import NAME_RE, SpecError, make_route

# What wsnet_register_control_methods registers: a node without this plugin names it
# for a call of one of these (wsnet.plugins.method_providers).
CONTROL_METHODS = ("httproutes", "addhttproute", "delhttproute", "proxies")


def wsnet_configure(config: Config) -> None:
    configure(config)


def wsnet_node_plugin(node: NodeAPI) -> HttpProxyPlugin:
    return HttpProxyPlugin(node)


class HttpProxyPlugin:
    """wsnet-httpproxy on one node (the core registers this object's wsnet_* methods)."""

    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        self.manager = Manager(node, node.config.stash.get(SETTINGS, None) or Settings())

    def wsnet_register_services(self) -> Iterable[Service[Any]]:
        return [HttpService(self.manager)]

    def wsnet_register_components(self) -> Iterable[Component]:
        return [self.manager]

    def wsnet_register_control_methods(self) -> Iterable[ControlMethod]:
        return _control_methods(self.manager)


def wsnet_check_relay(node: NodeAPI, principal: Principal, request: OpenRequest) -> str | None:
    """A relayed http channel is checked as ``http:ROUTE@DST`` where it enters the mesh."""
    route = request.args.get("route") if request.service == "http" else None
    if not isinstance(route, str) or not NAME_RE.match(route):
        return None
    denial = node.authorize(principal, "open", f"http:{route}@{request.dst}")
    return (
        f"{principal.name!r} may not open 'http:{route}@{request.dst}': {denial}"
        if denial
        else None
    )


def _control_methods(mgr: Manager) -> list[ControlMethod]:
    async def httproutes() -> list[dict[str, Any]]:
        return mgr.route_rows()

    async def addhttproute(
        path: str,
        node: str,
        upstream: str,
        listen: str,
        name: str = "",
        host: str = "",
        preserve_host: bool = False,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_body: int = 0,
        allow: str = "",
        deny: str = "",
        auth: bool = False,
        tls_verify: bool = True,
    ) -> dict[str, Any]:
        try:
            if not (0 < connect_timeout <= 86400 and 0 < read_timeout <= 86400):
                raise SpecError("connect_timeout", "expected seconds > 0 and <= 86400")
            route = make_route(
                path,
                node,
                upstream,
                name=name,
                host=host,
                allow=_words(allow),
                deny=_words(deny),
                preserve_host=preserve_host,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_body=max_body,
                auth=auth,
                tls_verify=tls_verify,
            )
            await mgr.add_route(listen, route)
        except SpecError as exc:
            raise ControlError(f"addhttproute: {exc.key}: {exc}") from None
        except (WsnetError, OSError) as exc:
            raise ControlError(f"addhttproute: {exc}") from None
        return {"listen": listen, **route.describe()}

    async def delhttproute(name: str) -> dict[str, Any]:
        gone = await mgr.remove_route(name)
        if gone is None:
            have = ", ".join(r.name for _, r in mgr.routes()) or "none"
            raise ControlError(f"no http route {name!r} (have: {have})")
        return {"removed": name}

    async def proxies() -> dict[str, Any]:
        return mgr.proxies()

    return [
        ControlMethod(
            "httproutes",
            httproutes,
            "HTTP proxy routes: requests, status classes, bytes, errors, p50/p99 ms",
            COLUMNS,
        ),
        ControlMethod(
            "addhttproute",
            addhttproute,
            "add a route: PATH NODE UPSTREAM LISTEN [name= host= max_body= ...]",
        ),
        ControlMethod("delhttproute", delhttproute, "remove http route NAME"),
        ControlMethod(
            "proxies", proxies, "HTTP listeners, routes and exit-side counts (west's dump)"
        ),
    ]


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]
