"""The bridge's listening socket: ws and wss on one port, told apart by the first byte.

websockify sniffs the first byte of each connection: 0x16 (a TLS handshake record) or
0x80 (an SSLv2-style hello) means TLS.  Here each accepted socket is watched until it
is readable, its first byte is peeked (MSG_PEEK: nothing is consumed), and only then is
it handed to aiohttp, wrapped in TLS or not.  A client that sends nothing within
HANDSHAKE seconds is closed with RST; with ``ssl_only`` a plain one is closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Any

from wsnet import Throttled

log = logging.getLogger("wsnet.websockify")
HANDSHAKE = 10.0  # seconds for the first byte, and again for the TLS handshake
TLS_FIRST = (0x16, 0x80)
_LINGER_RST = struct.pack("ii", 1, 0)


def _rst(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    sock.close()


class Acceptor:
    def __init__(
        self,
        name: str,
        factory: Callable[[], asyncio.BaseProtocol],
        tls: ssl.SSLContext | None,
        ssl_only: bool,
    ) -> None:
        self.name, self.factory, self.tls, self.ssl_only = name, factory, tls, ssl_only
        self.sockets: list[socket.socket] = []
        self.waiting: dict[int, tuple[socket.socket, asyncio.TimerHandle]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self._log = Throttled(log, name, 10.0)

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)  # fmt: skip
        for family, kind, proto, _, addr in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            self.sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(addr)
            sock.listen(4096)
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._accept, sock)

    @property
    def port(self) -> int:
        return int(self.sockets[0].getsockname()[1]) if self.sockets else 0

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in self.sockets:
            if sock.fileno() != -1:
                loop.remove_reader(sock.fileno())
                sock.close()
        for fd, (conn, timer) in list(self.waiting.items()):
            timer.cancel()
            loop.remove_reader(fd)
            _rst(conn)
        self.waiting.clear()

    def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(256):  # then let the loop run other callbacks
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    self._log.note("fds", "left waiting", f"accept: {exc.strerror}; pausing 0.5s")
                    loop.remove_reader(sock.fileno())
                    loop.call_later(0.5, self._resume, sock)
                return
            conn.setblocking(False)
            fd = conn.fileno()
            timer = loop.call_later(HANDSHAKE, self._expire, fd)
            self.waiting[fd] = (conn, timer)
            loop.add_reader(fd, self._sniff, fd)

    def _resume(self, sock: socket.socket) -> None:
        if sock.fileno() != -1:
            asyncio.get_running_loop().add_reader(sock.fileno(), self._accept, sock)

    def _expire(self, fd: int) -> None:
        conn, _ = self.waiting.pop(fd, (None, None))
        if conn is not None:
            asyncio.get_running_loop().remove_reader(fd)
            _rst(conn)

    def _sniff(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        conn, timer = self.waiting.pop(fd)
        loop.remove_reader(fd)
        timer.cancel()
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except OSError:
            conn.close()
            return
        if not first:
            conn.close()  # closed before a word: a port scanner, a health check
            return
        tls = first[0] in TLS_FIRST
        if (tls and self.tls is None) or (not tls and self.ssl_only):
            what = "TLS but no cert is configured" if tls else "plain, but ssl_only is set"
            self._log.note("sniff", "closed", f"a connection was {what}")
            _rst(conn)
            return
        task = loop.create_task(self._hand_over(conn, self.tls if tls else None))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _hand_over(self, conn: socket.socket, tls: ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        extra: dict[str, Any] = {"ssl": tls, "ssl_handshake_timeout": HANDSHAKE} if tls else {}
        try:
            await loop.connect_accepted_socket(self.factory, conn, **extra)
        except Exception as exc:  # a failed TLS handshake, mostly: the transport is closed
            self._log.note("tls", "closed", f"a TLS handshake failed: {type(exc).__name__}")
