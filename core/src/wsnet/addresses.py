"""Address allowlists: which (IP address, port) or host name a node may connect to.

Used by ``[tcp] targets`` and by ``[authz.principal.NAME] connect``.  Entries are parsed
into ``ipaddress`` networks, host names and port ranges, never matched as text, so that
``[::1]:22`` matches the target ``[::1]:22`` and ``127.0.1.0/24`` never matches the name
``127.0.1.5.example``.  Pure logic, except ``resolve`` (one ``getaddrinfo``).

Entry syntax (``PORTS`` is ``N``, ``N-M`` or ``*``, 1..65535; without it, every port)::

    HOST[:PORTS]            10.0.0.5:22   10.0.0.0/8:*   *:443   db.internal:5432
    [IPV6 or CIDR][:PORTS]  [::1]:22   [fd00::/8]:8000-8099   [::1]
    IPV6 or CIDR            fd00::/8   ::1     (bare IPv6 has no port part: every port)

HOST is an IPv4/IPv6 address, a CIDR network, ``*`` (any address and any name), a DNS
name (``db.internal``: exact, case-insensitive, a trailing dot ignored) or ``*.NAME``
(any name under NAME, not NAME itself).  Addresses are normalised before they are
compared: an IPv6 zone (``%eth0``) is dropped, and IPv4-mapped (``::ffff:a.b.c.d``) and
IPv4-compatible (``::a.b.c.d``) addresses are the IPv4 address they carry, in entries
and in targets alike, so a mapped target cannot slip past an IPv4 rule.

Names and addresses are matched separately: an address entry matches the address a
target resolved to, a name entry the name the target was given as.  The caller resolves
a target once (``resolve``), checks each address, and connects to a checked address.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

ALL_PORTS = (1, 65535)
_MAPPED = IPv6Network("::ffff:0:0/96")
_COMPATIBLE = IPv6Network("::/96")
_LABEL = re.compile(r"\A(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")
_GLOB = set("*?[]")


def normalize_ip(ip: IPAddress) -> IPAddress:
    """Drop an IPv6 zone; an IPv4-mapped or -compatible address is its IPv4 address."""
    if isinstance(ip, IPv4Address):
        return ip
    bare = IPv6Address(int(ip))  # without the scope id
    if bare.ipv4_mapped is not None:
        return bare.ipv4_mapped
    if bare in _COMPATIBLE and int(bare) > 1:  # ::a.b.c.d, but not :: and ::1
        return IPv4Address(int(bare))
    return bare


@lru_cache(maxsize=1024)  # per request (a client's address, an upstream): parsed once
def parse_ip(text: str) -> IPAddress | None:
    """``text`` as a normalised IP address, or None when it is not an address literal."""
    try:
        return normalize_ip(ip_address(text))
    except ValueError:
        return None


def normalize_name(text: str) -> str:
    """A DNS name in lower case without its trailing dot; ValueError when it is not one."""
    name = text.lower().removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{text!r} is not a host name (letters, digits, '-', '_' and dots)")
    if labels[-1].isdigit():  # 127.0.1 or 010.0.0.1: not a name, and not an address
        raise ValueError(f"{text!r} is neither an IP address nor a host name")
    return name


def _ports(text: str) -> tuple[int, int]:
    if text == "*":
        return ALL_PORTS
    lo, sep, hi = text.partition("-")
    if not all(p.isascii() and p.isdigit() for p in (lo, hi if sep else lo)):
        raise ValueError(f"PORT is a number, N-M or *, got {text!r}")
    first, last = int(lo), int(hi if sep else lo)
    if not 0 < first <= last < 65536:
        raise ValueError(f"ports are 1..65535 and N <= M in N-M, got {text!r}")
    return first, last


def _network(text: str) -> IPNetwork:
    """An address or CIDR, normalised; mapped networks become the IPv4 network they map."""
    if "/" not in text:
        ip = normalize_ip(ip_address(text))
        return ip_network(ip)
    try:
        net = ip_network(text)
    except ValueError as exc:
        if "host bits" in str(exc):
            fixed = ip_network(text, strict=False)
            raise ValueError(f"{text} has host bits set: write {fixed}") from None
        raise
    if isinstance(net, IPv6Network) and net.subnet_of(_MAPPED):
        return IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96))
    if isinstance(net, IPv6Network) and net.prefixlen > 96 and net.subnet_of(_COMPATIBLE):
        v4 = IPv4Network((int(net.network_address), net.prefixlen - 96))
        raise ValueError(f"{text} is an IPv4-compatible range: write {v4}")
    return net


def _glob_hint(host: str, suffix: str) -> str:
    """What to write instead of an old fnmatch pattern such as ``10.0.0.*:22``."""
    parts = host.split(".")
    stars = len(parts) - len([p for p in parts if p != "*"])
    fixed = parts[: len(parts) - stars]
    if len(parts) == 4 and 0 < stars < 4 and all(p.isdigit() for p in fixed):
        cidr = ".".join(fixed + ["0"] * stars) + f"/{8 * (4 - stars)}"
        return f"write {cidr}{suffix}"
    return "write an address, a CIDR network (10.0.0.0/24), * or *.DOMAIN"


@dataclass(frozen=True, slots=True)
class Entry:
    """One parsed entry: an address network, a name (``.d.com`` for ``*.d.com``) or any."""

    text: str
    ports: tuple[int, int] = ALL_PORTS
    network: IPNetwork | None = None
    name: str = ""
    any_host: bool = False

    def matches(self, port: int, ip: IPAddress | None = None, name: str = "") -> bool:
        """Does the (normalised) ``ip`` or the (normalised) ``name``, at ``port``, match?"""
        if not self.ports[0] <= port <= self.ports[1]:
            return False
        if self.any_host:
            return True
        if self.network is not None:
            return ip is not None and ip.version == self.network.version and ip in self.network
        if not name or not self.name:
            return False
        return name.endswith(self.name) if self.name.startswith(".") else name == self.name


def _split(text: str) -> tuple[str, str, bool]:
    """(host, ports, bracketed) of an entry."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("expected [ADDRESS] or [ADDRESS]:PORT")
        return host, rest[1:] if rest else "*", True
    if text.count(":") > 1:  # a bare IPv6 address or network: no port part
        return text, "*", True
    host, sep, ports = text.partition(":")
    return host, ports if sep else "*", False


