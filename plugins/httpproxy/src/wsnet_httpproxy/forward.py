"""The entry side of one admitted request: a channel to the exit node's ``http``
service, the head and the body up, the response head and body down.

The body goes up in a task of its own while the response head is awaited, so an
upstream that answers before reading everything (a 413 of its own) is not deadlocked.
A client that goes away resets the channel (the exit node cancels the upstream).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from wsnet import ChannelRefused, ResetCode, StreamChannel, cancel_and_wait

from .admit import Admitted, Denied, request_host
from .spec import Route
from .stats import RouteStats
from .upstream import brief
from .wire import (
    VERSION,
    WireError,
    encode_head,
    end_to_end,
    head_size,
    read_head,
    to_multidict,
)
from .wsbridge import pump

if TYPE_CHECKING:
    from .manager import Manager

CHUNK = 256 * 1024
WRITE_PIECE = 64 * 1024  # a client reading slower than this per read_timeout is cut
SMALL_BODY = 64 * 1024  # a body up to this, of known length, leaves with its head


class _HeadWithBody(web.StreamResponse):
    """A response whose head is held until the first body bytes and written with them,
    as aiohttp's own ``web.Response`` does (the class attribute is aiohttp's switch for
    it; without it, on an older aiohttp, the head is written at once as before).  For a
    small body this is one send instead of two, and one segment for the client to wake
    up for (strace of bench ``http``: 2.5 writes per 1 KiB request before, 1.4 after)."""

    _send_headers_immediately = False


class BodyRefused(Exception):
    """The client's body ended the request: over ``max_body`` (413) or stalled (408)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class Outcome:
    """What the handler reports to the route's counters."""

    status: int = 0
    own_error: bool = False


