"""Relaying a channel whose destination is another node: two channel ends spliced.

The relay is set up in the same call that received the OPEN, before the next frame of
that message is looked at, and runs in callbacks (no task): bytes, FIN and datagrams
that arrive right behind the OPEN are forwarded like any others (0-RTT onward, within
the next hop's initial credit), never dropped.  Stream bytes are forwarded under the
next hop's credit and the send buffer; credit goes back upstream only for what was
forwarded, so a relay holds at most one window per direction per channel.  Every end
is released on every path: reset by either side (before or after ACCEPT), both FINs,
or the loss of either link (docs/protocol.md section 11).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from .protocol import ChannelError, OpenRequest, ResetCode

if TYPE_CHECKING:
    from .link import Link
    from .node import Node

log = logging.getLogger("wsnet.relay")


def relay_channel(node: Node, in_link: Link, cid: int, req: OpenRequest, principal: str) -> None:
    """Answer the peer's OPEN ``cid`` for ``req.dst`` by opening the next hop at once.

    ``principal``: who the channel acts for (trust.origin), passed on in the OPEN.
    """

    def refuse(code: int, reason: str) -> None:
        in_link.session.stats.opens_refused[code] += 1
        in_link.session.reset(cid, code, reason)
        in_link.wake_writer()

    if req.ttl <= 1:
        refuse(ResetCode.UNREACHABLE, f"ttl exceeded at {node.name!r} on the way to {req.dst!r}")
        return
    route = node.routing.lookup(req.dst)
    out_link = node.links.get(route.link_id) if route else None
    if out_link is None or out_link is in_link:
        refuse(ResetCode.UNREACHABLE, f"node {node.name!r} has no route to {req.dst!r}")
        return
    try:
        out_cid = out_link.session.open_channel(
            req.kind,
            req.service,
            src=req.src,
            args=req.args,
            dst="" if req.dst == out_link.peer else req.dst,
            ttl=req.ttl - 1,
            # Counted by the link it came from (src is only the peer's claim): no neighbour
            # can take all the channels of another link.
            source=f"via {in_link.peer}",
            principal=principal,
        )
    except ChannelError as exc:
        refuse(ResetCode.TOO_MANY_CHANNELS, f"relay {node.name!r}: {exc}")
        return
    out_req = OpenRequest(req.kind, req.service, req.src, req.dst, req.args, req.ttl - 1, principal)
    upstream = RelayEnd(in_link, cid, req)
    downstream = RelayEnd(out_link, out_cid, out_req)
    upstream.other, downstream.other = downstream, upstream
    in_link.channels[cid] = upstream
    out_link.channels[out_cid] = downstream
    origin = req.src or in_link.peer
    node.on_channel_opened(in_link, cid, req.service, origin)  # each end closes on its own
    node.on_channel_opened(out_link, out_cid, req.service, origin)
    # The frames behind the OPEN in the message being dispatched (0-RTT data, FIN) are
    # forwarded in the same turn: they leave with the OPEN, in one message.
    out_link.wake_writer_soon()


class RelayEnd:
    """One end of a relayed channel: what arrives on it leaves through ``other``.

    Called by its link like a channel (``_feed``, ``_on_credit``, ``_on_accepted``,
    ``_on_reset``, ``_finish``); never awaits.
    """

    other: RelayEnd

    def __init__(self, link: Link, cid: int, request: OpenRequest) -> None:
        self.link = link
        self.id = cid
        self.request = request
        self.bytes_in = 0
        self.bytes_out = 0
        self.closed = False  # this end's channel is over on its link (no more events)
        self.aborted = False  # reset: nothing more is forwarded either way
        # Stream bytes received here that ``other``'s link could not take yet, and a FIN
        # to pass on after them.  Their credit is returned only once they are forwarded.
        self._held: deque[memoryview] = deque()
        self._fin = False
        self._fin_seen = False  # the peer finished its direction (the stream is whole)
        # A RESET that came after the peer's FIN: passed on after the held bytes and FIN,
        # as a direct receiver would still read them (docs/protocol.md section 7).
        self._reset_after: tuple[int, str] | None = None

    # ----------------------------------------------------- called by the link
    def _feed(self, data: memoryview, fin: bool) -> None:
        self.bytes_in += len(data)
        if data:
            self._held.append(data)
        if fin:
            self._fin = self._fin_seen = True
        self._forward()

    def _feed_datagram(self, data: memoryview) -> None:
        self.bytes_in += len(data)
        out = self.other
        if out.aborted:
            return
        try:
            sent = out.link.session.send_datagram(out.id, data)
        except ChannelError:
            return  # the other end is going away; its RESET is being dispatched
        if sent:
            out.bytes_out += len(data)
            out.link.wake_writer()

    def _on_credit(self) -> None:
        """Credit or send-buffer room on this end's link: forward what the other holds."""
        self.other._forward()

    def _on_accepted(self) -> None:
        """The next hop accepted: pass the ACCEPT upstream."""
        up = self.other
        if not up.aborted and up.link.session.accept(up.id):
            up.link.wake_writer()

    def _on_reset(self, code: int, reason: str) -> None:
        """This side was reset (or its link lost): reset the other with the same reason,
        after what it still holds of a stream its peer had finished."""
        self._end(reason or f"reset (code {code})")
        if self._fin_seen and not self.other.aborted:
            self._reset_after = (code, reason)
            self._forward()
            return
        self._abandon()
        self.other.abort(code, reason)

    def _finish(self, reason: str) -> None:
        """Both directions of this end ended with FIN.  What it still holds (the last
        bytes and the FIN from its peer) is forwarded as credit comes: never dropped."""
        self._end(reason)

    # ---------------------------------------------------------------- relaying
    def abort(self, code: int, reason: str, *, flush: bool = False) -> None:
        """Reset this end; with ``flush`` after what is already queued on its link."""
        if self.aborted:
            return
        self._abandon()
        if not self.closed:
            self.link.session.reset(self.id, code, reason, flush=flush)
            self.link.wake_writer()
            self._end(reason or "aborted")

    def _abandon(self) -> None:
        self.aborted = True
        self._held.clear()
        self._fin = False

    def _forward(self) -> None:
        """Send what this end holds through ``other``, as far as credit and room allow."""
        out = self.other
        if self.aborted or out.aborted:
            return
        out_session, in_session = out.link.session, self.link.session
        held = self._held
        moved = 0
        try:
            while held:
                chunk = held[0]
                n = out_session.send_data(out.id, chunk)
                moved += n
                if n < len(chunk):
                    held[0] = chunk[n:]
                    break
                held.popleft()
            if not held and self._fin:
                self._fin = False
                if out_session.send_eof(out.id):
                    out._end("")
            if not held and not self._fin and self._reset_after is not None:
                code, reason = self._reset_after
                self._reset_after = None
                out.abort(code, reason, flush=True)
        except ChannelError:
            return  # ``out`` was ended by its peer a moment ago; its RESET follows
        finally:
            if moved:
                out.bytes_out += moved
                in_session.consumed(self.id, moved)  # credit back upstream, forwarded only
                self.link.wake_writer()
                out.link.wake_writer()
            elif held and out_session.has_waiting:
                out.link.wake_writer()  # our turn is handed out by that link's writer

    def _end(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.link.forget(self.id, reason)

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "relay",
            "service": self.request.service,
            "peer": self.link.peer,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "buffered": sum(len(c) for c in self._held),
        }
