"""`wsnet run` with no config at all, on the documented default ports.

Runs inside a network namespace the test creates, so the defaults (links on
127.0.0.1:7860, control on 127.0.0.1:7867) cannot collide with anything on the host.
"""

from __future__ import annotations

import json
import subprocess
import sys

from wsnet.testing import Netns, wait_until


def test_bare_node_and_readme_pair(netns_pair: tuple[Netns, Netns]) -> None:
    ns, _ = netns_pair
    py = sys.executable
    hub = ns.popen(py, "-m", "wsnet", "run", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    edge = ns.popen(
        py, "-m", "wsnet", "run", "--name", "edge", "--listen", "none",
        "--dial", "ws://127.0.0.1:7860/wsnet", "--ctl-port", "7868",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        def ctl(*args: str) -> object:
            res = ns.run(py, "-m", "wsnet", "ctl", *args, "--json", check=False)
            return json.loads(res.stdout) if res.returncode == 0 else None

        status = wait_until(lambda: ctl("status"), timeout=20, what="default control API")
        assert status["node"] == "wsnet"  # the default name
        assert status["listen"] == "ws://127.0.0.1:7860/wsnet"
        assert status["control"] == "http://127.0.0.1:7867/rpc"
        edge_url = "--ctlurl=http://127.0.0.1:7868/rpc"
        wait_until(lambda: ctl(edge_url, "links"), timeout=20, what="edge linked to the hub")
        res = ctl(edge_url, "speedtest", "wsnet", "bytes=10000000")
        assert isinstance(res, dict)
        assert res["ok"]
    finally:
        for proc in (hub, edge):
            proc.terminate()
        out, _ = hub.communicate(timeout=10)
        edge.wait(timeout=10)
    # SIGTERM is a clean stop: exit 0 and a last log line
    assert hub.returncode == 0, out.decode(errors="replace")
    assert b"stopped" in out
