"""One bridge: its port (ws, wss, static files), its checks and its sessions.

All sessions of all bridges run in the node's one event loop: a quiet session costs a
few objects and its request's task, not a process (websockify forks one per connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from wsnet import (
    ANONYMOUS,
    Admission,
    AuthDenied,
    Component,
    Listener,
    NodeAPI,
    Principal,
    Throttled,
    load_ca,
)

from . import webdir
from .checks import origin_refusal, subprotocol, token_of
from .pipes import ConnectError, connect
from .record import Recorder
from .session import Limits, Session, refuse
from .spec import BridgeSpec, Target, parse_target
from .tokens import TokenSource, load_source, lookup
from .wrap import Wrapper

log = logging.getLogger("wsnet.websockify")


def tls_context(spec: BridgeSpec) -> ssl.SSLContext | None:
    """The context for wss:// (websockify: --cert, --key, --verify-client, --cafile)."""
    if not spec.cert:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(spec.cert, spec.key or None)
    if spec.verify_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if spec.cafile:
            load_ca(ctx, spec.cafile)
        else:
            ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return ctx


def stop_node(why: str) -> None:
    """As websockify exits: the node stops as on SIGTERM (links closed, components closed)."""
    log.info("websockify: %s: stopping the node", why)
    os.kill(os.getpid(), signal.SIGTERM)


