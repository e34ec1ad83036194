"""`wsnet run` on a config that must stop start-up: shared by the bad-config tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_config_file(cfg: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`wsnet run --config CFG`, control API on port 0 (nothing fixed is bound if it starts)."""
    argv = [sys.executable, "-m", "wsnet", "run", "--config", str(cfg), "--ctl-port", "0"]
    return subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=30)


def run_config(tmp: Path, text: str) -> subprocess.CompletedProcess[str]:
    """Write ``text`` to TMP/bad.toml and run it."""
    cfg = tmp / "bad.toml"
    cfg.write_text(text)
    return run_config_file(cfg)
