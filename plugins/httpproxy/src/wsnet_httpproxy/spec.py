"""Listeners and routes: what the proxy serves, parsed from config, the control API or a
`wsnet http expose` argument.  Pure functions, no I/O, so every rule is unit-tested.

A listener is an HTTP(S) server on HOST:PORT of this node.  Each of its routes maps a
path prefix (and optionally a Host name) to an upstream URL that is requested from the
route's exit node: a node name in the routing table (or a name a plugin resolves, such as
an HA group).  The exit node checks the upstream against its own ``[httpproxy] targets``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from yarl import URL

from wsnet import NODE_NAME_RE

NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")  # \Z: no trailing newline
# RFC 3986 pchar and "/": what a route's path prefix may hold.
PATH_RE = re.compile(r"\A/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,1023}\Z")
HOST_RE = re.compile(r"\A[A-Za-z0-9*]([A-Za-z0-9.-]{0,252})\Z")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SpecError(ValueError):
    """A bad listener or route key; ``key`` names it so that config errors point at it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    path: str  # prefix, "/" or "/px" (matches /px and /px/..., not /pxy)
    node: str  # exit node (or a name wsnet_resolve_node maps, e.g. an HA group)
    upstream: str  # http(s)://HOST[:PORT]/PATH requested at the exit node
    host: str = ""  # match only this Host (lower case, no port); "" any
    preserve_host: bool = False  # send the client's Host upstream instead of the upstream's
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_body: int = 0  # request body bytes; 0: no limit
    allow: tuple[Network, ...] = ()  # client networks; empty: every address
    deny: tuple[Network, ...] = ()
    auth: bool = False  # HTTP clients must pass the node's authenticators
    tls_verify: bool = True  # check an https upstream's certificate

    def matches(self, host: str, path: str) -> bool:
        if self.host and self.host != host:
            return False
        if self.path == "/" or path == self.path:
            return True
        prefix = self.path if self.path.endswith("/") else self.path + "/"
        return path.startswith(prefix)

    def upstream_path(self, path: str) -> str:
        """/px/a with path /px and upstream http://h/x is /x/a (west's /px → /x)."""
        rest = path[len(self.path) :] if self.path != "/" else path[1:]
        base = urlsplit(self.upstream).path or "/"
        if not rest:
            return base
        return base.rstrip("/") + "/" + rest.lstrip("/") if base != "/" else "/" + rest.lstrip("/")

    def client_allowed(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if any(ip in net for net in self.deny if net.version == ip.version):
            return False
        return not self.allow or any(ip in n for n in self.allow if n.version == ip.version)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "host": self.host,
            "node": self.node,
            "upstream": self.upstream,
            "preserve_host": self.preserve_host,
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "max_body": self.max_body,
            "allow": [str(n) for n in self.allow],
            "deny": [str(n) for n in self.deny],
            "auth": self.auth,
            "tls_verify": self.tls_verify,
        }


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    host: str
    port: int
    tls_cert: str = ""
    tls_key: str = ""
    routes: tuple[Route, ...] = field(default_factory=tuple)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def with_routes(self, routes: tuple[Route, ...]) -> ListenerSpec:
        return replace(self, routes=routes)


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 as [ADDRESS]:PORT); an empty host is 127.0.0.1."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise SpecError("listen", f"expected HOST:PORT with a port 1..65535, got {text!r}")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise SpecError("listen", f"write an IPv6 address in brackets, [ADDRESS]:PORT: {text!r}")
    if any(c.isspace() or not c.isprintable() for c in host):
        raise SpecError("listen", f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def normalize_path(raw: str) -> str:
    """The path routes are matched on and the upstream is sent: percent-encoded unreserved
    characters decoded and dot segments removed (RFC 3986 §6.2.2, done by yarl), runs of
    slashes merged (as nginx does).  Matching the raw path let ``/pub/../admin``,
    ``//admin`` or ``/%61dmin`` pass a route of its own and then reach ``/admin`` upstream,
    past that route's access lists: after this, what is matched is what is sent."""
    path = URL("http://h" + raw.partition("?")[0]).raw_path or "/"
    return re.sub("/{2,}", "/", path)


def check_upstream(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SpecError("upstream", f"{url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError("upstream", f"expected http://HOST[:PORT]/PATH or https://..., got {url!r}")
    if port == 0 or parts.username or parts.password or parts.query or parts.fragment:
        raise SpecError("upstream", f"expected no port 0, user, query or fragment, got {url!r}")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise SpecError("upstream", f"spaces or control characters in {url!r}")
    return url


def default_name(path: str, host: str) -> str:
    """/px → px, / → root, /a/b → a-b; with a Host, HOST-px."""
    base = "-".join(p for p in path.split("/") if p) or "root"
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", base)
    name = f"{host}-{base}" if host else base
    return name[:63]


def networks(key: str, entries: list[str]) -> tuple[Network, ...]:
    found = []
    for i, entry in enumerate(entries, 1):
        try:
            found.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise SpecError(key, f"entry #{i} {entry!r}: {exc}") from None
    return tuple(found)


def make_route(
    path: str,
    node: str,
    upstream: str,
    *,
    name: str = "",
    host: str = "",
    allow: list[str] | None = None,
    deny: list[str] | None = None,
    **options: Any,
) -> Route:
    """A checked Route; ``options`` are the remaining Route fields, already typed."""
    if not PATH_RE.match(path):
        raise SpecError("path", f"expected a path prefix starting with '/', got {path!r}")
    path = normalize_path(path)  # as requests' paths are, or /a/./b would never match
    if not isinstance(node, str) or not NODE_NAME_RE.match(node):
        raise SpecError("node", f"expected a node name (letters, digits, .-_), got {node!r}")
    check_upstream(upstream)
    host = host.lower()
    if host and not HOST_RE.match(host):
        raise SpecError("host", f"expected a host name without port, got {host!r}")
    name = name or default_name(path, host)
    if not NAME_RE.match(name):
        raise SpecError("name", f"expected 1-63 letters, digits, '.', '_' or '-', got {name!r}")
    max_body = options.get("max_body", 0)
    if max_body < 0:
        raise SpecError("max_body", f"expected bytes >= 0, got {max_body}")
    return Route(
        name=name,
        path=path,
        node=node,
        upstream=upstream,
        host=host,
        allow=networks("allow", allow or []),
        deny=networks("deny", deny or []),
        **options,
    )


def parse_expose(text: str) -> tuple[str, str, str]:
    """`/px=G:http://127.0.0.1:9921/x` → (path, node, upstream)."""
    path, sep, rest = text.partition("=")
    node, sep2, upstream = rest.partition(":")
    if not sep or not sep2 or not path.startswith("/"):
        raise SpecError("route", f"expected /PATH=NODE:http://HOST:PORT/PATH, got {text!r}")
    return path, node, upstream


def check_routes(routes: list[Route], names: set[str] | None = None) -> None:
    """Route names unique on the node; (Host, path) unique on a listener."""
    seen_names = set(names or ())
    seen: set[tuple[str, str]] = set()
    for r in routes:
        if r.name in seen_names:
            raise SpecError("name", f"a second route named {r.name!r}")
        if (r.host, r.path) in seen:
            on = f" for Host {r.host}" if r.host else ""
            raise SpecError("path", f"a second route with path {r.path!r}{on}")
        seen_names.add(r.name)
        seen.add((r.host, r.path))


def select(routes: tuple[Route, ...], host: str, path: str) -> Route | None:
    """The longest matching prefix; a route for this Host beats one for any Host."""
    best: Route | None = None
    for r in routes:
        if r.matches(host, path) and (
            best is None or (bool(r.host), len(r.path)) > (bool(best.host), len(best.path))
        ):
            best = r
    return best
