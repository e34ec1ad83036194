"""The control API: JSON-RPC 2.0 over HTTP POST, methods contributed by plugins.

Parameters are bound from each handler's signature, by position (a JSON array)
or by name (an object), and converted to the annotated type, so that
`wsnet ctl addport tap ethws0 mtu=1400` works with plain strings on the wire.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from aiohttp import web

from .errors import ControlError, WsnetError
from .health import HEALTH_PATHS, Readiness, is_health_request
from .health import add_routes as add_health_routes
from .interfaces import ControlMethod, HttpRoute, Principal
from .redact import redact_value

log = logging.getLogger("wsnet.control")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
FORBIDDEN = -32003  # an implementation-defined server error: [authz] refused the call

MAX_DEPTH = 32  # nesting of a request's JSON: no method takes more than a few levels
# Calls in one batch: a batch runs its calls one after the other in one request, so its
# size bounds how long one request can keep the node busy (20,000 fit in 1 MiB).
MAX_BATCH = 100

MethodCheck = Callable[[str], "str | None"]
# Who the control call being handled comes from: None for an API without users.
_CALLER: ContextVar[Principal | None] = ContextVar("wsnet_control_caller", default=None)


def control_caller() -> Principal | None:
    """The authenticated principal of the control call in progress (None: the API has no
    users, i.e. no authenticator applies to the "control" scope, or the call did not come
    over HTTP)."""
    return _CALLER.get()


class TooDeep(ValueError):
    """A request nested deeper than MAX_DEPTH (HTTP 400, not a traceback)."""


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def convert_param(name: str, value: Any, annotation: Any) -> Any:
    """Convert a wire value (often a string from the command line) to ``annotation``:
    the one converter of control-API values (handler parameters, and run-time options a
    handler takes as ``**options`` but knows the types of, e.g. ``addport client``).

    Booleans accept ``1 true yes on`` / ``0 false no off``; raises RpcError (-32602)
    naming the parameter."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        annotation = args[0] if len(args) == 1 else Any
    plain = annotation in (Any, inspect.Parameter.empty) or isinstance(value, annotation)
    if plain and not (annotation is int and isinstance(value, bool)):
        return value
    try:
        if annotation is bool:
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if annotation in (int, float) and isinstance(value, bool):
            raise ValueError(value)  # JSON true is not the number 1
        if annotation in (int, float, str):
            return annotation(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise RpcError(
        INVALID_PARAMS,
        f"parameter {name!r}: expected {getattr(annotation, '__name__', annotation)}, "
        f"got {value!r}",
    )


def bind(method: ControlMethod, params: Any) -> dict[str, Any]:
    """Match JSON-RPC params to the handler's signature, converting wire values.

    A handler with ``**options`` takes any further NAME=VALUE pairs as they came
    (strings from the command line); its own code validates them.
    """
    sig = inspect.signature(method.handler)
    hints = typing.get_type_hints(method.handler)
    kinds = inspect.Parameter
    names = [n for n, p in sig.parameters.items() if p.kind not in (kinds.VAR_KEYWORD,)]
    takes_options = len(names) < len(sig.parameters)
    if params is None:
        params = {}
    if isinstance(params, list):
        if len(params) > len(names):
            raise RpcError(
                INVALID_PARAMS,
                f"takes at most {len(names)} arguments ({', '.join(names) or 'none'})",
            )
        params = dict(zip(names, params, strict=False))
    if not isinstance(params, dict):
        raise RpcError(INVALID_PARAMS, "params must be an array or an object")
    unknown = sorted(set(params) - set(names))
    if unknown and not takes_options:
        raise RpcError(
            INVALID_PARAMS,
            f"unknown parameter {unknown[0]!r} (takes: {', '.join(names) or 'none'})",
        )
    bound = {name: params[name] for name in unknown}
    for name in names:
        if name in params:
            bound[name] = convert_param(name, params[name], hints.get(name, Any))
        elif sig.parameters[name].default is inspect.Parameter.empty:
            raise RpcError(INVALID_PARAMS, f"missing parameter {name!r}")
    return bound


def signature_text(method: ControlMethod) -> str:
    parts = []
    for name, p in inspect.signature(method.handler).parameters.items():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            parts.append("[**OPTION=VALUE]")
        elif p.default is inspect.Parameter.empty:
            parts.append(name)
        else:
            parts.append(f"[{name}={p.default!r}]")
    return " ".join(parts)


class Dispatcher:
    """JSON-RPC 2.0 request handling, independent of HTTP."""

    def __init__(self, methods: Mapping[str, ControlMethod]) -> None:
        self.methods = methods

    async def handle(self, body: bytes, authorize: MethodCheck | None = None) -> Any:
        """``authorize(method)`` (optional) returns why the caller may not call it.

        Raises TooDeep for a request nested deeper than MAX_DEPTH."""
        try:
            req = json.loads(body)
        except RecursionError:  # deeper than the interpreter's limit: certainly too deep
            raise TooDeep(_TOO_DEEP) from None
        except ValueError as exc:
            return _error(None, PARSE_ERROR, f"parse error: {exc}")
        if _depth_over(req, MAX_DEPTH):
            raise TooDeep(_TOO_DEEP)
        if isinstance(req, list):
            if not req:
                return _error(None, INVALID_REQUEST, "empty batch")
            if len(req) > MAX_BATCH:
                return _error(None, INVALID_REQUEST,
                              f"batch of {len(req)} calls, at most {MAX_BATCH}")  # fmt: skip
            replies = [await self._one(r, authorize) for r in req]
            return [r for r in replies if r is not None] or None
        return await self._one(req, authorize)

    async def _one(self, req: Any, authorize: MethodCheck | None) -> dict[str, Any] | None:
        if (
            not isinstance(req, dict)
            or req.get("jsonrpc") != "2.0"
            or not isinstance(req.get("method"), str)
        ):
            return _error(None, INVALID_REQUEST, "not a JSON-RPC 2.0 request")
        rid = req.get("id")
        notification = "id" not in req
        try:
            result = await self._call(req["method"], req.get("params"), authorize)
        except RpcError as exc:
            reply = _error(rid, exc.code, exc.message)
        except ControlError as exc:
            reply = _error(rid, exc.code, str(exc))
        except WsnetError as exc:
            reply = _error(rid, -32000, str(exc))
        except Exception as exc:
            log.exception("control method %s failed", req["method"])
            reply = _error(rid, INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}")
        else:
            reply = {"jsonrpc": "2.0", "id": rid, "result": result}
        # Answers never carry a URL's password, whatever the method put in them.
        return None if notification else redact_value(reply)

    async def _call(self, name: str, params: Any, authorize: MethodCheck | None) -> Any:
        method = self.methods.get(name)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, await self._unknown(name))
        denial = authorize(name) if authorize is not None else None
        if denial:
            raise RpcError(FORBIDDEN, f"may not call {name!r}: {denial}")
        return await method.handler(**bind(method, params))

    async def _unknown(self, name: str) -> str:
        """Why ``name`` is not here: the plugin that has it and this node did not load,
        else what is available."""
        from .plugins import method_providers

        # The first call imports every installed plugin: off the event loop.
        plugin = (await asyncio.to_thread(method_providers)).get(name)
        if plugin is not None:
            return (f"unknown method {name!r} (provided by plugin {plugin}, which this node "
                    f"did not load: start it with --plugins {plugin})")  # fmt: skip
        return f"unknown method {name!r} (available: {', '.join(sorted(self.methods))})"


