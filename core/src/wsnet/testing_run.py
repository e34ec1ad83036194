"""One-shot ``wsnet run`` invocations for tests: a config that must stop start-up, and a
SIGHUP reload awaited by its log line.  Shared by the core's and the plugins' tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

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
