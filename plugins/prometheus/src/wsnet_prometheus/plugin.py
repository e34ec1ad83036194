"""Hook implementations of wsnet-prometheus: ``[prometheus]`` config and ``/metrics``,
served on the control listener (its TLS, authenticators and ``[authz] call`` grant
``metrics`` apply) or on a HOST:PORT of its own."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from wsnet import Component, Config, HttpRoute, NodeAPI, Section, StashKey, WsnetError

from .exposition import Settings, make_registry, render

SETTINGS: StashKey[Settings] = StashKey("prometheus.settings")
ROUTE_NAME = "metrics"  # the [authz] call grant a control API user needs for /metrics
log = logging.getLogger("wsnet.prometheus")


def wsnet_configure(config: Config) -> None:
    s = config.section("prometheus")
    settings = Settings(
        listen=s.get_str("listen", ""),
        path=s.get_str("path", "/metrics"),
        per_link=s.get_bool("per_link", True),
        per_tunnel=s.get_bool("per_tunnel", True),
        per_port=s.get_bool("per_port", True),
        process=s.get_bool("process", True),
    )
    s.done()
    if not settings.path.startswith("/") or settings.path in ("/", "/rpc", "/healthz", "/readyz"):
        raise s.error("path", f"expected a path like /metrics, not one of the core's "
                              f"(/, /rpc, /healthz, /readyz), got {settings.path!r}")  # fmt: skip
    if settings.listen:
        split_listen(s, settings.listen)
    config.stash[SETTINGS] = settings


def split_listen(s: Section, value: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 in brackets) of ``listen``; ConfigError naming the key."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise s.error("listen", f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def wsnet_node_plugin(node: NodeAPI) -> PrometheusPlugin:
    return PrometheusPlugin(node)


class PrometheusPlugin:
    """The registry of one node and where it is served (one object per node)."""

    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        self.settings = node.config.stash.get(SETTINGS, None) or Settings()
        self.registry = make_registry(node, self.settings)

    async def handle(self, request: web.Request) -> web.Response:
        body = render(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def wsnet_register_http_routes(self) -> Iterable[HttpRoute]:
        if self.settings.listen:
            return []
        return [HttpRoute(ROUTE_NAME, self.settings.path, self.handle)]

    def wsnet_register_components(self) -> Iterable[Component]:
        if not self.settings.listen:
            return []
        return [OwnListener(self.settings, self.handle)]


class OwnListener(Component):
    """``/metrics`` on ``[prometheus] listen``: no TLS and no authentication, as
    node_exporter's default; keep it on loopback or a monitoring network."""

    def __init__(
        self, settings: Settings, handler: Callable[[web.Request], Awaitable[web.Response]]
    ) -> None:
        self.settings = settings
        self.app = web.Application()
        self.app.router.add_get(settings.path, handler)
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        host, port = split_listen(Section({}, "[prometheus]", ""), self.settings.listen)
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise WsnetError(f"[prometheus] listen: cannot bind {host}:{port}: "
                             f"{exc.strerror}") from None  # fmt: skip
        if not _loopback(host):
            log.warning("prometheus: /metrics on %s:%d has no TLS and no authentication "
                        "(serve it on the control API to have both)", host, port)  # fmt: skip
        log.info("prometheus: metrics at http://%s:%d%s", host, port, self.settings.path)

    async def aclose(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
