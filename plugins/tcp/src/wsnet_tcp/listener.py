"""The listen side of a tunnel: a TCP listener bound while its peer can be reached.

The listener follows the peer (``refresh`` runs on every route change):
- peer reachable: bound; every accepted connection becomes a channel to the peer;
- peer gone, ``pending_timeout`` 0 (default): unbound at once, so new connections
  are refused by the kernel, immediately and unmistakably;
- peer gone, ``pending_timeout`` N: still bound for N seconds, new connections wait
  (not read) for the peer to return; after N seconds the peer counts as gone for
  good and the listener is released; it is bound again when the peer returns.
A member told to stand by (HA) closes its listeners for a while: ``suspend``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from wsnet import ChannelRefused, Listener, ResetCode, cancel_and_wait

from .bridge import Bridge
from .spec import TunnelSpec
from .stats import Counters

if TYPE_CHECKING:
    from .manager import Manager

log = logging.getLogger("wsnet.tcp")
RETRY = 5.0  # seconds between attempts to bind an address that was taken


class ListenTunnel:
    def __init__(self, spec: TunnelSpec, manager: Manager) -> None:
        self.spec = spec
        self.manager = manager
        self.counters = Counters()
        self.state = "waiting for peer"
        self._server: Listener | None = None
        self._gone_since: float | None = None  # monotonic time the peer was last lost
        self._suspended_until = 0.0
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conns: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ life cycle
    def start(self) -> None:
        self._task = asyncio.create_task(self._reconcile_loop(), name=f"tcp-{self.spec.name}")
        self.refresh()

    async def aclose(self, reset: bool = True) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
        self._unbind("removed")
        if reset:
            for bridge in list(self.counters.live):
                bridge.abort("tunnel removed")
            for task in list(self._conns):
                task.cancel()

    def refresh(self) -> None:
        """Something changed (routes, HA roles): bring the listener in line, soon."""
        self._dirty.set()

    def suspend(self, seconds: float) -> None:
        """Close the listener for ``seconds`` (an HA standby's socket-close period)."""
        self._suspended_until = time.monotonic() + seconds
        self.refresh()

    # ----------------------------------------------------------- reconciling
    async def _reconcile_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                wake_in = await self._reconcile()
            except Exception:  # a bug here must not leave the tunnel stuck for good
                log.exception("tcp tunnel %s: reconciling the listener failed", self.spec.name)
                wake_in = RETRY
            if wake_in is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), wake_in)
                self._dirty.set()

    async def _reconcile(self) -> float | None:
        """Bind or unbind; returns seconds until a deadline needs another look."""
        now = time.monotonic()
        if now < self._suspended_until:
            self._unbind(f"closed for {self._suspended_until - now:.0f}s (standby)")
            return self._suspended_until - now
        if self.manager.peer_reachable(self.spec.peer):
            self._gone_since = None
            return None if await self._bind() else RETRY
        wait = self.manager.settings.pending_timeout
        if self._gone_since is None:
            self._gone_since = now
        left = self._gone_since + wait - now
        if wait > 0 and left > 0:
            bound = await self._bind(f"waiting for peer (connections held up to {wait:g}s)")
            return left if bound else min(left, RETRY)
        self._unbind("waiting for peer")
        return None

    async def _bind(self, state: str = "listening") -> bool:
        """Listen (if not yet); False when the address cannot be bound (retried later)."""
        if self._server is None:
            addr = self.spec.address
            # wsnet's own accept loop: out of descriptors, a client gets an RST (counted as
            # an error of this tunnel and logged), not the silent EOF of uvloop's servers.
            server = Listener(f"tcp tunnel {self.spec.name}", on_refused=self._refused)
            try:
                await server.start(self._make_bridge, addr.host, addr.port)
            except OSError as exc:
                msg = f"cannot listen on {addr}: {os.strerror(exc.errno) if exc.errno else exc}"
                if self.state != f"error: {msg}":
                    log.error("tcp tunnel %s: %s", self.spec.name, msg)
                self.state = f"error: {msg}"
                return False
            self._server = server
            log.info("tcp tunnel %s: listening on %s for %s", self.spec.name, addr, self.spec.peer)
        self.state = state
        return True

    def _unbind(self, state: str) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
            log.info("tcp tunnel %s: listener on %s closed: %s", self.spec.name,
                     self.spec.address, state)  # fmt: skip
        self.state = state

    # ---------------------------------------------------------- connections
    def _refused(self, reason: str, count: int) -> None:
        for _ in range(count):
            self.counters.attempt_failed(f"{reason}: refused with RST", "listener_full")

    def _make_bridge(self) -> Bridge:
        bridge = Bridge()
        task = asyncio.create_task(self._serve(bridge), name=f"tcp-{self.spec.name}-conn")
        self._conns.add(task)
        task.add_done_callback(self._conns.discard)
        return bridge

    async def _serve(self, bridge: Bridge) -> None:
        counters = self.counters
        try:
            await bridge.wait_made()
        except TimeoutError:  # the connection never completed: nothing to serve
            bridge.abort("connection not made")
            return
        try:
            peer = await self.manager.wait_peer(self.spec.peer)
            if peer is None:
                raise ChannelRefused(ResetCode.UNREACHABLE, f"{self.spec.peer!r} is unreachable")
            if bridge.lost:
                return  # the client gave up while it waited for the peer
            args: dict[str, Any] = {"tunnel": self.spec.name}
            if self.spec.target is not None:
                args["target"] = str(self.spec.target)
            # The tunnel is the channels' source: [limits] max_channels_per_source keeps
            # its clients from taking every channel of the link.
            ch = await self.manager.node.open_stream(
                peer, "tcp", args=args, wait=False, source=f"tcp:{self.spec.name}"
            )
        except ChannelRefused as exc:
            why = "unreachable" if exc.code == ResetCode.UNREACHABLE else "refused"
            counters.attempt_failed(exc.reason, why)
            bridge.abort(exc.reason)
            return
        bridge.attach(ch)
        error = await counters.carry(bridge)
        if error:
            log.info("tcp tunnel %s: connection from %s ended: %s", self.spec.name,
                     bridge.peername, error)  # fmt: skip

    def info(self) -> dict[str, Any]:
        return {**self.spec.describe(), "state": self.state, **self.counters.snapshot()}
