"""``NodeAPI``: what a plugin may ask of the node it runs in.

Hooks receive the node; a plugin that annotates it as ``NodeAPI`` (exported by
``wsnet``) uses only what is listed here, which the core keeps stable.  Everything
else on ``wsnet.node.Node`` (links, the routing table, sessions) is the core's own
and may change.  A structural Protocol: ``Node`` implements it without inheriting,
and a test double can too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from .channel import DatagramChannel, StreamChannel
    from .config import Config
    from .events import NodeEvent
    from .interfaces import AuthDenied, Authenticator, Metric, Port, Principal
    from .protocol import Hello
    from .stash import Stash


class LinkAPI(Protocol):
    """One link as plugins see it: for a feature that works per direct neighbour (the L2
    switch's port per link).  Found with ``NodeAPI.link`` / ``link_by_peer`` from the
    ``link_id`` of ``LinkUp``; gone after ``LinkDown``."""

    @property
    def id(self) -> int:
        """This node's id of the link (``LinkUp.link_id``)."""

    @property
    def peer(self) -> str:
        """The node at the other end."""

    @property
    def hello(self) -> Hello | None:
        """The peer's HELLO (its limits and ``capabilities``), None before it arrived."""

    def open_datagram(self, service: str) -> DatagramChannel:
        """A datagram channel to the peer's ``service`` on this very link, at once (0-RTT;
        a refusal shows as the channel closing).  Raises ChannelError at the link's limits."""


class NodeAPI(Protocol):
    """The node as plugins see it (docs/plugins.md, "The node")."""

    @property
    def name(self) -> str:
        """This node's name ([node] name)."""

    @property
    def config(self) -> Config:
        """The parsed configuration; plugins keep what they parsed in ``config.stash``."""

    @property
    def stash(self) -> Stash:
        """Per-node state shared between a plugin's hooks (``config.stash``)."""

    @property
    def authenticators(self) -> list[Authenticator]:
        """The authenticator chain, in plugin order."""

    async def authenticate(
        self, request: web.Request, scope: str = "link", *, what: str = ""
    ) -> Principal | AuthDenied:
        """The authenticators of ``scope`` on an HTTP request, as the node's own listeners
        ask them: the first principal (ANONYMOUS when none applies), or the refusal to
        answer with (``raise denied.http_error()``).  The AuthFailure event and the log
        line ("WHAT from HOST:PORT (authenticator): reason") are done here."""

    def authorize(self, principal: Principal, action: str, target: str) -> str | None:
        """Why ``principal`` may not do ``action`` on ``target`` ([authz]), or None."""

    def resolve(self, name: str) -> str:
        """The node a channel for ``name`` goes to (wsnet_resolve_node), else ``name``.
        Raises ChannelRefused (UNREACHABLE) naming a plugin whose resolver failed."""

    def reachable(self, node: str) -> bool:
        """True if ``node`` has a route."""

    def reachable_nodes(self) -> tuple[str, ...]:
        """Every node name with a route, sorted."""

    async def open_stream(
        self,
        node: str,
        service: str,
        *,
        args: dict[str, Any] | None = None,
        wait: bool = True,
        source: str = "",
    ) -> StreamChannel:
        """A stream channel to ``service`` on ``node``; ChannelRefused says why not."""

    async def open_datagram(
        self,
        node: str,
        service: str,
        *,
        args: dict[str, Any] | None = None,
        wait: bool = True,
        source: str = "",
    ) -> DatagramChannel:
        """A datagram channel to ``service`` on ``node``; ChannelRefused says why not."""

    def link(self, link_id: int) -> LinkAPI | None:
        """The link of that id, if it is up."""

    def link_by_peer(self, peer: str) -> LinkAPI | None:
        """The direct link to ``peer``, if any."""

    def announce(self, capability: str) -> None:
        """Announce ``capability`` in this node's HELLO.  Call it from a register hook,
        before any link exists, so that every link sees it."""

    def port_type(self, kind: str) -> type[Port] | None:
        """The port class a plugin registered for ``kind`` (wsnet_register_ports)."""

    def port_kinds(self) -> tuple[str, ...]:
        """Every registered port kind, sorted."""

    def emit(self, event: NodeEvent) -> None:
        """Tell every observer (synchronously; observers must be quick)."""

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        """Run a background task owned by the node (cancelled when it stops)."""

    def metrics(self) -> list[Metric]:
        """The metrics of the core and every plugin, read now (wsnet_collect_metrics)."""
