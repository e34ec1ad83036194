"""Dialling through an HTTP proxy with CONNECT: which proxy, and the tunnel itself.

The choice (``proxy_for``) and the CONNECT request/response handling are pure
functions; ``open_tunnel`` is the only I/O.  Both ws:// and wss:// links use
CONNECT (a WebSocket upgrade does not survive a forwarding proxy), and TLS for
wss:// runs end to end through the tunnel, so the proxy sees only ciphertext.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ...redact import redact_url

MAX_RESPONSE_HEAD = 16384  # a proxy's CONNECT reply head; more is not a proxy talking


class ProxyError(ConnectionError):
    """The proxy refused or broke the CONNECT; the message says which proxy and why."""


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    user: str = ""
    password: str = field(default="", repr=False)  # never in a repr, log or traceback

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_proxy_url(url: str) -> Proxy:
    """``http://[user:pass@]host[:port]`` (port 8080 when absent); ValueError otherwise."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    url = redact_url(url)  # for the messages below: never the proxy's password
    if parts.scheme != "http":
        raise ValueError(f"proxy {url!r}: only http:// proxies are supported (CONNECT)")
    if not parts.hostname:
        raise ValueError(f"proxy {url!r}: no host")
    try:
        port = parts.port if parts.port is not None else 8080
    except ValueError:
        raise ValueError(f"proxy {url!r}: bad port") from None
    host = parts.hostname
    if not 0 < port < 65536 or len(host) > 253 or any(c.isspace() for c in host):
        raise ValueError(f"proxy {url!r}: bad host or port")
    return Proxy(parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or ""))


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``host`` matches $no_proxy: '*', names and domain suffixes, IPs and CIDRs."""
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port.isdigit() and int(entry_port) != port:
            continue
        if _host_matches(host.lower(), name or entry):
            return True
    return False


def _host_matches(host: str, entry: str) -> bool:
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        addr = None
    if addr is not None:
        try:
            return addr in ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            return False
    suffix = entry.lstrip("*").lstrip(".")
    return host == suffix or host.endswith("." + suffix)


def proxy_for(url: str, option: str, env: Mapping[str, str]) -> Proxy | None:
    """The proxy a dial of ``url`` goes through, or None for a direct connection.

    ``option`` is the [[dial]] ``proxy`` value or --proxy: a URL, "none" (never),
    or "" (from the environment: $https_proxy for wss://, $http_proxy for ws://,
    upper or lower case, minus $no_proxy).  An explicit option ignores $no_proxy.
    """
    if option == "none":
        return None
    if option:
        return parse_proxy_url(option)
    parts = urlsplit(url)
    names = (
        ("https_proxy", "HTTPS_PROXY") if parts.scheme == "wss" else ("http_proxy", "HTTP_PROXY")
    )
    value = next((env[n] for n in names if env.get(n)), "")
    if not value:
        return None
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    if bypassed(parts.hostname or "", port, no_proxy):
        return None
    return parse_proxy_url(value)


def connect_request(host: str, port: int, proxy: Proxy) -> bytes:
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.user:
        token = base64.b64encode(f"{proxy.user}:{proxy.password}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def check_connect_response(head: bytes, proxy: Proxy, target: str) -> None:
    """Raise ProxyError unless ``head`` (status line + headers) is a 2xx to CONNECT."""
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1").strip()
    words = status_line.split(" ", 2)
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        raise ProxyError(f"proxy {proxy.where}: not an HTTP reply to CONNECT: {status_line!r}")
    code = int(words[1])
    if 200 <= code < 300:
        return
    reason = words[2] if len(words) > 2 else ""
    hint = ""
    if code in (401, 407):  # 407 by the RFC; tinyproxy 1.11 answers 401
        hint = " (proxy credentials missing or wrong: user:password@ in the proxy URL)"
    raise ProxyError(f"proxy {proxy.where} refused CONNECT {target}: {code} {reason}{hint}")


async def open_tunnel(proxy: Proxy, host: str, port: int, timeout: float) -> socket.socket:
    """A connected, non-blocking socket whose bytes reach ``host:port`` through ``proxy``."""
    loop = asyncio.get_running_loop()
    target = f"{host}:{port}"
    try:  # the proxy's name, said as such: a bare "Name or service not known" read as
        # the target's; and bounded like the rest (a resolver may not answer)
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise ProxyError(f"proxy {proxy.where}: cannot resolve {proxy.host!r}: {why}") from None
    except TimeoutError:
        raise ProxyError(f"proxy {proxy.where}: {proxy.host!r} not resolved within "
                         f"{timeout:g}s") from None  # fmt: skip
    if not infos:
        raise ProxyError(f"proxy {proxy.where}: cannot resolve {proxy.host!r}")
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            try:
                await loop.sock_connect(sock, addr)
            except OSError as exc:
                why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
                raise ProxyError(f"proxy {proxy.where} is not reachable: {why}") from None
            await loop.sock_sendall(sock, connect_request(host, port, proxy))
            head = await _read_head(loop, sock, proxy)
        check_connect_response(head, proxy, target)
    except TimeoutError:
        sock.close()
        raise ProxyError(f"proxy {proxy.where}: no answer to CONNECT {target}") from None
    except BaseException:
        sock.close()
        raise
    return sock


async def _read_head(loop: asyncio.AbstractEventLoop, sock: socket.socket, proxy: Proxy) -> bytes:
    """The reply head, up to the blank line.

    Both a WebSocket client and a TLS client speak first, so after a 2xx the far
    end sends nothing until we do: bytes past the head can only be an error body.
    """
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_RESPONSE_HEAD:
            raise ProxyError(f"proxy {proxy.where}: reply head too long")
        chunk = await loop.sock_recv(sock, 4096)
        if not chunk:
            raise ProxyError(f"proxy {proxy.where}: closed the connection during CONNECT")
        buf += chunk
    head, _, extra = buf.partition(b"\r\n\r\n")
    if extra and head.split(b" ", 2)[1:2] == [b"200"]:
        raise ProxyError(f"proxy {proxy.where}: unexpected data after the CONNECT reply")
    return head
