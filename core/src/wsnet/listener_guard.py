"""Listening sockets that refuse what they cannot serve, and say so: every wsnet listener.

Why wsnet accepts in Python instead of through ``loop.create_server``: uvloop's servers
accept inside libuv, which on EMFILE/ENFILE closes its reserve descriptor, accepts every
waiting connection and ``close()``s it (libuv 1.52.1 src/unix/stream.c:490-497), then
returns without calling back (stream.c:520-524).  Each of those clients reads a clean
EOF, as if it had been served, and nothing is counted or logged.

Here the loop's reader callback accepts, so each refusal is decided, counted and told:
- out of descriptors: the same reserve-descriptor trick, but every connection it takes
  is closed with SO_LINGER 0 (an RST the client cannot mistake for a reply);
- listeners that speak HTTP (links, control API) also guard what comes *before trust*:
  a deadline from accept until the application calls ``trust()`` (upgrade done, request
  read), and caps on such pending connections in total and per source address.
Each kind of refusal is logged at most once per LOG_EVERY seconds per listener, with
the number of connections it concerned.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import fdlimit
from .ratelog import Throttled
from .tlssniff import looks_like_tls, peek_first_byte

log = logging.getLogger("wsnet.listener")
BACKLOG = 1024  # the kernel caps it at net.core.somaxconn
ACCEPTS_PER_WAKEUP = 256  # then let the loop run other callbacks
LOG_EVERY = 10.0  # seconds between two log lines of one kind of refusal, per listener
_LINGER_RST = struct.pack("ii", 1, 0)
# accept(2): errors of the new connection, not of the listener; take the next one
_GONE = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ENETDOWN, errno.ENONET,
                   errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EOPNOTSUPP,
                   errno.ENOPROTOOPT})  # fmt: skip

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


@dataclass(frozen=True, slots=True)
class Admission:
    """What a listener allows before trust; None switches a check off (tunnels: all None)."""

    deadline: float | None = None  # seconds from accept until trust(); then RST
    max_pending: int | None = None  # untrusted connections at once, in total
    max_pending_per_source: int | None = None  # ... from one address (IPv6: one /64)
    waiting_for: str = "trust"  # what the deadline waits for, as the log names it

    @property
    def tracks(self) -> bool:
        return any(v is not None for v in (self.deadline, self.max_pending,
                                           self.max_pending_per_source))  # fmt: skip


def rst_close(sock: socket.socket) -> None:
    """Close so that the peer gets an RST, not a FIN that would read as a complete reply."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    sock.close()


def source_key(addr: Any) -> str:
    """The address a per-source cap counts by: the IPv4 address, or the IPv6 /64."""
    host = str(addr[0] if isinstance(addr, tuple) else addr).split("%")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class _Pending:
    """A connection not trusted yet: counted against the caps, watched by the deadline."""

    __slots__ = ("done", "key", "protocol", "sock", "task", "timer", "transport")

    def __init__(self, key: str, sock: socket.socket) -> None:
        self.key = key
        self.protocol: object = None  # the application's, once made
        self.sock: socket.socket | None = sock
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.BaseTransport | None = None
        self.task: asyncio.Task[Any] | None = None
        self.done = False


