"""Error and close codes of the wsnet link protocol (see docs/protocol.md)."""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """WebSocket close codes a link is closed with (4000-4999 are private-use)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011  # a fault of this node (RFC 6455 7.4.1), logged with its traceback
    VERSION_MISMATCH = 4001
    PROTOCOL_ERROR = 4002
    HELLO_TIMEOUT = 4003
    KEEPALIVE_TIMEOUT = 4004
    BAD_NODE_NAME = 4005
    DUPLICATE_NODE = 4009
    NAME_NOT_GRANTED = 4010  # the peer's principal may not claim the node name it gave


class ResetCode(IntEnum):
    """Why one channel was reset; the link and its other channels carry on."""

    CLOSED = 0  # orderly abort by the application, no error
    NO_SERVICE = 1  # the peer has no service of that name
    DENIED = 2  # the peer's authorisation refused it
    UNREACHABLE = 3  # no route to the destination node
    TOO_MANY_CHANNELS = 4  # the peer's channel limit is reached
    FLOW_CONTROL = 5  # the sender exceeded the credit it was given
    SERVICE_ERROR = 6  # the service failed (e.g. its TCP connect was refused)
    LINK_LOST = 7  # a relay lost the next hop
    STREAM_ERROR = 8  # data after FIN, or a frame that makes no sense on this channel
    BAD_REQUEST = 9  # the OPEN request was malformed


class ProtocolError(Exception):
    """The peer broke the link protocol: the whole link must close with ``code``.

    This is the only exception the decoder and the session raise for bad input.
    """

    def __init__(self, reason: str, code: CloseCode = CloseCode.PROTOCOL_ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class ChannelError(Exception):
    """A local misuse of one channel (unknown id, writing after FIN, wrong kind)."""
