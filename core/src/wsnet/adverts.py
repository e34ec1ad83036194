"""Route adverts in and out of a node, bounded and damped (docs/security.md, "Trust model").

In: a link's ROUTES are applied at most once per ``[limits] route_interval``; adverts
that arrive in between replace the pending one (only the latest matters), so a peer
flapping between two tables costs one recomputation per interval.  Before they are
installed, names the link may not advertise are dropped and counted, and at most
``[limits] max_routes`` names are kept, the nearest first.

Out: a change of the table is advertised to every link at once if the last round is
older than the interval, else once at the end of it (leading and trailing edge), so
the mesh converges as fast as before on a single change and a flood upstream becomes
at most one advert per interval downstream.  A link that comes up gets the table at
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .protocol import ChannelError
from .trust import filter_routes

if TYPE_CHECKING:
    from .link import Link
    from .node import Node

log = logging.getLogger("wsnet.routing")


def _later(delay: float, func: Callable[[], None]) -> asyncio.TimerHandle | None:
    """``func`` in ``delay`` seconds on the running loop; None (and no call) without one."""
    try:
        return asyncio.get_running_loop().call_later(delay, func)
    except RuntimeError:  # a Node driven by hand, outside a loop (sans-I/O tests)
        return None


@dataclass(slots=True)
class _Inbox:
    pending: dict[str, int] | None = None
    timer: asyncio.TimerHandle | None = None
    next_at: float = 0.0  # time.monotonic() before which no advert of this link is applied
    warned: bool = False  # refused or cut names were logged for this link
    last: dict[str, int] | None = None  # the advert last applied, as the peer sent it


class Adverts:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._inbox: dict[int, _Inbox] = {}
        self._next_at = 0.0  # time.monotonic() of the next allowed round of outgoing adverts
        self._timer: asyncio.TimerHandle | None = None
        self._cut_warned: set[int] = set()  # links whose outgoing advert was cut

    @property
    def interval(self) -> float:
        return self.node.config.limits.route_interval

    # ------------------------------------------------------------------ in
    def received(self, link: Link, routes: dict[str, int]) -> None:
        box = self._inbox.setdefault(link.id, _Inbox())
        box.pending = routes
        if box.timer is not None:
            return  # applied at the end of the interval, the latest advert only
        wait = box.next_at - time.monotonic()
        box.timer = _later(wait, lambda: self._apply(link)) if wait > 0 else None
        if box.timer is None:
            self._apply(link)

    def _apply(self, link: Link) -> None:
        box = self._inbox.get(link.id)
        if box is None or box.pending is None or link.id not in self.node.links:
            return
        box.timer = None
        routes, box.pending = box.pending, None
        box.next_at = time.monotonic() + self.interval
        box.last = routes
        self.node.apply_routes(link, routes)

    def refilter(self) -> None:
        """Apply each link's last advert again, after the grants changed (SIGHUP): a
        revoked ``relay`` grant withdraws the routes at once, since a peer advertises only
        on a change and might never send the names again."""
        for link in list(self.node.links.values()):
            box = self._inbox.get(link.id)
            if box is not None and box.last is not None:
                self.node.apply_routes(link, box.last)

    def admit(self, link: Link, routes: dict[str, int]) -> dict[str, int]:
        """What of ``routes`` is installed; the rest is counted on the link."""
        kept, refused, cut = filter_routes(
            self.node, link, routes, self.node.config.limits.max_routes
        )
        link.routes_refused += len(refused)
        link.routes_cut += cut
        box = self._inbox.setdefault(link.id, _Inbox())
        if (refused or cut) and not box.warned:
            box.warned = True  # once per link: a flood would repeat it every interval
            log.warning("link %d (%s, principal %r): dropped routes it may not advertise "
                        "(%d, e.g. %r: no [authz] relay grant) and beyond [limits] max_routes "
                        "(%d); counted in `wsnet ctl links`", link.id, link.peer,
                        link.principal.name, len(refused), refused[0] if refused else "-",
                        cut)  # fmt: skip
        return kept

    def forget(self, link: Link) -> None:
        box = self._inbox.pop(link.id, None)
        if box is not None and box.timer is not None:
            box.timer.cancel()
        self._cut_warned.discard(link.id)

    # ----------------------------------------------------------------- out
    def schedule(self) -> None:
        """Advertise the table to every link now, or at the end of the interval."""
        if self._timer is not None:
            return  # a round is due: it sends the table as it is then
        wait = self._next_at - time.monotonic()
        self._timer = _later(wait, self._round) if wait > 0 else None
        if self._timer is None:
            self._round()

    def _round(self) -> None:
        self._timer = None
        self._next_at = time.monotonic() + self.interval
        for link in list(self.node.links.values()):
            self.advertise_to(link)

    def advertise_to(self, link: Link) -> None:
        with contextlib.suppress(ChannelError):
            left_out = link.session.send_routes(self.node.routing.advert_for(link.id))
            link.wake_writer()
            if left_out and link.id not in self._cut_warned:
                self._cut_warned.add(link.id)  # once per link: adverts come often
                log.warning("link %d (%s): %d routes left out of the advert (the farthest): "
                            "it must fit one control frame", link.id, link.peer,
                            left_out)  # fmt: skip

    def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for box in self._inbox.values():
            if box.timer is not None:
                box.timer.cancel()
