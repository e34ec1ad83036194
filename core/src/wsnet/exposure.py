"""Start-up warnings for doors left open: listeners beyond loopback that anyone may use.

A node that accepts links on a reachable address without an authenticator is an open
relay (and, with wsnet-tap or wsnet-netdev, an open Ethernet bridge) for whoever can
reach that address; a password sent without TLS is readable by anyone on the path.
wsnet still starts (a private network may be intended), but says so once, in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .config import ControlConfig, ListenConfig, is_loopback
from .interfaces import Authenticator

log = logging.getLogger("wsnet.security")


def _where(host: str, port: int) -> str:
    shown = host or "0.0.0.0"
    return f"[{shown}]:{port}" if ":" in shown else f"{shown}:{port}"


def listener_warnings(
    listen: ListenConfig, port: int, tls: bool, authenticators: Sequence[Authenticator]
) -> list[str]:
    """What is open about the link listener bound at ``listen.host``:``port`` (may be [])."""
    if is_loopback(listen.host):
        return []
    where = _where(listen.host, port)
    out = []
    if not authenticators and not listen.allow_anonymous:
        out.append(
            f"the link listener on {where} has no authenticator: anyone who can reach "
            f"{where} may link to this node and use it as an open relay (and as an open "
            "Ethernet bridge with wsnet-tap or wsnet-netdev); configure auth_htpasswd or "
            "mtls, or set [listen] allow_anonymous = true if this is intended"
        )
    secret = [a.name for a in authenticators if a.sends_secret]
    if secret and not tls:
        out.append(
            f"the link listener on {where} takes passwords ({', '.join(secret)}) without "
            "TLS: credentials cross the network in clear; set [listen] tls_cert and tls_key"
        )
    return out


def control_warnings(
    control: ControlConfig, port: int, tls: bool, authenticators: Sequence[Authenticator]
) -> list[str]:
    """The same for the control API (which can reconfigure the node), whose authenticators
    are those of the "control" scope."""
    if is_loopback(control.host):
        return []
    where = _where(control.host, port)
    if not authenticators:
        return [
            f"the control API on {where} has no credentials: anyone who can reach {where} "
            "may reconfigure this node; set [control] htpasswd (and tls_cert/tls_key)"
        ]
    if any(a.sends_secret for a in authenticators) and not tls:
        return [
            f"the control API on {where} takes passwords without TLS: credentials cross "
            "the network in clear; set [control] tls_cert and tls_key"
        ]
    return []


def warn(lines: Sequence[str]) -> None:
    for line in lines:
        log.warning("%s", line)
