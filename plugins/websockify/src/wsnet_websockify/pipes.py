"""The target end of a session: a TCP connection from this node, or a stream channel to
another node's ``tcp`` service (wsnet-tcp), which connects the target there.

Both read at most READ bytes at a time and write by awaiting the drain (or the peer's
credit), so a target that stops reading stops the WebSocket reader, and not reading
from the target (a browser that stopped reading) stops the target's sender.  Both call
back when data or the end arrives, so that a quiet session needs no task waiting in
read().
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable
from typing import Protocol, cast

from wsnet import ChannelRefused, NodeAPI, ResetCode, StreamChannel

from .spec import Target

READ = 256 * 1024
# The tunnel name the far node's tcp service sees: [authz] grants "tcp:websockify".
TUNNEL = "websockify"


class Pipe(Protocol):
    def readable(self) -> bool: ...  # read() would not wait: data, the end, or an error
    def on_readable(self, callback: Callable[[], object] | None) -> None: ...
    async def read(self) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    def write_eof(self) -> None: ...
    def close(self) -> None: ...


class ConnectError(Exception):
    """Why the target could not be reached (shown to the browser as the close reason)."""


class TargetReset(Exception):
    """The far end of a mesh target reset (its node refused it, or the connection broke)."""


class TcpPipe(asyncio.Protocol):
    """A target's TCP connection as a protocol, not asyncio streams: an idle session then
    holds this object and one transport (no StreamReader, StreamWriter and their
    futures), and each chunk the loop read reaches the WebSocket as it is (a stream
    reader copies it into its buffer, then out again)."""

    __slots__ = ("chunks", "drained", "eof", "error", "notify", "size", "transport", "waiter")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] | None = None  # only while there are some (760 bytes)
        self.size = 0  # bytes in chunks; reading pauses above READ
        self.eof = False
        self.error: str | None = None  # why the connection broke
        self.waiter: asyncio.Future[None] | None = None  # read() waiting for data
        self.drained: asyncio.Future[None] | None = None  # write() waiting to drain
        self.notify: Callable[[], object] | None = None  # on_readable's callback

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.chunks is None:
            self.chunks = deque()
        self.chunks.append(data)
        self.size += len(data)
        if self.size > READ and self.transport is not None:
            self.transport.pause_reading()  # the WebSocket side is behind: stop the target
        self._news()

    def eof_received(self) -> bool:
        self.eof = True
        self._news()
        return True  # keep the transport: close() closes it

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = getattr(exc, "strerror", None) or "connection reset"
        _wake(self.drained)
        self._news()

    def _news(self) -> None:
        _wake(self.waiter)
        if self.notify is not None:
            self.notify()

    def pause_writing(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        _wake(self.drained)
        self.drained = None

    # Pipe
    def readable(self) -> bool:
        return self.chunks is not None or self.eof

    def on_readable(self, callback: Callable[[], object] | None) -> None:
        self.notify = callback

    async def read(self) -> bytes:
        while self.chunks is None:
            if self.error is not None:
                raise TargetReset(self.error)
            if self.eof:
                return b""
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        # A few small chunks go as one message; a large one goes alone, uncopied.
        chunks = self.chunks
        data = chunks.popleft() if len(chunks) == 1 else _join(chunks)
        if not chunks:
            self.chunks = None
        self.size -= len(data)
        transport = self.transport
        if self.size <= READ and not self.eof and transport and not transport.is_reading():
            transport.resume_reading()  # after the end it would only read the end again
        return data

    async def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError(self.error or "the target closed")
        transport.write(data)
        if self.drained is not None:  # the kernel's buffer is full: wait for the target
            await self.drained
            if self.error is not None or transport.is_closing():
                raise ConnectionResetError(self.error or "the target closed")

    def write_eof(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            if self.transport is not None and self.transport.can_write_eof():
                self.transport.write_eof()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _join(chunks: deque[bytes]) -> bytes:
    """The first chunks, up to READ bytes (at least one), as one."""
    out = [chunks.popleft()]
    size = len(out[0])
    while chunks and size + len(chunks[0]) <= READ:
        size += len(chunks[0])
        out.append(chunks.popleft())
    return b"".join(out)


class MeshPipe:
    def __init__(self, channel: StreamChannel) -> None:
        self.channel = channel

    def readable(self) -> bool:
        ch = self.channel
        return ch.buffered > 0 or ch.at_eof or ch.closed

    def on_readable(self, callback: Callable[[], object] | None) -> None:
        self.channel.on_readable = callback

    async def read(self) -> bytes:
        try:
            return await self.channel.read(READ)
        except ChannelRefused as exc:  # the far node refused the target, or it reset
            raise TargetReset(exc.reason or f"reset (code {exc.code})") from None

    async def write(self, data: bytes) -> None:
        await self.channel.write(data)

    def write_eof(self) -> None:
        with contextlib.suppress(ChannelRefused):
            self.channel.write_eof()

    def close(self) -> None:
        if not self.channel.closed:
            self.channel.abort(ResetCode.CLOSED, "the WebSocket closed")


async def connect(node: NodeAPI, target: Target, timeout: float = 10.0) -> Pipe:
    """A pipe to ``target``, or ConnectError with a reason fit for a close frame."""
    if not target.node or target.node == node.name:
        return await _tcp(target, timeout)
    dst = node.resolve(target.node)
    if not node.reachable(dst):
        raise ConnectError(f"node {target.node!r} is not reachable")
    try:
        channel = await asyncio.wait_for(
            node.open_stream(
                dst, "tcp", args={"tunnel": TUNNEL, "target": target.address}, source=TUNNEL
            ),
            timeout,
        )
    except ChannelRefused as exc:
        raise ConnectError(exc.reason or f"refused by node {dst!r}") from None
    except TimeoutError:
        raise ConnectError(f"node {dst!r} did not answer") from None
    return MeshPipe(channel)


async def _tcp(target: Target, timeout: float) -> TcpPipe:
    loop = asyncio.get_running_loop()
    try:
        transport, pipe = await asyncio.wait_for(
            loop.create_connection(TcpPipe, target.host, target.port), timeout
        )
    except (OSError, TimeoutError) as exc:
        raise ConnectError(getattr(exc, "strerror", None) or "timed out") from None
    sock = transport.get_extra_info("socket")
    if sock is not None:  # interactive protocols (VNC, terminals): no Nagle delay
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return pipe
