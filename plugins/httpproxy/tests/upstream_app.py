"""A real upstream HTTP server for the proxy tests (aiohttp, its own process).

``python upstream_app.py PORT``; every path is under /x (the proxy maps /px to /x):
- GET /x/blob?size=N          N bytes of ``blob(N)`` (Content-Length), or chunked with &chunked=1
- POST|PUT /x/upload          reads the body, answers {"size", "sha256", "te", "cl"}
- GET /x/echo                 {"path_qs", "headers": [[k, v], ...], "peer"}
- GET /x/nocontent            204;   GET /x/etag  200 with ETag "v1", 304 for If-None-Match "v1"
- GET /x/slow?s=SECONDS       answers after SECONDS
- GET /x/stream               endless body; /x/state says when each stream ended
- GET /x/conns                how many TCP connections this server has accepted
- GET /x/ws                   WebSocket echo (text and binary)
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time

from aiohttp import web

BLOCK = hashlib.sha256(b"wsnet-httpproxy").digest() * 2048  # 64 KiB, deterministic
STATE: dict[str, object] = {"streams_open": 0, "stream_ended": 0.0}
CONNECTIONS: set[object] = set()


def blob_chunks(size: int) -> list[bytes]:
    full, rest = divmod(size, len(BLOCK))
    return [BLOCK] * full + ([BLOCK[:rest]] if rest else [])


def blob_sha(size: int) -> str:
    h = hashlib.sha256()
    for c in blob_chunks(size):
        h.update(c)
    return h.hexdigest()


async def blob(request: web.Request) -> web.StreamResponse:
    size = int(request.query.get("size", "0"))
    resp = web.StreamResponse()
    if request.query.get("chunked"):
        resp.enable_chunked_encoding()
    else:
        resp.content_length = size
    await resp.prepare(request)
    if request.method != "HEAD":
        full, rest = divmod(size, len(BLOCK))
        for _ in range(full):
            await resp.write(BLOCK)
        if rest:
            await resp.write(BLOCK[:rest])
    await resp.write_eof()
    return resp


async def upload(request: web.Request) -> web.Response:
    h, n = hashlib.sha256(), 0
    while chunk := await request.content.read(1 << 18):
        h.update(chunk)
        n += len(chunk)
    te, cl = request.headers.get("Transfer-Encoding", ""), request.headers.get("Content-Length", "")
    return web.json_response({"size": n, "sha256": h.hexdigest(), "te": te, "cl": cl})


async def echo(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "path_qs": request.path_qs,
            "headers": list(request.headers.items()),
            "peer": request.remote,
            "method": request.method,
        }
    )


async def nocontent(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def etag(request: web.Request) -> web.Response:
    if request.headers.get("If-None-Match") == '"v1"':
        return web.Response(status=304, headers={"ETag": '"v1"'})
    return web.Response(text="versioned\n", headers={"ETag": '"v1"'})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "5")))
    return web.Response(text="late\n")


async def stream(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(request)
    STATE["streams_open"] = int(str(STATE["streams_open"])) + 1
    try:
        for _ in range(1_000_000):  # bounded: 64 GiB at most
            await resp.write(BLOCK)
    finally:
        STATE["streams_open"] = int(str(STATE["streams_open"])) - 1
        STATE["stream_ended"] = time.time()
    return resp


async def trickle(request: web.Request) -> web.StreamResponse:
    """A chunked response whose head goes out at once and whose body comes late."""
    resp = web.StreamResponse()
    await resp.prepare(request)
    await asyncio.sleep(float(request.query.get("s", "3")))
    await resp.write(b"late\n")
    await resp.write_eof()
    return resp


async def state(request: web.Request) -> web.Response:
    return web.json_response(STATE)


async def conns(request: web.Request) -> web.Response:
    return web.json_response({"connections": len(CONNECTIONS)})


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("echo",))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


@web.middleware
async def count_connections(request: web.Request, handler: object) -> web.StreamResponse:
    CONNECTIONS.add(request.transport)
    return await handler(request)  # type: ignore[operator, no-any-return]


def main() -> None:
    app = web.Application(middlewares=[count_connections], client_max_size=0)
    app.router.add_get("/x/blob", blob)
    app.router.add_route("POST", "/x/upload", upload)
    app.router.add_route("PUT", "/x/upload", upload)
    app.router.add_route("*", "/x/echo", echo)
    app.router.add_get("/x/nocontent", nocontent)
    app.router.add_get("/x/etag", etag)
    app.router.add_get("/x/slow", slow)
    app.router.add_get("/x/stream", stream)
    app.router.add_get("/x/trickle", trickle)
    app.router.add_get("/x/state", state)
    app.router.add_get("/x/conns", conns)
    app.router.add_get("/x/ws", ws_echo)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
