"""A hand-driven wsnet peer for hostile-input tests: it speaks the link protocol with
frames built by hand (wsnet.protocol's encoders), so a test can pack any frames, in any
order, into one WebSocket message, which a real node never would.

- frame builders (``hello``, ``open_``, ``accept``, ``data``, ``reset``, ``ping`` ...);
- ``RawPeer``: an aiohttp WebSocket client linked to a node; a background reader answers
  the node's PINGs, keeps the node's HELLO, and sorts frames by channel;
- ``RawSocket``: WebSocket spoken by hand over a plain socket, for a peer that never
  reads (aiohttp's client always drains the socket into its own queue).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from wsnet.protocol import ChannelKind, Flag, Frame, FrameType, decode_message
from wsnet.protocol.frames import encode_frame
from wsnet.protocol.messages import (
    Hello,
    OpenRequest,
    encode_hello,
    encode_open,
    encode_reset,
    encode_routes,
    encode_u32,
    encode_u64,
)

WINDOW = 1 << 20  # what a node grants per stream channel by default
MAX_FRAME = 128 * 1024  # DATA payload this raw peer sends and accepts (a node takes 1 MiB)


# ------------------------------------------------------------------ frames
def hello(name: str = "probe", **limits: int) -> bytes:
    """A HELLO with a node's default limits unless ``limits`` says otherwise."""
    lim = {
        "window": WINDOW,
        "max_frame": MAX_FRAME,
        "max_message": (1 << 20) + 4096,
        "max_channels": 1 << 16,
        **limits,
    }
    body = Hello(
        node=name,
        window=lim["window"],
        max_frame=lim["max_frame"],
        max_message=lim["max_message"],
        max_channels=lim["max_channels"],
    )
    return encode_frame(FrameType.HELLO, 0, 0, encode_hello(body))


def open_(
    cid: int,
    service: str,
    *,
    dst: str = "",
    src: str = "probe",
    kind: ChannelKind = ChannelKind.STREAM,
    args: dict[str, Any] | None = None,
    principal: str = "",
) -> bytes:
    req = OpenRequest(kind, service, src=src, dst=dst, args=args or {}, principal=principal)
    return encode_frame(FrameType.OPEN, 0, cid, encode_open(req))


def accept(cid: int) -> bytes:
    return encode_frame(FrameType.ACCEPT, 0, cid)


def data(cid: int, payload: bytes = b"", fin: bool = False) -> bytes:
    return encode_frame(FrameType.DATA, Flag.FIN if fin else 0, cid, payload)


def reset(cid: int, code: int = 0, reason: str = "") -> bytes:
    return encode_frame(FrameType.RESET, 0, cid, encode_reset(code, reason))


def window(cid: int, increment: int) -> bytes:
    return encode_frame(FrameType.WINDOW, 0, cid, encode_u32(increment))


def routes(advert: Mapping[str, int]) -> bytes:
    """A ROUTES frame advertising ``advert`` ({node name: hops})."""
    return encode_frame(FrameType.ROUTES, 0, 0, encode_routes(dict(advert)))


def ping(seq: int = 1) -> bytes:
    return encode_frame(FrameType.PING, 0, 0, encode_u64(seq))


