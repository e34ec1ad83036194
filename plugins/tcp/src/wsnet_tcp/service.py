"""The connect side: the ``tcp`` service turns each channel into a TCP connection.

A channel names its tunnel (``args.tunnel``).  It is connected to that tunnel's
``connect`` address here, or to ``args.target`` when the listen side asked for one,
``[tcp] targets`` allows it and the principal's grants cover it (targets.py).
Whatever goes wrong (no such tunnel, not allowed, connect refused or timed out)
resets only this channel, with a reason the listen side logs and counts; the
listen side then resets its TCP client.
"""

from __future__ import annotations

import asyncio
import logging

from wsnet import ChannelContext, ChannelRefused, ResetCode, StreamChannel, StreamService, Throttled

from .bridge import Bridge
from .manager import Manager
from .spec import Address, check_name
from .targets import checked

log = logging.getLogger("wsnet.tcp")


class TcpService(StreamService):
    name = "tcp"

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        # A peer can make every channel fail (an unknown tunnel, a closed target): one
        # line per kind every 10 s, with the count, not one per channel.
        self._log = Throttled(log, "tcp", 10.0)

    async def handle(self, channel: StreamChannel, ctx: ChannelContext) -> None:
        node = self.manager.node.name
        try:
            tunnel, addresses, role = await self._route(ctx)
        except ChannelRefused as exc:
            self._log.note(
                "refused", "refused", f"from {ctx.request.src or ctx.peer}: {exc.reason}"
            )
            channel.abort(exc.code, f"node {node!r}: {exc.reason}")
            return
        counters = self.manager.counters_for(tunnel, role)
        bridge = Bridge()
        bridge.attach(channel)
        try:
            await self._connect(bridge, addresses)
        except OSError as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "timed out"
            at = addresses[-1]
            reason = f"node {node!r}: tunnel {tunnel!r}: connect to {at} failed: {why}"
            counters.attempt_failed(reason, "connect_failed")
            self._log.note("connect", "not connected", reason)
            channel.abort(ResetCode.SERVICE_ERROR, reason)
            return
        await counters.carry(bridge)

    async def _connect(self, bridge: Bridge, addresses: list[Address]) -> None:
        """Each address in turn, within one connect_timeout in all; the last error raised."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.manager.settings.connect_timeout
        for i, address in enumerate(addresses):
            try:
                await asyncio.wait_for(
                    loop.create_connection(lambda: bridge, address.host, address.port),
                    max(0.0, deadline - loop.time()),
                )
                return
            except OSError:
                if i == len(addresses) - 1 or loop.time() >= deadline:
                    raise

    async def _route(self, ctx: ChannelContext) -> tuple[str, list[Address], str]:
        """(tunnel name, addresses to connect, counters role) or ChannelRefused."""
        args = ctx.request.args
        name = args.get("tunnel")
        try:
            check_name(name if isinstance(name, str) else "")
        except ValueError as exc:
            raise ChannelRefused(ResetCode.BAD_REQUEST, str(exc)) from None
        assert isinstance(name, str)
        node = self.manager.node
        denial = node.authorize(ctx.principal, "open", f"tcp:{name}")
        if denial:
            who = ctx.principal.name
            raise ChannelRefused(ResetCode.DENIED, f"{who!r} may not open tcp:{name}: {denial}")
        target = args.get("target")
        if target is not None:
            settings = self.manager.settings
            found = await checked(
                node, settings.targets, ctx.principal, name, target, settings.connect_timeout
            )
            return name, found, "target"
        spec = self.manager.connects.get(name)
        if spec is None:
            have = ", ".join(sorted(self.manager.connects)) or "none"
            why = f"no tcp tunnel {name!r} to connect (have: {have})"
            raise ChannelRefused(ResetCode.NO_SERVICE, why)
        return name, [spec.address], "connect"
