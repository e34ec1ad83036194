"""What is decided before the upgrade: subprotocol, Origin, credentials, the token.

Every refusal here is an HTTP answer (400, 403) sent before any target is contacted;
credentials are the node's own chain (``NodeAPI.authenticate``, in server.py).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from aiohttp import web

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


def origin_refusal(request: web.Request, origins: tuple[str, ...]) -> str | None:
    """websockify's ExpectOrigin: with an allow-list, why this Origin is refused (403)."""
    if not origins:
        return None
    origin = request.headers.get("Origin", "")
    if origin.rstrip("/") in origins:
        return None
    return f"origin {origin[:200]!r} is not allowed"


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