_FORWARDED = frozenset(("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "via"))


def _chain(headers: list[list[str]], name: str, last: str) -> str:
    return ", ".join([*(v for k, v in headers if k.lower() == name), last])


def request_head(
    node: str, route: Route, path: str, request: web.Request, ws: bool
) -> dict[str, Any]:
    passed = end_to_end(request.headers)
    # Ours replace the client's: a client's X-Forwarded-Proto: https before ours was the
    # one most frameworks read.  For and Via are chains: ours is appended to what passed.
    # On an auth route, Authorization carried a login of this node (a link password):
    # never the upstream's to see.
    drop = _FORWARDED | {"authorization"} if route.auth else _FORWARDED
    headers = [h for h in passed if h[0].lower() not in drop]
    headers += [
        ["X-Forwarded-For", _chain(passed, "x-forwarded-for", request.remote or "")],
        ["X-Forwarded-Proto", request.scheme],
        ["X-Forwarded-Host", request.host or ""],
        ["Via", _chain(passed, "via", f"1.1 {node}")],
    ]
    query = request.rel_url.raw_query_string
    target = route.upstream_path(path)
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    length = None if chunked or not request.body_exists else request.content_length
    return {
        "v": VERSION,
        "route": route.name,
        "method": request.method,
        "upstream": route.upstream,
        "target": target + (f"?{query}" if query else ""),
        "host": request.host if route.preserve_host else "",
        "headers": headers,
        "length": 0 if not request.body_exists and not chunked else length,
        "connect_timeout": route.connect_timeout,
        "read_timeout": route.read_timeout,
        "tls_verify": route.tls_verify,
        "ws": ws,
        "protocols": [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ],
    }


async def forward(
    manager: Manager, admitted: Admitted, request: web.Request, stats: RouteStats, out: Outcome
) -> web.StreamResponse:
    node, route = manager.node, admitted.route
    exit_node = node.resolve(route.node)
    if not node.reachable(exit_node):
        return manager.denied(
            Denied(502, f"route {route.name}: node {exit_node} is unreachable", route.name), out
        )
    ws = request.headers.get("Upgrade", "").lower() == "websocket" and request.method == "GET"
    head = encode_head(request_head(node.name, route, admitted.path, request, ws))
    if (size := head_size(head)) > manager.settings.max_head:  # the client's doing: 431
        why = f"route {route.name}: request head of {size} bytes over max_head"
        return manager.denied(Denied(431, f"{why} ({manager.settings.max_head})", route.name), out)
    try:
        channel = await node.open_stream(
            exit_node, "http", args={"route": route.name}, wait=False, source=f"http:{route.name}"
        )
        await channel.write(head)
    except ChannelRefused as exc:
        return manager.denied(
            Denied(502, f"route {route.name}: node {exit_node} refused: {exc.reason}", route.name),
            out,
        )
    try:
        return await _exchange(manager, route, request, stats, out, channel, exit_node, ws)
    except BaseException:
        channel.abort(ResetCode.CLOSED, "client went away")
        raise


async def _exchange(
    manager: Manager,
    route: Route,
    request: web.Request,
    stats: RouteStats,
    out: Outcome,
    channel: StreamChannel,
    exit_node: str,
    ws: bool,
) -> web.StreamResponse:
    upload = _start_upload(request, channel, route, stats, ws)
    try:
        head = await read_head(channel, manager.settings.max_head)
    except (ChannelRefused, WireError) as exc:
        await asyncio.wait({upload}, timeout=0)
        body = upload.exception() if upload.done() and not upload.cancelled() else None
        if isinstance(body, BodyRefused):
            return manager.denied(
                Denied(body.status, f"route {route.name}: {body.reason}", route.name), out
            )
        await cancel_and_wait((upload,))
        why = exc.reason if isinstance(exc, ChannelRefused) else str(exc)
        return manager.denied(
            Denied(502, f"route {route.name}: node {exit_node}: {why}", route.name), out
        )
    if "error" in head:
        await cancel_and_wait((upload,))
        status = head["error"] if head["error"] in (502, 504) else 502
        return manager.denied(
            Denied(status, f"route {route.name}: {brief(str(head.get('reason', '')))}", route.name),
            out,
        )
    try:
        if ws:
            return await _websocket(request, channel, head, out)
        resp = _response(head, request.method)
        out.status = resp.status
        await resp.prepare(request)
        await _download(channel, resp, stats, route.read_timeout)
    except ChannelRefused as exc:  # the body was cut (link lost, upstream failed)
        why = f"route {route.name}: node {exit_node}: response cut: {exc.reason}"
        manager.failed(Denied(502, why, route.name), out)
        if request.transport is not None:  # never a clean end: the client must see the cut
            request.transport.close()  # (and aiohttp, finding it closed, logs nothing)
    except TimeoutError:  # the client stopped reading: no flush to wait for, an RST
        why = f"route {route.name}: client read nothing for {route.read_timeout:g}s: cut"
        manager.failed(Denied(408, why, route.name), out)
        channel.abort(ResetCode.CLOSED, "client stopped reading")  # the exit node stops
        if request.transport is not None:
            request.transport.abort()
    finally:
        await cancel_and_wait((upload,))
    return resp


def _start_upload(
    request: web.Request, channel: StreamChannel, route: Route, stats: RouteStats, ws: bool
) -> asyncio.Future[None]:
    """The body's upload as a task; for a request without a body (most GETs) only its
    end of stream, written here, and a future that is already done: a task would cost a
    turn of the event loop per request for nothing."""
    if ws or not request.body_exists:
        if not ws:
            channel.write_eof()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done
    return asyncio.ensure_future(_upload(request, channel, route, stats))


async def _upload(
    request: web.Request, channel: StreamChannel, route: Route, stats: RouteStats
) -> None:
    sent = 0
    while chunk := await _body_chunk(request, channel, route.read_timeout):
        sent += len(chunk)
        if route.max_body and sent > route.max_body:
            channel.abort(ResetCode.CLOSED, "request body over the route's limit")
            raise BodyRefused(413, f"request body over {route.max_body} bytes")
        stats.bytes_in += len(chunk)
        await channel.write(chunk)
    channel.write_eof()


async def _body_chunk(request: web.Request, channel: StreamChannel, timeout: float) -> bytes:
    """The next piece of the client's body; a client silent for ``timeout`` (the route's
    read_timeout) ends the request, else a slow sender held an upstream connection of the
    exit node's pool for ever."""
    try:
        return await asyncio.wait_for(request.content.read(CHUNK), timeout)
    except TimeoutError:
        channel.abort(ResetCode.CLOSED, "request body stalled")
        raise BodyRefused(408, f"request body stalled for {timeout:g}s") from None


def _response(head: dict[str, Any], method: str) -> web.StreamResponse:
    status, length = int(head["status"]), head.get("length")
    # Only where a body follows at once: a streamed or long body, HEAD, 1xx, 204 and 304
    # get their head as soon as it is here (an event stream's client waits for it).
    small = isinstance(length, int) and 0 < length <= SMALL_BODY and method != "HEAD"
    one_write = small and status >= 200 and status not in (204, 304)
    cls = _HeadWithBody if one_write else web.StreamResponse
    resp = cls(status=status, reason=head.get("reason") or None)
    for name, value in to_multidict(head.get("headers", [])).items():
        resp.headers.add(name, value)
    if isinstance(length, int):
        resp.content_length = length
    return resp


async def _download(
    channel: StreamChannel, resp: web.StreamResponse, stats: RouteStats, timeout: float
) -> None:
    """The body to the client; TimeoutError when a write of WRITE_PIECE bytes stands still
    for ``timeout`` (a client that stopped reading would hold the channel and the exit
    node's upstream connection for ever; a slow one that reads goes on)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as deadline:
        while chunk := await channel.read_chunk():
            stats.bytes_out += len(chunk)
            view = memoryview(chunk)
            for at in range(0, len(view), WRITE_PIECE):
                deadline.reschedule(loop.time() + timeout)
                await resp.write(view[at : at + WRITE_PIECE])
            deadline.reschedule(None)
        await resp.write_eof()


async def _websocket(
    request: web.Request, channel: StreamChannel, head: dict[str, Any], out: Outcome
) -> web.StreamResponse:
    headers = to_multidict(head.get("headers", []))
    protocol = headers.get("Sec-WebSocket-Protocol")
    ws = web.WebSocketResponse(protocols=[protocol] if protocol else (), max_msg_size=16 << 20)
    ws.headers.add("Via", headers.get("Via", ""))
    out.status = 101
    await ws.prepare(request)
    with contextlib.suppress(ConnectionError):
        await pump(ws, channel)
    return ws


__all__ = ["Outcome", "forward", "request_host"]
