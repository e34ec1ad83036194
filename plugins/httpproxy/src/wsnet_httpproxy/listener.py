"""One HTTP(S) listener of the entry node: an aiohttp server whose single catch-all
handler admits each request (admit.py) and forwards it (forward.py)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import TYPE_CHECKING

from aiohttp import web

from wsnet import Admission, Listener

from .admit import Admitted, Denied, admit
from .forward import Outcome, forward
from .spec import ListenerSpec

if TYPE_CHECKING:
    from .manager import Manager

log = logging.getLogger("wsnet.httpproxy")
_DECISION = "httpproxy.decision"  # the expect handler's verdict, for the handler


class HttpListener:
    def __init__(self, manager: Manager, spec: ListenerSpec) -> None:
        self.manager = manager
        self.spec = spec
        self._runner: web.AppRunner | None = None
        self._server: Listener | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        app = web.Application(client_max_size=0, handler_args={"max_field_size": 65536})
        app.router.add_route("*", "/{tail:.*}", self._handle, expect_handler=self._expect)
        s = self.manager.settings
        # handler_cancellation: a client that goes away cancels its handler, which resets
        # the channel, so the exit node stops the upstream request at once.  The keep-alive
        # timer also bounds how long a kept-alive connection's next head may take.
        # shutdown_timeout: closing the listener (its last route removed, the node stopping)
        # gives requests in flight the node's shutdown_grace, not aiohttp's 60 s, during
        # which delhttproute did not answer.
        runner = web.AppRunner(
            app,
            handler_cancellation=True,
            access_log=None,
            keepalive_timeout=s.request_timeout,
            shutdown_timeout=self.manager.node.config.shutdown_grace,
        )
        await runner.setup()
        assert runner.server is not None
        # wsnet's Listener: a connection must send its first head within request_timeout,
        # and those that have not are capped (in all, per source), so slow or silent
        # clients cannot take every descriptor of the node (links and control included).
        admission = Admission(
            s.request_timeout, s.max_pending, s.max_pending_per_source, "the HTTP request"
        )
        server = Listener(f"http listener {self.spec.address}", admission, ssl=self._tls())
        try:
            await server.start(runner.server, self.spec.host, self.spec.port)
        except OSError:
            await runner.cleanup()
            raise
        self._runner, self._server = runner, server
        log.info("http listener on %s (%d routes)", self.spec.address, len(self.spec.routes))

    def _tls(self) -> ssl.SSLContext | None:
        if not self.spec.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.spec.tls_cert, self.spec.tls_key)
        return context

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    def _trust(self, request: web.Request) -> None:
        """The head arrived: no deadline or pending cap for this connection any more."""
        if self._server is not None:
            self._server.trust(request.protocol)

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        """Expect: 100-continue: refuse before the client sends its body, else continue."""
        self._trust(request)  # aiohttp calls this before the handler
        decision = await admit(self.manager.node, self.spec.routes, request)
        request[_DECISION] = decision
        if isinstance(decision, Denied):
            return self.manager.denied(decision, Outcome())
        if (
            request.version >= (1, 1)
            and request.headers.get("Expect", "").lower() == "100-continue"
        ):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # as aiohttp's own: the body has not started
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        self._trust(request)
        decision = request.get(_DECISION) or await admit(
            self.manager.node, self.spec.routes, request
        )
        out = Outcome()
        if isinstance(decision, Denied):
            resp = self.manager.denied(decision, out)
            self.manager.finished(decision.route, out, started)
            return resp
        assert isinstance(decision, Admitted)
        stats = self.manager.stats_for(decision.route.name)
        stats.active += 1
        try:
            return await forward(self.manager, decision, request, stats, out)
        except (ConnectionError, asyncio.CancelledError):
            out.status = out.status or 499  # nginx's "client closed request", for the counters
            raise
        finally:
            stats.active -= 1
            self.manager.finished(decision.route.name, out, started)
