"""Every key of every section, and the flags of `wsnet run`, fed values of the wrong type or
range: one clean error naming the file (or the flag) and a non-zero exit, never a traceback.

In process, through the path `wsnet run` takes before anything starts (startup.prepare,
then the Node the plugins register with, then the dial schemes); and a few real
`python -m wsnet run` processes for the command line.  A value of the wrong type is an
error on that very key, so there the message must name it too.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsnet import tomlw
from wsnet.errors import ConfigError
from wsnet.node import Node
from wsnet.protocol import NODE_NAME_RE

Check = tuple[str, Callable[[Any], bool]]
TMP = Path(tempfile.mkdtemp(prefix="wsnet-values-"))
USERS = TMP / "users.htpasswd"
USERS.write_text("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
PLUGINS = ["tcp", "ha", "log", "auth_htpasswd", "tap", "netdev"]
BASE: dict[str, Any] = {
    "node": {"name": "n", "plugins": PLUGINS},
    "listen": {"port": 0},
    "control": {"port": 0},
    "auth_htpasswd": {"file": str(USERS)},
}
# Arrays of tables: a valid entry, one of whose keys a case replaces.
ENTRIES: dict[str, dict[str, Any]] = {
    "dial": {"url": "ws://127.0.0.1:9/wsnet"},
    "tcp.tunnel": {"name": "t", "listen": "127.0.0.1:9", "peer": "x"},
    "ha.group": {"name": "g", "members": ["a", "b"]},
    "switch.port": {"kind": "tap", "name": "wsnt0"},
}


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def seconds(lo: float = 0.0, hi: float = 86400.0, zero: bool = False) -> Check:
    def ok(v: Any) -> bool:
        return _number(v) and math.isfinite(v) and (v >= lo if zero else v > lo) and v <= hi

    return ("num", ok)


def ints(lo: int, hi: int) -> Check:
    return ("int", lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi)


def enum(*values: str) -> Check:
    return ("str", lambda v: v in values)


def name(v: Any) -> bool:
    return isinstance(v, str) and bool(NODE_NAME_RE.match(v))


def file(v: Any) -> bool:  # no case names an existing file but USERS; "" means none
    return v in ("", str(USERS))


def str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(i, str) for i in v)


def port_text(port: str) -> bool:
    return port.isascii() and port.isdigit() and 0 < int(port) < 65536


def tcp_address(v: Any) -> bool:
    """wsnet_tcp.spec.parse_address's rules, written out again."""
    if not isinstance(v, str):
        return False
    text = v.strip()
    if text.isascii() and text.isdigit():
        return port_text(text)
    host, sep, port = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    return bool(sep and host) and (bracketed or ":" not in host) and port_text(port)


def target(v: str) -> bool:  # wsnet.addresses says more; this check may accept too much
    return bool(v) and not any(c.isspace() for c in v)


def mtu(v: Any) -> bool:
    if isinstance(v, str) and v.strip().isascii() and v.strip().isdigit():
        v = int(v.strip())
    return isinstance(v, int) and not isinstance(v, bool) and 68 <= v <= 65521


def loose_bool(v: Any) -> bool:  # tap/netdev also take on/off/yes/no/1/0 (from `ctl addport`)
    words = ("true", "false", "on", "off", "yes", "no", "1", "0")
    return isinstance(v, bool) or (isinstance(v, str) and v.strip().lower() in words)


ANY: Check = ("any", lambda v: True)
BOOL: Check = ("bool", lambda v: isinstance(v, bool))
# A string whose content a later stage judges (a host name that may not resolve): only
# other types are certainly wrong.
STR: Check = ("str", lambda v: True)


def text(ok: Callable[[Any], bool]) -> Check:
    return ("str", ok)


def strings(ok: Callable[[str], bool] = lambda v: True) -> Check:
    return ("list", lambda v: str_list(v) and all(ok(i) for i in v))


