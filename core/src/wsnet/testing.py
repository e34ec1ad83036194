"""pytest fixtures for wsnet and its plugin authors (entry point ``pytest11``).

- ``wsnet_node_factory``: start real ``wsnet run`` processes on free loopback
  ports; every process is killed at teardown, also when the test fails.
- ``wsnet_node``: one node; ``wsnet_linked_nodes``: node "a" listening and node
  "b" dialling it, returned once both see the link.
- ``netns_pair``: two network namespaces joined by a veth pair, removed at
  teardown; skipped with the reason when namespaces are not available.
- ``pki``: a CA, server and client certificates made with ``openssl`` (``wsnet.testing_pki``).

Beside it: ``wsnet.testing_tcp`` (echo/firehose servers, verified transfers) and
``wsnet.testing_run`` (a config that must stop start-up, a SIGHUP reload).

Traffic stays on 127.0.0.1 or inside namespaces the fixture created.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import tomlw
from .ctl import CtlError, CtlOptions, call
from .testing_pki import pki as pki  # the fixture: pytest finds it in this plugin module

FAST = {"keepalive": {"interval": 0.5, "timeout": 2.0}, "reconnect": {"initial": 0.2, "max": 1.0}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    """Poll ``predicate`` until truthy (returned) or raise AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (CtlError, OSError, AssertionError) as exc:
            last_exc, value = exc, None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc})")


def toml_dumps(data: Mapping[str, Any]) -> str:
    """A config as TOML text (``wsnet.tomlw.dumps``; kept here for fixtures' users)."""
    return tomlw.dumps(data)


