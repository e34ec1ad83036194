"""Regression tests: relay ttl, hook result order, control errors, [[dial]] options.

No sockets: the relay runs a real Node and real Links over in-memory WebSockets,
with bare Sessions playing the two neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

import wsnet.config
from wsnet.config import Config, parse
from wsnet.control import INVALID_PARAMS, Dispatcher, RpcError, bind
from wsnet.errors import ConfigError
from wsnet.interfaces import (
    Authenticator,
    ChannelContext,
    Component,
    ControlMethod,
    DialedSocket,
    Observer,
    Principal,
    Service,
    Transport,
)
from wsnet.node import Node
from wsnet.plugins import Plugins, new_manager
from wsnet.protocol import (
    ChannelKind,
    ChannelRequested,
    ChannelReset,
    Event,
    HelloReceived,
    ResetCode,
    Session,
)
from wsnet.transport.ws import plugin as ws_transport
from wsnet.transport.ws.options import DialOptions
from wsnet.transport.ws.tls import client_ssl
from wsnet.transport.ws.transport import WsTransport

# ---------------------------------------------------------------- bug 1: ttl


def test_session_open_carries_the_given_ttl() -> None:
    a = Session(node="a", initiator=True)
    b = Session(node="b", initiator=False)
    for src, dst in ((a, b), (b, a)):
        for msg in src.data_to_send():
            dst.receive_message(msg)
    a.open_channel(ChannelKind.STREAM, "echo", dst="c", ttl=3)
    events = [ev for msg in a.data_to_send() for ev in b.receive_message(msg)]
    (req,) = events
    assert isinstance(req, ChannelRequested)
    assert (req.request.ttl, req.request.dst, req.request.src) == (3, "c", "a")


class MemoryWebSocket:
    """One end of an in-memory WebSocket: what it sends, its peer receives, in order."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[aiohttp.WSMessage] = asyncio.Queue()
        self.peer: MemoryWebSocket | None = None
        self._close_code: int | None = None

    @classmethod
    def pair(cls) -> tuple[MemoryWebSocket, MemoryWebSocket]:
        x, y = cls(), cls()
        x.peer, y.peer = y, x
        return x, y

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        if self._close_code is not None:
            raise ConnectionResetError("closed")
        assert self.peer is not None
        self.peer.inbox.put_nowait(aiohttp.WSMessage(aiohttp.WSMsgType.BINARY, bytes(data), None))

    async def receive(self, timeout: float | None = None) -> aiohttp.WSMessage:
        msg = await self.inbox.get()
        if msg.type == aiohttp.WSMsgType.CLOSE and self._close_code is None:
            self._close_code = int(msg.data)
        return msg

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        if self._close_code is not None:
            return False
        self._close_code = code
        assert self.peer is not None
        close = aiohttp.WSMessage(aiohttp.WSMsgType.CLOSE, code, message.decode())
        self.peer.inbox.put_nowait(close)
        self.inbox.put_nowait(aiohttp.WSMessage(aiohttp.WSMsgType.CLOSED, None, None))
        return True

    @property
    def close_code(self) -> int | None:
        return self._close_code


class Neighbour:
    """A bare Session linked to the node under test through a MemoryWebSocket."""

    def __init__(self, name: str, node: Node) -> None:
        self.session = Session(node=name, initiator=True)
        self.ws, node_end = MemoryWebSocket.pair()
        self.task = asyncio.create_task(
            node.serve_link(node_end, initiator=False, remote=f"mem:{name}")
        )
        self.events: list[Event] = []

    async def flush(self) -> None:
        for msg in self.session.data_to_send():
            await self.ws.send_bytes(msg)

    async def wait_for(self, kind: type[Event], timeout: float = 5.0) -> Any:
        """Receive until an event of ``kind`` arrives; returns it."""
        async with asyncio.timeout(timeout):
            while True:
                for i, ev in enumerate(self.events):
                    if isinstance(ev, kind):
                        return self.events.pop(i)
                msg = await self.ws.receive()
                assert msg.type == aiohttp.WSMsgType.BINARY, msg
                self.events += self.session.receive_message(msg.data)
                await self.flush()  # answers (HELLO, PONG) go straight back

    async def close(self) -> None:
        await self.ws.close(code=1000, message=b"test over")
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.task


