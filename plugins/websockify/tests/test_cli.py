"""``wsnet websockify`` as a real process: websockify's arguments, --run-once, wrapped
programs (respawn, exit), refused options; bad config names file and key; backpressure."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
import pytest
from wsfy_client import close_of, roundtrip
from wsfy_support import ECHO, BridgeNode, target

from wsnet.testing import NodeFactory, free_port

MIB = 1024 * 1024


def _websockify(*args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "wsnet", "websockify", *args]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(10)


def _until_roundtrip(url: str, size: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = asyncio.run(roundtrip(url, size))
            assert r.received == r.sent
            return
        except (aiohttp.ClientError, AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_cli_bridge_with_run_once(procs: list[subprocess.Popen[str]], echo_port: int) -> None:
    port = free_port()
    p = _websockify("--run-once", f"127.0.0.1:{port}", f"127.0.0.1:{echo_port}")
    procs.append(p)
    _until_roundtrip(f"ws://127.0.0.1:{port}/websockify", MIB)
    assert p.wait(30) == 0, p.stdout.read() if p.stdout else ""


def test_cli_wraps_a_program_and_respawns_it(procs: list[subprocess.Popen[str]]) -> None:
    """The program serves one connection and exits; respawn starts it again on the port
    the bridge gave it in {port}."""
    port = free_port()
    p = _websockify("--wrap-mode", "respawn", f"127.0.0.1:{port}", "--",
                    sys.executable, str(ECHO), "{port}", "once")  # fmt: skip
    procs.append(p)
    for _ in range(3):  # each session is served by a new process
        _until_roundtrip(f"ws://127.0.0.1:{port}/", 1000)
    assert p.poll() is None


def test_cli_wrap_mode_exit_stops_the_node(procs: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    p = _websockify(f"127.0.0.1:{port}", "--", sys.executable, str(ECHO), "{port}", "once")
    procs.append(p)
    _until_roundtrip(f"ws://127.0.0.1:{port}/", 1000)
    assert p.wait(30) == 0
    assert "wrapped program" in (p.stdout.read() if p.stdout else "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-D", "5900", "127.0.0.1:5901"], "--daemon is not supported"),
        (["5900"], "give TARGET_ADDR:TARGET_PORT, --token-plugin, or -- PROGRAM ARGS"),
        (["5900", "nohost"], "expected HOST:PORT for the target"),
    ],
)
def test_cli_refusals(args: list[str], message: str) -> None:
    p = _websockify(*args)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 2 and message in out, out


@pytest.mark.parametrize(
    ("bridge", "message"),
    [
        ({"listen": "127.0.0.1:1", "target": "5901"}, "target: expected HOST:PORT"),
        ({"listen": "127.0.0.1:1"}, "target: give exactly one of target, token_plugin or wrap"),
        ({"listen": "x:y", "target": "a:1"}, "listen: port must be 1..65535"),
        ({"listen": "1", "token_plugin": "TokenFile", "token_source": "/nonexistent"},
         "token_source: token source 'TokenFile': /nonexistent: no such file"),
        ({"listen": "1", "target": "a:1", "tagret": "b:2"}, "tagret: unknown key"),
        ({"listen": "1", "target": "a:1", "ssl_only": True}, "ssl_only: needs cert"),
    ],
)  # fmt: skip
def test_bad_config_names_file_and_key(
    wsnet_node_factory: NodeFactory, bridge: dict[str, object], message: str
) -> None:
    node = wsnet_node_factory("a", plugins=["websockify"],
                              config={"websockify": {"bridge": [bridge]}}, start=False)  # fmt: skip
    node.start(wait=False)
    assert node.proc.wait(timeout=60) == 2
    assert f"{node.config_path.name}: [[websockify.bridge]] #1 {message}" in node.log()


async def _stalled_reader(url: str) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        await ws.send_bytes(b"go")
        await asyncio.sleep(3)  # read nothing: the flood must stop at the bridge's buffers


def test_a_browser_that_stops_reading_stops_the_target(bridge_node: BridgeNode) -> None:
    with target("flood") as flood:
        node, port = bridge_node(target=f"127.0.0.1:{flood}")

        asyncio.run(_stalled_reader(f"ws://127.0.0.1:{port}/"))
        out = node.ctl("websockify")[0]["bytes_out"]
        # loopback moves GiBs in 3 s; the bridge stopped after the socket buffers filled
        assert out < 64 * MIB, out


def test_a_target_that_stops_reading_stops_the_browser(bridge_node: BridgeNode) -> None:
    with target("stall") as stall:
        node, port = bridge_node(target=f"127.0.0.1:{stall}")

        async def flood() -> int:
            sent = 0
            # the bridge reads no close frame while it waits for the stalled target: 1 s
            quick = aiohttp.ClientWSTimeout(ws_close=1.0)
            url = f"ws://127.0.0.1:{port}/"
            async with aiohttp.ClientSession() as s, s.ws_connect(url, timeout=quick) as ws:
                block = b"y" * 65536
                try:
                    async with asyncio.timeout(3):
                        while True:
                            await ws.send_bytes(block)
                            sent += len(block)
                except TimeoutError:
                    return sent
            raise AssertionError("unreachable")

        asyncio.run(flood())
        assert node.ctl("websockify")[0]["bytes_in"] < 64 * MIB


def test_idle_timeout_closes_with_reason(bridge_node: BridgeNode, echo_port: int) -> None:
    _, port = bridge_node(target=f"127.0.0.1:{echo_port}", idle_timeout=0.5)
    code, reason, _ = asyncio.run(close_of(f"ws://127.0.0.1:{port}/"))
    assert (code, reason) == (1000, "idle for 0.5s")
