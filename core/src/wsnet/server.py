"""The link listener: an aiohttp server upgrading requests at the link path to links."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from .authchain import authenticate, remote_of
from .interfaces import LINK
from .node import Node
from .wsreader import tapping

log = logging.getLogger("wsnet.server")
SUBPROTOCOL = "wsnet"


def link_app(
    node: Node, path: str, trusted: Callable[[object], None] | None = None
) -> web.Application:
    """``trusted(protocol)`` is told when a connection has finished its upgrade (from then on
    no handshake deadline applies to it; the link's HELLO has its own)."""

    async def upgrade(request: web.Request) -> web.StreamResponse:
        principal = await authenticate(node, request, LINK)
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,),
            max_msg_size=node.config.limits.max_message + 1,  # aiohttp: limit exclusive
            compress=False,  # tunnelled traffic is often compressed or encrypted already
            autoping=True,
        )
        if not ws.can_prepare(request).ok:
            return web.Response(
                status=426, text="wsnet link endpoint: WebSocket upgrade required\n"
            )
        with tapping():  # its messages can reach the link by callback (wsreader.py)
            await ws.prepare(request)
        if trusted is not None:
            trusted(request.protocol)
        await node.serve_link(ws, initiator=False, remote=remote_of(request), principal=principal)
        return ws

    app = web.Application()
    app.router.add_get(path, upgrade)
    return app
