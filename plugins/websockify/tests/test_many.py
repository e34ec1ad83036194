"""5,000 WebSocket sessions held at once through one bridge to an echo process: each one
echoes, the node's memory per session is measured, and the control API still answers."""

from __future__ import annotations

import asyncio
import resource
import time
from pathlib import Path

import aiohttp
import pytest
from wsfy_support import BridgeNode

N = 5000
WARM = 100


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def many_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 3 * N + 1000  # the client's sockets here, the bridge's two per session, the echo's
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}: cannot hold {N} sessions")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))


async def _open(session: aiohttp.ClientSession, url: str, n: int,
                held: list[aiohttp.ClientWebSocketResponse]) -> None:  # fmt: skip
    sem = asyncio.Semaphore(200)

    async def one(i: int) -> None:
        async with sem:
            ws = await session.ws_connect(url, protocols=("binary",))
            held.append(ws)
            msg = f"session {i}".encode()
            await ws.send_bytes(msg)
            reply = await asyncio.wait_for(ws.receive(), 60)
            assert reply.data == msg

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), 240)


@pytest.mark.slow
@pytest.mark.usefixtures("many_files")
def test_5000_sessions_held_with_bounded_memory(bridge_node: BridgeNode, echo_port: int) -> None:
    # 200 upgrades at once from one address: more than the default per-source cap (64)
    node, port = bridge_node(target=f"127.0.0.1:{echo_port}", max_pending_per_source=1024)
    url = f"ws://127.0.0.1:{port}/websockify"
    pid = node.proc.pid
    figures: dict[str, float] = {}

    async def scenario() -> None:
        held: list[aiohttp.ClientWebSocketResponse] = []
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as session:
            try:
                await _open(session, url, WARM, held)
                await asyncio.sleep(0.5)
                before = rss_kib(pid)
                t0 = time.monotonic()
                await _open(session, url, N - WARM, held)
                figures["seconds"] = time.monotonic() - t0
                await asyncio.sleep(0.5)
                figures["kib_per_session"] = (rss_kib(pid) - before) / (N - WARM)
                t0 = time.monotonic()
                status = await asyncio.to_thread(node.ctl, "status")
                figures["status_seconds"] = time.monotonic() - t0
                assert status["node"] == "a"
                info = (await asyncio.to_thread(node.ctl, "websockify"))[0]
                assert info["active"] == N
            finally:
                await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)

    asyncio.run(scenario())
    print(f"\n{N} sessions: {figures}")
    assert figures["status_seconds"] < 10
    assert figures["kib_per_session"] < 64, figures  # measured about 19 KiB (docs/performance.md)


IDLE_AFTER = 150  # sessions that each moved one message each way, then went quiet
MESSAGE = 200 * 1024  # under any max_message a bridge may set (256 KiB)


def test_quiet_sessions_keep_no_message_or_chunk(bridge_node: BridgeNode, echo_port: int) -> None:
    """A session that went quiet after traffic holds neither the browser's last message
    nor the target's last chunk: 150 such sessions add a few MiB to the node, not the
    ~60 MiB that keeping them would (a VNC viewer idles between screen updates)."""
    node, port = bridge_node(target=f"127.0.0.1:{echo_port}")
    url = f"ws://127.0.0.1:{port}/"
    payload = bytes(range(256)) * (MESSAGE // 256)

    async def one(session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
        ws = await session.ws_connect(url, protocols=("binary",), max_msg_size=0)
        await ws.send_bytes(payload)
        got = bytearray()
        while len(got) < MESSAGE:  # bounded: each receive by 30 s, at most MESSAGE bytes
            msg = await asyncio.wait_for(ws.receive(), 30)
            assert msg.type is aiohttp.WSMsgType.BINARY, msg
            got += msg.data
        assert got == payload
        return ws

    async def scenario() -> float:
        held: list[aiohttp.ClientWebSocketResponse] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            try:
                held += [await one(session) for _ in range(5)]  # warm the node's pools
                await asyncio.sleep(0.5)
                before = rss_kib(node.proc.pid)
                held += [await one(session) for _ in range(IDLE_AFTER)]  # one at a time
                await asyncio.sleep(0.5)
                return (rss_kib(node.proc.pid) - before) / 1024
            finally:
                await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)

    growth_mib = asyncio.run(asyncio.wait_for(scenario(), 180))
    print(f"\n{IDLE_AFTER} quiet sessions: {growth_mib:.1f} MiB")
    # ~17 KiB a quiet session (docs/performance.md): about 3 MiB; keeping a 200 KiB
    # message and a chunk of up to 200 KiB per session is 30 to 60 MiB.
    assert growth_mib < 20, growth_mib
