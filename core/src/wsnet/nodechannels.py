"""The node's channels: opening them, answering the peer's OPEN (serve, relay or refuse),
and the checks that decide it.  A mixin of ``wsnet.node.Node`` (its methods take the node
as ``self``), kept apart to keep each file small; the state is the node's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .channel import Channel, DatagramChannel, Endpoint, StreamChannel
from .errors import ChannelRefused
from .events import ChannelClosed, ChannelOpened, NodeEvent
from .interfaces import ChannelContext, Observer, Principal, Service
from .protocol import ChannelError, ChannelKind, CloseCode, OpenRequest, ResetCode
from .relay import relay_channel
from .trust import claim_denial, first_hop, origin

if TYPE_CHECKING:
    from .link import Link
    from .node import Node
    from .plugins import Plugins

log = logging.getLogger("wsnet.node")
C = TypeVar("C", bound=Channel)


class NodeChannels:
    """Node methods about channels (see the module docstring); the attributes and methods
    declared here are the Node's."""

    name: str
    services: dict[str, Service[Any]]
    plugins: Plugins
    observers: list[Observer]
    links: dict[int, Link]

    def link_to(self, node: str) -> Link:
        raise NotImplementedError

    def spawn(self, coro: Any, name: str = "") -> asyncio.Task[Any]:
        raise NotImplementedError

    def emit(self, event: NodeEvent) -> None:
        raise NotImplementedError

    @property
    def _node(self) -> Node:
        return cast("Node", self)

    async def open_channel(
        self,
        node: str,
        service: str,
        *,
        kind: ChannelKind = ChannelKind.STREAM,
        args: dict[str, Any] | None = None,
        wait: bool = True,
        source: str = "",
    ) -> Channel:
        """Open a channel to ``service`` on ``node`` (any node in the routing table).

        With ``wait`` the call returns once the far end accepted, or raises
        ChannelRefused with its reason; without, data may be sent at once.
        ``source`` names who holds it (e.g. ``tcp:web`` for a tunnel) for the
        per-source channel limit of the link; the default is the service.
        """
        link = self.link_to(node)
        dst = "" if node == link.peer else node
        try:
            ch = link.open(kind, service, dst=dst, args=args, source=source)
        except ChannelError as exc:
            raise ChannelRefused(ResetCode.TOO_MANY_CHANNELS, str(exc)) from None
        if wait:
            await ch.wait_accepted()
        return ch

    async def open_stream(
        self,
        node: str,
        service: str,
        *,
        args: dict[str, Any] | None = None,
        wait: bool = True,
        source: str = "",
    ) -> StreamChannel:
        """A stream channel to ``service`` on ``node``: open_channel, typed."""
        return await self._open_as(StreamChannel, ChannelKind.STREAM, node, service,
                                   args=args, wait=wait, source=source)  # fmt: skip

    async def open_datagram(
        self,
        node: str,
        service: str,
        *,
        args: dict[str, Any] | None = None,
        wait: bool = True,
        source: str = "",
    ) -> DatagramChannel:
        """A datagram channel to ``service`` on ``node``: open_channel, typed."""
        return await self._open_as(DatagramChannel, ChannelKind.DATAGRAM, node, service,
                                   args=args, wait=wait, source=source)  # fmt: skip

    async def _open_as(
        self,
        cls: type[C],
        kind: ChannelKind,
        node: str,
        service: str,
        *,
        args: dict[str, Any] | None,
        wait: bool,
        source: str,
    ) -> C:
        ch = await self.open_channel(node, service, kind=kind, args=args, wait=wait, source=source)
        if not isinstance(ch, cls):  # open_channel makes the kind it was asked for
            raise TypeError(f"expected a {kind.name.lower()} channel, got {type(ch).__name__}")
        return ch

    def on_channel_request(self, link: Link, cid: int, req: OpenRequest) -> None:
        """Answer the peer's OPEN: relay it, refuse it, or start the service on it.

        Runs inside the dispatch of the message that carried the OPEN, so that the
        channel exists before the frames behind it (0-RTT data, FIN, RESET) arrive.
        """
        principal = origin(self._node, link, req)
        if req.dst and req.dst != self.name:
            code, reason = self._check_relay(link, req, principal)
            if code is None:
                relay_channel(self._node, link, cid, req, principal.name)
                return
        else:
            code, reason = self._check_request(req, principal)
        if code == ResetCode.DENIED:
            log.warning("link %d (%s): refused a channel: %s", link.id, link.peer, reason)
        if code is not None:
            link.session.stats.opens_refused[code] += 1
            link.session.reset(cid, code, reason)
            return
        service = self.services[req.service]
        if not link.session.accept(cid):
            return  # the peer reset it in the same message: nothing to serve
        ch = link.new_channel(cid, req, local=False)
        self.on_channel_opened(link, cid, req.service, req.src or link.peer)
        ctx = ChannelContext(req, link.peer, principal)
        self.spawn(self._serve_channel(service, ch, ctx), name=f"svc-{req.service}-{cid}")

    def _check_relay(
        self, link: Link, req: OpenRequest, principal: Principal
    ) -> tuple[int | None, str]:
        """The whole request checked where it enters the mesh: destination, service and
        (when a plugin here can read its arguments) what it narrows to."""
        if not first_hop(link, principal):
            return None, ""  # a trusted relay checked it; the destination checks it again
        target = f"{req.service}@{req.dst}"
        denial = self.authorize(principal, "open", target)
        if denial:
            return ResetCode.DENIED, f"{principal.name!r} may not open {target!r}: {denial}"
        narrowed = self.plugins.calls.check_relay(self._node, principal, req)
        if narrowed:
            return ResetCode.DENIED, narrowed
        if narrowed is None and req.service not in self.services:
            # Nothing here can read what the request narrows to, and `tcp:web@inner` admits
            # `tcp@inner` only for the service to narrow it: demand a grant of all of it.
            whole = f"{req.service}:*@{req.dst}"
            if denial := self.authorize(principal, "open", whole):
                return ResetCode.DENIED, (
                    f"{principal.name!r} may not open {target!r} through {self.name!r}: no "
                    f"plugin here reads what {req.service!r} narrows to, which needs a grant "
                    f"of {whole!r}: {denial}"
                )
        return None, ""

    def recheck_claims(self) -> None:
        """Close the links whose principal may no longer claim their name (after SIGHUP)."""
        for link in list(self.links.values()):
            if denial := claim_denial(self._node, link, link.peer):
                who = link.principal.name
                reason = f"{who!r} may no longer claim the node name {link.peer!r}: {denial}"
                log.warning("link %d (%s): %s", link.id, link.peer, reason)
                self.spawn(link.close(CloseCode.NAME_NOT_GRANTED, reason), name="unclaim")

    def _check_request(self, req: OpenRequest, principal: Principal) -> tuple[int | None, str]:
        service = self.services.get(req.service)
        if service is None:
            return ResetCode.NO_SERVICE, f"node {self.name!r} has no service {req.service!r}"
        if service.kind != req.kind:
            return (
                ResetCode.BAD_REQUEST,
                f"service {req.service!r} takes {service.kind.name} channels",
            )
        denial = self.authorize(principal, "open", req.service)
        if denial:
            return ResetCode.DENIED, f"{principal.name!r} may not open {req.service!r}: {denial}"
        return None, ""

    def authorize(self, principal: Principal, action: str, target: str) -> str | None:
        """Why ``principal`` may not do ``action`` on ``target``, or None when it may.

        Services call this to narrow the core's per-service check, e.g.
        ``("open", "tcp:ssh")`` for one tunnel of the tcp service.
        """
        return self.plugins.calls.authorize(self._node, principal, action, target) or None

    async def _serve_channel(self, service: Service[Any], ch: Channel, ctx: ChannelContext) -> None:
        try:
            await service.handle(ch, ctx)
        except ChannelRefused:
            pass  # the peer reset it or the link died: nothing left to report
        except Exception as exc:
            log.exception("service %s failed on channel %d", service.name, ch.id)
            ch.abort(ResetCode.SERVICE_ERROR, f"service {service.name!r} failed: {exc}")
        finally:
            ch.close()

    def on_channel_opened(self, link: Link, cid: int, service: str, origin: str) -> None:
        """A channel (or relay end) now exists on ``link``: ChannelOpened, paired with the
        ChannelClosed of on_channel_closed."""
        if self.observers:
            self.emit(ChannelOpened(link.peer, cid, service, origin))

    def on_channel_closed(self, link: Link, ch: Endpoint, reason: str) -> None:
        if self.observers:
            self.emit(
                ChannelClosed(
                    link.peer, ch.id, ch.request.service, ch.bytes_in, ch.bytes_out, reason
                )
            )
