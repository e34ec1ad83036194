"""TLS and plain on one port: the first byte of a connection tells them apart.

A TLS connection starts with a handshake record (0x16) or, from very old clients, an
SSLv2-style hello (high bit set: 0x80); an HTTP request starts with a letter.  The byte
is peeked (MSG_PEEK), so whichever protocol is chosen still reads it.  websockify serves
ws:// and wss:// on one port this way, and so does wsnet's browser bridge.
"""

from __future__ import annotations

import asyncio
import socket

TLS_FIRST = frozenset({0x16, 0x80})


async def peek_first_byte(sock: socket.socket) -> bytes:
    """The connection's first byte, left unread; b"" when the peer closed before sending.

    Waits for as long as the peer sends nothing: the caller bounds it (a Listener's
    deadline cancels the task).  OSError when the connection failed."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    return sock.recv(1, socket.MSG_PEEK)


def looks_like_tls(first: bytes) -> bool:
    return bool(first) and first[0] in TLS_FIRST
