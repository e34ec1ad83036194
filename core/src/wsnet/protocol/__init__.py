"""The wsnet link protocol, sans-I/O: bytes in, events and bytes out.

Nothing in this package touches a socket or an event loop, so every rule of the
protocol is testable with plain function calls (core/tests/test_frames.py,
test_messages.py, test_session.py, test_relay_stateful.py).
"""

from .errors import ChannelError, CloseCode, ProtocolError, ResetCode
from .events import (
    ChannelAccepted,
    ChannelClosed,
    ChannelRequested,
    ChannelReset,
    CreditAvailable,
    DatagramReceived,
    DataReceived,
    Event,
    HelloReceived,
    LinkTimeout,
    PongReceived,
    RoutesReceived,
)
from .frames import HEADER_SIZE, Flag, Frame, FrameType, decode_message, encode_frame
from .limits import Keepalive, Limits
from .messages import (
    NODE_NAME_RE,
    PROTOCOL_VERSION,
    ChannelKind,
    Hello,
    OpenRequest,
)
from .session import Session

__all__ = [
    "HEADER_SIZE",
    "NODE_NAME_RE",
    "PROTOCOL_VERSION",
    "ChannelAccepted",
    "ChannelClosed",
    "ChannelError",
    "ChannelKind",
    "ChannelRequested",
    "ChannelReset",
    "CloseCode",
    "CreditAvailable",
    "DataReceived",
    "DatagramReceived",
    "Event",
    "Flag",
    "Frame",
    "FrameType",
    "Hello",
    "HelloReceived",
    "Keepalive",
    "Limits",
    "LinkTimeout",
    "OpenRequest",
    "PongReceived",
    "ProtocolError",
    "ResetCode",
    "RoutesReceived",
    "Session",
    "decode_message",
    "encode_frame",
]
