"""Events a Session returns from receive_message() and tick(): frozen, I/O-free facts."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CloseCode
from .messages import Hello, OpenRequest


@dataclass(frozen=True, slots=True)
class HelloReceived:
    hello: Hello


@dataclass(frozen=True, slots=True)
class ChannelRequested:
    """The peer opened a channel; answer with Session.accept() or Session.reset()."""

    channel: int
    request: OpenRequest


@dataclass(frozen=True, slots=True)
class ChannelAccepted:
    channel: int


@dataclass(frozen=True, slots=True)
class ChannelReset:
    """The peer reset the channel (or refused to open it); the session forgot it."""

    channel: int
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class DataReceived:
    """Stream bytes.  Call Session.consumed() once the application has used them."""

    channel: int
    data: memoryview
    fin: bool


@dataclass(frozen=True, slots=True)
class DatagramReceived:
    channel: int
    data: memoryview


@dataclass(frozen=True, slots=True)
class CreditAvailable:
    """The peer granted credit: a sender blocked on this stream may continue."""

    channel: int
    credit: int


@dataclass(frozen=True, slots=True)
class ChannelClosed:
    """Both directions of a stream ended with FIN; the session forgot the channel."""

    channel: int


@dataclass(frozen=True, slots=True)
class PongReceived:
    rtt: float


@dataclass(frozen=True, slots=True)
class RoutesReceived:
    routes: dict[str, int]


@dataclass(frozen=True, slots=True)
class LinkTimeout:
    """From tick(): the peer said nothing for too long; close the link with ``code``."""

    code: CloseCode
    reason: str


Event = (
    HelloReceived
    | ChannelRequested
    | ChannelAccepted
    | ChannelReset
    | DataReceived
    | DatagramReceived
    | CreditAvailable
    | ChannelClosed
    | PongReceived
    | RoutesReceived
    | LinkTimeout
)