# (section path, key) -> (TOML type, could it be valid).  A value the check calls valid is
# skipped, so a check may accept too much, never too little.
KEYS: dict[tuple[str, str], Check] = {
    ("node", "name"): text(name),
    ("node", "plugins"): ("list", lambda v: v == PLUGINS),
    ("node", "shutdown_grace"): seconds(hi=600),
    ("listen", "enabled"): BOOL,
    ("listen", "host"): STR,
    ("listen", "port"): ints(0, 65535),
    ("listen", "path"): text(lambda v: v.startswith("/")),
    ("listen", "tls_cert"): text(file),
    ("control", "host"): text(lambda v: v in ("127.0.0.1", "::1", "localhost")),
    ("control", "port"): ints(0, 65535),
    ("control", "enabled"): BOOL,
    ("control", "allow_remote"): BOOL,
    ("control", "tls_key"): text(file),
    ("control", "htpasswd"): text(file),
    ("keepalive", "interval"): seconds(hi=3.9),  # below the default timeout (4)
    ("keepalive", "timeout"): seconds(lo=1.0),  # above the default interval (1)
    ("keepalive", "hello_timeout"): seconds(),
    ("reconnect", "initial"): seconds(hi=10.0),  # at most the default max (10)
    ("reconnect", "max"): seconds(lo=0.5, zero=True),
    ("reconnect", "factor"): seconds(lo=1.0, hi=100.0),
    ("limits", "window"): ints(1024, 2**31 - 1),
    ("limits", "max_window"): ints(1 << 20, 2**31 - 1),  # at least the default window
    ("limits", "max_channels_per_source"): ints(0, 1 << 20),
    ("limits", "send_buffer"): ints(1 << 20, 1 << 30),  # at least the default max_frame
    ("limits", "link_buffer"): ints(1 << 20, 2**40),  # at least the default window
    ("limits", "control_backlog"): ints(64 * 1024, 1 << 30),
    ("limits", "window_budget"): ints(0, 2**40),
    ("limits", "max_frame"): ints(1024, 16 << 20),
    ("limits", "max_channels"): ints(1, 1 << 20),
    ("limits", "datagram_backlog"): ints(0, 1 << 30),
    ("authz", "default"): enum("allow", "deny"),
    ("authz.principal.alice", "open"): strings(),
    ("authz.principal.alice", "call"): strings(),
    ("authz.principal.alice", "connect"): strings(target),
    ("switch", "ageing"): seconds(),
    ("switch", "links"): BOOL,
    ("switch", "offload"): BOOL,
    ("switch", "forward_between_links"): BOOL,
    ("tcp", "pending_timeout"): seconds(zero=True),
    ("tcp", "connect_timeout"): seconds(),
    ("tcp", "targets"): strings(target),
    ("log", "format"): enum("text", "json"),
    ("log", "include"): strings(),
    ("log", "exclude"): strings(),
    ("auth_htpasswd", "file"): text(lambda v: v == str(USERS)),
    ("auth_htpasswd", "realm"): text(lambda v: v.isprintable() and '"' not in v),
    ("auth_htpasswd", "workers"): ints(1, 64),
    ("auth_htpasswd", "queue"): ints(0, 100_000),
    ("auth_htpasswd", "max_failures"): ints(1, 1_000_000),
    ("auth_htpasswd", "max_delay"): seconds(),
    ("auth_htpasswd", "max_bcrypt_cost"): ints(4, 31),
    ("auth_htpasswd", "max_sha_rounds"): ints(1000, 999_999_999),
    ("dial", "url"): text(lambda v: v.startswith(("ws://", "wss://"))),
    ("dial", "peer"): text(lambda v: v == "" or name(v)),
    ("dial", "insecure"): BOOL,
    ("dial", "ca_file"): text(file),
    ("dial", "password_file"): text(file),
    ("dial", "proxy"): STR,
    ("tcp.tunnel", "name"): text(name),
    ("tcp.tunnel", "peer"): text(name),
    ("tcp.tunnel", "listen"): text(tcp_address),
    ("ha.group", "name"): text(lambda v: name(v) and v not in ("a", "b")),
    ("ha.group", "members"): strings(name),
    ("ha.group", "preempt"): BOOL,
    ("ha.group", "standby_close"): seconds(zero=True),
    ("switch.port", "kind"): enum("tap", "netdev"),
    ("switch.port", "mtu"): ("int", mtu),
    ("switch.port", "offload"): ("any", loose_bool),
    ("switch.port", "mac"): text(lambda v: v == "" or ":" in v),
}
TOML_TYPES: dict[str, tuple[type, ...]] = {
    "num": (int, float), "int": (int,), "str": (str,), "bool": (bool,), "list": (list,),
}  # fmt: skip


def wrong_type(check: Check, value: Any) -> bool:
    kind = check[0]
    if kind == "any":
        return False
    if isinstance(value, bool):
        return kind != "bool"
    return not isinstance(value, TOML_TYPES[kind])


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
ANY_VALUE = st.one_of(
    _text,
    st.sampled_from(["", " ", "x", "/nonexistent/file", "nan", "-1", "0", "a" * 300]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([-1, 0, 1, 65536, 70000, 2**31, 2**40 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -0.0, 0.5]),
    st.booleans(),
    st.lists(st.one_of(st.integers(), _text, st.booleans()), max_size=3),
    st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.integers(), max_size=2),
)


