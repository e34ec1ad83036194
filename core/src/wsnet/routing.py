"""Routing of node names over links: distance vector with split horizon, no I/O.

Each link advertises {node name: hops} for the names reachable through it
(never the ones it learned from the link it advertises to).  A node picks, for
every name, the link with the fewest hops (ties: the lowest link id, so the
choice is stable).  Routes longer than MAX_HOPS are dropped, which bounds
count-to-infinity in loops.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_HOPS = 16


@dataclass(frozen=True, slots=True)
class Route:
    node: str
    link_id: int
    via: str  # the peer name of that link
    hops: int


class RoutingTable:
    def __init__(self, self_name: str) -> None:
        self.self_name = self_name
        self._peers: dict[int, str] = {}  # link id -> peer name
        self._adverts: dict[int, dict[str, int]] = {}  # link id -> what the peer advertised
        self._best: dict[str, Route] = {}

    def link_up(self, link_id: int, peer: str) -> bool:
        """A link came up; True if the best routes changed."""
        self._peers[link_id] = peer
        self._adverts[link_id] = {}
        return self._recompute()

    def link_down(self, link_id: int) -> bool:
        """A link went down; True if the best routes changed."""
        self._peers.pop(link_id, None)
        self._adverts.pop(link_id, None)
        return self._recompute()

    def update(self, link_id: int, advert: dict[str, int]) -> bool:
        """Take a peer's advertisement; True if the best routes changed."""
        if link_id not in self._peers:
            return False
        self._adverts[link_id] = dict(advert)
        return self._recompute()

    def _recompute(self) -> bool:
        best: dict[str, Route] = {}
        for link_id in sorted(self._peers):
            peer = self._peers[link_id]
            candidates = {**self._adverts[link_id], peer: 0}  # the link itself wins
            for node, hops in candidates.items():
                total = hops + 1
                if node == self.self_name or total > MAX_HOPS:
                    continue
                if node != peer and hops < 1:
                    # Only the peer is 0 hops from the peer: a name advertised at 0 would
                    # tie with, and by link id take, the route of the node linked directly.
                    continue
                if node == peer and hops != 0:
                    continue  # the peer is directly connected: its own advert is authoritative
                cur = best.get(node)
                if cur is None or total < cur.hops:
                    best[node] = Route(node, link_id, peer, total)
        changed = best != self._best
        self._best = best
        return changed

    def lookup(self, node: str) -> Route | None:
        return self._best.get(node)

    def reachable(self) -> tuple[str, ...]:
        """Every node name with a route, sorted."""
        return tuple(sorted(self._best))

    def routes(self) -> list[Route]:
        return sorted(self._best.values(), key=lambda r: (r.hops, r.node))

    def advert_for(self, link_id: int) -> dict[str, int]:
        """What to advertise on ``link_id``: our routes minus those learned through it."""
        out = {r.node: r.hops for r in self._best.values() if r.link_id != link_id}
        out.pop(self._peers.get(link_id, ""), None)
        return out
