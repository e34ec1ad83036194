"""Who may claim a node name, advertise routes, and speak for a relayed principal.

The trust model of docs/security.md ("Trust model") as functions of a node and a
link; the policy itself is ``[authz]`` behind the ``wsnet_authorize`` hook
(actions ``claim`` and ``relay``).  No I/O.

- A link we dialled is trusted to advertise and relay anything: we chose its URL
  (and with wss://, checked its certificate).
- A link we accepted may claim its principal's own name and advertise routes for
  the peer itself; more only with ``claim``/``relay`` grants.  The anonymous
  principal (a node with no authenticator) has both unless its table lists them.
- An OPEN carries the principal it started from; a node honours that name only
  from a link trusted to relay for the OPEN's ``src``, otherwise the link's own
  principal is the one that asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .interfaces import Principal
from .protocol import OpenRequest

if TYPE_CHECKING:
    from .link import Link
    from .node import Node

RELAYED = "relayed"  # Principal.method of a principal named by a trusted relay


def claim_denial(node: Node, link: Link, name: str) -> str | None:
    """Why ``link``'s peer may not call itself ``name`` (HELLO), or None."""
    if link.direction == "out" or name == link.principal.name:
        return None
    return node.authorize(link.principal, "claim", name)


def may_relay(node: Node, link: Link, name: str) -> bool:
    """May ``link`` advertise a route to ``name`` and carry channels from it?"""
    if link.direction == "out" or name == link.peer:
        return True
    return node.authorize(link.principal, "relay", name) is None


def origin(node: Node, link: Link, req: OpenRequest) -> Principal:
    """The principal an OPEN received on ``link`` acts for (see the module docstring)."""
    if req.principal and req.src and req.src != link.peer and may_relay(node, link, req.src):
        return Principal(req.principal, RELAYED, {"via": link.peer, "src": req.src})
    return link.principal


def first_hop(link: Link, principal: Principal) -> bool:
    """True when this node is where the request entered the mesh (it checks it whole)."""
    return principal is link.principal


def filter_routes(
    node: Node, link: Link, routes: dict[str, int], most: int
) -> tuple[dict[str, int], list[str], int]:
    """(names kept, names refused by grants, names cut beyond ``most``) of an advert.

    The nearest names are kept first, so a flood of far invented names cannot push
    out the real ones.
    """
    refused = [n for n in routes if not may_relay(node, link, n)]
    out = set(refused)
    allowed = sorted(
        ((n, h) for n, h in routes.items() if n not in out),
        key=lambda item: (item[1], item[0]),
    )
    return dict(allowed[:most]), refused, max(0, len(allowed) - most)
