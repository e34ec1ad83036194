"""`wsnet run` with a bad config file: exit 2 and one line naming the file and the key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wsnet.testing_run import run_config_file

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
    (
        "[keepalive]\ninterval = nan\n",
        "[keepalive] interval: expected seconds > 0 and <= 86400, got",
    ),
    ("[keepalive]\ntimeout = inf\n", "[keepalive] timeout: expected seconds > 0 and <= 86400, got"),
    ("[listen]\npath = '/a b'\n", "[listen] path: expected a URL path starting with '/'"),
    ("[[dial]]\nurl = 'ws://h:99999/x'\n", "[[dial]] #1 url: 'ws://h:99999/x': Port out of range"),
    ("[[dial]]\nurl = 'ws://h/x'\npeer = 'a b'\n", "[[dial]] #1 peer: expected a node name"),
    ("[[dial]]\nurl = 'wx://h/x'\n", "[[dial]] #1 url: no transport for wx:// (have: ws, wss)"),
    (
        "[node]\nplugins = ['tap']\n[[switch.port]]\nkind = 'tapx'\nname = 't0'\n",
        "[[switch.port]] #1 kind: unknown port kind 'tapx' (available: tap)",
    ),
    (
        "[node]\nplugins = ['tap']\n[[switch.port]]\nkind = 'tap'\nname = 't0'\nmtu = inf\n",
        "[[switch.port]] #1: tap t0: option 'mtu': expected an integer, got inf",
    ),
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


def test_not_utf8_config_names_the_file_and_line(tmp_path: Path) -> None:
    """Was a UnicodeDecodeError traceback."""
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes(b"[node]\n# caf\xe9\nname = 'a'\n")
    res = run_config_file(cfg)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"wsnet: error: {cfg}: -: not UTF-8 text (byte 13, line 2): TOML is UTF-8"
    ]


def run_flags(*flags: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "wsnet", "run", "--listen", "none", "--ctl-port", "0"]
    try:
        return subprocess.run([*argv, *flags], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"wsnet run {' '.join(flags)} started instead of refusing") from None


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("this is not ini\n", "log.conf", "not a valid ini logging config: File contains no"),
        ("this is not ini\n", "log.txt", "not a logging config: expected ini with [loggers]"),
        ("[loggers]\nkeys=root\n", "log.ini", "an ini logging config needs [handlers]"),
        ("version = 2\n", "log.toml", "a dictConfig TOML needs version = 1"),
        ("{not json", "log.json", "not valid JSON: "),
    ],
)
def test_log_config_format_detected_or_named(
    tmp_path: Path, text: str, name: str, expected: str
) -> None:
    """A --log-config that was not ini gave a RuntimeError traceback."""
    log_cfg = tmp_path / name
    log_cfg.write_text(text)
    res = run_flags("--log-config", str(log_cfg))
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wsnet: error: {log_cfg}: -: "), res.stderr
    assert expected in lines[0]


def test_log_config_json_under_any_name_is_used(tmp_path: Path) -> None:
    """The content decides: JSON in a .conf file configures logging (its file handler
    creates the file before a later check stops start-up)."""
    out = tmp_path / "wsnet.log"
    log_cfg = tmp_path / "logging.conf"
    handler = {"class": "logging.FileHandler", "filename": str(out)}
    log_cfg.write_text(json.dumps({"version": 1, "handlers": {"f": handler}}))
    cfg = tmp_path / "node.toml"
    cfg.write_text("[[dial]]\nurl = 'wx://h/x'\n")  # refused once the plugins are up
    res = run_flags("--log-config", str(log_cfg), "--config", str(cfg))
    assert res.returncode == 2, res.stderr
    assert "no transport for wx://" in res.stderr
    assert out.exists()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("--ctl-port", "70000"), "command line: --ctl-port: expected a port 0..65535, got '7"),
        (("--ctl-port", "x"), "command line: --ctl-port: expected a port 0..65535, got 'x'"),
        (("--ctl-port", "-1"), "command line: --ctl-port: expected a port 0..65535, got '-1'"),
        (("--path", "wsnet"), "command line: --path: expected a URL path starting with '/'"),
        (("--path", "/{x"), "command line: --path: expected a URL path starting with '/'"),
        (("--listen", "::1:80"), "command line: --listen: write an IPv6 address in brackets"),
        (("--dial", "ws://h:0/x"), "command line: --dial: 'ws://h:0/x': port 0 cannot be dialled"),
        (("--dial", "ws://h/x", "--user", "a:b"), "command line: --user: expected a user name"),
    ],
)  # fmt: skip
def test_bad_flag_is_one_line_naming_it(flags: tuple[str, ...], expected: str) -> None:
    """--ctl-port 70000 bound port 4464; --path without '/' was an aiohttp traceback."""
    res = run_flags(*flags)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wsnet: error: {expected}"), res.stderr
