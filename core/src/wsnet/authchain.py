"""The authenticator chain: one path for links and for the control API.

Each authenticator says which requests it applies to (``Authenticator.scopes``: "link",
"control"); the node asks those of the request's scope in plugin order.  The first
Principal wins; ``AuthRefused`` ends the request with its status and headers (and an
AuthFailure event and a log line naming the user, never the password); ``None`` passes
to the next; when every one passed, 401 with their merged challenges.
"""

from __future__ import annotations

import logging

from aiohttp import web

from .control import Guard
from .events import AuthFailure
from .interfaces import ANONYMOUS, CONTROL, AuthDenied, AuthRefused, Principal
from .node import Node
from .ratelog import Throttled

log = logging.getLogger("wsnet.server")
_broken = Throttled(log, "authenticator", 10.0)

_STATUSES = frozenset({401, 403, 429, 503})  # 429: too many failed logins; 503: queue full
# How a refusal is logged: "refused a link from 127.0.0.1:35876 (htpasswd): why".
_WHAT = {CONTROL: "control API: refused a request"}


async def authenticate(node: Node, request: web.Request, scope: str) -> Principal:
    """Run the chain of ``scope``; raise an HTTP error response when refused.

    Without authenticators for ``scope`` everyone is the anonymous principal."""
    found = await check(node, request, scope)
    if isinstance(found, AuthDenied):
        raise found.http_error()
    return found


async def check(
    node: Node, request: web.Request, scope: str, what: str = ""
) -> Principal | AuthDenied:
    """The chain of ``scope`` on ``request``: the principal, or why not (``NodeAPI.authenticate``).

    Emits AuthFailure and logs as a refusal of ``what`` (default: a link, or a control
    request), naming the user, never the password."""
    chain = node.authenticators_for(scope)
    if not chain:
        return ANONYMOUS
    what, remote = what or _WHAT.get(scope, "refused a link"), remote_of(request)
    challenge: dict[str, str] = {}
    for auth in chain:
        try:
            principal = await auth.authenticate(request)
            if principal is not None and not isinstance(principal, Principal):
                # fail closed as for a raise: a string here reached `[authz]` and the
                # methods as a "principal" and broke each request with a traceback
                raise TypeError(f"returned {type(principal).__name__}, not a Principal or None")
        except AuthRefused as exc:
            log.warning("%s from %s (%s): %s", what, remote, auth.name, exc.reason)
            node.emit(AuthFailure(remote, auth.name, exc.reason))
            status = exc.status if exc.status in _STATUSES else 401
            return AuthDenied(status, exc.reason, {**auth.challenge(), **exc.headers}, auth.name)
        except Exception as exc:
            # A broken authenticator fails closed, and a caller who can reach the listener
            # must not be able to fill the log with tracebacks: one line per period.
            _broken.note(auth.name, f"refused by a failing authenticator {auth.name!r}",
                         f"{type(exc).__name__}: {exc}")  # fmt: skip
            node.emit(AuthFailure(remote, auth.name, "authenticator failed"))
            return AuthDenied(500, "authentication failed", {}, auth.name)
        if principal is not None:
            return principal
        challenge.update(auth.challenge())
    if scope == CONTROL:  # (links: the event only, as a scanner's probes are many)
        log.warning("%s from %s: no credentials accepted", what, remote)
    node.emit(AuthFailure(remote, "none", "no credentials accepted"))
    return AuthDenied(401, "authentication required", challenge)


def guard(node: Node, scope: str) -> Guard | None:
    """A ``control_app`` guard running the chain of ``scope``; None when it is empty."""
    if not node.authenticators_for(scope):
        return None

    async def check(request: web.Request) -> Principal:
        return await authenticate(node, request, scope)

    return check


def remote_of(request: web.Request) -> str:
    """``HOST:PORT`` of the connection the request came on (its address when unknown)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peer[0]}:{peer[1]}" if peer else (request.remote or "?")