@dataclass
class NodeProcess:
    """A running ``wsnet run`` subprocess and how to talk to it."""

    name: str
    port: int | None
    ctl_port: int
    config_path: Path
    log_path: Path
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    netns: Netns | None = None  # runs inside this namespace; ctl() goes through `ip netns exec`
    host: str = "127.0.0.1"
    tls: bool = False  # the link listener serves wss://
    ctl_tls: bool = False  # the control API serves https://
    ctl_options: CtlOptions | None = None  # credentials / CA that ctl() uses
    _log: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}/wsnet"

    @property
    def ctlurl(self) -> str:
        return f"{'https' if self.ctl_tls else 'http'}://127.0.0.1:{self.ctl_port}/rpc"

    def start(self, wait: bool = True) -> NodeProcess:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        if wait:
            wait_until(self._ready, timeout=15, what=f"node {self.name} control API")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"node {self.name} exited with {self.proc.returncode}:\n" + self.log()
            )
        return bool(self.ctl("status"))

    def ctl(self, method: str, *args: Any, **named: Any) -> Any:
        """Call a control method with positional or named params (JSON-RPC allows one kind)."""
        if args and named:
            raise TypeError("pass params either positionally or by name, not both")
        params: Any = list(args) if args else (named or None)
        if self.netns is not None:
            return _ctl_in_netns(self.netns.name, self.ctlurl, method, params)
        return call(self.ctlurl, method, params, timeout=60, options=self.ctl_options)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def peers(self) -> set[str]:
        return {link["peer"] for link in self.ctl("links")}

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` (e.g. SIGSTOP to blackhole the node) without waiting for anything."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a terminating signal and wait (at most 10 s) for the process to exit."""
        if self.proc is not None and self.proc.poll() is None:
            self.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        self.kill(signal.SIGTERM)
        if self.proc is not None and self.proc.poll() is None:
            self.kill(signal.SIGKILL)
        return self.proc.returncode if self.proc else None


_CTL_SNIPPET = (
    "import json, sys\n"
    "from wsnet.ctl import CtlError, call\n"
    "try:\n"
    "    print(json.dumps(call(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), timeout=60)))\n"
    "except CtlError as exc:\n"
    "    sys.exit(f'CtlError: {exc}')\n"
)


def _ctl_in_netns(ns: str, url: str, method: str, params: Any) -> Any:
    """A control call from inside ``ns``, where the node's loopback API lives."""
    res = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", _CTL_SNIPPET, url, method,
         json.dumps(params)],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    if res.returncode != 0:
        raise CtlError(res.stderr.strip().removeprefix("CtlError: "))
    return json.loads(res.stdout)


class NodeFactory:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.nodes: list[NodeProcess] = []
        self._seq = itertools.count(1)

    def __call__(
        self,
        name: str,
        *,
        listen: bool = True,
        dial: list[str] | None = None,
        plugins: list[str] | None = None,
        config: Mapping[str, Any] | None = None,
        extra_args: list[str] | None = None,
        fast: bool = True,
        start: bool = True,
        port: int | None = None,
        netns: Netns | None = None,
        ctl_options: CtlOptions | None = None,
    ) -> NodeProcess:
        """Start ``wsnet run`` named ``name``; ``config`` adds TOML sections.

        With ``netns`` the node runs inside that namespace and listens on its address.
        ``ctl_options`` (user, password, ca_file, insecure) are what ``ctl()`` sends to a
        protected control API; ``url``/``ctlurl`` say wss/https when config or flags ask for TLS.
        """
        raw: dict[str, Any] = {k: dict(v) for k, v in FAST.items()} if fast else {}
        raw.update({k: v for k, v in (config or {}).items()})
        node_tbl = dict(raw.get("node", {}))
        node_tbl["name"] = name
        if plugins is not None:
            node_tbl["plugins"] = plugins
        raw["node"] = node_tbl
        host = netns.ip if netns is not None else "127.0.0.1"
        port = (port or free_port()) if listen else None
        raw["listen"] = {
            **raw.get("listen", {}),
            **({"host": host, "port": port} if listen else {"enabled": False}),
        }
        ctl_port = free_port()
        raw["control"] = {**raw.get("control", {}), "port": ctl_port}
        if dial:
            raw["dial"] = [*raw.get("dial", []), *({"url": u} for u in dial)]
        n = next(self._seq)
        cfg = self.tmp / f"{name}-{n}.toml"
        cfg.write_text(toml_dumps(raw))
        argv = [sys.executable, "-m", "wsnet", "run", "--config", str(cfg), *(extra_args or [])]
        if netns is not None:
            argv = ["ip", "netns", "exec", netns.name, *argv]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        args = extra_args or []
        node = NodeProcess(
            name, port, ctl_port, cfg, self.tmp / f"{name}-{n}.log", argv, env,
            netns=netns, host=host,
            tls=bool(raw["listen"].get("tls_cert")) or "--tls-cert" in args,
            ctl_tls=bool(raw["control"].get("tls_cert")) or "--ctl-tls-cert" in args,
            ctl_options=ctl_options,
        )  # fmt: skip
        self.nodes.append(node)
        return node.start() if start else node

    def cleanup(self) -> None:
        for node in self.nodes:
            node.kill()


@pytest.fixture
def wsnet_node_factory(tmp_path: Path) -> Iterator[NodeFactory]:
    factory = NodeFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def wsnet_node(wsnet_node_factory: NodeFactory) -> NodeProcess:
    return wsnet_node_factory("a")


@pytest.fixture
def wsnet_linked_nodes(wsnet_node_factory: NodeFactory) -> tuple[NodeProcess, NodeProcess]:
    a = wsnet_node_factory("a")
    b = wsnet_node_factory("b", listen=False, dial=[a.url])
    wait_until(lambda: "b" in a.peers() and "a" in b.peers(), what="link a<->b")
    return a, b


# ------------------------------------------------------------------ namespaces
_ns_seq = itertools.count(1)


@dataclass
class Netns:
    name: str
    ifname: str
    address: str  # with prefix, e.g. 10.250.1.1/24

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]

    def run(
        self, *cmd: str, check: bool = True, timeout: float = 60, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *cmd],
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kw,
        )

    def popen(self, *cmd: str, **kw: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], **kw)


def netns_available() -> str:
    """'' when namespaces can be created here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    probe = f"wsnt-probe-{os.getpid()}"
    res = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if res.returncode != 0:
        return f"cannot create a network namespace: {res.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def remove_netns(name: str) -> None:
    """Kill what runs inside, then delete the namespace (its veth ends go with it)."""
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    for pid in pids.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def netns_pair() -> Iterator[tuple[Netns, Netns]]:
    reason = netns_available()
    if reason:
        pytest.skip(reason)
    n = next(_ns_seq)
    tag = f"{os.getpid() % 100000}-{n}"
    subnet = 1 + (os.getpid() + n) % 250
    left = Netns(f"wsnt-{tag}-a", f"wsv{tag}a"[:15], f"10.250.{subnet}.1/24")
    right = Netns(f"wsnt-{tag}-b", f"wsv{tag}b"[:15], f"10.250.{subnet}.2/24")
    try:
        for ns in (left, right):
            _ip("netns", "add", ns.name)
            _ip("-n", ns.name, "link", "set", "lo", "up")
        _ip(
            "link",
            "add",
            left.ifname,
            "netns",
            left.name,
            "type",
            "veth",
            "peer",
            "name",
            right.ifname,
            "netns",
            right.name,
        )
        for ns in (left, right):
            _ip("-n", ns.name, "addr", "add", ns.address, "dev", ns.ifname)
            _ip("-n", ns.name, "link", "set", ns.ifname, "up")
        yield left, right
    finally:
        for ns in (left, right):
            remove_netns(ns.name)


class NetnsFactory:
    """Makes empty namespaces (loopback up) and removes them, and what runs inside, at teardown."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self) -> Netns:
        name = f"wsnt-{os.getpid() % 100000}-{next(_ns_seq)}"
        _ip("netns", "add", name)
        self.made.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        return Netns(name, "", "")

    def cleanup(self) -> None:
        for name in reversed(self.made):
            remove_netns(name)


@pytest.fixture
def netns_factory() -> Iterator[NetnsFactory]:
    reason = netns_available()
    if reason:
        pytest.skip(reason)
    factory = NetnsFactory()
    try:
        yield factory
    finally:
        factory.cleanup()
