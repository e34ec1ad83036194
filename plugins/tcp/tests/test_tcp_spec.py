"""wsnet-tcp's pure parts: tunnel specs, `wsnet tcp forward` syntax (target allowlists:
test_addresses.py)."""

from __future__ import annotations

import pytest

from wsnet_tcp.spec import (
    Address,
    SpecError,
    make_spec,
    parse_address,
    parse_forward,
)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [("8022", "127.0.0.1", 8022), ("0.0.0.0:80", "0.0.0.0", 80), ("[::1]:443", "::1", 443),
     ("localhost:1", "localhost", 1)],
)  # fmt: skip
def test_addresses(text: str, host: str, port: int) -> None:
    assert parse_address(text) == Address(host, port)


@pytest.mark.parametrize(
    ("text", "message"),
    [("host", "expected HOST:PORT"), ("h:0", "port 1..65535"), ("h:65536", "port 1..65535"),
     ("::1:80", "in brackets"), ("[::1:80", "[IPv6]:PORT"), (":80", "expected HOST:PORT")],
)  # fmt: skip
def test_bad_addresses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_address(text)


def test_forward_forms() -> None:
    named = parse_forward("8022=ssh@nodeB")
    assert (named.name, named.peer, str(named.address), named.target) == (
        "ssh", "nodeB", "127.0.0.1:8022", None)  # fmt: skip
    port_only = parse_forward("8022=ssh@nodeB:22")
    assert port_only.target == Address("127.0.0.1", 22)
    full = parse_forward("0.0.0.0:8080=web@hub:10.0.0.5:80")
    assert full.address == Address("0.0.0.0", 8080)
    assert full.target == Address("10.0.0.5", 80)
    assert parse_forward("[::1]:9=x@n:[::1]:10").target == Address("::1", 10)


@pytest.mark.parametrize("text", ["8022", "8022=ssh", "=ssh@b", "8022=@b", "x=ssh@b"])
def test_bad_forward(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message differs per form
        parse_forward(text)


@pytest.mark.parametrize(
    ("keys", "key", "message"),
    [({"name": "a b", "listen": "1"}, "name", "tunnel names"),
     ({"name": "t"}, "listen", "exactly one of"),
     ({"name": "t", "listen": "1", "connect": "h:2"}, "listen", "exactly one of"),
     ({"name": "t", "listen": "1"}, "peer", "needs peer"),
     ({"name": "t", "connect": "h:2", "peer": "b"}, "peer", "belongs to listen"),
     ({"name": "t", "listen": "99999", "peer": "b"}, "listen", "port 1..65535"),
     ({"name": "t", "listen": "1", "peer": "b", "target": "x"}, "target", "HOST:PORT")],
)  # fmt: skip
def test_spec_errors_name_the_key(keys: dict[str, str], key: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as err:
        make_spec(**keys)
    assert err.value.key == key
