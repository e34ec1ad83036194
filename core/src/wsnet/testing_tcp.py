"""Real TCP endpoints for tests of tunnels and proxies (the core's and any plugin's): an
asyncio echo server, a firehose source, and clients that verify every byte by SHA-256.
Everything binds 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Transfer:
    sent: int
    sent_sha: str
    got: int
    got_sha: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.sent == self.got and self.sent_sha == self.got_sha


async def echo_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo until EOF, then half-close: proves both FIN directions are carried."""
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass  # the client left, or the test server shuts down
    finally:
        writer.close()


async def echo_roundtrip(port: int, size: int, chunk: int = 1 << 16) -> Transfer:
    """Send ``size`` random bytes, half-close, read the echo to EOF; hashes of both."""
    t0 = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    payload = os.urandom(size)
    sent_sha = hashlib.sha256(payload).hexdigest()

    async def send() -> None:
        view = memoryview(payload)
        for off in range(0, size, chunk):
            writer.write(view[off : off + chunk])
            await writer.drain()
        writer.write_eof()

    got = hashlib.sha256()
    n = 0

    async def receive() -> None:
        nonlocal n
        while data := await reader.read(1 << 16):
            got.update(data)
            n += len(data)

    await asyncio.wait_for(asyncio.gather(send(), receive()), 120)
    writer.close()
    return Transfer(size, sent_sha, n, got.hexdigest(), time.monotonic() - t0)


class ServerThread:
    """An asyncio server on its own loop in a thread, so sync tests can use it."""

    def __init__(self, handler: object, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self.handler, self.host, self.port)  # type: ignore[arg-type]
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def stop(self) -> None:
        """Close the server, cancel and await every handler, then close the loop."""

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()


@contextmanager
def server_thread(
    handler: object, host: str = "127.0.0.1", port: int = 0
) -> Iterator[ServerThread]:
    srv = ServerThread(handler, host, port).start()
    try:
        yield srv
    finally:
        srv.stop()


def closed_port() -> int:
    """A loopback port with nothing listening (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def connect_refused(port: int) -> bool:
    """True if a connect to 127.0.0.1:port is refused by the kernel."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


class Firehose:
    """A server that writes to each client as fast as the client takes it; counts bytes."""

    def __init__(self) -> None:
        self.written = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        block = os.urandom(1 << 16)
        try:
            while True:
                writer.write(block)
                await writer.drain()
                self.written += len(block)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client left, or the test server shuts down
        finally:
            writer.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def ident_handler(name: bytes) -> object:
    """A server that first says who it is (``name`` + newline), then echoes."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(name + b"\n")
        await echo_handler(reader, writer)

    return handler


def who_answers(port: int, timeout: float = 2.0) -> str:
    """Connect, read the first line: which member's server is behind the tunnel ("" if none)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            data = b""
            while not data.endswith(b"\n"):
                part = s.recv(64)
                if not part:
                    return ""
                data += part
            return data.decode().strip()
    except OSError:
        return ""
