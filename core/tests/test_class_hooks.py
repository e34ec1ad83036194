"""A class as a hook implementation (``wsnet_node_plugin = MyPlugin``), as docs/plugins.md
offers it: pluggy 1.7 refuses a class, so the manager registers a shim (wsnet.hookshim)
that takes the class's parameters, returns the instance and still names the real plugin.
Checked under pluggy 1.5, 1.6 and 1.7."""

from __future__ import annotations

import types
from typing import Any

import pluggy
import pytest

import wsnet
from wsnet import NodeAPI
from wsnet.config import Config
from wsnet.errors import PluginError
from wsnet.node import Node
from wsnet.plugins import Plugins, _register, new_manager


class Reloaded:
    """wsnet_reload's parameters in the other order: pluggy passes them by name."""

    def __init__(self, config: Config, node: NodeAPI, extra: int = 5) -> None:
        self.config, self.node, self.extra = config, node, extra


class PerNode:
    made: list[PerNode] = []

    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        PerNode.made.append(self)

    def wsnet_resolve_node(self, name: str) -> str:
        return f"{self.node.name}-{name}"


def _module(name: str, **hooks: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook, value in hooks.items():
        setattr(module, hook, value)
    return module


def test_a_class_hook_is_called_with_its_arguments_and_returns_the_instance() -> None:
    module = _module("greeter", wsnet_node_plugin=PerNode, wsnet_reload=Reloaded)
    pm = new_manager()
    assert pm.register(module, name="greeter") == "greeter"
    plugins = Plugins(pm, ["greeter"])
    PerNode.made.clear()
    node = Node(Config(name="a"), plugins)
    (made,) = PerNode.made
    assert made.node is node and node.resolve("x") == "a-x"  # the instance's hooks answer
    config = Config(name="a")
    # Through HookCalls (keyword arguments) and through pluggy's own call (positional).
    ((_, result),) = [r for r in plugins.calls.reload(node, config) if r[0] == "greeter"]
    (direct,) = [r for r in pm.hook.wsnet_reload(node=node, config=config) if type(r) is Reloaded]
    for got in (result, direct):
        assert isinstance(got, Reloaded)
        assert (got.config, got.node, got.extra) == (config, node, 5)
    # Everything that reports the plugin names the real one.
    assert dict(plugins.modules())["greeter"] is module
    assert pm.get_plugin("greeter") is not None
    impls = pm.hook.wsnet_reload.get_hookimpls()
    assert [i.plugin_name for i in impls if repr(i.plugin) == repr(module)] == ["greeter"]
    pm.unregister(module)  # by the plugin itself, as pluggy allows for any plugin
    assert pm.get_plugin("greeter") is None


def test_ordering_options_on_the_class_are_kept() -> None:
    marked = wsnet.hookimpl(tryfirst=True)(type("Marked", (Reloaded,), {}))
    pm = new_manager()
    pm.register(_module("first", wsnet_reload=marked), name="first")
    (impl,) = [i for i in pm.hook.wsnet_reload.get_hookimpls() if i.plugin_name == "first"]
    assert impl.tryfirst


def test_a_wrong_parameter_names_the_plugin_and_the_class_parameter() -> None:
    class Misspelt:
        def __init__(self, nod: NodeAPI) -> None:
            self.nod = nod

    pm = new_manager()
    with pytest.raises(PluginError) as info:
        _register(pm, "greeter", _module("greeter", wsnet_node_plugin=Misspelt))
    assert "plugin 'greeter' is invalid" in str(info.value)
    assert "definition: Misspelt(nod: 'NodeAPI')" in str(info.value)  # the class, as on 1.6


def test_an_unknown_class_hook_names_the_module() -> None:
    pm = new_manager()
    pm.register(_module("greeter", wsnet_nod_plugin=PerNode), name="greeter")
    with pytest.raises(pluggy.PluginValidationError) as info:
        pm.check_pending()
    assert "wsnet_nod_plugin" in str(info.value) and "<module 'greeter'>" in str(info.value)


def test_the_same_plugin_twice_is_refused_as_pluggy_refuses_any() -> None:
    module = _module("greeter", wsnet_node_plugin=PerNode)
    pm = new_manager()
    _register(pm, "greeter", module)
    with pytest.raises(PluginError, match="already registered"):
        _register(pm, "other", module)
