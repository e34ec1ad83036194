"""Shared pieces of the issue-12 tests (test_robust_*.py): tunnel chains of real nodes,
clients that write at connect time, a SHA-256 sink, an HTTP-like server, RST bursts."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

from wsnet.testing import NodeFactory, NodeProcess, wait_until

LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER 0: close() sends RST


# ------------------------------------------------------------------ nodes
def tunnel_listening(node: NodeProcess, name: str) -> bool:
    rows = [t for t in node.ctl("tunnels") if t["name"] == name and t["role"] == "listen"]
    return bool(rows) and rows[0]["state"] == "listening"


def listen_tcp(name: str, port: int, peer: str) -> dict[str, Any]:
    return {"tcp": {"tunnel": [{"name": name, "listen": f"127.0.0.1:{port}", "peer": peer}]}}


def connect_tcp(name: str, port: int) -> dict[str, Any]:
    return {"tcp": {"tunnel": [{"name": name, "connect": f"127.0.0.1:{port}"}]}}


def chain(factory: NodeFactory, hops: int, lport: int, target: int) -> list[NodeProcess]:
    """Tunnel "t" from ``left`` (listening on ``lport``) to ``right`` (connecting to
    ``target``), ``hops`` links apart; hubs in between relay and have no tcp plugin.

    1: left → right;  2: left → hub ← right;  3: left → hub1 ← hub2 ← right.
    """
    if hops == 1:
        right = factory("right", plugins=["tcp"], config=connect_tcp("t", target))
        ups = [right.url]
        hubs: list[NodeProcess] = []
    else:
        hubs = [factory("hub1")]
        if hops == 3:
            hubs.append(factory("hub2", dial=[hubs[0].url]))
        right = factory(
            "right",
            listen=False,
            dial=[hubs[-1].url],
            plugins=["tcp"],
            config=connect_tcp("t", target),
        )
        ups = [hubs[0].url]
    left = factory(
        "left", listen=False, dial=ups, plugins=["tcp"], config=listen_tcp("t", lport, "right")
    )
    wait_until(lambda: tunnel_listening(left, "t"), timeout=15, what="route left -> right")
    return [left, *hubs, right]


def link_ids(node: NodeProcess) -> dict[str, int]:
    return {row["peer"]: row["id"] for row in node.ctl("links")}


def log_lines(node: NodeProcess, *words: str) -> list[str]:
    return [x for x in node.log().splitlines() if all(w in x for w in words)]


# ---------------------------------------------------------------- clients
@dataclass
class Early:
    size: int
    got: int = 0
    ok: bool = False
    error: str = ""


async def early_transfer(
    port: int, payload: bytes, timeout: float = 20.0, delay: float = 0.2
) -> Early:
    """Write the first piece the moment the connection is up and the rest ``delay`` s
    later, then FIN; read the echo to EOF.  ``ok`` when every byte came back, in order."""
    res = Early(len(payload))
    got = hashlib.sha256()

    async def run() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def send() -> None:
            head = min(len(payload), 32768)
            writer.write(payload[:head])  # before the tunnel's channel is anywhere
            if delay:
                await asyncio.sleep(delay)
            writer.write(payload[head:])
            await writer.drain()
            writer.write_eof()

        async def receive() -> None:
            while chunk := await reader.read(1 << 16):
                got.update(chunk)
                res.got += len(chunk)

        try:
            await asyncio.gather(send(), receive())
        finally:
            writer.close()

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        res.error = f"no EOF within {timeout:g}s"
    except OSError as exc:
        res.error = f"{type(exc).__name__}: {exc}"
    res.ok = not res.error and got.digest() == hashlib.sha256(payload).digest()
    return res


async def sha_sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Server: hash everything to EOF, answer "<bytes> <sha256>\\n", close."""
    digest, n = hashlib.sha256(), 0
    try:
        while chunk := await reader.read(1 << 18):
            digest.update(chunk)
            n += len(chunk)
        writer.write(f"{n} {digest.hexdigest()}\n".encode())
        await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def bulk_to_sink(port: int, seconds: float, timeout: float = 120.0) -> tuple[str, int]:
    """Send random bytes for ``seconds`` as fast as they go, then FIN; ``sha_sink`` checks
    them.  Returns ("" when intact, else why; bytes sent)."""
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    sent = 0
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                digest.update(block)
                writer.write(block)
                await writer.drain()
                sent += len(block)
            writer.write_eof()
            reply = (await reader.read(200)).decode().strip()
            writer.close()
    except (TimeoutError, OSError) as exc:
        return f"failed after {sent >> 20} MiB: {type(exc).__name__}: {exc}", sent
    expected = f"{sent} {digest.hexdigest()}"
    return ("" if reply == expected else f"sink got {reply!r}, expected {expected!r}"), sent


async def http_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Server: one request (headers only), one response, close (no keep-alive)."""
    try:
        await reader.readuntil(b"\r\n\r\n")
        body = b"ok " * 100
        writer.write(
            b"HTTP/1.0 200 OK\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def rst_burst(port: int, seconds: float, max_count: int, pause: float = 0.004) -> int:
    """Connect and close at once with RST, in a loop; returns how many were made."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + seconds
    made = 0
    while time.monotonic() < deadline and made < max_count:
        s = socket.socket()
        s.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(s, ("127.0.0.1", port)), 2)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
            made += 1
        except (OSError, TimeoutError):
            pass  # a refused connect during a restart is not the point here
        finally:
            s.close()
        await asyncio.sleep(pause)
    return made


def rst_clients(port: int, seconds: float, loops: int = 4) -> int:
    """``loops`` concurrent ``rst_burst`` loops on an event loop of their own (run it in a
    thread): beside a bulk transfer in the caller's loop they still get their share."""

    async def run() -> int:
        made = await asyncio.gather(*(rst_burst(port, seconds, 50_000, 0) for _ in range(loops)))
        return sum(made)

    return asyncio.run(run())


def raise_nofile(need: int) -> str:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; "" or why it is too low."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        return f"needs {need} file descriptors, the hard limit is {hard}"
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return "" if soft == resource.RLIM_INFINITY or soft >= need else f"soft limit {soft} < {need}"
