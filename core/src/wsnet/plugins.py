"""Plugin manager: stevedore finds entry points, pluggy registers and calls them.

Built-in parts of the core are plugin modules too (BUILTIN), registered first,
so they use exactly the hooks third-party plugins use.  DEFAULTS are built-in
plugins a node may do without: ``-NAME`` in its plugin list leaves one out.
A plugin module names the plugins it needs in ``WSNET_REQUIRES``; ``load`` adds them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as md
import inspect
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pluggy
from stevedore import NamedExtensionManager

from . import hookshim, hookspecs
from .errors import PluginError
from .hookcalls import HookCalls

GROUP = "wsnet.plugins"
# A plugin module's tuple of the control methods it registers: lets a node that did not
# load the plugin name it for a call of one of them (method_providers).
METHODS_ATTR = "CONTROL_METHODS"
# Built-in plugins, always registered (name: module).
BUILTIN = {
    "authz": "wsnet.builtin.authz",
    "core_methods": "wsnet.builtin.core_methods",
    "metrics": "wsnet.builtin.metrics",
    "ws_transport": "wsnet.transport.ws.plugin",
}
# Built-in plugins registered unless the plugin list says "-NAME" (name: module).
DEFAULTS = {"diag": "wsnet.builtin.diag"}
# Module attribute of a plugin: the names of the plugins it needs, e.g. ("switch",).
REQUIRES = "WSNET_REQUIRES"
log = logging.getLogger("wsnet.plugins")


class _Manager(pluggy.PluginManager):
    """Accepts unmarked module functions named wsnet_*, as pytest does for pytest_*, and
    a class as a hook (``wsnet_node_plugin = MyPlugin``) on every pluggy (wsnet.hookshim)."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        claimed = [n for n in dir(plugin) if self.parse_hookimpl_opts(plugin, n) is not None]
        classes = [n for n in claimed if inspect.isclass(getattr(plugin, n))]
        if not classes:
            return super().register(plugin, name)
        # pluggy 1.7 refuses a class: register a Shim under the plugin's own name.  The one
        # made before for the same plugin, if any, so pluggy still refuses a second register.
        shim = next((p for p in self.get_plugins() if hookshim.real(p) is plugin), None)
        if shim is None:
            hooks = {n: getattr(plugin, n) for n in claimed}
            for n in classes:
                hooks[n] = hookshim.hook_function(n, hooks[n], self.project_name)
            shim = hookshim.Shim(plugin, hooks)
        return super().register(shim, name or self.get_canonical_name(plugin))

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        if plugin is not None and not self.is_registered(plugin):  # registered as a Shim
            plugin = next((p for p in self.get_plugins() if hookshim.real(p) is plugin), plugin)
        return super().unregister(plugin, name)

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        # A class counts too: `wsnet_node_plugin = MyPlugin` is the natural way to write it.
        found = getattr(plugin, name)
        if (
            opts is None
            and name.startswith("wsnet_")
            and (inspect.isroutine(found) or inspect.isclass(found))
        ):
            return {}
        if opts is not None and not name.startswith("wsnet_"):
            raise PluginError(f"{plugin!r}: hook implementation {name!r} lacks the wsnet_ prefix")
        return opts


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    hooks: tuple[str, ...] = ()
    error: str = ""


@dataclass(slots=True)
class Plugins:
    """The loaded plugins of one node (or of one CLI invocation)."""

    pm: pluggy.PluginManager
    names: list[str] = field(default_factory=list)  # loaded third-party/plugin names, in order
    added: dict[str, str] = field(default_factory=dict)  # {plugin loaded as required: by whom}
    # Typed calls of every hook (wsnet.hookcalls); made once: some run per connection.
    calls: HookCalls = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.calls = HookCalls(self.pm)

    def log_added(self) -> None:
        """Say which plugins were loaded because another requires them (logging is up now)."""
        for name, by in self.added.items():
            log.info("plugin %r requires %r: loaded it too", by, name)

    def modules(self) -> list[tuple[str, object]]:
        return [(n or "?", hookshim.real(p)) for n, p in self.pm.list_name_plugin()]

    def with_objects(self, objects: Sequence[tuple[str, object]]) -> Plugins:
        """These plugins and one node's per-node objects (``wsnet_node_plugin``, registered
        as ``NAME:node``) in a plugin manager of that node's own: a second node built from
        the same Plugins (tests, a program embedding nodes) neither clashes with the first
        node's objects nor has its hooks answered by them.  Raises PluginError for an object
        whose method looks like a hook but is not one (a misspelt ``wsnet_`` name)."""
        if not objects:
            return self
        pm = _Manager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        for name, plugin in self.pm.list_name_plugin():
            pm.register(plugin, name=name)
        for name, obj in objects:
            _register(pm, f"{name}:node", obj)
        _check_pending(pm)
        return Plugins(pm, self.names, self.added)


def new_manager() -> pluggy.PluginManager:
    pm = _Manager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name, modname in (BUILTIN | DEFAULTS).items():
        pm.register(importlib.import_module(modname), name=f"builtin:{name}")
    return pm


def installed() -> dict[str, md.EntryPoint]:
    return {ep.name: ep for ep in md.entry_points(group=GROUP)}


