"""Typed calls of the hooks (wsnet.hookspecs): the core never calls ``pm.hook`` untyped.

pluggy's ``pm.hook.NAME(**kwargs)`` is ``Any`` in and out; this thin wrapper, as tox
has one, gives each hook a method with the spec's parameters and a typed result, and
flattens the per-plugin lists of the ``register`` hooks into plugin load order.  A plugin
that raises in a register hook stops start-up with one line naming it (PluginError).
``core/tests/test_hookcalls.py`` checks that every hookspec has its method here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any, cast

import pluggy

from .errors import PluginError, WsnetError
from .ratelog import Throttled

log = logging.getLogger("wsnet.plugins")
_deciding = Throttled(log, "authorisation", 10.0)  # a plugin's bug there comes per request

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


def plugin_name(registered: str) -> str:
    """The name a user knows for a name registered with pluggy: the built-in modules are
    ``builtin:NAME`` and a plugin's per-node object ``NAME:node`` (Plugins.with_objects)."""
    return registered.removeprefix("builtin:").removesuffix(":node")


class HookCalls:
    """One method per hookspec (without the ``wsnet_`` prefix)."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._hook = pm.hook
        self._warned: set[tuple[str, str]] = set()  # malformed metrics already logged

    # ------------------------------------------------------------- start-up
    def configure(self, config: Config) -> None:
        """In pluggy's order; a plugin's bug names it (PluginError), also at SIGHUP."""
        for impl in reversed(self._hook.wsnet_configure.get_hookimpls()):
            try:
                impl.function(**dict.fromkeys(impl.argnames, config))
            except WsnetError:
                raise  # a ConfigError naming file and key
            except Exception as exc:
                raise _failed(impl.plugin_name, "wsnet_configure", exc) from exc

    def reload(self, node: Node, config: Config) -> list[tuple[str, Awaitable[None] | None]]:
        """(plugin, its result: an awaitable to run, or None) in load order.  A plugin that
        raises is logged naming it and left out: the others still apply their changes."""
        given: dict[str, Any] = {"node": node, "config": config}
        out: list[tuple[str, Awaitable[None] | None]] = []
        for impl in self._hook.wsnet_reload.get_hookimpls():
            who = plugin_name(impl.plugin_name)
            try:
                result = impl.function(**{k: given[k] for k in impl.argnames})
                out.append((who, cast("Awaitable[None] | None", result)))
            except Exception as exc:
                log.error("SIGHUP: plugin %r failed in wsnet_reload: %s: %s",
                          who, type(exc).__name__, exc, exc_info=exc)  # fmt: skip
        return out

    # -------------------------------------------------------------- registries
    def node_plugin(self, node: Node) -> list[tuple[str, object]]:
        """(plugin name, its per-node object) for every plugin that made one, in load order."""
        return [(n, obj) for n, obj in self._each("wsnet_node_plugin", node=node) if obj]

    # Services, port kinds and control methods come with their plugin's name, so that a
    # name two plugins provide can name both (Node._collect).
    def register_services(self, node: Node) -> list[tuple[str, Service[Any]]]:
        return self._items("wsnet_register_services", node=node)

    def register_ports(self, node: Node) -> list[tuple[str, type[Port]]]:
        return self._items("wsnet_register_ports", node=node)

    def register_control_methods(self, node: Node) -> list[tuple[str, ControlMethod]]:
        return self._items("wsnet_register_control_methods", node=node)

    def register_http_routes(self, node: Node) -> list[tuple[str, HttpRoute]]:
        return self._items("wsnet_register_http_routes", node=node)

    def register_components(self, node: Node) -> list[tuple[str, Component]]:
        return self._items("wsnet_register_components", node=node)

    def register_authenticators(self, node: Node) -> list[Authenticator]:
        return [item for _, item in self._items("wsnet_register_authenticators", node=node)]

    def register_transports(self, node: Node) -> list[tuple[str, Transport]]:
        return self._items("wsnet_register_transports", node=node)

    def register_observers(self, node: Node) -> list[tuple[str, Observer]]:
        return self._items("wsnet_register_observers", node=node)

    # ------------------------------------------------------------- decisions
    def authorize(self, node: Node, principal: Principal, action: str, target: str) -> str | None:
        given = {"node": node, "principal": principal, "action": action, "target": target}
        return self._first_reason("wsnet_authorize", given)

    def check_relay(self, node: Node, principal: Principal, request: OpenRequest) -> str | None:
        given = {"node": node, "principal": principal, "request": request}
        return self._first_reason("wsnet_check_relay", given)

    def _first_reason(self, hook: str, given: dict[str, Any]) -> str | None:
        """pluggy's firstresult for the hooks that deny: the first reason, in pluggy's order.

        Only a non-empty string denies and ends the search; None, "" and False pass to the
        next implementation (pluggy stopped at "" or False and the caller read it as
        *allowed*, so a plugin's falsy answer overrode the core's [authz]).  A plugin that
        raises or answers anything else denies (fail closed), logged naming it."""
        for impl in reversed(getattr(self._hook, hook).get_hookimpls()):
            who = plugin_name(impl.plugin_name)
            try:
                found = impl.function(**{k: given[k] for k in impl.argnames})
            except Exception as exc:  # per request: one line per period, not tracebacks
                _deciding.note(f"{who} {hook}", f"denied: plugin {who!r} failed in {hook}",
                               f"{type(exc).__name__}: {exc}")  # fmt: skip
                return f"plugin {who!r} failed in {hook}"
            if found is None or found is False or found == "":
                continue
            if not isinstance(found, str):
                what = f"{type(found).__name__} {found!r}, not a reason or None"
                _deciding.note(f"{who} {hook}", f"denied: plugin {who!r} answered {hook}", what)
                return f"plugin {who!r} answered {hook} with {type(found).__name__}"
            return found
        return None

    def resolve_node(self, node: Node, name: str) -> str | None:
        """The first answer, in pluggy's call order; a plugin that raises is named
        (PluginError), as it runs per channel open, long after start-up."""
        given: dict[str, Any] = {"node": node, "name": name}
        for impl in reversed(self._hook.wsnet_resolve_node.get_hookimpls()):
            try:  # an implementation may take fewer of the spec's parameters
                found = impl.function(**{k: given[k] for k in impl.argnames})
            except Exception as exc:  # a plugin's bug: one line naming it
                who = plugin_name(impl.plugin_name)
                raise PluginError(f"plugin {who!r} failed in wsnet_resolve_node: "
                                  f"{type(exc).__name__}: {exc}") from exc  # fmt: skip
            if found is not None:
                return str(found)
        return None

    def tls_server_context(self, node: Node, context: ssl.SSLContext, scope: str) -> None:
        """Each implementation in load order (as docs/plugins.md says); a plugin's bug
        stops start-up with one line naming it."""
        self._each("wsnet_tls_server_context", node=node, context=context, scope=scope)

    def collect_metrics(self, node: Node) -> list[Metric]:
        """Every plugin's metrics, in load order; a plugin that raises is logged and left
        out (a scrape must not fail for one plugin's bug)."""
        from .hookchecks import metric_problem

        out: list[Metric] = []
        for impl in self._hook.wsnet_collect_metrics.get_hookimpls():
            who = plugin_name(impl.plugin_name)
            try:
                found = cast(
                    "Iterable[Metric] | None", impl.function(**dict.fromkeys(impl.argnames, node))
                )
                items = list(found or ())
            except Exception:
                log.exception("plugin %r failed in wsnet_collect_metrics", who)
                continue
            for item in items:
                if (problem := metric_problem(item)) is None:
                    out.append(item)
                elif (who, name := str(getattr(item, "name", "?"))) not in self._warned:
                    self._warned.add((who, name))  # once per family, not at every scrape
                    log.warning("plugin %r, wsnet_collect_metrics: %s: left out", who, problem)
        return out

    def implementers(self, name: str) -> set[str]:
        """The plugins (names as users know them) that implement hook ``name``."""
        return {plugin_name(impl.plugin_name) for impl in getattr(self._hook, name).get_hookimpls()}

    def _each(self, name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Each implementation's result with its plugin's name, in load order (the order
        of get_hookimpls; pluggy *calls* them the other way round).  No hook wrappers are
        involved in wsnet."""
        caller = getattr(self._hook, name)
        out = []
        for impl in caller.get_hookimpls():
            args = {k: kwargs[k] for k in impl.argnames}
            try:
                out.append((impl.plugin_name, impl.function(**args)))
            except WsnetError:
                raise  # already one line for a person (a ConfigError naming file and key)
            except Exception as exc:  # a plugin's bug: one line naming it, not a traceback
                raise _failed(impl.plugin_name, name, exc) from exc
        return out

    def _items(self, name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """The items of a register hook, each checked (hookchecks) with its plugin named."""
        from .hookchecks import WrongResult, items_of  # only when a node is built

        out = []
        for registered, result in self._each(name, **kwargs):
            try:  # a generator runs the plugin's code only now
                out += [(registered, item) for item in items_of(name, result)]
            except WrongResult as exc:
                who = plugin_name(registered)
                raise PluginError(f"plugin {who!r} failed in {name}: {exc}") from None
            except WsnetError:
                raise
            except Exception as exc:
                raise _failed(registered, name, exc) from exc
        return out


def _failed(registered: str, hook: str, exc: Exception) -> PluginError:
    """A plugin's bug in ``hook`` as one line naming it, not a traceback."""
    return PluginError(f"plugin {plugin_name(registered)!r} failed in {hook}: "
                       f"{type(exc).__name__}: {exc}")  # fmt: skip
