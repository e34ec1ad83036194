"""Tapped links keep the stream's order against the messages that end a link: a binary
message behind a text message (a violation) or behind the peer's close frame, in the
same TCP segment, is never handed to the session, as when every message went through
``receive()`` (wsreader.py).  The peer here speaks WebSocket by hand on a plain socket,
so that frames a real client never sends together arrive in one segment."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest

from wsnet.config import Config, ControlConfig, ListenConfig
from wsnet.link import Link
from wsnet.plugins import load
from wsnet.protocol import ChannelKind, Flag, FrameType
from wsnet.protocol.frames import encode_frame
from wsnet.protocol.messages import Hello, OpenRequest, encode_hello, encode_open
from wsnet.runtime import Runtime

TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8


def _frame(opcode: int, payload: bytes) -> bytes:
    """One masked WebSocket frame (a zero mask: the payload goes as it is)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    else:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    return head + b"\0\0\0\0" + payload


def _open_echo(cid: int) -> bytes:
    """A binary message that would start the echo service, with data and FIN."""
    req = OpenRequest(ChannelKind.STREAM, "echo", src="probe")
    return encode_frame(FrameType.OPEN, 0, cid, encode_open(req)) + encode_frame(
        FrameType.DATA, Flag.FIN, cid, b"acted on"
    )


async def _until(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110 - polled, bounded above
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def _raw_link() -> AsyncIterator[tuple[Link, asyncio.StreamWriter]]:
    """A node, and a hand-made WebSocket linked to it as "probe" (its link tapped)."""
    config = Config(name="far", listen=ListenConfig(port=0), control=ControlConfig(enabled=False))
    async with Runtime(config, load([])) as far:
        url = urlsplit(far.node.listen_url)
        assert url.hostname is not None and url.port is not None
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        drain: asyncio.Task[None] | None = None
        try:
            writer.write(
                f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wsnet\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 101"), head
            hello = Hello(node="probe", window=1 << 20, max_frame=1 << 17,
                          max_message=(1 << 20) + 4096, max_channels=64)  # fmt: skip
            writer.write(_frame(BINARY, encode_frame(FrameType.HELLO, 0, 0, encode_hello(hello))))

            async def discard() -> None:  # the node's HELLO, PINGs, close frame
                while await reader.read(65536):
                    pass

            drain = asyncio.create_task(discard())

            def tapped() -> bool:
                link = far.node.link_by_peer("probe")
                return link is not None and bool(link._tap)

            await _until(tapped)
            link = far.node.link_by_peer("probe")
            assert link is not None
            yield link, writer
        finally:
            if drain is not None:
                drain.cancel()
                with contextlib.suppress(BaseException):
                    await drain
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@pytest.mark.parametrize(
    ("first", "code"),
    [(_frame(TEXT, b"not wsnet"), 4002), (_frame(CLOSE, struct.pack("!H", 1000)), 1000)],
    ids=["text", "close"],
)
async def test_a_message_behind_the_links_end_in_one_segment_is_not_acted_on(
    first: bytes, code: int
) -> None:
    async with _raw_link() as (link, writer):
        before = link.session.stats.messages_in
        # One write: the text (or close) frame, then an OPEN with data and FIN.
        writer.write(first + _frame(BINARY, _open_echo(1)))
        await asyncio.wait_for(link.wait_stopped(), 10)
        assert link.close_code == code, (link.close_code, link.close_reason)
        # The OPEN came after the end: the session never saw it, no service started.
        assert link.session.stats.messages_in == before