def load(names: Sequence[str], pm: pluggy.PluginManager | None = None) -> Plugins:
    """Load ``names`` from entry points, in that order, and validate their hooks.

    Each plugin's WSNET_REQUIRES come just before it (logged); ``-NAME`` leaves the
    default plugin NAME out.  Raises PluginError naming an unknown, missing or
    broken plugin."""
    pm = pm or new_manager()
    wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    dropped = [n[1:] for n in wanted if n.startswith("-")]
    if both := [n for n in dropped if n in wanted]:
        raise PluginError(f"'{both[0]}' and '-{both[0]}': the plugin list names both")
    _drop_defaults(pm, dropped)
    # A default named as it is (`diag`) is loaded already: not an unknown plugin.
    names = [n for n in wanted if not n.startswith("-") and n not in DEFAULTS]
    added: dict[str, str] = {}
    if names:
        _check_known(names)
        names, added = with_requirements(names)
        mgr: NamedExtensionManager[Any] = NamedExtensionManager(
            GROUP,
            names,
            name_order=True,
            invoke_on_load=False,
            on_load_failure_callback=_load_failed,
            on_missing_entrypoints_callback=_missing,
        )
        for ext in mgr:
            _register(pm, ext.name, ext.plugin)
    _check_pending(pm)
    return Plugins(pm, names, added)


def _check_pending(pm: pluggy.PluginManager) -> None:
    """A ``wsnet_`` function that matches no hookspec stops start-up (a misspelt hook)."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin validation failed: {exc}") from None


def _drop_defaults(pm: pluggy.PluginManager, names: Iterable[str]) -> None:
    for name in names:
        if name not in DEFAULTS:
            raise PluginError(
                f"'-{name}': {name!r} is not a default plugin (defaults: {', '.join(DEFAULTS)})"
            )
        pm.unregister(name=f"builtin:{name}")


def with_requirements(names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """``names`` (installed) with every plugin they require, each required one first;
    and {each plugin added that way: the plugin that required it}."""
    known = installed()
    order: list[str] = []
    added: dict[str, str] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order or name in chain:  # done, or a cycle: each plugin loads once
            return
        if name not in known:
            dist = "wsnet-" + name.replace("_", "-")
            raise PluginError(f"plugin {chain[-1]!r} requires {name!r}, which is not installed"
                              f" (pip install {dist})")  # fmt: skip
        try:
            reqs = requirements(known[name])
        except PluginError as exc:
            if not chain:
                raise
            raise PluginError(f"plugin {chain[-1]!r} requires {name!r}: {exc}") from None
        for req in reqs:
            if req not in names:
                added.setdefault(req, name)
            visit(req, (*chain, name))
        order.append(name)

    for name in names:
        visit(name, ())
    return order, added


def requirements(ep: md.EntryPoint) -> tuple[str, ...]:
    """The plugin names in the WSNET_REQUIRES of ``ep``'s module (imports it)."""
    try:
        module = ep.load()
    except Exception as exc:  # the same message stevedore's load gives
        _load_failed(None, ep, exc)
    reqs = getattr(module, REQUIRES, ())
    if not isinstance(reqs, tuple | list) or not all(isinstance(r, str) for r in reqs):
        raise PluginError(f"plugin {ep.name!r}: {REQUIRES} must be a tuple of plugin names,"
                          f" got {reqs!r}")  # fmt: skip
    return tuple(reqs)


def _register(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r} is invalid: {exc}") from None
    except ValueError as exc:
        raise PluginError(f"plugin {name!r}: {exc}") from None


def _check_known(names: Iterable[str]) -> None:
    known = installed()
    unknown = [n for n in names if n not in known]
    if unknown:
        _missing(unknown)


def _missing(names: Iterable[str]) -> None:
    avail = ", ".join(sorted(installed())) or "none"
    raise PluginError(f"unknown plugin {', '.join(sorted(names))!s} (installed plugins: {avail})")


def _load_failed(manager: object, ep: md.EntryPoint, exc: BaseException) -> NoReturn:
    raise PluginError(
        f"plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
    ) from exc


def describe_installed() -> list[PluginInfo]:
    """Every installed plugin with version and the hooks it implements (imports each)."""
    out = []
    for name, ep in sorted(installed().items()):
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not hide the others
            out.append(
                PluginInfo(name, ep.value, dist, version, error=f"{type(exc).__name__}: {exc}")
            )
            continue
        out.append(PluginInfo(name, ep.value, dist, version, hook_names(module)))
    return out


def hook_names(module: object) -> tuple[str, ...]:
    return tuple(
        sorted(n for n in dir(module) if n.startswith("wsnet_") and callable(getattr(module, n)))
    )


@functools.cache
def method_providers() -> dict[str, str]:
    """{control method name: installed plugin whose module declares it in CONTROL_METHODS}.

    Imports every installed plugin once (a broken one is skipped), then answers from the
    cache: built on the first call of a method a node does not have."""
    providers: dict[str, str] = {}
    for name, ep in sorted(installed().items()):
        try:
            module = ep.load()
        except Exception:  # `wsnet plugins` names a broken plugin; a hint need not
            continue
        for method in getattr(module, METHODS_ATTR, ()):
            providers.setdefault(str(method), name)
    return providers