def with_value(where: str, key: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    if where in ENTRIES:
        entry = {**ENTRIES[where], key: value}
        *parents, last = where.split(".")
        table = raw
        for part in parents:
            table = table.setdefault(part, {})
        table[last] = [entry]
    else:
        table = raw
        for part in where.split("."):
            table = table.setdefault(part, {})
        table[key] = value
    return raw


def run_in_process(text: str, flags: dict[str, Any] | None = None) -> str:
    """The error `wsnet run` would print for this file (after 'wsnet: error: '), or ''."""
    from wsnet.config import check_dial_schemes
    from wsnet.startup import RunOptions, prepare

    path = TMP / "case.toml"
    path.write_text(text, encoding="utf-8")
    opts = RunOptions(config=path, **(flags or {}))
    try:
        cfg, plugins = prepare(opts)
        node = Node(cfg, plugins)  # plugins register ports, transports: more checks
        check_dial_schemes(cfg, node.transports)
    except ConfigError as exc:
        return str(exc)
    return ""


def assert_one_clean_line(message: str, source: str) -> None:
    assert message, "accepted"
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(f"{source}: "), message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(sorted(KEYS)), value=ANY_VALUE)
def test_every_key_refuses_wrong_values_with_one_line(case: tuple[str, str], value: Any) -> None:
    check = KEYS[case]
    if not wrong_type(check, value) and check[1](value):
        return  # could be valid: not this test's business
    message = run_in_process(tomlw.dumps(with_value(*case, value)))
    assert_one_clean_line(message, str(TMP / "case.toml"))
    if wrong_type(check, value):
        assert case[1] in message, message


KNOWN = {s: {k for (w, k) in KEYS if w == s} for (s, _) in KEYS}
KNOWN["listen"] |= {"tls_key"}
KNOWN["control"] |= {"tls_cert"}
KNOWN["authz"] |= {"principal"}
KNOWN["tcp"] |= {"tunnel"}
KNOWN["log"] |= {"levels"}
KNOWN["switch"] |= {"port"}
KNOWN["ha"] = {"group"}
KNOWN["keepalive"] |= set()


@settings(max_examples=100, deadline=None)
@given(
    section=st.sampled_from(["node", "listen", "control", "keepalive", "reconnect", "limits",
                             "authz", "switch", "tcp", "ha", "log", "auth_htpasswd"]),
    key=st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True),
    value=ANY_VALUE,
)  # fmt: skip
def test_unknown_keys_are_named(section: str, key: str, value: Any) -> None:
    if key in KNOWN[section]:
        return
    message = run_in_process(tomlw.dumps(with_value(section, key, value)))
    assert_one_clean_line(message, str(TMP / "case.toml"))
    assert key in message, message


FLAGS: dict[str, Callable[[str], bool]] = {
    "ctl_port": lambda v: v.strip().isascii() and v.strip().isdigit() and int(v) <= 65535,
    "path": lambda v: v.startswith("/"),
    "name": name,
    "listen": lambda v: v == "none" or (port_text(v.rpartition(":")[2]) and ":" in v),
    "dial": lambda v: v.startswith(("ws://", "wss://")),
}


@settings(max_examples=150, deadline=None)
@given(flag=st.sampled_from(sorted(FLAGS)), value=_text)
def test_flags_refuse_wrong_values_with_one_line(flag: str, value: str) -> None:
    if FLAGS[flag](value):
        return
    message = run_in_process("", {flag: [value] if flag == "dial" else value})
    assert_one_clean_line(message, "command line")
    assert f"--{flag.replace('_', '-')}" in message, message


# ---------------------------------------------------------------- real processes


def wsnet_run(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "wsnet", "run", "--listen", "none", "--ctl-port", "0"]
    try:
        return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"wsnet run {' '.join(args)} started instead of refusing")


def assert_refused(res: subprocess.CompletedProcess[str], source: str) -> None:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"wsnet: error: {source}: "), res.stderr


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(sorted(KEYS)), value=ANY_VALUE)
def test_wsnet_run_refuses_wrong_values(case: tuple[str, str], value: Any) -> None:
    check = KEYS[case]
    if not wrong_type(check, value) and check[1](value):
        return
    path = TMP / "proc.toml"
    path.write_text(tomlw.dumps(with_value(*case, value)), encoding="utf-8")
    assert_refused(wsnet_run("--config", str(path)), str(path))


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [("keepalive", "interval", math.nan), ("keepalive", "timeout", math.inf),
     ("reconnect", "max", -math.inf), ("node", "shutdown_grace", math.nan),
     ("tcp", "connect_timeout", math.nan), ("switch.port", "mtu", math.inf)],
)  # fmt: skip
def test_wsnet_run_refuses_nan_and_inf(where: str, key: str, value: float) -> None:
    """nan turned keepalive off (every comparison with nan is false) and started the node."""
    path = TMP / f"{where}-{key}.toml"
    path.write_text(tomlw.dumps(with_value(where, key, value)), encoding="utf-8")
    assert_refused(wsnet_run("--config", str(path)), str(path))
