"""The target end of a session: a TCP connection from this node, or a stream channel to
another node's ``tcp`` service (wsnet-tcp), which connects the target there.

Both read at most READ bytes at a time and write by awaiting the drain (or the peer's
credit), so a target that stops reading stops the WebSocket reader, and not reading
from the target (a browser that stopped reading) stops the target's sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Protocol

from wsnet import ChannelRefused, NodeAPI, ResetCode, StreamChannel

from .spec import Target

READ = 256 * 1024
# The tunnel name the far node's tcp service sees: [authz] grants "tcp:websockify".
TUNNEL = "websockify"


class Pipe(Protocol):
    async def read(self) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    def write_eof(self) -> None: ...
    def close(self) -> None: ...


class ConnectError(Exception):
    """Why the target could not be reached (shown to the browser as the close reason)."""


class TargetReset(Exception):
    """The far end of a mesh target reset (its node refused it, or the connection broke)."""


class TcpPipe:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self) -> bytes:
        try:
            return await self.reader.read(READ)
        except OSError as exc:
            raise TargetReset(exc.strerror or "connection reset") from None

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def write_eof(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            if self.writer.can_write_eof():
                self.writer.write_eof()

    def close(self) -> None:
        self.writer.close()


class MeshPipe:
    def __init__(self, channel: StreamChannel) -> None:
        self.channel = channel

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
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(target.host, target.port, limit=READ), timeout
        )
    except (OSError, TimeoutError) as exc:
        raise ConnectError(getattr(exc, "strerror", None) or "timed out") from None
    sock = writer.get_extra_info("socket")
    if sock is not None:  # interactive protocols (VNC, terminals): no Nagle delay
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return TcpPipe(reader, writer)
