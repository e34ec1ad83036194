"""Real parts for the browser test: Xvfb with a solid root colour, x11vnc serving it, and
headless Chromium driven over the DevTools protocol (aiohttp's WebSocket client).

Every process is started in a context manager that kills it, also when the test fails;
every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from wsnet.testing import free_port

TOOLS = ("Xvfb", "x11vnc", "xsetroot", "chromium")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


@contextlib.contextmanager
def process(*argv: str, **kw: Any) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


@contextlib.contextmanager
def vnc_desktop(colour: str, size: str = "320x240") -> Iterator[int]:
    """Xvfb showing ``colour``, served by x11vnc on the returned port (loopback only)."""
    read, write = os.pipe()
    # -noreset: without it the server resets when xsetroot (its last client) leaves, and
    # the root window is black again
    with process("Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24", "-noreset",
                 "-nolisten", "tcp", pass_fds=(write,)) as xvfb:  # fmt: skip
        os.close(write)
        with os.fdopen(read) as f:  # Xvfb writes the display number once it is ready
            display = ":" + f.readline().strip()
        assert display != ":", f"Xvfb did not start (status {xvfb.poll()})"
        subprocess.run(["xsetroot", "-display", display, "-solid", colour], check=True, timeout=30)
        port = free_port()
        with process("x11vnc", "-display", display, "-rfbport", str(port), "-localhost",
                     "-nopw", "-forever", "-shared", "-quiet") as vnc:  # fmt: skip
            _wait_port(port, vnc)
            yield port


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout}s")


@contextlib.contextmanager
def chromium(profile: Path, spki: str = "") -> Iterator[int]:
    """Headless Chromium with its DevTools port (returned); ``spki`` trusts a test cert."""
    port = free_port()
    flags = [f"--remote-debugging-port={port}", f"--user-data-dir={profile}", "--headless=new",
             "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=800,600",
             "--disable-background-networking", "--disable-dev-shm-usage"]  # fmt: skip
    if spki:
        flags.append(f"--ignore-certificate-errors-spki-list={spki}")
    with process("chromium", *flags, "about:blank") as proc:
        _wait_port(port, proc)
        yield port


class Page:
    """One tab over CDP: navigate, evaluate, capture."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.n = ws, 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.n += 1
        await self.ws.send_str(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:  # events come between the answers: skip them
            msg = json.loads(await asyncio.wait_for(self.ws.receive_str(), 30))
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]  # type: ignore[no-any-return]

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.25)
        raise AssertionError(f"not true after {timeout}s: {expression}")

    async def screenshot(self, clip: dict[str, float] | None = None) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode((await self.call("Page.captureScreenshot", **params))["data"])


@contextlib.asynccontextmanager
async def page(devtools: int) -> Any:
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 30
        while True:
            async with session.get(f"http://127.0.0.1:{devtools}/json/list") as resp:
                tabs = [t for t in await resp.json() if t.get("type") == "page"]
            if tabs or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert tabs, "Chromium shows no page"
        async with session.ws_connect(tabs[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            yield Page(ws)
