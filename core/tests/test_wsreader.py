"""Binary messages reach the link by callback from aiohttp's parser (wsreader.py): in
order, also with messages queued before the tap was attached; control frames and the
close still go through ``receive()``; a link reads its data without its reader task
stepping per message; a violation found in the callback closes the link with its code,
and a fault of ours with 1011, and the dialler links again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from wsnet import wsreader
from wsnet.plugins import load
from wsnet.runtime import Runtime
from wsnet.testing import free_port
from wsnet.testing_run import runtime_config, until


@contextlib.asynccontextmanager
async def _pair(
    server_sends: list[tuple[str, bytes]],
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A client WebSocket (set up inside tapping()) to a server that, once the client
    sends any message, sends ``server_sends`` (("bin"|"ping"|"text", payload)) at once,
    then closes with 4321."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        for kind, payload in server_sends:
            if kind == "bin":
                await ws.send_bytes(payload)
            elif kind == "ping":
                await ws.ping(payload)
            else:
                await ws.send_str(payload.decode())
        await ws.close(code=4321, message=b"done")
        return ws

    async with _serving(handler) as port, aiohttp.ClientSession() as session:
        with wsreader.tapping():
            ws = await session.ws_connect(f"http://127.0.0.1:{port}/", autoping=False)
        yield ws


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def _serving(handler: Handler) -> AsyncIterator[int]:
    """An aiohttp server answering GET / with ``handler``; yields its port."""
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


async def test_binary_messages_go_to_the_callback_in_order_and_the_rest_to_receive() -> None:
    sends = [("bin", b"one"), ("ping", b"p"), ("bin", b"two"), ("text", b"t"), ("bin", b"3")]
    async with _pair(sends) as ws:
        got: list[bytes] = []
        assert wsreader.attach(ws, got.append) is True
        await ws.send_str("go")
        kinds = []
        async with asyncio.timeout(10):
            while (msg := await ws.receive()).type not in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
            ):
                kinds.append(msg.type)
        # Behind the text message (which ends a link) the binary one waits its turn in
        # receive(): never handed over ahead of it.
        assert got == [b"one", b"two"]
        assert kinds == [aiohttp.WSMsgType.PING, aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY]
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4321


async def test_attach_waits_while_messages_are_queued_so_order_is_kept() -> None:
    async with _pair([("bin", b"%d" % i) for i in range(5)]) as ws:
        await ws.send_str("go")
        await until(lambda: len(ws._reader._buffer) >= 2)  # type: ignore[union-attr]
        got: list[bytes] = []
        assert wsreader.attach(ws, got.append) is None  # queued: read them first
        while wsreader.attach(ws, got.append) is None:
            msg = await asyncio.wait_for(ws.receive(), 10)
            if msg.type is aiohttp.WSMsgType.BINARY:
                got.append(msg.data)
        assert got == [b"0", b"1", b"2", b"3", b"4"]


async def test_detach_and_wake() -> None:
    async with _pair([]) as ws:
        assert wsreader.attach(ws, lambda data: None) is True
        wsreader.detach(ws)
        wsreader.wake(ws)
        msg = await asyncio.wait_for(ws.receive(), 10)
        assert msg.type is aiohttp.WSMsgType.BINARY and msg.data == b""


async def test_websockets_set_up_outside_tapping_are_not_tapped() -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close()
        return ws

    async with _serving(handler) as port, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"http://127.0.0.1:{port}/")
        assert wsreader.attach(ws, lambda data: None) is False
        await ws.close()


# ------------------------------------------------------------------ on a real link


@contextlib.asynccontextmanager
async def _linked() -> AsyncIterator[tuple[Runtime, Runtime]]:
    async with (
        Runtime(runtime_config("far"), load([])) as far,
        Runtime(runtime_config("near", far.node.listen_url), load([])) as near,
    ):
        await until(lambda: near.node.link_by_peer("far") is not None)
        yield near, far


async def test_a_link_reads_data_without_a_reader_step_per_message() -> None:
    async with _linked() as (near, far):
        links = [near.node.link_by_peer("far"), far.node.link_by_peer("near")]
        assert all(link is not None and link._tap for link in links)
        ch = await near.node.open_stream("far", "echo")
        calls = 0
        for link in links:
            assert link is not None
            real = link._receive_once

            async def counted(real: Callable[[], object] = real) -> object:
                nonlocal calls
                calls += 1
                return await real()  # type: ignore[misc]

            link._receive_once = counted  # type: ignore[method-assign]
        for i in range(200):
            await ch.write(b"%d" % i)
            want = b"%d" % i
            got = b""
            async with asyncio.timeout(10):
                while len(got) < len(want):
                    got += await ch.read(len(want) - len(got))
            assert got == want
        # The readers wait in receive() once each (they were already in it: 0 new calls),
        # a keepalive PING may pass through meanwhile; 200 round trips would be 400.
        assert calls <= 4, calls


@pytest.mark.parametrize(
    ("fault", "code"),
    [("violation", 4002), ("bug", 1011)],
)
async def test_a_fault_in_the_callback_closes_that_link_with_its_code_and_it_comes_back(
    fault: str, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with _linked() as (near, far):
        link = far.node.link_by_peer("near")
        assert link is not None and link._tap
        if fault == "violation":
            bad = b"\xff" * 12  # an unknown frame type: the protocol's 4002
        else:

            def broken(data: bytes) -> list[object]:
                raise RuntimeError("injected")

            link.session.receive_message = broken  # type: ignore[method-assign]
            bad = b""
        near_link = near.node.link_by_peer("far")
        assert near_link is not None
        if bad:
            await near_link.ws.send_bytes(bad)
        else:
            near_link.session.ping()
            near_link.wake_writer()
        await asyncio.wait_for(link.wait_stopped(), 10)
        assert link.close_code == code
        # The parser no longer refers to the ended link (a cycle only a GC would free).
        assert link.ws._reader.on_message is None  # type: ignore[attr-defined]
        if fault == "bug":
            assert "RuntimeError: injected" in link.close_reason
            assert any("message handling failed" in r.message for r in caplog.records)
        # The dialler links again; the new link is tapped as well.
        await until(lambda: (new := far.node.link_by_peer("near")) is not None and new is not link)
        new = far.node.link_by_peer("near")
        assert new is not None and new._tap
        ch = await near.node.open_stream("far", "echo")
        await ch.write(b"again", eof=True)
        assert await asyncio.wait_for(ch.read(), 10) == b"again"
