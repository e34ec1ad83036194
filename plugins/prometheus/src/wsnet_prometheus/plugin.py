"""Hook implementations of wsnet-prometheus: ``[prometheus]`` config and ``/metrics``,
served on the control listener (its TLS, authenticators and ``[authz] call`` grant
``metrics`` apply) or on a HOST:PORT of its own."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from wsnet import (
    Admission,
    Component,
    Config,
    HttpRoute,
    Listener,
    NodeAPI,
    Section,
    StashKey,
    WsnetError,
    is_loopback,
)

from .exposition import Settings, make_registry, render

SETTINGS: StashKey[Settings] = StashKey("prometheus.settings")
RENDER_EVERY = 1.0  # seconds an exposition is served again before it is rebuilt
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
        self._body: bytes | None = None  # the last exposition, built at _built
        self._built = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        # Built on the event loop (a few ms with thousands of channels): at most once per
        # RENDER_EVERY seconds, however many scrapers ask.
        now = time.monotonic()
        if self._body is None or now - self._built >= RENDER_EVERY:
            self._body, self._built = render(self.registry), now
        body = self._body
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def wsnet_register_http_routes(self) -> Iterable[HttpRoute]:
        if self.settings.listen:
            return []
        return [HttpRoute(ROUTE_NAME, self.settings.path, self.handle)]

    def wsnet_register_components(self) -> Iterable[Component]:
        if not self.settings.listen:
            return []
        ctl = self.node.config.control  # its limits, as no credentials guard this listener
        admit = Admission(ctl.request_timeout, ctl.max_pending, ctl.max_pending_per_source,
                          "the HTTP request")  # fmt: skip
        return [OwnListener(self.settings, self.handle, admit)]


class OwnListener(Component):
    """``/metrics`` on ``[prometheus] listen``: no TLS and no authentication, as
    node_exporter's default; keep it on loopback or a monitoring network.  Accepted as the
    control API is (listener_guard): a connection is capped and has ``admission.deadline``
    until its request head is in, and each next request must come within that deadline."""

    def __init__(
        self,
        settings: Settings,
        handler: Callable[[web.Request], Awaitable[web.Response]],
        admission: Admission,
    ) -> None:
        self.settings = settings
        self.listener = Listener("metrics listener", admission)
        self.app = web.Application(middlewares=[self._trust])
        self.app.router.add_get(settings.path, handler)
        self.runner: web.AppRunner | None = None

    @web.middleware
    async def _trust(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.listener.trust(request.protocol)  # the head arrived: no more deadline for it
        return await handler(request)

    async def start(self) -> None:
        host, port = split_listen(Section({}, "[prometheus]", ""), self.settings.listen)
        # keepalive_timeout: the next request of a kept-alive connection must also come
        # within the deadline; lingering_time=0: no body is awaited after the answer.
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                    keepalive_timeout=self.listener.admission.deadline or 75.0,
                                    lingering_time=0)  # fmt: skip
        await self.runner.setup()
        assert self.runner.server is not None
        try:
            await self.listener.start(self.runner.server, host, port)
        except OSError as exc:
            raise WsnetError(f"[prometheus] listen: cannot bind {host}:{port}: "
                             f"{exc.strerror}") from None  # fmt: skip
        if not is_loopback(host):
            log.warning("prometheus: /metrics on %s:%d has no TLS and no authentication "
                        "(serve it on the control API to have both)", host, port)  # fmt: skip
        log.info("prometheus: metrics at http://%s:%d%s", host, port, self.settings.path)

    async def aclose(self) -> None:
        self.listener.close()
        if self.runner is not None:
            await self.runner.cleanup()
