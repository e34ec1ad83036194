"""Address allowlists (wsnet.addresses): property tests with Python's ``ipaddress`` as the
oracle, and the spellings that text globs got wrong (issue 13, item 5)."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsnet import Allowlist, normalize_ip, parse_ip, resolve
from wsnet.authz import policy_from

V4_ADDR = st.integers(0, 2**32 - 1).map(IPv4Address)
V6_ADDR = st.integers(0, 2**128 - 1).map(IPv6Address)
PORT = st.integers(1, 65535)
ZONE = st.sampled_from(["", "%eth0", "%1"])


@st.composite
def v4_nets(draw: st.DrawFn) -> IPv4Network:
    return IPv4Network((draw(V4_ADDR), draw(st.integers(0, 32))), strict=False)


@st.composite
def v6_nets(draw: st.DrawFn) -> IPv6Network:
    """IPv6 networks that are not IPv4 in disguise (mapped or compatible ranges)."""
    net = IPv6Network((draw(V6_ADDR), draw(st.integers(0, 128))), strict=False)
    mapped, compat = IPv6Network("::ffff:0:0/96"), IPv6Network("::/96")
    return net.supernet(new_prefix=64) if net.subnet_of(mapped) or net.subnet_of(compat) else net


def v4_spellings(a: IPv4Address, zone: str) -> list[str]:
    """The ways a target can name an IPv4 address: plain, IPv4-mapped, IPv4-compatible."""
    out = [str(a), f"::ffff:{a}{zone}", IPv6Address(int(a) | 0xFFFF << 32).exploded + zone]
    if int(a) > 1:  # ::0.0.0.1 is ::1, the IPv6 loopback, not 0.0.0.1
        out.append(f"::{a}{zone}")
    return out


def target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@settings(max_examples=300, deadline=None)
@given(v4_nets(), V4_ADDR, ZONE, PORT)
def test_ipv4_rule_against_every_spelling_of_an_ipv4_target(
    net: IPv4Network, a: IPv4Address, zone: str, port: int
) -> None:
    expected = a in net
    mapped_net = f"[::ffff:{net.network_address}/{96 + net.prefixlen}]:*"
    for entry in (f"{net}:*", str(net), f"{net.with_netmask}:{port}", mapped_net):
        allowlist = Allowlist.parse([entry])
        for spelling in v4_spellings(a, zone):
            assert allowlist.allows_target(target(spelling, port)) is expected, (entry, spelling)
            assert allowlist.allows(port, parse_ip(spelling)) is expected


@settings(max_examples=300, deadline=None)
@given(v6_nets(), V6_ADDR, ZONE, PORT)
def test_ipv6_rule_against_ipv6_targets(
    net: IPv6Network, a: IPv6Address, zone: str, port: int
) -> None:
    if normalize_ip(a).version == 4:  # an IPv4 address in IPv6 clothes: the test above
        return
    expected = a in net
    for entry in (f"[{net}]:*", str(net), f"[{net.exploded}]:{port}"):
        allowlist = Allowlist.parse([entry])
        assert allowlist.allows_target(target(f"{a}{zone}", port)) is expected, entry
        assert allowlist.allows_target(target(a.exploded + zone, port)) is expected, entry


@settings(max_examples=200, deadline=None)
@given(v6_nets(), V4_ADDR, ZONE, PORT)
def test_an_ipv4_target_never_matches_an_ipv6_rule(
    net: IPv6Network, a: IPv4Address, zone: str, port: int
) -> None:
    allowlist = Allowlist.parse([f"[{net}]:*"])
    assert not any(allowlist.allows_target(target(s, port)) for s in v4_spellings(a, zone))


@settings(max_examples=300, deadline=None)
@given(PORT, PORT, PORT, V4_ADDR)
def test_port_ranges(x: int, y: int, port: int, a: IPv4Address) -> None:
    lo, hi = min(x, y), max(x, y)
    for entry in (f"{a}:{lo}-{hi}", f"*:{lo}-{hi}", f"[::ffff:{a}]:{lo}-{hi}"):
        assert Allowlist.parse([entry]).allows_target(target(str(a), port)) is (lo <= port <= hi)
    assert Allowlist.parse([f"{a}:{port}"]).allows_target(target(str(a), port))
    assert Allowlist.parse([f"{a}"]).allows_target(target(str(a), port))  # no port: every port


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\A[a-z][a-z0-9-]{0,10}[a-z](\.[a-z][a-z0-9]{0,5}){1,3}\Z"), PORT)
def test_a_name_never_matches_an_address_rule(name: str, port: int) -> None:
    addresses = Allowlist.parse(["0.0.0.0/0", "::/0"])
    assert not addresses.allows_target(f"{name}:{port}")
    assert Allowlist.parse([f"{name.upper()}.:{port}"]).allows_target(f"{name}.:{port}")
    assert Allowlist.parse([f"*.{name}"]).allows_target(f"x.{name}:{port}")
    assert not Allowlist.parse([f"*.{name}"]).allows_target(f"{name}:{port}")
    assert Allowlist.parse(["*"]).allows_target(f"{name}:{port}")


# ---- item 5's spellings, one by one


def test_bracketed_ipv6_with_any_port() -> None:
    rule = Allowlist.parse(["[::1]:*"])
    assert rule.allows_target("[::1]:22") and rule.allows_target("[0:0::1%lo]:65535")
    assert not rule.allows_target("[::2]:22") and not rule.allows_target("127.0.0.1:22")
    assert not rule.allows_target("[:]:22") and not rule.allows_target(":1]:22")


def test_exact_ipv6_rule_matches_the_same_target() -> None:
    rule = Allowlist.parse(["[::1]:22"])
    assert rule.allows_target("[::1]:22")
    assert not rule.allows_target("[::1]:23")


def test_an_ipv4_glob_is_refused_with_the_cidr_to_write() -> None:
    with pytest.raises(ValueError, match=r"entry #2 '127\.0\.1\.\*:\*'.*write 127\.0\.1\.0/24:\*"):
        Allowlist.parse(["127.0.0.1:*", "127.0.1.*:*"])


def test_a_dns_name_that_looks_like_an_address_is_a_name() -> None:
    rule = Allowlist.parse(["127.0.1.0/24:*"])
    assert rule.allows_target("127.0.1.5:80")
    assert not rule.allows_target("127.0.1.5.example:80")
    # ... and it reaches a rule only through the address it resolves to: here, none.
    with pytest.raises(socket.gaierror):
        asyncio.run(asyncio.wait_for(resolve("127.0.1.5.example", 80), 30))


def test_a_mapped_address_is_its_ipv4_address() -> None:
    assert Allowlist.parse(["127.0.0.1:*"]).allows_target("[::ffff:127.0.0.1]:22")
    assert not Allowlist.parse(["10.0.0.0/8"]).allows_target("[::ffff:127.0.0.1]:22")
    assert not Allowlist.parse(["::/0"]).allows_target("[::ffff:127.0.0.1]:22")
    assert not Allowlist.parse(["[::ffff:10.0.0.0/104]"]).allows_target("127.0.0.1:22")
    assert Allowlist.parse(["::ffff:127.0.0.1"]).allows_target("127.0.0.1:22")


def test_old_spellings_that_still_mean_the_same() -> None:
    rules = Allowlist.parse(["127.0.0.1:*", "localhost:22", "*:443"])
    assert rules.allows_target("127.0.0.1:5") and rules.allows_target("LOCALHOST:22")
    assert rules.allows_target("example.org:443") and not rules.allows_target("localhost:23")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("10.0.0.1/8", "host bits set: write 10.0.0.0/8"),
        ("10.*.*.*:80", "write 10.0.0.0/8:80"),
        ("a*b.example", "write an address, a CIDR network"),
        ("::10.0.0.0/120", "IPv4-compatible range: write 10.0.0.0/24"),
        ("host:0", "ports are 1..65535"),
        ("host:9-8", "N <= M"),
        ("host:ssh", "PORT is a number, N-M or *"),
        ("[::1", "expected [ADDRESS] or [ADDRESS]:PORT"),
        ("22", "neither an IP address nor a host name"),
        ("a b:1", "without spaces"),
    ],
)
def test_bad_entries_name_themselves(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match="entry #1 ") as info:
        Allowlist.parse([entry])
    assert repr(entry) in str(info.value) and message in str(info.value)


def test_resolve_once_gives_the_name_and_normalised_addresses() -> None:
    found = asyncio.run(resolve("LocalHost", 22))
    infos = socket.getaddrinfo("localhost", 22, type=socket.SOCK_STREAM)
    expected = {normalize_ip(ip_address(str(i[4][0]))) for i in infos}
    assert found.name == "localhost" and set(found.addresses) == expected
    literal = asyncio.run(resolve("::ffff:127.0.0.1", 22))
    assert literal.name == "" and literal.addresses == (IPv4Address("127.0.0.1"),)


def test_authz_connect_grants() -> None:
    grants = ["10.0.0.0/8:22", "db.internal:5432", "[fd00::/8]:8000-8099"]
    policy = policy_from("allow", {"alice": {"open": ["tcp:web"], "connect": grants}})
    assert policy.check("alice", "connect", "10.1.2.3:22") is None
    assert policy.check("alice", "connect", "[::ffff:10.1.2.3]:22") is None
    assert policy.check("alice", "connect", "DB.internal.:5432") is None
    assert policy.check("alice", "connect", "[fd12::1]:8050") is None
    for denied in ("10.1.2.3:23", "11.0.0.1:22", "10.1.2.3.example:22", "db.internal:22", "x"):
        assert "connect allows 10.0.0.0/8:22" in (policy.check("alice", "connect", denied) or "")
    assert policy.check("bob", "connect", "11.0.0.1:22") is None  # unlisted, default allow
    assert policy.check("alice", "open", "10.1.2.3:22") is not None  # connect is its own action