def bare_node(name: str) -> Node:
    return Node(Config(name=name), Plugins(new_manager(), []))


async def relay_setup() -> tuple[Node, Neighbour, Neighbour]:
    node = bare_node("b")
    a, c = Neighbour("a", node), Neighbour("c", node)
    for n in (a, c):
        await n.flush()
        await n.wait_for(HelloReceived)
    async with asyncio.timeout(5):
        # The node's routing table has no event to wait on; poll it (bounded by the timeout).
        while node.routing.lookup("c") is None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return node, a, c


async def test_relay_passes_ttl_minus_one_onward() -> None:
    node, a, c = await relay_setup()
    try:
        a.session.open_channel(ChannelKind.STREAM, "echo", dst="c", ttl=5)
        await a.flush()
        req = await c.wait_for(ChannelRequested)
        assert req.request.ttl == 4  # was 16 whatever came in
        assert (req.request.src, req.request.dst, req.request.service) == ("a", "", "echo")
    finally:
        await a.close()
        await c.close()
        await node.cancel_tasks()


async def test_relay_refuses_an_open_whose_ttl_is_spent() -> None:
    node, a, c = await relay_setup()
    try:
        cid = a.session.open_channel(ChannelKind.STREAM, "echo", dst="c", ttl=1)
        await a.flush()
        reset = await a.wait_for(ChannelReset)
        assert reset.channel == cid
        assert reset.code == ResetCode.UNREACHABLE
        assert "ttl exceeded at 'b'" in reset.reason
        assert not [ev for ev in c.events if isinstance(ev, ChannelRequested)]
    finally:
        await a.close()
        await c.close()
        await node.cancel_tasks()


# --------------------------------------------------------- bug 2: hook order


class NamedService(Service):
    kind = ChannelKind.STREAM

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]

    async def handle(self, channel: Any, ctx: ChannelContext) -> None:
        return None


class TagObserver(Observer):
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def notify(self, event: Any) -> None:
        return None


class TagComponent(Component):
    def __init__(self, tag: str) -> None:
        self.tag = tag


class TagAuthenticator(Authenticator):
    def __init__(self, tag: str) -> None:
        self.name = tag  # type: ignore[misc]

    async def authenticate(self, request: Any) -> Principal | None:
        return None


class TagTransport(Transport):
    def __init__(self, tag: str, schemes: tuple[str, ...]) -> None:
        self.tag = tag
        self.schemes = schemes  # type: ignore[misc]

    async def dial(self, url: str, options: Mapping[str, Any]) -> DialedSocket:
        raise OSError("not dialable")


def make_plugin(tag: str, schemes: tuple[str, ...]) -> SimpleNamespace:
    """A plugin object with two items per list hook, so order inside a plugin shows too."""

    async def handler() -> str:
        return tag

    def services(node: Node) -> Iterable[Service]:
        return [NamedService(f"{tag}-1"), NamedService(f"{tag}-2")]

    def observers(node: Node) -> Iterable[Observer]:
        return [TagObserver(f"{tag}-1"), TagObserver(f"{tag}-2")]

    def components(node: Node) -> Iterable[Component]:
        return [TagComponent(f"{tag}-1"), TagComponent(f"{tag}-2")]

    def authenticators(node: Node) -> Iterable[Authenticator]:
        return [TagAuthenticator(f"{tag}-1"), TagAuthenticator(f"{tag}-2")]

    def transports(node: Node) -> Iterable[Transport]:
        return [TagTransport(tag, schemes)]

    def control_methods(node: Node) -> Iterable[ControlMethod]:
        return [ControlMethod(f"{tag}-m1", handler), ControlMethod(f"{tag}-m2", handler)]

    return SimpleNamespace(
        wsnet_register_services=services,
        wsnet_register_observers=observers,
        wsnet_register_components=components,
        wsnet_register_authenticators=authenticators,
        wsnet_register_transports=transports,
        wsnet_register_control_methods=control_methods,
    )


