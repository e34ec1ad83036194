"""A close reason is cut to the 123 bytes a close frame holds on a character boundary:
a reason cut inside a UTF-8 character is not valid text, and the peer's WebSocket
(aiohttp) then fails the close frame itself (1007) instead of reading the code and the
reason.  Reasons quote what the peer sent (a bad ROUTES entry, a bad node name), so a
violation arriving by the tap (wsreader.py) must still reach the peer as 4002."""

from __future__ import annotations

import asyncio

import aiohttp

from wsnet.config import Config, ControlConfig, ListenConfig
from wsnet.plugins import load
from wsnet.protocol import FrameType
from wsnet.protocol.frames import encode_frame
from wsnet.protocol.messages import Hello, encode_hello, encode_routes
from wsnet.runtime import Runtime


async def test_a_violation_quoting_non_ascii_reaches_the_peer_as_4002() -> None:
    config = Config(name="far", listen=ListenConfig(port=0), control=ControlConfig(enabled=False))
    async with (
        Runtime(config, load([])) as far,
        aiohttp.ClientSession() as http,
        http.ws_connect(far.node.listen_url, protocols=("wsnet",)) as ws,
    ):
        hello = Hello(node="probe", window=1 << 20, max_frame=1 << 17,
                      max_message=(1 << 20) + 4096, max_channels=64)  # fmt: skip
        await ws.send_bytes(encode_frame(FrameType.HELLO, 0, 0, encode_hello(hello)))
        async with asyncio.timeout(20):
            while far.node.link_by_peer("probe") is None:  # noqa: ASYNC110 - bounded
                await asyncio.sleep(0.01)
            # "ROUTES: bad entry '€€€…": byte 120 falls inside a three-byte character.
            bad = encode_routes({"\u20ac" * 64: 1})
            await ws.send_bytes(encode_frame(FrameType.ROUTES, 0, 0, bad))
            while (msg := await ws.receive()).type is aiohttp.WSMsgType.BINARY:
                pass
        assert ws.close_code == 4002, (msg.type, msg.data, msg.extra)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.extra.startswith("ROUTES: bad entry '\u20ac")
        assert len(msg.extra.encode()) <= 120