class _Tracked(asyncio.Protocol):
    """The application's protocol, plus news of the connection's end for the pending table."""

    __slots__ = ("_entry", "_inner", "_listener")

    def __init__(self, inner: Any, listener: Listener, entry: _Pending) -> None:
        self._inner = inner
        self._listener = listener
        self._entry = entry

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._entry.done:
            self._entry.transport = transport
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()  # type: ignore[no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        self._listener._forget(self._entry)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class Listener:
    """Listening sockets for ``factory`` (plus TLS), accepting under ``admission``.

    With ``sniff_tls`` (and ``ssl``) a connection whose first byte is not TLS's is served
    plain (ws:// and wss:// on one port, as websockify); the wait for that byte is part
    of the connection's time before trust, so give the admission a deadline.

    ``on_refused(reason, count)`` (optional) hears of every refusal, e.g. for a tunnel's
    own error counters.
    """

    def __init__(
        self,
        name: str,
        admission: Admission | None = None,
        *,
        ssl: Any = None,
        sniff_tls: bool = False,
        on_refused: Callable[[str, int], None] | None = None,
    ) -> None:
        self.name = name
        self.admission = admission or Admission()
        self.ssl = ssl
        self.sniff_tls = sniff_tls and ssl is not None
        self.on_refused = on_refused
        self.address = ""
        self._port = 0
        self.sockets: list[socket.socket] = []
        self.connections = 0  # accepted and handed to the protocol
        self.refused = 0  # closed with RST at once: caps or no descriptors
        self.refused_fds = 0  # ... of them for want of a descriptor
        self.timed_out = 0  # closed with RST at the deadline
        self._factory: ProtocolFactory | None = None
        self._pending: dict[object, _Pending] = {}  # by the application's protocol
        self._untagged: set[_Pending] = set()  # accepted, protocol not made yet
        self._per_source: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = Throttled(log, name, LOG_EVERY)
        self._closed = False

    # ------------------------------------------------------------- life cycle
    async def start(
        self, factory: ProtocolFactory, host: str | None, port: int, backlog: int = BACKLOG
    ) -> None:
        """Bind and listen (raises OSError as ``create_server`` would), then accept."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)  # fmt: skip
        socks: list[socket.socket] = []
        try:
            for family, kind, proto, _, addr in dict.fromkeys(infos):
                sock = socket.socket(family, kind, proto)
                socks.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(addr)
                sock.listen(backlog)
                sock.setblocking(False)
        except BaseException:
            for sock in socks:
                sock.close()
            raise
        self._factory, self.sockets = factory, socks
        host_, port_ = socks[0].getsockname()[:2]
        self.address = f"[{host_}]:{port_}" if ":" in host_ else f"{host_}:{port_}"
        self._port = int(port_)
        fdlimit.RESERVE.ensure()
        self._watch(True)

    @property
    def port(self) -> int:
        """The port bound (still known after ``close()``); 0 before ``start()``."""
        return self._port

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop listening; connections already made go on (as with ``Server.close``)."""
        if not self._closed:
            self._closed = True
            self._watch(False)
            for sock in self.sockets:
                sock.close()

    def trust(self, protocol: object) -> None:
        """The connection of ``protocol`` passed its handshake: no deadline, not pending."""
        entry = self._pending.get(protocol)
        if entry is not None:
            self._forget(entry)

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name, "address": self.address, "connections": self.connections,
            "pending": len(self._pending) + len(self._untagged), "refused": self.refused,
            "refused_fds": self.refused_fds, "timed_out": self.timed_out,
        }  # fmt: skip

    # -------------------------------------------------------------- accepting
    def _watch(self, on: bool) -> None:
        loop = asyncio.get_running_loop()
        for sock in self.sockets:
            if on:
                loop.add_reader(sock.fileno(), self._on_readable, sock)
            elif sock.fileno() != -1:
                loop.remove_reader(sock.fileno())

    def _on_readable(self, sock: socket.socket) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    self._shed(sock, exc.errno)
                    return
                if exc.errno in _GONE:
                    continue
                self._log.note("error", "left waiting", f"accept: {exc}; pausing accept 1s")
                self._pause(1.0)  # ENOBUFS, ENOMEM: the system may recover
                return
            self._admit(conn, addr)

    def _shed(self, sock: socket.socket, err: int) -> None:
        """Out of descriptors: free the reserve, take each waiting connection and RST it."""
        reason = (
            f"out of file descriptors ({fdlimit.describe()})"
            if err == errno.EMFILE
            else "the system's open file table is full (fs.file-max)"
        )
        shed = 0
        with fdlimit.RESERVE.released():
            for _ in range(4 * ACCEPTS_PER_WAKEUP):
                try:
                    conn, _ = sock.accept()
                except OSError:  # EAGAIN: drained; EMFILE: no reserve to give
                    break
                rst_close(conn)
                shed += 1
        if shed:
            self.refused_fds += shed
            self._refuse(reason, shed, kind="fds")
        else:  # level-triggered: without a descriptor to accept with, do not spin
            self._log.note(
                "fds-wait",
                "left waiting",
                f"{reason}; no reserve descriptor to refuse them with, pausing accept 0.5s",
            )
            self._pause(0.5)

    def _pause(self, seconds: float) -> None:
        self._watch(False)
        asyncio.get_running_loop().call_later(seconds, self._resume)

    def _resume(self) -> None:
        if not self._closed:
            self._watch(True)

    def _refuse(self, reason: str, count: int = 1, kind: str = "") -> None:
        self.refused += count
        self._log.note(kind or reason, "refused with RST", reason, count)
        if self.on_refused is not None:
            self.on_refused(reason, count)

    def _admit(self, conn: socket.socket, addr: Any) -> None:
        g = self.admission
        entry: _Pending | None = None
        if g.tracks:
            key = source_key(addr)
            pending = len(self._pending) + len(self._untagged)
            if g.max_pending is not None and pending >= g.max_pending:
                rst_close(conn)
                self._refuse(f"already {pending} pending (max_pending)", kind="max_pending")
                return
            cap = g.max_pending_per_source
            if cap is not None and self._per_source[key] >= cap:
                rst_close(conn)
                self._refuse(f"already {cap} pending from {key} (max_pending_per_source)",
                             kind="per_source")  # fmt: skip
                return
            entry = _Pending(key, conn)
            self._per_source[key] += 1
            self._untagged.add(entry)
            if g.deadline is not None:
                entry.timer = asyncio.get_running_loop().call_later(g.deadline, self._expire, entry)
        self.connections += 1
        conn.setblocking(False)
        task = asyncio.get_running_loop().create_task(self._connect(conn, entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if entry is not None:
            entry.task = task

    async def _connect(self, conn: socket.socket, entry: _Pending | None) -> None:
        assert self._factory is not None
        factory = self._factory if entry is None else (lambda: self._tag(entry))
        try:
            tls = await self._tls_for(conn)
            kwargs: dict[str, Any] = {}
            if tls is not None:
                kwargs["ssl"] = tls
                if self.admission.deadline is not None:  # a backstop: _expire() comes first
                    kwargs["ssl_handshake_timeout"] = self.admission.deadline + 5.0
            await asyncio.get_running_loop().connect_accepted_socket(factory, conn, **kwargs)
        except Exception as exc:  # a failed TLS handshake, mostly: the transport is closed
            log.debug("%s: a connection failed before it was made: %r", self.name, exc)
            if entry is not None:
                self._forget(entry)
        except asyncio.CancelledError:
            if entry is not None:
                self._forget(entry)
            raise

    async def _tls_for(self, conn: socket.socket) -> Any:
        """The TLS context for ``conn``: with sniff_tls, only if its first byte is TLS's."""
        if not self.sniff_tls:
            return self.ssl
        try:
            first = await peek_first_byte(conn)
        except BaseException:  # the deadline (cancelled), or a reset: no transport owns it
            conn.close()
            raise
        if not first:  # closed before a word: a port scanner, a health check
            conn.close()
            raise ConnectionAbortedError("closed before its first byte")
        return self.ssl if looks_like_tls(first) else None

    def _tag(self, entry: _Pending) -> asyncio.BaseProtocol:
        assert self._factory is not None
        inner = self._factory()
        if entry.done:  # the deadline passed while TLS was still shaking hands
            return inner
        self._untagged.discard(entry)
        self._pending[inner] = entry
        entry.protocol = inner
        return _Tracked(inner, self, entry)

    # ------------------------------------------------------------ before trust
    def _expire(self, entry: _Pending) -> None:
        if entry.done:
            return
        self.timed_out += 1
        wait = self.admission.deadline
        self._log.note(
            "deadline",
            "closed with RST",
            f"did not finish {self.admission.waiting_for} within {wait:g}s",
        )
        if entry.sock is not None and entry.sock.fileno() != -1:
            with contextlib.suppress(OSError):
                entry.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        transport, task = entry.transport, entry.task
        self._forget(entry)
        if transport is not None:
            transport.abort()  # type: ignore[attr-defined]
        elif task is not None:
            task.cancel()  # TLS handshake still running: uvloop aborts it

    def _forget(self, entry: _Pending) -> None:
        if entry.done:
            return
        entry.done = True
        if entry.timer is not None:
            entry.timer.cancel()
        self._untagged.discard(entry)
        self._pending.pop(entry.protocol, None)
        self._per_source[entry.key] -= 1
        if self._per_source[entry.key] <= 0:
            del self._per_source[entry.key]
        entry.sock = entry.transport = entry.task = entry.timer = entry.protocol = None