def parse_entry(text: str) -> Entry:
    """One allowlist entry; ValueError says why it is not one."""
    if not text or any(c.isspace() for c in text):
        raise ValueError("expected HOST, HOST:PORT or [IPV6]:PORT without spaces")
    host, port_text, address_only = _split(text)
    if not host:
        raise ValueError("expected HOST before ':PORT'")
    ports = _ports(port_text)
    if host == "*" and not address_only:
        return Entry(text, ports, any_host=True)
    if address_only or "/" in host or parse_ip(host) is not None:
        return Entry(text, ports, network=_network(host))
    wildcard = host.startswith("*.")
    if _GLOB & set(host.removeprefix("*.") if wildcard else host):
        raise ValueError(
            f"{host} is a glob, entries are addresses now: {_glob_hint(host, text[len(host) :])}"
        )
    name = normalize_name(host.removeprefix("*."))
    return Entry(text, ports, name="." + name if wildcard else name)


@dataclass(frozen=True, slots=True)
class Allowlist:
    """Parsed entries; ``allows`` is true when any entry matches."""

    entries: tuple[Entry, ...] = ()

    @classmethod
    def parse(cls, texts: Iterable[str]) -> Allowlist:
        """ValueError names the entry by number and text: ``entry #2 '10.0.0.*': ...``."""
        entries = []
        for i, text in enumerate(texts, 1):
            try:
                entries.append(parse_entry(text))
            except ValueError as exc:
                raise ValueError(f"entry #{i} {text!r}: {exc}") from None
        return cls(tuple(entries))

    def allows(self, port: int, ip: IPAddress | None = None, name: str = "") -> bool:
        ip = normalize_ip(ip) if ip is not None else None
        name = normalize_name(name) if name else ""
        return any(e.matches(port, ip, name) for e in self.entries)

    def allows_target(self, text: str) -> bool:
        """For ``HOST:PORT`` text: an address is matched as an address, a name as a name;
        text that is neither matches nothing (an authorisation check never raises)."""
        try:
            host, port = split_host_port(text)
            ip = parse_ip(host)
            return self.allows(port, ip) if ip is not None else self.allows(port, name=host)
        except ValueError:
            return False

    def __str__(self) -> str:
        return ", ".join(e.text for e in self.entries) or "(none)"


@lru_cache(maxsize=256)
def cached_allowlist(texts: tuple[str, ...]) -> Allowlist:
    """``Allowlist.parse`` for texts already checked at config load, parsed once each."""
    return Allowlist.parse(texts)


def split_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` as (host, port); ValueError otherwise."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write IPv6 addresses in brackets: [{host}]:{port}")
    if not sep or not host or not (port.isascii() and port.isdigit()):
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if not 0 < int(port) < 65536:
        raise ValueError(f"expected a port 1..65535, got {port!r}")
    return host, int(port)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A target host resolved once: the name it was given as ('' for an address literal)
    and its normalised addresses in the resolver's order, without duplicates."""

    name: str
    addresses: tuple[IPAddress, ...]


async def resolve(host: str, port: int) -> Resolved:
    """Resolve ``host`` once.  ValueError for a host that is neither an address nor a
    name; OSError (``socket.gaierror``) when the name does not resolve.  The caller
    bounds the time (``asyncio.wait_for``) and connects only to the addresses it checked."""
    ip = parse_ip(host)
    if ip is not None:
        return Resolved("", (ip,))
    name = normalize_name(host)
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    found = (normalize_ip(ip_address(info[4][0])) for info in infos)
    return Resolved(name, tuple(dict.fromkeys(found)))
