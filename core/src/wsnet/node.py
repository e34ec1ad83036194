"""The node: registries filled by plugins, the set of links, routing, channels.

Listening (server.py), dialling (dialer.py) and the control API (control.py)
are separate modules; this one holds the state they share.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .adverts import Adverts
from .config import Config, DialConfig
from .errors import ChannelRefused, PluginError, WsnetError
from .events import (
    LinkDown,
    LinkRefused,
    LinkUp,
    NodeEvent,
    RoutesChanged,
)
from .hookcalls import plugin_name
from .interfaces import (
    ANONYMOUS,
    LINK,
    SCOPES,
    AuthDenied,
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
    WebSocketLike,
)
from .link import Link, LinkClosed
from .nodechannels import NodeChannels
from .plugins import Plugins
from .protocol import CloseCode, ResetCode
from .ratelog import Repeated
from .routing import RoutingTable
from .stash import Stash
from .tasks import cancel_and_wait
from .trust import claim_denial
from .tuning import release_memory

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("wsnet.node")
_observer_failures = Repeated(log, 10.0)
T = TypeVar("T")


class Node(NodeChannels):
    """One wsnet process's node.  Create, then ``await start()``; ``await aclose()`` ends it."""

    def __init__(self, config: Config, plugins: Plugins) -> None:
        self.config = config
        self.plugins = plugins
        self.name = config.name
        self.stash: Stash = config.stash
        self.capabilities: tuple[str, ...] = ("relay",)
        self.links: dict[int, Link] = {}
        self.routing = RoutingTable(self.name)
        self.services: dict[str, Service[Any]] = {}
        self.port_types: dict[str, type[Port]] = {}
        self.authenticators: list[Authenticator] = []
        self.transports: dict[str, Transport] = {}
        self.observers: list[Observer] = []
        self.control_methods: dict[str, ControlMethod] = {}
        self.components: list[Component] = []
        self.plugin_of: dict[int, str] = {}  # id(component or observer) -> plugin, for errors
        self.http_routes: dict[str, HttpRoute] = {}
        self.listen_url = ""
        self.control_url = ""
        # Set when the node shuts down: links whose task is cancelled close with this
        # reason (code 1001) instead of an empty one.
        self.closing_reason = ""
        self._link_ids = itertools.count(1)
        self._by_peer: dict[str, Link] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.adverts = Adverts(self)
        self._collect()

    # ------------------------------------------------------------- registries
    def _collect(self) -> None:
        # The objects go into a plugin manager of this node's own, not the shared one.
        self.plugins = self.plugins.with_objects(self.plugins.calls.node_plugin(self))
        calls = self.plugins.calls
        self.services = _unique(calls.register_services(self), lambda s: s.name, "service")
        self.port_types = _unique(calls.register_ports(self), lambda p: p.kind, "port kind")
        self.authenticators = calls.register_authenticators(self)
        for auth in self.authenticators:
            _check_scopes(auth)
        # In plugin order, so a later plugin's transport replaces an earlier one's scheme;
        # said once, as every link of that scheme (and its credentials) goes through it.
        owner: dict[str, str] = {}
        for who, tr in calls.register_transports(self):
            for scheme in tr.schemes:
                if scheme in owner:
                    log.warning("transport for %s:// of plugin %r replaces the one of plugin %r",
                                scheme, plugin_name(who), owner[scheme])  # fmt: skip
                self.transports[scheme], owner[scheme] = tr, plugin_name(who)
        observers = calls.register_observers(self)
        self.observers = [obs for _, obs in observers]
        self.control_methods = _unique(
            calls.register_control_methods(self), lambda m: m.name, "control method"
        )
        named = calls.register_components(self)
        self.components = [comp for _, comp in named]
        self.plugin_of = {id(obj): plugin_name(who) for who, obj in [*observers, *named]}
        self.http_routes = _unique(
            calls.register_http_routes(self), lambda r: f"{r.method} {r.path}", "HTTP route"
        )

    def metrics(self) -> list[Metric]:
        """Every plugin's metrics (the core's own from wsnet.builtin.metrics), read now."""
        return self.plugins.calls.collect_metrics(self)

    def authenticators_for(self, scope: str) -> list[Authenticator]:
        """The authenticators that apply to ``scope`` ("link" or "control"), in order."""
        return [auth for auth in self.authenticators if scope in auth.scopes]

    async def authenticate(
        self, request: web.Request, scope: str = LINK, *, what: str = ""
    ) -> Principal | AuthDenied:
        """The authenticator chain of ``scope`` on ``request`` (wsnet.authchain.check)."""
        from .authchain import check  # authchain imports this module

        return await check(self, request, scope, what)

    def emit(self, event: NodeEvent) -> None:
        for obs in self.observers:
            try:
                obs.notify(event)
            except Exception as exc:  # an observer must never break the node, nor its log
                who = self.plugin_of.get(id(obs), "?")
                _observer_failures.failed(
                    id(obs), f"plugin {who!r}: observer {type(obs).__name__} failed on "
                    f"{event.kind}", exc)  # fmt: skip

    def spawn(self, coro: Any, name: str = "") -> asyncio.Task[Any]:
        """Run a background task owned by the node (cancelled by aclose)."""
        task = asyncio.create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("task %s failed: %s", task.get_name(), exc, exc_info=exc)

    async def cancel_tasks(self) -> None:
        """Cancel the node's tasks and wait for them; a cancellation of the caller while it
        waits is re-raised once they ended (tasks.cancel_and_wait), never swallowed."""
        await cancel_and_wait(list(self._tasks))

    # ------------------------------------------------------------------ links
    async def serve_link(
        self,
        ws: WebSocketLike,
        *,
        initiator: bool,
        remote: str,
        principal: Principal = ANONYMOUS,
        expect_peer: str = "",
    ) -> Link:
        """Run one link from handshake to close; ``link.was_up`` tells if it came up."""
        link = Link(
            self,
            ws,
            link_id=next(self._link_ids),
            initiator=initiator,
            remote=remote,
            principal=principal,
        )
        try:
            hello = await link.handshake()
            self._admit(link, hello.node, expect_peer)
        except LinkClosed as exc:
            log.warning("link from %s refused: %s (code %s)", remote, exc.reason, exc.code)
            self.emit(LinkRefused(remote, exc.code, exc.reason))
            with contextlib.suppress(Exception):
                await link.close(exc.code, exc.reason)
            link.close_code, link.close_reason = exc.code, exc.reason
            return link
        self._link_up(link)
        try:
            await link.run()
        finally:
            self._link_down(link)
        return link

    def _admit(self, link: Link, peer: str, expect_peer: str) -> None:
        if peer == self.name:
            reason = f"duplicate node name: the peer also calls itself {peer!r}"
        elif denial := claim_denial(self, link, peer):
            # Before the duplicate check: a refused claimant learns nothing of who is linked.
            who = link.principal.name
            raise LinkClosed(CloseCode.NAME_NOT_GRANTED,
                             f"{who!r} may not claim the node name {peer!r}: {denial}")  # fmt: skip
        elif peer in self._by_peer:
            other = self._by_peer[peer]
            reason = (
                f"duplicate node name: {peer!r} is already linked (link {other.id} "
                f"from {other.remote})"
            )
        elif expect_peer and peer != expect_peer:
            reason = f"expected node {expect_peer!r}, the peer is {peer!r}"
        else:
            return
        raise LinkClosed(CloseCode.DUPLICATE_NODE, reason)

    def _link_up(self, link: Link) -> None:
        link.was_up = True
        self.links[link.id] = link
        self._by_peer[link.peer] = link
        changed = self.routing.link_up(link.id, link.peer)
        log.info("link %d up: %s (%s, %s)", link.id, link.peer, link.direction, link.remote)
        self.emit(LinkUp(link.peer, link.id, link.direction, link.remote, link.principal.name))
        self.adverts.advertise_to(link)  # the new peer needs our table now, not at the next slot
        self._routes_changed(changed)

    def _link_down(self, link: Link) -> None:
        self.links.pop(link.id, None)
        if self._by_peer.get(link.peer) is link:
            del self._by_peer[link.peer]
        self.adverts.forget(link)
        changed = self.routing.link_down(link.id)
        log.info(
            "link %d down: %s: %s (code %s)", link.id, link.peer, link.close_reason, link.close_code
        )
        self.emit(LinkDown(link.peer, link.id, link.close_code, link.close_reason))
        self._routes_changed(changed)
        # The link's buffers are free now; hand the heap back rather than keep it.
        asyncio.get_running_loop().call_soon(release_memory)

    def on_routes(self, link: Link, routes: dict[str, int]) -> None:
        """A peer's ROUTES: applied at most once per ``route_interval`` (adverts.py)."""
        self.adverts.received(link, routes)

    def apply_routes(self, link: Link, routes: dict[str, int]) -> None:
        """Install what ``link`` may advertise of ``routes`` (trust.filter_routes)."""
        # Re-advertise only on a change: answering every advert would ping-pong forever.
        if self.routing.update(link.id, self.adverts.admit(link, routes)):
            self._routes_changed(True)

    def _routes_changed(self, changed: bool) -> None:
        # A link that comes or goes always re-advertises (the new peer needs our
        # table); observers hear only of real changes.
        self.adverts.schedule()
        if changed:
            self.emit(RoutesChanged(self.routing.reachable()))

    def resolve(self, name: str) -> str:
        """The node a channel for ``name`` should go to: a plugin may map names (an HA
        group to its active member, wsnet_resolve_node); otherwise ``name`` itself.

        A plugin that raises fails this open only: ChannelRefused (UNREACHABLE) naming it."""
        try:
            return self.plugins.calls.resolve_node(self, name) or name
        except PluginError as exc:
            log.warning("cannot resolve %r: %s", name, exc)
            raise ChannelRefused(ResetCode.UNREACHABLE, f"cannot resolve {name!r}: {exc}") from None

    def reachable_nodes(self) -> tuple[str, ...]:
        """Every node name with a route, sorted."""
        return self.routing.reachable()

    def reachable(self, node: str) -> bool:
        """True if ``node`` has a route (is a peer or behind one)."""
        return self.routing.lookup(node) is not None

    def link(self, link_id: int) -> Link | None:
        """The link of that id, if it is up."""
        return self.links.get(link_id)

    def announce(self, capability: str) -> None:
        """Announce ``capability`` in this node's HELLO (call before links exist)."""
        if capability not in self.capabilities:
            self.capabilities += (capability,)

    def port_type(self, kind: str) -> type[Port] | None:
        """The port class registered for ``kind``."""
        return self.port_types.get(kind)

    def port_kinds(self) -> tuple[str, ...]:
        """Every registered port kind, sorted."""
        return tuple(sorted(self.port_types))

    def link_by_peer(self, peer: str) -> Link | None:
        """The direct link to ``peer``, if any."""
        return self._by_peer.get(peer)

    def link_to(self, node: str) -> Link:
        route = self.routing.lookup(node)
        if route is None or (link := self.links.get(route.link_id)) is None:
            raise ChannelRefused(ResetCode.UNREACHABLE, f"no route to node {node!r}")
        return link

    # ------------------------------------------------------------------- info
    def status(self) -> dict[str, Any]:
        return {
            "node": self.name,
            "listen": self.listen_url,
            "control": self.control_url,
            "links": len(self.links),
            "routes": len(self.routing.routes()),
            "plugins": list(self.plugins.names),
            "services": sorted(self.services),
        }


def _unique(items: list[tuple[str, T]], key: Callable[[T], str], what: str) -> dict[str, T]:
    """{key: item} of (plugin, item) pairs; a key two plugins provide names both."""
    out: dict[str, T] = {}
    owner: dict[str, str] = {}
    for plugin, item in items:
        k = key(item)
        if k in out:
            raise WsnetError(f"two plugins provide the {what} {k!r}: "
                             f"{plugin_name(owner[k])} and {plugin_name(plugin)}")  # fmt: skip
        out[k], owner[k] = item, plugin
    return out


def _check_scopes(auth: Authenticator) -> None:
    """A set of some of SCOPES: a tuple or a string would be compared wrongly, or raise."""
    scopes: object = getattr(auth, "scopes", None)
    if not (isinstance(scopes, set | frozenset) and scopes and scopes <= SCOPES):
        raise WsnetError(f"authenticator {getattr(auth, 'name', auth)!r}: scopes must be a "
                         f"frozenset of some of {sorted(SCOPES)}, got {scopes!r}")  # fmt: skip


__all__ = ["DialConfig", "Node"]
