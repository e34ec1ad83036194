"""The entry node's decisions before anything is sent on: which route, whether this
client may use it (CIDR lists, authenticators, ``[authz]`` ``http:ROUTE``), whether the
declared body fits.  Runs from aiohttp's expect handler for ``Expect: 100-continue``
(so a refused client never sends its body) and otherwise from the request handler."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from wsnet import ANONYMOUS, AuthDenied, NodeAPI, Principal, parse_ip

from .spec import Route, normalize_path, select


@dataclass(frozen=True, slots=True)
class Denied:
    status: int
    reason: str
    route: str = ""  # "" when no route matched
    headers: tuple[tuple[str, str], ...] = ()

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=self.reason + "\n", headers=dict(self.headers))


@dataclass(frozen=True, slots=True)
class Admitted:
    route: Route
    principal: Principal
    path: str  # normalized: matched on, and sent upstream


def request_host(request: web.Request) -> str:
    """The Host without port or a trailing dot (``a.example.`` is ``a.example`` to DNS and
    to most servers behind), lower case ("" when absent)."""
    host = (request.host or "").lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return (host.rpartition(":")[0] if host.count(":") == 1 else host).rstrip(".")


def request_path(request: web.Request) -> str:
    """The normalized path (of an absolute-form target too: ``GET http://h/a``)."""
    return normalize_path(request.rel_url.raw_path)


async def admit(
    node: NodeAPI, routes: tuple[Route, ...], request: web.Request
) -> Admitted | Denied:
    host, path = request_host(request), request_path(request)
    route = select(routes, host, path)
    if route is None:
        return Denied(404, f"no route matches Host {host or '(none)'} path {path}")
    ip = parse_ip(request.remote or "")
    if ip is None or not route.client_allowed(ip):
        return Denied(
            403, f"route {route.name}: client {request.remote} is not allowed", route.name
        )
    principal = ANONYMOUS
    if route.auth:
        found = await _authenticate(node, request, route)
        if isinstance(found, Denied):
            return found
        principal = found
        denial = node.authorize(principal, "open", f"http:{route.name}")
        if denial:
            why = f"route {route.name}: {principal.name!r} may not use http:{route.name}: {denial}"
            return Denied(403, why, route.name)
    length = request.content_length
    if route.max_body and length is not None and length > route.max_body:
        return Denied(
            413, f"route {route.name}: request body over {route.max_body} bytes", route.name
        )
    return Admitted(route, principal, path)


async def _authenticate(node: NodeAPI, request: web.Request, route: Route) -> Principal | Denied:
    """The node's link authenticators (``NodeAPI.authenticate``: the same chain, events and
    log lines as a link's upgrade); a refusal names the route."""
    if not any("link" in a.scopes for a in node.authenticators):
        return Denied(
            403, f"route {route.name}: auth = true but this node has no authenticators", route.name
        )
    found = await node.authenticate(request, "link", what=f"route {route.name}: refused a request")
    if not isinstance(found, AuthDenied):
        return found
    why = (
        f"route {route.name}: authentication required"
        if found.authenticator == "none"
        else f"route {route.name}: authentication refused: {found.reason}"
    )
    return Denied(found.status, why, route.name, tuple(found.headers.items()))