# ----------------------------------------------------------- aiohttp peer
class RawPeer:
    """One link to a node, driven frame by frame.  Use ``RawPeer.link(url)``."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.node_hello: dict[str, Any] = {}
        self.frames: defaultdict[int, asyncio.Queue[Frame]] = defaultdict(asyncio.Queue)
        self.opens: asyncio.Queue[Frame] = asyncio.Queue()  # OPENs the node sent us
        self.adverts: list[dict[str, int]] = []  # ROUTES the node sent us, in order
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self._hello_seen = asyncio.Event()
        self._next_id = 1  # the dialling side uses odd channel ids
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def link(
        cls,
        url: str,
        name: str = "probe",
        *,
        expect_up: bool = True,
        limits: Mapping[str, int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[RawPeer]:
        """Link to ``url`` as node ``name`` (HELLO ``limits`` override the defaults); with
        ``expect_up``, wait for the node's HELLO.  ``headers``: e.g. Authorization."""
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(
                url,
                protocols=("wsnet",),
                max_msg_size=64 << 20,
                timeout=aiohttp.ClientWSTimeout(ws_close=3),
                headers=headers,
            ) as ws,
        ):
            peer = cls(ws)
            peer._reader = asyncio.create_task(peer._read())
            try:
                await ws.send_bytes(hello(name, **(limits or {})))
                if expect_up:
                    await asyncio.wait_for(peer._hello_seen.wait(), 10)
                yield peer
            finally:
                peer._reader.cancel()
                with contextlib.suppress(BaseException):
                    await peer._reader

    def next_id(self) -> int:
        cid, self._next_id = self._next_id, self._next_id + 2
        return cid

    async def send(self, *frames: bytes) -> None:
        """All ``frames`` in ONE WebSocket message."""
        await self.ws.send_bytes(b"".join(frames))

    async def _read(self) -> None:
        try:
            while True:
                msg = await self.ws.receive()
                if msg.type == aiohttp.WSMsgType.CLOSE:
                    self.close_reason = str(msg.extra or "")
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                for fr in decode_message(msg.data, 64 << 20):
                    await self._on_frame(fr)
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    async def _on_frame(self, fr: Frame) -> None:
        if fr.type == FrameType.HELLO:
            self.node_hello = json.loads(bytes(fr.payload))
            self._hello_seen.set()
        elif fr.type == FrameType.PING:  # keepalive: the node closes a silent peer
            await self.ws.send_bytes(encode_frame(FrameType.PONG, 0, 0, bytes(fr.payload)))
        elif fr.type == FrameType.OPEN:
            await self.opens.put(_own(fr))
        elif fr.type == FrameType.ROUTES:
            self.adverts.append(json.loads(bytes(fr.payload)))
        elif fr.type in (FrameType.DATA, FrameType.ACCEPT, FrameType.RESET, FrameType.WINDOW):
            await self.frames[fr.channel].put(_own(fr))

    @property
    def up(self) -> bool:
        return not self.closed.is_set() and not self.ws.closed

    async def wait_closed(self, timeout: float) -> tuple[int | None, str]:
        """(close code, reason) once the node closed the link, or (None, "") if still up."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout)
        return (self.close_code, self.close_reason) if self.closed.is_set() else (None, "")

    async def echo(self, payload: bytes, *, dst: str = "", timeout: float = 5.0) -> bytes:
        """Open a channel to ``echo`` (on ``dst``), send ``payload`` and FIN with the OPEN,
        and return what comes back up to the echo's FIN.  AssertionError on a RESET."""
        cid = self.next_id()
        await self.send(open_(cid, "echo", dst=dst), data(cid, payload, fin=True))
        return await self.read_stream(cid, timeout)

    async def read_stream(self, cid: int, timeout: float) -> bytes:
        """Payload of channel ``cid`` up to its FIN.  AssertionError on a RESET, on the
        link closing meanwhile, or after ``timeout``."""
        got = bytearray()
        while True:
            fr = await self.next_frame(cid, timeout)
            if fr.type == FrameType.RESET:
                raise AssertionError(f"channel {cid} reset: {bytes(fr.payload[2:])!r}")
            if fr.type == FrameType.DATA:
                got += fr.payload
                if fr.flags & Flag.FIN:
                    return bytes(got)

    async def next_frame(self, cid: int, timeout: float) -> Frame:
        """The next frame of channel ``cid``; AssertionError if the link closes first."""
        if not self.frames[cid].empty():
            return self.frames[cid].get_nowait()
        get = asyncio.ensure_future(self.frames[cid].get())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            await asyncio.wait({get, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not get.done():
                get.cancel()
        if get.done() and not get.cancelled():
            return get.result()
        if self.closed.is_set():
            raise AssertionError(
                f"the node closed the link (code {self.close_code}, "
                f"{self.close_reason!r}) while channel {cid} waited"
            )
        raise AssertionError(f"channel {cid}: nothing within {timeout}s")


def _own(fr: Frame) -> Frame:
    """A copy that does not pin the whole received message."""
    return Frame(fr.type, fr.flags, fr.channel, memoryview(bytes(fr.payload)))


# ------------------------------------------------------- hand-made socket
class RawSocket:
    """A WebSocket client written by hand on a blocking socket, which reads nothing
    after the upgrade unless asked: the node's replies pile up in the kernel and then in
    the node.  ``rcvbuf`` shrinks the receive buffer so that happens sooner."""

    def __init__(self, host: str, port: int, path: str = "/wsnet", rcvbuf: int = 4096) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wsnet\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            byte = self.sock.recv(1)  # byte by byte: leave the node's frames unread
            if not byte:
                break
            head += byte
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"upgrade refused: {head[:200]!r}")

    def send_binary(self, payload: bytes) -> None:
        """One masked binary message (a zero mask: the payload goes as it is)."""
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x82, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x82, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x82, 0x80 | 127, n)
        self.sock.sendall(head + b"\0\0\0\0" + payload)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
