"""The two ends of the many-streams benchmark, each run as its own uvloop process.

``python -m bench.streams_peer sink PORT LIFETIME_S [SOCKBUF]``
    Counts the bytes it receives per connection, keyed by the connection's first line
    ``T <tag>\\n``.  A connection whose first line is ``SNAP <prefix>\\n`` is answered with
    one JSON object ``{"t": <monotonic seconds>, "counts": {tag: bytes}}`` for the tags
    that start with ``prefix``, then closed.  Counts stay after their connection closes.

``python -m bench.streams_peer drive PORT STREAMS RUN LIFETIME_S [SOCKBUF]``
    Opens STREAMS connections to PORT (64 connects at a time, so no listen backlog
    overflows), sends each its line ``T RUN/<i>\\n``, then waits for SIGUSR1: at that
    signal every stream starts writing as fast as its socket takes it, until SIGTERM or
    LIFETIME_S after the signal.  Exits 3 if no SIGUSR1 came within LIFETIME_S.

Both raise their RLIMIT_NOFILE soft limit to the hard one: 1,000 streams need more
descriptors than the usual soft limit of 1024 allows, and running out would be measured
as starvation.  Both listen or connect on 127.0.0.1 only.

SOCKBUF (bytes, 0 = the kernel's auto-tuning) fixes the sink's SO_RCVBUF and the driver's
SO_SNDBUF.  Why: with auto-tuning (receive buffers up to tcp_rmem's 32 MiB here), 1,000
loopback streams into a sink that cannot keep up take the host's TCP memory past its
pressure mark; the kernel then prunes receive queues and drops segments, and streams wait
on 200 ms retransmission timeouts, so even plain TCP starves hundreds of streams.  That
would be the harness's doing, not the path's; the path's own sockets keep their defaults.
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import socket
import sys
import time
from typing import cast

import uvloop

CHUNK = b"\xa5" * (256 << 10)  # one write; the pattern does not matter to any path here
MAX_LINE = 256  # a first line longer than this is not ours: drop the connection
CONNECTS_AT_ONCE = 64  # below every listener's backlog (asyncio's default is 100)


def raise_nofile() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit; returns the (soft, hard) now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _bufsize(t: asyncio.Transport, opt: int, size: int) -> None:
    sock = t.get_extra_info("socket")
    if size and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, opt, size)


# ------------------------------------------------------------------ sink
class SinkProtocol(asyncio.Protocol):
    """One connection to the sink: a tagged stream, or a snapshot request."""

    def __init__(self, counts: dict[str, int], sockbuf: int) -> None:
        self.counts = counts  # tag -> bytes received after the first line, for the process
        self.sockbuf = sockbuf
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.tag: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        _bufsize(self.transport, socket.SO_RCVBUF, self.sockbuf)

    def data_received(self, data: bytes) -> None:
        if self.tag is not None:
            self.counts[self.tag] += len(data)
            return
        self.head += data
        line, nl, rest = self.head.partition(b"\n")
        if not nl:
            if len(self.head) > MAX_LINE and self.transport is not None:
                self.transport.abort()
            return
        kind, _, arg = line.decode("ascii", "replace").partition(" ")
        if kind == "T":
            self.tag = arg
            self.counts[arg] = self.counts.get(arg, 0) + len(rest)
        elif kind == "SNAP" and self.transport is not None:
            self.transport.write(snapshot(self.counts, arg))
            self.transport.close()
        elif self.transport is not None:
            self.transport.abort()


def snapshot(counts: dict[str, int], prefix: str) -> bytes:
    now = time.monotonic()
    mine = {k: v for k, v in counts.items() if k.startswith(prefix)}
    return json.dumps({"t": now, "counts": mine}).encode()


async def serve_sink(port: int, lifetime: float, sockbuf: int) -> int:
    loop = asyncio.get_running_loop()
    counts: dict[str, int] = {}
    server = await loop.create_server(
        lambda: SinkProtocol(counts, sockbuf), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await asyncio.sleep(lifetime)  # bounded even if the parent dies without killing us
    return 0


# ------------------------------------------------------------------ driver
class Pusher(asyncio.Protocol):
    """One stream: writes CHUNK whenever its transport is below the high-water mark."""

    def __init__(self, tag: str, go: asyncio.Event, sockbuf: int) -> None:
        self.tag, self.go, self.sockbuf = tag, go, sockbuf
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        _bufsize(self.transport, socket.SO_SNDBUF, self.sockbuf)
        self.transport.write(f"T {self.tag}\n".encode())

    def start(self) -> None:
        self._fill()

    def _fill(self) -> None:
        t = self.transport
        # At most 64 writes in one go, then the next turn: a socket that always takes more
        # (a fast path) must not keep the loop from the other streams.
        for _ in range(64):
            if t is None or t.is_closing() or self.paused:
                return
            t.write(CHUNK)
        asyncio.get_running_loop().call_soon(self._fill)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.go.is_set():
            self._fill()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


async def drive(port: int, streams: int, run: str, lifetime: float, sockbuf: int) -> int:
    loop = asyncio.get_running_loop()
    go = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, go.set)
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

    async def connect(i: int) -> Pusher:
        async with gate:
            _, proto = await asyncio.wait_for(
                loop.create_connection(
                    lambda: Pusher(f"{run}/{i}", go, sockbuf), "127.0.0.1", port
                ),
                30,
            )
        return proto

    pushers = await asyncio.gather(*(connect(i) for i in range(streams)))
    print(f"connected {streams}", flush=True)
    try:
        await asyncio.wait_for(go.wait(), lifetime)
    except TimeoutError:
        print("no go signal", file=sys.stderr, flush=True)
        return 3
    t0 = time.monotonic()
    for p in pushers:  # in one loop turn: every stream starts at once
        p.start()
    done, _ = await asyncio.wait([p.lost for p in pushers], timeout=lifetime)
    lost = sum(1 for f in done if f.result() is not None)
    print(f"{len(done)} of {streams} ended ({lost} with an error) after "
          f"{time.monotonic() - t0:.1f}s", flush=True)  # fmt: skip
    return 0


def main(argv: list[str]) -> int:
    usage = (
        "usage: python -m bench.streams_peer sink PORT LIFETIME_S [SOCKBUF]\n"
        "       python -m bench.streams_peer drive PORT STREAMS RUN LIFETIME_S [SOCKBUF]"
    )
    try:
        if argv[:1] == ["sink"] and len(argv) in (3, 4):
            port, lifetime, sockbuf = int(argv[1]), float(argv[2]), int((argv[3:] or ["0"])[0])
            job = serve_sink(port, lifetime, sockbuf)
        elif argv[:1] == ["drive"] and len(argv) in (5, 6):
            port, streams, lifetime = int(argv[1]), int(argv[2]), float(argv[4])
            job = drive(port, streams, argv[3], lifetime, int((argv[5:] or ["0"])[0]))
        else:
            raise ValueError(f"arguments {argv}")
    except ValueError as exc:
        print(f"{usage}\n{exc}", file=sys.stderr)
        return 2
    soft, hard = raise_nofile()
    print(f"RLIMIT_NOFILE {soft}/{hard}", flush=True)
    return uvloop.run(job)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
