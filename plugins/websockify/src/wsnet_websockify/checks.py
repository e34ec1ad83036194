"""What is decided before the upgrade: subprotocol, Origin, credentials, the token.

Every refusal here is an HTTP answer (400, 401, 403) sent before any target is
contacted; the node's authenticators of the "link" scope are asked in order, as for
an incoming link (the first principal wins, AuthRefused ends the request).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from wsnet import ANONYMOUS, AuthFailure, AuthRefused, NodeAPI, Principal, Throttled

log = logging.getLogger("wsnet.websockify")
_broken = Throttled(log, "websockify-auth", 10.0)
SUBPROTOCOLS = ("binary", "base64")


def subprotocol(request: web.Request) -> str:
    """websockify's choice: ``binary`` when offered (even beside ``base64``), else
    ``base64``, else none (binary frames); a list with neither is a 400."""
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    offered = [p for p in offered if p]
    for proto in SUBPROTOCOLS:
        if proto in offered:
            return proto
    if offered:
        raise web.HTTPBadRequest(
            text=f"unsupported WebSocket subprotocol {', '.join(offered)}: "
            "offer binary or base64, or none\n"
        )
    return ""


def check_origin(request: web.Request, origins: tuple[str, ...]) -> None:
    """websockify's ExpectOrigin: with an allow-list, Origin must be one of it (403)."""
    if not origins:
        return
    origin = request.headers.get("Origin", "")
    if origin.rstrip("/") not in origins:
        log.warning("refused a WebSocket from %s: origin %r not allowed",
                    request.remote or "?", origin[:200])  # fmt: skip
        raise web.HTTPForbidden(text=f"origin {origin[:200]!r} is not allowed\n")


async def authenticate(node: NodeAPI, request: web.Request) -> Principal:
    """The node's link authenticators on this upgrade; HTTPException when refused."""
    chain = [a for a in node.authenticators if "link" in a.scopes]
    if not chain:
        return ANONYMOUS
    remote = request.remote or "?"
    challenge: dict[str, str] = {}
    for auth in chain:
        try:
            principal = await auth.authenticate(request)
        except AuthRefused as exc:
            log.warning("refused a WebSocket from %s (%s): %s", remote, auth.name, exc.reason)
            node.emit(AuthFailure(remote, auth.name, exc.reason))
            cls = web.HTTPForbidden if exc.status == 403 else web.HTTPUnauthorized
            raise cls(text=f"{exc.reason}\n", headers={**auth.challenge(), **exc.headers}) from None
        except Exception as exc:  # fail closed, one log line per period, no traceback
            _broken.note(auth.name, "refused by a failing authenticator",
                         f"{auth.name}: {type(exc).__name__}")  # fmt: skip
            raise web.HTTPInternalServerError(text="authentication failed\n") from None
        if principal is not None:
            return principal
        challenge.update(auth.challenge())
    node.emit(AuthFailure(remote, "none", "no credentials accepted"))
    raise web.HTTPUnauthorized(text="authentication required\n", headers=challenge)


def token_of(request: web.Request, host_token: bool) -> str | None:
    """``?token=X``, or noVNC's ``?path=websockify?token=X`` passed on as it is, or (with
    host_token) the Host header's name, as websockify's --host-token."""
    if host_token:
        host = request.headers.get("Host", "")
        return host.rpartition(":")[0] if host.rpartition(":")[2].isdigit() else host or None
    query = parse_qs(request.query_string)
    if query.get("token"):
        return query["token"][0].rstrip("\n")
    for path in query.get("path", []):
        inner = parse_qs(urlsplit(path).query)
        if inner.get("token"):
            return inner["token"][0].rstrip("\n")
    return None
