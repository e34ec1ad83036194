"""Diallers never give up: a fault injected at every await of a link's life.

Two real nodes in this process, linked over a real loopback socket.  The edge's first
link runs through a WebSocket whose k-th awaited call raises (a bug-like exception, a
reset, a runtime error); whatever k hits (the HELLO, the first routes, a ping, a
close), the dialler must log it, back off and link again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from wsnet.config import Config, ControlConfig, DialConfig, ListenConfig, ReconnectConfig
from wsnet.interfaces import DialedSocket, Transport
from wsnet.plugins import load
from wsnet.protocol import Keepalive
from wsnet.runtime import Runtime


class InjectedFault(Exception):
    """Stands for any bug inside a link: nothing catches it on purpose."""


FAULTS: list[type[Exception]] = [InjectedFault, ConnectionResetError, RuntimeError, ValueError]


class FaultyWs:
    """A real WebSocket whose ``at``-th awaited call raises ``fault`` instead."""

    def __init__(self, ws: Any, at: int, fault: Exception) -> None:
        self.ws = ws
        self.at = at
        self.fault = fault
        self.calls = 0
        self.raised = False

    def _tick(self) -> None:
        self.calls += 1
        if self.calls == self.at:
            self.raised = True
            raise self.fault

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        self._tick()
        await self.ws.send_bytes(data)

    async def receive(self, timeout: float | None = None) -> Any:
        self._tick()
        return await self.ws.receive(timeout)

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self._tick()
        return bool(await self.ws.close(code=code, message=message))

    @property
    def close_code(self) -> int | None:
        code = self.ws.close_code
        return int(code) if code is not None else None


class FaultyTransport(Transport):
    schemes = ("ws",)

    def __init__(self, real: Transport, at: int, fault: Exception) -> None:
        self.real = real
        self.at = at
        self.fault = fault
        self.attempts = 0
        self.first: FaultyWs | None = None

    async def dial(self, url: str, options: Mapping[str, Any]) -> DialedSocket:
        sock = await self.real.dial(url, options)
        self.attempts += 1
        if self.attempts == 1:
            self.first = FaultyWs(sock.ws, self.at, self.fault)
            sock.ws = self.first
        return sock


def _config(name: str, dial: str = "") -> Config:
    return Config(
        name=name,
        listen=ListenConfig(port=0) if not dial else None,
        dial=[DialConfig(url=dial)] if dial else [],
        control=ControlConfig(enabled=False),
        keepalive=Keepalive(interval=0.1, timeout=1.0, hello_timeout=2.0),
        reconnect=ReconnectConfig(initial=0.02, maximum=0.1),
    )


async def _wait(cond: Any, what: str, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110 - nothing to await on; bounded by the timeout
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("at", range(1, 13))
async def test_a_fault_anywhere_in_a_link_never_stops_the_dialler(
    at: int, caplog: pytest.LogCaptureFixture
) -> None:
    fault = FAULTS[at % len(FAULTS)](f"injected at call {at}")
    caplog.set_level(logging.INFO, logger="wsnet")
    async with Runtime(_config("hub"), load([])) as hub:
        edge = Runtime(_config("edge", dial=hub.node.listen_url), load([]))
        faulty = FaultyTransport(edge.node.transports["ws"], at, fault)
        edge.node.transports["ws"] = faulty
        async with edge:
            await _wait(lambda: faulty.first is not None and faulty.first.raised, "the fault")
            # ... and after it, a link that holds: a second dial, linked both ways.
            await _wait(lambda: faulty.attempts >= 2 and "edge" in hub.node._by_peer, "relink")
            await _wait(lambda: edge.node.link_by_peer("hub") is not None, "edge side up")
            (dialer,) = edge.dialers
            assert dialer.task is not None and not dialer.task.done()
            assert dialer.state == "up"
    assert "task dial" not in caplog.text  # the dialler task never ended with an error


async def test_an_unexpected_error_is_logged_with_its_traceback_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wsnet")
    async with Runtime(_config("hub"), load([])) as hub:
        edge = Runtime(_config("edge", dial=hub.node.listen_url), load([]))

        class AlwaysFaulty(FaultyTransport):
            async def dial(self, url: str, options: Mapping[str, Any]) -> DialedSocket:
                self.attempts += 1
                sock = await self.real.dial(url, options)
                sock.ws = FaultyWs(sock.ws, 2, InjectedFault("the same bug"))
                return sock

        faulty = AlwaysFaulty(edge.node.transports["ws"], 2, InjectedFault())
        edge.node.transports["ws"] = faulty
        async with edge:
            await _wait(lambda: faulty.attempts >= 4, "several attempts")
            (dialer,) = edge.dialers
            assert "internal error: InjectedFault: the same bug" in dialer.last_error
    tracebacks = [r for r in caplog.records if r.exc_info and "the same bug" in r.getMessage()
                  + str(r.exc_info[1])]  # fmt: skip
    assert len(tracebacks) == 1
    assert caplog.text.count("the same bug (again)") >= 2
