"""Hostile and slow TCP clients for the listener tests: slow-loris, idle crowds, silent servers.

Every socket is non-blocking after connect; ``watch`` polls them (no threads) and records
when and how the node closed each one.  Everything stays on 127.0.0.0/8.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Slow:
    """One client that sent ``first`` and then (optionally) one byte of ``trickle`` per tick."""

    label: str
    sock: socket.socket
    opened: float
    trickle: bytes = b""
    closed: float | None = None  # monotonic time the node closed it
    how: str = ""  # "eof" or "rst"
    answer: bytes = b""  # what the node wrote before closing (a 408, say)
    _sent: int = 0

    @property
    def lasted(self) -> float:
        return (self.closed or time.monotonic()) - self.opened


def connect_from(port: int, src: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    """A TCP connection to 127.0.0.1:``port`` whose source address is ``src``."""
    sock = socket.socket()
    try:
        sock.settimeout(timeout)
        sock.bind((src, 0))
        sock.connect(("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


def open_slow(port: int, label: str, first: bytes = b"", trickle: bytes = b"") -> Slow:
    sock = connect_from(port)
    if first:
        sock.sendall(first)
    sock.setblocking(False)
    return Slow(label, sock, time.monotonic(), trickle)


def _poll(slow: Slow, now: float, tick: bool) -> None:
    try:
        data = slow.sock.recv(65536)
    except BlockingIOError:
        if tick and slow.trickle:
            with contextlib.suppress(BlockingIOError, OSError):
                slow.sock.send(slow.trickle[slow._sent % len(slow.trickle) :][:1])
                slow._sent += 1
        return
    except OSError:  # ECONNRESET: the node aborted the connection
        slow.closed, slow.how = now, "rst"
        return
    if data:
        slow.answer += data
    else:
        slow.closed, slow.how = now, "eof"


def watch(slows: list[Slow], until: float, tick: float = 0.5) -> None:
    """Poll until every client is closed by the node or ``until`` (monotonic) passes."""
    next_tick = 0.0
    while time.monotonic() < until and any(s.closed is None for s in slows):
        now = time.monotonic()
        trickle_now = now >= next_tick
        if trickle_now:
            next_tick = now + tick
        for slow in slows:
            if slow.closed is None:
                _poll(slow, now, trickle_now)
        time.sleep(0.05)


def state(sock: socket.socket) -> str:
    """The state of a non-blocking socket: open (nothing to read yet), eof, rst or data."""
    try:
        data = sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return "open"
    except OSError:
        return "rst"
    return "data" if data else "eof"


@contextlib.contextmanager
def closing_all(socks: list[socket.socket]) -> Iterator[list[socket.socket]]:
    try:
        yield socks
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port whose kernel completes TCP handshakes (listen backlog) and nobody ever answers."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(64)
        yield int(srv.getsockname()[1])
