"""Runs of a node for tests: a ``wsnet run`` config that must stop start-up, a SIGHUP reload
awaited by its log line, and the config of an in-process ``Runtime`` on loopback with a
bounded wait for what it should reach.  Shared by the core's and the plugins' tests."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .config import Config, ControlConfig, DialConfig, ListenConfig
from .testing import NodeProcess, wait_until


def run_config_file(cfg: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`wsnet run --config CFG`, control API on port 0 (nothing fixed is bound if it starts)."""
    argv = [sys.executable, "-m", "wsnet", "run", "--config", str(cfg), "--ctl-port", "0"]
    return subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=30)


def run_config(tmp: Path, text: str) -> subprocess.CompletedProcess[str]:
    """Write ``text`` to TMP/bad.toml and run it."""
    cfg = tmp / "bad.toml"
    cfg.write_text(text)
    return run_config_file(cfg)


def hup(node: NodeProcess, expect: str) -> str:
    """SIGHUP, then the log lines of that reload once ``expect`` is among them."""
    mark = len(node.log())
    node.send_signal(signal.SIGHUP)
    wait_until(lambda: expect in node.log()[mark:], timeout=10, what=f"log line {expect!r}")
    assert node.proc is not None and node.proc.poll() is None, node.log()
    return node.log()[mark:]


def runtime_config(name: str, dial: str = "") -> Config:
    """Node ``name`` for an in-process ``wsnet.runtime.Runtime``: links on a free loopback
    port, dialling ``dial`` (a link URL) if given, no control API."""
    return Config(
        name=name,
        listen=ListenConfig(port=0),
        dial=[DialConfig(url=dial)] if dial else [],
        control=ControlConfig(enabled=False),
    )


async def until(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``cond`` every 10 ms until it holds; TimeoutError after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110 - polled, bounded above
            await asyncio.sleep(0.01)
