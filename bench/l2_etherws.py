"""etherws 1.3 in the same namespaces as bench.l2, for the side-by-side L2 figure.

etherws is installed (and minimally ported to Python 3) by bench/peers/etherws.sh;
without it the row is reported as skipped with the reason.  Same wire, same iperf3,
its own TAP subnet so that nothing of the wsnet run is in the way.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .results import Result, best_of, skipped

ETHERWS = os.environ.get("WSNET_BENCH_ETHERWS", "/opt/wsnet-peers/etherws/bin/etherws")
TAPS = ("10.253.0.1", "10.253.0.2")
PORT = 7870
DEV = "ewb0"
NAME = "l2.etherws_iperf3"
Iperf3 = Callable[[str, str, str, int], float]  # (server ns, client ns, ip, seconds) -> Mbit/s


def run(
    ns: tuple[str, str], wire: tuple[str, str], seconds: int, repeat: int, iperf3: Iperf3
) -> Result:
    """Mbit/s of iperf3 through two etherws switches joined over the veth ``wire``."""
    if not Path(ETHERWS).exists():
        return skipped(NAME, f"{ETHERWS} not installed: run bench/peers/etherws.sh")
    hosts = (wire[0], "127.0.0.1")  # the second switch listens too (etherws always does)
    procs = [_switch(n, h) for n, h in zip(ns, hosts, strict=True)]
    try:
        for n, addr in zip(ns, TAPS, strict=True):
            _ctl(n, "addport", "tap", DEV)
            _sh("ip", "-n", n, "addr", "add", f"{addr}/24", "dev", DEV)
        _ctl(ns[1], "addport", "client", f"ws://{wire[0]}:{PORT}/")
        samples = [iperf3(ns[1], ns[0], TAPS[1], seconds) for _ in range(repeat)]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
    return best_of(NAME, "Mbit/s", samples, extra={"seconds": seconds, "etherws": "1.3 py3 port"})


def _switch(ns: str, host: str) -> subprocess.Popen[bytes]:
    argv = ["ip", "netns", "exec", ns, ETHERWS, "sw", "--foreground", "--host", host,
            "--port", str(PORT)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ctl(ns: str, *args: str) -> None:
    """etherws ctl, retried while its control API is still starting (at most 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        res = subprocess.run(["ip", "netns", "exec", ns, ETHERWS, "ctl", *args],
                             capture_output=True, text=True, timeout=20)  # fmt: skip
        if res.returncode == 0 and "error" not in res.stdout.lower():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"etherws ctl {' '.join(args)} in {ns}: {res.stdout}{res.stderr}")
        time.sleep(0.3)


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=10)
