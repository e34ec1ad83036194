"""The wsnet hook specifications: the one reference of what a plugin can contribute.

A plugin is a module registered under the entry-point group ``wsnet.plugins``.
It implements any of these hooks as module-level functions named exactly as
below (the ``wsnet_`` prefix is required; ``@wsnet.hookimpl`` is optional and
lets you set ordering options).  Hooks run synchronously at start-up or on
management actions; objects they return carry the asynchronous life cycle.
docs/plugins.md is checked against this file by the test suite.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import ssl

    from .config import Config
    from .interfaces import (
        Authenticator,
        Component,
        ControlMethod,
        HttpRoute,
        Metric,
        Observer,
        Port,
        Principal,
        Service,
        Transport,
    )
    from .node import Node
    from .protocol import OpenRequest

PROJECT = "wsnet"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def wsnet_configure(config: Config) -> None:
    """Validate this plugin's own config section and keep what it parsed.

    Read the section with ``config.section("NAME")`` (NAME is the plugin's
    entry-point name), use its typed getters, call ``.done()`` to reject unknown
    keys, and store the result under a module-level ``StashKey`` in
    ``config.stash``.  Raise ``ConfigError`` (the getters do) to stop start-up
    with a message naming the file and key.  Called after all plugins are
    loaded and before anything starts, and again with a new ``config`` on each
    SIGHUP: only check and store here, never change what runs (that is
    ``wsnet_reload``'s job).
    """


@hookspec
def wsnet_reload(node: Node, config: Config) -> Awaitable[None] | None:
    """Apply a changed configuration while the node runs (``wsnet run`` got SIGHUP).

    ``config`` is the new configuration, already checked by every plugin's
    ``wsnet_configure`` (so this plugin's new settings are in ``config.stash``);
    ``node.config`` is the running one, whose stash holds the settings in use.
    Apply what can change at run time and log one line per change; log that a
    restart is needed for what cannot, and keep the old value.  Then store the
    settings now in effect in ``node.config.stash``, so that the next reload
    compares against them.  Return None, or a coroutine for changes that need
    I/O (the core awaits it).  A plugin without this hook: a change of its
    section is logged as needing a restart.
    """


@hookspec
def wsnet_node_plugin(node: Node) -> object | None:
    """Create this plugin's per-node object, once per node, before any other per-node hook.

    The core registers the object as a hook implementation of its own (named
    ``PLUGIN:node``): its methods named like hooks (``wsnet_register_services(self)``,
    ``wsnet_reload(self, config)``, ...) are called like module functions, and may take
    any subset of the spec's parameters.  So a plugin keeps its state in one object
    created once, with no "get it from the stash or create it" glue.  Return None to
    add nothing.
    """


@hookspec
def wsnet_register_services(node: Node) -> Iterable[Service[Any]]:
    """Return the services peers may open channels to (names must be unique per node)."""
    return ()


@hookspec
def wsnet_register_components(node: Node) -> Iterable[Component]:
    """Return long-lived objects (listeners, devices) the node starts and closes."""
    return ()


@hookspec
def wsnet_register_ports(node: Node) -> Iterable[type[Port]]:
    """Return L2 port classes; ``Port.kind`` is the word used by ``addport KIND NAME``."""
    return ()


@hookspec
def wsnet_register_authenticators(node: Node) -> Iterable[Authenticator]:
    """Return authenticators; the node asks them in order on each request of their scopes.

    ``Authenticator.scopes`` says which requests: ``"link"`` (the WebSocket upgrade of an
    incoming link; the default) and/or ``"control"`` (every control API request, before
    any route).  One chain per scope, in plugin order (wsnet.authchain): the first
    Principal wins, ``AuthRefused`` ends the request with its status, ``None`` passes on.
    With none for a scope: links are the anonymous principal, and the control API has no
    users (``control_caller()`` is None).  With some, a request none of them accepts is
    refused with 401 and their challenges.
    """
    return ()


@hookspec(firstresult=True)
def wsnet_authorize(node: Node, principal: Principal, action: str, target: str) -> str | None:
    """Decide whether ``principal`` may do ``action`` on ``target``.

    ``action`` is e.g. ``"open"`` with the service name as target.  Return a
    reason string to deny (the channel is refused with it, the link stays up),
    or None to let the next implementation decide.  No implementation: allowed.
    """


@hookspec(firstresult=True)
def wsnet_check_relay(node: Node, principal: Principal, request: OpenRequest) -> str | None:
    """Check what a relayed channel request narrows to, where it enters the mesh.

    The node where a request from ``principal`` enters the mesh checks ``open`` on
    ``"SERVICE@DESTINATION"`` itself, then asks this hook: a service plugin that can
    read ``request.args`` checks its narrowed targets with ``node.authorize`` (wsnet-tcp:
    ``open`` on ``"tcp:TUNNEL@DESTINATION"`` and ``connect`` on an ad-hoc target given
    as an address) and returns the denial reason, ``""`` when it checked and allows, or
    None when the request is not its own (the next implementation decides).  With no
    answer for a service this node does not have, the principal needs a grant of the
    whole service (``"SERVICE:*@DESTINATION"``): a plugin whose service narrows its
    grants must implement this hook.  Called once per relayed OPEN: keep it cheap (no
    DNS), never raise.
    """


@hookspec(firstresult=True)
def wsnet_resolve_node(node: Node, name: str) -> str | None:
    """Map a name that services address channels to (a tunnel's peer) to a node name.

    Return the node to use, or None to let the next implementation decide; with
    none, the name is used as it is.  wsnet-ha maps an HA group's name to its
    active member here.  Called once per new connection: keep it a dict lookup.
    """


@hookspec
def wsnet_register_transports(node: Node) -> Iterable[Transport]:
    """Return transports that dial links for URL schemes; later plugins override earlier."""
    return ()


@hookspec
def wsnet_register_observers(node: Node) -> Iterable[Observer]:
    """Return observers that receive every ``wsnet.events.NodeEvent`` of this node."""
    return ()


@hookspec
def wsnet_register_control_methods(node: Node) -> Iterable[ControlMethod]:
    """Return JSON-RPC methods for the control API (``wsnet ctl NAME ...``)."""
    return ()


@hookspec
def wsnet_tls_server_context(node: Node, context: ssl.SSLContext, scope: str) -> None:
    """Adjust the TLS context of a listener before it binds.

    Called once at start-up for each listener that serves TLS, after the core loaded the
    server certificate and key: ``scope="link"`` for the link listener ([listen]
    tls_cert/tls_key or --tls-cert/--tls-key), ``scope="control"`` for the control API
    ([control] tls_cert/tls_key or --ctl-tls-cert/--ctl-tls-key).  Change ``context`` in
    place: e.g. set ``verify_mode = ssl.CERT_REQUIRED`` and load a client CA (wsnet-mtls
    does, for the scopes of its ``[mtls] scopes``).  An implementation that does not take
    ``scope`` is called for both listeners.  Raise ``WsnetError`` to stop start-up with a
    message.
    """


@hookspec
def wsnet_register_http_routes(node: Node) -> Iterable[HttpRoute]:
    """Return HTTP routes to serve on the control listener (e.g. ``GET /metrics``).

    Called once when the node is built.  The routes sit behind the control API's TLS
    and its authenticators of the "control" scope, and a caller those name needs the
    ``[authz] call`` grant of the route's ``name``.  Two routes of one method and path,
    or a path the core serves (``/``, ``/rpc``, ``/healthz``, ``/readyz``), stop start-up.
    """
    return ()


@hookspec
def wsnet_collect_metrics(node: Node) -> Iterable[Metric]:
    """Return this plugin's metrics now (called at each scrape, on the event loop).

    Read the counters the plugin keeps anyway; never count on the data path for it.
    Keep it quick (no I/O, no waiting).  An exception is logged and leaves this
    plugin's metrics out of that scrape; the others still answer.
    """
    return ()
