"""Tunnel specifications: what a tunnel is, parsed from config, the control API or a
`wsnet tcp forward` argument.  Pure functions, no I/O, so every rule is unit-tested.

A tunnel has a name and one role on a node:
- ``listen``: accept TCP connections at an address and carry each one as a stream
  channel to ``peer`` (a node name, or a name a plugin resolves, e.g. an HA group);
- ``connect``: channels for this tunnel name that arrive from peers are connected to
  a TCP address.
The same name with a listen role on one node and a connect role on another makes a
tunnel, in whichever direction the link was dialled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")  # \Z: no trailing newline


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TunnelSpec:
    name: str
    role: str  # "listen" or "connect"
    address: Address  # where to listen, or where to connect
    peer: str = ""  # listen role: the node (or group) the connections go to
    target: Address | None = None  # listen role: ask the peer to connect here (ad hoc)

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.role)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "address": str(self.address),
            "peer": self.peer,
            "target": str(self.target) if self.target else "",
        }


class SpecError(ValueError):
    """A bad tunnel key; ``key`` names it so that config errors can point at it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(
            f"tunnel names are 1..63 letters, digits, '_', '.', '-' (not first): got {name!r}"
        )
    return name


def parse_address(text: str, default_host: str = "127.0.0.1") -> Address:
    """HOST:PORT, [V6]:PORT or PORT alone (then on ``default_host``)."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        host, port = default_host, text
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"expected HOST:PORT, got {text!r}")
        if host.startswith("["):
            if not host.endswith("]"):
                raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
            host = host[1:-1]
        elif ":" in host:
            raise ValueError(f"write IPv6 addresses in brackets, [{host}]:{port}")
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"expected a port 1..65535, got {port!r} in {text!r}")
    return Address(host, int(port))


def make_spec(
    name: str, *, listen: str = "", connect: str = "", peer: str = "", target: str = ""
) -> TunnelSpec:
    """One tunnel from its keys; SpecError says which key is wrong and why."""
    try:
        check_name(name)
    except ValueError as exc:
        raise SpecError("name", str(exc)) from None
    if bool(listen) == bool(connect):
        raise SpecError("listen", "give exactly one of listen = HOST:PORT or connect = HOST:PORT")
    if connect:
        if peer or target:
            key = "peer" if peer else "target"
            raise SpecError(key, f"{key} belongs to listen tunnels, not to connect ones")
        return TunnelSpec(name, "connect", _address("connect", connect))
    if not peer:
        raise SpecError("peer", "a listen tunnel needs peer = NODE (where it is connected)")
    if not NAME_RE.match(peer):
        raise SpecError("peer", f"expected a node or HA group name, got {peer!r}")
    return TunnelSpec(
        name, "listen", _address("listen", listen), peer,
        _address("target", target) if target else None,
    )  # fmt: skip


def _address(key: str, text: str) -> Address:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise SpecError(key, str(exc)) from None


# [BIND:]PORT=NAME@NODE[:[HOST:]PORT]
_FORWARD_RE = re.compile(r"^(?P<listen>[^=]+)=(?P<name>[^@]+)@(?P<node>[^:]+)(?::(?P<target>.+))?$")


def parse_forward(text: str) -> TunnelSpec:
    """``wsnet tcp forward`` syntax, ssh -L style.

    ``8022=ssh@nodeB``           listen on 127.0.0.1:8022, tunnel ssh of nodeB;
    ``8022=ssh@nodeB:22``        ... and ask nodeB to connect to its 127.0.0.1:22;
    ``0.0.0.0:8080=web@hub:10.0.0.5:80``  a target NODE allows ([tcp] targets, [authz] connect).
    """
    m = _FORWARD_RE.match(text.strip())
    if m is None:
        raise ValueError(f"expected [BIND:]PORT=NAME@NODE[:[HOST:]PORT], got {text!r}")
    target = m["target"] or ""
    if target and target.isdigit():
        target = f"127.0.0.1:{target}"
    return make_spec(m["name"], listen=m["listen"], peer=m["node"], target=target)
