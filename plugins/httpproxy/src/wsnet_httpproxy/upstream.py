"""The exit node's check of an upstream: ``[httpproxy] targets`` and ``[authz] connect``.

The host is resolved once; the request then goes to an address that passed, never to
the name again (a name that resolves differently a moment later cannot carry the request
past the check).  The name still goes in ``Host`` and, for https, in SNI and the
certificate check.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

from wsnet import Allowlist, NodeAPI, Principal, parse_ip, resolve

MAX_REASON = 300  # characters of a reason: an upstream's error may quote its bytes


def brief(text: str) -> str:
    """``text`` cut to MAX_REASON characters: aiohttp's errors quote what the upstream
    sent (100 KB of a bad status line), which is not for logs, events or 502 bodies."""
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


class Refused(Exception):
    """The exit node will not or cannot serve this request: ``status`` and a reason."""

    def __init__(self, status: int, reason: str) -> None:
        reason = brief(reason)
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Upstream:
    scheme: str
    name: str  # as the route gave it (for SNI), "" for an address literal
    address: str  # the checked address
    port: int

    @property
    def display(self) -> str:
        host = self.name or self.address
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def url(self, target: str) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.port}{target}"


async def check(
    node: NodeAPI, targets: Allowlist, principal: Principal, upstream: str, timeout: float
) -> Upstream:
    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(502, f"bad upstream {upstream!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    shown = f"{parts.hostname}:{port}"
    if not targets.entries:  # refused before any lookup: a peer cannot make us query DNS
        raise Refused(502, f"upstream {shown} not in [httpproxy] targets (empty)")
    lookup = resolve(parts.hostname, port)
    try:
        # An address resolves at once, with no lookup to bound: wait_for would only add
        # a task (and a turn of the event loop) to every request.
        literal = parse_ip(parts.hostname) is not None
        found = await (lookup if literal else asyncio.wait_for(lookup, timeout))
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or "timed out"
        raise Refused(502, f"upstream {shown}: cannot resolve: {why}") from None
    for ip in found.addresses:
        if not targets.allows(port, ip, found.name):
            continue
        at = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
        denial = node.authorize(principal, "connect", at)
        if denial and found.name:
            denial = node.authorize(principal, "connect", f"{found.name}:{port}")
        if denial:
            raise Refused(502, f"upstream {shown}: not granted to {principal.name!r}: {denial}")
        return Upstream(parts.scheme, found.name, str(ip), port)
    raise Refused(502, f"upstream {shown} not in [httpproxy] targets")
