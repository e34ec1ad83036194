"""Starting and stopping a node: listener, control API, diallers, components."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import exposure, fdlimit
from .authchain import guard as chain_guard
from .config import Config, DialConfig, check_dial_schemes
from .control import Dispatcher, control_app
from .dialer import Dialer
from .errors import PluginError, WsnetError
from .events import NodeStarted
from .health import DialState, readiness
from .interfaces import CONTROL, LINK, Component
from .listener_guard import Admission, Listener
from .node import Node
from .plugins import Plugins
from .protocol import CloseCode
from .reload import reload_config
from .server import link_app
from .stash import StashKey
from .tasks import cancel_and_wait
from .tls import TlsFileError, server_context

log = logging.getLogger("wsnet.runtime")


class Runtime:
    """Owns the I/O resources of a Node; ``async with Runtime(...)`` or start/aclose."""

    def __init__(self, config: Config, plugins: Plugins) -> None:
        self.node = Node(config, plugins)
        self.dialers: list[Dialer] = []
        self._runners: list[web.AppRunner] = []
        self.listeners: list[Listener] = []
        self._started: list[Any] = []
        self.phase = "starting"  # then "running", "stopping" (/readyz)
        self.node.stash[RUNTIME] = self

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise

    async def _start(self) -> None:
        cfg = self.node.config
        fdlimit.raise_soft_limit()
        if cfg.listen is not None:
            lc = cfg.listen
            tls = _server_tls("[listen]", lc.tls_cert, lc.tls_key)
            if tls is not None:
                self.node.plugins.calls.tls_server_context(self.node, tls, LINK)
            admit = Admission(lc.handshake_timeout, lc.max_pending, lc.max_pending_per_source,
                              "the WebSocket upgrade")  # fmt: skip
            listener = Listener("link listener", admit, ssl=tls)
            app = link_app(self.node, lc.path, trusted=listener.trust)
            port = await self._serve(app, listener, lc.host, lc.port)
            exposure.warn(exposure.listener_warnings(
                lc, port, tls is not None, self.node.authenticators_for(LINK)))  # fmt: skip
            scheme = "wss" if tls else "ws"
            self.node.listen_url = f"{scheme}://{_hostport(cfg.listen.host, port)}{cfg.listen.path}"
        if cfg.control.enabled:
            ctl = cfg.control
            guard = chain_guard(self.node, CONTROL)
            if ctl.htpasswd and guard is None:  # fail closed: never an open API by mistake
                raise WsnetError(
                    "[control] htpasswd is set but no authenticator guards the control API "
                    "(the plugin auth_htpasswd is not loaded)"
                )
            tls = _server_tls("[control]", ctl.tls_cert, ctl.tls_key)
            if tls is not None:
                self.node.plugins.calls.tls_server_context(self.node, tls, CONTROL)
            admit = Admission(ctl.request_timeout, ctl.max_pending, ctl.max_pending_per_source,
                              "the HTTP request")  # fmt: skip
            listener = Listener("control API", admit, ssl=tls)
            app = control_app(
                Dispatcher(self.node.control_methods), guard, self.node.authorize,
                request_timeout=ctl.request_timeout, trusted=listener.trust,
                ready=self.readiness, routes=self.node.http_routes.values(),
            )  # fmt: skip
            # lingering_time=0: a body late past the deadline is not read for 10 s more
            port = await self._serve(app, listener, ctl.host, ctl.port, lingering_time=0)
            exposure.warn(exposure.control_warnings(
                ctl, port, tls is not None, self.node.authenticators_for(CONTROL)))  # fmt: skip
            scheme = "https" if tls else "http"
            self.node.control_url = f"{scheme}://{_hostport(ctl.host, port)}/rpc"
        for comp in self.node.components:
            await self._start_component(comp)
            self._started.append(comp)
        for dial in cfg.dial:
            self.add_dialer(dial)
        self.phase = "running"
        self.node.emit(NodeStarted(self.node.name, self.node.listen_url))
        log.info(
            "node %s up; links at %s, control at %s",
            self.node.name,
            self.node.listen_url or "(not listening)",
            self.node.control_url or "(off)",
        )

    async def _start_component(self, comp: Component) -> None:
        """``comp.start()``; a plugin's bug stops the node with one line naming it."""
        try:
            await comp.start()
        except WsnetError:
            raise
        except Exception as exc:
            who = self.node.plugin_of.get(id(comp), "?")
            raise PluginError(f"plugin {who!r} failed to start {type(comp).__name__}: "
                              f"{type(exc).__name__}: {exc}") from exc  # fmt: skip

    async def _serve(
        self, app: web.Application, listener: Listener, host: str, port: int, **options: Any
    ) -> int:
        """Serve ``app`` on ``listener`` (our own accept loop, see listener_guard); the port."""
        # aiohttp's keep-alive timer also closes a connection whose next request does not
        # arrive in full within the deadline (the listener's own deadline ends at trust).
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               keepalive_timeout=listener.admission.deadline or 75.0,
                               **options)  # fmt: skip
        await runner.setup()
        self._runners.append(runner)
        assert runner.server is not None
        try:
            await listener.start(runner.server, host, port)
        except OSError as exc:
            what = listener.name
            raise WsnetError(f"cannot bind the {what} to {host}:{port}: {exc.strerror}") from None
        self.listeners.append(listener)
        return listener.port

    def listener_status(self) -> dict[str, Any]:
        """For `ctl status`: what each listener refused, and the descriptors in use."""
        return {
            "listeners": [listener.info() for listener in self.listeners],
            "descriptors": fdlimit.snapshot(),
        }

    def readiness(self) -> tuple[bool, list[str]]:
        """For /readyz: running, every listener bound, every ``[[dial]]`` link up.

        Dials added at run time (`ctl dial`, `addport client`) do not count: readiness
        is about what the configuration promises."""
        configured = self.node.config.dial
        dials = [DialState(configured.index(d.cfg) + 1, d.state)
                 for d in self.dialers if d.cfg in configured]  # fmt: skip
        unbound = [lst.name for lst in self.listeners if not lst.sockets or lst.closed]
        return readiness(self.phase, dials, unbound)

    def add_dialer(self, dial: DialConfig) -> Dialer:
        dialer = Dialer(self.node, dial)
        self.dialers.append(dialer)
        dialer.task = self.node.spawn(dialer.run(), name=f"dial {dialer.shown_url}")
        return dialer

    async def remove_dialer(self, url: str) -> bool:
        """Stop keeping the link to ``url`` up; its link (if up) is closed.

        ``url`` may be given as `ctl dials` shows it (password masked)."""
        found = [d for d in self.dialers if url in (d.cfg.url, d.shown_url)]
        for dialer in found:
            self.dialers.remove(dialer)
            if dialer.task is not None:
                await cancel_and_wait([dialer.task])
        return bool(found)

    async def aclose(self) -> None:
        reason = f"node {self.node.name} shutting down"
        grace = self.node.config.shutdown_grace
        # Links whose task is cancelled below close with this reason (1001), not an empty one.
        self.node.closing_reason = reason
        self.phase = "stopping"  # a load balancer takes the node out first
        # No new links or calls while the old ones close.
        for runner in self._runners:
            for site in list(runner.sites):
                with contextlib.suppress(Exception):
                    await site.stop()
        # Every link, at once, before any task is cancelled: each sends what was written,
        # then the close frame, and waits for the peer's.  Cancelling the diallers first
        # tore their links down under the close handshake (the peer saw 1006).
        await self._close_links(reason, grace)
        await self.node.cancel_tasks()
        await self._close_links(reason, grace)  # any that came up meanwhile
        for comp in reversed(self._started):
            try:
                await comp.aclose()
            except Exception:
                who = self.node.plugin_of.get(id(comp), "?")
                log.exception("plugin %r: closing %s failed", who, type(comp).__name__)
        self._started.clear()
        for listener in self.listeners:
            listener.close()
        for runner in reversed(self._runners):
            # aiohttp waits up to 60 s for requests in progress (a long `ctl speedtest`):
            # the grace bounds that too; what is left is cancelled when the loop ends.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(grace):
                    await runner.cleanup()
        self._runners.clear()
        for obs in self.node.observers:
            with contextlib.suppress(Exception):
                await obs.aclose()

    async def _close_links(self, reason: str, grace: float) -> None:
        links = list(self.node.links.values())
        closing = [link.close(CloseCode.GOING_AWAY, reason, timeout=grace) for link in links]
        await asyncio.gather(*closing, return_exceptions=True)

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _server_tls(section: str, cert: str, key: str) -> ssl.SSLContext | None:
    """The server context of a listener, or None without TLS.

    The files were checked when the config was parsed; this catches one changed since.
    """
    if not cert:
        return None
    try:
        return server_context(cert, key)
    except TlsFileError as exc:
        key_name = "tls_key" if exc.role == "key" else "tls_cert"
        raise WsnetError(f"{section} {key_name}: {exc}") from None


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve_forever(
    config: Config, plugins: Plugins, reconfigure: Callable[[], Config] | None = None
) -> None:
    """Run until SIGINT/SIGTERM; SIGHUP calls ``reconfigure`` and applies what changed."""
    stop, up = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    runtime: Runtime | None = None

    def on_stop(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s: already shutting down", sig.name)
            return
        log.info("%s: closing links (grace %gs)", sig.name, config.shutdown_grace)
        stop.set()

    reloading = asyncio.Lock()  # a second SIGHUP waits for the first reload to finish

    async def reload(rt: Runtime, read: Callable[[], Config]) -> None:
        async with reloading:
            await reload_config(rt, read)

    def on_hup() -> None:
        why = (
            "stopping" if stop.is_set()
            else "not up yet" if runtime is None or not up.is_set()
            else "started without a way to read the configuration" if reconfigure is None
            else ""
        )  # fmt: skip
        if why or runtime is None or reconfigure is None:
            log.warning("SIGHUP: ignored (%s)", why)
            return
        runtime.node.spawn(reload(runtime, reconfigure), name="reload")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_stop, sig)
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    try:
        runtime = Runtime(config, plugins)
        check_dial_schemes(config, runtime.node.transports)  # transports come from plugins
        plugins.log_added()  # not before: a config error is the one line start-up prints
        async with runtime:
            up.set()
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    log.info("stopped")


RUNTIME: StashKey[Runtime] = StashKey("runtime")
