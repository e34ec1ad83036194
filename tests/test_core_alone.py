"""`pip install wsnet-core` alone, in an empty virtualenv, runs a node with links, channels,
routing, the control API and diag (issue 14, "Done means"): no plugin and nothing a plugin
brings (bcrypt, python-pytun) is needed."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from wsnet.testing import free_port
from wsnet.testing_venv import Venv, clean_env, make_venv

ROOT = Path(__file__).resolve().parents[1]
ENV = clean_env()  # nothing of the development tree may leak into the virtualenv's programs


def _venv(tmp: Path) -> Venv:
    """A virtualenv with wsnet-core and its declared dependencies only (from the index)."""
    venv = make_venv(tmp / "venv")
    res = venv.pip_install(str(ROOT / "core"))
    if res.returncode != 0:
        pytest.skip(f"cannot install wsnet-core from the package index here: {res.stderr[-300:]}")
    return venv


def _ctl(bin_: Path, port: int, *args: str) -> str:
    res = subprocess.run([str(bin_ / "wsnet"), "ctl", "--ctlurl", str(port), *args],
                         capture_output=True, text=True, timeout=60, env=ENV)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_core_alone_runs_linked_nodes(tmp_path: Path) -> None:
    venv = _venv(tmp_path)
    bin_ = venv.bin
    dists = venv.distributions()
    assert "wsnet-core" in dists
    assert not {d for d in dists if d.startswith("wsnet-") and d != "wsnet-core"}
    assert not dists & {"bcrypt", "python-pytun"}

    port, ctl_a, ctl_b = free_port(), free_port(), free_port()
    wsnet = str(bin_ / "wsnet")
    log = (tmp_path / "nodes.log").open("wb")
    a = subprocess.Popen([wsnet, "run", "--name", "a", "--listen", f"127.0.0.1:{port}",
                          "--ctl-port", str(ctl_a)], stderr=log, env=ENV)  # fmt: skip
    b = subprocess.Popen([wsnet, "run", "--name", "b", "--listen", "none", "--ctl-port",
                          str(ctl_b), "--dial", f"ws://127.0.0.1:{port}/wsnet"],
                         stderr=log, env=ENV)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            res = subprocess.run([wsnet, "ctl", "--ctlurl", str(ctl_b), "routes"],
                                 capture_output=True, text=True, timeout=30, env=ENV)  # fmt: skip
            if res.returncode == 0 and " a " in f" {res.stdout} ":
                break
            time.sleep(0.2)
        assert "count: 4" in _ctl(bin_, ctl_b, "ping", "a")  # 4 round trips through the link
        speed = _ctl(bin_, ctl_b, "speedtest", "a", "bytes=1000000")
        assert "ok: True" in speed, speed  # 1 MB verified by SHA-256 at the far end
        status = _ctl(bin_, ctl_a, "status")
        assert "echo" in status and "sink" in status and "ether" not in status
        version = subprocess.run([wsnet, "--version"], capture_output=True, text=True,
                                 timeout=60, check=True, env=ENV).stdout  # fmt: skip
        assert version.startswith("wsnet ") and "plugin " not in version
    finally:
        for p in (a, b):
            p.terminate()
            p.wait(timeout=20)
        log.close()