def _error(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


_TOO_DEEP = f"request nested deeper than {MAX_DEPTH} levels"


def _depth_over(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` nests deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def control_app(
    dispatcher: Dispatcher,
    authenticate: Guard | None = None,
    authorize: Callable[[Principal, str, str], str | None] | None = None,
    *,
    request_timeout: float | None = None,
    trusted: Callable[[object], None] | None = None,
    ready: Readiness | None = None,
    routes: Iterable[HttpRoute] = (),
) -> web.Application:
    """``authenticate(request)`` (optional) raises an HTTP error to refuse a caller
    and returns who it is; ``authorize`` then decides which methods that caller may call.
    With ``authenticate`` every request needs credentials, whatever its path or method.

    A request body must arrive within ``request_timeout`` seconds (else 408 and the
    connection is closed); ``trusted(protocol)`` is told of each request whose head has
    arrived (with ``authenticate``: whose caller was authenticated), so that the
    listener's deadline for it ends.

    ``ready`` adds ``/healthz`` and ``/readyz`` (health.py), which answer without
    credentials (a probe has none) and say nothing secret.  ``routes`` are plugins'
    (wsnet_register_http_routes): authenticated like /rpc, authorised as ``call`` on
    the route's name.
    """

    async def rpc(request: web.Request) -> web.Response:
        check: MethodCheck | None = None
        principal: Principal | None = request.get(_PRINCIPAL)
        if principal is not None and authorize is not None:
            check = functools.partial(authorize, principal, "call")
        try:
            async with asyncio.timeout(request_timeout):
                body = await request.read()
        except TimeoutError:
            late = web.Response(status=408, text=f"request body not received within "
                                                 f"{request_timeout:g}s\n")  # fmt: skip
            late.force_close()
            return late
        token = _CALLER.set(principal)  # for methods that check more (control_caller)
        try:
            reply = await dispatcher.handle(body, check)
        except TooDeep as exc:
            return web.json_response(_error(None, INVALID_REQUEST, str(exc)), status=400)
        finally:
            _CALLER.reset(token)
        if reply is None:
            return web.Response(status=204)
        return web.json_response(reply, dumps=lambda o: json.dumps(o, default=str))

    async def info(request: web.Request) -> web.Response:
        return web.Response(text="wsnet control API: POST JSON-RPC 2.0 to /rpc\n")

    @web.middleware
    async def trust(request: web.Request, handler: Handler) -> web.StreamResponse:
        if trusted is not None:
            trusted(request.protocol)
        return await handler(request)

    @web.middleware
    async def credentials(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Before routing: without credentials nothing answers, not even the banner or a
        # 404, so an unauthenticated scanner learns no more than "401".
        assert authenticate is not None
        if ready is not None and is_health_request(request):
            return await handler(request)  # untrusted: keeps its deadline and source cap
        request[_PRINCIPAL] = await authenticate(request)
        if trusted is not None:
            trusted(request.protocol)  # only now: a caller refused stays untrusted
        return await handler(request)

    # Without authentication a request's head is trust enough; with it, only the caller's
    # credentials are: a connection refused with 401 keeps its deadline and counts against
    # the per-source cap, however many requests it sends.
    if authenticate is not None:
        middlewares = [credentials]
    else:
        middlewares = [trust] if trusted is not None else []
    app = web.Application(client_max_size=1 << 20, middlewares=middlewares)
    app.router.add_post("/rpc", rpc)
    app.router.add_post("/", rpc)
    app.router.add_get("/", info)
    if ready is not None:
        add_health_routes(app, ready)
    for route in routes:
        _add_plugin_route(app, route, authorize)
    return app


CORE_PATHS = ("/", "/rpc", *HEALTH_PATHS)


def _add_plugin_route(
    app: web.Application,
    route: HttpRoute,
    authorize: Callable[[Principal, str, str], str | None] | None,
) -> None:
    if route.path in CORE_PATHS or not route.path.startswith("/"):
        raise WsnetError(f"HTTP route {route.name!r}: the path {route.path!r} is not "
                         f"available (the core serves {', '.join(CORE_PATHS)})")  # fmt: skip

    async def guarded(request: web.Request) -> web.StreamResponse:
        principal: Principal | None = request.get(_PRINCIPAL)
        if principal is not None and authorize is not None:
            denial = authorize(principal, "call", route.name)
            if denial:
                return web.Response(status=403, text=f"may not call {route.name!r}: {denial}\n")
        return await route.handler(request)

    app.router.add_route(route.method, route.path, guarded)


_PRINCIPAL = web.RequestKey("principal", Principal)
Guard = Callable[[web.Request], Awaitable[Principal]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