def ordered_node() -> Node:
    pm = new_manager()  # the builtin modules, registered first
    pm.register(make_plugin("first", ("mem", "ws")), name="first")
    pm.register(make_plugin("second", ("mem",)), name="second")
    return Node(Config(name="n"), Plugins(pm, ["first", "second"]))


def test_list_hooks_come_in_plugin_load_order() -> None:
    node = ordered_node()
    # The one builtin observer is wsnet.builtin.metrics's per-node object (it counts
    # events); no builtin module has components (the switch is a plugin now).
    observers = [o for o in node.observers if type(o).__name__ != "CoreMetrics"]
    assert len(observers) == len(node.observers) - 1
    assert [o.tag for o in observers] == ["first-1", "first-2", "second-1", "second-2"]
    assert [c.tag for c in node.components] == ["first-1", "first-2", "second-1", "second-2"]
    assert [a.name for a in node.authenticators] == ["first-1", "first-2", "second-1", "second-2"]


def test_keyed_hooks_are_filled_in_plugin_load_order() -> None:
    node = ordered_node()
    services = list(node.services)
    assert services[-4:] == ["first-1", "first-2", "second-1", "second-2"]
    assert {"echo", "sink"} <= set(services[:-4])  # builtin diag services come first
    methods = list(node.control_methods)
    assert methods[-4:] == ["first-m1", "first-m2", "second-m1", "second-m2"]
    assert "ping" in methods[:-4]


def test_later_plugins_override_earlier_transports() -> None:
    node = ordered_node()
    mem, ws, wss = (node.transports[s] for s in ("mem", "ws", "wss"))
    assert isinstance(mem, TagTransport) and mem.tag == "second"  # second beats first
    assert isinstance(ws, TagTransport) and ws.tag == "first"  # a plugin beats the builtin
    assert isinstance(wss, WsTransport)  # nobody overrode it


# ------------------------------------------------- bug 3: control error text


async def needs_node(node: str, count: int = 4) -> str:
    return node


def test_bind_errors_do_not_repeat_the_method_name() -> None:
    method = ControlMethod("ping", needs_node)
    cases: list[tuple[Any, str]] = [
        ({}, "missing parameter 'node'"),
        (["a", 1, 2], "takes at most 2 arguments (node, count)"),
        ({"node": "a", "cnt": 1}, "unknown parameter 'cnt' (takes: node, count)"),
    ]
    for params, message in cases:
        with pytest.raises(RpcError) as info:
            bind(method, params)
        assert info.value.code == INVALID_PARAMS
        assert info.value.message == message  # ctl prefixes "ping: " itself


async def test_dispatcher_error_has_no_method_prefix() -> None:
    reply = await Dispatcher({"ping": ControlMethod("ping", needs_node)}).handle(
        b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}}'
    )
    assert reply["error"] == {"code": INVALID_PARAMS, "message": "missing parameter 'node'"}


# --------------------------------------------- bug 4: [[dial]] ca_file, keys


def test_missing_ca_file_is_a_config_error_naming_entry_option_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "ca.pem"
    cfg = parse(
        {"dial": [{"url": "ws://h:1/wsnet"}, {"url": "wss://h:2/wsnet", "ca_file": str(missing)}]},
        "site.toml",
    )
    with pytest.raises(ConfigError) as info:
        ws_transport.wsnet_configure(cfg)
    assert str(info.value) == (
        f"site.toml: [[dial]] #2 ca_file: '{missing}': No such file or directory"
    )


