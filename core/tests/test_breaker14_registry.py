"""Several nodes from one Plugins (tests and programs embedding nodes build them so): each
node's per-node objects are its own (issue 14, wsnet_node_plugin); bad authenticator
scopes are one line."""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import Any

import pytest

from wsnet import Authenticator, ChannelContext, NodeAPI, Principal, StreamChannel, StreamService
from wsnet.config import Config
from wsnet.errors import WsnetError
from wsnet.node import Node
from wsnet.plugins import Plugins, new_manager


class Greet(StreamService):
    name = "greet"

    async def handle(self, channel: StreamChannel, ctx: ChannelContext) -> None:
        channel.write_eof()


class PerNode:
    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        self.asked: list[str] = []

    def wsnet_register_services(self) -> Iterable[StreamService]:
        return [Greet()]

    def wsnet_resolve_node(self, name: str) -> str | None:
        self.asked.append(name)
        return f"{self.node.name}-{name}"


def _plugins(**hooks: Any) -> Plugins:
    module = types.ModuleType("greeter")
    for hook, fn in hooks.items():
        setattr(module, hook, fn)
    pm = new_manager()
    pm.register(module, name="greeter")
    return Plugins(pm, ["greeter"])


def test_two_nodes_from_one_plugins_each_have_their_own_object() -> None:
    plugins = _plugins(wsnet_node_plugin=PerNode)
    a = Node(Config(name="a"), plugins)
    b = Node(Config(name="b"), plugins)  # was: "Plugin name already registered: greeter:node"
    assert set(a.services) == set(b.services) == {"echo", "sink", "greet"}
    # Each node's hooks are answered by its own object only.
    assert a.resolve("x") == "a-x"
    assert b.resolve("x") == "b-x"
    # A third node, still from the same Plugins: nothing of a's or b's leaks in.
    c = Node(Config(name="c"), plugins)
    assert c.resolve("y") == "c-y"
    assert [n for n, _ in plugins.pm.list_name_plugin() if n.endswith(":node")] == []


class _Auth(Authenticator):
    name = "odd"

    async def authenticate(self, request: Any) -> Principal | None:
        return None


@pytest.mark.parametrize("scopes", [("link", "control"), ["control"], "control", frozenset()])
def test_authenticator_scopes_that_are_not_a_set_are_one_line(scopes: Any) -> None:
    auth = _Auth()
    auth.scopes = scopes
    with pytest.raises(WsnetError) as info:
        Node(Config(name="n"), _plugins(wsnet_register_authenticators=lambda: [auth]))
    assert str(info.value) == (
        f"authenticator 'odd': scopes must be a frozenset of some of ['control', 'link'], "
        f"got {scopes!r}"
    )
