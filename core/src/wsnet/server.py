"""The link listener: an aiohttp server upgrading requests at the link path to links."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from .events import AuthFailure
from .interfaces import ANONYMOUS, AuthRefused, Principal
from .node import Node

log = logging.getLogger("wsnet.server")
SUBPROTOCOL = "wsnet"


async def authenticate(node: Node, request: web.Request) -> Principal:
    """Run the authenticator chain; raise an HTTP error response when refused."""
    if not node.authenticators:
        return ANONYMOUS
    challenge: dict[str, str] = {}
    for auth in node.authenticators:
        try:
            principal = await auth.authenticate(request)
        except AuthRefused as exc:
            log.warning("refused a link from %s (%s): %s", _remote(request), auth.name, exc.reason)
            node.emit(AuthFailure(_remote(request), auth.name, exc.reason))
            raise _http_error(exc.status, exc.reason, {**auth.challenge(), **exc.headers}) from None
        if principal is not None:
            return principal
        challenge.update(auth.challenge())
    node.emit(AuthFailure(_remote(request), "none", "no credentials accepted"))
    raise _http_error(401, "authentication required", challenge)


_REFUSALS: dict[int, type[web.HTTPException]] = {
    403: web.HTTPForbidden,
    429: web.HTTPTooManyRequests,  # too many failed logins: Retry-After says when
    503: web.HTTPServiceUnavailable,  # the password checks' queue is full
}


def _http_error(status: int, reason: str, headers: dict[str, str]) -> web.HTTPException:
    cls = _REFUSALS.get(status, web.HTTPUnauthorized)
    return cls(text=f"{reason}\n", headers=headers)


def _remote(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peer[0]}:{peer[1]}" if peer else (request.remote or "?")


def link_app(
    node: Node, path: str, trusted: Callable[[object], None] | None = None
) -> web.Application:
    """``trusted(protocol)`` is told when a connection has finished its upgrade (from then on
    no handshake deadline applies to it; the link's HELLO has its own)."""

    async def upgrade(request: web.Request) -> web.StreamResponse:
        principal = await authenticate(node, request)
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
        await ws.prepare(request)
        if trusted is not None:
            trusted(request.protocol)
        await node.serve_link(ws, initiator=False, remote=_remote(request), principal=principal)
        return ws

    app = web.Application()
    app.router.add_get(path, upgrade)
    return app