def test_ca_file_that_is_no_pem_bundle_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cfg = parse({"dial": [{"url": "wss://h:2/wsnet", "ca_file": str(junk)}]}, "site.toml")
    with pytest.raises(ConfigError, match=r"\[\[dial\]\] #1 ca_file: '.*junk.pem': not a PEM"):
        ws_transport.wsnet_configure(cfg)


def test_dial_option_types_are_checked_at_configure() -> None:
    cfg = parse({"dial": [{"url": "wss://h:2/wsnet", "insecure": "yes"}]}, "site.toml")
    with pytest.raises(ConfigError, match=r"\[\[dial\]\] #1 insecure: expected true or false"):
        ws_transport.wsnet_configure(cfg)


def test_valid_ca_file_passes_configure_and_builds_a_verifying_context(tmp_path: Path) -> None:
    import certifi

    cfg = parse({"dial": [{"url": "wss://h:2/wsnet", "ca_file": certifi.where()}]}, "s.toml")
    ws_transport.wsnet_configure(cfg)
    cfg.check_unclaimed([], [])
    ctx = client_ssl(DialOptions.of(cfg.dial[0].options))
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED


def test_dial_time_ca_error_names_the_option(tmp_path: Path) -> None:
    # `addport client URL ca_file=...` skips wsnet_configure: the dial error must still say it.
    missing = tmp_path / "ca.pem"
    with pytest.raises(ValueError, match=r"^ca_file ") as info:
        client_ssl(DialOptions(ca_file=str(missing)))
    assert str(info.value) == f"ca_file '{missing}': No such file or directory"


def test_unknown_dial_option_is_rejected_with_the_known_keys() -> None:
    cfg = parse({"dial": [{"url": "ws://h:1/wsnet", "cafile": "/x"}]}, "site.toml")
    assert cfg.dial[0].options == {"cafile": "/x"}
    with pytest.raises(ConfigError) as info:
        cfg.check_unclaimed([], [])
    assert str(info.value) == (
        "site.toml: [[dial]] #1 cafile: unknown key "
        "(known keys here: ca_file, cert_file, handshake_timeout, headers, insecure, key_file, "
        "password, password_file, peer, proxy, url, user)"
    )


def test_a_plugin_can_add_dial_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wsnet.config, "DIAL_OPTIONS", {*wsnet.config.DIAL_OPTIONS, "proxy"})
    cfg = parse({"dial": [{"url": "mem://x", "proxy": "p"}]}, "site.toml")
    cfg.check_unclaimed([], [])
    assert cfg.dial[0].options == {"proxy": "p"}


# ---------------------------------------------------- bug 5: [dial] as a table


def test_dial_written_as_a_table_says_so_with_brackets() -> None:
    with pytest.raises(ConfigError) as info:
        parse({"dial": {"url": "ws://x"}}, "b25.toml")
    assert str(info.value) == (
        "b25.toml: [dial]: expected an array of tables ([[dial]]), got a table"
    )


def test_dial_of_the_wrong_type_names_the_table() -> None:
    with pytest.raises(ConfigError, match=r"^f.toml: \[dial\]: expected an array of tables"):
        parse({"dial": 5}, "f.toml")
    with pytest.raises(ConfigError, match=r"entry #1: expected a table, got 5"):
        parse({"dial": [5]}, "f.toml")


# -------------------------------------------- bug 6: shutdown close reason


async def test_cancelled_link_closes_with_the_node_closing_reason() -> None:
    node, a, c = await relay_setup()
    try:
        node.closing_reason = "node b shutting down"
        # A dialled link runs inside a node task; cancel it as Runtime.aclose does.
        a.task.cancel()
        async with asyncio.timeout(5):
            while True:
                msg = await a.ws.receive()
                if msg.type == aiohttp.WSMsgType.CLOSE:
                    break
        assert (msg.data, msg.extra) == (1001, "node b shutting down")
    finally:
        await c.close()
        await node.cancel_tasks()
