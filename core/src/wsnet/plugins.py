"""Plugin manager: stevedore finds entry points, pluggy registers and calls them.

Built-in parts of the core are plugin modules too (BUILTIN), registered first,
so they use exactly the hooks third-party plugins use.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy
from stevedore import NamedExtensionManager

from . import hookspecs
from .errors import PluginError

GROUP = "wsnet.plugins"
BUILTIN = (
    "wsnet.builtin.authz",
    "wsnet.builtin.core_methods",
    "wsnet.builtin.diag",
    "wsnet.builtin.switch",
    "wsnet.builtin.ws_transport",
)


class _Manager(pluggy.PluginManager):
    """Accepts unmarked module functions named wsnet_*, as pytest does for pytest_*."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("wsnet_") and inspect.isroutine(getattr(plugin, name)):
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

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def modules(self) -> list[tuple[str, object]]:
        return [(n or "?", p) for n, p in self.pm.list_name_plugin()]


def new_manager() -> pluggy.PluginManager:
    pm = _Manager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for modname in BUILTIN:
        pm.register(importlib.import_module(modname), name=f"builtin:{modname.rsplit('.', 1)[1]}")
    return pm


def installed() -> dict[str, md.EntryPoint]:
    return {ep.name: ep for ep in md.entry_points(group=GROUP)}


def load(names: Sequence[str], pm: pluggy.PluginManager | None = None) -> Plugins:
    """Load exactly ``names`` from entry points, in that order, and validate their hooks."""
    pm = pm or new_manager()
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if names:
        _check_known(names)
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
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin validation failed: {exc}") from None
    return Plugins(pm, names)


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


def _load_failed(manager: object, ep: md.EntryPoint, exc: BaseException) -> None:
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
