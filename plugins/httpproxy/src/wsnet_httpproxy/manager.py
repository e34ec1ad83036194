"""The proxy on one node: its listeners (entry side), the pooled upstream client session
(exit side), per-route counters, and the error reporting both sides share."""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
from aiohttp import web

from wsnet import Component, NodeAPI, Throttled, WsnetError

from .admit import Denied
from .forward import Outcome
from .listener import HttpListener
from .settings import Settings
from .spec import ListenerSpec, Route, SpecError, check_routes, parse_listen
from .stats import HttpProxyError, RouteStats

log = logging.getLogger("wsnet.httpproxy")


class Manager(Component):
    def __init__(self, node: NodeAPI, settings: Settings) -> None:
        self.node = node
        self.settings = settings
        self.listeners: dict[tuple[str, int], HttpListener] = {
            (s.host, s.port): HttpListener(self, s) for s in settings.listeners
        }
        self.stats: dict[str, RouteStats] = {}
        self.served: dict[str, dict[str, int]] = {}  # exit side, per route
        self._session: aiohttp.ClientSession | None = None
        self._ws_session: aiohttp.ClientSession | None = None
        self._log = Throttled(log, "httpproxy", 10.0)
        self._started = False

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # made in the loop, on the first request we exit for
            connector = aiohttp.TCPConnector(limit=self.settings.pool_size, keepalive_timeout=30)
            self._session = _client(connector)
        return self._session

    @property
    def ws_session(self) -> aiohttp.ClientSession:
        """WebSockets apart: an upgraded connection never goes back to a pool, so in the
        pool's session pool_size idle WebSockets left every HTTP request of this node
        waiting for a slot (their number is bounded by the link's channels instead)."""
        if self._ws_session is None:
            self._ws_session = _client(aiohttp.TCPConnector(limit=0, force_close=True))
        return self._ws_session

    async def start(self) -> None:
        self._started = True
        for listener in self.listeners.values():
            await listener.start()

    async def aclose(self) -> None:
        for listener in self.listeners.values():
            await listener.aclose()
        for session in (self._session, self._ws_session):
            if session is not None:
                await session.close()

    # ---------------------------------------------------------------- counters
    def stats_for(self, route: str) -> RouteStats:
        return self.stats.setdefault(route, RouteStats())

    def served_for(self, route: str) -> dict[str, int]:
        return self.served.setdefault(route, {"requests": 0, "errors": 0})

    def finished(self, route: str, out: Outcome, started: float) -> None:
        if route and out.status:
            self.stats_for(route).finished(
                out.status, time.monotonic() - started, own_error=out.own_error
            )

    def denied(self, d: Denied, out: Outcome) -> web.Response:
        """An answer of the proxy's own: counted by the caller, logged, sent to observers."""
        self.failed(d, out)
        return d.response()

    def failed(self, d: Denied, out: Outcome) -> None:
        """A request that failed (an answer of our own, or a response cut): logged once in
        a while, sent to observers, counted by the caller as ``d.status``."""
        out.status, out.own_error = d.status, True
        level = "denied" if d.status < 500 else "failed"
        self._log.note(f"{level}{d.status}", level, f"{d.status} {d.reason}")
        node = ""
        for listener in self.listeners.values():
            node = next((r.node for r in listener.spec.routes if r.name == d.route), node)
        self.node.emit(HttpProxyError(d.route, node, d.status, d.reason))

    # ---------------------------------------------------------------- run time
    def routes(self) -> list[tuple[ListenerSpec, Route]]:
        return [(lst.spec, r) for lst in self.listeners.values() for r in lst.spec.routes]

    async def add_route(self, listen: str, route: Route, tls: tuple[str, str] = ("", "")) -> None:
        try:
            key = parse_listen(listen)
            check_routes([route], {r.name for _, r in self.routes()})
        except SpecError as exc:
            raise WsnetError(f"{exc.key}: {exc}") from None
        listener = self.listeners.get(key)
        if listener is None:
            listener = HttpListener(self, ListenerSpec(*key, *tls, routes=(route,)))
            if self._started:
                await listener.start()  # OSError (address in use) reaches the caller
            self.listeners[key] = listener
            return
        try:
            check_routes([*listener.spec.routes, route])
        except SpecError as exc:
            raise WsnetError(f"{exc.key}: {exc} on {listener.spec.address}") from None
        listener.spec = listener.spec.with_routes((*listener.spec.routes, route))

    async def remove_route(self, name: str) -> Route | None:
        for key, listener in list(self.listeners.items()):
            kept = tuple(r for r in listener.spec.routes if r.name != name)
            if len(kept) == len(listener.spec.routes):
                continue
            gone = next(r for r in listener.spec.routes if r.name == name)
            listener.spec = listener.spec.with_routes(kept)
            if not kept:  # a listener without routes answers nothing useful: close it
                await listener.aclose()
                del self.listeners[key]
            return gone
        return None

    def route_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "name": r.name,
                "listen": spec.address,
                "host": r.host,
                "path": r.path,
                "node": r.node,
                "upstream": r.upstream,
                **self.stats_for(r.name).row(),
            }
            for spec, r in self.routes()
        ]

    def proxies(self) -> dict[str, Any]:
        """West's state dump: listeners with their routes, and what this node serves as an exit."""
        return {
            "node": self.node.name,
            "listeners": [
                {
                    "listen": lst.spec.address,
                    "tls": bool(lst.spec.tls_cert),
                    "running": lst.running,
                    "routes": [r.describe() for r in lst.spec.routes],
                }
                for lst in self.listeners.values()
            ],
            "exit": {"targets": str(self.settings.targets), "served": self.served},
        }


def _client(connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
    """A client session that passes requests on as they came (no cookies, no added
    headers, no decompression, no overall deadline: the routes' timeouts apply)."""
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
        timeout=aiohttp.ClientTimeout(total=None),
    )
