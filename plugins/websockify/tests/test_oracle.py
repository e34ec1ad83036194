"""websockify 0.13 (from PyPI, in a virtualenv of its own) as the oracle: one client script
run against it and against a wsnet bridge must observe the same bytes, subprotocol choice
and close codes.  Where wsnet differs on purpose (base64, unknown tokens), the test says so."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from wsfy_client import close_of, roundtrip
from wsfy_support import BridgeNode, target

from wsnet.testing import free_port

VENV = Path("/tmp/wsnet-test-websockify-0.13")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def websockify_bin() -> Path:
    exe = VENV / "bin" / "websockify"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
        pip = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "websockify==0.13.0"],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        if pip.returncode != 0:
            pytest.skip(f"websockify 0.13.0 cannot be installed from PyPI: {pip.stderr[-300:]}")
    return exe


@contextlib.contextmanager
def oracle(exe: Path, target_port: int) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([str(exe), f"127.0.0.1:{port}", f"127.0.0.1:{target_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/", 0))
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "no websockify"
                time.sleep(0.2)
        yield port
    finally:
        proc.kill()
        proc.wait(10)


async def observe(echo: int, greet: int, dead: int, ports: dict[str, int]) -> list[object]:
    """What a client sees: per case the subprotocol, bytes by hash, close code and reason."""
    seen: list[object] = []
    for protocols in (("binary",), ("base64", "binary"), ()):
        r = await roundtrip(f"ws://127.0.0.1:{ports['echo']}/websockify", MIB, protocols)
        seen.append((protocols, r.protocol, r.received == r.sent, r.nbytes))
    code, reason, proto = await close_of(f"ws://127.0.0.1:{ports['greet']}/", ("binary",))
    seen.append(("greet", code, reason, proto))
    code, reason, _ = await close_of(f"ws://127.0.0.1:{ports['dead']}/")
    seen.append(("dead", code, reason.partition(":")[0]))
    return seen


def test_same_observations_as_websockify_0_13(
    websockify_bin: Path, bridge_node: BridgeNode, echo_port: int
) -> None:
    dead = free_port()
    with target("greet") as greet:
        with contextlib.ExitStack() as stack:
            cases = (("echo", echo_port), ("greet", greet), ("dead", dead))
            theirs = {name: stack.enter_context(oracle(websockify_bin, p)) for name, p in cases}
            for _ in range(3):  # websockify's close races its socket shutdown: see below
                expected = asyncio.run(observe(echo_port, greet, dead, theirs))
                if all(1006 not in case for case in expected[3:]):  # type: ignore[operator]
                    break
        ours = {}
        for i, (name, port) in enumerate((("echo", echo_port), ("greet", greet), ("dead", dead))):
            ours[name] = bridge_node(f"n{i}", target=f"127.0.0.1:{port}")[1]
        got = asyncio.run(observe(echo_port, greet, dead, ours))
    assert got[:4] == expected[:4]
    # the cases, spelled out: binary preferred, none means none, websockify's close codes
    assert expected[1][1] == "binary" and expected[2][1] is None
    assert expected[3] == ("greet", 1000, "Target closed", "binary")
    assert got[4] == ("dead", 1011, "Failed to connect to downstream server")
    # websockify shuts its socket down right after the close frame: the client sometimes
    # reads the reset first (1006); when the frame arrives, it is the same as ours
    assert expected[4] in (got[4], ("dead", 1006, "Failed to connect to downstream server"))


def test_base64_only_differs_on_purpose(
    websockify_bin: Path, bridge_node: BridgeNode, echo_port: int
) -> None:
    """websockify 0.13 dropped base64 (the handshake fails); wsnet still serves it."""
    with oracle(websockify_bin, echo_port) as port, pytest.raises(aiohttp.ClientError):
        asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/", 10, ("base64",)))
    _, ours = bridge_node(target=f"127.0.0.1:{echo_port}")
    r = asyncio.run(roundtrip(f"ws://127.0.0.1:{ours}/", MIB, ("base64",)))
    assert r.protocol == "base64" and r.received == r.sent
