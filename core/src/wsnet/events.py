"""Node events delivered to observer plugins (link up/down, channels, auth, ports).

Events are frozen dataclasses; ``kind`` is a stable string for logs and metrics.
They are emitted per link or channel, never per packet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class NodeEvent:
    kind: ClassVar[str] = "event"


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
