"""Subprocesses of a benchmark run: started here, always killed here, RSS read from /proc."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from wsnet.ctl import CtlError, call
from wsnet.testing import free_port

T = TypeVar("T")


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll until ``predicate`` returns something truthy; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (CtlError, OSError) as exc:
            last, value = exc, None
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last})")


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of ``pid`` in KiB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0])
    return out


@dataclass
class Proc:
    """One child process with its output in a log file."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    def start(self) -> Proc:
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.popen.returncode}; log:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; only this child's own pid is signalled."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None


class Procs:
    """Owner of every child of the run; ``close()`` kills them all (call it in finally)."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="wsnet-bench-")
        self.dir = Path(self._tmp.name)
        self.children: list[Proc] = []

    def spawn(self, name: str, argv: list[str]) -> Proc:
        proc = Proc(name, argv, self.dir / f"{name}.log")
        self.children.append(proc)
        return proc.start()

    def close(self) -> None:
        for proc in self.children:
            proc.kill()
        self.children.clear()
        self._tmp.cleanup()

    def __enter__(self) -> Procs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_tcp_peer(procs: Procs, mode: str) -> tuple[Proc, int]:
    port = free_port()
    proc = procs.spawn(f"tcp-{mode}", [sys.executable, "-m", "bench.peer", mode, str(port), "3600"])

    def ready() -> bool:
        proc.check_alive()
        return port_open(port)

    wait_for(ready, timeout=15, what=f"TCP {mode} peer on port {port}")
    return proc, port


@dataclass
class Node:
    name: str
    proc: Proc
    port: int | None
    ctl_port: int

    @property
    def ctlurl(self) -> str:
        return f"http://127.0.0.1:{self.ctl_port}/rpc"

    def ctl(self, method: str, params: Any = None, timeout: float = 30.0) -> Any:
        return call(self.ctlurl, method, params, timeout=timeout)

    def peers(self) -> set[str]:
        return {str(link["peer"]) for link in self.ctl("links", timeout=5)}

    def rss(self) -> dict[str, int]:
        return rss_kib(self.proc.pid)


@dataclass
class NodePair:
    """Node ``a`` listening on loopback, node ``b`` dialling it; linked once started."""

    a: Node
    b: Node
    idle_rss: dict[str, dict[str, int]] = field(default_factory=dict)
    bulk_done: bool = False

    def nodes(self) -> Iterator[Node]:
        yield self.a
        yield self.b


def _wsnet(name: str, listen: str, ctl_port: int, dial: str | None, plugins: str = "") -> list[str]:
    argv = [sys.executable, "-m", "wsnet", "run", "--name", name, "--listen", listen]
    if dial:
        argv += ["--dial", dial]
    if plugins:
        argv += ["--plugins", plugins]
    return [*argv, "--ctl-port", str(ctl_port)]


def start_node_pair(procs: Procs, plugins: str = "", tag: str = "") -> NodePair:
    """``plugins`` for both nodes; ``tag`` names their processes apart from the shared pair's."""
    port, ctl_a, ctl_b = free_port(), free_port(), free_port()
    url = f"ws://127.0.0.1:{port}/wsnet"
    argv_a = _wsnet("a", f"127.0.0.1:{port}", ctl_a, None, plugins)
    a = Node("a", procs.spawn(f"node-a{tag}", argv_a), port, ctl_a)
    b = Node(
        "b", procs.spawn(f"node-b{tag}", _wsnet("b", "none", ctl_b, url, plugins)), None, ctl_b
    )

    def linked() -> bool:
        for node in (a, b):
            node.proc.check_alive()
        return "b" in a.peers() and "a" in b.peers()

    wait_for(linked, timeout=30, what="link between nodes a and b")
    # Idle figures right after the link came up, before any benchmark traffic.
    time.sleep(0.5)
    pair = NodePair(a, b)
    pair.idle_rss = {n.name: n.rss() for n in pair.nodes()}
    return pair
