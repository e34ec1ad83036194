"""Configuration parsing: typed values, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wsnet.config import (
    DIAL_OPTIONS,
    Config,
    ControlConfig,
    DialConfig,
    ListenConfig,
    ReconnectConfig,
    Section,
    host_port,
    is_loopback,
    iter_sections,
    load_file,
    parse,
)
from wsnet.errors import ConfigError
from wsnet.protocol import Keepalive, Limits

SRC = "cfg.toml"


def refused(raw: dict[str, Any]) -> str:
    """Parse ``raw`` expecting a ConfigError; return its text."""
    with pytest.raises(ConfigError) as info:
        parse(raw, SRC)
    text = str(info.value)
    assert text.startswith(f"{SRC}: "), text  # every error names the file first
    return text


# --------------------------------------------------------------------- valid


def test_empty_config_gives_loopback_defaults() -> None:
    cfg = parse({}, SRC)
    assert cfg.source == SRC
    assert cfg.name == "wsnet"
    assert cfg.plugins is None
    assert cfg.listen == ListenConfig("127.0.0.1", 7860, "/wsnet")
    assert cfg.dial == []
    assert cfg.control == ControlConfig("127.0.0.1", 7867, True)
    assert cfg.keepalive == Keepalive()
    assert cfg.reconnect == ReconnectConfig()
    assert cfg.limits == Limits()


def test_full_valid_config() -> None:
    raw = {
        "node": {"name": "west-1", "plugins": ["tcp", "switch"]},
        "listen": {"host": "0.0.0.0", "port": 8443, "path": "/ws"},
        "dial": [
            {"url": "wss://east:443/ws", "peer": "east", "insecure": True},
            {"url": "ws://127.0.0.1:7860/wsnet"},
        ],
        "control": {"host": "::1", "port": 9000, "enabled": False},
        "keepalive": {"interval": 0.5, "timeout": 3, "hello_timeout": 5},
        "reconnect": {"initial": 1, "max": 30.5, "factor": 1.5},
        "limits": {
            "window": 65536,
            "max_frame": 16384,
            "max_message": 65536,
            "max_channels": 10,
            "datagram_backlog": 0,
        },
        "tcp": {"anything": "left for the plugin"},
    }
    cfg = parse(raw, SRC)
    assert cfg.name == "west-1"
    assert cfg.plugins == ["tcp", "switch"]
    assert cfg.listen == ListenConfig("0.0.0.0", 8443, "/ws")
    assert cfg.dial == [
        DialConfig("wss://east:443/ws", "east", {"insecure": True}),
        DialConfig("ws://127.0.0.1:7860/wsnet", "", {}),
    ]
    assert cfg.control == ControlConfig("::1", 9000, False)
    assert cfg.keepalive == Keepalive(0.5, 3.0, 5.0)
    assert isinstance(cfg.keepalive.timeout, float)
    assert cfg.reconnect == ReconnectConfig(1.0, 30.5, 1.5)
    assert cfg.limits == Limits(
        window=65536, max_frame=16384, max_message=65536, max_channels=10, datagram_backlog=0
    )
    assert list(iter_sections(raw)) == ["tcp"]
    assert cfg.section("tcp").get_str("anything") == "left for the plugin"


def test_listen_can_be_disabled() -> None:
    assert parse({"listen": {"enabled": False}}, SRC).listen is None


def test_default_max_message_grows_with_max_frame() -> None:
    limits = parse({"limits": {"max_frame": 4 << 20}}, SRC).limits
    assert limits.max_frame == 4 << 20
    assert limits.max_message == (4 << 20) + 4096


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.9.9", "::1", "localhost"])
def test_loopback_control_hosts(host: str) -> None:
    assert parse({"control": {"host": host}}, SRC).control.host == host


def test_remote_control_host_with_allow_remote() -> None:
    cfg = parse({"control": {"host": "0.0.0.0", "allow_remote": True}}, SRC)
    assert cfg.control.host == "0.0.0.0"


# ------------------------------------------------------------------- invalid


@pytest.mark.parametrize(
    ("raw", "key", "detail"),
    [
        (
            {"listen": {"port": 70000}},
            "[listen] port",
            "expected an integer in 0..65535, got 70000",
        ),
        ({"listen": {"port": -1}}, "[listen] port", "got -1"),
        ({"listen": {"port": "80"}}, "[listen] port", "got '80'"),
        ({"listen": {"port": True}}, "[listen] port", "got True"),
        ({"listen": {"host": 1}}, "[listen] host", "expected a string, got 1"),
        ({"listen": {"path": "ws"}}, "[listen] path", "starting with '/'"),
        ({"listen": {"enabled": "no"}}, "[listen] enabled", "expected true or false"),
        ({"node": {"name": "bad name"}}, "[node] name", "got 'bad name'"),
        ({"node": {"name": ""}}, "[node] name", "got ''"),
        ({"node": {"plugins": "tcp"}}, "[node] plugins", "expected a list of strings"),
        ({"node": {"plugins": ["tcp", 2]}}, "[node] plugins", "expected a list of strings"),
        ({"dial": [{}]}, "[[dial]] #1 url", "required key missing"),
        ({"dial": [{"url": "ws://a"}, {"url": "east"}]}, "[[dial]] #2 url", "ws:// or wss://"),
        ({"dial": [{"url": "ws://a", "peer": 3}]}, "[[dial]] #1 peer", "expected a string"),
        ({"dial": ["ws://a"]}, "dial", "entry #1: expected a table"),
        ({"dial": {"url": "ws://a"}}, "[dial]", "expected an array of tables ([[dial]])"),
        ({"control": {"port": 65536}}, "[control] port", "0..65535"),
        ({"keepalive": {"interval": 0}}, "[keepalive] interval", "expected seconds > 0"),
        ({"keepalive": {"interval": "1"}}, "[keepalive] interval", "expected a number"),
        ({"keepalive": {"hello_timeout": -1}}, "[keepalive] hello_timeout", "> 0"),
        ({"reconnect": {"initial": 5, "max": 1}}, "[reconnect] max", "at least initial (5.0)"),
        ({"reconnect": {"factor": 1}}, "[reconnect] factor", "> 1 and <= 100, got 1"),
        ({"limits": {"window": 10}}, "[limits] window", "1024..2147483647"),
        ({"limits": {"window": 2**31}}, "[limits] window", "1024..2147483647"),
        ({"limits": {"max_frame": 1 << 30}}, "[limits] max_frame", "1024..16777216"),
        ({"limits": {"max_channels": 0}}, "[limits] max_channels", "1..1048576"),
        ({"limits": {"datagram_backlog": -1}}, "[limits] datagram_backlog", "0..1073741824"),
        (
            {"limits": {"max_frame": 8192, "max_message": 4096}},
            "[limits] max_message",
            "must hold at least one max_frame frame",
        ),
    ],
)
def test_error_names_file_and_key(raw: dict[str, Any], key: str, detail: str) -> None:
    text = refused(raw)
    assert text.startswith(f"{SRC}: {key}: "), text
    assert detail in text


@pytest.mark.parametrize("section", ["node", "listen", "control", "keepalive", "reconnect"])
def test_core_section_must_be_a_table(section: str) -> None:
    assert refused({section: 5}) == f"{SRC}: [{section}]: expected a table, got 5"


@pytest.mark.parametrize(
    ("section", "known"),
    [
        (
            "listen",
            "allow_anonymous, enabled, handshake_timeout, host, max_pending, "
            "max_pending_per_source, path, port, tls_cert, tls_key",
        ),
        ("node", "name, plugins, shutdown_grace"),
        (
            "control",
            "allow_file_options, allow_remote, enabled, host, htpasswd, max_pending, "
            "max_pending_per_source, port, request_timeout, tls_cert, tls_key",
        ),
        ("keepalive", "hello_timeout, interval, timeout"),
        ("reconnect", "factor, initial, max"),
        (
            "limits",
            "control_backlog, datagram_backlog, link_buffer, max_channels, "
            "max_channels_per_source, max_frame, max_message, max_routes, max_window, "
            "route_interval, send_buffer, window, "
            "window_budget",
        ),
    ],
)
def test_unknown_key_rejected_listing_known_keys(section: str, known: str) -> None:
    text = refused({section: {"bogus_key": 1}})
    assert text == f"{SRC}: [{section}] bogus_key: unknown key (known keys here: {known})"


def test_keepalive_timeout_must_exceed_interval() -> None:
    text = refused({"keepalive": {"interval": 2, "timeout": 2}})
    assert text == f"{SRC}: [keepalive] timeout: expected more than interval (2.0), got 2.0"
    assert "[keepalive] timeout" in refused({"keepalive": {"interval": 5}})  # default 4 < 5
    assert parse({"keepalive": {"interval": 2, "timeout": 2.1}}, SRC).keepalive.timeout == 2.1


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.org"])
def test_non_loopback_control_host_refused(host: str) -> None:
    text = refused({"control": {"host": host}})
    assert text.startswith(f"{SRC}: [control] host: {host!r} is not a loopback address")
    assert "allow_remote = true" in text


def test_node_name_with_trailing_newline_refused() -> None:
    refused({"node": {"name": "west\n"}})


def test_disabled_listen_keeps_its_other_keys() -> None:
    assert parse({"listen": {"enabled": False, "port": 9000}}, SRC).listen is None


# --------------------------------------------------------------- unclaimed


def test_check_unclaimed_rejects_section_nobody_reads() -> None:
    cfg = parse({"tunels": {"x": 1}}, SRC)
    with pytest.raises(ConfigError) as info:
        cfg.check_unclaimed(["tcp"], ["tcp", "switch"])
    assert str(info.value) == (
        f"{SRC}: [tunels]: no loaded plugin uses this section (loaded: tcp; installed: tcp, switch)"
    )


def test_check_unclaimed_accepts_claimed_sections_and_says_none() -> None:
    cfg = parse({"tcp": {"x": 1}, "other": {}}, SRC)
    cfg.section("tcp")
    with pytest.raises(ConfigError, match=r"loaded: none; installed: none"):
        cfg.check_unclaimed([], [])
    cfg.section("other")
    cfg.check_unclaimed([], [])


def test_check_unclaimed_rejects_unknown_dial_option() -> None:
    cfg = parse(
        {"dial": [{"url": "ws://a", "insecure": True}, {"url": "ws://b", "cafile": "x"}]}, SRC
    )
    with pytest.raises(ConfigError) as info:
        cfg.check_unclaimed([], [])
    text = str(info.value)
    assert text.startswith(f"{SRC}: [[dial]] #2 cafile: unknown key (known keys here: ")
    for known in sorted(DIAL_OPTIONS | {"url", "peer"}):
        assert known in text


def test_plugin_section_that_is_not_a_table() -> None:
    cfg = parse({"tcp": 3}, SRC)
    with pytest.raises(ConfigError) as info:
        cfg.section("tcp")
    assert str(info.value) == f"{SRC}: tcp: expected a table [tcp], got 3"


# ----------------------------------------------------------- Section helpers


def test_section_getters_and_done_for_plugins() -> None:
    s = Config(source=SRC, raw={"p": {"n": 3, "f": 2, "names": ["a"], "sub": {"k": "v"}}}).section(
        "p"
    )
    assert s.get_int("n", lo=1, hi=5) == 3
    assert s.get_float("f") == 2.0
    assert s.get_str_list("names") == ["a"]
    assert s.get_str("absent", "dflt") == "dflt"
    sub = s.table("sub")
    assert sub.path == "[p].sub"
    assert sub.get_str("k") == "v"
    sub.done()
    s.done()
    with pytest.raises(
        ConfigError, match=r"^cfg\.toml: \[p\] n: expected an integer in 6\.\.9, got 3$"
    ):
        s.get_int("n", lo=6, hi=9)
    with pytest.raises(ConfigError, match=r"^cfg\.toml: \[p\] missing: required key missing"):
        s.get_bool("missing")
    with pytest.raises(ConfigError, match=r"^cfg\.toml: \[p\]\.sub k: expected an integer"):
        sub.get_int("k")


def test_host_port() -> None:
    s = Section({}, SRC, "[tcp]")
    assert host_port(s, "listen", "0.0.0.0:80") == ("0.0.0.0", 80)
    assert host_port(s, "listen", "[::1]:8080") == ("::1", 8080)
    assert host_port(s, "listen", ":22") == ("127.0.0.1", 22)
    for bad in ("host", "host:0", "host:65536", "host:http"):
        with pytest.raises(ConfigError) as info:
            host_port(s, "listen", bad)
        assert str(info.value).startswith(f"{SRC}: [tcp] listen: expected HOST:PORT")


def test_is_loopback() -> None:
    assert is_loopback("localhost") and is_loopback("127.0.0.53") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


# ---------------------------------------------------------------- load_file


def test_load_file_reads_toml(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text('[node]\nname = "west"\n\n[[dial]]\nurl = "ws://east"\n')
    raw = load_file(path)
    assert raw == {"node": {"name": "west"}, "dial": [{"url": "ws://east"}]}
    assert parse(raw, str(path)).name == "west"


def test_load_file_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[node\nname = 1\n")
    with pytest.raises(ConfigError) as info:
        load_file(path)
    text = str(info.value)
    assert text.startswith(f"{path}: -: not valid TOML: ")
    assert info.value.source == str(path)
    assert "line 1" in text  # tomllib's position helps the person fix it


def test_load_file_missing_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert str(info.value) == f"{path}: -: cannot read: No such file or directory"


def test_error_from_a_loaded_file_names_that_file(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text("[listen]\nport = 99999\n")
    with pytest.raises(ConfigError) as info:
        parse(load_file(path), str(path))
    assert str(info.value).startswith(f"{path}: [listen] port: ")
    assert info.value.key == "[listen] port"
