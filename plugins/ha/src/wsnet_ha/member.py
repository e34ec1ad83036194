"""A member node's side: the ``ha`` service where hubs announce its role.

The notice is turned into an ``HaRoleChanged`` event (for logs) and, when
``close_listeners`` > 0, the core's ``ListenersSuspended``: wsnet-tcp hears that and
closes its listeners towards that hub for that long (tcp-over-websocket's standby socket
close).  Roles are kept for ``wsnet ctl ha``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from wsnet import (
    ChannelContext,
    ListenersSuspended,
    NodeAPI,
    ResetCode,
    StreamChannel,
    StreamService,
)

from .events import HaRoleChanged

log = logging.getLogger("wsnet.ha")
ROLES = ("active", "standby")


class MemberService(StreamService):
    name = "ha"

    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        self.roles: dict[tuple[str, str], dict[str, Any]] = {}  # (hub, group) -> row

    async def handle(self, channel: StreamChannel, ctx: ChannelContext) -> None:
        args = ctx.request.args
        group, role, close_for = args.get("group"), args.get("role"), args.get("close_listeners")
        if (
            not isinstance(group, str)
            or role not in ROLES
            or not isinstance(close_for, int | float)
        ):
            channel.abort(ResetCode.BAD_REQUEST, "ha notice needs group, role, close_listeners")
            return
        hub = ctx.request.src or ctx.peer
        log.info("ha %s: %s says this node is %s%s", group, hub, role,
                 f" (listeners closed for {close_for:g}s)" if close_for > 0 else "")  # fmt: skip
        self.roles[(hub, group)] = {"group": group, "hub": hub, "role": role,
                                    "since": round(time.time(), 3)}  # fmt: skip
        self.node.emit(HaRoleChanged(group, hub, str(role), float(close_for)))
        if close_for > 0:
            why = f"ha {group}: {hub} says this node is {role}"
            self.node.emit(ListenersSuspended(hub, float(close_for), why))
        await channel.read()
        channel.write_eof()
