"""`wsnet run` with a bad config file: exit 2 and one line naming the file and the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config_run import run_config_file

CASES = [
    ("[node]\nname = 'has space'\n", "[node] name: expected 1-63 letters"),
    ("[node]\nnmae = 'a'\n", "[node] nmae: unknown key (known keys here: name, plugins, shut"),
    ("[node]\nplugins = 'log'\n", "[node] plugins: expected a list of strings, got 'log'"),
    ("[node]\nplugins = ['nosuch']\n", "[node] plugins: unknown plugin nosuch (installed"),
    ("[listen]\nport = 70000\n", "[listen] port: expected an integer in 0..65535, got 70000"),
    ("[listen]\nport = '80'\n", "[listen] port: expected an integer in 0..65535, got '80'"),
    ("[listen]\npath = 'wsnet'\n", "[listen] path: expected a URL path starting with '/'"),
    ("listen = 5\n", "[listen]: expected a table, got 5"),
    ("[[dial]]\npeer = 'x'\n", "[[dial]] #1 url: required key missing"),
    ("[[dial]]\nurl = 'ws://h/x'\n[[dial]]\nurl = 'h:1'\n", "[[dial]] #2 url: expected a ws://"),
    ("[control]\nhost = '192.0.2.1'\n", "[control] host: '192.0.2.1' is not a loopback address"),
    ("[keepalive]\ninterval = 2\ntimeout = 1\n", "[keepalive] timeout: expected more than"),
    ("[keepalive]\ninterval = -1\n", "[keepalive] interval: expected seconds > 0 and <= 86400"),
    ("[reconnect]\ninitial = 5\nmax = 1\n", "[reconnect] max: expected at least initial"),
    ("[limits]\nmax_frame = 10\n", "[limits] max_frame: expected an integer in 1024..16777216"),
    ("[limits]\nwindow = true\n", "[limits] window: expected an integer in 1024..2147483647"),
    ("[tap]\nmtu = 1400\n", "[tap]: no loaded plugin uses this section"),
    ("[node\nname = 'a'\n", "-: not valid TOML: "),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[1][:40] for c in CASES])
def test_error_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    res = run_config_file(cfg)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"wsnet: error: {cfg}: ")
    assert expected in lines[0]


def test_missing_file(tmp_path: Path) -> None:
    res = run_config_file(tmp_path / "absent.toml")
    assert res.returncode == 2
    assert f"{tmp_path / 'absent.toml'}: -: cannot read: No such file or directory" in res.stderr


def test_bad_logging_config_names_file(tmp_path: Path) -> None:
    log_cfg = tmp_path / "log.json"
    log_cfg.write_text('{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}}')
    argv = [sys.executable, "-m", "wsnet", "run", "--listen", "none", "--ctl-port", "0"]
    res = subprocess.run(
        [*argv, "--log-config", str(log_cfg)], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 2
    assert f"{log_cfg}: -: invalid logging config" in res.stderr