class BridgeServer(Component):
    def __init__(self, node: NodeAPI, spec: BridgeSpec) -> None:
        self.node, self.spec = node, spec
        self.target: Target | None = spec.target
        self.tokens: TokenSource | None = None
        self.active: set[web.WebSocketResponse] = set()
        self.sessions = self.refused = self.failed = 0
        self.bytes_in = self.bytes_out = 0
        self.runner: web.AppRunner | None = None
        self.listener: Listener | None = None
        self.wrapper: Wrapper | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._web = Path(spec.web).resolve() if spec.web else None
        self._once_taken = False  # run_once: the one session was admitted
        self._refusals = Throttled(log, f"websockify {spec.name}", 10.0)

    async def start(self) -> None:
        spec = self.spec
        if spec.token_plugin:
            self.tokens = load_source(spec.token_plugin, spec.token_source)
        if spec.wrap:
            self.wrapper = Wrapper(spec.wrap, spec.wrap_mode, stop_node)
            self.target = Target("127.0.0.1", await self.wrapper.start())
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self.runner.setup()
        # The core's listener: caps on connections not upgraded yet (in total and per
        # source), one deadline from accept to the upgrade (the first byte, TLS, the
        # request, credentials: no slowloris), RST when out of descriptors.  ws and wss
        # on one port: the first byte tells TLS (unless ssl_only: TLS only).
        admission = Admission(spec.handshake_timeout, spec.max_pending,
                              spec.max_pending_per_source, "the WebSocket upgrade")  # fmt: skip
        tls = tls_context(spec)
        # verify_client: TLS only, or a plain ws:// on the same port walks around it
        plain_too = tls is not None and not spec.ssl_only and not spec.verify_client
        self.listener = Listener(f"websockify {spec.name}", admission, ssl=tls,
                                 sniff_tls=plain_too)  # fmt: skip
        await self.listener.start(self.runner.server, spec.host or None, spec.port)  # type: ignore[arg-type]
        log.info(
            "websockify %s: listening on %s, %s",
            spec.name,
            self.address,
            f"target {self.target}" if self.target else f"tokens from {spec.token_plugin}",
        )
        for seconds, check in (
            (spec.exit_timeout, self._exit_timeout),
            (spec.exit_idle, self._exit_idle),
        ):
            if seconds:
                self._spawn(check(seconds))

    @property
    def address(self) -> str:
        host = self.spec.host or "*"
        port = self.listener.port if self.listener else self.spec.port
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def aclose(self) -> None:
        if self.listener is not None:
            self.listener.close()
        for ws in list(self.active):
            await refuse(ws, 1001, "server shutting down")
        for task in list(self._tasks):
            task.cancel()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.wrapper is not None:
            await self.wrapper.aclose()

    def info(self) -> dict[str, Any]:
        return {
            **self.spec.describe(),
            "listen": self.address,
            "target": str(self.target or ""),
            "active": len(self.active),
            "sessions": self.sessions,
            "refused": self.refused,
            "failed": self.failed,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            **self._listener_info(),
        }

    def _listener_info(self) -> dict[str, int]:
        """Connections refused or cut before their upgrade (caps, deadline, descriptors)."""
        if self.listener is None:
            return {"pending": 0, "rst": 0, "timed_out": 0}
        i = self.listener.info()
        return {"pending": i["pending"], "rst": i["refused"], "timed_out": i["timed_out"]}

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ HTTP
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return await self._plain(request)
        try:
            return await self._upgrade(request)
        except web.HTTPException:
            self.refused += 1
            raise

    async def _plain(self, request: web.Request) -> web.StreamResponse:
        ws_path = request.path.strip("/") in ("", "websockify")
        found = webdir.find(self._web, request.path) if self._web is not None else None
        if self._web is not None and (not ws_path or found):
            response = await webdir.serve(self._web, request)
            if found is not None and self.listener is not None:
                # A file may take longer than the deadline to send: trusted, but for this
                # one response (as websockify's HTTP/1.0 server), or a request trickled
                # on the kept-alive connection afterwards would escape deadline and caps.
                self.listener.trust(request.protocol)
                response.force_close()
            return response
        raise web.HTTPBadRequest(
            text=f"websockify bridge {self.spec.name!r}: this is a WebSocket endpoint; "
            "connect with a WebSocket client (Upgrade: websocket)\n"
        )

    async def _upgrade(self, request: web.Request) -> web.StreamResponse:
        spec = self.spec
        proto = subprotocol(request)
        bad_origin = origin_refusal(request, spec.origins)
        if bad_origin:
            self._refuse_403("origin", f"{bad_origin} (from {request.remote})")
        principal = await self._principal(request)
        token = token_of(request, spec.host_token) if self.tokens is not None else None
        what = f"websockify:{token}" if token is not None else f"websockify:{spec.name}"
        denial = self.node.authorize(principal, "open", what)
        if denial:  # what is quoted: a token is the client's text (a newline, say)
            self._refuse_403("authz", f"{principal.name!r} may not open {what!r}: {denial}")
        if spec.run_once:
            self._take_the_one_session()
        try:
            return await self._open(request, proto, token)
        finally:
            if spec.run_once:  # as websockify: whatever became of the one connection
                stop_node("--run-once: the session ended")

    def _refuse_403(self, kind: str, why: str) -> None:
        """403; logged at most once per 10 s per kind (anyone can send these)."""
        self._refusals.note(kind, "refused (403)", why)
        raise web.HTTPForbidden(text=f"{why}\n")

    def _take_the_one_session(self) -> None:
        """--run-once: the first admitted upgrade is the only one; the port closes."""
        if self._once_taken:
            raise web.HTTPServiceUnavailable(text="--run-once: this bridge served its session\n")
        self._once_taken = True
        if self.listener is not None:
            self.listener.close()

    async def _open(
        self, request: web.Request, proto: str, token: str | None
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            protocols=(proto,) if proto else (),
            compress=False,
            heartbeat=self.spec.heartbeat or None,
            max_msg_size=self.spec.max_message,  # aiohttp holds a message whole: the bound
        )
        await ws.prepare(request)
        if self.listener is not None:
            self.listener.trust(request.protocol)
        target, failure = await self._target(token)
        if target is None:
            self.failed += 1
            await refuse(ws, 1008, failure)
            return ws
        self.active.add(ws)
        try:
            await self._session(request, ws, proto, target)
        finally:
            self.active.discard(ws)
        return ws

    async def _principal(self, request: web.Request) -> Principal:
        """The node's link authenticators on this upgrade (as for a link); HTTP error if not."""
        if not self.spec.auth:
            return ANONYMOUS
        what = f"websockify {self.spec.name}: refused a WebSocket"
        found = await self.node.authenticate(request, "link", what=what)
        if isinstance(found, AuthDenied):
            raise found.http_error()
        return found

    async def _target(self, token: str | None) -> tuple[Target | None, str]:
        if self.tokens is None:
            return self.target, ""
        if token is None:
            return None, "Token not present"
        try:
            text = await lookup(self.tokens, token)
        except Exception as exc:  # a third-party source failing: the session only
            log.warning(
                "websockify %s: token source failed: %s", self.spec.name, type(exc).__name__
            )
            return None, "token source failed"
        if text is None:
            return None, f"Token '{token}' not found"
        try:
            return parse_target(text, self.spec.node), ""
        except ValueError as exc:
            return None, f"token {token!r}: {exc}"

    async def _session(
        self, request: web.Request, ws: web.WebSocketResponse, proto: str, target: Target
    ) -> None:
        spec, client = self.spec, request.remote or "?"
        try:
            pipe = await connect(self.node, target)
        except ConnectError as exc:
            self.failed += 1
            log.warning("websockify %s: %s: cannot reach %s: %s", spec.name, client, target, exc)
            await refuse(ws, 1011, f"Failed to connect to downstream server: {exc}")
            return
        self.sessions += 1
        rec = None
        if spec.record:
            rec = Recorder(
                spec.record,
                {
                    "client": client,
                    "target": str(target),
                    "subprotocol": proto,
                    "path": request.path_qs,
                },
            )
        log.info("websockify %s: %s → %s (%s)", spec.name, client, target, proto or "binary")
        session = Session(ws, pipe, proto == "base64", rec)
        try:
            how = await session.run(Limits(spec.idle_timeout, spec.session_timeout))
        finally:
            self.bytes_in += session.bytes_in
            self.bytes_out += session.bytes_out
        log.info("websockify %s: %s → %s ended: %s", spec.name, client, target, how)

    # ------------------------------------------------- websockify's exit timers
    async def _exit_timeout(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if not self.active:
            stop_node(f"--timeout: no connection within {seconds:g}s")

    async def _exit_idle(self, seconds: float) -> None:
        idle_since = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(min(1.0, seconds / 4))
            now = asyncio.get_running_loop().time()
            if self.active:
                idle_since = now
            elif now - idle_since >= seconds:
                with contextlib.suppress(Exception):
                    stop_node(f"--idle-timeout: no connection for {seconds:g}s")
                return
