"""WebSocket upgrades, end to end: the entry node accepts the client's WebSocket
(aiohttp ``WebSocketResponse``), the exit node dials the upstream (``ws_connect``), and
messages cross the channel as ``[type:1][length:4][payload]`` records (type 1 text,
2 binary, 8 close with a 2-byte code and the reason).  Each side pumps both ways until
one of them closes; the channel's credit bounds what is buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from wsnet import ChannelRefused, StreamChannel, cancel_and_wait

from .upstream import Refused, Upstream
from .wire import WS_HANDSHAKE, write_head

if TYPE_CHECKING:
    from .manager import Manager

_REC = struct.Struct(">BI")
TEXT, BINARY, CLOSE = 1, 2, 8
MAX_MESSAGE = 16 * 1024 * 1024
WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


async def exit_websocket(
    manager: Manager,
    channel: StreamChannel,
    head: dict[str, Any],
    up: Upstream,
    headers: CIMultiDict[str],
    via: str,
) -> None:
    for name in list(headers):
        if name.lower() in WS_HANDSHAKE:
            del headers[name]
    protocols = [p for p in head.get("protocols", []) if isinstance(p, str)]
    url = up.url(str(head.get("target", "/"))).replace("http", "ws", 1)
    try:
        ws = await manager.ws_session.ws_connect(
            url,
            headers=headers,
            protocols=protocols,
            max_msg_size=MAX_MESSAGE,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            autoping=True,
            ssl=bool(head.get("tls_verify", True)),
            server_hostname=up.name or None,
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise Refused(502, f"upstream {up.display} refused the WebSocket: {exc.status}") from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise Refused(502, f"upstream {up.display}: {type(exc).__name__}: {exc}") from None
    except ValueError as exc:  # CR/LF in a header of the head (aiohttp refuses it)
        raise Refused(502, f"bad request head: {exc}") from None
    try:
        hdrs = [["Via", via]]
        if ws.protocol:
            hdrs.append(["Sec-WebSocket-Protocol", ws.protocol])
        await write_head(channel, {"status": 101, "reason": "", "headers": hdrs, "length": 0})
        await pump(ws, channel)
    finally:
        await ws.close()


async def pump(ws: WebSocket, channel: StreamChannel) -> None:
    """Both directions until either end closes; then the other end is closed too."""
    up = asyncio.ensure_future(_ws_to_channel(ws, channel))
    down = asyncio.ensure_future(_channel_to_ws(channel, ws))
    try:
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait((up, down))


async def _ws_to_channel(ws: WebSocket, channel: StreamChannel) -> None:
    with contextlib.suppress(ChannelRefused):
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                data = msg.data.encode()
                await channel.write(_REC.pack(TEXT, len(data)) + data)
            elif msg.type == WSMsgType.BINARY:
                await channel.write(_REC.pack(BINARY, len(msg.data)) + msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
        code = ws.close_code or 1000
        await channel.write(_REC.pack(CLOSE, 2) + struct.pack(">H", code))
        channel.write_eof()


async def _channel_to_ws(channel: StreamChannel, ws: WebSocket) -> None:
    with contextlib.suppress(ChannelRefused, asyncio.IncompleteReadError, ConnectionError):
        while True:
            kind, size = _REC.unpack(await channel.readexactly(_REC.size))
            if size > MAX_MESSAGE:
                await ws.close(code=1009, message=b"message too big")
                return
            data = await channel.readexactly(size) if size else b""
            if kind == TEXT:
                await ws.send_str(data.decode(errors="replace"))
            elif kind == BINARY:
                await ws.send_bytes(data)
            else:
                code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1000
                await ws.close(code=code if 1000 <= code < 5000 else 1000)
                return
    await ws.close()
