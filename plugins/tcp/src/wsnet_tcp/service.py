"""The connect side: the ``tcp`` service turns each channel into a TCP connection.

A channel names its tunnel (``args.tunnel``).  It is connected to that tunnel's
``connect`` address here, or to ``args.target`` when the listen side asked for
one and ``[tcp] targets`` allows it.  Whatever goes wrong (no such tunnel, not
allowed, connect refused or timed out) resets only this channel, with a reason
the listen side logs and counts; the listen side then resets its TCP client.
"""

from __future__ import annotations

import asyncio
import logging

from wsnet import ChannelContext, ChannelRefused, ResetCode, Service, StreamChannel, Throttled
from wsnet.channel import Channel

from .bridge import Bridge
from .manager import Manager
from .spec import Address, check_name, parse_address, target_allowed

log = logging.getLogger("wsnet.tcp")


class TcpService(Service):
    name = "tcp"

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        # A peer can make every channel fail (an unknown tunnel, a closed target): one
        # line per kind every 10 s, with the count, not one per channel.
        self._log = Throttled(log, "tcp", 10.0)

    async def handle(self, channel: Channel, ctx: ChannelContext) -> None:
        assert isinstance(channel, StreamChannel)
        node = self.manager.node.name
        try:
            tunnel, address, role = self._route(ctx)
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
            await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(
                    lambda: bridge, address.host, address.port
                ),
                self.manager.settings.connect_timeout,
            )
        except OSError as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "timed out"
            reason = f"node {node!r}: tunnel {tunnel!r}: connect to {address} failed: {why}"
            counters.attempt_failed(reason)
            self._log.note("connect", "not connected", reason)
            channel.abort(ResetCode.SERVICE_ERROR, reason)
            return
        await counters.carry(bridge)

    def _route(self, ctx: ChannelContext) -> tuple[str, Address, str]:
        """(tunnel name, address to connect, counters role) or ChannelRefused."""
        args = ctx.request.args
        name = args.get("tunnel")
        try:
            check_name(name if isinstance(name, str) else "")
        except ValueError as exc:
            raise ChannelRefused(ResetCode.BAD_REQUEST, str(exc)) from None
        assert isinstance(name, str)
        denial = self.manager.node.authorize(ctx.principal, "open", f"tcp:{name}")
        if denial:
            who = ctx.principal.name
            raise ChannelRefused(ResetCode.DENIED, f"{who!r} may not open tcp:{name}: {denial}")
        target = args.get("target")
        if target is not None:
            return name, self._ad_hoc(name, target), "target"
        spec = self.manager.connects.get(name)
        if spec is None:
            have = ", ".join(sorted(self.manager.connects)) or "none"
            why = f"no tcp tunnel {name!r} to connect (have: {have})"
            raise ChannelRefused(ResetCode.NO_SERVICE, why)
        return name, spec.address, "connect"

    def _ad_hoc(self, name: str, target: object) -> Address:
        try:
            address = parse_address(target if isinstance(target, str) else "")
        except ValueError as exc:
            raise ChannelRefused(ResetCode.BAD_REQUEST, f"target: {exc}") from None
        if not target_allowed(list(self.manager.settings.targets), address):
            raise ChannelRefused(ResetCode.DENIED, f"tunnel {name!r}: target {address} is not in "
                                            "[tcp] targets")  # fmt: skip
        return address
