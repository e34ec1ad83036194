"""Node events delivered to observer plugins (link up/down, channels, auth, ports).

Events are frozen dataclasses; ``kind`` is a stable string for logs and metrics.
They are emitted per link or channel, never per packet.  A URL in any text field is
redacted when the event is built (``wsnet.redact``): no observer sees a password.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from .redact import redact_text

_FIELDS: dict[type, tuple[str, ...]] = {}  # each event class's field names


@dataclass(frozen=True, slots=True)
class NodeEvent:
    kind: ClassVar[str] = "event"

    def __post_init__(self) -> None:
        # Every observer (the log plugin, metrics, third-party ones) sees URLs with their
        # passwords masked, whichever code built the event: redacted here, once.
        cls = type(self)
        names = _FIELDS.get(cls)
        if names is None:  # dataclasses.fields() builds a tuple per call: once per class
            names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
        for name in names:
            # The slot itself, past any __getattribute__ of a subclass (only strings matter).
            value = object.__getattribute__(self, name)
            if isinstance(value, str) and "://" in value:
                object.__setattr__(self, name, redact_text(value))


@dataclass(frozen=True, slots=True)
class NodeStarted(NodeEvent):
    kind: ClassVar[str] = "node.started"
    node: str
    listen: str  # "host:port/path" or "" when not listening


@dataclass(frozen=True, slots=True)
class LinkUp(NodeEvent):
    kind: ClassVar[str] = "link.up"
    peer: str
    link_id: int
    direction: str  # "in" (peer dialled us) or "out"
    remote: str  # address or URL
    principal: str


@dataclass(frozen=True, slots=True)
class LinkDown(NodeEvent):
    kind: ClassVar[str] = "link.down"
    peer: str
    link_id: int
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class LinkRefused(NodeEvent):
    """A link was closed during its handshake (duplicate name, version, protocol)."""

    kind: ClassVar[str] = "link.refused"
    remote: str
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class DialFailed(NodeEvent):
    kind: ClassVar[str] = "dial.failed"
    url: str
    error: str
    retry_in: float


@dataclass(frozen=True, slots=True)
class ChannelOpened(NodeEvent):
    kind: ClassVar[str] = "channel.opened"
    peer: str
    channel: int
    service: str
    origin: str  # node that opened it


@dataclass(frozen=True, slots=True)
class ChannelClosed(NodeEvent):
    kind: ClassVar[str] = "channel.closed"
    peer: str
    channel: int
    service: str
    bytes_in: int
    bytes_out: int
    reason: str


@dataclass(frozen=True, slots=True)
class AuthFailure(NodeEvent):
    kind: ClassVar[str] = "auth.failure"
    remote: str
    method: str
    reason: str  # never contains a password


@dataclass(frozen=True, slots=True)
class PortAdded(NodeEvent):
    kind: ClassVar[str] = "port.added"
    port_kind: str
    name: str


@dataclass(frozen=True, slots=True)
class PortRemoved(NodeEvent):
    kind: ClassVar[str] = "port.removed"
    port_kind: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class RoutesChanged(NodeEvent):
    """The set of reachable node names or their best paths changed (links, adverts)."""

    kind: ClassVar[str] = "routes.changed"
    reachable: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResolveChanged(NodeEvent):
    """What a name that services address channels to resolves to changed.

    Emitted by the plugin that maps the name (``wsnet_resolve_node``; wsnet-ha for a
    group's active member), so that services holding listeners for the name look again.
    """

    kind: ClassVar[str] = "resolve.changed"
    name: str
    node: str  # what ``name`` resolves to now; "" when nothing
    previous: str
    reason: str


@dataclass(frozen=True, slots=True)
class ListenersSuspended(NodeEvent):
    """A request to services: close the listeners whose traffic leads to ``node`` for
    ``seconds`` (a standby member of an HA group closes its sockets, as
    tcp-over-websocket does, so that clients fail over)."""

    kind: ClassVar[str] = "listeners.suspended"
    node: str
    seconds: float
    reason: str
