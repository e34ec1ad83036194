"""L2 VPN throughput: iperf3 TCP between two namespaces through TAPs and a wsnet link.

Baseline: iperf3 over the plain veth pair that also carries the link, in the
same run.  Namespaces, devices and processes are removed in ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from wsnet.testing import remove_netns

from . import l2_etherws
from .results import Result, best_of, set_ratio

NS = (f"wsnb-{os.getpid()}-a", f"wsnb-{os.getpid()}-b")
VETH = (f"wsnb{os.getpid() % 10000}a", f"wsnb{os.getpid() % 10000}b")
WIRE = ("10.251.0.1", "10.251.0.2")
TAPS = ("10.252.0.1", "10.252.0.2")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _in(ns: str, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=timeout
    )


@contextlib.contextmanager
def namespaces() -> Iterator[None]:
    try:
        for ns in NS:
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "add", VETH[0], "netns", NS[0], "type", "veth", "peer", "name", VETH[1],
            "netns", NS[1])  # fmt: skip
        for ns, dev, addr in zip(NS, VETH, WIRE, strict=True):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
        yield
    finally:
        for ns in NS:
            remove_netns(ns)


def iperf3(server_ns: str, client_ns: str, ip: str, seconds: int) -> float:
    """Mbit/s received by the server side of one TCP stream."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-p", "5201"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.3)
        res = _in(client_ns, "iperf3", "-c", ip, "-p", "5201", "-t", str(seconds), "-J",
                  timeout=seconds + 30)  # fmt: skip
        report = json.loads(res.stdout)
        if "error" in report:
            raise RuntimeError(f"iperf3: {report['error']}")
        return float(report["end"]["sum_received"]["bits_per_second"]) / 1e6
    finally:
        server.kill()
        server.wait(timeout=10)


def _node(ns: str, args: list[str]) -> subprocess.Popen[bytes]:
    argv = ["ip", "netns", "exec", ns, sys.executable, "-m", "wsnet", "run", "--plugins", "tap",
            *args]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ctl(ns: str, *args: str) -> Any:
    res = _in(ns, sys.executable, "-m", "wsnet", "ctl", *args, "--json")
    return json.loads(res.stdout) if res.returncode == 0 else None


def run(repeat: int, quick: bool) -> list[Result]:
    missing = [t for t in ("ip", "iperf3") if shutil.which(t) is None]
    if missing or os.geteuid() != 0:
        raise RuntimeError(f"l2 needs root and {', '.join(missing) or 'namespaces'}")
    seconds = 2 if quick else 5
    with namespaces():
        base = [iperf3(NS[1], NS[0], WIRE[1], seconds) for _ in range(repeat)]
        nodes = [
            _node(NS[0], ["--name", "a", "--listen", f"{WIRE[0]}:7860"]),
            _node(NS[1], ["--name", "b", "--listen", "none", "--dial", f"ws://{WIRE[0]}:7860/wsnet"]),
        ]  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while not _ctl(NS[1], "links") and time.monotonic() < deadline:
                time.sleep(0.2)
            _taps("offload=on")
            tap = [iperf3(NS[1], NS[0], TAPS[1], seconds) for _ in range(repeat)]
            _taps("offload=off")
            plain = [iperf3(NS[1], NS[0], TAPS[1], seconds) for _ in range(repeat)]
        finally:
            for proc in nodes:
                proc.terminate()
                proc.wait(timeout=10)
        etherws = l2_etherws.run(NS, WIRE, seconds, repeat, iperf3)
    veth = best_of("l2.veth_iperf3", "Mbit/s", base, extra={"seconds": seconds})
    wsnet = best_of("l2.tap_iperf3", "Mbit/s", tap, extra={"seconds": seconds, "offload": True})
    slow = best_of("l2.tap_iperf3_no_offload", "Mbit/s", plain, extra={"seconds": seconds})
    set_ratio(wsnet, veth)
    set_ratio(slow, veth)
    set_ratio(etherws, veth)
    if etherws.value == etherws.value:  # not NaN: etherws ran
        wsnet.extra["x_etherws"] = round(wsnet.value / etherws.value, 2)
        slow.extra["x_etherws"] = round(slow.value / etherws.value, 2)
    return [veth, wsnet, slow, etherws]


def _taps(offload: str) -> None:
    """(Re)create the TAP port in both namespaces with the given offload setting."""
    for ns, addr in zip(NS, TAPS, strict=True):
        _ctl(ns, "delport", "wsb0")  # absent the first time: fine
        if _ctl(ns, "addport", "tap", "wsb0", f"address={addr}/24", offload) is None:
            raise RuntimeError(f"addport tap {offload} failed in {ns}")
