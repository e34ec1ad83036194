"""The registration model: a plugin's per-node object is created once and hooked in once
(wsnet_node_plugin), and a clash of two plugins names both (issue 14)."""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import Any

import pytest

from wsnet import ChannelContext, ControlMethod, NodeAPI, StreamChannel, StreamService
from wsnet.config import Config
from wsnet.errors import WsnetError
from wsnet.node import Node
from wsnet.plugins import Plugins, new_manager


class Hello(StreamService):
    name = "hello"

    async def handle(self, channel: StreamChannel, ctx: ChannelContext) -> None:
        channel.write_eof()


class HelloPlugin:
    made: list[HelloPlugin] = []

    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        self.calls: list[str] = []
        HelloPlugin.made.append(self)

    def wsnet_register_services(self) -> Iterable[StreamService]:
        self.calls.append("services")
        return [Hello()]

    def wsnet_register_control_methods(self, node: NodeAPI) -> Iterable[ControlMethod]:
        self.calls.append(f"methods of {node.name}")  # the spec's parameter, if it wants it

        async def hello() -> str:
            return f"hello from {self.node.name}"

        return [ControlMethod("hello", hello, "say hello")]


def _module(name: str, **hooks: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, fn)
    return module


def _node(*modules: types.ModuleType) -> Node:
    pm = new_manager()
    for m in modules:
        pm.register(m, name=m.__name__)
    return Node(Config(name="n"), Plugins(pm, [m.__name__ for m in modules]))


async def test_the_object_is_made_once_and_its_methods_are_hooks() -> None:
    HelloPlugin.made.clear()
    node = _node(_module("hello", wsnet_node_plugin=lambda node: HelloPlugin(node)))
    (obj,) = HelloPlugin.made
    assert obj.node is node
    assert obj.calls == ["services", "methods of n"]
    assert "hello" in node.services and "echo" in node.services  # beside the built-ins
    assert await node.control_methods["hello"].handler() == "hello from n"
    other = _node(_module("hello", wsnet_node_plugin=lambda node: HelloPlugin(node)))
    assert len(HelloPlugin.made) == 2 and HelloPlugin.made[1].node is other  # one per node


def test_a_plugin_without_an_object_adds_nothing() -> None:
    node = _node(_module("quiet", wsnet_node_plugin=lambda node: None))
    assert set(node.services) == {"echo", "sink"}


async def _noop() -> None:
    return None


@pytest.mark.parametrize(
    ("hook", "item", "message"),
    [
        ("wsnet_register_services", Hello(), "two plugins provide the service 'hello': a and b"),
        (
            "wsnet_register_control_methods",
            ControlMethod("ping", _noop, ""),
            "two plugins provide the control method 'ping': diag and b",
        ),
    ],
)
def test_a_clash_names_both_plugins(hook: str, item: Any, message: str) -> None:
    a = _module("a", **{hook: lambda: [item]}) if hook.endswith("services") else None
    b = _module("b", **{hook: lambda: [item]})
    with pytest.raises(WsnetError) as info:
        _node(*(m for m in (a, b) if m is not None))
    assert str(info.value) == message
