"""The deadlines and caps before trust: defaults, and bad values refused at start-up."""

from __future__ import annotations

from typing import Any

import pytest

from wsnet.config import Section, parse
from wsnet.errors import ConfigError
from wsnet.listener_guard import source_key
from wsnet.transport.ws.checks import check_section


def test_defaults_are_the_documented_ones() -> None:
    cfg = parse({}, "cfg.toml")
    assert cfg.listen is not None
    assert (cfg.listen.handshake_timeout, cfg.listen.max_pending,
            cfg.listen.max_pending_per_source) == (10.0, 1024, 64)  # fmt: skip
    assert (cfg.control.request_timeout, cfg.control.max_pending,
            cfg.control.max_pending_per_source) == (10.0, 1024, 64)  # fmt: skip


def test_values_are_taken() -> None:
    cfg = parse({"listen": {"handshake_timeout": 2, "max_pending": 10,
                            "max_pending_per_source": 3},
                 "control": {"request_timeout": 0.5}}, "cfg.toml")  # fmt: skip
    assert cfg.listen is not None
    assert (cfg.listen.handshake_timeout, cfg.listen.max_pending,
            cfg.listen.max_pending_per_source) == (2.0, 10, 3)  # fmt: skip
    assert cfg.control.request_timeout == 0.5


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("listen", "handshake_timeout", 0),
        ("listen", "handshake_timeout", -1.0),
        ("listen", "handshake_timeout", float("nan")),
        ("listen", "handshake_timeout", float("inf")),
        ("listen", "handshake_timeout", "10"),
        ("listen", "max_pending", 0),
        ("listen", "max_pending_per_source", 0),
        ("listen", "max_pending_per_source", 1.5),
        ("control", "request_timeout", float("nan")),
        ("control", "request_timeout", 0),
        ("control", "max_pending", -3),
    ],
)
def test_bad_values_name_the_key(section: str, key: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse({section: {key: value}}, "cfg.toml")
    assert str(info.value).startswith(f"cfg.toml: [{section}] {key}: expected"), info.value


@pytest.mark.parametrize("value", [0, -2, float("nan"), float("inf"), "5"])
def test_dial_handshake_timeout_is_checked(value: Any) -> None:
    section = Section({"handshake_timeout": value}, "cfg.toml", "[[dial]] #1")
    with pytest.raises(ConfigError) as info:
        check_section(section)
    assert "[[dial]] #1 handshake_timeout: expected" in str(info.value)


def test_dial_handshake_timeout_is_a_known_option() -> None:
    import wsnet.transport.ws.plugin  # noqa: F401  (its import makes the keys known)

    cfg = parse({"dial": [{"url": "ws://x:1/wsnet", "handshake_timeout": 3}]}, "cfg.toml")
    check_section(Section(cfg.dial[0].options, "cfg.toml", "[[dial]] #1"))
    cfg.check_unclaimed([], [])


@pytest.mark.parametrize(
    ("addr", "key"),
    [
        (("127.0.0.2", 5), "127.0.0.2"),
        (("::ffff:10.1.2.3", 5, 0, 0), "10.1.2.3"),
        (("2001:db8:1:2:aaaa::1", 5, 0, 0), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:bbbb::9", 5, 0, 0), "2001:db8:1:2::/64"),
        (("fe80::1%eth0", 5, 0, 2), "fe80::/64"),
    ],
)
def test_per_source_caps_count_ipv4_addresses_and_ipv6_64s(addr: Any, key: str) -> None:
    assert source_key(addr) == key
