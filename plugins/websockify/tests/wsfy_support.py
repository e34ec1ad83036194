"""Helpers the tests import (a module of its own: with --import-mode=importlib a test
importing ``conftest`` could get another directory's)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from wsnet.testing import NodeProcess

HERE = Path(__file__).parent
ECHO = HERE / "echo_server.py"


def start_echo(port: int = 0, mode: str = "echo") -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, str(ECHO), str(port), mode],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the port, once it listens (the process exits on error)
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError("echo server did not start")
    return proc, int(line)


@contextlib.contextmanager
def target(mode: str) -> Iterator[int]:
    proc, port = start_echo(0, mode)
    try:
        yield port
    finally:
        proc.kill()
        proc.wait(10)


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


BridgeNode = Callable[..., tuple[NodeProcess, int]]
